"""Tests of text normalisation and content hashes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.dedup.fingerprints import content_hash, normalise_text

TEXT = "Don't panic: it's “only” a 2-step deploy — really."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello,   World!", "hello world"),
        ("  leading and trailing\n\n", "leading and trailing"),
        ("tabs\tand\r\nnewlines", "tabs and newlines"),
        ("Don’t stop", "dont stop"),
        ("Don't stop", "dont stop"),
        ("“quoted” «guillemets» „low“", "quoted guillemets low"),
        ("one–two—three-four−five", "one two three four five"),
        ("STRASSE Straße", "strasse strasse"),
        ("ﬁle ① Ｆｕｌｌｗｉｄｔｈ", "file 1 fullwidth"),
        ("e\u0301 é", "é é"),
        ("zero\u200bwidth soft\u00adhyphen", "zerowidth softhyphen"),
        ("non\u00a0breaking\u2003space", "non breaking space"),
        ("C++ & C# cost $5 + 3 = 8", "c++ c cost $5 + 3 = 8"),
        ("...", ""),
        ("", ""),
        ("日本語のテキスト。句読点、あり", "日本語のテキスト 句読点 あり"),
    ],
)
def test_normalise_text(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


@pytest.mark.parametrize(
    "variant",
    [
        TEXT,
        "don't panic: it's \"only\" a 2-step deploy - really.",
        "DON’T PANIC: IT’S ‘ONLY’ A 2–STEP DEPLOY — REALLY",
        "  Don't\npanic:\tit's   “only”  a 2-step   deploy —\u00a0really. ",
        "Don't panic it's only a 2 step deploy really",
    ],
)
def test_content_hash_same_across_variants(variant: str) -> None:
    assert content_hash(variant) == content_hash(TEXT)


@pytest.mark.parametrize(
    "other",
    [
        "Don't panic: it's only a 3-step deploy — really.",
        "Do panic: it's “only” a 2-step deploy — really.",
        "Don't panic: it's “only” a 2-step deploy — really. Really.",
        "",
    ],
)
def test_content_hash_differs_for_different_text(other: str) -> None:
    assert content_hash(other) != content_hash(TEXT)


def test_content_hash_is_sha256_hex_of_normalised_text() -> None:
    digest = content_hash(TEXT)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest == hashlib.sha256(normalise_text(TEXT).encode()).hexdigest()


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_normalise_text_is_idempotent(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once
    assert once == once.strip() and "  " not in once


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from([" ", "\n", "\t", "  \u00a0", "\u2003"]))
def test_content_hash_ignores_whitespace(text: str, space: str) -> None:
    assert content_hash(space + space.join(text.split()) + space) == content_hash(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzÀÉÎßæø0123456789 ,.;:!?'\"-–—“”‘’"))
def test_content_hash_ignores_case_and_punctuation_variants(text: str) -> None:
    assert content_hash(text.upper()) == content_hash(text)
    assert content_hash(text.translate(str.maketrans("’“”–", '\'""-'))) == content_hash(text)
