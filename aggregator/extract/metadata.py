"""Article metadata from JSON-LD, OpenGraph, meta tags, <time>, bylines and URL dates."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from urllib.parse import urljoin, urlsplit

from cssselect import GenericTranslator
from dateutil import parser as date_parser
from lxml import etree
from lxml.html import HtmlElement

from aggregator.extract.clutter import BYLINE_PATTERNS

logger = logging.getLogger(__name__)

# schema.org types whose node describes the article itself
ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "blogposting",
        "reportagenews",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "techarticle",
        "scholarlyarticle",
        "socialmediaposting",
        "liveblogposting",
        "report",
        "posting",
    }
)
# schema.org types that describe the page or the site, used when no article node exists
PAGE_TYPES = frozenset({"webpage", "itempage", "aboutpage"})
LISTING_TYPES = frozenset({"collectionpage", "itemlist", "searchresultspage", "blog"})
SITE_TYPES = frozenset({"website", "organization", "newsmediaorganization", "corporation"})

# At most this many JSON-LD nodes are looked at, so a hostile page cannot make us walk forever.
MAX_JSON_LD_NODES = 2000
# Dates outside this range are parsing accidents ("0001-01-01", "9999-12-31").
MIN_YEAR = 1990
# Longest author name we accept; longer strings are sentences, not names.
MAX_AUTHOR_CHARS = 80
# Most authors kept for one article.
MAX_AUTHORS = 10
# Most tags kept for one article.
MAX_TAGS = 30

# Markup that names the article's author (hCard, rel=author, microdata, common themes).
AUTHOR_SELECTORS: tuple[str, ...] = (
    '[itemprop="author"] [itemprop="name"]',
    '[itemprop="author"]',
    "a[rel~=author]",
    ".byline .author",
    ".entry-meta .author",
    ".post-meta .author",
    ".author.vcard .fn",
    ".author-name",
    ".post-author",
)
_AUTHOR_XPATH = etree.XPath(
    " | ".join(
        GenericTranslator().css_to_xpath(s, prefix="descendant-or-self::") for s in AUTHOR_SELECTORS
    )
)
# Ancestors with such an id or class token hold comments, whose authors are not the article's
# (whole tokens only: a body class "comments-open" must not hide the article's byline).
_COMMENT_CONTAINER_RE = re.compile(
    r"^(?:comments?|commentlist|respond|discussion|replies)"
    r"(?:[-_](?:area|list|body|content|author|meta|respond|section|wrap|thread|\d+))?$",
    re.I,
)

_URL_DATE_RE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|-|$|\.html?)"
)
_LANG_RE = re.compile(r"^\s*([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]+)*\s*$")
_TITLE_SEPARATOR_RE = re.compile(r"\s+[|–—\-:»·•~/]+\s+")
_WS_RE = re.compile(r"\s+")
# Where a byline's name ends: "By Jane Doe on May 1 | 4 min read"
_BYLINE_END_RE = re.compile(
    r"\s+(?:on|in|at|for|from|via|updated|published)\s+|\s*[|·•—–(]|\s+-\s+", re.I
)
_NAME_SPLIT_RE = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b)\s*")
_NAME_PARTICLES = frozenset(
    {"de", "da", "del", "della", "di", "du", "la", "le", "van", "von", "der", "den", "bin", "al"}
)


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


def collapse(text: str | None) -> str:
    """Collapse whitespace runs to one space and strip the ends."""
    return _WS_RE.sub(" ", text or "").strip()


def parse_date(value: Any) -> datetime | None:
    """Parse a date string into an aware UTC datetime (naive times are taken as UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()[:64]
    try:
        parsed = date_parser.isoparse(text)
    except Exception:
        try:
            parsed = date_parser.parse(text)
        except Exception:
            return None
    try:
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    if not MIN_YEAR <= parsed.year <= datetime.now(UTC).year + 1:
        return None
    return parsed


def date_from_url(url: str | None) -> datetime | None:
    """Return the date written in a URL path such as /2024/05/17/, as UTC midnight."""
    if not url:
        return None
    match = _URL_DATE_RE.search(urlsplit(url).path)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None


def normalise_language(value: str | None) -> str | None:
    """Reduce a language tag such as "en-US" or "pt_BR" to its primary subtag ("en")."""
    match = _LANG_RE.match(value or "")
    return match[1].lower() if match else None


def clean_author_names(value: Any, *, strict: bool = False) -> list[str]:
    """Turn an author value (string, schema.org object or list) into a list of names.

    ``strict`` is for names read from free text (bylines): every word must be capitalised.
    """
    if isinstance(value, list):
        return [name for item in value[:MAX_AUTHORS] for name in clean_author_names(item)]
    if isinstance(value, dict):
        value = value.get("name") or value.get("alternateName")
        if isinstance(value, list):
            value = value[0] if value else None
    if not isinstance(value, str):
        return []
    text = collapse(value)
    text = re.sub(r"^(?:written |posted )?by[:\s]\s*", "", text, flags=re.I)
    if not text or len(text) > 4 * MAX_AUTHOR_CHARS or "://" in text or text.startswith("www."):
        return []
    names = []
    for part in _NAME_SPLIT_RE.split(text):
        name = part.strip(" .,;:·|-–—\"'“”")
        if _is_name(name, strict=strict):
            names.append(name)
        elif strict:
            break
    return names


def _is_name(name: str, *, strict: bool) -> bool:
    """Tell whether a string can be a person's (or an outlet's) name."""
    if not name or len(name) > MAX_AUTHOR_CHARS or "@" in name or any(c.isdigit() for c in name):
        return False
    words = name.split()
    if not strict:
        return len(words) <= 8
    if not 1 <= len(words) <= 4 or len(name) > 50:
        return False
    return (
        all(w[0].isupper() or w.lower() in _NAME_PARTICLES for w in words) and words[0][0].isupper()
    )


def dedupe(values: list[str], limit: int) -> list[str]:
    """Keep the first of each case-insensitive duplicate, at most ``limit`` values."""
    seen: set[str] = set()
    kept = []
    for value in values:
        key = value.casefold()
        if value and key not in seen:
            seen.add(key)
            kept.append(value)
    return kept[:limit]


def byline_author(text: str) -> list[str]:
    """Return the author names of a byline line ("Written by Jane Doe"), or []."""
    text = collapse(text)
    if not text or len(text) > 120:
        return []
    for pattern in BYLINE_PATTERNS:
        match = pattern.match(text)
        if match:
            name = _BYLINE_END_RE.split(match["name"], maxsplit=1)[0]
            return clean_author_names(name, strict=True)
    return []


def clean_title(title: str | None, site_name: str | None, h1: str | None, url: str | None) -> str:
    """Strip the site name from a title ("Title | Site", "Site - Title")."""
    title = collapse(title)
    if not title:
        return ""
    parts = _TITLE_SEPARATOR_RE.split(title)
    if len(parts) < 2:
        return title
    h1_norm = collapse(h1).casefold()
    if h1_norm and h1_norm != title.casefold():
        for part in parts:
            if part.casefold() == h1_norm:
                return part
    site_keys = set()
    if site_name:
        site_keys.add(_site_key(site_name))
    if url:
        host = urlsplit(url).hostname or ""
        labels = [label for label in host.split(".") if label not in ("www", "blog", "m")]
        if labels:
            site_keys.add(_site_key(labels[0]))
    first, last = parts[0], parts[-1]
    if _site_key(last) in site_keys:
        return title[: title.rfind(last)].rstrip(" |–—-:»·•~/")
    if _site_key(first) in site_keys:
        return title[len(first) :].lstrip(" |–—-:»·•~/")
    return title


def _site_key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def extract_metadata(tree: HtmlElement, url: str | None) -> PageMetadata:
    """Read the metadata of one parsed page; never raises on odd markup."""
    meta = PageMetadata()
    metas = _meta_values(tree)
    article, page, site, types, index = _json_ld(tree)

    if types & LISTING_TYPES and not article:
        meta.is_listing = True

    def first_meta(*keys: str) -> str | None:
        for key in keys:
            for value in metas.get(key, []):
                if collapse(value):
                    return collapse(value)
        return None

    # title
    meta.h1 = _first_text(tree, "//h1")
    meta.html_title = _first_text(tree, "//title")
    meta.site_name = (
        _str(site.get("name"))
        or first_meta("og:site_name", "application-name")
        or _str(_obj(article.get("publisher")).get("name"))
    )
    meta.title = (
        _str(article.get("headline"))
        or _str(article.get("name"))
        or first_meta("og:title", "twitter:title", "dc.title")
        or meta.h1
        or meta.html_title
    )

    # authors: JSON-LD, then meta tags, then author markup
    authors = clean_author_names(_resolve(article.get("author"), index))
    if not authors:
        authors = clean_author_names(
            first_meta(
                "author", "article:author", "dc.creator", "parsely-author", "sailthru.author"
            )
        )
    if not authors:
        authors = _markup_authors(tree)
    meta.authors = dedupe(authors, MAX_AUTHORS)

    # dates
    meta.published = (
        parse_date(_str(article.get("datePublished")))
        or parse_date(
            first_meta(
                "article:published_time",
                "og:published_time",
                "datepublished",
                "date",
                "dc.date",
                "dc.date.issued",
                "pubdate",
                "publishdate",
                "sailthru.date",
            )
        )
        or parse_date(_str(page.get("datePublished")))
        or _time_element(tree)
    )
    meta.modified = (
        parse_date(_str(article.get("dateModified")))
        or parse_date(first_meta("article:modified_time", "og:updated_time", "datemodified"))
        or parse_date(_str(page.get("dateModified")))
    )

    # image, tags, language, canonical URL, description
    image = _image(article.get("image")) or first_meta("og:image", "og:image:url", "twitter:image")
    meta.image_url = _absolute(image, url)
    tags = [collapse(v) for v in metas.get("article:tag", []) if collapse(v)]
    if not tags:
        tags = _keywords(article.get("keywords"))
    meta.tags = dedupe(tags, MAX_TAGS)
    meta.language = (
        normalise_language(
            tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
        )
        or normalise_language(_str(article.get("inLanguage")))
        or normalise_language(first_meta("og:locale", "content-language", "language"))
    )
    canonical = None
    for link in tree.iterfind(".//link[@rel]"):
        if "canonical" in link.get("rel", "").lower().split() and link.get("href"):
            canonical = link.get("href")
            break
    canonical = canonical or first_meta("og:url") or _str(article.get("url"))
    meta.canonical_url = _absolute(canonical, url) or url
    meta.description = first_meta("og:description", "description", "twitter:description") or _str(
        article.get("description")
    )
    body = article.get("articleBody")
    if isinstance(body, str) and body.strip():
        meta.article_body = body
    return meta


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
        text = collapse(element.text_content())
        if text:
            return text
    return None


def _str(value: Any) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return collapse(str(value)) or None
    return None


def _obj(value: Any) -> dict[str, Any]:
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, dict) else {}


