"""Stored articles as JSON lines, CSV or an Atom feed, written as a stream of any length."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from aggregator.store.articles import article_to_dict
from aggregator.store.models import Article
from aggregator.store.search import SNIPPET_END, SNIPPET_START

CSV_COLUMNS = (
    "id", "url", "canonical_url", "source", "title", "authors", "published", "fetched_at",
    "duplicate_of", "story_id", "language", "tags", "text",
)  # fmt: skip
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): such cells
# are written with a leading apostrophe, which spreadsheets show as text
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# XML 1.0 has no place for most control characters: they are dropped from Atom output
_XML_INVALID = dict.fromkeys(
    [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF], None
)


def split_snippet(snippet: str) -> tuple[str, list[tuple[int, int]]]:
    """Return a snippet's plain text and the [start, end) offsets of its highlighted matches."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    position, start = 0, None
    for char in snippet:
        if char == SNIPPET_START:
            start = position
        elif char == SNIPPET_END:
            if start is not None:
                spans.append((start, position))
            start = None
        else:
            plain.append(char)
            position += 1
    return "".join(plain), spans


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
