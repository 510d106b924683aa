"""Keyset pages and the search order: the same answers on SQLite and PostgreSQL, page by page."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert, select, update
from starlette.testclient import TestClient

from aggregator.cli import main
from aggregator.store.articles import articles_page, list_articles
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, Source
from aggregator.store.pages import MAX_OFFSET, CursorError, encode_cursor
from aggregator.store.search import (
    FTS5_TABLES,
    Filters,
    SearchQueryError,
    optimize_text_index,
    search_page,
)
from aggregator.web import create_app
from tests.support import postgres_database

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
# Made-up words both engines' stemmers (Porter, Snowball English) leave as they are
WORDS = ["zorb", "quax", "blint", "trov", "plonk", "vurk", "gromp", "snib", "frum", "dwek"]
ARTICLES = 240


def _rows() -> list[dict[str, object]]:
    """Articles whose words (the first ones common, the last ones rare) are in title and text."""
    rng = random.Random(16)
    rows = []
    for number in range(ARTICLES):
        words = rng.choices(WORDS, weights=[30, 20, 12, 8, 5, 4, 3, 2, 1, 1], k=40)
        moment = NOW - timedelta(hours=number // 3)  # three articles share each hour: ties
        rows.append(
            {
                "id": number + 1,
                "source_id": 1 + number % 3,
                "url": f"https://s.example/{number}",
                "canonical_url": f"https://s.example/{number}",
                "title": " ".join(words[:3]).capitalize(),
                "text": " ".join(words[3:]),
                "authors": [],
                "tags": [],
                "published": moment if number % 5 else None,
                "fetched_at": moment,
                "content_hash": uuid.uuid4().hex,
                "http_headers": {},
                # every seventh article is a copy: hidden from searches and listings
                "duplicate_of": 1 if number % 7 == 6 else None,
            }
        )
    return rows


def _fill(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(Source),
            [{"id": n, "name": f"s{n}", "url": f"https://s{n}.example/"} for n in (1, 2, 3)],
        )
        connection.execute(insert(Article), _rows())


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    """The same articles in a SQLite store and a PostgreSQL store."""
    path: Path = tmp_path_factory.mktemp("pages") / "store.db"
    with postgres_database() as pg_url:
        engines = {"sqlite": open_store(f"sqlite:///{path}"), "postgresql": open_store(pg_url)}
        for engine in engines.values():
            _fill(engine)
        try:
            yield engines
        finally:
            for engine in engines.values():
                engine.dispose()


def _search_all(engine: Engine, query: str, order: str, size: int, **filters: object) -> list:
    """Every page of a search, walked by cursor: [(id, score), ...] per page."""
    pages, cursor = [], None
    with session_scope(engine) as session:
        while True:
            page = search_page(
                session,
                query,
                Filters(**filters),
                size,
                cursor,
                order,  # type: ignore[arg-type]
            )
            pages.append([(hit.article.id, hit.score) for hit in page.hits])
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor


def _expected(query: list[str], excluded: list[str], order: str) -> list[tuple[int, float]]:
    """The order spelt out: every word in the title first (relevance), then newest stored."""
    found = []
    for row in _rows():
        words = set(f"{row['title']} {row['text']}".lower().split())
        title = set(str(row["title"]).lower().split())
        if row["duplicate_of"] is None and set(query) <= words and not set(excluded) & words:
            tier = 1.0 if order == "relevance" and set(query) <= title else 0.0
            found.append((tier, int(str(row["id"]))))
    return [(id_, tier) for tier, id_ in sorted(found, reverse=True)]


@pytest.mark.postgres
@pytest.mark.parametrize("order", ["relevance", "newest"])
@pytest.mark.parametrize(
    ("query", "words", "excluded"),
    [
        ("zorb", ["zorb"], []),  # in nearly every article
        ("trov", ["trov"], []),
        ("zorb quax", ["zorb", "quax"], []),
        ("quax -gromp", ["quax"], ["gromp"]),
        ("dwek", ["dwek"], []),  # rare
    ],
)
def test_both_engines_give_the_same_pages(
    both: dict[str, Engine], query: str, words: list[str], excluded: list[str], order: str
) -> None:
    pages = {label: _search_all(engine, query, order, 7) for label, engine in both.items()}
    assert pages["sqlite"] == pages["postgresql"]
    flat = [hit for page in pages["sqlite"] for hit in page]
    assert flat == _expected(words, excluded, order)
    assert all(len(page) == 7 for page in pages["sqlite"][:-1])


@pytest.mark.postgres
def test_phrases_prefixes_and_filters_agree(both: dict[str, Engine]) -> None:
    for query, filters in [
        ('"zorb quax"', {}),
        ("plo*", {}),
        ("zorb", {"source": "s2"}),
        ("quax", {"since": NOW - timedelta(hours=30), "until": NOW - timedelta(hours=5)}),
    ]:
        answers = [
            _search_all(engine, query, "relevance", 5, **filters) for engine in both.values()
        ]
        assert answers[0] == answers[1], query
        assert answers[0][0], query


@pytest.mark.postgres
def test_deep_search_page_by_cursor(both: dict[str, Engine]) -> None:
    for engine in both.values():
        every = [hit for page in _search_all(engine, "zorb", "newest", 10) for hit in page]
        # the cursor of a page names its last row: the next page starts right below it
        cursor = encode_cursor("search-newest", t=0, i=every[99][0])
        with session_scope(engine) as session:
            page = search_page(session, "zorb", limit=10, cursor=cursor, order="newest")
            assert [hit.article.id for hit in page.hits] == [id_ for id_, _ in every[100:110]]
            old = search_page(session, "zorb", limit=10, offset=100, order="newest")
            assert [hit.article.id for hit in old.hits] == [id_ for id_, _ in every[100:110]]
            with pytest.raises(CursorError, match="offset goes up to"):
                search_page(session, "zorb", offset=MAX_OFFSET + 1)
            with pytest.raises(CursorError, match="not a cursor"):
                search_page(session, "zorb", cursor="!!!")
            with pytest.raises(CursorError, match="not one of search-relevance"):
                search_page(session, "zorb", cursor=cursor)  # a cursor of the other order
            with pytest.raises(SearchQueryError, match="order must be"):
                search_page(session, "zorb", order="best")


def _listing(engine: Engine, size: int, **options: object) -> list[list[int]]:
    pages, cursor = [], None
    with session_scope(engine) as session:
        while True:
            page = articles_page(session, limit=size, cursor=cursor, **options)  # type: ignore[arg-type]
            pages.append([article.id for article in page.articles])
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor


@pytest.mark.postgres
def test_listing_pages_agree_and_break_ties_by_id(both: dict[str, Engine]) -> None:
    expected = sorted(
        (row for row in _rows() if row["duplicate_of"] is None),
        key=lambda row: (row["published"] or row["fetched_at"], row["id"]),
        reverse=True,
    )
    for options in ({}, {"source": "s3"}, {"since": NOW - timedelta(hours=20)}):
        pages = [_listing(engine, 9, **options) for engine in both.values()]
        assert pages[0] == pages[1], options
        wanted = [
            row["id"]
            for row in expected
            if ("source" not in options or row["source_id"] == 3)
            and (
                "since" not in options
                or (row["published"] or row["fetched_at"]) >= options["since"]
            )  # type: ignore[operator]
        ]
        assert [id_ for page in pages[0] for id_ in page] == wanted, options
    with session_scope(both["sqlite"]) as session:
        streamed = [a.id for a in list_articles(session, include_duplicates=False)]
        first = articles_page(session, limit=5)
        rest = list_articles(session, include_duplicates=False, cursor=first.next_cursor)
        assert [a.id for a in first.articles] + [a.id for a in rest] == streamed


def _client_store(url: str) -> str:
    engine = open_store(url)
    _fill(engine)
    engine.dispose()
    return url


def test_api_and_pages_walk_by_cursor(db_url: str) -> None:
    with TestClient(create_app(_client_store(db_url))) as client:
        seen, cursor = [], None
        while True:
            params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            body = client.get("/api/articles", params=params).json()
            seen += [article["id"] for article in body["articles"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == sum(1 for r in _rows() if r["duplicate_of"] is None)
        assert [
            a["id"] for a in client.get("/api/articles", params={"offset": 50}).json()["articles"]
        ] == seen[50:70]
        too_deep = client.get("/api/articles", params={"offset": MAX_OFFSET + 1})
        assert too_deep.status_code == 400 and "next_cursor" in too_deep.json()["error"]
        bad = client.get("/api/search", params={"q": "zorb", "cursor": "garbage"})
        assert bad.status_code == 400 and "cursor" in bad.json()["error"]

        first = client.get("/api/search", params={"q": "zorb", "limit": 5}).json()
        second = client.get(
            "/api/search", params={"q": "zorb", "limit": 5, "cursor": first["next_cursor"]}
        ).json()
        assert first["order"] == "relevance" and [r["score"] for r in first["results"]] == [1.0] * 5
        ids = [r["id"] for r in first["results"] + second["results"]]
        assert ids == [id_ for id_, _ in _expected(["zorb"], [], "relevance")[:10]]
        newest = client.get("/api/search", params={"q": "zorb", "order": "newest"}).json()
        assert [r["id"] for r in newest["results"]] == sorted(
            (r["id"] for r in newest["results"]), reverse=True
        )

        page = client.get("/search", params={"q": "zorb"})
        assert (
            page.status_code == 200 and 'rel="next"' in page.text and 'rel="first"' not in page.text
        )
        link = page.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
        later = client.get(link)
        assert later.status_code == 200 and 'rel="first"' in later.text
        source = client.get("/sources/s1")
        link = source.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
        assert "cursor=" in link and client.get(link).status_code == 200
        assert client.get("/sources/s1", params={"page": 2}).status_code == 200  # old links
        assert client.get("/sources/s1", params={"cursor": "x"}).status_code == 400


def test_commands_print_the_next_cursor(db_url: str) -> None:
    url = _client_store(db_url)
    runner = CliRunner()
    first = runner.invoke(main, ["--db", url, "articles", "--limit", "4", "--json"])
    assert first.exit_code == 0, first.output
    cursor = first.stderr.split("--cursor ")[1].strip()
    second = runner.invoke(main, ["--db", url, "articles", "--limit", "4", "--cursor", cursor])
    assert second.exit_code == 0, second.output
    engine = open_store(url)
    with session_scope(engine) as session:
        listed = [a.id for a in list_articles(session, include_duplicates=False, limit=8)]
    engine.dispose()
    assert [int(line.split()[0]) for line in second.stdout.splitlines()] == listed[4:8]
    found = runner.invoke(
        main, ["--db", url, "search", "zorb", "--limit", "3", "--order", "newest"]
    )
    cursor = found.stderr.split("--cursor ")[1].strip()
    newest = ["--db", url, "search", "zorb", "--limit", "3", "--order", "newest"]
    more = runner.invoke(main, [*newest, "--cursor", cursor])
    ids = [
        int(line.split()[0])
        for line in (found.stdout + more.stdout).splitlines()
        if line[:6].strip().isdigit()
    ]
    assert ids == sorted(ids, reverse=True) and len(ids) == 6
    bad = runner.invoke(main, ["--db", url, "articles", "--cursor", "nonsense"])
    assert bad.exit_code == 1 and "cursor" in bad.output and "Traceback" not in bad.output


@pytest.mark.postgres
def test_copies_never_shift_pages(both: dict[str, Engine]) -> None:
    # a page boundary on an article that becomes a copy afterwards still continues below it
    engine = both["sqlite"]
    with session_scope(engine) as session:
        first = articles_page(session, limit=6)
        boundary = first.articles[-1].id
    with session_scope(engine) as session:
        session.execute(update(Article).where(Article.id == boundary).values(duplicate_of=1))
    try:
        with session_scope(engine) as session:
            rest = articles_page(session, limit=3, cursor=first.next_cursor)
            everything = list(session.scalars(select(Article.id)))
        assert boundary not in [a.id for a in rest.articles] and len(everything) == ARTICLES
    finally:
        with session_scope(engine) as session:
            session.execute(update(Article).where(Article.id == boundary).values(duplicate_of=None))


def test_text_index_merge_keeps_answers(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'merge.db'}")
    rows = _rows()
    with engine.begin() as connection:
        connection.execute(
            insert(Source),
            [{"id": n, "name": f"s{n}", "url": f"https://s{n}.example/"} for n in (1, 2, 3)],
        )
    for start in range(0, len(rows), 10):  # a segment per write, as crawls leave them
        with engine.begin() as connection:
            connection.execute(insert(Article), rows[start : start + 10])
    before = _search_all(engine, "quax -gromp", "relevance", 7)
    raw = engine.raw_connection()
    try:
        assert optimize_text_index(raw.driver_connection) > len(FTS5_TABLES)
        assert optimize_text_index(raw.driver_connection) == len(FTS5_TABLES)  # all merged
        for table in FTS5_TABLES:
            raw.driver_connection.execute(
                f"INSERT INTO {table}({table}) VALUES ('integrity-check')"
            )
    finally:
        raw.close()
    assert _search_all(engine, "quax -gromp", "relevance", 7) == before
    engine.dispose()
