"""Score our extractor and plain trafilatura on the extraction and modern devsets."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import math
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from trafilatura.settings import Document

from aggregator.extract import extract_article
from aggregator.items import Article
from benchmarks.common import (
    BenchmarkError,
    devdata_dir,
    input_error,
    percentile,
    progress,
    shared_data_dir,
    unpack,
)

EXTRACTION = "extraction-devset"
MODERN = "modern-devset"
DATASETS = {"extraction": EXTRACTION, "modern": MODERN}
# Marker written after a complete unpack, so an interrupted unpack is redone.
PROGRESS_EVERY = 50
SHINGLE_SIZE = 4

# Targets: extraction-devset F1 and precision, modern body F1, metadata and is-article, speed.
TARGET_SNIPPET_F1 = 0.95
TARGET_BODY_F1 = 0.955
TARGET_TITLE = 0.95
TARGET_AUTHORS = 0.93
TARGET_DATE = 0.95
TARGET_ARTICLE_PRECISION = 0.92
TARGET_ARTICLE_RECALL = 0.98
TARGET_TIME_RATIO = 1.0
# Each devset is split in two halves by site: rules and models are tuned on half A only, so
# the figures of half B are those of sites never seen (the gap between them is overfitting).
HALVES = ("A", "B")
TUNED_HALF, HELD_OUT_HALF = HALVES

TRAFILATURA_SETTINGS = (
    "trafilatura.extract(html, url=url) with its defaults: fast=False (readability/justext "
    "fallbacks on), favor_precision=False, favor_recall=False, include_comments=True, "
    "include_tables=True; metadata from bare_extraction(html, url=url, with_metadata=True)"
)
REFERENCE_SETTINGS = (
    "trafilatura's published evaluation settings: extract(html) without url, fast=False, "
    "include_comments=False, include_tables=True, include_formatting=False"
)

_WHITESPACE_RE = re.compile(r"\s+")
_TOKEN_RE = re.compile(r"\w+")
_AUTHOR_SEPARATOR_RE = re.compile(r"\s*(?:[,;/|&]|\band\b)\s*", re.IGNORECASE)
_BY_PREFIX_RE = re.compile(r"^\s*by\s+", re.IGNORECASE)
# What a name may carry besides the name: an alias in parentheses, an honorific before it
_NAME_EXTRAS_RE = re.compile(r"\([^)]*\)|^\s*(?:dr|prof|mr|mrs|ms|mx|sir)\b\.?\s*", re.IGNORECASE)
# A trailing "| Site Name" or "- Site Name" segment of a <title>
_TITLE_SUFFIX_RE = re.compile(r"\s+[|\-:·•»]\s+(?P<suffix>[^|]{1,60})$")
MAX_SITE_SUFFIX_WORDS = 6
_TYPOGRAPHY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_ARCHIVED_RE = re.compile(r"^https?://web\.archive\.org/web/[^/]+/(?P<url>.+)$", re.IGNORECASE)

logger = logging.getLogger(__name__)


# --- scoring: pure functions -------------------------------------------------------------


def page_site(url: str) -> str:
    """The site of a devset page: its host without "www." (the archived page's host for a
    web.archive.org copy; the name before the first "-" for a key without a URL)."""
    archived = _ARCHIVED_RE.match(url)
    if archived:
        url = archived["url"]
    host = urlsplit(url).hostname if "://" in url else None
    if not host:
        host = url.rpartition("::")[2].split("-", 1)[0]
    return host.lower().removeprefix("www.")


def page_half(url: str) -> str:
    """The half (A or B) of a page: a hash of its site, so all pages of a site fall together."""
    return HALVES[hashlib.sha256(page_site(url).encode()).digest()[0] % 2]


def collapse_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space and strip the ends."""
    return _WHITESPACE_RE.sub(" ", text).strip()


@dataclass
class SnippetCounts:
    """Confusion counts of the with/without snippet metric."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, other: SnippetCounts) -> None:
        """Add another page's counts to these."""
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn

    @property
    def precision(self) -> float:
        """Share of found snippets that belong to the article."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Share of article snippets found."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """F1 = 2tp / (2tp + fp + fn)."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0


def snippet_counts(text: str | None, with_: Sequence[str], without: Sequence[str]) -> SnippetCounts:
    """Score one extraction against its must-contain and must-not-contain snippets."""
    found = collapse_whitespace(text) if text else ""
    tp = sum(1 for snippet in with_ if collapse_whitespace(snippet) in found) if found else 0
    fp = sum(1 for snippet in without if collapse_whitespace(snippet) in found) if found else 0
    return SnippetCounts(tp=tp, fp=fp, fn=len(with_) - tp, tn=len(without) - fp)


