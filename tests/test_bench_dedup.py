"""Tests of the pure parts of the near-duplicate benchmark: edit generators and pair scorer."""

from __future__ import annotations

import random

from aggregator.dedup.fingerprints import content_hash, minhash_signature
from benchmarks.dedup import (
    Corpus,
    LinkScore,
    _FastFingerprints,
    add_boilerplate,
    change_words,
    drop_paragraph,
    droppable,
    exact_hash_roots,
    generate_text,
    paragraphs,
    score_links,
    sentences,
    swap_sentences,
    syndication_lines,
)

LONG = " ".join(f"word{i}" for i in range(30))
TEXT = "\n\n".join(
    [
        "Lead paragraph. It opens the story.",
        f"Second paragraph {LONG}. It goes on.",
        f"Third paragraph {LONG}. It ends here.",
        f"Fourth paragraph {LONG}. The last one.",
        f"Fifth paragraph {LONG}. Really the last.",
        f"Sixth paragraph {LONG}. Done.",
    ]
)


def test_drop_paragraph_drops_one_body_paragraph() -> None:
    before = paragraphs(TEXT)
    for seed in range(10):
        after = paragraphs(drop_paragraph(TEXT, random.Random(seed)))
        assert len(after) == len(before) - 1
        assert after[0] == before[0]
        assert set(after) < set(before)


def test_drop_paragraph_leaves_a_text_without_droppable_paragraph() -> None:
    single = f"Only one paragraph {LONG}."
    assert droppable(single, 0.2) == []
    assert drop_paragraph(single, random.Random(1)) == single
    # One paragraph holding most of the words is never cut: that would make an excerpt
    lopsided = f"Intro.\n\n{LONG} {LONG} {LONG}.\n\nOutro {LONG}."
    assert 1 not in droppable(lopsided, 0.2)


def test_add_boilerplate_puts_lines_around_the_text() -> None:
    text = add_boilerplate("Body.", ["Before."], ["After one.", "After two."])
    assert paragraphs(text) == ["Before.", "Body.", "After one.", "After two."]


def test_syndication_lines_name_origin_and_outlet() -> None:
    for seed in range(10):
        before, after = syndication_lines("origin.example", "outlet", random.Random(seed))
        lines = [*before, *after]
        assert any("origin.example" in line for line in lines)
        assert "outlet" in after[-1]


def test_swap_sentences_reorders_two_sentences_of_one_paragraph() -> None:
    text = "One. Two. Three.\n\nSecond paragraph."
    swapped = swap_sentences(text, random.Random(3))
    first = paragraphs(swapped)[0]
    assert swapped != text
    assert sorted(sentences(first)) == sorted(["One.", "Two.", "Three."])
    assert paragraphs(swapped)[1] == "Second paragraph."
    assert swap_sentences("No second sentence here", random.Random(1)) == (
        "No second sentence here"
    )


def test_change_words_changes_and_inserts_the_given_counts() -> None:
    words = [f"w{i}" for i in range(100)]
    changed = change_words(" ".join(words), random.Random(5), changes=3, inserts=2).split()
    assert len(changed) == 102
    assert len(set(words) - set(changed)) == 3


def test_generate_text_length_and_fast_fingerprints() -> None:
    corpus = Corpus(
        sentences=("The quick brown fox jumps over the dog.", "Ein „Satz“ mit Umlauten – ÄÖÜ."),
        words=("Don’t", "naïve", "café", "x-ray", "ﬁne"),
    )
    body = generate_text(corpus, random.Random(2), 300, 600)
    assert 300 <= len(body) <= 900
    assert _FastFingerprints()(body) == (content_hash(body), minhash_signature(body))


def test_score_links_counts_tp_fp_fn() -> None:
    truth = {"o": "g1", "c1": "g1", "c2": "g1", "n": "n", "m": "m"}
    copies = {"c1": "o", "c2": "o"}
    # c1 found, c2 missed, n wrongly linked to m
    roots = {"o": "o", "c1": "o", "c2": "c2", "n": "m", "m": "m"}
    assert score_links(truth, roots, copies) == LinkScore(tp=1, fp=1, fn=1)


def test_score_links_copy_as_root_and_wrong_group() -> None:
    truth = {"o": "g1", "c": "g1", "n": "n"}
    # The copy stored first is the root of its group: the original linked to it is right
    assert score_links(truth, {"o": "c", "c": "c", "n": "n"}, {"c": "o"}) == LinkScore(1, 0, 0)
    # The original linked to an unrelated article drags its copy along: both links wrong
    wrong = score_links(truth, {"o": "n", "c": "n", "n": "n"}, {"c": "o"})
    assert wrong == LinkScore(tp=0, fp=2, fn=1)
    assert wrong.precision == 0.0
    assert LinkScore(0, 0, 0).precision == 1.0


def test_exact_hash_roots_take_the_first_stored() -> None:
    roots = exact_hash_roots(["b", "a", "c"], {"a": "h1", "b": "h1", "c": "h2"})
    assert roots == {"b": "b", "a": "b", "c": "c"}
