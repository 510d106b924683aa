"""`aggregator schedule`: keep the store current with long-lived crawl workers.

APScheduler 3 runs the jobs, in memory: one ``crawl:NAME`` job per enabled source, each
rescheduled after its run for the next one, and a ``retention`` job. The plan is kept in the
store (``source_schedules``: interval, failures in a row, next run) and read back at start.
A due source is crawled by one of ``workers`` long-lived worker processes (aggregator.worker:
a Scrapy crawler each, fed sources while it runs), never by a new process; the worker reports
how it went and the scheduler records the crawl run and the source's next run in one
transaction (aggregator.planning decides when that is). A thread pool of ``max_crawls``
bounds the source crawls under way at once; a source's job exists once, so one source is
never crawled twice at the same time, and a host is crawled by one worker at a time.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import random
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from aggregator.exceptions import SourcesError
from aggregator.humanize import plural
from aggregator.planning import DB_RETRY_WAITS, ScheduleConfig, record_crawl
from aggregator.sources import Source, load_sources
from aggregator.store import frontier
from aggregator.store.articles import ensure_source
from aggregator.store.db import open_store, read_scope, scheduler_lock, session_scope
from aggregator.store.retention import drop_raw_html, prune_articles
from aggregator.store.runs import articles_added, last_error_of, last_run_of
from aggregator.store.schedule import get_schedule, list_schedules, save_schedule
from aggregator.store.search import optimize_text_index
from aggregator.worker import Report, Task, WorkerPool

if TYPE_CHECKING:
    from aggregator.cluster import TaskQueue

logger = logging.getLogger(__name__)

# How long past its time limit a worker may take to report a source crawl before it is killed
REPORT_MARGIN = 30.0
RETENTION_JOB = "retention"
ENQUEUE_JOB = "enqueue"
# How often the scheduler queues the due sources (several machines)
ENQUEUE_EVERY = 1.0
# After the grace period, how long stopped workers may take to record their crawls as
# interrupted before they are killed
STOP_TIMEOUT = 2.0


@dataclass
class _SourcesFile:
    """The sources file as last read: its fingerprint and enabled sources by name."""

    fingerprint: str = ""
    sources: dict[str, Source] = field(default_factory=dict)


class Scheduler:
    """The long-running process behind `aggregator schedule`."""

    def __init__(self, config: ScheduleConfig) -> None:
        self.config = config
        self.engine: Engine = open_store(config.db_url)
        self.scheduler = BackgroundScheduler(
            # in memory: the crawl plan lives in source_schedules and is read back at start
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(config.max_crawls)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self.sources = _SourcesFile()
        self.pool = WorkerPool(
            config.workers, config.db_url, config.sources_path, config.crawl_settings
        )
        self.queue: TaskQueue | None = None
        if config.queue_url:
            from aggregator.cluster import TaskQueue

            self.queue = TaskQueue(config.queue_url)
        # per source: the interval and failures in a row of its plan (kept in source_schedules)
        self.plans: dict[str, tuple[float | None, int]] = {}
        # sources known to have their row in the store
        self.ensured: set[str] = set()
        # source crawls under way: source name -> worker task id
        self.task_ids = itertools.count(1)
        self.running: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        # set by a second SIGTERM/SIGINT: no more grace
        self.now = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------

    def run(self) -> None:
        """Schedule until SIGTERM or SIGINT, then stop the crawls and return.

        StoreError when another scheduler runs on the database (see scheduler_lock).
        """
        with scheduler_lock(self.engine):
            self._run()

    def _run(self) -> None:
        global _SERVICE
        _SERVICE = self
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.reload_sources()
            if not self.sources.sources:
                logger.warning("no enabled source in %s yet", self.config.sources_path)
            self._schedule_retention()
            if self.queue is not None:
                self.queue.ensure_group()
                self.scheduler.add_job(
                    run_enqueue,
                    IntervalTrigger(seconds=ENQUEUE_EVERY, timezone=UTC),
                    id=ENQUEUE_JOB,
                    name="queue the due sources",
                )
                where = f"queue {self.queue.url}"
            else:
                self.pool.start()
                where = (
                    f"{plural(self.config.workers, 'worker')}, "
                    f"at most {self.config.max_crawls} crawls at once"
                )
            self.scheduler.start()
            logger.info(
                "scheduling %s from %s (%s)",
                plural(len(self.sources.sources), "source"),
                self.config.sources_path,
                where,
            )
            while not self.stopping.wait(self.config.reload_every):
                self.reload_sources()
        finally:
            self.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _SERVICE = None
            self.engine.dispose()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stopping.is_set():
            logger.info("%s again: stopping the crawls now", name)
            self.now.set()
        else:
            logger.info("%s: stopping (once more to stop the crawls at once)", name)
            self.stopping.set()

    def shutdown(self) -> None:
        """Stop scheduling; let running crawls finish within the grace period, then stop them.

        A second signal ends the grace period at once.
        """
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + self.config.grace
        while self._running() and time.monotonic() < deadline and not self.now.wait(0.1):
            pass
        if self._running():
            logger.info("stopping the crawls of %s", ", ".join(self._running()))
        if self.queue is not None:  # the workers stop on their own
            self.queue.close()
            return
        # workers record their unfinished crawls as interrupted if they can in STOP_TIMEOUT
        self.pool.close(timeout=0 if self.now.is_set() else STOP_TIMEOUT)
        # the job threads record what the workers reported, or that they were stopped
        deadline = time.monotonic() + STOP_TIMEOUT
        while self._running() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _running(self) -> dict[str, int]:
        with self.lock:
            return dict(self.running)

    # -- sources ------------------------------------------------------------------------

    def reload_sources(self) -> None:
        """Re-read the sources file when it changed: start new sources, stop removed ones."""
        path = Path(self.config.sources_path)
        try:
            fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            if self.sources.fingerprint != "missing":
                logger.error("cannot read %s: %s", path, exc.strerror or exc)
                self.sources.fingerprint = "missing"
            return
        if fingerprint == self.sources.fingerprint:
            return
        try:
            loaded = {s.name: s for s in load_sources(path) if s.enabled}
        except SourcesError as exc:
            # a broken file never stops the crawls of the last good one
            logger.error("%s; still using the previous sources", exc)
            self.sources.fingerprint = fingerprint
            return
        old = self.sources.sources
        self.sources = _SourcesFile(fingerprint, loaded)
        for name in old.keys() - loaded.keys():
            logger.info("source %s removed or disabled: no more crawls", name)
            self._remove_job(f"crawl:{name}")
        for name, source in loaded.items():
            if name not in old or old[name].interval != source.interval:
                self._schedule_first(source)

    def _schedule_first(self, source: Source) -> None:
        """Add a source's job: at its stored next run, or soon (staggered) when that is past."""
        now = datetime.now(UTC)
        with read_scope(self.engine) as session:
            state = get_schedule(session, source.name)
            stored_next = state.next_run_at if state else None
            last_run = state.last_run_at if state else None
            if state is not None:
                self.plans[source.name] = (state.interval_seconds, state.consecutive_errors)
        when = now + timedelta(seconds=random.uniform(0, min(5.0, self.config.reload_every)))
        if source.interval is not None and last_run is not None:
            when = max(when, last_run + source.interval)
        elif stored_next is not None and stored_next > when:
            when = stored_next
        if self.queue is None:
            self._add_crawl_job(source.name, when)
            return
        with session_scope(self.engine) as session:  # queued by enqueue_due when it is due
            if state is None:
                ensure_source(session, source.name, source.url)
                interval = source.interval or timedelta(seconds=self.config.min_interval)
                save_schedule(session, source.name, interval_seconds=interval.total_seconds())
            save_schedule(session, source.name, next_run_at=when)

    def enqueue_due(self) -> dict[str, str]:
        """Queue the sources that are due (several machines); return their task ids."""
        from aggregator.cluster import queue_due, task_message, unqueue

        assert self.queue is not None
        sources = self.sources.sources
        requeue_after = self.config.time_limit + REPORT_MARGIN
        with session_scope(self.engine) as session:
            tasks = queue_due(session, list(sources), datetime.now(UTC), requeue_after)
        for name, task in list(tasks.items()):
            try:
                self.queue.put(task_message(sources[name], task, self.config))
            except self.queue.errors as exc:
                logger.error("cannot queue %s: %s", name, exc)
                with session_scope(self.engine) as session:
                    unqueue(session, name, task)
                del tasks[name]
        if tasks:
            logger.debug("queued %s", ", ".join(tasks))
        return tasks

    def _add_crawl_job(self, name: str, when: datetime) -> None:
        self.scheduler.add_job(
            run_scheduled_crawl,
            DateTrigger(run_date=when),
            args=[name],
            id=f"crawl:{name}",
            name=f"crawl {name}",
            replace_existing=True,
        )

    def _remove_job(self, job_id: str) -> None:
        try:
            self.scheduler.remove_job(job_id)
        except JobLookupError:
            pass

    # -- crawls -------------------------------------------------------------------------

    def crawl(self, name: str) -> None:
        """Run one scheduled crawl of a source and schedule its next one."""
        source = self.sources.sources.get(name)
        if source is None or self.stopping.is_set():
            return
        with self.lock:
            if name in self.running:  # cannot happen with one job per source; cheap to check
                logger.warning("%s is still being crawled; skipped", name)
                return
        started_at = datetime.now(UTC)
        task_id = next(self.task_ids)
        with self.lock:
            self.running[name] = task_id
        try:
            report = self._run_on_worker(source, task_id)
        finally:
            with self.lock:
                self.running.pop(name, None)
        when = datetime.now(UTC) + timedelta(seconds=self.config.min_interval)
        for wait in (*DB_RETRY_WAITS, None):
            try:
                with session_scope(self.engine) as session:
                    if name not in self.ensured:
                        ensure_source(session, source.name, source.url)
                        self.ensured.add(name)
                    plan = self.plans.get(name, (None, 0))
                    when, self.plans[name] = record_crawl(
                        session,
                        source,
                        started_at,
                        report,
                        self.config,
                        plan,
                        self.stopping.is_set(),
                    )
                break
            except OperationalError as exc:
                # the database is locked or out of reach: wait, and never drop the source
                logger.error("cannot record the crawl of %s: %s", name, exc.orig)
                if wait is None or self.stopping.wait(wait):
                    break
        if not self.stopping.is_set() and source.name in self.sources.sources:
            self._add_crawl_job(source.name, when)

    def _run_on_worker(self, source: Source, task_id: int) -> Report:
        """Have a worker crawl the source; a worker that does not report in time is killed."""
        future = self.pool.submit(Task(task_id, source, self.config.time_limit))
        try:
            return future.result(timeout=self.config.time_limit + REPORT_MARGIN)
        except FutureTimeout:
            self.pool.kill(task_id)
            return future.result()

    # -- retention ----------------------------------------------------------------------

    def _schedule_retention(self) -> None:
        self.scheduler.add_job(
            run_retention,
            IntervalTrigger(seconds=self.config.retention_every, timezone=UTC),
            id=RETENTION_JOB,
            name="retention",
            replace_existing=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=1),
        )


