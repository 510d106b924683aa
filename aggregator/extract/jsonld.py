"""JSON-LD: the article, page and site nodes of a page's structured data, and their values."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from lxml.html import HtmlElement

from aggregator.extract.text import clean_text, collapse

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

# At most this many JSON-LD nodes are looked at, so a hostile page cannot make us walk forever.
MAX_JSON_LD_NODES = 2000


class JsonLd(NamedTuple):
    """The JSON-LD of one page: its article, web page and web site nodes ({} when it has
    none), the @types of all its nodes (lower case) and its nodes by @id."""

    article: dict[str, Any]
    page: dict[str, Any]
    site: dict[str, Any]
    types: set[str]
    by_id: dict[str, Any]

    def resolve(self, value: Any, limit: int) -> Any:
        """Replace {"@id": ...} references by the nodes they point to (the first ``limit``
        items of a list)."""
        if isinstance(value, list):
            return [self.resolve(v, limit) for v in value[:limit]]
        if isinstance(value, dict) and "name" not in value and isinstance(value.get("@id"), str):
            return self.by_id.get(value["@id"], value)
        return value


def read_json_ld(tree: HtmlElement) -> JsonLd:
    """Read the JSON-LD blocks of a page; unparseable ones are skipped."""
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
        types_of_node = node_types(node)
        types |= types_of_node
        if types_of_node & ARTICLE_TYPES:
            body = node.get("articleBody")
            best = article.get("articleBody")
            if not article or (
                isinstance(body, str) and (not isinstance(best, str) or len(body) > len(best))
            ):
                article = node
        elif types_of_node & PAGE_TYPES and not page:
            page = node
        elif types_of_node & {"website"} and not site:
            site = node
    return JsonLd(article, page, site, types, index)


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


def node_types(node: dict[str, Any]) -> set[str]:
    """The schema.org @types of a node, lower case and without their vocabulary URL."""
    value = node.get("@type")
    values = value if isinstance(value, list) else [value]
    return {v.rsplit("/", 1)[-1].lower() for v in values if isinstance(v, str)}


def text_value(value: Any) -> str | None:
    """A value as clean text (the first of a list), None for objects and empty text."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return clean_text(str(value)) or None
    return None


def object_value(value: Any) -> dict[str, Any]:
    """A value as an object (the first of a list), {} when it is none."""
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, dict) else {}


def image_value(value: Any) -> str | None:
    """The URL of an image value: a URL, an ImageObject or a list of them (the first)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return text_value(value)


def keywords_value(value: Any) -> list[str]:
    """The keywords of a value: a comma-separated string or a list of strings."""
    if isinstance(value, str):
        return [collapse(v) for v in value.split(",") if collapse(v)]
    if isinstance(value, list):
        return [collapse(v) for v in value if isinstance(v, str) and collapse(v)]
    return []
