"""Several machines: a scheduler and queue workers as separate processes, on Redis and a store."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from aggregator.cli import main
from aggregator.cluster import (
    LEASE_SECONDS,
    TaskQueue,
    claim,
    cluster_status,
    finish,
    hand_back,
    heartbeat,
    queue_due,
    release_host,
)
from aggregator.demo.live import LiveBlog
from aggregator.store.articles import ensure_source
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article
from aggregator.store.schedule import save_schedule

REDIS = "redis://127.0.0.1:6379"


@pytest.fixture
def queue_url() -> Iterator[str]:
    """A Redis database of its own, empty, for one test."""
    import redis

    number = random.randrange(1, 16)
    client = redis.Redis.from_url(f"{REDIS}/{number}")
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis on 127.0.0.1:6379 does not answer: {exc}")
    yield f"{REDIS}/{number}"
    client.flushdb()
    client.close()


def _sources(session: object, *names: str) -> None:
    for name in names:
        ensure_source(session, name, f"https://{name}.example/")  # type: ignore[arg-type]
        save_schedule(session, name, interval_seconds=60.0)  # type: ignore[arg-type]


def test_a_task_is_crawled_by_one_worker_once_and_a_dead_workers_lease_runs_out(
    db_url: str,
) -> None:
    engine = open_store(db_url)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        _sources(session, "a", "b", "c")
        tasks = queue_due(session, ["a", "b", "c"], now, requeue_after=600)
    assert sorted(tasks) == ["a", "b", "c"]
    with session_scope(engine) as session:
        # queued and not due again while the task is under way
        assert queue_due(session, ["a", "b", "c"], now, requeue_after=600) == {}
        assert claim(session, "a", tasks["a"], "a.example", "m1:1", now) == "ok"
        # the same task delivered to a second worker: it waits, it does not crawl
        assert claim(session, "a", tasks["a"], "a.example", "m2:2", now) == "busy"
        # one host, one worker: b shares a's host, so m2 may not crawl it while m1 does
        assert claim(session, "b", tasks["b"], "a.example", "m2:2", now) == "busy"
        assert claim(session, "b", tasks["b"], "a.example", "m1:1", now) == "ok"
        assert finish(session, "a", tasks["a"], "m1:1")
        # done: delivered again, the task is stale
        assert claim(session, "a", tasks["a"], "a.example", "m2:2", now) == "stale"
        # m1 dies holding b: once its lease has run out, m2 takes b over
        later = now + timedelta(seconds=LEASE_SECONDS + 1)
        assert claim(session, "b", tasks["b"], "a.example", "m2:2", later) == "ok"
        assert not finish(session, "b", tasks["b"], "m1:1")  # too late for m1
        # a worker stopped with SIGTERM hands c back: another one takes it at once
        assert claim(session, "c", tasks["c"], "c.example", "m1:1", now) == "ok"
        hand_back(session, "c", tasks["c"], "m1:1")
        assert claim(session, "c", tasks["c"], "c.example", "m2:2", now) == "busy"  # its host
        release_host(session, "c.example", "m1:1")
        assert claim(session, "c", tasks["c"], "c.example", "m2:2", now) == "ok"
        heartbeat(session, "m2:2", ["b", "c"], ["a.example", "c.example"], "running")
    with session_scope(engine) as session:
        status = cluster_status(session, now)
        assert [w["worker"] for w in status["workers"]] == ["m2:2"]
        assert status["workers"][0]["current"] == ["b", "c"]
        assert [lease["source"] for lease in status["leases"]] == ["b", "c"]
        assert {lease["worker"] for lease in status["host_leases"]} == {"m2:2"}
        # a queued task that no worker ever took (the queue lost it) is queued again
        assert finish(session, "b", tasks["b"], "m2:2")
        save_schedule(session, "b", next_run_at=now)
        again = queue_due(session, ["b"], now, requeue_after=600)
        assert queue_due(session, ["b"], now + timedelta(seconds=601), 600).keys() == {"b"}
        assert again.keys() == {"b"}
    engine.dispose()


def test_the_queue_gives_a_dead_consumers_tasks_to_another(queue_url: str) -> None:
    queue = TaskQueue(queue_url)
    queue.ensure_group()
    queue.put({"task": "t1"})
    queue.put({"task": "t2"})
    first = queue.take("w1", 10, block=0.1)
    assert [message["task"] for _, message in first] == ["t1", "t2"]
    assert queue.depth() == {"waiting": 0, "taken": 2}
    # w1 is alive and renews t1; t2 it leaves idle (as if it had died holding it)
    time.sleep(0.3)
    queue.touch("w1", [first[0][0]])
    taken = queue.take("w2", 10, block=0.1, min_idle=0.2)
    assert [message["task"] for _, message in taken] == ["t2"]
    queue.ack([entry for entry, _ in first[:1] + taken])
    assert queue.depth() == {"waiting": 0, "taken": 0}
    queue.close()


# -- the whole cluster, as processes ----------------------------------------------------------


class Cluster:
    """A scheduler and queue workers started as `aggregator` commands, each in its own group."""

    def __init__(self, tmp_path: Path, db_url: str, queue_url: str, sources: Path) -> None:
        self.tmp_path = tmp_path
        self.db_url = db_url
        self.queue_url = queue_url
        self.sources = sources
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "aggregator", "--db", self.db_url]
        command += ["--sources", str(self.sources), *args]
        log = (self.tmp_path / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def scheduler(self) -> None:
        self._start("scheduler", "schedule", "--queue", self.queue_url, "--time-limit", "60s")

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        settings = ["DOWNLOAD_DELAY=0", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "RETRY_TIMES=1"]
        settings += ["AUTOTHROTTLE_ENABLED=False", "AGGREGATOR_EXTRACT_PROCESSES=0"]
        return self._start(name, "worker", "--queue", self.queue_url, *(f"-s{s}" for s in settings))

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def stop(self, timeout: float = 30) -> dict[str, int | None]:
        """SIGTERM every process group; return the exit codes (None: had to be killed)."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        codes: dict[str, int | None] = {}
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[name] = None
            _signal_group(process, signal.SIGKILL)
            process.wait()
        return codes


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stored_urls(db_url: str) -> list[str]:
    engine = open_store(db_url)
    try:
        with session_scope(engine) as session:
            return list(session.scalars(select(Article.url)))
    finally:
        engine.dispose()


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


