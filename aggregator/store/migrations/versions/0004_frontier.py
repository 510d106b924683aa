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

from aggregator.dedup.urls import canonical_url

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
    _fill_from_articles()


def _fill_from_articles() -> None:
    """Every stored article is fetched: under its canonical URL and the key of its own URL."""
    bind = op.get_bind()
    articles = sa.table(
        "articles",
        sa.column("id"),
        sa.column("source_id"),
        sa.column("url"),
        sa.column("canonical_url"),
        sa.column("published"),
        sa.column("fetched_at"),
    )
    sources = sa.table("sources", sa.column("id"), sa.column("name"))
    frontier = sa.table(
        "frontier",
        *(sa.column(name) for name in ("source", "url", "url_key", "state", "found_via")),
        *(sa.column(name) for name in ("attempts", "feed_published", "article_id")),
        sa.column("feed_authors", sa.JSON()),
        *(sa.column(name) for name in ("discovered_at", "updated_at")),
    )
    query = (
        sa.select(
            articles.c.id,
            sources.c.name,
            articles.c.url,
            articles.c.canonical_url,
            articles.c.published,
            articles.c.fetched_at,
        )
        .join(sources, sources.c.id == articles.c.source_id)
        .order_by(articles.c.id)
    )
    seen: set[str] = set()
    rows: list[dict[str, object]] = []
    for article_id, source, url, canonical, published, fetched_at in bind.execute(query):
        for key in dict.fromkeys((canonical, canonical_url(url))):
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "source": source,
                    "url": url,
                    "url_key": key,
                    "state": "fetched",
                    "found_via": "stored",
                    "attempts": 1,
                    "feed_published": published,
                    "article_id": article_id,
                    "feed_authors": [],
                    "discovered_at": fetched_at,
                    "updated_at": fetched_at,
                }
            )
        if len(rows) >= 1000:
            bind.execute(frontier.insert(), rows)
            rows = []
    if rows:
        bind.execute(frontier.insert(), rows)


def downgrade() -> None:
    op.drop_index(op.f("ix_frontier_article_id"), table_name="frontier")
    op.drop_index("ix_frontier_source_state_next", table_name="frontier")
    op.drop_table("frontier")
