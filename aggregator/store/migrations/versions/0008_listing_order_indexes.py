"""read side at scale: listing order indexes for keyset pages, a title tsvector on PostgreSQL

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-30

Listings (`aggregator articles`, /api/articles, a source's page and feed) order by
coalesce(published, fetched_at) DESC, id DESC and continue below a cursor, so an index on
that expression serves any page at the cost of the first. Expression indexes are not in the
models (Alembic does not compare them): see UNMODELLED_NAMES.

PostgreSQL: a generated tsvector of the title alone with its own GIN index. Search ranks
title matches first (aggregator/store/search.py); the planner's statistics on this column
tell a word rare in titles from a common one, which the weights of search_vector (A for
the title) do not, and it is small enough to be read without detoasting. Adding it
rewrites the table once. Numbered 0008 to stay clear
of a 0007 written in parallel; it revises 0006, the head when it was written.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEWEST = "coalesce(published, fetched_at)"


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_articles_newest ON articles ({_NEWEST}, id)")
    op.execute(f"CREATE INDEX ix_articles_source_newest ON articles (source_id, {_NEWEST}, id)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE articles ADD COLUMN title_vector tsvector GENERATED ALWAYS AS ("
            "to_tsvector('english', coalesce(title, ''))) STORED"
        )
        op.execute("CREATE INDEX ix_articles_title_vector ON articles USING GIN (title_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_title_vector")
        op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS title_vector")
    op.execute("DROP INDEX IF EXISTS ix_articles_source_newest")
    op.execute("DROP INDEX IF EXISTS ix_articles_newest")