@pytest.fixture
def blogs(tmp_path: Path) -> Iterator[list[LiveBlog]]:
    """Four blogs on two hosts: three share 127.0.0.2 (and count their requests together)."""
    hosts = ["127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3"]
    made = [
        LiveBlog(tmp_path / f"blog{n}", name=f"blog{n}", seed=n, host=host)
        for n, host in enumerate(hosts)
    ]
    made[1].server.in_flight = made[2].server.in_flight = made[0].server.in_flight
    for blog in made:
        blog.server.delay = 0.05  # slow enough for requests to overlap
        for _ in range(12):
            blog.publish()
        blog.start()
    yield made
    for blog in made:
        blog.stop()


def _publisher(blogs: list[LiveBlog], posts: int, every: float) -> threading.Thread:
    rng = random.Random(5)

    def publish() -> None:
        for _ in range(posts):
            time.sleep(every)
            rng.choice(blogs).publish()

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    return thread


def _expected(blogs: list[LiveBlog]) -> set[str]:
    return {blog.server.url(post.path) for blog in blogs for post in blog.posts}


def _cluster(tmp_path: Path, db_url: str, queue_url: str, blogs: list[LiveBlog]) -> Cluster:
    sources = tmp_path / "sources.toml"
    sources.write_text("\n".join(blog.source_toml(interval="3s") for blog in blogs))
    return Cluster(tmp_path, db_url, queue_url, sources)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_three_workers_one_killed_every_post_stored_once_hosts_polite(
    tmp_path: Path, db_url: str, queue_url: str, blogs: list[LiveBlog]
) -> None:
    cluster = _cluster(tmp_path, db_url, queue_url, blogs)
    try:
        cluster.scheduler()
        workers = [cluster.worker(f"worker{n}") for n in range(3)]
        publisher = _publisher(blogs, posts=16, every=0.5)
        # kill the first worker seen crawling, with its whole process group
        engine = open_store(db_url)
        victim: list[int] = []

        def someone_crawls() -> bool:
            with session_scope(engine) as session:
                owners = [lease["worker"] for lease in cluster_status(session)["leases"]]
            pids = {w.pid for w in workers}
            victim.extend(pid for owner in owners if (pid := int(owner.rpartition(":")[2])) in pids)
            return bool(victim)

        _wait_for(someone_crawls, 60, "a worker crawling")
        killed = next(w for w in workers if w.pid == victim[0])
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        publisher.join()
        expected = _expected(blogs)
        _wait_for(lambda: set(_stored_urls(db_url)) >= expected, 120, "every post stored")
        with session_scope(engine) as session:
            status = cluster_status(session)
        engine.dispose()
    finally:
        codes = cluster.stop()
    stored = _stored_urls(db_url)
    assert len(stored) == len(set(stored)) == len(expected), "a post stored twice or missed"
    assert set(stored) == expected
    # politeness across the cluster: never more requests on one host than one worker may make
    peaks = [blog.server.in_flight.peak for blog in blogs]
    assert max(peaks) <= 2, peaks
    # the survivors carried on (two hosts: one worker may have waited for a host all along)
    done = {worker["pid"]: worker["tasks_done"] for worker in status["workers"]}
    assert sum(done[w.pid] for w in workers if w is not killed) > 0, done
    # SIGTERM stopped the scheduler and the workers cleanly; no process is left
    killed_name = next(name for name, p in cluster.processes.items() if p is killed)
    assert {name: code for name, code in codes.items() if name != killed_name} == {
        name: 0 for name in codes if name != killed_name
    }
    assert not [name for name, p in cluster.processes.items() if _group_alive(p)]
    assert "takes tasks from" in cluster.log("worker1")


