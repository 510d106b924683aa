"""The frontier: every discovered article URL of a source, until it is fetched, gone or given up.

Discovery (feeds, sitemaps, listings) adds URLs as ``pending``; a crawl fetches the due ones,
newest first, as many as its article limit allows, so nothing beyond the limit is forgotten
when the feed later answers 304. A fetch ends as:

- ``fetched``: stored (ingest.save_article marks it, in the article's own transaction);
- ``failed``: a timeout, 5xx or connection error; tried again after a backoff that doubles
  with each attempt, and given up (no next attempt) after ``RetryPolicy.attempts``;
- ``gone`` (404, 410), ``not_article`` (no article in the page, not HTML),
  ``disallowed`` (robots.txt): never requested again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aggregator.dedup.urls import canonical_url
from aggregator.items import utcnow
from aggregator.store.db import chunked
from aggregator.store.models import Article, FrontierUrl

PENDING = "pending"
FETCHED = "fetched"
FAILED = "failed"
GONE = "gone"
NOT_ARTICLE = "not_article"
DISALLOWED = "disallowed"
STATES = (PENDING, FETCHED, FAILED, GONE, NOT_ARTICLE, DISALLOWED)
# Outcomes that end a URL's life at once; any other failure is retried
FINAL_FAILURES = (GONE, NOT_ARTICLE, DISALLOWED)


@dataclass(frozen=True)
class Discovered:
    """An article URL as discovery found it, with what its feed said of it."""

    url: str
    found_via: str
    title: str | None = None
    authors: tuple[str, ...] = ()
    published: datetime | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing URL is tried: attempts in all, and the first wait (then doubled)."""

    attempts: int = 5
    backoff: float = 3600.0

    def next_attempt(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after this many failed attempts; None once it is given up."""
        if attempts >= self.attempts:
            return None
        return now + timedelta(seconds=self.backoff * 2 ** (attempts - 1))


def url_key(url: str) -> str:
    """The frontier's key of a URL: its canonical form (tracking parameters removed, ...)."""
    return canonical_url(url)


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(FrontierUrl)


def known_urls(session: Session, urls: Iterable[str]) -> set[str]:
    """Return those of the given URLs already stored, as fetched URL or as canonical URL."""
    wanted = list(dict.fromkeys(urls))
    found: set[str] = set()
    for chunk in chunked(wanted):
        rows = session.execute(
            select(Article.url, Article.canonical_url).where(
                or_(Article.url.in_(chunk), Article.canonical_url.in_(chunk))
            )
        )
        for url, canonical in rows:
            found.update({url, canonical})
    return found.intersection(wanted)


def add_discovered(session: Session, source: str, links: Sequence[Discovered]) -> int:
    """Add the URLs the frontier does not hold yet; return how many were new.

    A URL already stored as an article (or as the URL an article was fetched from) is added as
    fetched, so it is never requested again.
    """
    by_key: dict[str, Discovered] = {}
    for link in links:
        by_key.setdefault(url_key(link.url), link)
    new_keys: list[str] = []
    for chunk in chunked(list(by_key)):
        known = dict(
            session.execute(
                select(FrontierUrl.url_key, FrontierUrl.feed_published).where(
                    FrontierUrl.url_key.in_(chunk)
                )
            ).all()
        )
        new_keys += [key for key in chunk if key not in known]
        # a sitemap found it first, undated: the feed's date keeps the newest-first order
        for key, published in known.items():
            link = by_key[key]
            if published is None and link.published is not None:
                session.execute(
                    update(FrontierUrl)
                    .where(FrontierUrl.url_key == key)
                    .values(
                        feed_published=link.published,
                        feed_title=link.title,
                        feed_authors=list(link.authors),
                    )
                )
    if not new_keys:
        return 0
    stored = known_urls(session, [*new_keys, *(by_key[key].url for key in new_keys)])
    now = utcnow()
    rows_to_add = [
        {
            "source": source,
            "url": by_key[key].url,
            "url_key": key,
            "state": FETCHED if key in stored or by_key[key].url in stored else PENDING,
            "found_via": by_key[key].found_via,
            "attempts": 0,
            "feed_title": by_key[key].title,
            "feed_authors": list(by_key[key].authors),
            "feed_published": by_key[key].published,
            "discovered_at": now,
            "updated_at": now,
        }
        for key in new_keys
    ]
    added = 0
    for batch in chunked(rows_to_add, 200):
        statement = _insert(session).values(list(batch))
        # another crawl may have added some of them a moment ago
        statement = statement.on_conflict_do_nothing(index_elements=["url_key"])
        added += len(session.execute(statement.returning(FrontierUrl.id)).all())
    return added


def _due_clause(now: datetime) -> Any:
    return or_(
        FrontierUrl.state == PENDING,
        (FrontierUrl.state == FAILED) & (FrontierUrl.next_attempt_at <= now),
    )


def due(session: Session, source: str, limit: int, now: datetime | None = None) -> list[Discovered]:
    """The URLs of a source to fetch now, newest first (by feed date, then discovery order)."""
    statement = (
        select(
            FrontierUrl.url,
            FrontierUrl.found_via,
            FrontierUrl.feed_title,
            FrontierUrl.feed_authors,
            FrontierUrl.feed_published,
        )
        .where(FrontierUrl.source == source, _due_clause(now or utcnow()))
        .order_by(
            FrontierUrl.feed_published.is_(None),
            FrontierUrl.feed_published.desc(),
            FrontierUrl.id,
        )
        .limit(limit)
    )
    return [
        Discovered(url, via, title, tuple(authors or ()), published)
        for url, via, title, authors, published in session.execute(statement)
    ]


def get(session: Session, url: str) -> FrontierUrl | None:
    """The frontier row of a URL (by its key), or None."""
    return session.scalar(select(FrontierUrl).where(FrontierUrl.url_key == url_key(url)))


def _row(session: Session, source: str, url: str, found_via: str) -> FrontierUrl:
    """The row of a URL, created (as pending) when discovery never saw it (a URL given by hand)."""
    row = get(session, url)
    if row is not None:
        return row
    now = utcnow()
    row = FrontierUrl(
        source=source,
        url=url,
        url_key=url_key(url),
        state=PENDING,
        found_via=found_via,
        attempts=0,
        feed_authors=[],
        discovered_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another process added it a moment ago
        found = get(session, url)
        assert found is not None
        return found
    return row


def record_fetched(
    session: Session, source: str, url: str, article_id: int, found_via: str = "manual"
) -> None:
    """Mark a URL fetched and stored as an article."""
    values = {
        "state": FETCHED,
        "attempts": FrontierUrl.attempts + 1,
        "article_id": article_id,
        "next_attempt_at": None,
        "last_error": None,
        "updated_at": utcnow(),
    }
    # One UPDATE for the usual case, a URL discovery put in the frontier (no ORM round trip)
    fetched = (
        update(FrontierUrl)
        .where(FrontierUrl.url_key == url_key(url))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not getattr(session.execute(fetched), "rowcount", 0):
        _row(session, source, url, found_via)  # a URL given by hand: its row first
        session.flush()
        session.execute(fetched)


def record_failure(
    session: Session,
    source: str,
    url: str,
    outcome: str,
    reason: str,
    policy: RetryPolicy,
    now: datetime | None = None,
) -> FrontierUrl:
    """Record a failed fetch: a final outcome (gone, not_article, disallowed) or a retry."""
    now = now or utcnow()
    row = _row(session, source, url, "manual")
    row.attempts += 1
    row.updated_at = now
    if outcome in FINAL_FAILURES:
        row.state, row.next_attempt_at, row.last_error = outcome, None, reason
        return row
    row.state = FAILED
    row.next_attempt_at = policy.next_attempt(row.attempts, now)
    row.last_error = (
        reason
        if row.next_attempt_at is not None
        else f"given up after {row.attempts} attempts: {reason}"
    )
    return row


def state_counts(session: Session) -> dict[str, dict[str, int]]:
    """Per source, how many URLs are in each state (failed ones given up count as failed)."""
    counts: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(FrontierUrl.source, FrontierUrl.state, func.count()).group_by(
            FrontierUrl.source, FrontierUrl.state
        )
    )
    for source, state, count in rows:
        counts.setdefault(source, {})[state] = count
    return counts


def list_urls(
    session: Session,
    source: str | None = None,
    state: str | None = None,
    limit: int | None = None,
) -> list[FrontierUrl]:
    """Frontier rows, most recently changed first, optionally of one source and one state."""
    statement = select(FrontierUrl).order_by(FrontierUrl.updated_at.desc(), FrontierUrl.id.desc())
    if source:
        statement = statement.where(FrontierUrl.source == source)
    if state:
        statement = statement.where(FrontierUrl.state == state)
    if limit:
        statement = statement.limit(limit)
    return list(session.scalars(statement))


def to_dict(row: FrontierUrl) -> dict[str, Any]:
    """A frontier row as JSON-ready data."""
    return {
        "source": row.source,
        "url": row.url,
        "state": row.state,
        "found_via": row.found_via,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "last_error": row.last_error,
        "feed_published": row.feed_published.isoformat() if row.feed_published else None,
        "article_id": row.article_id,
        "discovered_at": row.discovered_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