def shingles(text: str | None, size: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    """Multiset of the word shingles of a text (a text shorter than size is one shingle)."""
    tokens = _TOKEN_RE.findall(text or "")
    return Counter(
        tuple(tokens[i : i + size]) for i in range(max(1, len(tokens) - size + 1)) if tokens
    )


@dataclass(frozen=True)
class ShingleCounts:
    """Per-page shingle tp/fp/fn, normalised to sum to 1 so long pages weigh no more."""

    tp: float
    fp: float
    fn: float

    @property
    def precision(self) -> float | None:
        """Page precision, None when nothing was extracted."""
        if self.fp == self.fn == 0:
            return 1.0
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """Page recall, None when the truth is empty."""
        if self.fp == self.fn == 0:
            return 1.0
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float:
        """Page F1 = 2tp / (2tp + fp + fn)."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 1.0


def shingle_counts(truth: str | None, predicted: str | None) -> ShingleCounts:
    """Compare the 4-word shingles of an extraction with the true main text (ScrapingHub)."""
    true_shingles, predicted_shingles = shingles(truth), shingles(predicted)
    tp = sum((true_shingles & predicted_shingles).values())
    fp = sum((predicted_shingles - true_shingles).values())
    fn = sum((true_shingles - predicted_shingles).values())
    total = tp + fp + fn
    if not total:
        return ShingleCounts(0.0, 0.0, 0.0)
    return ShingleCounts(tp / total, fp / total, fn / total)


@dataclass(frozen=True)
class BodyScores:
    """Corpus body scores: precision and recall averaged over pages, F1 of the two averages."""

    precision: float
    recall: float
    f1: float
    mean_page_f1: float


def body_scores(pages: Sequence[ShingleCounts]) -> BodyScores:
    """Average per-page precision (pages with output) and recall (pages with truth)."""
    precisions = [p for p in (page.precision for page in pages) if p is not None]
    recalls = [r for r in (page.recall for page in pages) if r is not None]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    mean_page_f1 = statistics.fmean(page.f1 for page in pages) if pages else 0.0
    return BodyScores(precision, recall, f1, mean_page_f1)


def normalise_title(title: str | None) -> str:
    """Title for exact comparison: NFKC, plain quotes and dashes, casefolded, spaces collapsed."""
    text = unicodedata.normalize("NFKC", title or "").translate(_TYPOGRAPHY).casefold()
    return collapse_whitespace(text)


def title_matches(truth: str | None, predicted: str | None, *, strict: bool = False) -> bool:
    """Whether the predicted title equals the true one after normalisation.

    Unless strict, titles that differ only by a trailing site-name segment ("Title | Site",
    "Title - Site") match: the truth keeps the suffix of <title> on some pages and drops it on
    others, and the issue asks for it stripped.
    """
    expected, found = normalise_title(truth), normalise_title(predicted)
    if not expected or not found:
        return False
    if expected == found or strict:
        return expected == found
    longer, shorter = (expected, found) if len(expected) > len(found) else (found, expected)
    match = _TITLE_SUFFIX_RE.search(longer)
    return (
        match is not None
        and longer[: match.start()] == shorter
        and len(match["suffix"].split()) <= MAX_SITE_SUFFIX_WORDS
    )


def author_names(values: Iterable[str]) -> list[str]:
    """Normalised person names from author strings ("A, B and C", "By A; B")."""
    names: list[str] = []
    for value in values:
        text = unicodedata.normalize("NFKC", _BY_PREFIX_RE.sub("", value or "")).casefold()
        for part in _AUTHOR_SEPARATOR_RE.split(_NAME_EXTRAS_RE.sub(" ", text)):
            part = _NAME_EXTRAS_RE.sub("", _BY_PREFIX_RE.sub("", part))
            name = " ".join(_TOKEN_RE.findall(part))
            if name and name not in names:
                names.append(name)
    return names


def authors_match(truth: str | None, predicted: Sequence[str]) -> bool:
    """Whether the first true author is predicted and no predicted name is foreign to the truth.

    The truth may add credentials after a comma ("Holly Wilgus, E-RYT 200"), so a prediction
    of the names alone counts; a prediction with a name the truth lacks does not.
    """
    expected = author_names([truth or ""])
    found = author_names(predicted)
    return bool(expected) and bool(found) and expected[0] in found and set(found) <= set(expected)


def as_date(value: date | str | None) -> date | None:
    """A date from a datetime, a date or an ISO string; None when there is none."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def date_matches(truth: str | None, predicted: date | str | None, tolerance_days: int = 0) -> bool:
    """Whether the predicted day is the true day (give or take tolerance_days)."""
    expected, found = as_date(truth), as_date(predicted)
    if expected is None or found is None:
        return False
    return abs((found - expected).days) <= tolerance_days


def detection_scores(pairs: Iterable[tuple[bool, bool]]) -> tuple[float, float]:
    """Precision and recall of "is an article" from (truth, predicted) pairs."""
    counts = Counter(pairs)
    tp, fp, fn = counts[True, True], counts[False, True], counts[True, False]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def accuracy(flags: Sequence[bool]) -> float:
    """Share of true flags, 0 for none."""
    return sum(flags) / len(flags) if flags else 0.0


# --- data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractionPage:
    """One annotated page of extraction-devset."""

    name: str
    url: str
    path: Path
    with_: tuple[str, ...]
    without: tuple[str, ...]


def load_extraction_pages(root: Path) -> tuple[list[ExtractionPage], list[str]]:
    """The pages of extraction-devset and the names of annotated files that are missing."""
    annotations = json.loads((root / "evaldata.json").read_text(encoding="utf-8"))
    pages, missing = [], []
    for url, item in annotations.items():
        # like trafilatura's evaluation: cache/ holds newer copies of some eval/ pages
        path = next(
            (
                p
                for p in (root / "cache" / item["file"], root / "eval" / item["file"])
                if p.is_file()
            ),
            None,
        )
        if path is None:
            missing.append(item["file"])
            continue
        pages.append(
            ExtractionPage(item["file"], url, path, tuple(item["with"]), tuple(item["without"]))
        )
    return pages, missing


@dataclass(frozen=True)
class ModernPage:
    """One page of modern-devset with its ground truth."""

    id: str
    url: str
    path: Path
    page_type: str
    title: str | None
    author: str | None
    publish_date: str | None
    main_content: str
    with_: tuple[str, ...]
    without: tuple[str, ...]

    @property
    def is_article(self) -> bool:
        """Whether the page holds an article (every other type holds none)."""
        return self.page_type == "article"


def load_modern_pages(root: Path) -> list[ModernPage]:
    """The pages of modern-devset with their ground truth."""
    pages = []
    with (root / "ground-truth.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            pages.append(
                ModernPage(
                    id=row["id"],
                    url=row["url"],
                    path=root / "pages" / f"{row['id']}.html.gz",
                    page_type=row["page_type"],
                    title=row.get("title"),
                    author=row.get("author"),
                    publish_date=row.get("publish_date"),
                    main_content=row.get("main_content") or "",
                    with_=tuple(row.get("with") or ()),
                    without=tuple(row.get("without") or ()),
                )
            )
    return pages


# --- running the extractors ------------------------------------------------------------


@dataclass
class Run:
    """What every extractor returned for one page, with its time in milliseconds."""

    article: Article | None = None
    trafilatura_text: str | None = None
    # title, author ("A; B") and date of trafilatura's bare_extraction(with_metadata=True)
    trafilatura_metadata: tuple[str | None, str | None, str | None] = (None, None, None)
    reference_text: str | None = None
    ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    our_reason: str | None = None
    our_failed: bool = False

    @property
    def our_text(self) -> str | None:
        """Our body text, None for no article."""
        return self.article.text if self.article else None


def _trafilatura_extract(html: bytes, url: str | None) -> str | None:
    """Plain trafilatura body text with its default settings."""
    return trafilatura.extract(html, url=url)


def _trafilatura_metadata(
    html: bytes, url: str | None
) -> tuple[str | None, str | None, str | None]:
    """Title, author and date from plain trafilatura's bare_extraction with metadata."""
    document = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if not isinstance(document, Document):
        return None, None, None
    return document.title, document.author, document.date


def _trafilatura_reference(html: bytes) -> str | None:
    """trafilatura with the settings of its own published evaluation."""
    return trafilatura.extract(
        html, include_comments=False, include_tables=True, include_formatting=False
    )


class _OurLog(logging.Handler):
    """Keeps what our extractor logs about the current page: why it is no article, failures."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.reason: str | None = None
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        """Remember the first message and whether an exception was logged."""
        if self.reason is None:
            self.reason = record.getMessage()
        self.failed = self.failed or record.exc_info is not None

    def reset(self) -> None:
        """Forget the previous page."""
        self.reason, self.failed = None, False


_OUR_LOG = _OurLog()


def run_extractors(html: bytes, url: str | None, turn: int, reference: bool = False) -> Run:
    """Run every extractor on one page, each timed, in an order that rotates with turn."""
    run = Run()

    def ours() -> None:
        run.article = extract_article(html, url)

    def plain() -> None:
        run.trafilatura_text = _trafilatura_extract(html, url)

    def with_metadata() -> None:
        run.trafilatura_metadata = _trafilatura_metadata(html, url)

    def parse_only() -> None:
        lxml.html.fromstring(html)

    steps: list[tuple[str, Callable[[], None]]] = [
        ("ours", ours),
        ("trafilatura", plain),
        ("trafilatura+metadata", with_metadata),
        ("lxml", parse_only),
    ]
    _OUR_LOG.reset()
    # rotating the order spreads cache warm-up and machine noise evenly over the extractors
    shift = turn % len(steps)
    for name, step in steps[shift:] + steps[:shift]:
        start = time.perf_counter()
        try:
            step()
        except Exception as error:
            # a crash of plain trafilatura or lxml scores as no output, like a real failure
            run.error = f"{name}: {type(error).__name__}: {error}"
        run.ms[name] = (time.perf_counter() - start) * 1000
    run.our_reason, run.our_failed = _OUR_LOG.reason, _OUR_LOG.failed
    if reference:
        try:
            run.reference_text = _trafilatura_reference(html)
        except Exception as error:
            run.error = f"reference: {type(error).__name__}: {error}"
    return run


@dataclass(frozen=True)
class Job:
    """One page to run: where it is, its URL, its turn in the rotation."""

    path: Path
    url: str
    turn: int
    reference: bool = False


def read_page(path: Path) -> bytes:
    """The bytes of a devset page, gzip or plain."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as compressed:
            return compressed.read()
    return path.read_bytes()


def run_job(job: Job) -> Run:
    """Read one page (outside the timing) and run every extractor on it."""
    return run_extractors(read_page(job.path), job.url, job.turn, job.reference)


def _set_up_process() -> None:
    """Quiet the libraries' logs, capture ours, and warm the extractors up."""
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    ours = logging.getLogger("aggregator")
    if _OUR_LOG not in ours.handlers:
        ours.addHandler(_OUR_LOG)
    ours.setLevel(logging.INFO)
    ours.propagate = False
    html = b"<html><head><title>t</title></head><body><article><p>" + b"Warm up. " * 40
    run_extractors(html + b"</p></article></body></html>", "https://example.com/a", 0, True)


def run_jobs(dataset: str, jobs: Sequence[Job], workers: int) -> Iterator[Run]:
    """Run the jobs in order, in this process or a pool, with progress on stderr."""
    started = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers, initializer=_set_up_process) as pool:
            runs: Iterable[Run] = pool.map(run_job, jobs, chunksize=4)
            for done, run in enumerate(runs, 1):
                yield run
                _progress(dataset, done, len(jobs), started)
        return
    for done, job in enumerate(jobs, 1):
        yield run_job(job)
        _progress(dataset, done, len(jobs), started)