def _absolute(value: str | None, base: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    try:
        absolute = urljoin(base, value) if base else value
    except ValueError:
        return None
    return absolute if absolute.startswith(("http://", "https://")) else None


def _image(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return _str(value)


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        return [collapse(v) for v in value.split(",") if collapse(v)]
    if isinstance(value, list):
        return [collapse(v) for v in value if isinstance(v, str) and collapse(v)]
    return []


def _types(node: dict[str, Any]) -> set[str]:
    value = node.get("@type")
    values = value if isinstance(value, list) else [value]
    return {v.rsplit("/", 1)[-1].lower() for v in values if isinstance(v, str)}


def _walk(value: Any, budget: list[int]) -> Iterator[dict[str, Any]]:
    """Yield every JSON object in a JSON-LD value, depth first, within the node budget."""
    stack = [value]
    while stack and budget[0] > 0:
        item = stack.pop()
        if isinstance(item, dict):
            budget[0] -= 1
            yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            budget[0] -= 1
            stack.extend(reversed(item))


def _json_ld(
    tree: HtmlElement,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], set[str], dict[str, Any]]:
    """Return the article, web page and web site JSON-LD nodes, all @types and the @id index."""
    nodes: list[dict[str, Any]] = []
    budget = [MAX_JSON_LD_NODES]
    for script in tree.xpath(
        "//script[translate(@type, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
        " = 'application/ld+json']"
    ):
        raw = (script.text or "").strip()
        raw = re.sub(r"^\s*(?://\s*)?<!\[CDATA\[|\]\]>\s*$", "", raw)
        try:
            data = json.loads(raw, strict=False)
        except (ValueError, RecursionError):
            logger.debug("unparseable JSON-LD block of %d chars", len(raw))
            continue
        try:
            nodes.extend(_walk(data, budget))
        except RecursionError:  # pragma: no cover - _walk is iterative
            continue
    # a bare {"@id": ...} is a reference, not the node it points to
    index = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str) and len(n) > 1}
    article: dict[str, Any] = {}
    page: dict[str, Any] = {}
    site: dict[str, Any] = {}
    types: set[str] = set()
    for node in nodes:
        node_types = _types(node)
        types |= node_types
        if node_types & ARTICLE_TYPES:
            body = node.get("articleBody")
            best = article.get("articleBody")
            if not article or (
                isinstance(body, str) and (not isinstance(best, str) or len(body) > len(best))
            ):
                article = node
        elif node_types & PAGE_TYPES and not page:
            page = node
        elif node_types & {"website"} and not site:
            site = node
    return article, page, site, types, index