def _drop_connections(db_url: str, queue_url: str) -> None:
    """Cut every client of Redis and every other session of the database, at once."""
    import psycopg
    import redis

    client = redis.Redis.from_url(queue_url)
    client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    client.close()
    dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_dropped_redis_and_postgresql_connections_lose_and_double_nothing(
    tmp_path: Path, db_url: str, queue_url: str, blogs: list[LiveBlog]
) -> None:
    cluster = _cluster(tmp_path, db_url, queue_url, blogs)
    try:
        cluster.scheduler()
        for n in range(2):
            cluster.worker(f"worker{n}")
        publisher = _publisher(blogs, posts=16, every=0.4)
        _wait_for(lambda: len(_stored_urls(db_url)) > 0, 60, "a first article")
        for _ in range(3):  # under load: workers crawling, scheduler queueing
            _drop_connections(db_url, queue_url)
            time.sleep(1.5)
        publisher.join()
        expected = _expected(blogs)
        _wait_for(lambda: set(_stored_urls(db_url)) >= expected, 120, "every post stored")
    finally:
        codes = cluster.stop()
    stored = _stored_urls(db_url)
    assert len(stored) == len(set(stored)) == len(expected)
    assert codes == {"scheduler": 0, "worker0": 0, "worker1": 0}, codes
    assert not [name for name, p in cluster.processes.items() if _group_alive(p)]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_worker_stopped_with_sigterm_hands_its_source_back_at_once(
    tmp_path: Path, db_url: str, queue_url: str
) -> None:
    blog = LiveBlog(tmp_path / "slow", name="slow", host="127.0.0.5")
    for _ in range(20):
        blog.publish()
    blog.server.delay = 0.4  # a crawl of several seconds
    blog.start()
    expected = sorted(blog.server.url(post.path) for post in blog.posts)
    cluster = _cluster(tmp_path, db_url, queue_url, [blog])
    try:
        cluster.scheduler()
        first = cluster.worker("first")
        engine = open_store(db_url)

        def crawling(pid: int) -> bool:
            with session_scope(engine) as session:
                leases = cluster_status(session)["leases"]
            return any(lease["worker"].endswith(f":{pid}") for lease in leases)

        _wait_for(lambda: crawling(first.pid), 60, "the first worker crawling")
        second = cluster.worker("second")
        os.killpg(first.pid, signal.SIGTERM)
        assert first.wait(30) == 0
        handed_back = time.monotonic()
        _wait_for(lambda: crawling(second.pid), LEASE_SECONDS, "the second worker taking over")
        taken_after = time.monotonic() - handed_back
        _wait_for(lambda: len(_stored_urls(db_url)) == 20, 120, "every post stored")
        engine.dispose()
    finally:
        cluster.stop()
        blog.stop()
    # handed back, not left to run out its lease
    assert taken_after < LEASE_SECONDS / 2
    assert "hands slow back to the queue" in cluster.log("first")
    assert sorted(_stored_urls(db_url)) == expected


def test_status_shows_the_workers_their_leases_and_the_queue(
    db_url: str, queue_url: str, tmp_path: Path
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "a"\nurl = "https://a.example/"\n')
    engine = open_store(db_url)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        _sources(session, "a")
        task = queue_due(session, ["a"], now, requeue_after=600)["a"]
        assert claim(session, "a", task, "a.example", "box:41", now) == "ok"
        heartbeat(session, "box:41", ["a"], ["a.example"], "running")
    engine.dispose()
    queue = TaskQueue(queue_url)
    queue.ensure_group()
    queue.put({"task": "other"})
    queue.close()
    runner = CliRunner()
    base = ["--db", db_url, "--sources", str(sources), "status", "--queue", queue_url]
    shown = runner.invoke(main, base, catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "queue: 1 waiting, 0 taken by workers" in shown.output
    assert "worker box:41" in shown.output and "now: a" in shown.output
    assert "lease  a" in shown.output
    lines = runner.invoke(main, [*base, "--json"], catch_exceptions=False).output.splitlines()
    cluster = json.loads(lines[-1])["cluster"]
    assert cluster["queue"] == {"waiting": 1, "taken": 0}
    assert cluster["workers"][0] | {"heartbeat_seconds_ago": 0} == {
        "worker": "box:41",
        "host": "box",
        "pid": 41,
        "state": "running",
        "heartbeat_seconds_ago": 0,
        "current": ["a"],
        "tasks_done": 0,
    }
    assert [lease["worker"] for lease in cluster["leases"]] == ["box:41"]
