"""Soak run: `aggregator schedule` against live local blogs that publish on a timer.

Reports the crawl runs, posts published and stored (none may be missed), the delay from
publication to storage, and the scheduler's memory over time (it must stay flat).

    python -m benchmarks.soak --minutes 60
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aggregator.crawling import LOCAL_SITE_SETTINGS
from aggregator.demo.live import LiveBlog
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, CrawlRun
from benchmarks.common import proc_table

REPO_ROOT = Path(__file__).resolve().parent.parent
# The scheduler's crawls of the local blogs: no politeness delays
FAST = [
    arg
    for key, value in {**LOCAL_SITE_SETTINGS, "LOG_LEVEL": "INFO"}.items()
    for arg in ("-s", f"{key}={value}")
]


def _rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB, 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_pids(pid: int) -> list[int]:
    """Process ids whose parent is pid (from /proc)."""
    return [child for child, (parent, _rss) in proc_table().items() if parent == pid]


def soak(minutes: float, publish_every: float, workdir: Path) -> dict[str, Any]:
    """Run the soak and return its figures."""
    rng = random.Random(2026)
    blogs = [
        LiveBlog(workdir / name, name=name, seed=seed).start()
        for seed, name in enumerate(("soakfast", "soakslow", "soakadaptive"), 1)
    ]
    intervals = {"soakfast": "20s", "soakslow": "60s", "soakadaptive": None}
    try:
        for blog in blogs:
            blog.publish()
        sources = workdir / "sources.toml"
        sources.write_text("".join(b.source_toml(intervals[b.name]) for b in blogs))
        db_url = f"sqlite:///{workdir / 'soak.db'}"
        log = (workdir / "schedule.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable, "-m", "aggregator", "--db", db_url, "--sources", str(sources),
                "schedule", "--min-interval", "20s", "--max-interval", "2m",
                "--retention-every", "10m", *FAST,
            ],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        started = time.monotonic()
        end = started + minutes * 60
        next_post = started + publish_every
        samples: list[tuple[float, int]] = []
        crawl_peak = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_post:
                rng.choice(blogs).publish()
                next_post = now + rng.uniform(0.5, 1.5) * publish_every
            if not samples or now - started - samples[-1][0] >= 10:
                samples.append((now - started, _rss_kib(process.pid)))
                print(
                    f"soak: {(now - started) / 60:5.1f} min, scheduler RSS "
                    f"{samples[-1][1] / 1024:.1f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
            for child in child_pids(process.pid):
                crawl_peak = max(crawl_peak, _rss_kib(child))
            if process.poll() is not None:
                raise RuntimeError(f"the scheduler exited early, see {workdir / 'schedule.log'}")
            time.sleep(1)
        # the last posts get one longest interval to be stored
        time.sleep(130)
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=120)
        log.close()
    finally:
        for blog in blogs:
            blog.stop()
    engine = open_store(db_url)
    with session_scope(engine) as session:
        stored = {
            (article.source.name, article.title): article.created_at
            for article in session.scalars(select(Article))
        }
        runs = list(session.scalars(select(CrawlRun)))
        statuses: dict[str, int] = {}
        for run in runs:
            statuses[run.status] = statuses.get(run.status, 0) + 1
        not_modified = sum(int(run.stats.get("aggregator/not_modified", 0)) for run in runs)
    engine.dispose()
    published = [(blog.name, post) for blog in blogs for post in blog.posts]
    missed = [
        f"{name}: {post.title}" for name, post in published if (name, post.title) not in stored
    ]
    delays = [
        (stored[(name, post.title)] - post.published).total_seconds()
        for name, post in published
        if (name, post.title) in stored
    ]
    first = [kib for at, kib in samples if at <= 600]
    last = [kib for at, kib in samples if at >= samples[-1][0] - 600]
    return {
        "minutes": minutes,
        "exit_code": exit_code,
        "crawl_runs": len(runs),
        "run_statuses": statuses,
        "feeds_not_modified": not_modified,
        "posts_published": len(published),
        "posts_stored": len(published) - len(missed),
        "missed": missed,
        "max_delay_seconds": round(max(delays), 1) if delays else None,
        "median_delay_seconds": round(sorted(delays)[len(delays) // 2], 1) if delays else None,
        "scheduler_rss_mib_first_10_min": round(max(first) / 1024, 1) if first else None,
        "scheduler_rss_mib_last_10_min": round(max(last) / 1024, 1) if last else None,
        "scheduler_rss_mib_peak": round(max(kib for _, kib in samples) / 1024, 1),
        "crawl_rss_mib_peak": round(crawl_peak / 1024, 1),
        "finished_at": datetime.now(UTC).isoformat(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="how long posts appear")
    parser.add_argument("--publish-every", type=float, default=30.0, help="seconds between posts")
    parser.add_argument("--workdir", type=Path, help="keep the blogs, database and log here")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="aggregator-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    figures = soak(args.minutes, args.publish_every, workdir)
    print(json.dumps(figures, indent=2))
    flat = (figures["scheduler_rss_mib_last_10_min"] or 0) <= 1.2 * (
        figures["scheduler_rss_mib_first_10_min"] or 0
    ) + 5
    ok = not figures["missed"] and figures["exit_code"] == 0 and flat
    print(f"soak: {'PASS' if ok else 'FAIL'} (no post missed, clean exit, memory flat)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
