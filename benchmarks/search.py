"""Search latency with 100k stored articles, SQLite FTS5 and PostgreSQL tsvector.

Fills a fresh store with generated articles (a Zipf-like vocabulary, so some words are
common and most are rare, as in real text), then times three-word queries through
aggregator.store.search.search (ranking and snippets included). The reference in the same
run is a plain LIKE scan for the same words, what a store without a text index would do.

    python -m benchmarks.search --articles 100000 [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text

from aggregator.store import queries
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article
from aggregator.store.search import search
from benchmarks import postgres_database

TARGET_P95_MS = 50.0
VOCABULARY = 30_000
WORDS_PER_ARTICLE = 250
QUERIES = 200
LIKE_QUERIES = 10
BATCH = 2_000


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 9))))
    return sorted(words)


def fill(engine: Engine, articles: int, seed: int = 1) -> list[list[str]]:
    """Insert generated articles in batches; return the words of a sample of them."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        source_id = queries.ensure_source(session, "bench", "https://bench.example/").id
    started = time.perf_counter()
    sample: list[list[str]] = []
    for start in range(0, articles, BATCH):
        rows = []
        for number in range(start, min(start + BATCH, articles)):
            words = rng.choices(vocabulary, weights, k=WORDS_PER_ARTICLE)
            if number % max(1, articles // QUERIES) == 0:
                sample.append(words)
            body = " ".join(words)
            rows.append(
                {
                    "source_id": source_id,
                    "url": f"https://bench.example/{number}",
                    "canonical_url": f"https://bench.example/{number}",
                    "title": " ".join(words[:8]).capitalize(),
                    "text": body[: len(body) // 2] + "\n\n" + body[len(body) // 2 :],
                    "authors": [],
                    "tags": [],
                    "published": now - timedelta(minutes=number),
                    "content_hash": uuid.uuid4().hex,
                    "http_headers": {},
                    "fetched_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with engine.begin() as connection:
            connection.execute(insert(Article.__table__), rows)
        done = min(start + BATCH, articles)
        if done % 20_000 == 0 or done == articles:
            print(
                f"  filled {done} articles, {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("ANALYZE articles")
            )
    # query words: not among the most common, as people search for what is specific
    common = set(vocabulary[:50])
    return [[w for w in words if w not in common] for words in sample]


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(engine: Engine, sample: list[list[str]], seed: int = 2) -> dict[str, Any]:
    """Time three-word queries (words of one stored article) and a few LIKE scans of them."""
    rng = random.Random(seed)
    queries_words = [rng.sample(words, 3) for words in sample[:QUERIES]]
    timings, hits = [], []
    with session_scope(engine) as session:
        search(session, " ".join(queries_words[0]))  # warm the caches
        for words in queries_words:
            started = time.perf_counter()
            found = search(session, " ".join(words), limit=20)
            timings.append((time.perf_counter() - started) * 1000)
            hits.append(len(found))
        like = []
        for words in queries_words[:LIKE_QUERIES]:
            started = time.perf_counter()
            condition = [Article.text.like(f"%{word}%") for word in words[:2]]
            list(session.scalars(select(Article.id).where(*condition).limit(20)))
            like.append((time.perf_counter() - started) * 1000)
    return {
        "queries": len(timings),
        "median_hits": statistics.median(hits),
        "p50_ms": round(_percentile(timings, 0.50), 2),
        "p95_ms": round(_percentile(timings, 0.95), 2),
        "like_p50_ms": round(_percentile(like, 0.50), 2),
    }


def run(articles: int, postgres: bool) -> dict[str, Any]:
    """Fill and measure each engine; return the figures."""
    figures: dict[str, Any] = {"articles": articles, "target_p95_ms": TARGET_P95_MS}
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="aggregator-search-"))
        urls = {"sqlite": f"sqlite:///{Path(folder) / 'search.db'}"}
        if postgres:
            urls["postgresql"] = stack.enter_context(postgres_database("bench_search"))
        for label, url in urls.items():
            print(f"search ({label}): filling {articles} articles", file=sys.stderr)
            engine = open_store(url)
            sample = fill(engine, articles)
            figures[label] = measure(engine, sample)
            engine.dispose()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL on 127.0.0.1")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = run(args.articles, args.postgres)
    if args.json:
        print(json.dumps(figures))
    passed = True
    print(f"Search latency, {args.articles} stored articles, {QUERIES} three-word queries")
    for label in ("sqlite", "postgresql"):
        if label not in figures:
            continue
        result = figures[label]
        ok = result["p95_ms"] < TARGET_P95_MS
        passed &= ok
        print(
            f"  {label:<10} p50 {result['p50_ms']:7.2f} ms  p95 {result['p95_ms']:7.2f} ms  "
            f"(median {result['median_hits']} hits)  reference LIKE scan p50 "
            f"{result['like_p50_ms']:.1f} ms = {result['like_p50_ms'] / result['p50_ms']:.0f}x "
            f"slower  target p95 < {TARGET_P95_MS:.0f} ms {'PASS' if ok else 'FAIL'}"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
