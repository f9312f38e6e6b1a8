"""The connection pool: a connection the server closed while it sat idle is replaced before anyone uses it,
and a connection back in use at once is not tested again. Pipelined writes: all of them land, or a failure
comes out as SQLAlchemy's own error and none of them lands. Reads sent together answer as SQLAlchemy would."""

from decimal import Decimal

import pytest
from sqlalchemy import (
    Numeric,
    String,
    TypeDecorator,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from app import db, events
from app.db import Database, pipelined, transaction, utcnow
from app.events import Event
from app.orders.models import Order
from app.payments import ledger
from app.payments.models import AccountKind, LedgerAccount, LedgerTransaction


@pytest.fixture
def pool(empty_database_url):
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to close a connection")
    database = Database(empty_database_url, pool_size=1)
    yield database
    database.dispose()


def backend_pid(database: Database) -> int:
    with database.engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_closed_by_the_server_while_idle_is_replaced_before_use(pool, monkeypatch):
    first = backend_pid(pool)
    with Database(
        str(pool.engine.url.render_as_string(hide_password=False))
    ).engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_SECONDS", 0)  # as if it had sat idle a while

    second = backend_pid(pool)  # no error: the dead connection was tested and replaced

    assert second != first


def test_a_connection_back_in_use_at_once_is_not_tested(pool, monkeypatch):
    backend_pid(pool)  # the pool now holds one connection, just checked in
    pings = []
    monkeypatch.setattr(pool.engine.dialect, "do_ping", lambda connection: pings.append(1) or True)

    backend_pid(pool)
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_SECONDS", 0)
    backend_pid(pool)

    assert len(pings) == 1  # only the checkout after an idle spell


def test_every_write_in_a_pipeline_lands_a_single_row_too(app, session):
    with app.app_context():
        with transaction() as write, pipelined(write):
            events.record_many(write, [{"kind": "test.piped", "subject": "pipe:1"}])
            events.record_many(
                write,
                [
                    {"kind": "test.piped", "subject": "pipe:2"},
                    {"kind": "test.piped", "subject": "pipe:3"},
                ],
            )
        written = session.scalars(
            select(Event.subject).where(Event.kind == "test.piped").order_by(Event.id)
        ).all()

    assert written == ["pipe:1", "pipe:2", "pipe:3"]


def test_a_failure_in_a_pipeline_is_sqlalchemys_error_and_nothing_lands(app, session):
    def posting(key: str) -> dict:
        return {"idempotency_key": key, "kind": "test", "memo": "", "created_at": utcnow()}

    with app.app_context():
        with pytest.raises(IntegrityError), transaction() as write, pipelined(write):
            events.record_many(write, [{"kind": "test.lost", "subject": "pipe:lost"}])
            write.connection().execute(
                insert(LedgerTransaction.__table__).inline(),
                [posting("piped:twice"), posting("piped:twice")],
            )
        kept_events = session.scalar(select(func.count()).where(Event.kind == "test.lost"))
        kept_postings = session.scalar(
            select(func.count()).where(LedgerTransaction.idempotency_key == "piped:twice")
        )

    assert (kept_events, kept_postings) == (0, 0)


def test_a_pipeline_inside_another_sends_with_it_and_fails_with_it(app, session):
    def posting(key: str) -> dict:
        return {"idempotency_key": key, "kind": "test", "memo": "", "created_at": utcnow()}

    with app.app_context():
        with transaction() as write, pipelined(write):
            events.record_many(write, [{"kind": "test.nested", "subject": "pipe:outer"}])
            with pipelined(write):
                events.record_many(write, [{"kind": "test.nested", "subject": "pipe:inner"}])
            events.record_many(write, [{"kind": "test.nested", "subject": "pipe:after"}])
        with pytest.raises(IntegrityError), transaction() as write, pipelined(write):
            events.record_many(write, [{"kind": "test.nested", "subject": "pipe:lost"}])
            with pipelined(write):
                write.connection().execute(
                    insert(LedgerTransaction.__table__).inline(),
                    [posting("nested:twice"), posting("nested:twice")],
                )
        written = session.scalars(
            select(Event.subject).where(Event.kind == "test.nested").order_by(Event.id)
        ).all()

    assert written == ["pipe:outer", "pipe:inner", "pipe:after"]


def test_ids_drawn_ahead_go_to_the_later_call_and_none_twice(app, session, dialect):
    if dialect != "postgresql":
        pytest.skip("SQLite draws no ids ahead: its ids follow the largest one inserted")
    orders, postings = Order.__table__, LedgerTransaction.__table__
    with app.app_context(), transaction() as write:
        first = db.new_ids(write, {orders: 2}, ahead={postings: 3})
        later = db.new_ids(write, {postings: 4})
        again = db.new_ids(write, {orders: 1, postings: 1})

    assert len(first[orders]) == 2 and len(later[postings]) == 4
    every = first[orders] + again[orders], later[postings] + again[postings]
    assert all(len(set(ids)) == len(ids) for ids in every)  # nothing handed out twice


def test_reads_sent_together_answer_what_sqlalchemy_would(app, session):
    """Each statement's rows, with enums as enums, times in UTC and JSON as objects, named by column."""
    with app.app_context(), transaction() as write:
        events.record_many(
            write,
            [
                {"kind": "test.together", "subject": f"read:{n}", "payload": {"n": n}}
                for n in range(3)
            ],
        )
    wanted = ["read:0", "read:2", "read:9"]
    recorded = select(Event.subject, Event.payload, Event.created_at).where(
        Event.subject.in_(bindparam("subjects", expanding=True))
    )
    accounts = select(LedgerAccount.code, LedgerAccount.kind).where(
        LedgerAccount.code.in_(["bank", "escrow:999"])
    )
    with app.app_context(), transaction() as write:
        ledger.post(write, key="together:1", kind="test", moves={"bank": -100, "escrow:999": 100})
        expected = [
            write.execute(recorded.order_by(Event.subject), {"subjects": wanted}).all(),
            write.execute(accounts.order_by(LedgerAccount.code)).all(),
        ]
        together = db.read_together(
            write,
            [
                (recorded.order_by(Event.subject), {"subjects": wanted}),
                (accounts.order_by(LedgerAccount.code), {}),
            ],
        )

    assert [[tuple(row) for row in rows] for rows in together] == [
        [tuple(row) for row in rows] for rows in expected
    ]
    first = together[0][0]
    assert (first.subject, first.payload) == ("read:0", {"n": 0})
    assert first.created_at.tzinfo is not None
    assert [row.kind for row in together[1]] == [AccountKind.bank, AccountKind.escrow]


def test_a_failed_read_sent_together_is_sqlalchemys_error(app):
    with (
        app.app_context(),
        pytest.raises(DBAPIError, match="no_such_table"),
        transaction() as write,
    ):
        db.read_together(
            write, [(select(literal(1)), {}), (text("SELECT * FROM no_such_table"), {})]
        )


class Shouted(TypeDecorator):
    """A word sent in capitals: a type whose bind processor changes what is sent."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.upper()


def test_reads_sent_together_bind_and_read_values_through_their_types(app):
    statement = select(
        literal("found").label("word"), cast(literal("2.50"), Numeric(10, 2)).label("price")
    ).where(bindparam("word", type_=Shouted()) == "HELLO")
    with app.app_context(), transaction() as write:
        expected = write.execute(statement, {"word": "hello"}).all()
        [together] = db.read_together(write, [(statement, {"word": "hello"})])

    assert [tuple(row) for row in together] == [tuple(row) for row in expected]
    assert [(row.word, row.price) for row in together] == [("found", Decimal("2.50"))]
