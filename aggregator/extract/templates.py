"""Per-site boilerplate learned from several stored pages of one source."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

from aggregator.extract.clutter import normalise

# A paragraph is boilerplate of a site when it recurs in at least this many of the site's
# stored articles (the sample is the latest TEMPLATE_SAMPLE articles of the source).
TEMPLATE_MIN_PAGES = 3
TEMPLATE_SAMPLE = 30
# Shorter normalised paragraphs say too little to be told apart ("Update", "Photos")
TEMPLATE_MIN_CHARS = 12


def paragraphs(text: str) -> list[str]:
    """The paragraphs of an article text (separated by blank lines)."""
    return [p for p in (part.strip() for part in text.split("\n\n")) if p]


def block_key(paragraph: str) -> str | None:
    """A short stable key of a paragraph's normalised text; None for a paragraph too short."""
    normalised = normalise(paragraph)
    if len(normalised) < TEMPLATE_MIN_CHARS:
        return None
    return hashlib.sha1(normalised.encode("utf-8")).hexdigest()[:16]


def learn_boilerplate(texts: Iterable[str], min_pages: int = TEMPLATE_MIN_PAGES) -> dict[str, str]:
    """Paragraphs recurring in at least min_pages of the texts, by key (with one sample each)."""
    counts: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for text in texts:
        keys = {}
        for paragraph in paragraphs(text):
            key = block_key(paragraph)
            if key is not None:
                keys[key] = paragraph
        counts.update(keys.keys())
        for key, paragraph in keys.items():
            samples.setdefault(key, paragraph)
    return {key: samples[key] for key, pages in counts.items() if pages >= min_pages}


def strip_boilerplate(text: str, boilerplate: frozenset[str] | set[str]) -> str:
    """The text without the paragraphs whose key is boilerplate of its site."""
    if not boilerplate:
        return text
    return "\n\n".join(p for p in paragraphs(text) if block_key(p) not in boilerplate)
