"""Article metadata from JSON-LD, OpenGraph, meta tags, <time>, bylines and URL dates."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice
from typing import Any
from urllib.parse import urljoin, urlsplit

from cssselect import GenericTranslator, parse
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
        "reportagenewsarticle",
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
ORGANISATION_TYPES = frozenset(
    {"organization", "newsmediaorganization", "corporation", "educationalorganization"}
)
SITE_TYPES = frozenset({"website", "organization", "newsmediaorganization", "corporation"})

# At most this many JSON-LD nodes are looked at, so a hostile page cannot make us walk forever.
MAX_JSON_LD_NODES = 2000
# Dates outside this range are parsing accidents ("0001-01-01", "9999-12-31").
MIN_YEAR = 1990
# Longest author name we accept; longer strings are sentences, not names.
MAX_AUTHOR_CHARS = 80
# Most authors kept for one article.
MAX_AUTHORS = 10
# Longest title or <h1> taken as a headline.
MAX_TITLE_CHARS = 300
# Most <h1> elements looked at for the headline.
MAX_HEADINGS = 10
# An <h1> replaces the metadata title when at least this many of its content words, and this
# share of them, are in the metadata title too.
MIN_SHARED_TITLE_WORDS = 2
MIN_TITLE_WORD_SHARE = 0.5
# Title words are compared on their first letters, a cheap stemmer ("personalize(s)").
TITLE_STEM_CHARS = 6
# A title part is the site's name when it starts a label of the host and has this many letters.
MIN_SITE_PREFIX_CHARS = 4
# A date written in the text is looked for in this many text nodes under the headline,
# each at most this long (longer ones are paragraphs, whose dates are about something else).
MAX_DATE_TEXT_NODES = 40
MAX_DATE_TEXT_CHARS = 200
# Dates read under the headline: enough for "Published ... Updated ..." and a date in a byline
MAX_WRITTEN_DATES = 3
# Longest text node read as (part of) a byline
MAX_BYLINE_NODE_CHARS = 300
# Text nodes after and before the headline where its byline is looked for
MAX_BYLINE_NODES_AFTER = 25
MAX_BYLINE_NODES_BEFORE = 6
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


def _css_test(selector: str) -> str:
    """An XPath test of the context element for a CSS selector of descendant combinators only
    ("a b" becomes "b's condition and ancestor::a[a's condition]")."""
    translator = GenericTranslator()
    *ancestors, last = (translator.xpath(parse(part)[0].parsed_tree) for part in selector.split())
    tests = [f"local-name() = '{last.element}'"] if last.element != "*" else []
    tests += [last.condition] if last.condition else []
    tests += [f"ancestor::{part.element}[{part.condition or 'true()'}]" for part in ancestors]
    return "(" + " and ".join(f"({test})" for test in tests) + ")"


# Elements that may match an author selector, found in one cheap walk of the tree (a union of
# the selectors' XPaths walks it once per selector: a tenth of an extraction went into it),
# then each tested against the selectors themselves
_AUTHOR_CANDIDATES = etree.XPath(
    "//*[@itemprop = 'author' or @itemprop = 'name' or contains(@rel, 'author')"
    " or contains(@class, 'author') or contains(@class, 'fn')]"
)
_AUTHOR_TEST = etree.XPath(
    "boolean(self::*[" + " or ".join(_css_test(selector) for selector in AUTHOR_SELECTORS) + "])"
)


def _author_elements(tree: HtmlElement) -> list[HtmlElement]:
    """The elements the author selectors match, in document order."""
    candidates = _AUTHOR_CANDIDATES(tree)
    return [e for e in candidates if _AUTHOR_TEST(e)] if isinstance(candidates, list) else []


# Ancestors with such an id or class token hold comments, whose authors are not the article's
# (whole tokens only: a body class "comments-open" must not hide the article's byline).
_COMMENT_CONTAINER_RE = re.compile(
    r"^(?:comments?|commentlist|respond|discussion|replies)"
    r"(?:[-_](?:area|list|body|content|author|meta|respond|section|wrap|thread|\d+))?$",
    re.I,
)

# Time-zone abbreviations seen in page dates, in hours east of UTC; others are taken as UTC.
TIMEZONE_ABBREVIATIONS: dict[str, float] = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2,
    "MET": 1, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "IST": 5.5, "SGT": 8, "HKT": 8,
    "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13, "EST": -5,
    "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
}  # fmt: skip
_DOUBLE_Z_RE = re.compile(r"(?<=\d)Z{2,}$", re.I)

# Text nodes near an element: the first RAW_TEXT_NODES of an axis are taken before the
# filters (libxml2 then stops early instead of filtering the whole rest of the page), and the
# first nodes that hold text are kept of those
RAW_TEXT_NODES = 300
_TEXT_FILTER = "[not(ancestor::script) and not(ancestor::style)][normalize-space()]"


def _texts(axis: str, smart_strings: bool = False) -> Callable[[Any, int], list[Any]]:
    """A function giving the first ``count`` text nodes along an axis from an element."""
    xpath = etree.XPath(
        f"{axis}::text()[position() <= {RAW_TEXT_NODES}]{_TEXT_FILTER}", smart_strings=smart_strings
    )

    def first(element: Any, count: int) -> list[Any]:
        nodes = xpath(element)
        # a reverse axis gives document order: the nearest nodes are last
        return nodes[-count:] if axis == "preceding" else nodes[:count]

    return first


_TEXT_AFTER = _texts("following")
# Dates often sit just above the headline ("Last updated: May 2, 2025" over the <h1>)
MAX_DATE_NODES_BEFORE = 12
_TEXT_BEFORE = _texts("preceding")
_TEXT_IN = _texts("descendant")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# "May 2, 2025", "2 May 2025", "2nd of May, 2025", "2025-05-02", "2025.05.02", "02.05.2025"
# (a dotted date with the year last is day first, as it is written in Europe)
_WRITTEN_DATE_RE = re.compile(
    rf"\b(?:(?P<month1>{_MONTH})\s+(?P<day1>\d{{1,2}})(?:st|nd|rd|th)?,?"
    rf"|(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month2>{_MONTH}),?)"
    rf"\s+(?P<year>(?:19|20)\d{{2}})\b"
    r"|\b(?P<iso_year>(?:19|20)\d{2})(?P<sep>[-./])(?P<iso_month>[01]\d)(?P=sep)(?P<iso_day>[0-3]\d)\b"
    r"|\b(?P<eu_day>[0-3]?\d)\.(?P<eu_month>[01]?\d)\.(?P<eu_year>(?:19|20)\d{2})\b",
    re.I,
)
# A byline label alone, its name in the next element: "By", "Written by", "Author:"
_BYLINE_LABEL_RE = re.compile(
    r"^\s*(?:(?:written|posted|published|authored|reported|words|story|article)\s+)?by:?\s*$"
    r"|^\s*(?:author|autor|auteur)\s*:?\s*$",
    re.I,
)
_NEXT_TEXT_XPATH = etree.XPath(
    "following::text()[not(ancestor::script) and not(ancestor::style)][normalize-space()][1]",
    smart_strings=False,
)
_URL_DATE_RE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|-|$|\.html?)"
)
_LANG_RE = re.compile(r"^\s*([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]+)*\s*$")
_TITLE_SEPARATOR_RE = re.compile(r"\s+[|–—\-:»·•~/]+\s+")
_WS_RE = re.compile(r"\s+")
_WORD_RE = re.compile(r"\w+")
_TITLE_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "in", "is", "it", "of",
    "on", "or", "our", "the", "this", "to", "vs", "what", "why", "with", "you", "your",
})  # fmt: skip
# Words that site names add to the domain name ("Rust Blog", "The Verge News").
_SITE_WORDS = frozenset({"the", "blog", "news", "magazine", "official", "online", "site", "home"})
_MARKDOWN_HEADING_RE = re.compile(r"^#{1,6}\s+")
_DIGIT_RE = re.compile(r"\d")
_BYLINE_WORD_RE = re.compile(r"\b(?:by|posted|published|updated|written)\b")
_ZERO_WIDTH_RE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]")
# Where a byline's name ends: "By Jane Doe on May 1 | 4 min read"
_BYLINE_END_RE = re.compile(
    r"\s+(?:on|in|at|for|from|via|updated|published)\s+|\s*[|·•—–(]|\s+-\s+"
    rf"|\s+(?={_MONTH}\s+\d)|\s+(?=\d)",
    re.I,
)
# Labels before a name: "By", "Written by", "Author:", "Author Jane Doe"
_AUTHOR_LABEL_RE = re.compile(r"^(?:(?:written |posted )?by[:\s]|author(?:ed by)?\b:?)\s*", re.I)
# Where a name ends and a role or a date begins: "Jane Doe - Editor", "Jane Doe | Staff",
# "Jane Doe Last updated ..."
_AUTHOR_TAIL_RE = re.compile(r"\s+[-|–—]\s+|\s+(?:last\s+)?(?:updated|published)\b", re.I)
# A one-word login or domain name ("jane.doe", "site.net", "jane_doe") is no display name.
_HANDLE_RE = re.compile(r"[._]")
# Words that fill an author field without naming anyone, and month and day names that
# date-like bylines leave behind ("Dec", "August").
_NOT_NAMES = frozenset(
    {
        "the author", "author", "authors", "admin", "administrator", "editor", "unknown",
        "anonymous", "guest", "user", "webmaster", "staff writer", "none", "null",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december", "monday", "tuesday", "wednesday", "thursday",
        "friday", "saturday", "sunday", "today", "yesterday",
    }
)  # fmt: skip
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
    # what the page says it is: its schema.org @types (lower case) and og:type
    types: frozenset[str] = frozenset()
    og_type: str | None = None
    # how many dates the page shows around its headline
    shown_dates: int = 0


def collapse(text: str | None) -> str:
    """Collapse whitespace runs to one space and strip the ends."""
    return _WS_RE.sub(" ", text or "").strip()


def clean_text(value: str | None) -> str:
    """Text of a metadata value: entities left encoded ("&#038;", "&amp;amp;") decoded,
    zero-width characters dropped, whitespace collapsed."""
    text = value or ""
    for _ in range(2):
        if "&" not in text:
            break
        text = html.unescape(text)
    return collapse(_ZERO_WIDTH_RE.sub("", text))


def parse_date(value: Any, *, keep_offset: bool = False) -> datetime | None:
    """Parse a date string into an aware datetime (naive times are taken as UTC).

    The result is in UTC unless ``keep_offset``: then it keeps the page's own UTC offset, so
    its calendar date is the day the publisher wrote (the store converts to UTC on write).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = _DOUBLE_Z_RE.sub("Z", value.strip()[:64])
    try:
        parsed = date_parser.isoparse(text)
    except Exception:
        try:
            parsed = date_parser.parse(text, tzinfos=_tz_offset)
        except Exception:
            return None
    try:
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            parsed = parsed.replace(tzinfo=UTC)
        elif not keep_offset:
            parsed = parsed.astimezone(UTC)
        else:
            offset = parsed.utcoffset()
            parsed = parsed.replace(tzinfo=UTC if not offset else timezone(offset))
    except (OverflowError, ValueError):
        return None
    if not MIN_YEAR <= parsed.year <= datetime.now(UTC).year + 1:
        return None
    return parsed


