"""Near-duplicate detection quality and the cost of storing an article, with references."""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import pickle
import random
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import Connection, Engine, Table, delete, event, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aggregator.dedup import fingerprints
from aggregator.dedup import stories as grouping
from aggregator.dedup.fingerprints import (
    LSH_BANDS,
    LSH_ROWS,
    MIN_SHINGLE_WORDS,
    SHINGLE_WORDS,
    content_hash,
    estimated_jaccard,
    lsh_bands,
    minhash_signature,
    normalise_text,
)
from aggregator.extract import extract_article
from aggregator.ingest import fingerprint_page
from aggregator.items import Article as CleanArticle
from aggregator.items import PageItem
from aggregator.store.db import make_engine, open_store, session_scope
from aggregator.store.models import (
    Article,
    MinhashBand,
    Source,
    Story,
    StoryKey,
    TermFrequency,
)
from aggregator.store.queries import NEAR_DUPLICATE_THRESHOLD, save_article, story_lead
from aggregator.store.stories import SqlStoryStore, story_profile
from benchmarks.common import (
    BenchmarkError,
    devdata_dir,
    input_error,
    percentile,
    postgres_database,
    progress,
    shared_data_dir,
    unpack,
    verdict,
)
from benchmarks.extract import EXTRACTION, load_extraction_pages

TEXT_CACHE = "dedup-texts.json"
TEXT_CACHE_VERSION = 1

# Targets of issue 4
TARGET_PRECISION = 0.99
TARGET_RECALL = 0.97
TARGET_COST_RATIO = 1.5

SEED = 4
# A short news item; shorter devset pages are mostly listings and product snippets
MIN_WORDS = 150
# Devset texts this close to an earlier one would be unlabelled copies: left out
POOL_COPY_JACCARD = 0.3
COPIES_PER_ORIGINAL = 3
# A dropped paragraph holds at most this share of the words: one paragraph among several
MAX_DROP_SHARE = 0.2
# One site (shared footer) per this many devset texts: the same-site hard negatives
SITE_SIZE = 8
SAME_TOPIC_PAIRS = 50
SWEEP = tuple(round(0.40 + 0.05 * step, 2) for step in range(9))
REAL_SWEEP = (0.5, 0.6, 0.7)

DEFAULT_SIZES = (1_000, 10_000, 100_000)
# Articles timed per size; half of them near-duplicates of stored ones
PROBES = 200
MIN_PROBES = 50
MEMORY_PROBES = 30
WARMUP_PROBES = 20
# 100k articles span 100 days: a 3-day story window holds ~3k articles (all of a 1k store)
ARTICLES_PER_DAY = 1000
FILL_CHUNK = 2_000
# Chunks per fill transaction: random-order band keys dirty most index pages in every
# commit, so committing each chunk rewrote the whole band index (WAL, then checkpoint)
FILL_COMMIT_CHUNKS = 10
BASE_COPY_SHARE = 0.05
BASE_SOURCES = 50
# Fill stories: an original joins one of the chunk's latest stories this often
STORY_JOIN_SHARE = 0.35
STORY_JOIN_RECENT = 40
STORY_PARAMS = grouping.StoryParams()
# story_keys.key and term_frequencies.term are String(120)
MAX_TERM_CHARS = 120
# Page cache of the fill connection only (KiB): the band index is inserted in random order
FILL_CACHE_KB = 512_000

_ARTICLES = cast(Table, Article.__table__)
_BANDS = cast(Table, MinhashBand.__table__)
_SOURCES = cast(Table, Source.__table__)
_STORIES = cast(Table, Story.__table__)
_STORY_KEYS = cast(Table, StoryKey.__table__)
_TERMS = cast(Table, TermFrequency.__table__)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=\S)")

