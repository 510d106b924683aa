"""`make bench-workers`: what a second queue worker adds (several machines), on this machine.

Each `aggregator worker` is held to one core (CPU affinity), as a machine of its own would be;
the scheduler, PostgreSQL, Redis and the simulated sites (benchmarks.poll's, one loopback
address each) share the machine with them. Measured with 1 and then 2 workers:

- pages/s: SITES blogs with POSTS new posts each, `aggregator schedule --queue` and the
  workers, from start until every post is stored;
- feed checks/s: CHECK_SITES blogs checked every 2 s, feeds answering 304: crawl runs
  recorded per second over a window;
- the queue round trip of one source check: Redis alone (XADD, XREADGROUP, XACK + XDEL), and
  with the store's part (queue it, take its lease, end it) on PostgreSQL.

Target (issue 12): at least 1.7x with 2 workers, for both figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from aggregator.cluster import TaskQueue, claim, finish, queue_due
from aggregator.crawling import LOCAL_SITE_SETTINGS
from aggregator.store.articles import ensure_source
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, CrawlRun
from aggregator.store.schedule import save_schedule
from benchmarks.common import (
    descendants,
    machine_busy_seconds,
    own_cpu_seconds,
    postgres_database,
    proc_table,
    progress,
    verdict,
)
from benchmarks.poll import PollSites

QUEUE_URL = "redis://127.0.0.1:6379/15"
MIN_SPEEDUP = 1.7
WORKER_SETTINGS = {
    **LOCAL_SITE_SETTINGS,
    # one process a worker, on its one core
    "AGGREGATOR_EXTRACT_PROCESSES": "0",
    "LOG_LEVEL": "WARNING",
}


_progress = functools.partial(progress, "bench-workers")


def _flush_queue() -> None:
    queue = TaskQueue(QUEUE_URL)
    queue.redis.flushdb()
    queue.close()


@contextmanager
def cluster(
    db_url: str, sources: Path, workers: int, workdir: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """A scheduler and `workers` queue workers, worker n held to core n; stopped at the end.

    Yields the worker processes.
    """
    _flush_queue()
    base = [sys.executable, "-m", "aggregator", "--db", db_url, "--sources", str(sources)]
    cores = sorted(os.sched_getaffinity(0))
    processes = [
        subprocess.Popen(
            [*base, "schedule", "--queue", QUEUE_URL, "--time-limit", "5m"],
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "scheduler.log").open("wb"),
            start_new_session=True,
        )
    ]
    for n in range(workers):
        core = {cores[n % len(cores)]}
        settings = [f"-s{key}={value}" for key, value in WORKER_SETTINGS.items()]
        processes.append(
            subprocess.Popen(
                [*base, "worker", "--queue", QUEUE_URL, "--tasks", "16", *settings],
                stdout=subprocess.DEVNULL,
                stderr=(workdir / f"worker{n}.log").open("wb"),
                start_new_session=True,
                preexec_fn=lambda core=core: os.sched_setaffinity(0, core),  # type: ignore[misc]
            )
        )
    try:
        yield processes[1:]
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _count(db_url: str, what: Any) -> int:
    engine = open_store(db_url)
    try:
        with session_scope(engine) as session:
            return int(session.scalar(select(func.count()).select_from(what)) or 0)
    finally:
        engine.dispose()


def pages_per_second(sites: int, posts: int, workers: int, workdir: Path) -> dict[str, float]:
    """Time `workers` workers storing sites x posts new articles."""
    total = sites * posts
    with PollSites(sites) as blogs, postgres_database("bench_workers") as db_url:
        for index in range(sites):
            for _ in range(posts):
                blogs.publish(index)
        sources = workdir / "pages.toml"
        sources.write_text(blogs.sources_toml("1h"), encoding="utf-8")
        open_store(db_url).dispose()  # the schema, before the clock starts
        started, busy = time.monotonic(), machine_busy_seconds()
        with cluster(db_url, sources, workers, workdir) as processes:
            stored = 0
            while stored < total and time.monotonic() - started < 600:
                time.sleep(0.5)
                stored = _count(db_url, Article)
            elapsed = time.monotonic() - started
            table = proc_table()
            pids = [p.pid for p in processes]
            pids += [child for pid in pids for child in descendants(pid, table)]
            worker_cpu = sum(own_cpu_seconds(pid) or 0.0 for pid in pids)
            rest_cpu = machine_busy_seconds() - busy - worker_cpu
    _progress(f"{workers} worker(s): {stored}/{total} articles in {elapsed:.1f} s")
    per_page = 1000 / max(stored, 1)
    return {
        "articles": stored,
        "seconds": elapsed,
        "pages_per_s": stored / elapsed,
        "worker_cpu_ms_per_page": worker_cpu * per_page,
        "rest_cpu_ms_per_page": rest_cpu * per_page,
    }


def ceiling(worker_ms: float, rest_ms: float, cores: int) -> float:
    """The most 2 workers can add to 1 on this machine, from the CPU a page costs.

    A worker is held to one core (1000 / worker_ms pages/s at most); the rest of the cost
    (PostgreSQL, Redis, the scheduler, the sites, this benchmark's polling) runs on the same
    cores as the workers.
    """

    def most(workers: int) -> float:
        return min(workers * 1000 / worker_ms, cores * 1000 / (worker_ms + rest_ms))

    return most(2) / most(1) if worker_ms > 0 else 0.0


def checks_per_second(sites: int, workers: int, seconds: float, workdir: Path) -> dict[str, float]:
    """Crawl runs recorded per second by `workers` workers, every source due every 2 s."""
    with PollSites(sites) as blogs, postgres_database("bench_workers") as db_url:
        sources = workdir / "checks.toml"
        sources.write_text(blogs.sources_toml("2s"), encoding="utf-8")
        open_store(db_url).dispose()
        with cluster(db_url, sources, workers, workdir):
            time.sleep(10)  # every source crawled once; validators known
            first = _count(db_url, CrawlRun)
            time.sleep(seconds)
            runs = _count(db_url, CrawlRun) - first
    _progress(f"{workers} worker(s): {runs} checks in {seconds:.0f} s")
    return {"checks": runs, "seconds": seconds, "checks_per_s": runs / seconds}


def queue_round_trip(rounds: int) -> dict[str, float]:
    """Milliseconds per source check of the queue alone, and with the store's leases."""
    _flush_queue()
    queue = TaskQueue(QUEUE_URL)
    queue.ensure_group()
    message = {"task": "x" * 32, "source": {"name": "s", "url": "http://s/"}, "time_limit": 600}
    started = time.perf_counter()
    for _ in range(rounds):
        queue.put(message)
        [(entry_id, _)] = queue.take("bench", 1, block=1.0)
        queue.ack([entry_id])
    redis_ms = (time.perf_counter() - started) * 1000 / rounds
    with postgres_database("bench_workers") as db_url:
        engine = open_store(db_url)
        with session_scope(engine) as session:
            ensure_source(session, "s", "http://s/")
            save_schedule(session, "s", interval_seconds=60.0)
        started = time.perf_counter()
        for _ in range(rounds):
            now = datetime.now(UTC)
            with session_scope(engine) as session:
                task = queue_due(session, ["s"], now, 600)["s"]
            queue.put({**message, "task": task})
            [(entry_id, taken)] = queue.take("bench", 1, block=1.0)
            with session_scope(engine) as session:
                assert claim(session, "s", taken["task"], "s", "bench:1", now) == "ok"
            with session_scope(engine) as session:
                finish(session, "s", taken["task"], "bench:1")
            queue.ack([entry_id])
        full_ms = (time.perf_counter() - started) * 1000 / rounds
        engine.dispose()
    queue.close()
    return {"redis_ms": redis_ms, "with_store_ms": full_ms}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"pages": {}, "checks": {}}
    for workers in (1, 2):
        _progress(f"pages/s with {workers} worker(s): {args.sites} sites x {args.posts} posts")
        results["pages"][workers] = pages_per_second(args.sites, args.posts, workers, workdir)
        _progress(f"feed checks/s with {workers} worker(s): {args.check_sites} sites every 2 s")
        results["checks"][workers] = checks_per_second(
            args.check_sites, workers, args.seconds, workdir
        )
    results["round_trip"] = queue_round_trip(args.rounds)
    for kind, key in (("pages", "pages_per_s"), ("checks", "checks_per_s")):
        one, two = results[kind][1][key], results[kind][2][key]
        results[kind]["speedup"] = two / one if one else 0.0
        results[kind]["pass"] = results[kind]["speedup"] >= MIN_SPEEDUP
    one = results["pages"][1]
    results["pages"]["ceiling"] = ceiling(
        one["worker_cpu_ms_per_page"], one["rest_cpu_ms_per_page"], os.cpu_count() or 1
    )
    return results


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    pages, checks, trip = results["pages"], results["checks"], results["round_trip"]
    return "\n".join(
        [
            f"bench-workers: queue workers held to one core each, {os.cpu_count()} cores in all "
            "(scheduler, PostgreSQL, Redis and the sites share them)",
            f"  pages/s         1 worker {pages[1]['pages_per_s']:6.1f}   2 workers "
            f"{pages[2]['pages_per_s']:6.1f}   = {pages['speedup']:.2f}x   "
            f"{verdict(pages['pass'])} (>= {MIN_SPEEDUP}x; "
            f"{args.sites} sites x {args.posts} posts)",
            f"    CPU per page with 1 worker: {pages[1]['worker_cpu_ms_per_page']:.1f} ms in the "
            f"worker, {pages[1]['rest_cpu_ms_per_page']:.1f} ms in the rest (PostgreSQL, Redis, "
            f"scheduler, sites, polling) on the same cores: at most {pages['ceiling']:.2f}x here",
            f"  feed checks/s   1 worker {checks[1]['checks_per_s']:6.1f}   2 workers "
            f"{checks[2]['checks_per_s']:6.1f}   = {checks['speedup']:.2f}x   "
            f"{verdict(checks['pass'])} (>= {MIN_SPEEDUP}x; {args.check_sites} sites, 304s)",
            f"  queue round trip per source check: {trip['redis_ms']:.2f} ms Redis alone, "
            f"{trip['with_store_ms']:.2f} ms with its leases in PostgreSQL "
            f"({args.rounds} checks)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.workers",
        description=__doc__.split("\n\n")[0],
        epilog="Example: python -m benchmarks.workers --sites 10 --posts 10 --seconds 10",
    )
    parser.add_argument("--sites", type=int, default=40, help="blogs for pages/s (40)")
    parser.add_argument(
        "--posts", type=int, default=20, help="new posts per blog (20; a feed lists the last 20)"
    )
    parser.add_argument("--check-sites", type=int, default=400, help="blogs for checks/s (400)")
    parser.add_argument("--seconds", type=float, default=30.0, help="checks/s window (30)")
    parser.add_argument("--rounds", type=int, default=500, help="queue round trips (500)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
        results = run(args, Path(folder))
    print(json.dumps(results, indent=2) if args.json else report(results, args))
    return 0 if results["pages"]["pass"] and results["checks"]["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