def _progress(dataset: str, done: int, total: int, started: float) -> None:
    """Print a progress line on stderr every PROGRESS_EVERY pages."""
    if done % PROGRESS_EVERY == 0 or done == total:
        elapsed = time.perf_counter() - started
        progress("bench-extract", f"{dataset}: {done}/{total} pages, {elapsed:.0f} s")


# --- evaluation per dataset --------------------------------------------------------------


@dataclass
class Timing:
    """Per-page milliseconds of every extractor."""

    ms: dict[str, list[float]] = field(default_factory=dict)

    def add(self, run: Run) -> None:
        """Record one page's times."""
        for name, value in run.ms.items():
            self.ms.setdefault(name, []).append(value)

    def summary(self) -> dict[str, Any]:
        """Median and p95 per extractor and the ratio of our median to trafilatura's."""
        figures: dict[str, Any] = {
            name: {
                "median_ms": statistics.median(values),
                "p95_ms": percentile(values, 0.95),
                "total_s": sum(values) / 1000,
            }
            for name, values in self.ms.items()
            if values
        }
        if "ours" in figures and "trafilatura" in figures:
            ours = figures["ours"]["median_ms"]
            figures["ratio_ours_trafilatura"] = ours / figures["trafilatura"]["median_ms"]
            figures["ratio_ours_trafilatura_metadata"] = (
                ours / figures["trafilatura+metadata"]["median_ms"]
            )
        return figures


