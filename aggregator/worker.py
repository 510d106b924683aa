"""Long-lived crawl workers: one Scrapy crawler per process, fed source crawls while it runs.

A worker process (`python -m aggregator.worker`) runs the `techblogs` spider once and keeps it
open; it reads tasks, one JSON object a line, on its standard input::

    {"task": 12, "source": "lwn", "time_limit": 600}

and answers on its standard output when the source crawl is over: how it ended (finished,
timeout, interrupted), its stats and its failed URLs, which the scheduler records as the crawl
run together with the source's next run, in one transaction::

    {"task": 12, "status": "finished", "detail": "", "stats": {...}, "errors": [[s, url, why]]}

Robots.txt (once per host and worker) and DNS stay cached between the crawls of one worker,
so checking a feed that answers 304 costs one request, not a process. Each source crawl has
its own time limit: its queued requests are dropped when it runs out, and the other crawls go
on.

`WorkerPool` is the other end, in the scheduler: it starts the workers, sends each source
crawl to one of them (the one already crawling that host, if any: one host is crawled by one
worker at a time), restarts a worker that dies and fails the crawls it held.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request

from aggregator.crawling import SPIDER, crawl_settings
from aggregator.exceptions import SourcesError
from aggregator.humanize import LOG_FORMAT, LOG_TIME_FORMAT
from aggregator.sources import Source, load_sources

logger = logging.getLogger(__name__)

# How long a worker asked to stop (SIGTERM) may take before it is killed
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Task:
    """One source crawl given to a worker."""

    task_id: int
    source: Source
    time_limit: float


# How a task ended, as a worker reports it (and as the pool reports a worker that died)
Report = dict[str, Any]


class TaskChannel(Protocol):
    """Where a worker's spider takes its tasks and reports them done."""

    async def get(self) -> Task | None: ...

    def report(
        self,
        task: Task,
        status: str,
        detail: str,
        stats: dict[str, Any] | None = None,
        errors: Sequence[tuple[str | None, str, str]] = (),
    ) -> None: ...


class StdioChannel:
    """Tasks as JSON lines on standard input; reports as JSON lines on standard output."""

    def __init__(self, sources_path: str) -> None:
        self.sources_path = sources_path
        self.sources: dict[str, Source] = {}
        self.reader: asyncio.StreamReader | None = None
        self.out = sys.stdout

    async def _reader(self) -> asyncio.StreamReader:
        if self.reader is None:
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader(limit=1 << 20)
            await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0)
            )
            self.reader = reader
        return self.reader

    def _source(self, name: str) -> Source | None:
        if name not in self.sources:
            try:  # the scheduler re-read the file since this worker last did
                self.sources = {s.name: s for s in load_sources(self.sources_path)}
            except SourcesError as exc:
                logger.error("%s", exc)
        return self.sources.get(name)

    async def get(self) -> Task | None:
        reader = await self._reader()
        while True:
            line = await reader.readline()
            if not line:
                return None
            try:
                message = json.loads(line)
                task_id, name = int(message["task"]), str(message["source"])
                time_limit = float(message["time_limit"])
            except (ValueError, KeyError, TypeError) as exc:
                logger.error("bad task %r: %s", line[:200], exc)
                continue
            source = self._source(name)
            if source is None:
                self._send({"task": task_id, "status": "failed", "detail": f"no source {name!r}"})
                continue
            return Task(task_id, source, time_limit)

    def report(
        self,
        task: Task,
        status: str,
        detail: str,
        stats: dict[str, Any] | None = None,
        errors: Sequence[tuple[str | None, str, str]] = (),
    ) -> None:
        message = {"task": task.task_id, "status": status, "detail": detail}
        self._send({**message, "stats": stats or {}, "errors": list(errors)})

    def _send(self, message: Report) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()


