"""Import articles from JSON objects through the same clean and store steps as a crawl."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from aggregator.exceptions import ImportLineError, RejectedPage
from aggregator.ingest import (
    boilerplate_due,
    clean_page,
    fingerprint_page,
    save_article,
    site_boilerplate,
)
from aggregator.items import PageItem
from aggregator.sources import Source, slug_from_url
from aggregator.store.articles import ensure_source

KNOWN_KEYS = frozenset({"url", "source", "title", "text", "html", "authors", "published"})


def _text_as_html(title: str, text: str) -> str:
    """Wrap plain text (paragraphs separated by blank lines) in a minimal article page."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    body = "\n".join(f"<p>{html.escape(' '.join(p.split()))}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><article><h1>{html.escape(title)}</h1>\n{body}\n</article></body></html>"
    )


def _published(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ImportLineError(f"published must be an ISO 8601 string, not {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ImportLineError(f"published {value!r} is not an ISO 8601 date") from exc
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def page_from_json(data: dict[str, Any], default_source: str | None = None) -> PageItem:
    """Validate one import object and turn it into a PageItem."""
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ImportLineError(
            f"unknown keys {', '.join(unknown)} (known: {', '.join(sorted(KNOWN_KEYS))})"
        )
    url = data.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if url is None or parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImportLineError(f"url is required and must be an absolute http(s) URL, not {url!r}")
    source = data.get("source") or default_source or slug_from_url(url)
    title = data.get("title") or ""
    authors = data.get("authors") or []
    if isinstance(authors, str):
        authors = [authors]
    if not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
        raise ImportLineError("authors must be a list of names")
    if isinstance(data.get("html"), str) and data["html"].strip():
        body = data["html"]
    elif isinstance(data.get("text"), str) and data["text"].strip():
        body = _text_as_html(title, data["text"])
    else:
        raise ImportLineError("each line needs a non-empty text or html")
    return PageItem(
        url=url,
        source=str(source),
        body=body.encode("utf-8"),
        headers={"content-type": "text/html; charset=utf-8"},
        feed_title=title or None,
        feed_authors=authors,
        feed_published=_published(data.get("published")),
    )


class Importer:
    """Clean, fingerprint and store import objects, as a crawl stores fetched pages.

    The sources file's rules (content and remove selectors) apply to their source's pages;
    a source's boilerplate is learned from the store as its pages come (see boilerplate_due).
    """

    def __init__(
        self,
        rules: dict[str, Source] | None = None,
        default_source: str | None = None,
        keep_raw: bool = True,
    ) -> None:
        self.rules = rules or {}
        self.default_source = default_source
        self.keep_raw = keep_raw
        self.boilerplate: dict[str, tuple[frozenset[str], int]] = {}

    def _boilerplate(self, session: Session, source: str) -> frozenset[str]:
        keys, pages = self.boilerplate.get(source, (frozenset(), 0))
        pages += 1
        if boilerplate_due(pages):
            keys = site_boilerplate(session, source)
        self.boilerplate[source] = (keys, pages)
        return keys

    def line(self, session: Session, data: dict[str, Any]) -> str:
        """Store one import object; return what the store did."""
        page = page_from_json(data, self.default_source)
        try:
            page = fingerprint_page(
                clean_page(
                    page, self._boilerplate(session, page.source), self.rules.get(page.source)
                )
            )
        except RejectedPage as exc:
            raise ImportLineError(str(exc)) from exc
        assert page.article is not None
        # What the importing user states wins over what extraction guessed
        if page.feed_title:
            page.article.title = page.feed_title
        if page.feed_authors:
            page.article.authors = list(page.feed_authors)
        if page.feed_published:
            page.article.published = page.feed_published
        parts = urlsplit(page.url)
        ensure_source(session, page.source, f"{parts.scheme}://{parts.netloc}/")
        return save_article(session, page, self.keep_raw).status
