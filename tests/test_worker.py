"""The scheduler's side of the workers: one host on one worker, a dead worker's crawls failed."""

from __future__ import annotations

import os
import signal
import time

from aggregator.sources import Source
from aggregator.worker import Task, WorkerPool, host_of


def _task(task_id: int, host: str) -> Task:
    return Task(task_id, Source(name=f"s{task_id}", url=f"http://{host}/"), 60.0)


def test_a_host_busy_on_a_worker_goes_to_that_worker_and_a_dead_worker_fails_its_crawls() -> None:
    pool = WorkerPool(2, "sqlite://", "sources.toml")
    pool.command = ["sleep", "60"]  # workers that take tasks and never answer
    pool.start()
    try:
        first = pool.submit(_task(1, "127.0.0.2"))
        pool.submit(_task(2, "127.0.0.3"))  # the idle worker takes another host
        same_host = pool.submit(_task(3, "127.0.0.2"))
        held = [sorted(w.tasks) for w in pool.workers]
        assert sorted(held) == [[1, 3], [2]]
        assert dict(pool.workers[0].hosts) | dict(pool.workers[1].hosts) == {
            "127.0.0.2": 2,
            "127.0.0.3": 1,
        }
        holder = next(w for w in pool.workers if 1 in w.tasks)
        os.killpg(holder.process.pid, signal.SIGKILL)
        assert first.result(timeout=10)["status"] == "crashed"
        assert same_host.result(timeout=10)["status"] == "crashed"
        deadline = time.monotonic() + 10
        while pool.workers[holder.index] is holder and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.workers[holder.index] is not holder  # restarted
    finally:
        pool.close(timeout=5)


def test_host_of_a_source_is_its_first_feed_host() -> None:
    source = Source(name="a", url="https://Example.com/", feeds=("https://feeds.example.com/x",))
    assert host_of(source) == "feeds.example.com"
    assert host_of(Source(name="b", url="https://Example.com/blog/")) == "example.com"
