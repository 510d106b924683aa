"""`aggregator schedule` in compressed time against live local blogs, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from aggregator.cli import main
from aggregator.demo.live import LiveBlog
from aggregator.ingest import fingerprint_page, save_article
from aggregator.items import Article as CleanArticle
from aggregator.items import PageItem
from aggregator.planning import CrawlOutcome, ScheduleConfig, jittered, next_delay
from aggregator.scheduler import apply_retention
from aggregator.sources import Source
from aggregator.store.articles import ensure_source
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, CrawlRun, MinhashBand, SourceSchedule
from aggregator.store.schedule import get_schedule
from benchmarks.soak import child_pids
from tests.support import FAST_CRAWL, ROOT
from tests.support.routes import bytes_route, slow_route, status_route

FAST = [arg for key, value in FAST_CRAWL.items() for arg in ("-s", f"{key}={value}")]
CONFIG = ScheduleConfig(db_url="sqlite://", sources_path="sources.toml")


# -- the next-run policy -----------------------------------------------------------------


def _outcome(new: int = 0, failed: bool = False, wait: float = 0.0) -> CrawlOutcome:
    return CrawlOutcome("failed" if failed else "finished", new, failed, wait)


def test_fixed_interval_is_kept_whatever_the_source_publishes() -> None:
    source = Source("a", "https://a.example/", interval=timedelta(seconds=45))
    for outcome in (_outcome(new=5), _outcome(new=0)):
        assert next_delay(source, 45, 0, outcome, CONFIG) == (45, 45, 0)


def test_adaptive_interval_follows_how_often_a_source_publishes() -> None:
    source = Source("a", "https://a.example/")
    interval, delay, _ = next_delay(source, 3600, 0, _outcome(new=3), CONFIG)
    assert (interval, delay) == (1800, 1800)  # busy: twice as often
    interval, _, _ = next_delay(source, 3600, 0, _outcome(new=0), CONFIG)
    assert interval == 5400  # quiet: less often
    assert next_delay(source, 1000, 0, _outcome(new=9), CONFIG)[0] == CONFIG.min_interval
    assert next_delay(source, 20000, 0, _outcome(new=0), CONFIG)[0] == CONFIG.max_interval
    assert next_delay(source, None, 0, _outcome(new=0), CONFIG)[0] == CONFIG.min_interval * 1.5


def test_failures_back_off_exponentially_within_a_bound_and_reset() -> None:
    source = Source("a", "https://a.example/", interval=timedelta(minutes=10))
    delays = []
    errors = 0
    for _ in range(8):
        _, delay, errors = next_delay(source, 600, errors, _outcome(failed=True), CONFIG)
        delays.append(delay)
    assert delays[:3] == [1200, 2400, 4800]
    assert max(delays) == CONFIG.max_backoff
    assert errors == 8
    assert next_delay(source, 600, errors, _outcome(), CONFIG) == (600, 600, 0)


def test_never_sooner_than_the_source_asks() -> None:
    source = Source("a", "https://a.example/", interval=timedelta(seconds=60))
    assert next_delay(source, 60, 0, _outcome(wait=900), CONFIG)[1] == 900


def test_jitter_stays_small() -> None:
    rng = random.Random(1)
    values = [jittered(100, rng) for _ in range(500)]
    assert min(values) >= 95 and max(values) <= 105
    assert len({round(v, 3) for v in values}) > 400
    assert abs(jittered(86400, rng) - 86400) <= 60


# -- retention ---------------------------------------------------------------------------


def test_retention_drops_old_raw_html_and_prunes_when_asked(engine: Engine, db_url: str) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        ensure_source(session, "blog", "https://blog.example/")
        for number, age in enumerate((1, 40, 400)):
            item = PageItem(url=f"https://blog.example/{number}", source="blog", body=b"<p>x</p>")
            item.article = CleanArticle(
                title=f"Post {number}",
                text=f"Body {number}. " + " ".join(f"word{number}x{i}" for i in range(60)),
                published=now - timedelta(days=age),
            )
            fingerprint_page(item)
            save_article(session, item, keep_raw=True)
        session.flush()
        for article in session.scalars(select(Article)):
            article.fetched_at = article.published or now
    config = ScheduleConfig(db_url, "s.toml", raw_html_days=30, prune_days=None)
    assert apply_retention(engine, config) == {"raw_html_dropped": 2, "articles_pruned": 0}
    with session_scope(engine) as session:
        kept = session.scalars(select(Article).order_by(Article.id)).all()
        assert [a.raw_html is not None for a in kept] == [True, False, False]
        assert all(a.text for a in kept)
    config = ScheduleConfig(db_url, "s.toml", raw_html_days=None, prune_days=365)
    assert apply_retention(engine, config)["articles_pruned"] == 1
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 2
        # the pruned article's near-duplicate bands went with it
        ids = set(session.scalars(select(Article.id)))
        assert set(session.scalars(select(MinhashBand.article_id).distinct())) <= ids


# -- the scheduler process ---------------------------------------------------------------


@pytest.fixture
def blog(tmp_path: Path) -> Iterator[LiveBlog]:
    live = LiveBlog(tmp_path / "blog").start()
    yield live
    live.stop()


class Schedule:
    """A running `aggregator schedule` process and what it wrote."""

    def __init__(self, db_url: str, sources: Path, log: Path, *args: str) -> None:
        self.db_url = db_url
        self.log_path = log
        self.log = log.open("wb")
        command = [sys.executable, "-m", "aggregator", "--db", db_url, "--sources", str(sources)]
        self.process = subprocess.Popen(
            # the test's own settings after the fast ones, so they win
            [*command, "schedule", *FAST, *args],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.engine = open_store(db_url)

    def runs(self) -> list[CrawlRun]:
        with session_scope(self.engine) as session:
            runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
            session.expunge_all()
            return runs

    def state(self, source: str) -> SourceSchedule | None:
        with session_scope(self.engine) as session:
            state = get_schedule(session, source)
            if state is not None:
                session.expunge(state)
            return state

    def articles(self) -> list[Article]:
        with session_scope(self.engine) as session:
            found = list(session.scalars(select(Article).order_by(Article.id)))
            session.expunge_all()
            return found

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            assert self.process.poll() is None, f"scheduler exited:\n{self.output()}"
            time.sleep(0.3)
        pytest.fail(f"timed out waiting for {what}\n{self.output()}")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> int:
        if self.log.closed:
            return self.process.wait()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            self.log.close()
            self.engine.dispose()


@pytest.fixture
def schedule(tmp_path: Path, db_url: str) -> Iterator[Callable[..., Schedule]]:
    started: list[Schedule] = []

    def start(sources: str, *args: str) -> Schedule:
        path = tmp_path / "sources.toml"
        path.write_text(sources, encoding="utf-8")
        run = Schedule(db_url, path, tmp_path / f"schedule{len(started)}.log", *args)
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop()


def _finished_runs(runs: list[CrawlRun]) -> list[CrawlRun]:
    """Runs the scheduler has recorded the end of (what the worker reported)."""
    return [run for run in runs if run.log_tail is not None]


def test_new_post_is_stored_within_an_interval_and_unchanged_feed_costs_a_304(
    blog: LiveBlog, schedule: Callable[..., Schedule]
) -> None:
    blog.publish()
    run = schedule(blog.source_toml(interval="4s"))
    run.wait_for("the first post", lambda: len(run.articles()) == 1)
    published = blog.publish()
    published_at = time.monotonic()
    run.wait_for("the new post", lambda: len(run.articles()) == 2, timeout=40)
    # stored by the next crawl: one interval plus the time a crawl takes
    assert time.monotonic() - published_at < 4 + 10
    assert run.articles()[-1].title == published.title
    page_hits = blog.server.hits[published.path]
    # a later run finds the feed unchanged: a 304, no parsing, no article page fetched
    quiet = run.wait_for(
        "a run of an unchanged feed",
        lambda: [r for r in _finished_runs(run.runs()) if r.stats.get("aggregator/not_modified")],
    )[0]
    assert quiet.stats.get("aggregator/feeds_parsed", 0) == 0
    assert quiet.pages_fetched == 0 and quiet.status == "finished"
    assert blog.server.hits[published.path] == page_hits
    state = run.state(blog.name)
    assert state is not None and state.interval_seconds == 4 and state.consecutive_errors == 0
    assert run.stop() == 0
    assert "1 new article;" in run.output()


def test_failing_source_backs_off_and_recovers(
    blog: LiveBlog, schedule: Callable[..., Schedule]
) -> None:
    blog.server.routes["/feed.xml"] = status_route(500, "down")
    run = schedule(blog.source_toml(interval="2s"), "--max-backoff", "60s")

    def failing_twice() -> SourceSchedule | None:
        state = run.state(blog.name)
        return state if state and state.consecutive_errors >= 2 else None

    state = run.wait_for("two failures in a row", failing_twice)
    assert state.last_status == "failed"
    assert state.next_run_at and state.last_run_at
    # 2 s doubled twice: the next try waits about 8 s after the last start, not 2
    assert (state.next_run_at - state.last_run_at).total_seconds() >= 7
    del blog.server.routes["/feed.xml"]
    post = blog.publish()

    def recovered() -> SourceSchedule | None:
        state = run.state(blog.name)
        return state if state and state.consecutive_errors == 0 else None

    state = run.wait_for("the recovery", recovered, timeout=60)
    assert state.last_status == "finished"
    assert [a.title for a in run.articles()] == [post.title]
    assert run.stop() == 0


def test_hanging_crawl_is_stopped_at_its_limit_and_the_others_go_on(
    blog: LiveBlog, schedule: Callable[..., Schedule], tmp_path: Path
) -> None:
    other = LiveBlog(tmp_path / "other", name="otherblog", seed=8).start()
    try:
        blog.server.routes["/feed.xml"] = slow_route(120, "<rss/>", "application/rss+xml")
        run = schedule(
            blog.source_toml(interval="60s") + other.source_toml(interval="2s"),
            "--workers",
            "1",
            "--time-limit",
            "4s",
            "-s",
            "DOWNLOAD_TIMEOUT=100",
        )
        stopped = run.wait_for(
            "the overrun", lambda: [r for r in run.runs() if r.status == "timeout"], timeout=60
        )[0]
        assert stopped.finished_at is not None
        assert (stopped.finished_at - stopped.started_at).total_seconds() < 4 + 15
        state = run.wait_for("the failure recorded", lambda: run.state(blog.name))
        assert state.consecutive_errors == 1
        # the one worker kept crawling the other blog while the first one hung
        post = other.publish()
        run.wait_for("the other blog's post", lambda: [a for a in run.articles()], timeout=30)
        assert [a.title for a in run.articles()] == [post.title]
        assert run.process.poll() is None  # the scheduler carries on
        assert run.stop() == 0
    finally:
        other.stop()


def test_sigterm_during_a_crawl_leaves_no_process_and_no_partial_article(
    blog: LiveBlog, schedule: Callable[..., Schedule]
) -> None:
    posts = [blog.publish() for _ in range(3)]
    blog.server.routes[posts[0].path] = slow_route(120)
    run = schedule(blog.source_toml(interval="60s"), "--grace", "1s", "-s", "DOWNLOAD_TIMEOUT=100")
    run.wait_for("the quick pages stored", lambda: len(run.articles()) == 2)
    crawls = child_pids(run.process.pid)
    assert crawls, "the workers should be running"
    assert run.stop() == 0
    for pid in crawls:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    runs = run.runs()
    assert [r.status for r in runs] == ["interrupted"]
    stored = run.articles()
    assert sorted(a.title for a in stored) == sorted(p.title for p in posts[1:])
    with session_scope(run.engine) as session:
        for article in stored:
            assert article.text.count("\n\n") >= 3  # all four paragraphs
            bands = session.scalar(select(func.count()).where(MinhashBand.article_id == article.id))
            assert bands


def test_sources_file_changes_are_followed_without_a_restart(
    blog: LiveBlog, schedule: Callable[..., Schedule], tmp_path: Path
) -> None:
    other = LiveBlog(tmp_path / "other", name="otherblog", seed=8).start()
    try:
        blog.publish()
        other.publish()
        run = schedule(blog.source_toml(interval="2s"))
        sources = tmp_path / "sources.toml"
        run.wait_for("a crawl of the first blog", lambda: run.state(blog.name))
        sources.write_text("[[sources]\nbroken", encoding="utf-8")
        run.wait_for("the broken file reported", lambda: "still using" in run.output(), 30)
        sources.write_text(other.source_toml(interval="2s"), encoding="utf-8")
        run.wait_for("a crawl of the added blog", lambda: run.state(other.name), 30)
        removed_at = datetime.now(UTC)
        time.sleep(6)
        late = [r for r in run.runs() if blog.name in r.sources and r.started_at > removed_at]
        assert late == []
        assert {a.title for a in run.articles()} == {blog.posts[0].title, other.posts[0].title}
        assert run.stop() == 0
    finally:
        other.stop()


def test_status_shows_each_source(blog: LiveBlog, schedule: Callable[..., Schedule]) -> None:
    blog.publish()
    run = schedule(blog.source_toml(interval="30s"))
    run.wait_for("a run", lambda: run.state(blog.name))
    assert run.stop() == 0
    sources = run.log_path.parent / "sources.toml"
    result = CliRunner().invoke(
        main, ["--db", run.db_url, "--sources", str(sources), "status", "--json"]
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert row["source"] == blog.name and row["mode"] == "fixed"
    assert row["interval_seconds"] == 30 and row["last_articles"] == 1
    assert row["last_status"] == "finished" and row["consecutive_errors"] == 0
    assert row["next_run"] > row["last_run"]
    text = CliRunner().invoke(main, ["--db", run.db_url, "--sources", str(sources), "status"])
    assert f"{blog.name}" in text.output and "every 30s" in text.output
    assert re.search(r"next \d{4}-\d\d-\d\d \d\d:\d\d UTC  last \d{4}-.* UTC finished", text.output)
    # the scheduler's log lines start with their time, in UTC
    crawled = [line for line in run.output().splitlines() if "crawl of" in line]
    assert crawled and all(
        re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC INFO aggregator.planning: ", line)
        for line in crawled
    )


def test_a_killed_worker_is_restarted_and_its_source_crawled_again(
    blog: LiveBlog, schedule: Callable[..., Schedule]
) -> None:
    posts = [blog.publish() for _ in range(3)]
    slow_once = {"calls": 0}
    page = (blog.root / posts[0].path.strip("/") / "index.html").read_bytes()

    def slow_then_quick(handler: Any) -> None:
        slow_once["calls"] += 1
        if slow_once["calls"] == 1:
            slow_route(120)(handler)
        else:
            bytes_route(page)(handler)

    blog.server.routes[posts[0].path] = slow_then_quick
    run = schedule(blog.source_toml(interval="2s"), "--workers", "1", "-s", "DOWNLOAD_TIMEOUT=100")
    run.wait_for("the quick pages stored", lambda: len(run.articles()) == 2)
    (worker,) = child_pids(run.process.pid)
    os.killpg(worker, signal.SIGKILL)  # the whole process group, as a dying machine would
    run.wait_for("all three posts", lambda: len(run.articles()) == 3, timeout=90)
    (restarted,) = run.wait_for("the new worker", lambda: child_pids(run.process.pid))
    assert restarted != worker
    runs = _finished_runs(run.runs())
    assert runs[0].status == "crashed"
    assert any(r.status == "finished" and r.articles_stored == 1 for r in runs[1:])
    stored = run.articles()
    assert sorted(a.title for a in stored) == sorted(p.title for p in posts)
    assert len({a.canonical_url for a in stored}) == 3
    for article in stored:
        assert article.text.count("\n\n") >= 3  # whole articles only
    assert run.stop() == 0


def test_one_host_is_crawled_by_one_worker_at_a_time(
    blog: LiveBlog, schedule: Callable[..., Schedule]
) -> None:
    blog.publish()
    # two sources on one host (the feed, and the sitemap), crawled often by two workers
    second = blog.source_toml(interval="1s").replace(f'name = "{blog.name}"', 'name = "same-host"')
    second = second.replace("/feed.xml", "/sitemap.xml").replace("feeds =", "sitemaps =")
    run = schedule(blog.source_toml(interval="1s") + second, "--workers", "2")

    def a_dozen_runs() -> list[CrawlRun]:
        done = [r for r in _finished_runs(run.runs()) if r.stats]
        return done if len(done) >= 12 else []

    runs = run.wait_for("a dozen runs", a_dozen_runs, timeout=90)
    assert run.stop() == 0
    assert {r.sources[0] for r in runs} == {blog.name, "same-host"}
    for a in runs:
        for b in runs:
            overlap = a.started_at < (b.finished_at or b.started_at) and b.started_at < (
                a.finished_at or a.started_at
            )
            if a.id != b.id and overlap and a.stats and b.stats:
                assert a.stats["aggregator/worker_pid"] == b.stats["aggregator/worker_pid"]


def test_a_locked_database_is_waited_for_and_nothing_is_lost(
    blog: LiveBlog, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'locked.db'}"
    sources = tmp_path / "sources.toml"
    sources.write_text(blog.source_toml(interval="2s"), encoding="utf-8")
    run = Schedule(db_url, sources, tmp_path / "schedule.log")
    try:
        first = blog.publish()
        run.wait_for("the first post", lambda: len(run.articles()) == 1)
        locker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # no other writer (nor reader) for 10 s
        posts = [blog.publish() for _ in range(2)]
        time.sleep(10)
        locker.execute("ROLLBACK")
        locker.close()
        run.wait_for("the posts published while locked", lambda: len(run.articles()) == 3, 60)
        titles = sorted(a.title for a in run.articles())
        assert titles == sorted(p.title for p in [first, *posts])
        assert run.process.poll() is None
    finally:
        assert run.stop() == 0


class _Outage:
    """A TCP relay to a server that can be cut for a while, as a network outage would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down = threading.Event()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if self.down.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.down.set()
        for sock in self.open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open.clear()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_out_of_reach_for_10_s_loses_nothing(
    blog: LiveBlog, tmp_path: Path, db_url: str
) -> None:
    relay = _Outage(("127.0.0.1", 5432))
    relayed = db_url.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    sources = tmp_path / "sources.toml"
    sources.write_text(blog.source_toml(interval="2s"), encoding="utf-8")
    run = Schedule(relayed, sources, tmp_path / "schedule.log")
    run.engine.dispose()
    run.engine = open_store(db_url)  # the test reads past the relay
    try:
        first = blog.publish()
        run.wait_for("the first post", lambda: len(run.articles()) == 1)
        relay.cut()
        posts = [blog.publish() for _ in range(2)]
        time.sleep(10)
        relay.down.clear()
        run.wait_for("the posts published during the outage", lambda: len(run.articles()) == 3, 90)
        assert sorted(a.title for a in run.articles()) == sorted(p.title for p in [first, *posts])
        assert run.process.poll() is None
        assert "cannot record the crawl" in run.output() or "OperationalError" in run.output()
    finally:
        assert run.stop() == 0