def _tz_offset(name: str | None, offset: int | None) -> int | None:
    """dateutil's tzinfos: known abbreviations ("CET", "EST") to seconds; unknown ones naive."""
    if offset is not None:
        return offset
    hours = TIMEZONE_ABBREVIATIONS.get((name or "").upper())
    return None if hours is None else int(hours * 3600)


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


def on_day(moment: datetime, day: datetime) -> datetime:
    """The same instant in the whole-hour UTC offset nearest zero that puts it on ``day``'s
    calendar date; unchanged when it is already on it or more than a day away."""
    if moment.date() == day.date():
        return moment
    instant = moment.astimezone(UTC)
    for hours in sorted(range(-12, 15), key=abs):
        local = instant.astimezone(timezone(timedelta(hours=hours)))
        if local.date() == day.date():
            return local
    return moment


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
    text = _AUTHOR_LABEL_RE.sub("", clean_text(value))
    if not text or len(text) > 4 * MAX_AUTHOR_CHARS or "://" in text or text.startswith("www."):
        return []
    names = []
    for part in _NAME_SPLIT_RE.split(text):
        # "David Jackson - Editorial Team", "Craig McCarthy Last updated": the name alone
        part = _AUTHOR_TAIL_RE.split(part, maxsplit=1)[0]
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
    if name.casefold() in _NOT_NAMES or (len(words) == 1 and _HANDLE_RE.search(name)):
        return False
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
    title = _MARKDOWN_HEADING_RE.sub("", _strip_wrapping_quotes(clean_text(title)))
    if not title:
        return ""
    parts = _TITLE_SEPARATOR_RE.split(title)
    if len(parts) < 2:
        return title
    first, last = parts[0], parts[-1]
    h1_norm = clean_text(h1).casefold()
    if h1_norm and h1_norm != title.casefold():
        # an h1 equal to the last part is the site's name in a banner, not the headline
        if last.casefold() == h1_norm:
            return title[: title.rfind(last)].rstrip(" |–—-:»·•~/")
        for part in parts:
            if part.casefold() == h1_norm:
                return part
    site_keys = _host_keys(url)
    if site_name:
        site_keys.add(_site_key(site_name))
    if _is_site_name(last, site_keys):
        return title[: title.rfind(last)].rstrip(" |–—-:»·•~/")
    if _is_site_name(first, site_keys):
        return title[len(first) :].lstrip(" |–—-:»·•~/")
    return title


