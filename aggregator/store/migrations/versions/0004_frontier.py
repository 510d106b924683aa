"""frontier: every discovered article URL and its state, filled with the stored articles

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Stored articles count as fetched (found_via "stored"), keyed by their canonical URL and, when
it differs, by the URL they were fetched from, so a later crawl does not fetch them again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "frontier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_key", sa.String(length=2048), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("found_via", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("feed_title", sa.Text(), nullable=True),
        sa.Column("feed_authors", sa.JSON(), nullable=False),
        sa.Column("feed_published", sa.DateTime(), nullable=True),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("discovered_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_frontier_article_id_articles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frontier")),
        sa.UniqueConstraint("url_key", name=op.f("uq_frontier_url_key")),
    )
    op.create_index(
        "ix_frontier_source_state_next",
        "frontier",
        ["source", "state", "next_attempt_at"],
        unique=False,
    )
    op.create_index(op.f("ix_frontier_article_id"), "frontier", ["article_id"], unique=False)
    columns = (
        "source, url, url_key, state, found_via, attempts, feed_authors, feed_published, "
        "article_id, discovered_at, updated_at"
    )
    values = (
        "s.name, a.url, {key}, 'fetched', 'stored', 1, '[]', a.published, a.id, "
        "a.fetched_at, a.fetched_at"
    )
    source = "FROM articles a JOIN sources s ON s.id = a.source_id"
    op.execute(
        f"INSERT INTO frontier ({columns}) SELECT {values.format(key='a.canonical_url')} {source}"
    )
    op.execute(
        f"INSERT INTO frontier ({columns}) SELECT {values.format(key='a.url')} {source} "
        "WHERE a.id IN (SELECT MIN(id) FROM articles WHERE url <> canonical_url GROUP BY url) "
        "AND NOT EXISTS (SELECT 1 FROM frontier f WHERE f.url_key = a.url)"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_frontier_article_id"), table_name="frontier")
    op.drop_index("ix_frontier_source_state_next", table_name="frontier")
    op.drop_table("frontier")