def _target(value: float, target: float, text: str, *, at_most: bool = False) -> dict[str, Any]:
    """One target: the figure, the goal and whether it is met."""
    return {"value": value, "target": text, "pass": value <= target if at_most else value >= target}


def _by_half(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The rows of each half, by site (see page_half)."""
    return {half: [row for row in rows if row["half"] == half] for half in HALVES}


def _snippet_figures(counts: SnippetCounts) -> dict[str, Any]:
    return {"f1": counts.f1, "precision": counts.precision, "recall": counts.recall, **vars(counts)}


def extraction_scores(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """Snippet precision, recall and F1 of each extractor, summed over the rows' pages."""
    figures: dict[str, Any] = {"pages": len(rows)}
    for name in names:
        total = SnippetCounts()
        for row in rows:
            total.add(SnippetCounts(**row[name]))
        figures[name] = _snippet_figures(total)
    return figures


def evaluate_extraction(
    root: Path, limit: int | None, reference: bool, workers: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score both extractors on extraction-devset; return the figures and per-page rows."""
    pages, missing = load_extraction_pages(root)
    pages = pages[:limit] if limit else pages
    names = ["ours", "trafilatura"] + (["trafilatura_reference"] if reference else [])
    timing, rows, errors, failures = Timing(), [], 0, 0
    jobs = [Job(page.path, page.url, turn, reference) for turn, page in enumerate(pages)]
    for page, run in zip(pages, run_jobs(EXTRACTION, jobs, workers), strict=True):
        timing.add(run)
        errors += run.error is not None
        failures += run.our_failed
        texts = {"ours": run.our_text, "trafilatura": run.trafilatura_text}
        if reference:
            texts["trafilatura_reference"] = run.reference_text
        scores = {
            name: snippet_counts(text, page.with_, page.without) for name, text in texts.items()
        }
        ours = collapse_whitespace(run.our_text or "")
        rows.append(
            {
                "file": page.name,
                "url": page.url,
                "half": page_half(page.url),
                "f1": scores["ours"].f1,
                **{name: vars(counts) for name, counts in scores.items()},
                "trafilatura_f1": scores["trafilatura"].f1,
                "missing_with": [w for w in page.with_ if collapse_whitespace(w) not in ours],
                "found_without": [
                    w for w in page.without if ours and collapse_whitespace(w) in ours
                ],
                "ms": run.ms,
                "error": run.error,
                "our_log": run.our_reason,
                "title": run.article.title if run.article else None,
                "text": run.our_text,
                "trafilatura_text": run.trafilatura_text,
            }
        )
    figures: dict[str, Any] = {
        **extraction_scores(rows, names),
        "missing_files": missing,
        "errors": errors,
        "our_failures": failures,
        "halves": {half: extraction_scores(part, names) for half, part in _by_half(rows).items()},
    }
    figures["timing"] = timing.summary()
    figures["targets"] = _extraction_targets(figures)
    return figures, rows


def _extraction_targets(figures: dict[str, Any]) -> dict[str, Any]:
    """The extraction-devset targets with their pass marks (F1 on the whole and on half B)."""
    ours, plain = figures["ours"], figures["trafilatura"]
    held_out = figures["halves"][HELD_OUT_HALF]["ours"]
    text = f">= {TARGET_SNIPPET_F1}"
    targets = {
        "f1": _target(min(ours["f1"], held_out["f1"]), TARGET_SNIPPET_F1, text + " (all, B)"),
        "precision": _target(ours["precision"], plain["precision"], ">= trafilatura"),
    }
    targets.update(_time_target(figures["timing"]))
    return targets


def _time_target(timing: dict[str, Any]) -> dict[str, Any]:
    """The median-time target (ours at most TARGET_TIME_RATIO x plain trafilatura.extract)."""
    ratio = timing.get("ratio_ours_trafilatura", math.inf)
    text = f"<= {TARGET_TIME_RATIO} x trafilatura"
    return {"time_ratio": _target(ratio, TARGET_TIME_RATIO, text, at_most=True)}


@dataclass(frozen=True)
class ModernResult:
    """What each extractor found on one modern-devset page: text, title, authors, date."""

    page: ModernPage
    texts: dict[str, str | None]
    predicted: dict[str, tuple[str | None, list[str], date | str | None]]


def modern_scores(results: Sequence[ModernResult]) -> dict[str, Any]:
    """Body, snippet, metadata and is-article figures of each extractor over some pages."""
    names = ("ours", "trafilatura")
    body: dict[str, list[ShingleCounts]] = {name: [] for name in names}
    snippets = {name: SnippetCounts() for name in names}
    meta: dict[str, dict[str, list[bool]]] = {
        name: {"title": [], "title_strict": [], "authors": [], "date": [], "date_1_day": []}
        for name in names
    }
    detection: dict[str, list[tuple[bool, bool]]] = {name: [] for name in names}
    kept_by_type: dict[str, Counter[str]] = {name: Counter() for name in names}
    non_articles_by_type: Counter[str] = Counter()
    for result in results:
        page = result.page
        if not page.is_article:
            non_articles_by_type[page.page_type] += 1
        for name in names:
            text = result.texts[name]
            has_text = bool(text and text.strip())
            detection[name].append((page.is_article, has_text))
            if not page.is_article:
                kept_by_type[name][page.page_type] += has_text
                continue
            body[name].append(shingle_counts(page.main_content, text))
            snippets[name].add(snippet_counts(text, page.with_, page.without))
            title, authors, published = result.predicted[name]
            flags = meta[name]
            if page.title:
                flags["title"].append(title_matches(page.title, title))
                flags["title_strict"].append(title_matches(page.title, title, strict=True))
            if page.author:
                flags["authors"].append(authors_match(page.author, authors))
            if page.publish_date:
                flags["date"].append(date_matches(page.publish_date, published))
                flags["date_1_day"].append(date_matches(page.publish_date, published, 1))
    articles = sum(1 for result in results if result.page.is_article)
    non_articles = len(results) - articles
    figures: dict[str, Any] = {
        "pages": len(results),
        "articles": articles,
        "non_articles": dict(non_articles_by_type),
    }
    for name in names:
        scores = body_scores(body[name])
        precision, recall = detection_scores(detection[name])
        kept = sum(kept_by_type[name].values())
        figures[name] = {
            "body_f1": scores.f1,
            "body_precision": scores.precision,
            "body_recall": scores.recall,
            "body_mean_page_f1": scores.mean_page_f1,
            "snippet_f1": snippets[name].f1,
            "snippet_precision": snippets[name].precision,
            "snippet_recall": snippets[name].recall,
            **{f"{key}_accuracy": accuracy(flags) for key, flags in meta[name].items()},
            **{f"{key}_pages": len(flags) for key, flags in meta[name].items()},
            "article_precision": precision,
            "article_recall": recall,
            "non_articles_with_text": kept / non_articles if non_articles else 0.0,
            "non_articles_with_text_by_type": dict(kept_by_type[name]),
        }
    return figures


def evaluate_modern(
    root: Path, limit: int | None, workers: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score both extractors on modern-devset; return the figures and per-page rows."""
    pages = load_modern_pages(root)
    pages = pages[:limit] if limit else pages
    timing, rows, errors, failures = Timing(), [], 0, 0
    results: list[ModernResult] = []
    jobs = [Job(page.path, page.url, turn) for turn, page in enumerate(pages)]
    for page, run in zip(pages, run_jobs(MODERN, jobs, workers), strict=True):
        timing.add(run)
        errors += run.error is not None
        failures += run.our_failed
        article = run.article
        their_title, their_author, their_date = run.trafilatura_metadata
        result = ModernResult(
            page,
            {"ours": run.our_text, "trafilatura": run.trafilatura_text},
            {
                "ours": (
                    article.title if article else None,
                    list(article.authors) if article else [],
                    article.published if article else None,
                ),
                "trafilatura": (their_title, (their_author or "").split(";"), their_date),
            },
        )
        results.append(result)
        row: dict[str, Any] = {
            "id": page.id,
            "file": page.path.name,
            "url": page.url,
            "half": page_half(page.url),
            "page_type": page.page_type,
            "ours_is_article": article is not None,
            "ms": run.ms,
            "error": run.error,
            "our_log": run.our_reason,
        }
        if page.is_article:
            for name, text in result.texts.items():
                counts = shingle_counts(page.main_content, text)
                row[f"{name}_body"] = {
                    "f1": counts.f1,
                    "precision": counts.precision,
                    "recall": counts.recall,
                }
            ours_title, ours_authors, ours_published = result.predicted["ours"]
            ours_text = collapse_whitespace(run.our_text or "")
            row.update(
                {
                    "f1": row["ours_body"]["f1"],
                    "truth": {
                        "title": page.title,
                        "author": page.author,
                        "date": page.publish_date,
                    },
                    "predicted": {
                        "title": ours_title,
                        "authors": ours_authors,
                        "published": str(ours_published) if ours_published else None,
                    },
                    "missing_with": [
                        w for w in page.with_ if collapse_whitespace(w) not in ours_text
                    ],
                    "found_without": [
                        w for w in page.without if ours_text and collapse_whitespace(w) in ours_text
                    ],
                }
            )
        row["text"] = run.our_text
        row["trafilatura_text"] = run.trafilatura_text
        rows.append(row)

    figures: dict[str, Any] = {
        **modern_scores(results),
        "errors": errors,
        "our_failures": failures,
        "halves": {
            half: modern_scores([r for r in results if page_half(r.page.url) == half])
            for half in HALVES
        },
    }
    figures["timing"] = timing.summary()
    figures["targets"] = _modern_targets(figures)
    return figures, rows


def _modern_targets(figures: dict[str, Any]) -> dict[str, Any]:
    """The modern-devset targets with their pass marks: body F1 on the whole and on half B,
    metadata on half B, is-article on the whole."""
    ours = figures["ours"]
    held = figures["halves"][HELD_OUT_HALF]["ours"]
    targets = {
        "body_f1": _target(
            min(ours["body_f1"], held["body_f1"]), TARGET_BODY_F1, f">= {TARGET_BODY_F1} (all, B)"
        ),
        "title": _target(held["title_accuracy"], TARGET_TITLE, f">= {TARGET_TITLE} (B)"),
        "authors": _target(held["authors_accuracy"], TARGET_AUTHORS, f">= {TARGET_AUTHORS} (B)"),
        "date": _target(held["date_accuracy"], TARGET_DATE, f">= {TARGET_DATE} (B)"),
        "article_precision": _target(
            ours["article_precision"],
            TARGET_ARTICLE_PRECISION,
            f">= {TARGET_ARTICLE_PRECISION} (all)",
        ),
        "article_recall": _target(
            ours["article_recall"], TARGET_ARTICLE_RECALL, f">= {TARGET_ARTICLE_RECALL} (all)"
        ),
    }
    targets.update(_time_target(figures["timing"]))
    return targets


# --- report ------------------------------------------------------------------------------

# The columns of the report: each extractor on the whole set and on each half
COLUMNS = (
    ("ours", None, "ours"),
    ("ours", "A", "ours A"),
    ("ours", "B", "ours B"),
    ("trafilatura", None, "traf."),
    ("trafilatura", "A", "traf. A"),
    ("trafilatura", "B", "traf. B"),
)
COLUMN_WIDTH = 10


def _mark(targets: dict[str, Any], key: str) -> str:
    """The target text and PASS/FAIL mark of one figure, or nothing."""
    target = targets.get(key)
    if target is None:
        return ""
    verdict = {True: "PASS", False: "FAIL", None: "n/a (--jobs > 1)"}[target["pass"]]
    return f"{target['target']:<26} {verdict}"


def _table(
    title: str, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[str], str]]
) -> Iterator[str]:
    """Lines of a fixed-width table: label, one value per column, target mark."""
    yield title
    yield f"  {'':<32}" + "".join(f"{c:>{COLUMN_WIDTH}}" for c in columns) + "   target"
    for label, values, mark in rows:
        cells = "".join(f"{v:>{COLUMN_WIDTH}}" for v in values)
        padding = " " * COLUMN_WIDTH * (len(columns) - len(values))
        yield f"  {label:<32}{cells}" + (f"{padding}   {mark}" if mark else "")


