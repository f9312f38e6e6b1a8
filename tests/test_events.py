"""The event log: written with the change it records, read in an order that never skips a late commit."""

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import events
from app.accounts import organisations
from app.accounts.models import Organisation
from app.auth import OrgKind, VerificationStatus
from app.db import Database, transaction
from app.errors import RuleViolation
from app.events import Cursor, Event
from tests.factories import EventFactory, OrganisationFactory, UserFactory


def test_an_event_is_written_with_the_change_it_records(session):
    membership = organisations.register_organisation(
        session,
        kind=OrgKind.trader,
        name_zh="遵义黔北茶叶贸易有限公司",
        credit_code="91520328MA6H00011F",
        legal_representative="徐峰",
        contact_phone="13908520010",
        owner_name="徐峰",
        owner_phone="13908520010",
        password="trader password",
    )

    [event] = events.read_after(session, Cursor(), kinds=["organisation.registered"])

    assert event.organisation_id == membership.organisation.id
    assert event.payload == {"name": "遵义黔北茶叶贸易有限公司", "kind": "trader"}


def test_a_request_that_fails_after_its_event_was_written_leaves_neither_event_nor_change(
    app, session
):
    waiting, admin = OrganisationFactory(pending=True), UserFactory()
    with app.app_context(), pytest.raises(RuleViolation), transaction() as write:
        organisations.verify_organisation(write, admin_id=admin.id, organisation_id=waiting.id)
        raise RuleViolation("a later step of the same request failed")

    assert session.scalars(select(Event).where(Event.kind == "organisation.verified")).all() == []
    session.expire_all()
    assert session.get(Organisation, waiting.id).status == VerificationStatus.pending


def test_reading_after_a_cursor_returns_only_later_events_in_order(session):
    first, second, third = EventFactory(), EventFactory(), EventFactory()

    after_first = events.read_after(session, Cursor.of(first))

    assert [e.id for e in after_first] == [second.id, third.id]
    assert events.latest_cursor(session) == Cursor.of(third)


def test_a_cursor_survives_a_round_trip_through_text():
    assert Cursor.parse(str(Cursor(812, 99))) == Cursor(812, 99)
    assert Cursor.parse("garbage") == Cursor()
    assert Cursor.parse(None) == Cursor()


@pytest.fixture
def committed(database: Database):
    """Sessions that really commit, on their own connections; their events are removed afterwards."""
    opened: list[Session] = []

    def open_session(*, reader: bool = False) -> Session:
        opened.append(database.read_session() if reader else Session(database.engine))
        return opened[-1]

    yield open_session
    for session in opened:
        session.close()
    with Session(database.engine) as cleanup, cleanup.begin():
        cleanup.execute(delete(Event).where(Event.kind.like("late.%")))


def test_a_reader_never_skips_an_event_that_commits_after_a_later_one(database, committed):
    if database.dialect != "postgresql":
        pytest.skip("SQLite runs one writer at a time, so commits cannot overtake each other there")
    slow, fast, reader = committed(), committed(), committed(reader=True)
    start = events.latest_cursor(reader)
    events.record(slow, "late.slow")
    slow.flush()  # the slow transaction holds the lower id, uncommitted
    events.record(fast, "late.fast")
    fast.commit()

    seen_while_slow_runs = events.read_after(reader, start)
    slow.commit()
    seen_after = events.read_after(reader, start)

    assert seen_while_slow_runs == []  # not yet: "fast" must wait so that "slow" is not jumped over
    assert [e.kind for e in seen_after] == ["late.slow", "late.fast"]


def test_a_rolled_back_event_is_never_read(database, committed):
    writer, reader = committed(), committed(reader=True)
    start = events.latest_cursor(reader)
    events.record(writer, "late.rolled_back")
    writer.flush()
    writer.rollback()
    events.record(writer, "late.kept")
    writer.commit()

    assert [e.kind for e in events.read_after(reader, start)] == ["late.kept"]
