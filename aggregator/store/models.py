"""SQLAlchemy 2.0 typed models of the store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from aggregator.items import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always read back as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Source(Base):
    """A blog the crawler visits, as named in the sources file."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="source")


class Article(Base):
    """One stored article page; a copy of another article points at it with duplicate_of."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_source_published", "source_id", "published"),
        Index("ix_articles_fetched_at", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048), index=True)
    canonical_url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    modified: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(20))
    image_url: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)
    raw_html: Mapped[bytes | None] = mapped_column(LargeBinary)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    http_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    source: Mapped[Source] = relationship(back_populates="articles")


class CrawlRun(Base):
    """One run of the spider: what it was asked, how it ended, its stats."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(40), default="running")
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    articles_stored: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set by the scheduler, which runs each crawl as a subprocess
    exit_code: Mapped[int | None] = mapped_column(Integer)
    log_tail: Mapped[str | None] = mapped_column(Text)

    errors: Mapped[list[CrawlError]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="CrawlError.id"
    )


class CrawlError(Base):
    """A URL that failed during a crawl run, and why."""

    __tablename__ = "crawl_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"), index=True)
    source: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    run: Mapped[CrawlRun] = relationship(back_populates="errors")


class TemplateBlock(Base):
    """A paragraph learned to be boilerplate of one source (it recurs on its pages)."""

    __tablename__ = "template_blocks"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    block_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    sample: Mapped[str] = mapped_column(Text)
    learned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MinhashBand(Base):
    """One LSH band key of an article's MinHash: articles sharing a key are candidates."""

    __tablename__ = "minhash_bands"

    band: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Story(Base):
    """Articles of different outlets about one event; the id is its first article's id."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    headline: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    article_count: Mapped[int] = mapped_column(Integer)
    source_count: Mapped[int] = mapped_column(Integer, index=True)
    sources: Mapped[list[str]] = mapped_column(JSON)
    # The term profile, titles and index keys story grouping compares new articles with
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The story this one was merged into (it then has no articles): old links lead there
    merged_into: Mapped[int | None] = mapped_column(Integer, index=True)


class StoryKey(Base):
    """An index key (a top term) of a story: new articles find candidate stories by key."""

    __tablename__ = "story_keys"
    __table_args__ = (Index("ix_story_keys_key_last_seen", "key", "last_seen"),)

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class TermFrequency(Base):
    """How many grouped articles contain a term (document frequency for TF-IDF)."""

    __tablename__ = "term_frequencies"

    term: Mapped[str] = mapped_column(String(120), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer)


class HttpValidator(Base):
    """The ETag and Last-Modified of a feed or sitemap URL, sent back on the next fetch."""

    __tablename__ = "http_validators"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SourceSchedule(Base):
    """The scheduler's state of one source: its interval, errors and next run."""

    __tablename__ = "source_schedules"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    interval_seconds: Mapped[float] = mapped_column(Float)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    last_status: Mapped[str | None] = mapped_column(String(40))
    last_articles: Mapped[int] = mapped_column(Integer, default=0)
    # The earliest next run the source itself asked for (feed TTL, Retry-After, max-age)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Several machines (aggregator/cluster.py): the task put in the queue for this source and
    # not done yet, and the worker crawling it until its lease expires (renewed by heartbeats)
    queued_task: Mapped[str | None] = mapped_column(String(40))
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HostLease(Base):
    """The worker that alone may crawl a host (several machines): politeness across workers."""

    __tablename__ = "host_leases"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WorkerState(Base):
    """A queue worker as it last reported itself (several machines), for `aggregator status`."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # running, or stopped (it said goodbye); a running worker without heartbeat is dead
    state: Mapped[str] = mapped_column(String(20), default="running")
    current: Mapped[list[str]] = mapped_column(JSON, default=list)
    tasks_done: Mapped[int] = mapped_column(Integer, default=0)


class FrontierUrl(Base):
    """A discovered article URL of a source and what became of it (see store/frontier.py)."""

    __tablename__ = "frontier"
    __table_args__ = (Index("ix_frontier_source_state_next", "source", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    # canonical_url(url): the same post found in a feed and a sitemap is one row
    url_key: Mapped[str] = mapped_column(String(2048), unique=True)
    # pending, fetched, failed, gone, not_article, disallowed
    state: Mapped[str] = mapped_column(String(20), default="pending")
    # feed, sitemap, listing, manual, import, stored (filled by the migration)
    found_via: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the feed said of the post: the fallback metadata when the page lacks it
    feed_title: Mapped[str | None] = mapped_column(Text)
    feed_authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    feed_published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