SYNDICATORS = (
    "dailybrief",
    "techwire",
    "newsnow",
    "feedhub",
    "pressroom",
    "linkpost",
    "digestly",
    "openwire",
    "syndicate",
    "relaynews",
    "reposter",
    "newsgrid",
)
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
SITE_FOOTER = (
    "This story originally appeared on {site}. {site} is an independent publication "
    "supported by its readers: subscribe to our newsletter, follow us on Mastodon and "
    "send tips and corrections to the editors at {site}."
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


@dataclass
class Item:
    """One generated article of the near-duplicate set, with its ground truth."""

    key: str
    group: str
    kind: str
    source: str
    title: str
    text: str
    published: datetime
    original: str | None = None
    words: int = 0

    @property
    def url(self) -> str:
        """The article URL: one per item."""
        return f"https://{self.source}.example/articles/{self.key}"


@dataclass(frozen=True)
class LinkScore:
    """Copies found (tp), wrong links (fp) and copies missed (fn)."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """Share of links that join an article to its own group."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Share of copies linked to their original's group."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


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


def _recipe_boilerplate(text: str, origin: str, outlet: str, rng: random.Random) -> str:
    before, after = syndication_lines(origin, outlet, rng)
    return add_boilerplate(text, before, after)


def _recipe_combined(text: str, origin: str, outlet: str, rng: random.Random) -> str:
    edited = light_edit(drop_paragraph(text, rng), rng)
    return _recipe_boilerplate(edited, origin, outlet, rng)


Recipe = Callable[[str, str, str, random.Random], str]
RECIPES: dict[str, Recipe] = {
    "headline": lambda text, _origin, _outlet, _rng: text,
    "boilerplate": _recipe_boilerplate,
    "paragraph": lambda text, _origin, _outlet, rng: drop_paragraph(text, rng),
    "edits": lambda text, _origin, _outlet, rng: light_edit(text, rng),
    "combined": _recipe_combined,
}
# A cut that removes most of a text makes an excerpt, not a copy: such texts get no cut
NEEDS_DROPPABLE = frozenset({"paragraph", "combined"})


# --- scoring: pure functions -------------------------------------------------------------


def score_links(
    truth: Mapping[str, str], roots: Mapping[str, str], originals: Mapping[str, str]
) -> LinkScore:
    """Score predicted roots: truth maps item -> group, originals maps copy -> its original."""
    found = sum(
        1
        for copy, original in originals.items()
        if roots[copy] == roots[original] and truth[roots[copy]] == truth[copy]
    )
    wrong = sum(1 for key, root in roots.items() if root != key and truth[root] != truth[key])
    return LinkScore(tp=found, fp=wrong, fn=len(originals) - found)


def exact_hash_roots(order: Sequence[str], hashes: Mapping[str, str]) -> dict[str, str]:
    """Roots as plain exact-hash dedup finds them: the first stored item with the same hash."""
    first: dict[str, str] = {}
    return {key: first.setdefault(hashes[key], key) for key in order}


def _word_set(text: str) -> frozenset[str]:
    """Content words of a text (long words: a crude stopword filter that works in any language)."""
    return frozenset(word for word in normalise_text(text).split() if len(word) >= 5)


def _jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    union = len(first | second)
    return len(first & second) / union if union else 0.0


def _signature_matrix(signatures: Sequence[bytes]) -> np.ndarray:
    return np.stack([np.frombuffer(sig, dtype="<u4") for sig in signatures])


def _similar_earlier(matrix: np.ndarray, threshold: float) -> set[int]:
    """Rows whose estimated Jaccard with an earlier row reaches threshold."""
    drop = set()
    for row in range(1, len(matrix)):
        agree = (matrix[:row] == matrix[row]).mean(axis=1)
        if agree.size and float(agree.max()) >= threshold:
            drop.add(row)
    return drop


# --- the near-duplicate set --------------------------------------------------------------


@dataclass
class NearSet:
    """The generated articles in store order, with what the set is made of."""

    items: list[Item]
    pool: int
    dropped_short: int
    dropped_similar: int
    same_site_pairs: list[tuple[str, str]] = field(default_factory=list)
    same_topic_pairs: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def copies(self) -> dict[str, str]:
        """copy key -> original key."""
        return {item.key: item.original for item in self.items if item.original is not None}

    @property
    def truth(self) -> dict[str, str]:
        """item key -> true group."""
        return {item.key: item.group for item in self.items}


def build_near_set(texts: Sequence[DevText], seed: int = SEED, copies: int = 3) -> NearSet:
    """Originals with edited copies, and negatives sharing site boilerplate or topic."""
    rng = random.Random(seed)
    long_enough = [t for t in texts if len(t.text.split()) >= MIN_WORDS]
    signatures = [minhash_signature(t.text) for t in long_enough]
    similar = _similar_earlier(_signature_matrix([s for s in signatures if s]), POOL_COPY_JACCARD)
    pool = [t for i, t in enumerate(long_enough) if i not in similar]
    rng.shuffle(pool)
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    items: list[Item] = []
    sites: dict[str, list[str]] = defaultdict(list)
    originals = set(range(0, len(pool), 2))
    for index, dev in enumerate(pool):
        site = f"site{index // SITE_SIZE:03d}"
        key = f"t{index:04d}"
        body = dev.text
        published = start + timedelta(minutes=index)
        kind = "original" if index in originals else "negative"
        stored = add_boilerplate(body, after=[SITE_FOOTER.format(site=site)])
        items.append(
            Item(
                key=key,
                group=key,
                kind=kind,
                source=site,
                title=dev.title,
                text=stored,
                published=published,
                words=len(body.split()),
            )
        )
        sites[site].append(key)
        if kind != "original":
            continue
        can_drop = bool(droppable(body, MAX_DROP_SHARE))
        allowed = [n for n in RECIPES if can_drop or n not in NEEDS_DROPPABLE]
        for number, recipe in enumerate(rng.sample(allowed, min(copies, len(allowed)))):
            outlet = rng.choice(SYNDICATORS)
            items.append(
                Item(
                    key=f"{key}c{number}",
                    group=key,
                    kind=recipe,
                    source=outlet,
                    title=new_headline(dev.title, body, outlet, rng),
                    # A mirror takes the whole text; editors take the body, not the site footer
                    text=stored
                    if recipe == "headline"
                    else RECIPES[recipe](body, site, outlet, rng),
                    published=published + timedelta(hours=rng.randint(1, 72)),
                    original=key,
                    words=len(body.split()),
                )
            )
    same_site = [
        (first, second)
        for keys in sites.values()
        for i, first in enumerate(keys)
        for second in keys[i + 1 :]
    ]
    word_sets = [_word_set(dev.text) for dev in pool]
    overlaps = [
        (_jaccard(word_sets[i], word_sets[j]), i, j)
        for i in range(len(pool))
        for j in range(i + 1, len(pool))
    ]
    top = sorted(overlaps, reverse=True)[:SAME_TOPIC_PAIRS]
    same_topic = [(f"t{i:04d}", f"t{j:04d}", overlap) for overlap, i, j in top]
    # Shuffled store order: copies often arrive before their original
    rng.shuffle(items)
    return NearSet(
        items=items,
        pool=len(pool),
        dropped_short=len(texts) - len(long_enough),
        dropped_similar=len(similar),
        same_site_pairs=same_site,
        same_topic_pairs=same_topic,
    )


def _page(item: Item) -> PageItem:
    """A fingerprinted page for an item, as the pipelines hand it to the store."""
    page = PageItem(url=item.url, source=item.source, body=b"")
    page.article = CleanArticle(title=item.title, text=item.text, published=item.published)
    return fingerprint_page(page)


def store_near_set(
    engine: Engine, pages: Sequence[PageItem], threshold: float
) -> tuple[dict[str, str], list[float]]:
    """Store every page through save_article; return url -> root url, and ms per save."""
    times = []
    for page in pages:
        started = time.perf_counter()
        with session_scope(engine) as session:
            save_article(session, page, keep_raw=False, threshold=threshold)
        times.append((time.perf_counter() - started) * 1000)
    with engine.connect() as conn:
        rows = conn.execute(select(Article.id, Article.canonical_url, Article.duplicate_of)).all()
    url_of = {row.id: row.canonical_url for row in rows}
    roots = {row.canonical_url: url_of[row.duplicate_of or row.id] for row in rows}
    return roots, times


def _roots_by_key(near: NearSet, pages: Sequence[PageItem], url_roots: Mapping[str, str]):
    key_of = {page.canonical_url: item.key for item, page in zip(near.items, pages, strict=True)}
    return {key_of[url]: key_of[root] for url, root in url_roots.items() if url in key_of}


def _recall_by(near: NearSet, roots: Mapping[str, str], label: Callable[[Item], str]):
    truth = near.truth
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for item in near.items:
        if item.original is None:
            continue
        name = label(item)
        total[name] += 1
        ok = roots[item.key] == roots[item.original] and truth[roots[item.key]] == item.group
        found[name] += ok
    return {name: (found[name], total[name]) for name in total}


def _length_bucket(item: Item) -> str:
    if item.words < 300:
        return "150-299 words"
    return "300-999 words" if item.words < 1000 else ">=1000 words"


def _wrong_links(near: NearSet, roots: Mapping[str, str], signatures: Mapping[str, bytes | None]):
    by_key = {item.key: item for item in near.items}
    wrong = []
    for key, root in roots.items():
        if root != key and by_key[root].group != by_key[key].group:
            first, second = signatures[key], signatures[root]
            estimate = estimated_jaccard(first, second) if first and second else None
            wrong.append(
                {
                    "item": key,
                    "kind": by_key[key].kind,
                    "linked_to": root,
                    "linked_kind": by_key[root].kind,
                    "same_source": by_key[key].source == by_key[root].source,
                    "estimated_jaccard": estimate,
                }
            )
    return wrong


def _shares_band(first: bytes | None, second: bytes | None) -> bool:
    if first is None or second is None:
        return False
    return bool(set(lsh_bands(first)) & set(lsh_bands(second)))


def threshold_sweep(near: NearSet, signatures: Mapping[str, bytes | None]) -> dict[str, Any]:
    """Estimated Jaccard of copy pairs and hard-negative pairs, and LSH candidate recall."""
    copy_pairs = []
    for copy, original in near.copies.items():
        a, b = signatures[copy], signatures[original]
        similarity = estimated_jaccard(a, b) if a and b else 0.0
        copy_pairs.append((similarity, _shares_band(a, b)))
    band_members: dict[int, list[str]] = defaultdict(list)
    for key, signature in signatures.items():
        if signature is not None:
            for band in lsh_bands(signature):
                band_members[band].append(key)
    truth = near.truth
    candidate_negatives = {
        (a, b) if a < b else (b, a)
        for members in band_members.values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
        if truth[a] != truth[b]
    }

    def estimate(pair: tuple[str, str]) -> float:
        a, b = signatures[pair[0]], signatures[pair[1]]
        return estimated_jaccard(a, b) if a and b else 0.0

    negatives = [estimate(pair) for pair in candidate_negatives]
    same_site = [estimate(pair) for pair in near.same_site_pairs]
    same_topic = [estimate((a, b)) for a, b, _overlap in near.same_topic_pairs]
    rows = []
    for threshold in SWEEP:
        found = sum(1 for est, candidate in copy_pairs if candidate and est >= threshold)
        rows.append(
            {
                "threshold": threshold,
                "copy_pair_recall": found / len(copy_pairs),
                "negative_pairs_over": sum(1 for est in negatives if est >= threshold),
                "lsh_probability": 1 - (1 - threshold**LSH_ROWS) ** LSH_BANDS,
            }
        )
    estimates = sorted(est for est, _candidate in copy_pairs)
    return {
        "copy_pairs": len(copy_pairs),
        "lsh_candidate_recall": sum(1 for _e, cand in copy_pairs if cand) / len(copy_pairs),
        "copy_jaccard_min": estimates[0],
        "copy_jaccard_p1": percentile(estimates, 0.01),
        "copy_jaccard_p5": percentile(estimates, 0.05),
        "candidate_negative_pairs": len(negatives),
        "negative_jaccard_max": max(negatives, default=0.0),
        "same_site_pairs": len(same_site),
        "same_site_jaccard_max": max(same_site, default=0.0),
        "same_topic_pairs": len(same_topic),
        "same_topic_jaccard_max": max(same_topic, default=0.0),
        "same_topic_word_overlap_max": max(
            (overlap for _a, _b, overlap in near.same_topic_pairs), default=0.0
        ),
        "rows": rows,
    }


def _score_dict(score: LinkScore) -> dict[str, Any]:
    return {
        "tp": score.tp,
        "fp": score.fp,
        "fn": score.fn,
        "precision": score.precision,
        "recall": score.recall,
        "pass": score.precision >= TARGET_PRECISION and score.recall >= TARGET_RECALL,
    }


def run_near_backend(
    near: NearSet, pages: Sequence[PageItem], url: str, threshold: float
) -> dict[str, Any]:
    """Store the set in a fresh database and score what save_article linked."""
    engine = open_store(url)
    try:
        url_roots, times = store_near_set(engine, pages, threshold)
    finally:
        engine.dispose()
    roots = _roots_by_key(near, pages, url_roots)
    signatures = {item.key: page.minhash for item, page in zip(near.items, pages, strict=True)}
    wrong = _wrong_links(near, roots, signatures)
    return {
        "threshold": threshold,
        **_score_dict(score_links(near.truth, roots, near.copies)),
        "recall_by_edit": _recall_by(near, roots, lambda item: item.kind),
        "recall_by_length": _recall_by(near, roots, _length_bucket),
        "wrong_links": wrong[:10],
        "save_ms_median": statistics.median(times),
        "save_ms_p95": percentile(times, 0.95),
    }


def near_benchmark(
    texts: Sequence[DevText],
    workdir: Path,
    postgres: bool,
    copies: int,
    seed: int,
) -> dict[str, Any]:
    """Precision and recall of save_article's copy links, the sweep and the exact-hash reference."""
    near = build_near_set(texts, seed, copies)
    pages = [_page(item) for item in near.items]
    signatures = {item.key: page.minhash for item, page in zip(near.items, pages, strict=True)}
    hashes = {
        item.key: page.content_hash or "" for item, page in zip(near.items, pages, strict=True)
    }
    reference = exact_hash_roots([item.key for item in near.items], hashes)
    kinds = Counter(item.kind for item in near.items)
    result: dict[str, Any] = {
        "seed": seed,
        "devset_texts": len(texts),
        "pool": near.pool,
        "dropped_short": near.dropped_short,
        "dropped_similar": near.dropped_similar,
        "kinds": dict(kinds),
        "items": len(near.items),
        "default_threshold": NEAR_DUPLICATE_THRESHOLD,
        "reference": {
            **_score_dict(score_links(near.truth, reference, near.copies)),
            "recall_by_edit": _recall_by(near, reference, lambda item: item.kind),
        },
        "sweep": threshold_sweep(near, signatures),
        "backends": {},
        "real_sweep": {},
    }
    _progress(f"near-duplicates: storing {len(pages)} articles in SQLite")
    result["backends"]["sqlite"] = run_near_backend(
        near, pages, f"sqlite:///{workdir / 'near.db'}", NEAR_DUPLICATE_THRESHOLD
    )
    if postgres:
        _progress(f"near-duplicates: storing {len(pages)} articles in PostgreSQL")
        with postgres_database("bench_dedup") as pg_url:
            result["backends"]["postgresql"] = run_near_backend(
                near, pages, pg_url, NEAR_DUPLICATE_THRESHOLD
            )
    for threshold in REAL_SWEEP:
        if threshold == NEAR_DUPLICATE_THRESHOLD:
            result["real_sweep"][threshold] = result["backends"]["sqlite"]
            continue
        _progress(f"near-duplicates: threshold {threshold} on a fresh SQLite store")
        path = workdir / f"near-{threshold}.db"
        result["real_sweep"][threshold] = run_near_backend(
            near, pages, f"sqlite:///{path}", threshold
        )
    result["recommended_threshold"] = _recommend(result)
    return result


def _recommend(result: dict[str, Any]) -> float | None:
    """The middle of the thresholds that meet both targets in the estimate and in real runs."""
    estimated_ok = {
        row["threshold"]
        for row in result["sweep"]["rows"]
        if row["negative_pairs_over"] == 0 and row["copy_pair_recall"] >= TARGET_RECALL
    }
    real_fail = {t for t, run in result["real_sweep"].items() if not run["pass"]}
    safe = sorted(t for t in estimated_ok if t not in real_fail)
    return safe[len(safe) // 2] if safe else None


# --- cost --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """Sentences and words to generate varied article texts from."""

    sentences: tuple[str, ...]
    words: tuple[str, ...]


def make_corpus(texts: Sequence[DevText]) -> Corpus:
    """Sentences of five words or more, and every word, of the devset texts."""
    found = [
        sentence
        for dev in texts
        for part in paragraphs(dev.text)
        for sentence in sentences(part)
        if len(sentence.split()) >= 5
    ]
    words = [word for dev in texts for word in dev.text.split()]
    return Corpus(tuple(found), tuple(words))


def generate_text(corpus: Corpus, rng: random.Random, min_chars: int = 2000, max_chars: int = 5000):
    """An article text of min_chars-max_chars: devset sentences, each with one word changed."""
    target = rng.randint(min_chars, max_chars)
    parts: list[str] = []
    size = 0
    while size < target:
        paragraph = []
        for _ in range(rng.randint(2, 5)):
            words = rng.choice(corpus.sentences).split()
            words[rng.randrange(len(words))] = rng.choice(corpus.words)
            paragraph.append(" ".join(words))
        parts.append(" ".join(paragraph))
        size += len(parts[-1]) + 2
    return "\n\n".join(parts)


def _published(index: int, now: datetime) -> datetime:
    """Row index (0 = newest) -> publication time at ARTICLES_PER_DAY."""
    return now - timedelta(hours=1) - timedelta(days=index / ARTICLES_PER_DAY)


class _FastFingerprints:
    """content_hash and minhash_signature of generated texts, from cached word normalisations.

    Generated texts reuse a fixed vocabulary, so normalising each word once and joining is
    several times faster than normalising each text; verify() checks it against the real thing.
    """

    def __init__(self) -> None:
        self.normal: dict[str, str] = {}

    def normalised(self, body: str) -> list[str]:
        """The words of normalise_text(body)."""
        normal = self.normal
        out: list[str] = []
        for word in body.split():
            folded = normal.get(word)
            if folded is None:
                folded = normal[word] = normalise_text(word)
            out.extend(folded.split())
        return out

    def __call__(self, body: str) -> tuple[str, bytes | None]:
        """content_hash and minhash_signature of body."""
        words = self.normalised(body)
        digest = hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()
        if len(words) < MIN_SHINGLE_WORDS:
            return digest, None
        minhash = fingerprints._TEMPLATE_MINHASH.copy()
        minhash.update_batch(
            {
                " ".join(words[i : i + SHINGLE_WORDS]).encode("utf-8")
                for i in range(len(words) - SHINGLE_WORDS + 1)
            }
        )
        return digest, minhash.hashvalues.astype("<u4").tobytes()

    def verify(self, body: str) -> None:
        """Fail loudly if the fast path disagrees with aggregator.dedup.fingerprints."""
        if self(body) != (content_hash(body), minhash_signature(body)):
            raise BenchmarkError("fast fingerprints differ from aggregator.dedup.fingerprints")


_FAST = _FastFingerprints()


@dataclass
class FillChunk:
    """Rows of one fill chunk for every table save_article reads: articles to term counts."""

    articles: list[dict[str, Any]]
    bands: list[dict[str, Any]]
    stories: list[dict[str, Any]]
    story_keys: list[dict[str, Any]]
    # Document frequency of each term among the chunk's originals
    terms: Counter[str]
    originals: int


def _lead_terms(title: str, body: str) -> dict[str, float]:
    """The term weights story grouping computes for an article (headline and lead)."""
    return grouping.article_terms(title, story_lead(Article(text=body)), STORY_PARAMS)


def _story_rows(story: grouping.StoryState) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The stories row and story_keys rows SqlStoryStore.save_story writes for a story."""
    story_id = int(story.id)
    row = {
        "id": story_id,
        "headline": story.headline,
        "first_seen": story.first_seen,
        "last_seen": story.last_seen,
        "article_count": story.article_count,
        "source_count": story.source_count,
        "sources": list(story.sources),
        "profile": story_profile(story),
    }
    keys = [
        {"key": key, "story_id": story_id, "last_seen": story.last_seen}
        for key in dict.fromkeys(story.keys)
    ]
    return row, keys


def _group_chunk(rows: list[dict[str, Any]], rng: random.Random) -> FillChunk:
    """Stories for the originals of a chunk, built as aggregator.dedup.stories builds them.

    Document frequencies are those of the chunk (two days of news); an original joins a
    recent story of the chunk with probability STORY_JOIN_SHARE, else starts its own.
    """
    originals = [row for row in rows if row["duplicate_of"] is None]
    terms = {row["id"]: _lead_terms(row["title"], row["text"]) for row in originals}
    frequencies: Counter[str] = Counter()
    for weights in terms.values():
        frequencies.update(term for term in weights if len(term) <= MAX_TERM_CHARS)
    documents = len(originals)
    stories: dict[str, grouping.StoryState] = {}
    story_of: dict[int, int] = {}
    for row in originals:
        vector = grouping._weighted(terms[row["id"]], frequencies, documents)
        source = f"base{row['source_id']}"
        article = grouping.StoryArticle(
            str(row["id"]), source, row["title"], row["text"], row["published"]
        )
        recent = list(stories)[-STORY_JOIN_RECENT:]
        if recent and rng.random() < STORY_JOIN_SHARE:
            joined = stories[rng.choice(recent)]
            story = grouping._joined(joined, article, vector, STORY_PARAMS)
        else:
            top = grouping._top(vector, STORY_PARAMS.article_keys)
            story = grouping.StoryState(
                id=article.id,
                headline=article.title,
                first_seen=article.published,
                last_seen=article.published,
                article_count=1,
                sources=(source,),
                centroid=vector,
                titles=(article.title,),
                keys=tuple(top[: STORY_PARAMS.story_keys]),
                members=(grouping._member(article, vector, STORY_PARAMS),),
            )
        stories[story.id] = story
        story_of[row["id"]] = int(story.id)
    for row in rows:
        row["story_id"] = story_of[row["duplicate_of"] or row["id"]]
    story_rows, key_rows = [], []
    for story in stories.values():
        story_row, keys = _story_rows(story)
        story_rows.append(story_row)
        key_rows += [key for key in keys if len(key["key"]) <= MAX_TERM_CHARS]
    bands = [{"band": band, "article_id": row["id"]} for row in rows for band in row.pop("_bands")]
    # Sorted, so each chunk walks the (band, article_id) and (key, story_id) indexes in order
    bands.sort(key=lambda band: band["band"])
    key_rows.sort(key=lambda key: (key["key"], key["story_id"]))
    return FillChunk(rows, bands, story_rows, key_rows, frequencies, documents)


def _fill_chunk(job: tuple[Corpus, int, int, int, datetime]) -> FillChunk:
    """Rows for ids first..last (worker process): text, fingerprints, band keys, stories."""
    corpus, first, last, seed, now = job
    rng = random.Random(seed * 1_000_003 + first)
    rows: list[dict[str, Any]] = []
    for article_id in range(first, last + 1):
        duplicate_of = None
        if rows and rng.random() < BASE_COPY_SHARE:
            source_row = rng.choice(rows)
            body = light_edit(source_row["text"], rng)
            duplicate_of = source_row["duplicate_of"] or source_row["id"]
        else:
            body = generate_text(corpus, rng)
        if article_id == first:
            _FAST.verify(body)
        digest, signature = _FAST(body)
        published = _published(article_id - 1, now)
        url = f"https://base{article_id % BASE_SOURCES}.example/p/{article_id}"
        rows.append(
            {
                "id": article_id,
                "source_id": 1 + article_id % BASE_SOURCES,
                "url": url,
                "canonical_url": url,
                "title": " ".join(body.split()[:9]),
                "text": body,
                "authors": ["Alex Writer"],
                "tags": ["tech"],
                "published": published,
                "modified": None,
                "language": "de",
                "image_url": None,
                "site_name": None,
                "description": None,
                "content_hash": digest,
                "duplicate_of": duplicate_of,
                "story_id": None,
                "raw_html": None,
                "minhash": signature,
                "http_headers": {"content-type": "text/html; charset=utf-8"},
                "fetched_at": published,
                "created_at": published,
                "updated_at": published,
                "_bands": list(dict.fromkeys(lsh_bands(signature))) if signature else [],
            }
        )
    return _group_chunk(rows, rng)


def _create_sources(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(_SOURCES),
            [
                {"id": n, "name": f"base{n}", "url": f"https://base{n}.example/"}
                for n in range(1, BASE_SOURCES + 1)
            ],
        )
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the sequence behind: ensure_source("probe") would collide
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('sources', 'id'), :top)"),
                {"top": BASE_SOURCES},
            )


def _fill_connection_settings(dbapi_connection: Any, _record: Any) -> None:
    """Bulk-load settings of the fill engine only; the timed engine keeps the store's own."""
    cursor = dbapi_connection.cursor()
    if isinstance(dbapi_connection, sqlite3.Connection):
        # The default 2 MB cache thrashes on the random-order band index past ~10k articles
        cursor.execute(f"PRAGMA cache_size=-{FILL_CACHE_KB}")
        cursor.execute("PRAGMA synchronous=OFF")
    else:
        cursor.execute("SET synchronous_commit TO off")
    cursor.close()


def _write_term_totals(conn: Connection, totals: Counter[str], documents: int) -> None:
    """Set term_frequencies to the document counts of every filled original."""
    rows = [{"term": term, "documents": count} for term, count in sorted(totals.items())]
    rows.append({"term": "", "documents": documents})
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(rows), 5_000):
        statement = dialect_insert(_TERMS)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[TermFrequency.term],
                set_={"documents": statement.excluded.documents},
            ),
            rows[start : start + 5_000],
        )


