"""Tests of the scoring functions of the extraction benchmark."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from benchmarks.common import percentile
from benchmarks.extract import (
    ShingleCounts,
    SnippetCounts,
    accuracy,
    author_names,
    authors_match,
    body_scores,
    collapse_whitespace,
    date_matches,
    detection_scores,
    normalise_title,
    page_half,
    page_site,
    shingle_counts,
    shingles,
    snippet_counts,
    title_matches,
    worst_pages,
)


def test_collapse_whitespace() -> None:
    assert collapse_whitespace("  a\n\n b\t\u00a0c ") == "a b c"


def test_snippet_counts_with_and_without() -> None:
    text = "The first  paragraph.\n\nShare on Twitter"
    counts = snippet_counts(
        text, ["The first paragraph.", "missing bit"], ["Share on\nTwitter", "Impressum"]
    )
    assert counts == SnippetCounts(tp=1, fp=1, fn=1, tn=1)


def test_snippet_counts_are_case_sensitive() -> None:
    assert snippet_counts("Hello world", ["hello world"], []).fn == 1


def test_snippet_counts_without_output() -> None:
    assert snippet_counts(None, ["a", "b"], ["c"]) == SnippetCounts(tp=0, fp=0, fn=2, tn=1)


def test_snippet_scores() -> None:
    total = SnippetCounts(tp=3, fp=1, fn=1, tn=5)
    total.add(SnippetCounts(tp=1, fp=0, fn=1, tn=0))
    assert (total.tp, total.fp, total.fn, total.tn) == (4, 1, 2, 5)
    assert total.precision == pytest.approx(4 / 5)
    assert total.recall == pytest.approx(4 / 6)
    assert total.f1 == pytest.approx(8 / 11)
    assert SnippetCounts().f1 == 0.0


def test_shingles_short_and_long() -> None:
    assert shingles("one two") == {("one", "two"): 1}
    assert shingles("") == {}
    assert shingles("a b c d a b c d") == {
        ("a", "b", "c", "d"): 2,
        ("b", "c", "d", "a"): 1,
        ("c", "d", "a", "b"): 1,
        ("d", "a", "b", "c"): 1,
    }


def test_shingle_counts_are_normalised() -> None:
    counts = shingle_counts("a b c d e f", "a b c d e f x y")
    assert counts.tp + counts.fp + counts.fn == pytest.approx(1)
    assert (counts.tp, counts.fp, counts.fn) == pytest.approx((3 / 5, 2 / 5, 0))
    assert counts.precision == pytest.approx(3 / 5)
    assert counts.recall == 1.0


def test_shingle_counts_of_nothing_extracted() -> None:
    counts = shingle_counts("a b c d e", None)
    assert counts == ShingleCounts(0.0, 0.0, 1.0)
    assert counts.precision is None
    assert counts.recall == 0.0
    assert counts.f1 == 0.0


def test_body_scores_average_pages_then_take_f1() -> None:
    perfect = ShingleCounts(1.0, 0.0, 0.0)
    half = ShingleCounts(0.5, 0.5, 0.0)
    empty = ShingleCounts(0.0, 0.0, 1.0)
    scores = body_scores([perfect, half, empty])
    assert scores.precision == pytest.approx(0.75)  # the empty extraction has no precision
    assert scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))
    assert scores.mean_page_f1 == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_title_normalisation() -> None:
    assert normalise_title("  The  “Best” Tools – 2025 ") == 'the "best" tools - 2025'
    assert title_matches("Don’t Panic", "don't  panic")
    assert not title_matches("Don’t Panic", "Don’t Panic | Blog", strict=True)
    assert not title_matches(None, "")


def test_title_site_suffix_counts_only_when_it_is_the_whole_difference() -> None:
    assert title_matches("Is it always the DNS? | APNIC Blog", "Is it always the DNS?")
    assert title_matches("Is it always the DNS?", "Is it always the DNS? - APNIC Blog")
    assert not title_matches("Is it always the DNS? | APNIC Blog", "Is it the DNS?")
    # a long tail is a subtitle, not a site name
    assert not title_matches(
        "Rust 2026 - what we plan to ship and why it matters to everyone", "Rust 2026"
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["By Jane Doe"], ["jane doe"]),
        (["A. Smith, B. Jones and C. Lee"], ["a smith", "b jones", "c lee"]),
        (["Maria & Katerina"], ["maria", "katerina"]),
        (["Alexander Sand; Jane Doe", "jane doe"], ["alexander sand", "jane doe"]),
    ],
)
def test_author_names(values: list[str], expected: list[str]) -> None:
    assert author_names(values) == expected


def test_authors_match() -> None:
    assert authors_match("Holly Wilgus, E-RYT 200", ["Holly Wilgus"])
    assert authors_match("Manoj Jain and Jagpreet Chhatwal", ["Jagpreet Chhatwal", "Manoj Jain"])
    assert authors_match("Dr. Ana Ruiz", ["Dr Ana Ruiz"])
    assert authors_match("Dr Ana Ruiz, Dr Bo Li", ["Ana Ruiz"])
    assert not authors_match("Dr Ana Ruiz, Dr Bo Li", ["Ana Ruiz", "Cy Oh"])
    assert authors_match("Dr Ana Ruiz", ["Ana Ruiz"])
    assert authors_match("hackermondev (Daniel)", ["Hackermondev"])
    assert not authors_match("Drake Bell", ["Ake Bell"])
    assert not authors_match("Jane Doe", [])
    assert not authors_match("Jane Doe", ["Jane Doe", "Staff Writer"])
    assert not authors_match("Manoj Jain and Jagpreet Chhatwal", ["Jagpreet Chhatwal"])


def test_date_matches() -> None:
    assert date_matches("2025-09-04", datetime(2025, 9, 4, 23, tzinfo=UTC))
    assert date_matches("2025-09-04", "2025-09-04")
    assert date_matches("2025-09-04", date(2025, 9, 4))
    assert not date_matches("2025-09-04", "2025-09-05")
    assert date_matches("2025-09-04", "2025-09-05", tolerance_days=1)
    assert not date_matches("2025-09-04", None)
    assert not date_matches(None, "2025-09-04")
    assert not date_matches("2025-09-04", "September")


def test_detection_scores() -> None:
    pairs = [(True, True), (True, True), (True, False), (False, True), (False, False)]
    assert detection_scores(pairs) == pytest.approx((2 / 3, 2 / 3))
    assert detection_scores([]) == (0.0, 0.0)


def test_percentile_and_accuracy() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 0.95) == 5.0
    assert percentile([7.0], 0.95) == 7.0
    assert accuracy([True, False, True, True]) == 0.75
    assert accuracy([]) == 0.0


def test_worst_pages_orders_by_f1_then_misses() -> None:
    rows: list[dict[str, Any]] = [
        {"file": "a", "f1": 0.5, "missing_with": [], "found_without": ["x"]},
        {"file": "b", "f1": 0.5, "missing_with": ["y", "z"], "found_without": []},
        {"file": "c", "f1": 0.1, "missing_with": [], "found_without": []},
        {"file": "d"},
    ]
    assert [row["file"] for row in worst_pages(rows, 3)] == ["c", "b", "a"]


def test_pages_split_in_halves_by_site() -> None:
    assert page_site("https://www.Example.com/a/b") == "example.com"
    assert page_site("https://web.archive.org/web/2016/http://www.blog.de/x/") == "blog.de"
    assert page_site("hard::jamaicaobserver.com-attacks.html") == "jamaicaobserver.com"
    # every page of a site in one half, and both halves used
    assert page_half("https://example.com/a") == page_half("http://www.example.com/b?c=1")
    halves = {page_half(f"https://site{n}.example/") for n in range(20)}
    assert halves == {"A", "B"}
