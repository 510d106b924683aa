"""Full-text search and export on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, delete, select, update

from aggregator.cli import main
from aggregator.ingest import fingerprint_page, save_article
from aggregator.items import Article as CleanArticle
from aggregator.items import PageItem
from aggregator.store.articles import ensure_source
from aggregator.store.db import session_scope
from aggregator.store.models import Article
from aggregator.store.search import (
    SNIPPET_END,
    SNIPPET_START,
    Filters,
    SearchQueryError,
    Term,
    fts5_query,
    parse_query,
    search,
    split_snippet,
    tsquery,
)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
FILLER = "The team measured the change on three machines over a week."


def _filler(number: int) -> str:
    """Words of one post only, so no two test posts are near-duplicates."""
    return " ".join(f"note{number}x{i}" for i in range(50))


POSTS = [
    # (source, title, authors, tags, days ago, body)
    ("lwn", "Rust in the kernel: memory safety lands", ["Jonathan Corbet"], ["rust"], 1,
     "Memory safety arrives in the kernel as the first Rust drivers are merged."),
    ("lwn", "Compiler caches for faster builds", ["Jake Edge"], ["tools"], 3,
     "A compiler cache avoids rebuilding objects; ccache and sccache compared."),
    ("hackaday", "A soldering robot with memory", ["Maya Posch"], ["hardware"], 10,
     "The robot remembers joints; its memory is a small EEPROM, not safety critical."),
    ("devwire", "Kubernetes 2.0 drops the old scheduler", ["Sam Whitfield"], ["kubernetes"], 2,
     "Kubernetes moves to a new scheduler. Helm charts need changes for memory limits."),
]  # fmt: skip


def _store(engine: Engine) -> dict[str, int]:
    ids = {}
    with session_scope(engine) as session:
        for number, (source, title, authors, tags, days, body) in enumerate(POSTS):
            ensure_source(session, source, f"https://{source}.example/")
            item = PageItem(url=f"https://{source}.example/{number}", source=source, body=b"<p/>")
            item.article = CleanArticle(
                title=title,
                text=f"{body}\n\n{FILLER} {_filler(number)}.",
                authors=authors,
                tags=tags,
                published=NOW - timedelta(days=days),
            )
            fingerprint_page(item)
            result = save_article(session, item)
            ids[title] = result.article_id
    return ids


@pytest.fixture
def stored(engine: Engine) -> dict[str, int]:
    return _store(engine)


def _titles(engine: Engine, query: str, **filters: object) -> list[str]:
    with session_scope(engine) as session:
        return [hit.article.title for hit in search(session, query, Filters(**filters))]  # type: ignore[arg-type]


# -- the query syntax --------------------------------------------------------------------


def test_query_syntax_is_parsed_into_terms() -> None:
    assert parse_query('rust "memory safety" compil* -helm') == [
        Term(("rust",)),
        Term(("memory", "safety")),
        Term(("compil",), prefix=True),
        Term(("helm",), excluded=True),
    ]
    # punctuation an engine would read as syntax is only a separator here
    assert parse_query("node.js NEAR(a) col:umn") == [
        Term(("node", "js")),
        Term(("near", "a")),
        Term(("col", "umn")),
    ]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ('"memory safety', "unbalanced quote"),
        ("-rust -helm", "nothing to search for"),
        ("   ", "nothing to search for"),
        ("a*", "too short"),
        ("x" * 600, "longer than"),
    ],
)
def test_bad_queries_get_a_clear_reason(query: str, reason: str) -> None:
    with pytest.raises(SearchQueryError, match=reason):
        parse_query(query)


def test_engine_queries() -> None:
    terms = parse_query('rust "memory safety" compil* -helm')
    assert fts5_query(terms) == '"rust" AND "memory safety" AND "compil"* NOT "helm"'
    assert tsquery(terms) == "'rust' & ('memory' <-> 'safety') & 'compil':* & !'helm'"


# -- search on both engines --------------------------------------------------------------


def test_ranked_with_title_matches_first_and_highlighted(
    engine: Engine, stored: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        hits = search(session, "memory")
        titles = [hit.article.title for hit in hits]
        assert set(titles) == {
            "Rust in the kernel: memory safety lands",
            "A soldering robot with memory",
            "Kubernetes 2.0 drops the old scheduler",
        }
        assert titles[-1] == "Kubernetes 2.0 drops the old scheduler"  # body only
        assert hits[0].score >= hits[1].score >= hits[2].score
        snippet, spans = split_snippet(hits[0].snippet)
        assert SNIPPET_START not in snippet and spans
        assert all(snippet[a:b].lower().startswith("memor") for a, b in spans)


def test_phrases_prefixes_and_exclusions(engine: Engine, stored: dict[str, int]) -> None:
    assert _titles(engine, '"memory safety"') == ["Rust in the kernel: memory safety lands"]
    assert _titles(engine, "compil*") == ["Compiler caches for faster builds"]
    assert "Kubernetes 2.0 drops the old scheduler" not in _titles(engine, "memory -helm")
    assert _titles(engine, "scheduler kubernetes") == ["Kubernetes 2.0 drops the old scheduler"]
    assert _titles(engine, "nonexistentword") == []


def test_filters(engine: Engine, stored: dict[str, int]) -> None:
    assert _titles(engine, "memory", source="hackaday") == ["A soldering robot with memory"]
    assert _titles(engine, "memory", author="jonathan corbet") == [
        "Rust in the kernel: memory safety lands"
    ]
    assert _titles(engine, "memory", tag="kubernetes") == ["Kubernetes 2.0 drops the old scheduler"]
    recent = _titles(engine, "memory", since=NOW - timedelta(days=5))
    assert "A soldering robot with memory" not in recent and len(recent) == 2
    assert _titles(engine, "memory", until=NOW - timedelta(days=5)) == [
        "A soldering robot with memory"
    ]
    with session_scope(engine) as session:
        story = session.get(Article, stored["Compiler caches for faster builds"]).story_id  # type: ignore[union-attr]
    assert _titles(engine, "compiler", story=story) == ["Compiler caches for faster builds"]
    assert _titles(engine, "memory", source="nosuchsource") == []


def test_index_follows_duplicates_reextraction_and_pruning(
    engine: Engine, stored: dict[str, int]
) -> None:
    robot = stored["A soldering robot with memory"]
    with session_scope(engine) as session:
        session.execute(
            update(Article)
            .where(Article.id == robot)
            .values(title="A soldering robot", text="It solders. " + _filler(9))
        )
    assert "A soldering robot" not in _titles(engine, "memory")
    assert _titles(engine, "solders") == ["A soldering robot"]
    with session_scope(engine) as session:
        session.execute(
            update(Article)
            .where(Article.id == robot)
            .values(duplicate_of=stored["Compiler caches for faster builds"])
        )
    assert _titles(engine, "solders") == []  # copies are hidden
    with session_scope(engine) as session:
        session.execute(
            delete(Article).where(Article.id == stored["Compiler caches for faster builds"])
        )
    assert _titles(engine, "compiler") == []


def test_hostile_input_is_only_words(engine: Engine, stored: dict[str, int]) -> None:
    # engine syntax in a query is read as plain words: no error, no injection
    for query in ("kernel OR 1=1", "kernel'); DROP TABLE articles; --", "kernel:* | !x"):
        assert _titles(engine, query) == [], query
    for query in ("kernel)", "(kernel", "kernel;", "KERNEL"):
        assert _titles(engine, query) == ["Rust in the kernel: memory safety lands"], query


# -- commands ----------------------------------------------------------------------------


def test_search_command(db_url: str, engine: Engine, stored: dict[str, int]) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--db", db_url, "search", "memory", "--json", "--limit", "2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    assert {"id", "url", "title", "text", "story_id", "score", "snippet", "highlights"} <= set(
        rows[0]
    )
    assert rows[0]["score"] >= rows[1]["score"]
    start, end = rows[0]["highlights"][0]
    assert rows[0]["snippet"][start:end].lower() == "memory"
    human = runner.invoke(main, ["--db", db_url, "search", "compil*"])
    assert "Compiler caches for faster builds" in human.output and "[" in human.output
    bad = runner.invoke(main, ["--db", db_url, "search", '"unclosed'])
    assert bad.exit_code == 1 and "unbalanced quote" in bad.output
    assert "Traceback" not in bad.output
    assert SNIPPET_END not in human.output


def test_export_formats(db_url: str, engine: Engine, stored: dict[str, int]) -> None:
    runner = CliRunner()
    lines = runner.invoke(main, ["--db", db_url, "export"]).output.splitlines()
    assert len(lines) == len(POSTS) and json.loads(lines[0])["title"]
    table = list(
        csv.DictReader(
            io.StringIO(runner.invoke(main, ["--db", db_url, "export", "--format", "csv"]).output)
        )
    )
    assert {row["title"] for row in table} == {post[1] for post in POSTS}
    assert table[0]["authors"] and table[0]["text"]
    atom = runner.invoke(main, ["--db", db_url, "export", "--format", "atom", "--source", "lwn"])
    feed = feedparser.parse(atom.output)
    assert not feed.bozo, feed.get("bozo_exception")
    assert {entry.title for entry in feed.entries} == {POSTS[0][1], POSTS[1][1]}
    assert feed.entries[0].author


def test_atom_of_hostile_text_is_well_formed(engine: Engine, tmp_path: Path) -> None:
    from aggregator.export import atom_lines

    with session_scope(engine) as session:
        ensure_source(session, "evil", "https://evil.example/")
        item = PageItem(url="https://evil.example/x", source="evil", body=b"<p/>")
        item.article = CleanArticle(
            title='<script>alert("x")</script> & ]]> \x01',
            text="<img src=x onerror=alert(1)> body " + _filler(7),
            authors=["<b>Mallory</b>"],
            published=NOW,
        )
        fingerprint_page(item)
        save_article(session, item)
    with session_scope(engine) as session:
        articles = session.scalars(select(Article)).all()
        feed = feedparser.parse("".join(atom_lines(articles, "t", "urn:x")))
    assert not feed.bozo
    assert feed.entries[0].title.startswith('<script>alert("x")</script> &')


def test_csv_export_makes_formula_cells_inert(db_url: str, engine: Engine) -> None:
    starts = ['=HYPERLINK("https://evil.example","x")', "+1+2", "-3+4", "@SUM(A1)"]
    with session_scope(engine) as session:
        ensure_source(session, "evil", "https://evil.example/")
        for number, title in enumerate(starts):
            item = PageItem(url=f"https://evil.example/{number}", source="evil", body=b"<p/>")
            item.article = CleanArticle(
                title=title, text=f"Body {_filler(20 + number)}", authors=["=cmd|'/c calc'!A0"]
            )
            fingerprint_page(item)
            save_article(session, item)
    output = CliRunner().invoke(main, ["--db", db_url, "export", "--format", "csv"]).output
    table = list(csv.DictReader(io.StringIO(output)))
    assert sorted(row["title"] for row in table) == sorted("'" + title for title in starts)
    assert {row["authors"] for row in table} == {"'=cmd|'/c calc'!A0"}
    # cells that only start with ordinary text are left as they are
    assert all(row["url"].startswith("https://") for row in table)
    assert all(row["text"].startswith("Body") for row in table)
