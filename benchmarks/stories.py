"""Story grouping quality and insert cost on the story dev set, against a plain TF-IDF baseline."""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.dedup.stories import (
    InMemoryStoryStore,
    StoryArticle,
    StoryParams,
    assign_story,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_F1 = 0.90
SHUFFLE_SEED = 20261126
# Articles of the dev set have no dates: all are spread over two days, inside one window.
START = datetime(2026, 1, 5, tzinfo=UTC)
SPREAD = timedelta(days=2)
# For the cost as the store outgrows the window: a steady stream of this many per window.
STEADY_PER_WINDOW = 1000
# A classic English function-word list, as a plain TF-IDF pipeline would use.
_BASELINE_STOPWORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself me more most my myself no nor not of off on once only or other our ours ourselves
    out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves
"""
BASELINE_STOPWORDS = frozenset(_BASELINE_STOPWORDS_TEXT.split())
_BASELINE_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# The constants swept for the sensitivity table, each around its chosen value.
SWEEP: dict[str, tuple[float, ...]] = {
    "threshold": (0.11, 0.14, 0.17),
    "density_slope": (0.0, 0.02, 0.04, 0.06),
    "title_weight": (1.0, 2.0, 3.0),
    "entity_weight": (0.0, 1.0, 2.0),
    "article_keys": (4, 8, 12),
}


@dataclass(frozen=True)
class DevArticle:
    """One dev-set article with its true story."""

    id: str
    story: str
    title: str
    text: str


class BenchmarkError(Exception):
    """A benchmark input is missing or unusable."""


def devset_path() -> Path:
    """Return the story dev set: $AGGREGATOR_SHARED/story-devset or ../shared/data from the repo."""
    configured = os.environ.get("AGGREGATOR_SHARED")
    shared = Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"
    path = shared / "story-devset" / "stories.jsonl"
    if not path.is_file():
        raise BenchmarkError(f"{path} not found: set AGGREGATOR_SHARED to the shared data folder")
    return path


def load_devset(path: Path) -> list[DevArticle]:
    """Return the dev-set articles in file order."""
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [DevArticle(row["id"], row["story"], row["title"], row["text"]) for row in rows]


def bcubed(truth: Sequence[str], predicted: Sequence[str]) -> tuple[float, float, float]:
    """Return BCubed precision, recall and F1 of a clustering, averaged over items."""
    pairs = Counter(zip(truth, predicted, strict=True))
    true_sizes = Counter(truth)
    predicted_sizes = Counter(predicted)
    precision = recall = 0.0
    for (true, guess), shared in pairs.items():
        precision += shared * shared / predicted_sizes[guess]
        recall += shared * shared / true_sizes[true]
    precision /= len(truth)
    recall /= len(truth)
    return precision, recall, 2 * precision * recall / (precision + recall)


def _published(position: int, total: int) -> datetime:
    """Return a publication time that keeps every article inside one story window."""
    return START + SPREAD * (position / max(total, 1))


def _source(article: DevArticle, sources: str) -> str:
    """Return the outlet an article is attributed to in a run."""
    # The dev set has no outlets. "distinct" makes the same-source rule a no-op; "side" uses
    # the id suffix, one per story like the real left/centre/right outlets, an optimistic case.
    return article.id.rsplit("-", 1)[1] if sources == "side" else article.id


def run_ours(
    articles: Sequence[DevArticle], params: StoryParams, sources: str = "distinct"
) -> tuple[list[str], list[float]]:
    """Group articles with assign_story; return the story per article and seconds per insert."""
    store = InMemoryStoryStore()
    labels, seconds = [], []
    for position, article in enumerate(articles):
        item = StoryArticle(
            id=article.id,
            source=_source(article, sources),
            title=article.title,
            text=article.text,
            published=_published(position, len(articles)),
        )
        started = time.perf_counter()
        decision = assign_story(store, item, params)
        seconds.append(time.perf_counter() - started)
        labels.append(decision.story_id)
    return labels, seconds


def _baseline_terms(article: DevArticle) -> Counter[str]:
    """Return the term counts of title and text with standard tokenisation."""
    words = _BASELINE_TOKEN.findall(f"{article.title} {article.text}".lower())
    return Counter(word for word in words if word not in BASELINE_STOPWORDS)


def run_baseline(articles: Sequence[DevArticle], threshold: float) -> tuple[list[str], list[float]]:
    """Group articles single-pass by TF-IDF cosine to cluster centroids, IDF from all articles."""
    counts = [_baseline_terms(article) for article in articles]
    frequencies: Counter[str] = Counter()
    for terms in counts:
        frequencies.update(terms.keys())
    total = len(articles)
    idf = {term: math.log((1 + total) / (1 + df)) + 1 for term, df in frequencies.items()}
    # Centroids as sums of unit vectors, kept as postings so an exact cosine to every cluster
    # costs only the article's terms (the same result as a scan of all clusters).
    postings: dict[str, dict[int, float]] = defaultdict(dict)
    squared_norms: list[float] = []
    labels, seconds = [], []
    for terms in counts:
        started = time.perf_counter()
        vector = {term: (1 + math.log(count)) * idf[term] for term, count in terms.items()}
        norm = math.sqrt(sum(value * value for value in vector.values())) or 1.0
        vector = {term: value / norm for term, value in vector.items()}
        dots: dict[int, float] = defaultdict(float)
        for term, value in vector.items():
            for cluster, weight in postings[term].items():
                dots[cluster] += value * weight
        best, best_score = -1, 0.0
        for cluster, dot in dots.items():
            score = dot / math.sqrt(squared_norms[cluster])
            if score > best_score:
                best, best_score = cluster, score
        if best < 0 or best_score < threshold:
            best = len(squared_norms)
            squared_norms.append(0.0)
            dots[best] = 0.0
        squared_norms[best] += 2 * dots[best] + 1.0
        for term, value in vector.items():
            postings[term][best] = postings[term].get(best, 0.0) + value
        seconds.append(time.perf_counter() - started)
        labels.append(str(best))
    return labels, seconds


def _split(articles: Sequence[DevArticle], prefix: str) -> list[DevArticle]:
    """Return the articles whose story id starts with prefix."""
    return [article for article in articles if article.story.startswith(prefix)]


def _shuffled(articles: Sequence[DevArticle]) -> list[DevArticle]:
    """Return the articles in a fixed pseudo-random order."""
    shuffled = list(articles)
    random.Random(SHUFFLE_SEED).shuffle(shuffled)
    return shuffled


def _score(articles: Sequence[DevArticle], labels: Sequence[str]) -> dict[str, float]:
    """Return BCubed figures of a run as a dict."""
    precision, recall, f1 = bcubed([article.story for article in articles], labels)
    return {"precision": precision, "recall": recall, "f1": f1, "clusters": len(set(labels))}


def _timing(seconds: Sequence[float]) -> dict[str, float]:
    """Return median and 95th percentile milliseconds per article."""
    ordered = sorted(seconds)
    return {
        "median_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
    }


def _evaluate(
    runner: Callable[[Sequence[DevArticle]], tuple[list[str], list[float]]],
    sets: dict[str, list[DevArticle]],
) -> dict[str, dict[str, float]]:
    """Return scores and timings of one method on each named article sequence."""
    results = {}
    for name, articles in sets.items():
        labels, seconds = runner(articles)
        results[name] = {**_score(articles, labels), **_timing(seconds)}
    return results


def _insert_cost(
    articles: Sequence[DevArticle], params: StoryParams, per_window: int | None
) -> dict[str, float]:
    """Return median milliseconds per insert into an in-memory store holding about 1k and 8k."""
    store = InMemoryStoryStore()
    cost: dict[str, list[float]] = {"1k": [], "8k": []}
    ordered = _shuffled(articles)
    # CPython's cyclic collector walks the whole heap, which here holds the store itself: left
    # on, it bills the dictionaries' growth to each insert, a cost a SQL store does not have.
    gc.disable()
    try:
        _timed_inserts(store, ordered, params, per_window, cost)
    finally:
        gc.enable()
    low, high = statistics.median(cost["1k"]), statistics.median(cost["8k"])
    return {"at_1k_ms": 1000 * low, "at_8k_ms": 1000 * high, "ratio": high / low}


def _timed_inserts(
    store: InMemoryStoryStore,
    ordered: Sequence[DevArticle],
    params: StoryParams,
    per_window: int | None,
    cost: dict[str, list[float]],
) -> None:
    """Insert articles in order, timing those after about 1k and the last 500."""
    for position, article in enumerate(ordered):
        if per_window is None:
            published = _published(position, len(ordered))
        else:
            published = START + params.window * (position / per_window)
        item = StoryArticle(article.id, article.id, article.title, article.text, published)
        started = time.perf_counter()
        assign_story(store, item, params)
        elapsed = time.perf_counter() - started
        if 1000 <= position < 1500:
            cost["1k"].append(elapsed)
        elif position >= len(ordered) - 500:
            cost["8k"].append(elapsed)


def _sweep(
    train: Sequence[DevArticle], params: StoryParams
) -> dict[str, list[tuple[float, float]]]:
    """Return train F1 (mean of file and shuffled order) per value of each constant, others held."""
    table: dict[str, list[tuple[float, float]]] = {}
    for name, values in SWEEP.items():
        rows = []
        for value in values:
            cast: Any = int(value) if isinstance(getattr(params, name), int) else value
            scores = []
            for ordered in (train, _shuffled(train)):
                labels, _ = run_ours(ordered, replace(params, **{name: cast}))
                scores.append(_score(ordered, labels)["f1"])
            rows.append((value, statistics.fmean(scores)))
        table[name] = rows
    return table


def _baseline_threshold(train: Sequence[DevArticle]) -> float:
    """Return the baseline threshold that scores best on the train stories."""
    best, best_f1 = 0.0, -1.0
    for step in range(2, 9):
        threshold = step / 20
        labels, _ = run_baseline(train, threshold)
        f1 = _score(train, labels)["f1"]
        if f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


def benchmark(sweep: bool) -> dict[str, Any]:
    """Run every measurement and return the figures."""
    articles = load_devset(devset_path())
    train, val = _split(articles, "train-"), _split(articles, "val-")
    sets = {
        "all/file": articles,
        "all/shuffled": _shuffled(articles),
        "train/file": train,
        "train/shuffled": _shuffled(train),
        "val/file": val,
        "val/shuffled": _shuffled(val),
    }
    params = StoryParams()
    threshold = _baseline_threshold(train)
    figures: dict[str, Any] = {
        "params": {key: str(value) for key, value in vars(params).items()},
        "ours": _evaluate(lambda items: run_ours(items, params), sets),
        "ours_side_sources": _evaluate(
            lambda items: run_ours(items, replace(params, same_source_factor=0.5), "side"),
            {"all/file": articles, "train/file": train, "val/file": val},
        ),
        "baseline_threshold": threshold,
        "baseline": _evaluate(lambda items: run_baseline(items, threshold), sets),
        "insert_cost": _insert_cost(articles, params, None),
        "insert_cost_steady": _insert_cost(articles, params, STEADY_PER_WINDOW),
        "target_f1": TARGET_F1,
    }
    if sweep:
        figures["sweep"] = _sweep(train, params)
    worst = min(result["f1"] for result in figures["ours"].values())
    figures["pass"] = worst >= TARGET_F1
    return figures


def _print(figures: dict[str, Any]) -> None:
    """Print the figures as tables."""
    print("story grouping, BCubed on story-devset (every article inside one window)")
    header = f"{'method':<10} {'set/order':<16} {'P':>6} {'R':>6} {'F1':>6} {'clusters':>8}"
    print(f"{header} {'median ms':>9} {'p95 ms':>7}")
    for method in ("ours", "baseline"):
        for name, result in figures[method].items():
            print(
                f"{method:<10} {name:<16} {result['precision']:6.3f} {result['recall']:6.3f} "
                f"{result['f1']:6.3f} {result['clusters']:8.0f} {result['median_ms']:9.2f} "
                f"{result['p95_ms']:7.2f}"
            )
    print(f"baseline threshold (best on train): {figures['baseline_threshold']:.2f}")
    for name, result in figures["ours_side_sources"].items():
        print(
            f"ours, id-suffix outlets, same-source factor 0.5, {name}: "
            f"P {result['precision']:.3f} R {result['recall']:.3f} F1 {result['f1']:.3f}"
        )
    for key, label in (
        ("insert_cost", "all in one window"),
        ("insert_cost_steady", f"{STEADY_PER_WINDOW} articles per window"),
    ):
        cost = figures[key]
        print(
            f"insert cost, in-memory store, {label}: {cost['at_1k_ms']:.2f} ms at 1k, "
            f"{cost['at_8k_ms']:.2f} ms at 8k (x{cost['ratio']:.2f})"
        )
    for name, rows in figures.get("sweep", {}).items():
        cells = "  ".join(f"{value:g}: {f1:.3f}" for value, f1 in rows)
        print(f"sweep {name:<14} train F1 (mean of both orders)  {cells}")
    verdict = "PASS" if figures["pass"] else "FAIL"
    print(f"target BCubed F1 >= {figures['target_f1']:.2f} on every set and order: {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print or dump its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-sweep", action="store_true", help="skip the sensitivity sweep")
    args = parser.parse_args(argv)
    try:
        figures = benchmark(sweep=not args.no_sweep)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    return 0 if figures["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
