"""The frontier: no post lost past the article limit, failures retried, gone URLs left alone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, select

from aggregator.dedup.urls import canonical_url
from aggregator.demo.live import LiveBlog
from aggregator.ingest import save_article
from aggregator.items import Article, PageItem
from aggregator.store import frontier
from aggregator.store.db import _alembic_config, open_store, session_scope
from aggregator.store.frontier import Discovered, RetryPolicy
from aggregator.store.models import FrontierUrl
from tests.support import last_run, scrapy_crawl, stored
from tests.support.routes import bytes_route, status_route


def _states(db_url: str) -> dict[str, str]:
    engine = open_store(db_url)
    try:
        with session_scope(engine) as session:
            return {row.url.rsplit("/", 2)[-2]: row.state for row in frontier.list_urls(session)}
    finally:
        engine.dispose()


@pytest.fixture
def blog(tmp_path: Path) -> Iterator[LiveBlog]:
    blog = LiveBlog(tmp_path / "blog").start()
    yield blog
    blog.stop()


@pytest.mark.parametrize("late", ["feed.xml", "sitemap.xml"])
def test_posts_beyond_the_limit_are_fetched_by_the_next_crawl_even_after_304(
    blog: LiveBlog, tmp_path: Path, db_url: str, late: str
) -> None:
    for _ in range(60):
        blog.publish()
    sources = tmp_path / "sources.toml"
    sources.write_text(blog.source_toml(sitemap=True), encoding="utf-8")
    # the feed (dated) and the sitemap (undated) answer in either order: one answers late once

    def answer_late(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(1.0)
        del blog.server.routes[f"/{late}"]
        blog.server.handle(handler)

    blog.server.routes[f"/{late}"] = answer_late
    # a busy machine must not time a page out: that would be a (retried) failure
    settings = {"DOWNLOAD_TIMEOUT": "60"}
    first = scrapy_crawl(sources, db_url, "-a", "limit=50", settings=settings)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(stored(db_url)) == 50
    # the newest first: the 10 left are the oldest posts, and the frontier remembers them
    states = _states(db_url)
    assert sorted(int(n) for n, s in states.items() if s == "pending") == list(range(1, 11))

    second = scrapy_crawl(sources, db_url, "-a", "limit=50", settings=settings)
    assert second.returncode == 0, second.stderr[-3000:]
    run = last_run(db_url)
    assert run["stats"]["aggregator/not_modified"] == 2  # type: ignore[index]
    assert "aggregator/feeds_parsed" not in run["stats"]  # type: ignore[operator]
    assert len(stored(db_url)) == 60
    assert set(_states(db_url).values()) == {"fetched"}

    blog.server.clear_log()
    third = scrapy_crawl(sources, db_url, "-a", "limit=50", settings=settings)
    assert third.returncode == 0, third.stderr[-3000:]
    assert not [path for path in blog.server.hits if path.startswith("/posts/")]


def test_failures_are_retried_and_gone_posts_never_requested_again(
    blog: LiveBlog, tmp_path: Path, db_url: str
) -> None:
    post = blog.publish()
    page = (blog.root / post.path.strip("/") / "index.html").read_bytes()
    calls = {"flaky": 0}

    def flaky(handler: BaseHTTPRequestHandler) -> None:
        calls["flaky"] += 1
        if calls["flaky"] <= 2:
            status_route(500, b"<h1>Internal Server Error</h1>")(handler)
        else:
            bytes_route(page)(handler)

    blog.server.routes[post.path] = flaky
    gone = blog.publish()
    blog.server.routes[gone.path] = status_route(404, b"<h1>Not Found</h1>")
    sources = tmp_path / "sources.toml"
    sources.write_text(blog.source_toml(), encoding="utf-8")
    # retries within a crawl are off (FAST_CRAWL, tests/support): each crawl tries each URL
    # once; the next crawl starts once the backoff (1 s, then 2 s) is over
    settings = {"AGGREGATOR_RETRY_BACKOFF": "1s", "DOWNLOAD_TIMEOUT": "60"}
    engine = open_store(db_url)
    for crawl in range(3):
        with session_scope(engine) as session:
            row = frontier.get(session, blog.server.url(post.path))
            due = row.next_attempt_at if row is not None else None
        if due is not None:
            time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.1)
        result = scrapy_crawl(sources, db_url, settings=settings)
        assert result.returncode == 0, result.stderr[-3000:]
        states = _states(db_url)
        assert states[str(gone.number)] == "gone"
        expected = "fetched" if crawl == 2 else "failed"
        assert states[str(post.number)] == expected, crawl
    assert calls["flaky"] == 3
    assert blog.server.hits[gone.path] == 1
    assert [a["url"] for a in stored(db_url)] == [blog.server.url(post.path)]
    with session_scope(engine) as session:
        row = frontier.get(session, blog.server.url(post.path))
        assert row is not None and row.attempts == 3 and row.article_id is not None
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_post_whose_database_connection_drops_stays_due_and_is_stored_next_crawl(
    blog: LiveBlog, tmp_path: Path, db_url: str
) -> None:
    posts = [blog.publish() for _ in range(3)]
    victim = blog.server.url(posts[1].path)
    sources = tmp_path / "sources.toml"
    sources.write_text(blog.source_toml(), encoding="utf-8")
    engine = open_store(db_url)
    # the database cuts the connection that stores the victim (its backend ends itself)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION cut() RETURNS trigger AS $$ BEGIN"
            " PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$"
            " LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER cut BEFORE INSERT ON articles FOR EACH ROW"
            f" WHEN (NEW.url = '{victim}') EXECUTE FUNCTION cut()"
        )
    settings = {"DOWNLOAD_TIMEOUT": "60"}
    scrapy_crawl(sources, db_url, settings=settings)
    assert sorted(a["url"] for a in stored(db_url)) == sorted(
        blog.server.url(p.path) for p in posts if p is not posts[1]
    )
    # not the page's fault: no attempt counted, no wait, no final verdict
    with session_scope(engine) as session:
        row = frontier.get(session, victim)
        assert row is not None
        assert (row.state, row.attempts, row.next_attempt_at) == ("pending", 0, None)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER cut ON articles")
    engine.dispose()
    second = scrapy_crawl(sources, db_url, settings=settings)
    assert second.returncode == 0, second.stderr[-3000:]
    assert victim in {a["url"] for a in stored(db_url)}


def test_a_failing_post_is_given_up_after_its_attempts(engine: Engine) -> None:
    policy = RetryPolicy(attempts=3, backoff=60)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    url = "https://example.com/a/"
    waits = []
    with session_scope(engine) as session:
        for _ in range(3):
            row = frontier.record_failure(
                session, "ex", url, frontier.FAILED, "HTTP 503", policy, now
            )
            waits.append(row.next_attempt_at)
        assert waits[:2] == [now + timedelta(seconds=60), now + timedelta(seconds=120)]
        assert waits[2] is None
        assert row.last_error == "given up after 3 attempts: HTTP 503"
        # a failed URL is due once its wait is over, and never once given up
        assert frontier.due(session, "ex", 10, now + timedelta(days=365)) == []


def test_due_urls_are_the_newest_first_and_discovery_is_idempotent(engine: Engine) -> None:
    day = datetime(2026, 11, 1, tzinfo=UTC)
    links = [
        Discovered(f"https://example.com/{n}/", "sitemap", published=None) for n in range(3)
    ] + [
        Discovered(f"https://example.com/f{n}/?utm_source=x", "feed", published=day + timedelta(n))
        for n in range(3)
    ]
    with session_scope(engine) as session:
        assert frontier.add_discovered(session, "ex", links) == 6
        assert frontier.add_discovered(session, "ex", links) == 0
        due = [link.url for link in frontier.due(session, "ex", 4)]
    assert due == [
        "https://example.com/f2/?utm_source=x",
        "https://example.com/f1/?utm_source=x",
        "https://example.com/f0/?utm_source=x",
        "https://example.com/0/",
    ]


def _page(url: str, text: str) -> PageItem:
    page = PageItem(url=url, source="ex", body=b"<html></html>", requested_url=url)
    page.article = Article(title="T", text=text)
    page.canonical_url = canonical_url(url)
    page.content_hash = f"{abs(hash(text)):064x}"[:64]
    return page


def test_stored_articles_are_fetched_in_the_frontier_and_the_migration_fills_it(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        saved = save_article(session, _page("https://example.com/old/", "Old text."))
        row = frontier.get(session, "https://example.com/old/")
        assert row is not None and row.state == "fetched" and row.article_id == saved.article_id
        # a URL discovered later that is already stored is never pending
        frontier.add_discovered(session, "ex", [Discovered("https://example.com/old/", "feed")])
        assert frontier.due(session, "ex", 10) == []
    config = _alembic_config(engine)
    command.downgrade(config, "0003")
    command.upgrade(config, "head")
    with session_scope(engine) as session:
        rows = list(session.scalars(select(FrontierUrl)))
        assert [(r.url_key, r.state, r.found_via, r.article_id) for r in rows] == [
            ("https://example.com/old", "fetched", "stored", saved.article_id)
        ]
        assert session.scalar(select(func.count()).select_from(FrontierUrl)) == 1
