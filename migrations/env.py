"""Alembic environment: the platform's own engine and every domain's models."""

from alembic import context

from app import create_app
from app.db import Base, Database, UTCDateTime
from app.models import compared_by_autogenerate, import_all_models

import_all_models()
target_metadata = Base.metadata


def _database_url() -> str:
    url = context.config.attributes.get(
        "database_url"
    )  # set by tests that migrate a scratch database
    return url or create_app().config["DATABASE_URL"]


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    database = Database(_database_url())
    try:
        with database.engine.connect() as connection:
            _run(connection)
    finally:
        database.dispose()


def _render_item(type_, obj, autogen_context):
    """Write our UTC timestamp type as the plain column type it stores, so migrations need no app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection) -> None:
    # Batch mode lets SQLite alter tables (it copies them); PostgreSQL alters in place.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        include_name=compared_by_autogenerate,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
