"""Article metadata: one page's title, authors, dates, image, tags, language and canonical URL.

``extract_metadata`` reads them from JSON-LD (``jsonld.py``), OpenGraph and other meta tags,
and the page itself; the rules for each live with their kind: ``titles.py``, ``authors.py``,
``dates.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from lxml.html import HtmlElement

from aggregator.extract.authors import page_authors
from aggregator.extract.dates import (
    date_from_url,
    on_day,
    parse_date,
    shown_date,
    time_element,
    written_dates,
)
from aggregator.extract.jsonld import (
    LISTING_TYPES,
    image_value,
    keywords_value,
    object_value,
    read_json_ld,
    text_value,
)
from aggregator.extract.sitename import site_keys
from aggregator.extract.text import clean_text, collapse, dedupe
from aggregator.extract.titles import choose_title, page_headings

# Most tags kept for one article.
MAX_TAGS = 30
# Meta tags naming the article's author, in order of trust
AUTHOR_META = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author")
# Meta tags holding the publication and the modification date, in order of trust
PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "date",
    "dc.date",
    "dc.date.issued",
    "pubdate",
    "publishdate",
    "published",
    "publish-date",
    "sailthru.date",
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified")

_LANG_RE = re.compile(r"^\s*([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]+)*\s*$")


@dataclass
class PageMetadata:
    """Metadata found in one page, before it is merged with trafilatura's."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    modified: datetime | None = None
    image_url: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    description: str | None = None
    h1: str | None = None
    html_title: str | None = None
    article_body: str | None = None
    is_listing: bool = False
    # what the page says it is: its schema.org @types (lower case) and og:type
    types: frozenset[str] = frozenset()
    og_type: str | None = None
    # how many dates the page shows around its headline
    shown_dates: int = 0


def extract_metadata(tree: HtmlElement, url: str | None) -> PageMetadata:
    """Read the metadata of one parsed page; never raises on odd markup."""
    meta = PageMetadata()
    metas = _meta_values(tree)
    ld = read_json_ld(tree)
    article, page = ld.article, ld.page
    meta.is_listing = bool(ld.types & LISTING_TYPES) and not article
    meta.types = frozenset(ld.types)

    def first_meta(*keys: str) -> str | None:
        for key in keys:
            for value in metas.get(key, []):
                if clean_text(value):
                    return clean_text(value)
        return None

    meta.og_type = first_meta("og:type")

    # title
    meta.html_title = _first_text(tree, "//title")
    meta.site_name = (
        text_value(ld.site.get("name"))
        or first_meta("og:site_name", "application-name")
        or text_value(object_value(article.get("publisher")).get("name"))
    )
    headings = page_headings(tree)
    meta.h1 = headings[0] if headings else None
    og_title = first_meta("og:title", "twitter:title", "dc.title")
    meta.title = choose_title(
        text_value(article.get("headline"))
        or text_value(article.get("name"))
        or og_title
        or meta.html_title,
        headings,
        meta.site_name,
        url,
        alternatives=(og_title, meta.html_title),
    )

    # authors
    publisher = text_value(object_value(ld.resolve(article.get("publisher"), 1)).get("name"))
    meta.authors = page_authors(
        tree,
        ld,
        first_meta(*AUTHOR_META),
        metas.get("citation_author", []),
        site_keys(url, meta.site_name, publisher),
    )

    # dates
    meta.published = (
        parse_date(text_value(article.get("datePublished")), keep_offset=True)
        or parse_date(first_meta(*PUBLISHED_META), keep_offset=True)
        or parse_date(text_value(page.get("datePublished")), keep_offset=True)
        or time_element(tree)
    )
    meta.modified = (
        parse_date(text_value(article.get("dateModified")), keep_offset=True)
        or parse_date(first_meta(*MODIFIED_META), keep_offset=True)
        or parse_date(text_value(page.get("dateModified")), keep_offset=True)
    )

    # image, tags, language, canonical URL, description
    image = image_value(article.get("image")) or first_meta(
        "og:image", "og:image:url", "twitter:image"
    )
    meta.image_url = _absolute(image, url)
    tags = [collapse(v) for v in metas.get("article:tag", []) if collapse(v)]
    if not tags:
        tags = keywords_value(article.get("keywords"))
    meta.tags = dedupe(tags, MAX_TAGS)
    meta.language = (
        normalise_language(
            tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
        )
        or normalise_language(text_value(article.get("inLanguage")))
        or normalise_language(first_meta("og:locale", "content-language", "language"))
    )
    canonical = None
    for link in tree.iterfind(".//link[@rel]"):
        if "canonical" in link.get("rel", "").lower().split() and link.get("href"):
            canonical = link.get("href")
            break
    canonical = canonical or first_meta("og:url") or text_value(article.get("url"))
    meta.canonical_url = _absolute(canonical, url) or url
    meta.description = first_meta(
        "og:description", "description", "twitter:description"
    ) or text_value(article.get("description"))

    # the date the page shows, on the calendar day its URL names
    url_date = date_from_url(url) or date_from_url(meta.canonical_url)
    written = written_dates(tree)
    meta.shown_dates = len(written)
    if url_date is None:
        meta.published = shown_date(written, meta.published, meta.modified)
    if meta.published and url_date:
        # the URL's /2025/12/18/ is the publisher's own calendar day: a UTC time that falls on
        # the next or previous day is told in the offset that puts it on that day
        meta.published = on_day(meta.published, url_date)
    body = article.get("articleBody")
    if isinstance(body, str) and body.strip():
        meta.article_body = body
    return meta


def normalise_language(value: str | None) -> str | None:
    """Reduce a language tag such as "en-US" or "pt_BR" to its primary subtag ("en")."""
    match = _LANG_RE.match(value or "")
    return match[1].lower() if match else None


def _meta_values(tree: HtmlElement) -> dict[str, list[str]]:
    """Map lower-cased meta name/property/itemprop/http-equiv to their content values."""
    values: dict[str, list[str]] = {}
    for element in tree.iter("meta"):
        content = element.get("content")
        if content is None:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = element.get(attr)
            if key:
                values.setdefault(key.strip().lower(), []).append(content)
    return values


def _first_text(tree: HtmlElement, path: str) -> str | None:
    for element in tree.xpath(path)[:1]:
        text = clean_text(element.text_content())
        if text:
            return text
    return None


def _absolute(value: str | None, base: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    try:
        absolute = urljoin(base, value) if base else value
    except ValueError:
        return None
    return absolute if absolute.startswith(("http://", "https://")) else None
