"""Stored articles as JSON lines, CSV or an Atom feed, written as a stream of any length."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from aggregator.store.articles import ARTICLE_SCHEMA, article_to_dict
from aggregator.store.models import Article

# The keys of `aggregator articles --json` but two, as the columns were first released
CSV_COLUMNS = tuple(key for key in ARTICLE_SCHEMA if key not in ("updated_at", "image_url"))
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): such cells
# are written with a leading apostrophe, which spreadsheets show as text
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# XML 1.0 has no place for most control characters: they are dropped from Atom output
_XML_INVALID = dict.fromkeys(
    [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF], None
)


def jsonl_lines(articles: Iterable[Article]) -> Iterator[str]:
    """One JSON object a line, as `aggregator articles --json` prints them."""
    for article in articles:
        yield json.dumps(article_to_dict(article), ensure_ascii=False) + "\n"


def _csv_cell(value: object) -> object:
    """A CSV cell: empty for None, text a spreadsheet would run as a formula made inert."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(articles: Iterable[Article]) -> Iterator[str]:
    """CSV with a header; authors and tags joined by "; "; no cell starts a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for article in articles:
        data = article_to_dict(article)
        data["authors"] = "; ".join(data["authors"])
        data["tags"] = "; ".join(data["tags"])
        writer.writerow([_csv_cell(data[key]) for key in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def _xml(text: str) -> str:
    return escape(text.translate(_XML_INVALID))


def atom_lines(
    articles: Iterable[Article], title: str, feed_id: str, self_url: str | None = None
) -> Iterator[str]:
    """An Atom 1.0 feed: one <entry> per article with its clean text as the content."""
    yield '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
    yield f"<title>{_xml(title)}</title>\n<id>{_xml(feed_id)}</id>\n"
    if self_url:
        yield f'<link rel="self" href={quoteattr(self_url)}/>\n'
    yield f"<updated>{datetime.now(UTC).isoformat()}</updated>\n"
    yield "<generator>techblog-aggregator</generator>\n"
    for article in articles:
        updated = article.updated_at or article.fetched_at
        published = article.published or article.fetched_at
        authors = (
            "".join(f"<author><name>{_xml(name)}</name></author>" for name in article.authors)
            or f"<author><name>{_xml(article.source.name)}</name></author>"
        )
        yield (
            f"<entry><title>{_xml(article.title)}</title>"
            f"<id>{_xml(article.canonical_url)}</id>"
            f'<link rel="alternate" href={quoteattr(article.url)}/>'
            f"<published>{published.isoformat()}</published>"
            f"<updated>{updated.isoformat()}</updated>{authors}"
            f"<source><title>{_xml(article.source.name)}</title></source>"
            f'<content type="text">{_xml(article.text)}</content></entry>\n'
        )
    yield "</feed>\n"
