"""The devset texts the dedup benchmarks start from, and the edits a republisher makes to a
text: cuts, boilerplate, word changes, swapped sentences, another headline."""

from __future__ import annotations

import functools
import json
import random
import re
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aggregator.extract import extract_article
from benchmarks.common import devdata_dir, progress, shared_data_dir, unpack
from benchmarks.extract import EXTRACTION, load_extraction_pages

TEXT_CACHE = "dedup-texts.json"
TEXT_CACHE_VERSION = 1
# A dropped paragraph holds at most this share of the words: one paragraph among several
MAX_DROP_SHARE = 0.2
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=\S)")

ATTRIBUTIONS = (
    "This story originally appeared on {origin}.",
    "This article was originally published on {origin} and is republished here with permission.",
    "Republished with permission from {origin}. Read the original article.",
    "Editor's note: this post first appeared on {origin}.",
    "Source: {origin}",
)
SYNDICATOR_FOOTER = (
    "Get the {outlet} daily briefing in your inbox every morning. Sign up for our "
    "newsletter and follow {outlet} on Mastodon, Bluesky and LinkedIn."
)
HEADLINE_PATTERNS = (
    "{title} | {outlet}",
    "Republished: {title}",
    "{lead}",
    "What you need to know: {title}",
    "{lead} ({outlet})",
)


@dataclass(frozen=True)
class DevText:
    """The extracted article of one extraction-devset page."""

    name: str
    url: str
    title: str
    text: str


_progress = functools.partial(progress, "bench-dedup")


# --- devset texts ------------------------------------------------------------------------


def _extract_one(job: tuple[str, str, str]) -> DevText | None:
    """Extract one devset page (run in a worker process)."""
    name, url, path = job
    article = extract_article(Path(path).read_bytes(), url if "://" in url else None)
    if article is None or not article.text.strip():
        return None
    return DevText(name, url, article.title or "", article.text)


def load_texts(jobs: int = 2) -> list[DevText]:
    """The extracted texts of extraction-devset, cached as JSON under the devdata folder."""
    devdata = devdata_dir()
    cache = devdata / TEXT_CACHE
    if cache.is_file():
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("version") == TEXT_CACHE_VERSION:
            return [DevText(**entry) for entry in cached["texts"]]
    root = unpack(EXTRACTION, shared_data_dir(), devdata)
    pages, _missing = load_extraction_pages(root)
    _progress(f"extracting {len(pages)} devset pages (cached afterwards in {cache})")
    started = time.monotonic()
    work = [(page.name, page.url, str(page.path)) for page in pages]
    with ProcessPoolExecutor(jobs) as pool:
        texts = [text for text in pool.map(_extract_one, work, chunksize=8) if text is not None]
    _progress(f"extracted {len(texts)} texts in {time.monotonic() - started:.0f}s")
    payload = {"version": TEXT_CACHE_VERSION, "texts": [vars(text) for text in texts]}
    cache.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return texts


# --- edits: pure functions ---------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    """The non-empty paragraphs of a text (blank-line separated, as extraction writes them)."""
    return [part.strip() for part in re.split(r"\n\s*\n", text) if part.strip()]


def sentences(paragraph: str) -> list[str]:
    """The sentences of a paragraph."""
    return _SENTENCE_SPLIT.split(paragraph.strip())


def droppable(text: str, max_share: float) -> list[int]:
    """Paragraphs a republisher might cut: not the first, 15 words or more, <= max_share of it."""
    parts = paragraphs(text)
    total = sum(len(part.split()) for part in parts)
    return [i for i in range(1, len(parts)) if 15 <= len(parts[i].split()) <= max_share * total]


def drop_paragraph(text: str, rng: random.Random, max_share: float = MAX_DROP_SHARE) -> str:
    """The text without one droppable paragraph; unchanged if it has none."""
    candidates = droppable(text, max_share)
    if not candidates:
        return text
    drop = rng.choice(candidates)
    return "\n\n".join(part for i, part in enumerate(paragraphs(text)) if i != drop)


def add_boilerplate(text: str, before: Sequence[str] = (), after: Sequence[str] = ()) -> str:
    """The text with boilerplate paragraphs put before and after it."""
    return "\n\n".join([*before, text, *after])


def swap_sentences(text: str, rng: random.Random) -> str:
    """The text with two adjacent sentences of one paragraph swapped; unchanged if none has two."""
    parts = paragraphs(text)
    candidates = [i for i, part in enumerate(parts) if len(sentences(part)) >= 2]
    if not candidates:
        return text
    index = rng.choice(candidates)
    split = sentences(parts[index])
    at = rng.randrange(len(split) - 1)
    split[at], split[at + 1] = split[at + 1], split[at]
    parts[index] = " ".join(split)
    return "\n\n".join(parts)


def change_words(text: str, rng: random.Random, changes: int, inserts: int) -> str:
    """The text with some words replaced and some inserted, drawn from its own words."""
    words = [part.split() for part in paragraphs(text)]
    positions = [(p, w) for p, part in enumerate(words) for w in range(len(part))]
    if not positions:
        return text
    vocabulary = [word for part in words for word in part]
    for p, w in rng.sample(positions, min(changes, len(positions))):
        original = words[p][w]
        replacement = rng.choice(vocabulary)
        words[p][w] = replacement if replacement != original else replacement + "s"
    for _ in range(inserts):
        p, w = rng.choice(positions)
        words[p].insert(min(w, len(words[p])), rng.choice(vocabulary))
    return "\n\n".join(" ".join(part) for part in words)


def light_edit(text: str, rng: random.Random) -> str:
    """A copy editor's pass: a few words changed and inserted, two sentences swapped."""
    count = len(text.split())
    edited = change_words(text, rng, changes=2 + count // 150, inserts=1 + count // 300)
    return swap_sentences(edited, rng)


def new_headline(title: str, text: str, outlet: str, rng: random.Random) -> str:
    """Another headline for the same article."""
    lead = " ".join(text.split()[:10])
    return rng.choice(HEADLINE_PATTERNS).format(title=title or lead, lead=lead, outlet=outlet)


def syndication_lines(origin: str, outlet: str, rng: random.Random) -> tuple[list[str], list[str]]:
    """Boilerplate a republisher adds: an attribution line and its own footer."""
    attribution = rng.choice(ATTRIBUTIONS).format(origin=origin)
    footer = SYNDICATOR_FOOTER.format(outlet=outlet)
    if rng.random() < 0.5:
        return [attribution], [footer]
    return [], [attribution, footer]
