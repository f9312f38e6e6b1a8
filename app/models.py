"""Every domain's models, for Alembic and for tests that need the whole schema. Models live in their
domains; this only imports them so that Base.metadata knows every table."""


def import_all_models() -> None:
    import app.accounts.models
    import app.events  # noqa: F401