def apply_retention(engine: Engine, config: ScheduleConfig) -> dict[str, int]:
    """Drop raw HTML older than raw_html_days, prune articles older than prune_days (if set),
    and on SQLite vacuum (when rows went), merge the text index and checkpoint; return the
    counts."""
    now = datetime.now(UTC)
    counts = {"raw_html_dropped": 0, "articles_pruned": 0}
    with session_scope(engine) as session:
        if config.raw_html_days is not None:
            cutoff = now - timedelta(days=config.raw_html_days)
            counts["raw_html_dropped"] = drop_raw_html(session, cutoff)
        if config.prune_days is not None:
            cutoff = now - timedelta(days=config.prune_days)
            counts["articles_pruned"] = prune_articles(session, cutoff)
    if engine.dialect.name == "sqlite":
        # outside any transaction (the driver connection is in autocommit mode)
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            if any(counts.values()):
                cursor.execute("VACUUM")
            cursor.close()
            # searches walk the text index newest first: one segment is fastest to walk
            optimize_text_index(connection.driver_connection)
            connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
    # PostgreSQL's autovacuum reclaims the space of updated and deleted rows by itself
    logger.info(
        "retention: raw HTML dropped from %d articles, %d articles pruned",
        counts["raw_html_dropped"],
        counts["articles_pruned"],
    )
    return counts


