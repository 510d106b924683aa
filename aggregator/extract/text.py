"""Text helpers the metadata readers share: clean values, nearby text nodes, comment areas."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from lxml import etree
from lxml.html import HtmlElement

_WS_RE = re.compile(r"\s+")
_ZERO_WIDTH_RE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]")

# Ancestors with such an id or class token hold comments, whose authors are not the article's
# (whole tokens only: a body class "comments-open" must not hide the article's byline).
_COMMENT_CONTAINER_RE = re.compile(
    r"^(?:comments?|commentlist|respond|discussion|replies)"
    r"(?:[-_](?:area|list|body|content|author|meta|respond|section|wrap|thread|\d+))?$",
    re.I,
)

# Text nodes near an element: the first RAW_TEXT_NODES of an axis are taken before the
# filters (libxml2 then stops early instead of filtering the whole rest of the page), and the
# first nodes that hold text are kept of those
RAW_TEXT_NODES = 300
_TEXT_FILTER = "[not(ancestor::script) and not(ancestor::style)][normalize-space()]"


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


def text_nodes(axis: str, smart_strings: bool = False) -> Callable[[Any, int], list[Any]]:
    """A function giving the first ``count`` text nodes along an axis from an element."""
    xpath = etree.XPath(
        f"{axis}::text()[position() <= {RAW_TEXT_NODES}]{_TEXT_FILTER}", smart_strings=smart_strings
    )

    def first(element: Any, count: int) -> list[Any]:
        nodes = xpath(element)
        # a reverse axis gives document order: the nearest nodes are last
        return nodes[-count:] if axis == "preceding" else nodes[:count]

    return first


def in_comments(element: HtmlElement) -> bool:
    """Whether an element sits in a comment area (its authors and dates are not the article's)."""
    for depth, ancestor in enumerate(element.iterancestors()):
        if depth > 40:
            break
        tokens = f"{ancestor.get('id', '')} {ancestor.get('class', '')}".split()
        if any(_COMMENT_CONTAINER_RE.match(token) for token in tokens):
            return True
    return False
