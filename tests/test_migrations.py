"""Migrations build exactly the schema the models describe, and can be undone."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.db import Base, Database
from app.models import compared_by_autogenerate, import_all_models, migrate


def _differences(database: Database) -> list:
    import_all_models()
    with database.engine.connect() as connection:
        options = {"compare_type": True, "include_name": compared_by_autogenerate}
        context = MigrationContext.configure(connection, opts=options)
        return compare_metadata(context, Base.metadata)


def test_the_migrated_schema_matches_the_models(empty_database_url):
    database = Database(empty_database_url)
    migrate(database)
    try:
        assert _differences(database) == []
    finally:
        database.dispose()


def test_migrations_go_down_to_nothing_and_up_again(empty_database_url):
    database = Database(empty_database_url)
    try:
        migrate(database)
        migrate(database, "base", down=True)
        assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
        migrate(database)
        assert "organisations" in inspect(database.engine).get_table_names()
    finally:
        database.dispose()
