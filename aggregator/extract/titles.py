"""Titles: the headline, from the metadata title and the page's <h1>, without the site's name."""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from aggregator.extract.authors import BYLINE_WORD_RE
from aggregator.extract.sitename import is_site_name, site_key, site_keys
from aggregator.extract.text import clean_text, in_comments

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

_TITLE_SEPARATOR_RE = re.compile(r"\s+[|–—\-:»·•~/]+\s+")
_WORD_RE = re.compile(r"\w+")
_TITLE_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "in", "is", "it", "of",
    "on", "or", "our", "the", "this", "to", "vs", "what", "why", "with", "you", "your",
})  # fmt: skip
_MARKDOWN_HEADING_RE = re.compile(r"^#{1,6}\s+")
_DIGIT_RE = re.compile(r"\d")


def page_headings(tree: HtmlElement) -> list[str]:
    """Texts of the page's <h1> elements outside comments, in page order."""
    texts: list[str] = []
    for element in tree.iter("h1"):
        if len(texts) >= MAX_HEADINGS:
            break
        text = clean_text(element.text_content())
        if text and not in_comments(element):
            texts.append(text)
    return texts


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
    keys = site_keys(url, site_name)
    if is_site_name(last, keys):
        return title[: title.rfind(last)].rstrip(" |–—-:»·•~/")
    if is_site_name(first, keys):
        return title[len(first) :].lstrip(" |–—-:»·•~/")
    return title


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
    keys = site_keys(url, site_name)
    best, best_share = "", 0.0
    for heading in headings:
        key = _title_key(heading)
        if key == base_key:
            return _strip_wrapping_quotes(heading)
        if site_key(heading) in keys:
            continue
        if base_key and base_key in key:
            # the metadata title plus more words: a longer headline, unless the extra is a
            # date, a count or a byline ("Dec 18 2025 Title", "Title Posted on ... by X")
            extra = key.replace(base_key, " ")
            if not _DIGIT_RE.search(extra) and not BYLINE_WORD_RE.search(extra):
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


def _strip_wrapping_quotes(text: str) -> str:
    """Drop straight quotes around a whole title (a templating slip), never typographic ones."""
    if len(text) > 2 and text[0] == text[-1] and text[0] in "\"'" and text[0] not in text[1:-1]:
        return text[1:-1].strip()
    return text
