"""Retention in SQL: dropping old raw HTML and pruning old articles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from aggregator.store.models import Article


def drop_raw_html(session: Session, fetched_before: datetime) -> int:
    """Drop the raw HTML of articles fetched before a time (the articles stay); return how many."""
    result = session.execute(
        update(Article)
        .where(Article.fetched_at < fetched_before, Article.raw_html.is_not(None))
        .values(raw_html=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune_articles(session: Session, published_before: datetime) -> int:
    """Delete articles published (or, without a date, fetched) before a time; return how many."""
    old = or_(
        Article.published < published_before,
        (Article.published.is_(None)) & (Article.fetched_at < published_before),
    )
    result = session.execute(delete(Article).where(old))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
