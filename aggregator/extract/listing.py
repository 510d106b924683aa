"""Listing detection: text that is teaser cards or teasers (a home, section or tag page)."""

from __future__ import annotations

import re
from itertools import islice
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

from aggregator.extract.clutter import normalise

# Listing pages: at least this many paragraphs that are teasers ("…", "Read more").
LISTING_MIN_TEASERS = 3
# Listing pages: at least LISTING_MIN_CARDS teaser cards (a heading linking to another page
# with its teaser, up to LISTING_CARD_DEPTH levels around it) hold this share of the text
LISTING_MIN_CARDS = 4
LISTING_CARD_SHARE = 0.8
LISTING_CARD_DEPTH = 3
# ... and no paragraph is as long as an article's usually are
LISTING_MAX_TEASER_CHARS = 400
# A "card" with more text than this is no teaser: it holds the article itself (a post whose
# headline links to its own permalink, or a body with a linked heading inside it).
LISTING_MAX_CARD_CHARS = 1500

_TEASER_RE = re.compile(
    r"(?:\.\.\.|…|\[…\]|\[\.\.\.\])\s*$|^(?:read more|continue reading)\b", re.I
)


def teaser_cards(tree: HtmlElement, url: str | None) -> list[str]:
    """Normalised texts of teaser cards: the largest block around each heading that links to
    another page and holds no other such heading (the items of a listing)."""
    here = urlsplit(url).path.rstrip("/") if url else None
    linked: list[HtmlElement] = []
    for heading in tree.iter("h1", "h2", "h3", "h4"):
        # a link inside the heading, or one around it (a card whose whole title is a link)
        wrapping = [a for a in islice(heading.iterancestors(), 2) if a.tag == "a"]
        for link in list(heading.iter("a")) or wrapping:
            href = (link.get("href") or "").strip()
            if href and not href.startswith(("#", "javascript:", "mailto:")):
                try:
                    target = urlsplit(urljoin(url, href) if url else href).path.rstrip("/")
                except ValueError:
                    continue
                if target != here:
                    linked.append(heading)
                    break
    if len(linked) < LISTING_MIN_CARDS:
        return []
    headings = set(linked)
    cards = []
    for heading in linked:
        card = heading
        for _ in range(LISTING_CARD_DEPTH):
            parent = card.getparent()
            if parent is None or parent.tag in ("body", "html"):
                break
            if sum(1 for h in parent.iter("h1", "h2", "h3", "h4") if h in headings) > 1:
                break
            card = parent
        # Spaces left out: extraction may glue a card's heading to its teaser
        text = normalise(card.text_content()).replace(" ", "")
        if len(text) <= LISTING_MAX_CARD_CHARS:
            cards.append(text)
    return cards


def is_link_list(paragraphs: list[str], cards: list[str]) -> bool:
    """A home, section or tag page: most of the text sits in teaser cards."""
    if len(cards) < LISTING_MIN_CARDS or not paragraphs:
        return False
    if max(len(p) for p in paragraphs) >= LISTING_MAX_TEASER_CHARS:
        return False
    total = sum(len(p) for p in paragraphs)
    in_cards = 0
    for paragraph in paragraphs:
        key = normalise(paragraph).replace(" ", "")
        # Start or end is enough: extraction may drop a date between heading and teaser
        if any(key[:40] in card or key[-40:] in card for card in cards):
            in_cards += len(paragraph)
    return in_cards >= LISTING_CARD_SHARE * total


def is_teaser_list(paragraphs: list[str]) -> bool:
    """A list of teasers: at least LISTING_MIN_TEASERS paragraphs, half of them, end in "…"
    or say "Read more"."""
    if len(paragraphs) < LISTING_MIN_TEASERS:
        return False
    teasers = sum(1 for p in paragraphs if _TEASER_RE.search(p))
    return teasers >= LISTING_MIN_TEASERS and teasers * 2 >= len(paragraphs)