def _resolve(value: Any, index: dict[str, Any]) -> Any:
    """Replace {"@id": ...} references by the nodes they point to."""
    if isinstance(value, list):
        return [_resolve(v, index) for v in value[:MAX_AUTHORS]]
    if isinstance(value, dict) and "name" not in value and isinstance(value.get("@id"), str):
        return index.get(value["@id"], value)
    return value


def _in_comments(element: HtmlElement) -> bool:
    for depth, ancestor in enumerate(element.iterancestors()):
        if depth > 40:
            break
        tokens = f"{ancestor.get('id', '')} {ancestor.get('class', '')}".split()
        if any(_COMMENT_CONTAINER_RE.match(token) for token in tokens):
            return True
    return False


def _markup_authors(tree: HtmlElement) -> list[str]:
    """Authors named by author markup (rel=author, itemprop=author, hCard), outside comments."""
    for element in _AUTHOR_XPATH(tree)[:50]:
        if _in_comments(element):
            continue
        text = collapse(element.get("content") or element.text_content())
        names = byline_author(text) or clean_author_names(text, strict=True)
        if names:
            return names
    return []


def _time_element(tree: HtmlElement) -> datetime | None:
    """The publication date of the first suitable <time datetime> outside comments."""
    candidates = tree.xpath("//time[@datetime]")[:50]
    preferred = [
        t
        for t in candidates
        if t.get("pubdate") is not None
        or t.get("itemprop", "").lower() == "datepublished"
        or "published" in t.get("class", "")
    ]
    for element in preferred + candidates:
        if _in_comments(element):
            continue
        parsed = parse_date(element.get("datetime"))
        if parsed:
            return parsed
    return None


def find_byline(tree: HtmlElement) -> list[str]:
    """Authors from a byline line anywhere in the page ("By Jane Doe"), outside comments."""
    texts = tree.xpath(
        "//text()[contains(translate(., 'BY', 'by'), 'by') or contains(translate(., 'AUTHOR',"
        " 'author'), 'author:')]"
    )
    for text_node in texts[:300]:
        parent = text_node.getparent()
        if parent is None:
            continue
        block = parent
        for _ in range(3):
            if block.tag not in ("a", "span", "strong", "b", "em", "i", "small"):
                break
            up = block.getparent()
            if up is None:
                break
            block = up
        if sum(1 for _ in islice(block.iter(), 13)) > 12 or _in_comments(block):
            continue
        names = byline_author(block.text_content())
        if names:
            return names
    return []
