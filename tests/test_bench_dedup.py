"""Tests of the dedup benchmarks: edit generators, pair scorer (near), the cost fill (store)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select

from aggregator.dedup.fingerprints import content_hash, minhash_signature
from aggregator.ingest import save_article
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, Story, StoryKey, TermFrequency
from benchmarks.dedup import LinkScore, exact_hash_roots, score_links
from benchmarks.dedup_store import (
    STORY_PARAMS,
    Corpus,
    FillState,
    StorySnapshot,
    _create_sources,
    _FastFingerprints,
    _fill_chunk,
    _restore,
    _store_terms,
    fill_store,
    generate_text,
    make_probes,
)
from benchmarks.dedup_texts import (
    add_boilerplate,
    change_words,
    drop_paragraph,
    droppable,
    paragraphs,
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


def _corpus(seed: int = 1) -> Corpus:
    """Sentences of random words: generated texts share words, not whole passages."""
    rng = random.Random(seed)
    words = tuple(f"{rng.choice('bcdfgklmnprst')}{rng.choice('aeiou')}{n}x" for n in range(600))
    found = tuple(
        " ".join([rng.choice(words).title(), *rng.choices(words, k=rng.randint(6, 14))]) + "."
        for _ in range(400)
    )
    return Corpus(sentences=found, words=words)


NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_fill_chunk_groups_every_article_into_a_story() -> None:
    chunk = _fill_chunk((_corpus(), 1, 120, 4, NOW))
    stories = {row["id"]: row for row in chunk.stories}
    originals = [row for row in chunk.articles if row["duplicate_of"] is None]
    assert chunk.originals == len(originals)
    assert 0 < len(stories) < len(originals)
    members: dict[int, int] = {}
    for row in originals:
        assert row["story_id"] in stories
        members[row["story_id"]] = members.get(row["story_id"], 0) + 1
    for row in chunk.articles:
        if row["duplicate_of"] is not None:
            original = next(r for r in chunk.articles if r["id"] == row["duplicate_of"])
            assert row["story_id"] == original["story_id"]
    for story_id, story in stories.items():
        assert story["article_count"] == members[story_id]
        assert 1 <= len(story["profile"]["keys"]) <= STORY_PARAMS.story_keys
        assert story["first_seen"] <= story["last_seen"]
    assert {key["story_id"] for key in chunk.story_keys} == set(stories)
    assert [band["band"] for band in chunk.bands] == sorted(band["band"] for band in chunk.bands)
    assert sum(chunk.terms.values()) > 0


def _dump(engine: Engine, table: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(select(table)))


def test_restore_undoes_the_probes(db_url: str, tmp_path: Path) -> None:
    corpus = _corpus()
    engine = open_store(db_url)
    tables: list[Table] = [
        Article.__table__,  # type: ignore[list-item]
        Story.__table__,  # type: ignore[list-item]
        StoryKey.__table__,  # type: ignore[list-item]
        TermFrequency.__table__,  # type: ignore[list-item]
    ]
    try:
        _create_sources(engine)
        state = FillState()
        fill_store(db_url, corpus, state, 1000, 4, NOW, 1, tmp_path)
        assert state.filled == 1000
        before = {table.name: _dump(engine, table) for table in tables}
        assert all(before.values())
        probes = make_probes(corpus, engine, 4, NOW, 8, 4)
        snapshot = StorySnapshot.take(engine, datetime(2026, 10, 20, tzinfo=UTC))
        added, statuses = [], []
        for page in probes:
            with session_scope(engine) as session:
                status = save_article(session, page, keep_raw=False).status
            statuses.append(status)
            if status == "inserted":
                added.append(_store_terms(page))
        assert sorted(statuses) == ["duplicate"] * 4 + ["inserted"] * 4
        _restore(engine, 1000, snapshot, added)
        assert {table.name: _dump(engine, table) for table in tables} == before
    finally:
        engine.dispose()
