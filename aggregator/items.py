"""The items that flow through the pipelines: a fetched page and the clean article."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass
class Article:
    """The clean result of extraction: body text and metadata of one article."""

    title: str
    text: str
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    modified: datetime | None = None
    image_url: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    description: str | None = None


# The fields of an extracted article: the store keeps each in the articles column of that name
ARTICLE_FIELDS = tuple(f.name for f in fields(Article))


@dataclass
class PageItem:
    """One fetched article page with the metadata its feed gave, enriched by the pipelines."""

    url: str
    source: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    requested_url: str | None = None
    fetched_at: datetime = field(default_factory=utcnow)
    feed_title: str | None = None
    feed_published: datetime | None = None
    feed_authors: list[str] = field(default_factory=list)
    feed_summary: str | None = None
    # Filled by aggregator.ingest (clean_page, fingerprint_page), in the clean pipeline's workers
    article: Article | None = None
    canonical_url: str | None = None
    content_hash: str | None = None
    minhash: bytes | None = None
    # The body, zlib-compressed where the CPU work runs (a worker process), for the store
    compressed_body: bytes | None = None
    # Filled by pipelines/store.py: inserted, updated, unchanged or duplicate
    stored_as: str | None = None