# -- one scheduler per database, a clean start and a prompt stop ---------------------------


def _schedule_once(db_url: str, sources: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `aggregator schedule` expecting it to exit by itself (a timeout fails the test)."""
    command = [sys.executable, "-m", "aggregator", "--db", db_url, "--sources", str(sources)]
    return subprocess.run(
        [*command, "schedule", "--workers", "1", *args, *FAST],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_second_scheduler_on_one_database_is_refused(
    blog: LiveBlog, schedule: Callable[..., Schedule], tmp_path: Path
) -> None:
    blog.publish()
    first = schedule(blog.source_toml(interval="60s"), "--workers", "1")
    first.wait_for("a crawl", lambda: first.state(blog.name))
    second = _schedule_once(first.db_url, tmp_path / "sources.toml")
    assert second.returncode == 1, second.stderr[-3000:]
    assert "another `aggregator schedule` is running on" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.process.poll() is None  # the first goes on
    assert first.stop() == 0
    assert "Traceback" not in first.output() and "JobLookupError" not in first.output()
    # the lock goes with the scheduler that held it
    third = schedule(blog.source_toml(interval="60s"), "--workers", "1")
    third.wait_for("the next scheduler", lambda: "scheduling 1 source" in third.output())
    assert third.stop() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "sources file not found"), ("[[sources]\nbroken", "invalid TOML")],
    ids=["missing", "broken"],
)
def test_a_missing_or_broken_sources_file_at_start_is_an_error(
    db_url: str, tmp_path: Path, content: str | None, message: str
) -> None:
    sources = tmp_path / "sources.toml"
    if content is not None:
        sources.write_text(content)
    result = _schedule_once(db_url, sources)
    assert result.returncode == 1
    assert message in result.stderr and str(sources) in result.stderr
    assert "Traceback" not in result.stderr


def _hanging_crawl(blog: LiveBlog, schedule: Callable[..., Schedule], grace: str) -> Schedule:
    """A scheduler whose one crawl waits on a page that answers in two minutes."""
    posts = [blog.publish() for _ in range(2)]
    blog.server.routes[posts[0].path] = slow_route(120)
    run = schedule(
        blog.source_toml(interval="60s"),
        "--workers",
        "1",
        "--grace",
        grace,
        "-s",
        "DOWNLOAD_TIMEOUT=100",
    )
    run.wait_for("the quick page stored", lambda: len(run.articles()) == 1)
    return run


def test_the_grace_period_is_the_wait_after_sigterm(
    blog: LiveBlog, schedule: Callable[..., Schedule]
) -> None:
    run = _hanging_crawl(blog, schedule, "3s")
    started = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=60) == 0
    # the crawl had its 3 s, then the worker was stopped (not 10 s more, as before)
    assert 3 <= time.monotonic() - started < 3 + 5, run.output()
    assert [r.status for r in run.runs()] == ["interrupted"]


def test_a_second_ctrl_c_stops_the_crawls_at_once(
    blog: LiveBlog, schedule: Callable[..., Schedule]
) -> None:
    run = _hanging_crawl(blog, schedule, "60s")
    started = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(timeout=60) == 0
    assert time.monotonic() - started < 5, run.output()
    assert "stopping the crawls now" in run.output()
    assert [r.status for r in run.runs()] == ["interrupted"]