@dataclass
class FillState:
    """What the fill has stored so far, across sizes."""

    filled: int = 0
    originals: int = 0
    terms: Counter[str] = field(default_factory=Counter)


def _generated_chunks(
    jobs: int, chunks: Sequence[tuple[Corpus, int, int, int, datetime]], cache: Path
) -> Iterator[FillChunk]:
    """The chunks' rows: generated by worker processes once, then read from cache."""
    paths = [cache / f"fill-{first}-{last}.pickle" for _c, first, last, _s, _n in chunks]
    if all(path.is_file() for path in paths):
        # The second backend stores exactly the rows the first one stored
        for path in paths:
            yield pickle.loads(path.read_bytes())
        return
    with ProcessPoolExecutor(jobs) as pool:
        for path, chunk in zip(paths, pool.map(_fill_chunk, chunks), strict=True):
            path.write_bytes(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
            yield chunk


def fill_store(
    url: str,
    corpus: Corpus,
    state: FillState,
    size: int,
    seed: int,
    now: datetime,
    jobs: int,
    cache: Path,
) -> float:
    """Bulk-insert rows filled+1..size of every table save_article reads; return seconds."""
    started = time.monotonic()
    chunks = [
        (corpus, first, min(first + FILL_CHUNK - 1, size), seed, now)
        for first in range(state.filled + 1, size + 1, FILL_CHUNK)
    ]
    inserting = 0.0
    # Its own engine, so the bulk-load pragmas never reach the connections that are timed
    engine = make_engine(url)
    event.listen(engine, "connect", _fill_connection_settings)
    try:
        with engine.connect() as conn:
            for number, chunk in enumerate(_generated_chunks(jobs, chunks, cache), start=1):
                insert_started = time.monotonic()
                # The connection begins a transaction on first use; committed every few chunks
                for table, rows in (
                    (_ARTICLES, chunk.articles),
                    (_BANDS, chunk.bands),
                    (_STORIES, chunk.stories),
                    (_STORY_KEYS, chunk.story_keys),
                ):
                    if rows:
                        conn.execute(insert(table), rows)
                if number % FILL_COMMIT_CHUNKS == 0:
                    conn.commit()
                state.terms.update(chunk.terms)
                state.originals += chunk.originals
                inserting += time.monotonic() - insert_started
                done = chunk.articles[-1]["id"]
                if done % 20_000 == 0 or done == size:
                    _progress(
                        f"  filled {done} rows, {time.monotonic() - started:.0f}s "
                        f"({inserting:.0f}s inserting)"
                    )
            _write_term_totals(conn, state.terms, state.originals)
            if engine.dialect.name == "postgresql":
                # Explicit ids leave the sequence behind
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence('articles', 'id'), :top)"),
                    {"top": size},
                )
            conn.commit()
            if engine.dialect.name == "sqlite":
                # On the DBAPI connection: SQLAlchemy would wrap it in BEGIN IMMEDIATE
                raw = conn.connection.dbapi_connection
                assert raw is not None
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    state.filled = size
    if url.startswith("postgresql"):
        # Autovacuum would have analysed the tables by now
        with make_engine(url).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return time.monotonic() - started


