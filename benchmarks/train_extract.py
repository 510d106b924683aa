"""Train the article-or-not model (aggregator/extract/pagetype.json) on half A of the devsets.

    python -m benchmarks.train_extract [--halves A] [--output FILE] [--recall 0.98]

Examples: every page of modern-devset with its page type (listing and collection pages are
one type), and the pages of extraction-devset as articles (weighted down: they are older and
all of one type). Only the pages of the given halves are read (A: the half rules are tuned
on), so half B stays a measure of sites never seen. The model is a multinomial logistic
regression with an L2 penalty; its article threshold is the highest one that keeps the
recall of articles at --recall on predictions made by site-grouped cross-validation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aggregator.extract import page_type_features
from aggregator.extract.pagetype import ARTICLE, MODEL_PATH, Model
from benchmarks.common import BenchmarkError, devdata_dir, input_error, shared_data_dir, unpack
from benchmarks.extract import (
    EXTRACTION,
    MODERN,
    load_extraction_pages,
    load_modern_pages,
    page_half,
    page_site,
    read_page,
)

# modern-devset page types as the model's classes
CLASSES = ("article", "listing", "product", "forum", "documentation", "service")
TYPE_CLASSES = {"collection": "listing"}
# extraction-devset pages weigh this much each (modern-devset pages weigh 1)
EXTRACTION_WEIGHT = 0.2
L2 = 100.0
ITERATIONS = 3000
LEARNING_RATE = 0.05
FOLDS = 5
# Cross-validation is repeated with this many different groupings of the sites into folds:
# the threshold is then chosen over that many predictions per article, not one
REPEATS = 3
TARGET_RECALL = 0.98
EXTRACTION_RECALL = 0.98


@dataclass(frozen=True)
class Example:
    """One page: its features, class, weight, site and URL."""

    features: dict[str, float]
    label: str
    weight: float
    site: str
    url: str


def load_examples(halves: Sequence[str]) -> list[Example]:
    """The examples of the given halves of both devsets."""
    shared, devdata = shared_data_dir(), devdata_dir()
    examples: list[Example] = []
    modern = unpack(MODERN, shared, devdata)
    for page in load_modern_pages(modern):
        if page_half(page.url) not in halves:
            continue
        features = page_type_features(read_page(page.path), page.url)
        if features is not None:
            label = TYPE_CLASSES.get(page.page_type, page.page_type)
            examples.append(Example(features, label, 1.0, page_site(page.url), page.url))
    extraction = unpack(EXTRACTION, shared, devdata)
    pages, _ = load_extraction_pages(extraction)
    for extraction_page in pages:
        url = extraction_page.url
        if page_half(url) not in halves:
            continue
        features = page_type_features(read_page(extraction_page.path), url)
        if features is not None:
            examples.append(Example(features, ARTICLE, EXTRACTION_WEIGHT, page_site(url), url))
    return examples


def _matrix(examples: Sequence[Example], names: Sequence[str]) -> np.ndarray:
    return np.array([[e.features.get(n, 0.0) for n in names] for e in examples], dtype=float)


def fit(examples: Sequence[Example], names: Sequence[str], l2: float = L2) -> Model:
    """A softmax regression fitted by gradient descent (Adam) on standardised features."""
    x = _matrix(examples, names)
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales == 0] = 1.0
    x = (x - means) / scales
    y = np.zeros((len(examples), len(CLASSES)))
    for row, example in enumerate(examples):
        y[row, CLASSES.index(example.label)] = 1.0
    sample = np.array([e.weight for e in examples])
    sample = sample / sample.sum()
    weights = np.zeros((len(CLASSES), len(names)))
    biases = np.zeros(len(CLASSES))
    moments = [np.zeros_like(weights), np.zeros_like(biases)]
    squares = [np.zeros_like(weights), np.zeros_like(biases)]
    for step in range(1, ITERATIONS + 1):
        scores = x @ weights.T + biases
        scores -= scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        error = (probabilities - y) * sample[:, None]
        gradients = [error.T @ x + l2 * weights / len(examples), error.sum(axis=0)]
        for index, (parameter, gradient) in enumerate(
            zip((weights, biases), gradients, strict=True)
        ):
            moments[index] = 0.9 * moments[index] + 0.1 * gradient
            squares[index] = 0.999 * squares[index] + 0.001 * gradient**2
            corrected = moments[index] / (1 - 0.9**step)
            scale = np.sqrt(squares[index] / (1 - 0.999**step)) + 1e-8
            parameter -= LEARNING_RATE * corrected / scale
    return Model(
        classes=CLASSES,
        features=tuple(names),
        means=tuple(float(m) for m in means),
        scales=tuple(float(s) for s in scales),
        weights=tuple(tuple(float(w) for w in row) for row in weights),
        biases=tuple(float(b) for b in biases),
        threshold=0.5,
    )


def _fold(site: str, folds: int, repeat: int = 0) -> int:
    return hashlib.sha256(f"{repeat}:{site}".encode()).digest()[0] % folds


def cross_validated(
    examples: Sequence[Example],
    names: Sequence[str],
    l2: float = L2,
    folds: int = FOLDS,
    repeats: int = REPEATS,
) -> list[list[float]]:
    """Out-of-fold probabilities of article, the folds grouped by site: one list per repeat."""
    runs = []
    for repeat in range(repeats):
        probabilities = [0.0] * len(examples)
        for fold in range(folds):
            train = [e for e in examples if _fold(e.site, folds, repeat) != fold]
            model = fit(train, names, l2)
            for index, example in enumerate(examples):
                if _fold(example.site, folds, repeat) == fold:
                    probabilities[index] = model.probabilities(example.features)[ARTICLE]
        runs.append(probabilities)
    return runs


def choose_threshold(
    probabilities: Sequence[float], labels: Sequence[bool], recall: float
) -> float:
    """The highest threshold whose recall of articles is at least ``recall``."""
    scores = sorted(p for p, is_article in zip(probabilities, labels, strict=True) if is_article)
    if not scores:
        return 0.5
    allowed = int(len(scores) * (1 - recall))
    return scores[allowed] * 0.999


def detection(
    probabilities: Sequence[float], labels: Sequence[bool], threshold: float
) -> tuple[float, float]:
    """Precision and recall of "is an article" at a threshold."""
    counts = Counter(
        (truth, p >= threshold) for p, truth in zip(probabilities, labels, strict=True)
    )
    tp, fp, fn = counts[True, True], counts[False, True], counts[True, False]
    return (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)


def main(argv: Sequence[str] | None = None) -> int:
    """Train, report the cross-validated figures and write the model."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_extract", description=__doc__)
    parser.add_argument("--halves", default="A", help="halves to train on (default A)")
    parser.add_argument("--output", type=Path, default=MODEL_PATH)
    parser.add_argument("--recall", type=float, default=TARGET_RECALL)
    parser.add_argument("--l2", type=float, default=L2)
    args = parser.parse_args(argv)
    try:
        examples = load_examples(tuple(args.halves))
    except BenchmarkError as error:
        return input_error(error)
    names = sorted({name for example in examples for name in example.features})
    modern = [i for i, e in enumerate(examples) if e.weight == 1.0]
    labels = [e.label == ARTICLE for e in examples]
    print(f"{len(examples)} examples: {dict(Counter(e.label for e in examples))}")
    runs = cross_validated(examples, names, args.l2)
    others = [i for i in range(len(examples)) if i not in set(modern)]
    pooled = [run[i] for run in runs for i in modern]
    pooled_labels = [labels[i] for _ in runs for i in modern]
    # the threshold keeps the recall of both sets' articles: a rejected extraction-devset page
    # loses all its snippets
    threshold = min(
        choose_threshold(pooled, pooled_labels, args.recall),
        choose_threshold([run[i] for run in runs for i in others],
                         [labels[i] for _ in runs for i in others], EXTRACTION_RECALL),
    )  # fmt: skip
    precision, recall = detection(pooled, pooled_labels, threshold)
    _, extraction_recall = detection(
        [run[i] for run in runs for i in others],
        [labels[i] for _ in runs for i in others],
        threshold,
    )
    print(
        f"cross-validated ({len(runs)} x {FOLDS} folds by site) on modern-devset half "
        f"{args.halves}: threshold {threshold:.3f}, precision {precision:.3f}, recall "
        f"{recall:.3f}; extraction-devset recall {extraction_recall:.3f}"
    )
    model = fit(examples, names, args.l2)
    model = Model(**{**vars(model), "threshold": threshold})
    args.output.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n")
    print(f"model written to {args.output} ({args.output.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