def _is_site_name(part: str, site_keys: set[str]) -> bool:
    """Whether a title part names the site: its name, or its domain ("Rust Blog", rust-lang.org)."""
    key = _site_key(part)
    if key in site_keys:
        return True
    # "Rust Blog" on rust-lang.org: the part without words such as "blog" starts a host label
    words = [w for w in _WORD_RE.findall(part.casefold()) if w not in _SITE_WORDS]
    key = "".join(words)
    return len(key) >= MIN_SITE_PREFIX_CHARS and any(
        site.startswith(key) for site in site_keys if site
    )


def choose_title(
    title: str | None,
    headings: list[str],
    site_name: str | None,
    url: str | None,
    alternatives: tuple[str | None, ...] = (),
) -> str:
    """The article's headline: the page's <h1> when it is about what the metadata title says.

    Publishers often give the metadata title an SEO wording ("X For 2026 - Site") while readers
    see the <h1> ("Top 10 X to Watch"); the <h1> wins when it shares most of its words with
    the metadata title. An <h1> that only names the site, or that holds the whole metadata
    title plus a date, a byline or a count, does not. ``alternatives`` are other metadata
    titles: one that continues a cut-off ``title`` replaces it.
    """
    headings = [h for h in headings if 0 < len(h) <= MAX_TITLE_CHARS]
    base = clean_title(title, site_name, headings[0] if headings else None, url)
    if not base:
        return clean_title(headings[0], site_name, None, url) if headings else ""
    for alternative in alternatives:
        longer = clean_title(alternative, site_name, None, url)
        if len(longer) > len(base) and longer.casefold().startswith(base.casefold()):
            base = longer
    base_key = _title_key(base)
    base_words = _title_words(base)
    site_keys = _host_keys(url)
    if site_name:
        site_keys.add(_site_key(site_name))
    best, best_share = "", 0.0
    for heading in headings:
        key = _title_key(heading)
        if key == base_key:
            return _strip_wrapping_quotes(heading)
        if _site_key(heading) in site_keys:
            continue
        if base_key and base_key in key:
            # the metadata title plus more words: a longer headline, unless the extra is a
            # date, a count or a byline ("Dec 18 2025 Title", "Title Posted on ... by X")
            extra = key.replace(base_key, " ")
            if not _DIGIT_RE.search(extra) and not _BYLINE_WORD_RE.search(extra):
                return _strip_wrapping_quotes(heading)
            continue
        words = _title_words(heading)
        shared = len(words & base_words)
        share = shared / len(words) if words else 0.0
        if (
            shared >= MIN_SHARED_TITLE_WORDS
            and share >= MIN_TITLE_WORD_SHARE
            and share > best_share
        ):
            best, best_share = heading, share
    return _strip_wrapping_quotes(best) if best else base