# The scheduler the jobs run in: APScheduler stores jobs as references to importable
# functions, so the jobs are module-level functions that find the running scheduler here.
_SERVICE: Scheduler | None = None


def run_scheduled_crawl(name: str) -> None:
    """Job: crawl one source (see Scheduler.crawl)."""
    if _SERVICE is not None:
        try:
            _SERVICE.crawl(name)
        except Exception:
            logger.exception("scheduled crawl of %s failed", name)


def run_enqueue() -> None:
    """Job: queue the due sources for the workers (see Scheduler.enqueue_due)."""
    if _SERVICE is not None:
        try:
            _SERVICE.enqueue_due()
        except Exception:
            logger.exception("queueing the due sources failed")


def run_retention() -> None:
    """Job: apply the retention rules (see apply_retention)."""
    if _SERVICE is not None:
        try:
            apply_retention(_SERVICE.engine, _SERVICE.config)
        except Exception:
            logger.exception("retention failed")


def status_rows(engine: Engine, sources: Sequence[Source]) -> list[dict[str, Any]]:
    """Per source: next run, last run's result (scheduled or `aggregator crawl`), articles
    added, errors in a row, interval, the last failed URL."""
    with read_scope(engine) as session:
        states = {state.source: state for state in list_schedules(session)}
        urls = frontier.state_counts(session)
        rows = []
        for source in sources:
            state = states.get(source.name)
            run = last_run_of(session, source.name)
            error = last_error_of(session, source.name)
            if state is not None and (run is None or run.id == state.last_run_id):
                # the scheduler's own record of its run: "failed" when no feed answered
                last = (state.last_run_id, state.last_run_at, state.last_status)
                added = state.last_articles
            elif run is not None:
                last = (run.id, run.started_at, run.status)
                added = articles_added(run, source.name)
            else:
                last, added = (None, None, None), 0
            interval = state.interval_seconds if state else None
            if interval is None and source.interval is not None:
                interval = source.interval.total_seconds()
            rows.append(
                {
                    "source": source.name,
                    "enabled": source.enabled,
                    "mode": "fixed" if source.interval is not None else "adaptive",
                    "interval_seconds": interval,
                    "next_run": _iso(state.next_run_at if state else None),
                    "last_run_id": last[0],
                    "last_run": _iso(last[1]),
                    "last_status": last[2],
                    "last_articles": added,
                    "consecutive_errors": state.consecutive_errors if state else 0,
                    "last_error": {"at": _iso(error.at), "url": error.url, "reason": error.reason}
                    if error is not None
                    else None,
                    "pending": urls.get(source.name, {}).get(frontier.PENDING, 0),
                    "failed": urls.get(source.name, {}).get(frontier.FAILED, 0),
                }
            )
    return rows


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