class CancelledTaskMiddleware:
    """Drop the queued requests of a source crawl stopped at its time limit (workers only)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CancelledTaskMiddleware:
        if not crawler.settings.getbool("AGGREGATOR_WORKER"):
            raise NotConfigured
        return cls(crawler)

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    def process_request(self, request: Request) -> None:
        spider: Any = self.crawler.spider
        if spider is not None and spider.is_cancelled(request):
            raise IgnoreRequest("its source crawl overran its time limit")


def run_worker(db_url: str, sources_path: str, settings: Sequence[str] = ()) -> None:
    """Run one worker in this process until its standard input closes or it gets SIGTERM."""
    from scrapy.crawler import CrawlerProcess

    overrides: dict[str, Any] = {
        "AGGREGATOR_WORKER": True,
        "AGGREGATOR_PROGRESS_INTERVAL": 0,
        "TELNETCONSOLE_ENABLED": False,
        # its lines join the scheduler's: the same form, times in UTC
        "LOG_FORMAT": "%(asctime)s " + LOG_FORMAT,
        "LOG_DATEFORMAT": LOG_TIME_FORMAT,
    }
    overrides.update(setting.partition("=")[::2] for setting in settings)
    logging.Formatter.converter = time.gmtime  # this process's log times, in UTC
    process = CrawlerProcess(crawl_settings(db_url, sources_path, overrides))
    process.crawl(SPIDER, tasks=StdioChannel(sources_path))
    process.start()


def host_of(source: Source) -> str:
    """The host a source crawl talks to (its first feed's, or its home page's)."""
    url = (source.feeds or source.sitemaps or source.listings or (source.url,))[0]
    return (urlsplit(url).hostname or "").lower()


@dataclass
class _Worker:
    """A worker process seen from the scheduler."""

    index: int
    process: subprocess.Popen[bytes]
    tasks: dict[int, tuple[Future[Report], str]] = field(default_factory=dict)
    hosts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class WorkerPool:
    """The scheduler's workers: start them, give them source crawls, restart the dead."""

    def __init__(
        self,
        count: int,
        db_url: str,
        sources_path: str,
        settings: Sequence[str] = (),
        log: Any = None,
    ) -> None:
        self.count = count
        self.command = [sys.executable, "-m", "aggregator.worker", "--db", db_url]
        self.command += ["--sources", sources_path]
        # the cores shared out: a worker is itself one core's process, so it extracts in its
        # own process when there are no more cores than workers, else in the cores left to it
        extract = max(0, (os.cpu_count() or 1) // count - 1)
        self.command += ["-s", f"AGGREGATOR_EXTRACT_PROCESSES={extract}"]
        for setting in settings:
            self.command += ["-s", setting]
        self.log = log
        self.workers: list[_Worker] = []
        self.lock = threading.Lock()
        self.closing = False

    def start(self) -> None:
        with self.lock:
            self.workers = [self._spawn(index) for index in range(self.count)]

    def _spawn(self, index: int) -> _Worker:
        process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,  # the terminal's Ctrl-C goes to the scheduler only
        )
        worker = _Worker(index, process)
        threading.Thread(
            target=self._read, args=(worker,), name=f"worker-{index}-reader", daemon=True
        ).start()
        logger.info("worker %d started (pid %d)", index, process.pid)
        return worker

    def _read(self, worker: _Worker) -> None:
        """Resolve the worker's tasks as it reports them; when it dies, fail and restart."""
        assert worker.process.stdout is not None
        for line in worker.process.stdout:
            try:
                message = json.loads(line)
                task_id = int(message["task"])
            except (ValueError, KeyError, TypeError):
                logger.warning("worker %d said %r", worker.index, line[:200])
                continue
            self._resolve(worker, task_id, message)
        code = worker.process.wait()
        with worker.lock:
            held = list(worker.tasks)
        for task_id in held:
            self._resolve(worker, task_id, {"status": "crashed", "detail": f"worker exit {code}"})
        with self.lock:
            if self.closing or self.workers[worker.index] is not worker:
                return
            logger.error(
                "worker %d (pid %d) exited with %s: restarting it",
                worker.index,
                worker.process.pid,
                code,
            )
            self.workers[worker.index] = self._spawn(worker.index)

    def _resolve(self, worker: _Worker, task_id: int, report: Report) -> None:
        with worker.lock:
            held = worker.tasks.pop(task_id, None)
            if held is None:
                return
            future, host = held
            worker.hosts[host] -= 1
            if worker.hosts[host] <= 0:
                del worker.hosts[host]
        future.set_result(report)

    def submit(self, task: Task) -> Future[Report]:
        """Send a source crawl to a worker; the future gives the worker's report."""
        host = host_of(task.source)
        future: Future[Report] = Future()
        with self.lock:
            if self.closing or not self.workers:
                future.set_result({"status": "interrupted", "detail": "the workers are stopping"})
                return future
            holding = [w for w in self.workers if host in w.hosts]
            worker = holding[0] if holding else min(self.workers, key=lambda w: len(w.tasks))
            with worker.lock:
                worker.tasks[task.task_id] = (future, host)
                worker.hosts[host] += 1
        message = {"task": task.task_id, "source": task.source.name, "time_limit": task.time_limit}
        try:
            assert worker.process.stdin is not None
            worker.process.stdin.write((json.dumps(message) + "\n").encode())
            worker.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._resolve(worker, task.task_id, {"status": "crashed", "detail": "worker gone"})
        return future

    def kill(self, task_id: int) -> None:
        """Kill the worker holding a crawl that does not end (it is restarted)."""
        with self.lock:
            workers = list(self.workers)
        for worker in workers:
            if task_id in worker.tasks:
                logger.error("worker %d does not answer: killing it", worker.index)
                _signal_group(worker.process, signal.SIGKILL)

    def close(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the workers: close their input, then SIGTERM, then SIGKILL."""
        with self.lock:
            self.closing = True
            workers = list(self.workers)
        for worker in workers:
            try:
                assert worker.process.stdin is not None
                worker.process.stdin.close()
            except OSError:
                pass
            _signal_group(worker.process, signal.SIGTERM)
        for worker in workers:
            try:
                worker.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(worker.process, signal.SIGKILL)
                worker.process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m aggregator.worker --db URL --sources FILE [-s NAME=VALUE]...`"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m aggregator.worker", description=__doc__)
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the store")
    parser.add_argument("--sources", required=True, help="the sources file")
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    if not Path(args.sources).is_file():
        parser.error(f"no sources file at {args.sources}")
    run_worker(args.db, args.sources, args.settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
