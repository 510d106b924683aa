"""Authors: names from bylines, author markup and metadata values, with every byline pattern.

A page's authors come from its JSON-LD, then its meta tags, then its author markup; the
byline the reader sees by the headline wins over markup naming someone else. The byline
patterns here also find the bylines that extraction drops from the text (``byline_author``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from cssselect import GenericTranslator, parse
from lxml import etree
from lxml.html import HtmlElement

from aggregator.extract.dates import MONTH_PATTERN
from aggregator.extract.jsonld import ORGANISATION_TYPES, JsonLd, node_types
from aggregator.extract.sitename import is_site_name, site_key
from aggregator.extract.text import clean_text, collapse, dedupe, in_comments, text_nodes

# Longest author name we accept; longer strings are sentences, not names.
MAX_AUTHOR_CHARS = 80
# Most authors kept for one article.
MAX_AUTHORS = 10
# Longest text node read as (part of) a byline
MAX_BYLINE_NODE_CHARS = 300
# Text nodes after and before the headline where its byline is looked for
MAX_BYLINE_NODES_AFTER = 25
MAX_BYLINE_NODES_BEFORE = 6

# Bylines and author-box lines; group "name" is the author's name.
BYLINE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # "Written by Connor Livingston", "Posted by", "By Jane Doe"
    re.compile(
        r"^(?:(?:written|posted|published|authored|reported|words|story|article)\s+)?by[:\s]\s*"
        r"(?P<name>.+?)\s*$",
        re.IGNORECASE,
    ),
    # "Author: Jane Doe"
    re.compile(r"^(?:author|autor|auteur)\s*:\s*(?P<name>.+?)\s*$", re.IGNORECASE),
    # "Published August 7, 2023 by Jane Doe"
    re.compile(
        r"^(?:published|posted|updated)(?:\s+on)?:?\s+[^|]{4,30}?\d{4},?\s+by[:\s]\s*(?P<name>.+?)\s*$",
        re.IGNORECASE,
    ),
)
# A byline label alone, its name in the next element: "By", "Written by", "Author:"
_BYLINE_LABEL_RE = re.compile(
    r"^\s*(?:(?:written|posted|published|authored|reported|words|story|article)\s+)?by:?\s*$"
    r"|^\s*(?:author|autor|auteur)\s*:?\s*$",
    re.I,
)
# Labels before a name in an author value: "By", "Written by", "Author:", "Author Jane Doe"
_AUTHOR_LABEL_RE = re.compile(r"^(?:(?:written |posted )?by[:\s]|author(?:ed by)?\b:?)\s*", re.I)
# Where a byline's name ends: "By Jane Doe on May 1 | 4 min read"
_BYLINE_END_RE = re.compile(
    r"\s+(?:on|in|at|for|from|via|updated|published)\s+|\s*[|·•—–(]|\s+-\s+"
    rf"|\s+(?={MONTH_PATTERN}\s+\d)|\s+(?=\d)",
    re.I,
)
# Where a name ends and a role or a date begins: "Jane Doe - Editor", "Jane Doe | Staff",
# "Jane Doe Last updated ..."
_AUTHOR_TAIL_RE = re.compile(r"\s+[-|–—]\s+|\s+(?:last\s+)?(?:updated|published)\b", re.I)
# The words of a byline in a heading ("Title Posted on ... by X"): no part of the headline
BYLINE_WORD_RE = re.compile(r"\b(?:by|posted|published|updated|written)\b")
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
_NEXT_TEXT_XPATH = etree.XPath(
    "following::text()[not(ancestor::script) and not(ancestor::style)][normalize-space()][1]",
    smart_strings=False,
)
# Short text nodes holding "by" or "author:" (a byline's text node is short: paragraphs that
# mention "by" are left to the C side)
_BYLINE_TEXT_XPATH = etree.XPath(
    f"//text()[string-length(.) < {MAX_BYLINE_NODE_CHARS}]"
    "[contains(translate(., 'BY', 'by'), 'by') or contains(translate(., 'AUTHOR', 'author'),"
    " 'author:')]"
)
# Text nodes (with their parents) just after and before the headline, where its byline is
_BYLINE_AFTER = text_nodes("following", smart_strings=True)
_BYLINE_BEFORE = text_nodes("preceding", smart_strings=True)
_TEXT_IN = text_nodes("descendant")
_AUTHOR_CLASS_XPATH = etree.XPath(
    "//*[contains(translate(@class, 'AUTHOR', 'author'), 'author')]"
    "[not(self::script) and not(self::style) and not(self::body) and not(self::html)]"
    "[not(ancestor::li)]"  # lists hold other posts' or comments' authors
)


def page_authors(
    tree: HtmlElement,
    json_ld: JsonLd,
    meta_author: str | None,
    citation_authors: list[str],
    site_keys: set[str],
) -> list[str]:
    """The authors of a page: from JSON-LD, then meta tags, then author markup.

    People come first: an organisation (the publisher credited as author, or a name of the
    site) only when no person is named anywhere. The byline the reader sees by the headline
    wins over markup that names someone else.
    """
    sources: tuple[Callable[[], list[tuple[str, bool]]], ...] = (
        lambda: _ld_authors(json_ld.resolve(json_ld.article.get("author"), MAX_AUTHORS)),
        lambda: _people(clean_author_names(meta_author)),
        lambda: _people(_citation_name(v) for v in citation_authors),
        lambda: _people(_markup_authors(tree)),
    )
    authors: list[str] = []
    organisations: list[str] = []
    for source in sources:
        for name, is_organisation in source():
            if is_organisation or is_site_name(name, site_keys):
                organisations.append(name)
            elif name:
                authors.append(name)
        if authors:
            break
    authors = authors or organisations
    shown = [name for name in headline_byline(tree) if not is_site_name(name, site_keys)]
    if shown and not _same_people(shown, authors):
        authors = shown
    return dedupe(authors, MAX_AUTHORS)


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


def _author_elements(tree: HtmlElement) -> list[HtmlElement]:
    """The elements the author selectors match, in document order."""
    candidates = _AUTHOR_CANDIDATES(tree)
    return [e for e in candidates if _AUTHOR_TEST(e)] if isinstance(candidates, list) else []


def _ld_authors(value: Any) -> list[tuple[str, bool]]:
    """Names of JSON-LD author nodes, each with whether the node is an organisation."""
    items = value if isinstance(value, list) else [value]
    names: list[tuple[str, bool]] = []
    for item in items[:MAX_AUTHORS]:
        is_organisation = isinstance(item, dict) and bool(node_types(item) & ORGANISATION_TYPES)
        names.extend((name, is_organisation) for name in clean_author_names(item))
    return names


def _same_people(shown: list[str], named: list[str]) -> bool:
    """Whether a byline names the people the markup names (or part of their names)."""
    keys = [site_key(name) for name in named]
    return any(
        site_key(name) in key or key in site_key(name) for name in shown for key in keys if key
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
        if in_comments(element):
            continue
        text = collapse(element.get("content") or element.text_content())
        names = byline_author(text) or clean_author_names(text, strict=True)
        if names:
            return names
    return _author_box_name(tree)


def find_byline(tree: HtmlElement) -> list[str]:
    """Authors from a byline line anywhere in the page ("By Jane Doe"), outside comments."""
    for text_node in _BYLINE_TEXT_XPATH(tree)[:300]:
        names = _byline_at(text_node)
        if names:
            return names
    return []


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
    if sum(1 for _ in islice(block.iter(), 13)) > 12 or in_comments(block):
        return []
    text = block.text_content()
    names = byline_author(text)
    if not names and _BYLINE_LABEL_RE.match(text):
        # "Written by" in one element and the name in the next: <span>By</span><a>Jane</a>
        following = _NEXT_TEXT_XPATH(block)
        if following and len(following[0]) <= MAX_AUTHOR_CHARS:
            names = clean_author_names(following[0], strict=True)
    return names


def _author_box_name(tree: HtmlElement) -> list[str]:
    """The name that opens an author element ("blog-author" box: name, then a bio)."""
    for element in _AUTHOR_CLASS_XPATH(tree)[:30]:
        if "authority" in element.get("class", "").lower() or in_comments(element):
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
