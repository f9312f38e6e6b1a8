"""on PostgreSQL, keep listing search words as a tsvector under a GIN index

Revision ID: 7b2d9e4f1a30
Revises: 5e0f3b1d2c47
Create Date: 2026-11-28 21:40:00

The words were text indexed through to_tsvector('simple', document); stored as a tsvector they need no
conversion when a row is checked, which keeps the planner's choices cheap. SQLite is unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7b2d9e4f1a30"
down_revision: str | Sequence[str] | None = "5e0f3b1d2c47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_listing_search_document_tsv")
    op.execute(
        "ALTER TABLE listing_search ALTER COLUMN document TYPE tsvector USING document::tsvector"
    )
    op.execute("CREATE INDEX ix_listing_search_document_tsv ON listing_search USING gin (document)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_listing_search_document_tsv")
    op.execute(
        "ALTER TABLE listing_search ALTER COLUMN document TYPE text "
        "USING array_to_string(tsvector_to_array(document), ' ')"
    )
    op.execute(
        "CREATE INDEX ix_listing_search_document_tsv ON listing_search "
        "USING gin (to_tsvector('simple', document))"
    )
