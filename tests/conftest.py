"""Test fixtures: one migrated database per run, one rolled-back transaction per test.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL names a server; there it works
in a schema of its own, created for the run and dropped afterwards.
"""

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import ROOT, create_app
from app.db import Database
from app.models import migrate
from app.payments.stripe_gateway import StripeGateway
from config import TestConfig
from tests import factories
from tests.stripe_fake import WEBHOOK_SECRET, FakeStripe


def _postgres_url_in_own_schema(url: str) -> tuple[str, str]:
    schema = f"agrilink_test_{uuid.uuid4().hex[:10]}"
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    engine = create_engine(parsed)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    ), schema


def _drop_schema(url: str, schema: str) -> None:
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _empty_database(directory: Path) -> Iterator[str]:
    server = os.environ.get("TEST_DATABASE_URL", "")
    if not server:
        yield f"sqlite:///{directory / 'agrilink-test.db'}"
        return
    url, schema = _postgres_url_in_own_schema(server)
    yield url
    _drop_schema(server, schema)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    yield from _empty_database(tmp_path_factory.mktemp("db"))


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:
    """A database of its own, with no tables, for tests of migrations and of several processes."""
    yield from _empty_database(tmp_path)


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = create_app(TestConfig, {"DATABASE_URL": database_url})
    database: Database = app.extensions["agrilink.db"]
    migrate(database)
    yield app
    database.dispose()


@pytest.fixture
def database(app: Flask) -> Database:
    return app.extensions["agrilink.db"]


@pytest.fixture
def session(app: Flask, database: Database):
    """The test's own session; the app's sessions share its connection, and all of it is rolled back."""
    connection = database.engine.connect()
    outer = connection.begin()
    database.bind_to(connection)
    session = factories.bind(connection)
    session.info["app"] = (
        app  # for checks that run as a command would (tests.helpers.ledger_problems)
    )
    yield session
    factories.unbind()
    database.unbind()
    outer.rollback()
    connection.close()


@pytest.fixture
def client(app: Flask, session) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def dialect(database: Database) -> str:
    return database.dialect


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


_LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True, scope="session")
def no_outside_connections() -> Iterator[None]:
    """No test reaches past this machine: Stripe and everything else outside is answered in-process."""
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse_outside(address) -> None:
        if isinstance(address, tuple) and address[0] not in _LOCAL_HOSTS:
            raise ConnectionRefusedError(f"tests may not connect outside this machine: {address}")

    def connect(self, address):
        refuse_outside(address)
        return original_connect(self, address)

    def connect_ex(self, address):
        refuse_outside(address)
        return original_connect_ex(self, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    yield
    socket.socket.connect, socket.socket.connect_ex = original_connect, original_connect_ex


@pytest.fixture
def fake_stripe(app: Flask) -> Iterator[FakeStripe]:
    """The platform on the Stripe provider, the real stripe library talking to FakeStripe."""
    fake = FakeStripe()
    client = stripe.StripeClient("sk_test_agrilink", http_client=fake)
    app.extensions["agrilink.stripe"] = StripeGateway(client, webhook_secret=WEBHOOK_SECRET)
    yield fake
    app.extensions["agrilink.stripe"] = None
