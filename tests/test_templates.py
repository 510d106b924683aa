"""Per-site templates: paragraphs that recur on several pages of one source are its boilerplate."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, select

from aggregator.cli import main
from aggregator.extract.templates import block_key, learn_boilerplate, strip_boilerplate
from aggregator.store.db import session_scope
from aggregator.store.models import Article, TemplateBlock

# A line only this site writes under every post: no general clutter rule knows it
PROMO = "Kernel Weekly is written in Lisbon by three engineers and a patient cat named Ferris."
TOPICS = ["schedulers", "allocators", "file systems", "network stacks", "page caches", "drivers"]


def body(topic: str) -> str:
    """Two paragraphs of its own about the topic, then the site's recurring line."""
    rng = random.Random(topic)
    words = ["".join(rng.sample("bdfgklmnprstvz", 3)) + v for v in "aeiouaeiouaeiou"]
    first = f"This week: {topic}. " + " ".join(rng.sample(words, 12)) + "."
    second = f"Measurements of {topic} follow. " + " ".join(rng.sample(words, 12)) + "."
    return f"{first}\n\n{second}\n\n{PROMO}"


def test_learn_keeps_only_paragraphs_recurring_on_enough_pages() -> None:
    texts = [body(t) for t in TOPICS[:3]]
    learned = learn_boilerplate(texts, min_pages=3)
    assert list(learned.values()) == [PROMO]
    assert learn_boilerplate(texts[:2], min_pages=3) == {}
    key = block_key(PROMO)
    assert key is not None
    stripped = strip_boilerplate(body("drivers"), frozenset({key}))
    assert PROMO not in stripped and stripped.count("\n\n") == 1
    # A paragraph that merely mentions the promo's words is not the promo
    assert strip_boilerplate("Kernel Weekly is written in Lisbon, readers say.", frozenset({key}))


def test_import_learns_the_boilerplate_and_reextract_cleans_older_pages(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"url": f"https://kw.example/{n}", "source": "kw", "title": t, "text": body(t)})
        for n, t in enumerate(TOPICS)
    ]
    path = tmp_path / "kw.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["--db", db_url, "import", str(path)])
    assert result.exit_code == 0, result.output
    with session_scope(engine) as session:
        texts = {a.url: a.text for a in session.scalars(select(Article))}
        learned = session.scalars(select(TemplateBlock.sample)).all()
    assert learned == [PROMO]
    with_promo = [url for url, text in texts.items() if PROMO in text]
    # The first pages arrive before the promo is recognised; the later ones are clean
    assert 1 <= len(with_promo) <= 3
    assert "https://kw.example/5" not in with_promo

    result = CliRunner().invoke(main, ["--db", db_url, "reextract", "--json"])
    assert json.loads(result.output)["updated"] == len(with_promo)
    with session_scope(engine) as session:
        assert all(PROMO not in a.text for a in session.scalars(select(Article)))
        assert all(a.text.count("\n\n") == 1 for a in session.scalars(select(Article)))