def make_probes(
    corpus: Corpus, engine: Engine, seed: int, now: datetime, count: int, near: int
) -> list[PageItem]:
    """New articles to store: fresh texts, and near-duplicates of rows 1..1000 (in every size)."""
    rng = random.Random(seed + 7)
    with engine.connect() as conn:
        stored = conn.execute(
            select(Article.id, Article.text).where(
                Article.id <= 1000, Article.duplicate_of.is_(None)
            )
        ).all()
    copies = set(rng.sample(range(count), near))
    pages = []
    for number in range(count):
        if number in copies:
            _id, body = rng.choice(stored)
            before, after = syndication_lines("base.example", "probe", rng)
            body = add_boilerplate(light_edit(body, rng), before, after)
        else:
            body = generate_text(corpus, rng)
        page = PageItem(
            url=f"https://probe{number % 10}.example/a/{number}", source="probe", body=b""
        )
        page.article = CleanArticle(title=" ".join(body.split()[:9]), text=body, published=now)
        pages.append(fingerprint_page(page))
    return pages


def _plain_insert(session: Session, page: PageItem, suffix: str) -> Article:
    """The reference: the same article row inserted with no dedup lookups and no band rows."""
    assert page.article is not None and page.canonical_url and page.content_hash
    clean = page.article
    row = Article(
        source_id=1,
        url=page.url + suffix,
        canonical_url=page.canonical_url + suffix,
        title=clean.title,
        text=clean.text,
        authors=list(clean.authors),
        tags=list(clean.tags),
        published=clean.published,
        content_hash=page.content_hash,
        minhash=page.minhash,
        http_headers={},
        fetched_at=page.fetched_at,
    )
    session.add(row)
    return row