def _fmt(value: float | None, digits: int = 4) -> str:
    """A figure with fixed decimals, '-' for none."""
    return "-" if value is None else f"{value:.{digits}f}"


def _columns(figures: dict[str, Any], key: str) -> list[str]:
    """One figure of every column: each extractor on the whole set, on half A and on half B."""
    values = []
    for name, half, _ in COLUMNS:
        scope = figures if half is None else figures["halves"][half]
        values.append(_fmt(scope[name][key]) if name in scope else "-")
    return values


def _halves_line(figures: dict[str, Any]) -> str:
    pages = figures["halves"]
    return (
        f"  halves by site (hash of the host): A {pages['A']['pages']} pages (tuned on), "
        f"B {pages['B']['pages']} pages (never tuned on)"
    )


def _timing_rows(
    timing: dict[str, Any], targets: dict[str, Any]
) -> list[tuple[str, list[str], str]]:
    """Rows for median and p95 times and the ratio (whole set: ours, then trafilatura)."""
    blank = [""] * 2
    rows = [
        ("median ms/page (ours, traf.)", [_fmt(timing["ours"]["median_ms"], 1), *blank,
                                           _fmt(timing["trafilatura"]["median_ms"], 1)], ""),
        ("p95 ms/page (ours, traf.)", [_fmt(timing["ours"]["p95_ms"], 1), *blank,
                                        _fmt(timing["trafilatura"]["p95_ms"], 1)], ""),
        (
            "trafilatura+metadata median ms",
            [*blank, "", _fmt(timing["trafilatura+metadata"]["median_ms"], 1)],
            "",
        ),
        (
            "lxml parse floor median/p95",
            [*blank, "", f"{timing['lxml']['median_ms']:.1f}/{timing['lxml']['p95_ms']:.1f}"],
            "",
        ),
        (
            "median ratio ours/trafilatura",
            [_fmt(timing["ratio_ours_trafilatura"], 2)],
            _mark(targets, "time_ratio"),
        ),
        (
            "  ... ours/trafilatura+metadata",
            [_fmt(timing["ratio_ours_trafilatura_metadata"], 2)],
            "",
        ),
    ]  # fmt: skip
    return rows


