"""read side at scale: listing order indexes for keyset pages, a title-only text index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

Listings (`aggregator articles`, /api/articles, a source's page and feed) order by
coalesce(published, fetched_at) DESC, id DESC and continue below a cursor, so an index on
that expression serves any page at the cost of the first. Expression indexes are not in the
models (Alembic does not compare them): see UNMODELLED_NAMES.

Search ranks title matches first (aggregator/store/search.py), so each engine gets an index
of the title alone. SQLite: an external-content FTS5 table over articles(title), tokenized
as articles_fts and kept in sync by triggers the same way (a batch-mode migration that
recreates `articles` must create them again): a column filter on articles_fts reads the
whole doclist of a word to find the few rows that have it in the title. PostgreSQL: a
generated tsvector of the title with its own GIN index: the planner's statistics on it
tell a word rare in titles from a common one, which the weights of search_vector (A for
the title) do not, and it is small enough to be read without detoasting. Adding it
rewrites the table once.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEWEST = "coalesce(published, fetched_at)"

_SQLITE_TITLE_UP = [
    "CREATE VIRTUAL TABLE articles_fts_title USING fts5(title, content='articles', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER articles_fts_title_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts_title(rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER articles_fts_title_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts_title(articles_fts_title, rowid, title) "
    "VALUES ('delete', old.id, old.title); END",
    "CREATE TRIGGER articles_fts_title_update AFTER UPDATE OF title ON articles BEGIN "
    "INSERT INTO articles_fts_title(articles_fts_title, rowid, title) "
    "VALUES ('delete', old.id, old.title); "
    "INSERT INTO articles_fts_title(rowid, title) VALUES (new.id, new.title); END",
    "INSERT INTO articles_fts_title(articles_fts_title) VALUES ('rebuild')",
]
_SQLITE_TITLE_DOWN = [
    "DROP TRIGGER IF EXISTS articles_fts_title_update",
    "DROP TRIGGER IF EXISTS articles_fts_title_delete",
    "DROP TRIGGER IF EXISTS articles_fts_title_insert",
    "DROP TABLE IF EXISTS articles_fts_title",
]


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_articles_newest ON articles ({_NEWEST}, id)")
    op.execute(f"CREATE INDEX ix_articles_source_newest ON articles (source_id, {_NEWEST}, id)")
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_TITLE_UP:
            op.execute(statement)
    else:
        op.execute(
            "ALTER TABLE articles ADD COLUMN title_vector tsvector GENERATED ALWAYS AS ("
            "to_tsvector('english', coalesce(title, ''))) STORED"
        )
        op.execute("CREATE INDEX ix_articles_title_vector ON articles USING GIN (title_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_TITLE_DOWN:
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_title_vector")
        op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS title_vector")
    op.execute("DROP INDEX IF EXISTS ix_articles_source_newest")
    op.execute("DROP INDEX IF EXISTS ix_articles_newest")