@dataclass
class StorySnapshot:
    """The stories a probe can join (seen within the window), to put back after timing."""

    stories: dict[int, dict[str, Any]]
    keys: dict[int, list[dict[str, Any]]]

    @classmethod
    def take(cls, engine: Engine, since: datetime) -> StorySnapshot:
        """Read the stories seen since a time and their keys."""
        with engine.connect() as conn:
            stories = {
                row["id"]: dict(row)
                for row in conn.execute(select(_STORIES).where(Story.last_seen >= since)).mappings()
            }
            keys: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for row in conn.execute(
                select(_STORY_KEYS).where(StoryKey.last_seen >= since)
            ).mappings():
                keys[row["story_id"]].append(dict(row))
        return cls(stories, keys)


def _restore(
    engine: Engine,
    watermark: int,
    snapshot: StorySnapshot,
    added_terms: Sequence[Collection[str]],
) -> None:
    """Undo the probes: their rows, the stories they joined and their term counts."""
    with session_scope(engine) as session:
        touched = set(
            session.scalars(select(Article.story_id).where(Article.id > watermark).distinct())
        )
        session.execute(delete(MinhashBand).where(MinhashBand.article_id > watermark))
        session.execute(delete(Article).where(Article.id > watermark))
        session.execute(delete(StoryKey).where(StoryKey.story_id > watermark))
        session.execute(delete(Story).where(Story.id > watermark))
        joined = sorted(story for story in touched if story in snapshot.stories)
        if joined:
            session.execute(delete(StoryKey).where(StoryKey.story_id.in_(joined)))
            session.execute(delete(Story).where(Story.id.in_(joined)))
            session.execute(insert(_STORIES), [snapshot.stories[story] for story in joined])
            keys = [key for story in joined for key in snapshot.keys[story]]
            if keys:
                session.execute(insert(_STORY_KEYS), keys)
        store = SqlStoryStore(session)
        for terms in added_terms:
            store.add_document_terms(terms, step=-1)