def extraction_report(figures: dict[str, Any]) -> list[str]:
    """Readable lines for the extraction-devset figures."""
    targets = figures["targets"]
    columns = [label for _, _, label in COLUMNS]
    if "trafilatura_reference" in figures:
        columns.append("traf. eval")
    rows: list[tuple[str, list[str], str]] = []
    for metric in ("f1", "precision", "recall"):
        values = _columns(figures, metric)
        if "trafilatura_reference" in figures:
            values.append(_fmt(figures["trafilatura_reference"][metric]))
        rows.append((metric, values, _mark(targets, metric)))
    rows.extend(_timing_rows(figures["timing"], targets))
    title = f"{EXTRACTION}: {figures['pages']} pages (snippet metric)"
    lines = [*_table(title, columns, rows), _halves_line(figures)]
    for name in ("ours", "trafilatura"):
        counts = "/".join(str(figures[name][k]) for k in ("tp", "fp", "fn", "tn"))
        lines.append(f"  tp/fp/fn/tn {name}: {counts}")
    if figures["missing_files"]:
        lines.append(f"  annotated files missing: {len(figures['missing_files'])}")
    if figures["errors"]:
        lines.append(f"  pages where trafilatura or lxml raised: {figures['errors']}")
    if figures["our_failures"]:
        lines.append(f"  pages where our extractor failed: {figures['our_failures']}")
    return lines


