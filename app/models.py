"""Every domain's models, for Alembic and for tests that need the whole schema. Models live in their
domains; this only imports them so that Base.metadata knows every table."""

# Tables the migrations make by hand because SQLAlchemy cannot describe them: SQLite's FTS5 search table
# (and its shadow tables) and PostgreSQL's expression index for full-text search.
HAND_MADE = ("listing_search_fts", "ix_listing_search_document_tsv")


def import_all_models() -> None:
    import app.accounts.models
    import app.catalog.models
    import app.contracts.models
    import app.events
    import app.exchange.models
    import app.jobs
    import app.live.models
    import app.logistics.models
    import app.orders.models
    import app.payments.models
    import app.surveillance.models
    import app.uploads  # noqa: F401


def compared_by_autogenerate(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's include_name hook: leave the hand-made search structures out of model comparisons."""
    return not (name or "").startswith(HAND_MADE)


def migrate(database, revision: str = "head", *, down: bool = False) -> None:
    """Bring a database's schema to `revision` with the project's Alembic migrations (for tests and tools)."""
    from alembic import command
    from alembic.config import Config

    from app import ROOT

    config = Config(str(ROOT / "alembic.ini"))
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