@dataclass
class StatementStats:
    """Time spent per SQL statement text."""

    calls: Counter[str] = field(default_factory=Counter)
    ms: Counter[str] = field(default_factory=Counter)
    example: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def statement_timing(engine: Engine) -> Iterator[StatementStats]:
    """Record the time of every statement run on engine while the block runs."""
    stats = StatementStats()

    def before(conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        elapsed = (time.perf_counter() - conn.info["bench_started"].pop()) * 1000
        shape = re.sub(r"\s+", " ", statement).strip()
        shape = re.sub(r"(\?|%\(\w+\)s)(, (\?|%\(\w+\)s))+", "…", shape)
        stats.calls[shape] += 1
        stats.ms[shape] += elapsed
        stats.example.setdefault(shape, (statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield stats
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The query plan of one statement, as the database gives it."""
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    if isinstance(parameters, list):
        # An executemany: the plan of its first row stands for all
        parameters = parameters[0] if parameters else None
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            conn.rollback()
    except SQLAlchemyError as exc:
        return [f"no plan: {type(exc).__name__}: {str(exc).splitlines()[0]}"]
    return [" | ".join(str(value) for value in row) for row in rows]


def _rss_mb() -> float:
    """Current resident set size of this process."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _store_terms(page: PageItem) -> list[str]:
    """The terms assign_story counted for a stored original page."""
    assert page.article is not None
    return list(_lead_terms(page.article.title, page.article.text))


def measure_size(
    engine: Engine, probes: Sequence[PageItem], watermark: int, now: datetime, explain_top: bool
) -> dict[str, Any]:
    """Time save_article and the plain insert for each probe; memory and slowest statements."""
    since = now - STORY_PARAMS.window - timedelta(days=1)
    snapshot = StorySnapshot.take(engine, since)
    # A crawler that has been running has warm caches: a few saves first, undone, not timed
    warm: list[list[str]] = []
    for page in probes[-WARMUP_PROBES:]:
        with session_scope(engine) as session:
            if save_article(session, page, keep_raw=False).status == "inserted":
                warm.append(_store_terms(page))
    _restore(engine, watermark, snapshot, warm)
    save_ms, plain_ms, statuses = [], [], Counter[str]()
    added: list[list[str]] = []
    rss_before = _rss_mb()
    for page in probes:
        started = time.perf_counter()
        with session_scope(engine) as session:
            plain = _plain_insert(session, page, "#plain")
        plain_ms.append((time.perf_counter() - started) * 1000)
        with engine.begin() as conn:
            conn.execute(delete(Article).where(Article.id == plain.id))
        started = time.perf_counter()
        with session_scope(engine) as session:
            status = save_article(session, page, keep_raw=False).status
        save_ms.append((time.perf_counter() - started) * 1000)
        statuses[status] += 1
        if status == "inserted":
            added.append(_store_terms(page))
    _restore(engine, watermark, snapshot, added)
    peaks = []
    added = []
    with statement_timing(engine) as stats:
        for page in probes[:MEMORY_PROBES]:
            tracemalloc.start()
            with session_scope(engine) as session:
                status = save_article(session, page, keep_raw=False).status
            peaks.append(tracemalloc.get_traced_memory()[1] / 1024)
            tracemalloc.stop()
            if status == "inserted":
                added.append(_store_terms(page))
    _restore(engine, watermark, snapshot, added)
    slowest = [
        {
            "statement": shape[:300],
            "calls": stats.calls[shape],
            "ms_per_call": stats.ms[shape] / stats.calls[shape],
        }
        for shape, _ms in stats.ms.most_common(5)
    ]
    if explain_top:
        for entry, (shape, _ms) in zip(slowest, stats.ms.most_common(3), strict=False):
            entry["plan"] = explain(engine, *stats.example[shape])
    return {
        "save_ms_median": statistics.median(save_ms),
        "save_ms_p95": percentile(save_ms, 0.95),
        "plain_ms_median": statistics.median(plain_ms),
        "plain_ms_p95": percentile(plain_ms, 0.95),
        "statuses": dict(statuses),
        "window_stories": len(snapshot.stories),
        "tracemalloc_peak_kb_max": max(peaks),
        "tracemalloc_peak_kb_median": statistics.median(peaks),
        "rss_mb_before": rss_before,
        "rss_mb_after": _rss_mb(),
        "sql_ms_per_save": sum(stats.ms.values()) / len(peaks),
        "slowest_statements": slowest,
    }


def _counts(engine: Engine) -> dict[str, int]:
    """Rows of each table save_article reads."""
    tables = {
        "articles": _ARTICLES,
        "band_rows": _BANDS,
        "stories": _STORIES,
        "story_keys": _STORY_KEYS,
        "terms": _TERMS,
    }
    with engine.connect() as conn:
        return {
            name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in tables.items()
        }


@dataclass(frozen=True)
class CostRun:
    """What every backend of the cost benchmark shares: the corpus, sizes and fill cache."""

    corpus: Corpus
    sizes: Sequence[int]
    seed: int
    probes: int
    jobs: int
    now: datetime
    cache: Path


def run_cost_backend(url: str, run: CostRun) -> dict[str, Any]:
    """Fill one store size by size and measure storing new articles at each size."""
    engine = open_store(url)
    corpus, sizes, seed, probes, now = run.corpus, run.sizes, run.seed, run.probes, run.now
    try:
        _create_sources(engine)
        state = FillState()
        results: dict[str, Any] = {}
        pages: list[PageItem] = []
        for size in sorted(sizes):
            _progress(f"cost ({engine.dialect.name}): filling to {size} articles")
            fill_s = fill_store(url, corpus, state, size, seed, now, run.jobs, run.cache)
            if not pages:
                pages = make_probes(corpus, engine, seed, now, probes, probes // 2)
            _progress(f"cost ({engine.dialect.name}): timing {len(pages)} saves at {size}")
            measured = measure_size(engine, pages, size, now, explain_top=size == max(sizes))
            results[str(size)] = {**_counts(engine), "fill_s": fill_s, **measured}
        smallest, largest = str(min(sizes)), str(max(sizes))
        ratio = results[largest]["save_ms_median"] / results[smallest]["save_ms_median"]
        return {
            "sizes": results,
            "ratio": ratio,
            "ratio_p95": results[largest]["save_ms_p95"] / results[smallest]["save_ms_p95"],
            "plain_ratio": results[largest]["plain_ms_median"]
            / results[smallest]["plain_ms_median"],
            "pass": ratio <= TARGET_COST_RATIO,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    finally:
        engine.dispose()


def cost_benchmark(
    texts: Sequence[DevText],
    workdir: Path,
    postgres: bool,
    sizes: Sequence[int],
    seed: int,
    probes: int,
    jobs: int,
) -> dict[str, Any]:
    """Cost of save_article against store size, with a plain insert as reference."""
    cache = workdir / "fill"
    cache.mkdir(exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    run = CostRun(make_corpus(texts), sizes, seed, probes, jobs, now, cache)
    backends = {"sqlite": run_cost_backend(f"sqlite:///{workdir / 'cost.db'}", run)}
    if postgres:
        with postgres_database("bench_dedup") as pg_url:
            backends["postgresql"] = run_cost_backend(pg_url, run)
    return {"probes": probes, "near_duplicate_probes": probes // 2, "backends": backends}


# --- running -----------------------------------------------------------------------------


def _near_report(near: dict[str, Any]) -> list[str]:
    kinds = near["kinds"]
    copies = sum(count for kind, count in kinds.items() if kind not in ("original", "negative"))
    sweep = near["sweep"]
    copy_kinds = ", ".join(
        f"{kind} {count}"
        for kind, count in sorted(kinds.items())
        if kind not in ("original", "negative")
    )
    lines = [
        f"Near-duplicates (seed {near['seed']}): {near['devset_texts']} devset texts, "
        f"{near['dropped_short']} under {MIN_WORDS} words and {near['dropped_similar']} "
        f"near-copies of another devset text left out; {near['pool']} used",
        f"  {kinds.get('original', 0)} originals with {copies} copies "
        f"({copy_kinds}), "
        f"{kinds.get('negative', 0)} negatives; every devset text carries its site's footer "
        f"(sites of {SITE_SIZE}: {sweep['same_site_pairs']} same-site pairs), "
        f"{sweep['same_topic_pairs']} same-topic pairs (word overlap up to "
        f"{sweep['same_topic_word_overlap_max']:.2f})",
        f"  targets: precision >= {TARGET_PRECISION}, recall >= {TARGET_RECALL}; "
        f"threshold {near['default_threshold']} (NEAR_DUPLICATE_THRESHOLD)",
        f"{'':34}precision  recall     tp    fp    fn  save ms (median/p95)",
    ]
    rows = [(f"save_article, {name}", run) for name, run in near["backends"].items()]
    rows.append(("reference: exact content hash", near["reference"]))
    for label, run in rows:
        timing = (
            f"  {run['save_ms_median']:6.2f} / {run['save_ms_p95']:6.2f}"
            if "save_ms_median" in run
            else ""
        )
        lines.append(
            f"  {label:<31} {run['precision']:9.4f} {run['recall']:7.4f} {run['tp']:6d} "
            f"{run['fp']:5d} {run['fn']:5d}{timing}  {verdict(run['pass'])}"
        )
    for name, run in near["backends"].items():
        by_edit = ", ".join(f"{k} {f}/{t}" for k, (f, t) in sorted(run["recall_by_edit"].items()))
        by_length = ", ".join(
            f"{k} {f}/{t}" for k, (f, t) in sorted(run["recall_by_length"].items())
        )
        lines.append(f"  {name} copies found by edit: {by_edit}")
        lines.append(f"  {name} copies found by original length: {by_length}")
        for wrong in run["wrong_links"][:5]:
            lines.append(f"  {name} wrong link: {wrong}")
    ref_edit = ", ".join(
        f"{k} {f}/{t}" for k, (f, t) in sorted(near["reference"]["recall_by_edit"].items())
    )
    lines += [
        f"  exact hash found by edit: {ref_edit}",
        "",
        "Threshold sweep: estimated Jaccard of the generated pairs (LSH candidates only), and "
        "save_article on fresh SQLite stores",
        f"  copy pairs {sweep['copy_pairs']}: LSH candidate recall "
        f"{sweep['lsh_candidate_recall']:.4f}; estimated Jaccard min "
        f"{sweep['copy_jaccard_min']:.2f}, "
        f"1st percentile {sweep['copy_jaccard_p1']:.2f}, 5th {sweep['copy_jaccard_p5']:.2f}",
        f"  non-copy pairs sharing a band: {sweep['candidate_negative_pairs']}, "
        f"max estimated Jaccard {sweep['negative_jaccard_max']:.2f}; same-site max "
        f"{sweep['same_site_jaccard_max']:.2f}; same-topic max "
        f"{sweep['same_topic_jaccard_max']:.2f}",
        "  threshold  P(band hit)  copy-pair recall  non-copy pairs >= t   "
        "save_article precision / recall",
    ]
    for row in sweep["rows"]:
        real = near["real_sweep"].get(row["threshold"])
        real_text = f"{real['precision']:.4f} / {real['recall']:.4f}" if real else ""
        lines.append(
            f"  {row['threshold']:9.2f}  {row['lsh_probability']:11.4f}  "
            f"{row['copy_pair_recall']:16.4f}  {row['negative_pairs_over']:19d}   {real_text}"
        )
    lines.append(
        f"  recommended threshold: {near['recommended_threshold']} "
        f"(middle of those meeting both targets; code default {near['default_threshold']})"
    )
    return lines


def _cost_report(cost: dict[str, Any]) -> list[str]:
    lines = [
        f"Cost of storing one article ({cost['probes']} new articles per size, "
        f"{cost['near_duplicate_probes']} of them near-duplicates of stored ones); "
        f"target: median at the largest size <= {TARGET_COST_RATIO} x at the smallest",
        f"  store filled at {ARTICLES_PER_DAY} articles a day ({BASE_COPY_SHARE:.0%} copies), "
        "originals grouped into stories with their story_keys and term_frequencies",
    ]
    for name, backend in cost["backends"].items():
        lines.append(
            f"  {name}:   size   fill s   save_article ms med/p95   plain INSERT ms med/p95   "
            "tracemalloc peak KB   RSS MB"
        )
        for size, run in backend["sizes"].items():
            lines.append(
                f"  {'':>{len(name)}} {int(size):>7} {run['fill_s']:8.1f}   "
                f"{run['save_ms_median']:10.2f} / {run['save_ms_p95']:7.2f}   "
                f"{run['plain_ms_median']:13.2f} / {run['plain_ms_p95']:6.2f}   "
                f"{run['tracemalloc_peak_kb_median']:9.0f} "
                f"(max {run['tracemalloc_peak_kb_max']:.0f})"
                f"   {run['rss_mb_after']:.0f}   {run['statuses']}"
            )
            lines.append(
                f"  {'':>{len(name)}} {'':>7} rows: {run['band_rows']} bands, "
                f"{run['stories']} stories ({run['window_stories']} in the window), "
                f"{run['story_keys']} story keys, {run['terms']} terms; "
                f"SQL {run['sql_ms_per_save']:.2f} ms of each save"
            )
        lines.append(
            f"  {name}: ratio largest/smallest {backend['ratio']:.2f} "
            f"(p95 {backend['ratio_p95']:.2f}; "
            f"plain INSERT {backend['plain_ratio']:.2f}) {verdict(backend['pass'])}; "
            f"peak RSS of the process {backend['peak_rss_mb']:.0f} MB"
        )
        largest = backend["sizes"][max(backend["sizes"], key=int)]
        for statement in largest["slowest_statements"][:3]:
            lines.append(
                f"    {statement['ms_per_call']:.3f} ms x {statement['calls']}: "
                f"{statement['statement'][:160]}"
            )
            for plan in statement.get("plan", []):
                lines.append(f"      plan: {plan}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dedup", description=__doc__)
    parser.add_argument("--only", choices=("near", "cost"), help="run one benchmark")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL on 127.0.0.1")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="store sizes")
    parser.add_argument("--probes", type=int, default=PROBES, help="articles timed per size")
    parser.add_argument("--copies", type=int, default=COPIES_PER_ORIGINAL, help="per original")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="fill workers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(size) for size in args.sizes.split(",") if size.strip()})
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not sizes or sizes[0] < 1000 or args.probes < MIN_PROBES:
        parser.error(f"sizes must be >= 1000 and --probes >= {MIN_PROBES}")
    wanted = {args.only} if args.only else {"near", "cost"}
    workdir = Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    result: dict[str, Any] = {}
    try:
        texts = load_texts(args.jobs) if wanted & {"near", "cost"} else []
        if "near" in wanted:
            result["near"] = near_benchmark(texts, workdir, args.postgres, args.copies, args.seed)
            lines = [*_near_report(result["near"]), ""]
            if not args.json:
                print("\n".join(lines), flush=True)
        if "cost" in wanted:
            result["cost"] = cost_benchmark(
                texts, workdir, args.postgres, sizes, args.seed, args.probes, args.jobs
            )
            lines = [*_cost_report(result["cost"]), ""]
            if not args.json:
                print("\n".join(lines), flush=True)
    except BenchmarkError as exc:
        return input_error(exc)
    finally:
        if args.keep:
            _progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