def modern_report(figures: dict[str, Any]) -> list[str]:
    """Readable lines for the modern-devset figures."""
    targets = figures["targets"]
    ours, plain = figures["ours"], figures["trafilatura"]
    held = figures["halves"][HELD_OUT_HALF]["ours"]

    def row(label: str, key: str, target: str = "") -> tuple[str, list[str], str]:
        return label, _columns(figures, key), _mark(targets, target)

    rows: list[tuple[str, list[str], str]] = [
        row("body F1 (shingles, articles)", "body_f1", "body_f1"),
        row("body precision", "body_precision"),
        row("body recall", "body_recall"),
        row("body F1 mean over pages", "body_mean_page_f1"),
        row("snippet F1 (articles)", "snippet_f1"),
        row("snippet precision", "snippet_precision"),
        row("snippet recall", "snippet_recall"),
        row(f"title accuracy (n={ours['title_pages']}, B {held['title_pages']})",
            "title_accuracy", "title"),
        row("title exact, site suffix counted", "title_strict_accuracy"),
        row(f"author accuracy (n={ours['authors_pages']}, B {held['authors_pages']})",
            "authors_accuracy", "authors"),
        row(f"date accuracy (n={ours['date_pages']}, B {held['date_pages']})",
            "date_accuracy", "date"),
        row("date within 1 day", "date_1_day_accuracy"),
        row("is-article precision", "article_precision", "article_precision"),
        row("is-article recall", "article_recall", "article_recall"),
        row("non-articles with text", "non_articles_with_text"),
    ]  # fmt: skip
    rows.extend(_timing_rows(figures["timing"], targets))
    title = (
        f"{MODERN}: {figures['pages']} pages, {figures['articles']} articles "
        f"(body: shingle F1 on articles; is-article: page_type == article)"
    )
    lines = [*_table(title, [label for _, _, label in COLUMNS], rows), _halves_line(figures)]
    totals = figures["non_articles"]
    for name in ("ours", "trafilatura") if totals else ():
        kept = ours if name == "ours" else plain
        by_type = ", ".join(
            f"{kind} {kept['non_articles_with_text_by_type'].get(kind, 0)}/{count}"
            for kind, count in sorted(totals.items())
        )
        lines.append(f"  non-articles with text, {name}: {by_type}")
    if figures["errors"]:
        lines.append(f"  pages where trafilatura or lxml raised: {figures['errors']}")
    if figures["our_failures"]:
        lines.append(f"  pages where our extractor failed: {figures['our_failures']}")
    return lines


