"""The connection pool: a connection the server closed while it sat idle is replaced before anyone uses it,
and a connection back in use at once is not tested again."""

import pytest
from sqlalchemy import text

from app import db
from app.db import Database


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