def _title_key(text: str) -> str:
    return " ".join(_WORD_RE.findall(text.casefold()))


def _title_words(text: str) -> set[str]:
    """Content words of a title, cut to their first letters so "trend" meets "trends"."""
    return {
        word[:TITLE_STEM_CHARS]
        for word in _WORD_RE.findall(text.casefold())
        if len(word) > 1 and word not in _TITLE_STOPWORDS
    }


def _host_keys(url: str | None) -> set[str]:
    host = (urlsplit(url).hostname or "") if url else ""
    labels = [label for label in host.split(".") if label not in ("www", "blog", "m")]
    keys = {_site_key(label) for label in labels[:-1]}
    if len(labels) >= 2:
        keys.add(_site_key("".join(labels[-2:])))
    keys.discard("")
    return keys


def _strip_wrapping_quotes(text: str) -> str:
    """Drop straight quotes around a whole title (a templating slip), never typographic ones."""
    if len(text) > 2 and text[0] == text[-1] and text[0] in "\"'" and text[0] not in text[1:-1]:
        return text[1:-1].strip()
    return text


def _site_key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def extract_metadata(tree: HtmlElement, url: str | None) -> PageMetadata:
    """Read the metadata of one parsed page; never raises on odd markup."""
    meta = PageMetadata()
    metas = _meta_values(tree)
    article, page, site, types, index = _json_ld(tree)

    if types & LISTING_TYPES and not article:
        meta.is_listing = True
    meta.types = frozenset(types)

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
        _str(site.get("name"))
        or first_meta("og:site_name", "application-name")
        or _str(_obj(article.get("publisher")).get("name"))
    )
    headings = _headings(tree)
    meta.h1 = headings[0] if headings else None
    og_title = first_meta("og:title", "twitter:title", "dc.title")
    meta.title = choose_title(
        _str(article.get("headline")) or _str(article.get("name")) or og_title or meta.html_title,
        headings,
        meta.site_name,
        url,
        alternatives=(og_title, meta.html_title),
    )

    # authors: JSON-LD, then meta tags, then author markup; people first, an
    # organisation (the publisher credited as author) only when no person is named anywhere
    publisher = _str(_obj(_resolve(article.get("publisher"), index)).get("name"))
    site_keys = _host_keys(url) | {_site_key(name) for name in (meta.site_name, publisher) if name}
    sources: tuple[Callable[[], list[tuple[str, bool]]], ...] = (
        lambda: _ld_authors(_resolve(article.get("author"), index)),
        lambda: _people(
            clean_author_names(
                first_meta(
                    "author", "article:author", "dc.creator", "parsely-author", "sailthru.author"
                )
            )
        ),
        lambda: _people(_citation_name(v) for v in metas.get("citation_author", [])),
        lambda: _people(_markup_authors(tree)),
    )
    authors: list[str] = []
    organisations: list[str] = []
    for source in sources:
        for name, is_organisation in source():
            if is_organisation or _is_site_name(name, site_keys):
                organisations.append(name)
            elif name:
                authors.append(name)
        if authors:
            break
    authors = authors or organisations
    # the byline the reader sees by the headline wins over markup that names someone else
    shown = [name for name in headline_byline(tree) if not _is_site_name(name, site_keys)]
    if shown and not _same_people(shown, authors):
        authors = shown
    meta.authors = dedupe(authors, MAX_AUTHORS)

    # dates
    meta.published = (
        parse_date(_str(article.get("datePublished")), keep_offset=True)
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
                "published",
                "publish-date",
                "sailthru.date",
            ),
            keep_offset=True,
        )
        or parse_date(_str(page.get("datePublished")), keep_offset=True)
        or _time_element(tree)
    )
    meta.modified = (
        parse_date(_str(article.get("dateModified")), keep_offset=True)
        or parse_date(
            first_meta("article:modified_time", "og:updated_time", "datemodified"), keep_offset=True
        )
        or parse_date(_str(page.get("dateModified")), keep_offset=True)
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
    url_date = date_from_url(url) or date_from_url(meta.canonical_url)
    written = _written_dates(tree)
    meta.shown_dates = len(written)
    if url_date is None:
        meta.published = _shown_date(written, meta.published, meta.modified)
    if meta.published and url_date:
        # the URL's /2025/12/18/ is the publisher's own calendar day: a UTC time that falls on
        # the next or previous day is told in the offset that puts it on that day
        meta.published = on_day(meta.published, url_date)
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


def _headings(tree: HtmlElement) -> list[str]:
    """Texts of the page's <h1> elements outside comments, in page order."""
    texts: list[str] = []
    for element in tree.iter("h1"):
        if len(texts) >= MAX_HEADINGS:
            break
        text = clean_text(element.text_content())
        if text and not _in_comments(element):
            texts.append(text)
    return texts


def _first_text(tree: HtmlElement, path: str) -> str | None:
    for element in tree.xpath(path)[:1]:
        text = clean_text(element.text_content())
        if text:
            return text
    return None


def _str(value: Any) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return clean_text(str(value)) or None
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


def _ld_authors(value: Any) -> list[tuple[str, bool]]:
    """Names of JSON-LD author nodes, each with whether the node is an organisation."""
    items = value if isinstance(value, list) else [value]
    names: list[tuple[str, bool]] = []
    for item in items[:MAX_AUTHORS]:
        is_organisation = isinstance(item, dict) and bool(_types(item) & ORGANISATION_TYPES)
        names.extend((name, is_organisation) for name in clean_author_names(item))
    return names


def _same_people(shown: list[str], named: list[str]) -> bool:
    """Whether a byline names the people the markup names (or part of their names)."""
    keys = [_site_key(name) for name in named]
    return any(
        _site_key(name) in key or key in _site_key(name) for name in shown for key in keys if key
    )


def _people(names: Iterable[str]) -> list[tuple[str, bool]]:
    return [(name, False) for name in islice(names, MAX_AUTHORS) if name]


def _citation_name(value: str) -> str:
    """A citation_author value ("Roy, Aniruddha") as the name people write ("Aniruddha Roy")."""
    names = clean_author_names(value)
    text = clean_text(value)
    if text.count(",") == 1 and len(names) == 2:
        return f"{names[1]} {names[0]}"
    return names[0] if names else ""


def _markup_authors(tree: HtmlElement) -> list[str]:
    """Authors named by author markup (rel=author, itemprop=author, hCard), outside comments."""
    for element in _author_elements(tree)[:50]:
        if _in_comments(element):
            continue
        text = collapse(element.get("content") or element.text_content())
        names = byline_author(text) or clean_author_names(text, strict=True)
        if names:
            return names
    return _author_box_name(tree)


def _shown_date(
    written: list[datetime], published: datetime | None, modified: datetime | None
) -> datetime | None:
    """The date a page presents as its article's: its markup's, unless it shows another.

    A page that shows only its "Updated" date under the headline presents that date as the
    article's; a page whose markup has no date gets the first date it shows.
    """
    if published is None or (modified is not None and modified < published):
        # no date, or dates that contradict each other (modified before published)
        return written[0] if written else published
    for day in written:
        if _same_day(day, published):
            return on_day(published, day)
    if modified is None:
        return published
    return next((on_day(modified, day) for day in written if _same_day(day, modified)), published)


def _same_day(written: datetime, moment: datetime) -> bool:
    """Whether a written day (midnight UTC) is the day of a moment, in any time zone."""
    return abs((moment.replace(tzinfo=moment.tzinfo or UTC) - written).total_seconds()) < 36 * 3600


def _written_dates(tree: HtmlElement) -> list[datetime]:
    """The dates written around the headline ("Posted on May 2, 2025").

    It reads a bounded number of text nodes after the first <h1>, then the few just before
    it (or from the top of the body), so its cost does not grow with the page.
    """
    heading = next(tree.iter("h1"), None)
    if heading is not None:
        nodes = (
            _TEXT_AFTER(heading, MAX_DATE_TEXT_NODES)
            + _TEXT_BEFORE(heading, MAX_DATE_NODES_BEFORE)[::-1]
        )
    else:
        body = tree.find("body")
        nodes = _TEXT_IN(body, MAX_DATE_TEXT_NODES) if body is not None else []
    today = datetime.now(UTC)
    dates: list[datetime] = []
    for text in nodes:
        if len(text) > MAX_DATE_TEXT_CHARS:
            continue
        for match in _WRITTEN_DATE_RE.finditer(text):
            moment = _written_match_date(match)
            if moment is not None and moment.year >= MIN_YEAR and moment <= today:
                dates.append(moment)
                if len(dates) == MAX_WRITTEN_DATES:
                    return dates
    return dates


def _written_match_date(match: re.Match[str]) -> datetime | None:
    try:
        if match["iso_year"]:
            return datetime(
                int(match["iso_year"]), int(match["iso_month"]), int(match["iso_day"]), tzinfo=UTC
            )
        if match["eu_year"]:
            return datetime(
                int(match["eu_year"]), int(match["eu_month"]), int(match["eu_day"]), tzinfo=UTC
            )
        month = _MONTHS[(match["month1"] or match["month2"]).casefold()[:3]]
        day = int(match["day1"] or match["day2"])
        return datetime(int(match["year"]), month, day, tzinfo=UTC)
    except (KeyError, ValueError):
        return None


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
        parsed = parse_date(element.get("datetime"), keep_offset=True)
        if parsed:
            return parsed
    return None


# Short text nodes holding "by" or "author:" (a byline's text node is short: paragraphs that
# mention "by" are left to the C side)
_BYLINE_TEXT_XPATH = etree.XPath(
    f"//text()[string-length(.) < {MAX_BYLINE_NODE_CHARS}]"
    "[contains(translate(., 'BY', 'by'), 'by') or contains(translate(., 'AUTHOR', 'author'),"
    " 'author:')]"
)


def find_byline(tree: HtmlElement) -> list[str]:
    """Authors from a byline line anywhere in the page ("By Jane Doe"), outside comments."""
    for text_node in _BYLINE_TEXT_XPATH(tree)[:300]:
        names = _byline_at(text_node)
        if names:
            return names
    return []


# Text nodes (with their parents) just after and before the headline, where its byline is
_BYLINE_AFTER = _texts("following", smart_strings=True)
_BYLINE_BEFORE = _texts("preceding", smart_strings=True)


def headline_byline(tree: HtmlElement) -> list[str]:
    """Authors of the byline the reader sees by the headline ("By Jane Doe" under the <h1>)."""
    heading = next(tree.iter("h1"), None)
    if heading is None:
        return []
    nodes = _BYLINE_AFTER(heading, MAX_BYLINE_NODES_AFTER)
    for text_node in nodes + _BYLINE_BEFORE(heading, MAX_BYLINE_NODES_BEFORE)[::-1]:
        # every byline pattern holds "by" or "aut" ("Author:", "Autor:", "Auteur :")
        lower = text_node.lower()
        if len(text_node) < MAX_BYLINE_NODE_CHARS and ("by" in lower or "aut" in lower):
            names = _byline_at(text_node)
            if names:
                return names
    return []


def _byline_at(text_node: Any) -> list[str]:
    """The names of the byline a text node belongs to, or []."""
    parent = text_node.getparent()
    if parent is None:
        return []
    block = parent
    for _ in range(3):
        if block.tag not in ("a", "span", "strong", "b", "em", "i", "small"):
            break
        up = block.getparent()
        if up is None:
            break
        block = up
    if sum(1 for _ in islice(block.iter(), 13)) > 12 or _in_comments(block):
        return []
    text = block.text_content()
    names = byline_author(text)
    if not names and _BYLINE_LABEL_RE.match(text):
        # "Written by" in one element and the name in the next: <span>By</span><a>Jane</a>
        following = _NEXT_TEXT_XPATH(block)
        if following and len(following[0]) <= MAX_AUTHOR_CHARS:
            names = clean_author_names(following[0], strict=True)
    return names


_AUTHOR_CLASS_XPATH = etree.XPath(
    "//*[contains(translate(@class, 'AUTHOR', 'author'), 'author')]"
    "[not(self::script) and not(self::style) and not(self::body) and not(self::html)]"
    "[not(ancestor::li)]"  # lists hold other posts' or comments' authors
)


def _author_box_name(tree: HtmlElement) -> list[str]:
    """The name that opens an author element ("blog-author" box: name, then a bio)."""
    for element in _AUTHOR_CLASS_XPATH(tree)[:30]:
        if "authority" in element.get("class", "").lower() or _in_comments(element):
            continue
        texts = _TEXT_IN(element, 2)
        if texts and _BYLINE_LABEL_RE.match(texts[0]):
            texts = texts[1:]  # "By" and the name in two elements
        if texts:
            names = clean_author_names(texts[0], strict=True)
            # a full name: initials ("NB") and single words are avatars and labels
            if names and len(names[0].split()) >= 2:
                return names[:1]
    return []
