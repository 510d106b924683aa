"""Two crawler processes writing the same and related articles into one database at once."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article
from tests.support import ROOT

SYLLABLES = ["ka", "ro", "mi", "ten", "zu", "vel", "dor", "pa", "qui", "lon", "sar", "bex"]
EVENTS = 30


def event_texts(n: int) -> tuple[str, str, str, str]:
    """A title, an original text, a lightly edited copy and a related write-up of event n."""
    rng = random.Random(n)
    # Made-up words: every event has a vocabulary of its own, as real events mostly do
    vocabulary = ["".join(rng.sample(SYLLABLES, 4)) for _ in range(12)]
    subject = vocabulary[0].title()
    sentences = [
        f"{subject} {' '.join(rng.sample(vocabulary[1:], 5))} {rng.randint(10, 999)}."
        for _ in range(10)
    ]
    original = " ".join(sentences[:5]) + "\n\n" + " ".join(sentences[5:])
    copy = original.replace(sentences[3], sentences[3].upper()) + "\n\nFirst published on Wire."
    related = (
        sentences[0]
        + " "
        + " ".join(f"{subject} {' '.join(rng.sample(vocabulary[1:], 4))}." for _ in range(6))
    )
    return f"{subject} ships {vocabulary[1]} {vocabulary[2]}", original, copy, related


def write_lines(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")


def test_two_processes_link_every_copy_and_make_one_story_per_event(
    db_url: str, tmp_path: Path
) -> None:
    first, second = [], []
    for n in range(EVENTS):
        title, original, copy, related = event_texts(n)
        day = f"2026-11-20T{10 + n % 10:02d}:00:00Z"
        first.append(
            {
                "url": f"https://a.example/{n}",
                "source": "a",
                "title": title,
                "text": original,
                "published": day,
            }
        )
        second.append(
            {
                "url": f"https://b.example/{n}",
                "source": "b",
                "title": title,
                "text": copy,
                "published": day,
            }
        )
        second.append(
            {
                "url": f"https://c.example/{n}",
                "source": "c",
                "title": title,
                "text": related,
                "published": day,
            }
        )
    write_lines(tmp_path / "first.jsonl", first)
    write_lines(tmp_path / "second.jsonl", second)
    open_store(db_url).dispose()  # migrate once, so both processes start writing at once
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--db", db_url, "import", str(tmp_path / name)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first.jsonl", "second.jsonl")
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr[-2000:]

    engine = open_store(db_url)
    with session_scope(engine) as session:
        rows = {a.url: a for a in session.scalars(select(Article))}
        assert len(rows) == 3 * EVENTS
        for n in range(EVENTS):
            a, b, c = (rows[f"https://{s}.example/{n}"] for s in "abc")
            # Exactly one of the two copies is the original, whichever process came first
            assert {a.duplicate_of, b.duplicate_of} in ({None, a.id}, {None, b.id}), n
            original = a if a.duplicate_of is None else b
            assert a.story_id == b.story_id == original.story_id is not None
            assert c.duplicate_of is None
            assert c.story_id == original.story_id, n
        assert len({a.story_id for a in rows.values()}) == EVENTS
    engine.dispose()