def worst_pages(rows: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The count scored rows with the lowest F1 for ours (ties: more misses first)."""
    scored = [row for row in rows if "f1" in row]
    return sorted(
        scored,
        key=lambda row: (row["f1"], -len(row["missing_with"]) - len(row["found_without"])),
    )[:count]


def _reason(row: dict[str, Any]) -> str:
    """What our extractor logged about a page, without the URL it ends with."""
    reason = row.get("our_log") or "no reason logged"
    return reason.removesuffix(f": {row['url']}").removesuffix(f" in {row['url']}")


def worst_report(dataset: str, rows: Sequence[dict[str, Any]], count: int) -> list[str]:
    """Readable lines listing the worst pages for ours."""
    lines = [f"{dataset}: {count} worst pages for ours (F1 ours / trafilatura, file, url)"]
    for row in worst_pages(rows, count):
        theirs = row.get("trafilatura_f1", row.get("trafilatura_body", {}).get("f1"))
        lines.append(
            f"  {row['f1']:.3f} / {_fmt(theirs, 3)}  {row['file']}  {row['url']}"
            + ("" if row.get("text") else f"  [no article: {_reason(row)}]")
        )
    return lines


def write_dump(directory: Path, dataset: str, rows: Sequence[dict[str, Any]]) -> Path:
    """Write per-page results as JSON lines, worst pages for ours first."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dataset}.jsonl"
    ordered = worst_pages(rows, len(rows)) + [row for row in rows if "f1" not in row]
    with path.open("w", encoding="utf-8") as out:
        for row in ordered:
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    return path


# --- command line ------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.extract",
        description="Score aggregator.extract and plain trafilatura on the extraction devsets.",
    )
    parser.add_argument("--only", choices=sorted(DATASETS), help="run one dataset only")
    parser.add_argument("--limit", type=int, metavar="N", help="first N pages of each dataset")
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the figures as one JSON object to FILE (default: stdout; the table then "
        "goes to stderr)",
    )
    parser.add_argument("--dump", type=Path, metavar="DIR", help="write per-page results to DIR")
    parser.add_argument("--worst", type=int, default=0, metavar="N", help="list N worst pages")
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also score trafilatura with its published evaluation settings (extraction-devset)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="pages run in N processes (default 1: sequential; times are then the fairest)",
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    args = parse_args(argv)
    out: TextIO = sys.stderr if args.json == "-" else sys.stdout
    try:
        shared, devdata = shared_data_dir(), devdata_dir()
        selected = [DATASETS[args.only]] if args.only else list(DATASETS.values())
        roots = {name: unpack(name, shared, devdata) for name in selected}
    except BenchmarkError as error:
        return input_error(error)

    _set_up_process()
    results: dict[str, Any] = {
        "trafilatura_version": trafilatura.__version__,
        "lxml_version": lxml.etree.__version__,
        "trafilatura_settings": TRAFILATURA_SETTINGS,
        "limit": args.limit,
        "jobs": args.jobs,
    }
    print(f"trafilatura {trafilatura.__version__}: {TRAFILATURA_SETTINGS}", file=out)
    if args.reference:
        print(f"traf. eval: {REFERENCE_SETTINGS}", file=out)
        results["reference_settings"] = REFERENCE_SETTINGS
    where = "in one process" if args.jobs == 1 else f"in each of {args.jobs} processes"
    print(f"timing: every extractor runs on each page in turn, {where}", file=out)
    all_rows: dict[str, list[dict[str, Any]]] = {}
    if EXTRACTION in roots:
        results[EXTRACTION], all_rows[EXTRACTION] = evaluate_extraction(
            roots[EXTRACTION], args.limit, args.reference, args.jobs
        )
    if MODERN in roots:
        results[MODERN], all_rows[MODERN] = evaluate_modern(roots[MODERN], args.limit, args.jobs)
    reports = {EXTRACTION: extraction_report, MODERN: modern_report}
    for dataset in all_rows:
        if args.jobs > 1:
            # measured: two processes on two cores slow the extractors unevenly (ratio +5%)
            results[dataset]["targets"]["time_ratio"]["pass"] = None
        print("\n" + "\n".join(reports[dataset](results[dataset])), file=out)

    for dataset, rows in all_rows.items():
        if args.worst:
            print("\n" + "\n".join(worst_report(dataset, rows, args.worst)), file=out)
        if args.dump:
            path = write_dump(args.dump, dataset, rows)
            print(f"per-page results: {path}", file=sys.stderr)
    if args.json:
        text = json.dumps(results, indent=2, ensure_ascii=False, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
