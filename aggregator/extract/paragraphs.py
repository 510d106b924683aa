"""Paragraph filters: the clutter paragraphs dropped from the extracted text.

Bylines (whose names become the authors when the metadata has none), clutter phrases, empty
category lines, promotions, calls to action, credits, date lines, "Related stories" and the
list after it, author bios, the repeated headline, and trailing titles of other posts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Container, Iterable
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

from aggregator.extract.authors import MAX_AUTHORS, byline_author
from aggregator.extract.clutter import (
    AVATAR_PATTERN,
    SOCIAL_PATTERN,
    is_call_to_action,
    is_clutter_phrase,
    is_credit,
    is_date_line,
    is_empty_taxonomy,
    is_promo,
    is_related_heading,
    is_related_heading_shape,
    normalise,
)
from aggregator.extract.text import collapse, dedupe

# A trailing paragraph that repeats the text of a link to another page of the same site is
# the title of another post (next/previous navigation) when it is at most this long.
MAX_LINK_TITLE_CHARS = 160
# A leading paragraph this similar to the headline is the headline repeated.
TITLE_SIMILARITY = 0.9
# A "Related stories" heading after this share of the text ends the article; earlier, only
# the heading itself goes (a box of links in the middle of the body).
RELATED_CUT_SHARE = 0.7
# ... unless a paragraph of prose this long comes after it (a box of links inside the body)
MIN_PROSE_AFTER_RELATED = 200

_TERMINAL_PUNCTUATION = tuple(".!?…:;。！？\"'”’)")
_BIO_VERB_RE = r"\s+(?:is|was|has been|writes|covers|joined|lives)\b"


def drop_clutter_paragraphs(
    paragraphs: list[str], title: str, authors: list[str], site_links: Container[str]
) -> tuple[list[str], list[str]]:
    """Remove clutter paragraphs; return the kept ones and the names found in dropped bylines."""
    byline_names: list[str] = []
    kept: list[str] = []
    for paragraph in _cut_related_stories(paragraphs):
        names = byline_author(paragraph)
        if names:
            byline_names.extend(names)
            continue
        if is_clutter_phrase(paragraph) or is_empty_taxonomy(paragraph):
            continue
        if AVATAR_PATTERN.match(paragraph) or is_promo(paragraph):
            continue
        if is_call_to_action(paragraph) or is_credit(paragraph) or is_date_line(paragraph):
            continue
        if is_related_heading_shape(paragraph):
            continue
        kept.append(paragraph)

    known_authors = dedupe(authors + byline_names, MAX_AUTHORS)
    kept = [p for p in kept if not _is_author_bio(p, known_authors)]

    # the headline (and empty meta lines) repeated at the top of the text
    title_norm = normalise(title)
    while kept and title_norm and _similar(normalise(kept[0]), title_norm):
        kept.pop(0)

    # titles of other posts after the body: short, no sentence end, linked elsewhere on the site
    while kept and _is_link_title(kept[-1], site_links):
        kept.pop()
    return kept, byline_names


class SiteLinks:
    """The normalised texts of links to other pages of the same site (titles of other posts),
    worked out on the first question only: most pages never ask."""

    def __init__(self, links: list[HtmlElement], url: str | None) -> None:
        self.links = links
        self.url = url
        self.texts: set[str] | None = None

    def __contains__(self, text: object) -> bool:
        if self.texts is None:
            self.texts = _same_site_link_texts(self.links, self.url)
        return text in self.texts


def _same_site_link_texts(links: Iterable[HtmlElement], url: str | None) -> set[str]:
    """Normalised texts of links to other pages of the same site (titles of other posts)."""
    host = urlsplit(url).hostname if url else None
    path = urlsplit(url).path.rstrip("/") if url else None
    texts: set[str] = set()
    for link in links:
        href = (link.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        if "://" in href[:12] or href.startswith("//"):
            try:
                target = urlsplit(href)
            except ValueError:
                continue
            if target.hostname and host and target.hostname != host:
                continue
            target_path = target.path
        else:
            # A relative link stays on the same site: no need to resolve it fully
            target_path = href.split("?", 1)[0].split("#", 1)[0]
            if url and not target_path.startswith("/"):
                target_path = urlsplit(urljoin(url, target_path)).path
        if path is not None and target_path.rstrip("/") == path:
            continue
        text = collapse(link.text_content())
        if 0 < len(text) <= MAX_LINK_TITLE_CHARS:
            texts.add(normalise(text))
        if len(texts) > 5000:
            break
    return texts


def _cut_related_stories(paragraphs: list[str]) -> list[str]:
    """Drop a "Related stories" heading and the list after it, once the body is behind it."""
    total = sum(len(p) for p in paragraphs)
    seen = 0
    for index, paragraph in enumerate(paragraphs):
        if is_related_heading(paragraph):
            if seen >= RELATED_CUT_SHARE * total and not _prose_follows(paragraphs[index + 1 :]):
                return paragraphs[:index]
            paragraphs = paragraphs[:index] + paragraphs[index + 1 :]
            return paragraphs[:index] + _cut_related_stories(paragraphs[index:])
        seen += len(paragraph)
    return paragraphs


def _prose_follows(paragraphs: list[str]) -> bool:
    """Whether the article goes on after a box of related links: a paragraph of prose follows."""
    return any(
        len(p) >= MIN_PROSE_AFTER_RELATED and p.rstrip().endswith(_TERMINAL_PUNCTUATION)
        for p in paragraphs
    )


def _is_author_bio(paragraph: str, authors: Iterable[str]) -> bool:
    """An author-box bio: "<author> is a ... who ...", or a short one naming social profiles."""
    for name in authors:
        if re.match(re.escape(name) + _BIO_VERB_RE, paragraph):
            return True
    return (
        len(paragraph) < 600
        and SOCIAL_PATTERN.search(paragraph) is not None
        and bool(re.match(r"^[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){0,3}" + _BIO_VERB_RE, paragraph))
    )


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    if not a or not b or abs(len(a) - len(b)) > 0.2 * max(len(a), len(b)):
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= TITLE_SIMILARITY


def _is_link_title(paragraph: str, site_links: Container[str]) -> bool:
    return (
        len(paragraph) <= MAX_LINK_TITLE_CHARS
        and not paragraph.rstrip().endswith(_TERMINAL_PUNCTUATION)
        and normalise(paragraph) in site_links
    )
