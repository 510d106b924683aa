"""Several machines: one scheduler puts due source crawls in a Redis stream, workers take them.

The queue is a Redis Stream read through a consumer group: each task goes to one worker, which
acknowledges it once the crawl run is recorded; a worker that dies leaves its tasks pending,
and another worker claims them (XAUTOCLAIM) once they have been idle for a lease. A live
worker renews the idle time of the tasks it holds with every heartbeat.

The store (PostgreSQL) stays the source of truth, so losing the queue's contents loses no work:

- ``source_schedules`` holds, per source, the task queued for it (``queued_task``) and the
  worker crawling it (``lease_owner`` until ``lease_expires_at``, renewed by heartbeats). A
  worker crawls a task only while it is the source's queued task and it holds the lease: a
  task delivered twice is crawled once. The scheduler queues a source again when its task was
  never taken, or its lease ran out, long ago (the queue lost it).
- ``host_leases``: one worker crawls a host at a time, so Scrapy's per-host limit
  (CONCURRENT_REQUESTS_PER_DOMAIN) holds across the whole cluster.
- ``workers``: each worker's heartbeat and current sources, for ``aggregator status``.

A worker records the crawl run, the source's next run and the end of its lease in one
transaction, then acknowledges the task: at-least-once delivery, exactly-once in effect (a
crawl repeated after a crash finds its articles stored and its URLs fetched in the frontier).
On SIGTERM a worker hands its unfinished tasks back to the queue.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from aggregator.planning import DB_RETRY_WAITS, ScheduleConfig, record_crawl
from aggregator.sources import Source
from aggregator.store.db import session_scope
from aggregator.store.models import HostLease, SourceSchedule, WorkerState
from aggregator.store.runs import record_run
from aggregator.store.schedule import get_schedule
from aggregator.worker import Task, host_of

logger = logging.getLogger(__name__)

STREAM = "aggregator:tasks"
GROUP = "aggregator-workers"
# A lease (and a task's idle time in the queue) lives this long without a heartbeat
LEASE_SECONDS = 30.0
HEARTBEAT_SECONDS = 5.0
# How long a worker waits for a host another worker crawls before it asks again
BUSY_RETRY_SECONDS = 1.0

T = TypeVar("T")


def worker_name() -> str:
    """This worker's name in leases, logs and `aggregator status`: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- tasks as messages ----------------------------------------------------------------------


def task_message(source: Source, task: str, config: ScheduleConfig) -> dict[str, Any]:
    """A queued task: the source as configured, its time limit and the next-run policy."""
    fields = asdict(source)
    fields["interval"] = source.interval.total_seconds() if source.interval else None
    return {
        "task": task,
        "source": fields,
        "time_limit": config.time_limit,
        "plan": {
            "min_interval": config.min_interval,
            "max_interval": config.max_interval,
            "max_backoff": config.max_backoff,
        },
    }


def message_source(message: dict[str, Any]) -> Source:
    """The Source of a queued task."""
    fields = dict(message["source"])
    interval = fields.pop("interval", None)
    for key in ("feeds", "sitemaps", "listings", "remove"):
        fields[key] = tuple(fields.get(key) or ())
    return Source(**fields, interval=timedelta(seconds=interval) if interval else None)


def message_config(message: dict[str, Any]) -> ScheduleConfig:
    return ScheduleConfig(
        db_url="", sources_path="", time_limit=float(message["time_limit"]), **message["plan"]
    )


# -- the queue ------------------------------------------------------------------------------


class TaskQueue:
    """The Redis Stream of tasks and its consumer group; connections are retried."""

    def __init__(self, url: str, stream: str = STREAM, group: str = GROUP) -> None:
        try:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry
        except ImportError as exc:  # pragma: no cover - the extra is part of dev installs
            raise RuntimeError(
                "the queue needs the redis package: pip install 'techblog-aggregator[redis]'"
            ) from exc
        self.url = url
        self.stream = stream
        self.group = group
        self.errors: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
        # typed Any: redis-py's sync and async answers share one union type
        self.redis: Any = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=5,
            socket_timeout=10,
            health_check_interval=15,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=10),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )

    def ensure_group(self) -> None:
        """Create the stream and the workers' consumer group when missing."""
        import redis

        try:
            self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def put(self, message: dict[str, Any]) -> str:
        return str(self.redis.xadd(self.stream, {"task": json.dumps(message)}))

    def take(
        self, consumer: str, count: int, block: float, min_idle: float = LEASE_SECONDS
    ) -> list[tuple[str, dict[str, Any]]]:
        """Up to count tasks: first those a dead worker left idle, else new ones (waits block s)."""
        import redis

        try:
            claimed = self.redis.xautoclaim(
                self.stream, self.group, consumer, int(min_idle * 1000), "0-0", count=count
            )
            entries = claimed[1]
            if not entries:
                answer = self.redis.xreadgroup(
                    self.group, consumer, {self.stream: ">"}, count=count, block=int(block * 1000)
                )
                entries = answer[0][1] if answer else []
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()  # the queue was wiped: the scheduler queues the tasks again
            return []
        tasks = []
        for entry_id, fields in entries:
            try:
                tasks.append((entry_id, json.loads(fields["task"])))
            except (TypeError, KeyError, ValueError):
                logger.error("queue entry %s is not a task: %r", entry_id, fields)
                self.ack([entry_id])
        return tasks

    def touch(self, consumer: str, entry_ids: Sequence[str]) -> None:
        """Reset the idle time of tasks this worker holds, so no one claims them."""
        if entry_ids:
            self.redis.xclaim(self.stream, self.group, consumer, 0, list(entry_ids), justid=True)

    def ack(self, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            pipe = self.redis.pipeline()
            pipe.xack(self.stream, self.group, *entry_ids)
            pipe.xdel(self.stream, *entry_ids)
            pipe.execute()

    def depth(self) -> dict[str, int]:
        """Tasks in the queue: waiting for a worker, and taken but not acknowledged."""
        import redis

        try:
            pending = int(self.redis.xpending(self.stream, self.group)["pending"])
        except redis.ResponseError:  # no stream or group yet
            return {"waiting": 0, "taken": 0}
        return {"waiting": int(self.redis.xlen(self.stream)) - pending, "taken": pending}

    def close(self) -> None:
        self.redis.close()


# -- leases in the store ---------------------------------------------------------------------


def _upsert(session: Session, model: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def queue_due(
    session: Session, names: Sequence[str], now: datetime, requeue_after: float
) -> dict[str, str]:
    """Mark the due sources among names as queued; return their new task ids by source.

    Due: the next run has come and no task is under way, or the one queued was never taken,
    or its lease ran out, more than requeue_after seconds ago (the queue lost it).
    """
    lost = now - timedelta(seconds=requeue_after)
    rows = SourceSchedule
    due = list(
        session.scalars(
            select(rows.source)
            .where(
                rows.source.in_(list(names)),
                or_(rows.next_run_at.is_(None), rows.next_run_at <= now),
                or_(
                    rows.queued_task.is_(None),
                    rows.lease_owner.is_(None) & (rows.queued_at < lost),
                    rows.lease_owner.is_not(None) & (rows.lease_expires_at < lost),
                ),
            )
            .order_by(rows.next_run_at)
        )
    )
    tasks = {}
    for name in due:
        task = uuid.uuid4().hex
        session.execute(
            update(rows)
            .where(rows.source == name)
            .values(queued_task=task, queued_at=now, lease_owner=None, lease_expires_at=None)
        )
        tasks[name] = task
    return tasks


def unqueue(session: Session, name: str, task: str) -> None:
    """Forget a task that never reached the queue, so the next check queues the source again."""
    session.execute(
        update(SourceSchedule)
        .where(SourceSchedule.source == name, SourceSchedule.queued_task == task)
        .values(queued_task=None, queued_at=None)
    )


def claim(session: Session, name: str, task: str, host: str, owner: str, now: datetime) -> str:
    """Take a task's source and host leases: "ok", "stale" (done or replaced) or "busy"."""
    expires = now + timedelta(seconds=LEASE_SECONDS)
    rows = SourceSchedule
    both = session.begin_nested()
    taken = session.execute(
        update(rows)
        .where(
            rows.source == name,
            rows.queued_task == task,
            or_(rows.lease_owner.is_(None), rows.lease_owner == owner, rows.lease_expires_at < now),
        )
        .values(lease_owner=owner, lease_expires_at=expires)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        both.rollback()
        queued = session.scalar(select(rows.queued_task).where(rows.source == name))
        return "busy" if queued == task else "stale"
    statement = _upsert(session, HostLease).values(host=host, owner=owner, expires_at=expires)
    statement = statement.on_conflict_do_update(
        index_elements=[HostLease.host],
        set_={"owner": owner, "expires_at": expires},
        where=(HostLease.owner == owner) | (HostLease.expires_at < now),
    )
    if session.execute(statement.returning(HostLease.host)).first() is None:
        both.rollback()  # another worker crawls this host: the source lease goes too
        return "busy"
    both.commit()
    return "ok"


def finish(session: Session, name: str, task: str, owner: str) -> bool:
    """End a task's source lease as done; False when another worker took it over meanwhile."""
    rows = SourceSchedule
    done = session.execute(
        update(rows)
        .where(rows.source == name, rows.queued_task == task, rows.lease_owner == owner)
        .values(queued_task=None, queued_at=None, lease_owner=None, lease_expires_at=None)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def hand_back(session: Session, name: str, task: str, owner: str) -> None:
    """Give up a task's source lease unfinished: the task stays queued for another worker."""
    rows = SourceSchedule
    session.execute(
        update(rows)
        .where(rows.source == name, rows.queued_task == task, rows.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


def release_host(session: Session, host: str, owner: str) -> None:
    session.execute(delete(HostLease).where(HostLease.host == host, HostLease.owner == owner))


def heartbeat(
    session: Session, owner: str, sources: Sequence[str], hosts: Sequence[str], state: str
) -> None:
    """Renew this worker's leases and record that it is alive (or, state "stopped", gone)."""
    now = utcnow()
    expires = now + timedelta(seconds=LEASE_SECONDS)
    if sources:
        session.execute(
            update(SourceSchedule)
            .where(SourceSchedule.lease_owner == owner, SourceSchedule.source.in_(list(sources)))
            .values(lease_expires_at=expires)
        )
    if hosts:
        session.execute(
            update(HostLease)
            .where(HostLease.owner == owner, HostLease.host.in_(list(hosts)))
            .values(expires_at=expires)
        )
    host, _, pid = owner.rpartition(":")
    values = {"heartbeat_at": now, "state": state, "current": list(sources)}
    statement = _upsert(session, WorkerState).values(
        name=owner, host=host, pid=int(pid), started_at=now, tasks_done=0, **values
    )
    session.execute(statement.on_conflict_do_update(index_elements=[WorkerState.name], set_=values))


def count_done(session: Session, owner: str) -> None:
    session.execute(
        update(WorkerState)
        .where(WorkerState.name == owner)
        .values(tasks_done=WorkerState.tasks_done + 1)
    )


def cluster_status(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """The workers (alive or not), the source and host leases, for `aggregator status`."""
    now = now or utcnow()
    workers = [
        {
            "worker": row.name,
            "host": row.host,
            "pid": row.pid,
            "state": row.state
            if row.state != "running" or row.heartbeat_at >= now - timedelta(seconds=LEASE_SECONDS)
            else "dead",
            "heartbeat_seconds_ago": round((now - row.heartbeat_at).total_seconds(), 1),
            "current": list(row.current or []),
            "tasks_done": row.tasks_done,
        }
        for row in session.scalars(select(WorkerState).order_by(WorkerState.name))
    ]
    rows = SourceSchedule
    leases = [
        {"source": source, "worker": owner, "expires": expires and expires.isoformat()}
        for source, owner, expires in session.execute(
            select(rows.source, rows.lease_owner, rows.lease_expires_at)
            .where(rows.lease_owner.is_not(None))
            .order_by(rows.source)
        )
    ]
    queued = session.scalar(select(func.count()).where(rows.queued_task.is_not(None)))
    hosts = [
        {"host": host, "worker": owner, "expires": expires.isoformat()}
        for host, owner, expires in session.execute(
            select(HostLease.host, HostLease.owner, HostLease.expires_at).order_by(HostLease.host)
        )
    ]
    return {"workers": workers, "leases": leases, "queued_sources": queued, "host_leases": hosts}


# -- the worker's side ---------------------------------------------------------------------


@dataclass
class _Held:
    """A task this worker took: its queue entry, message, source and host."""

    entry_id: str
    message: dict[str, Any]
    source: Source
    host: str
    started_at: datetime


class QueueChannel:
    """The TaskChannel of a worker on the queue (see aggregator.worker.TaskChannel).

    Claims and reports run on one thread of their own, in order, never on the reactor; the
    wait for new tasks on another.
    """

    def __init__(self, queue: TaskQueue, engine: Engine, max_tasks: int) -> None:
        self.queue = queue
        self.engine = engine
        self.owner = worker_name()
        self.max_tasks = max_tasks
        self.ids = itertools.count(1)
        self.held: dict[int, _Held] = {}
        self.hosts: Counter[str] = Counter()
        # taken from the queue, not yet claimed: (entry id, message, when to ask again)
        self.waiting: deque[tuple[str, dict[str, Any], float]] = deque()
        self.io = ThreadPoolExecutor(1, thread_name_prefix="queue-io")
        # waiting on the queue (up to a second) never holds up the claims and reports
        self.taker = ThreadPoolExecutor(1, thread_name_prefix="queue-take")
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.beating: threading.Thread | None = None

    # the reactor's side

    async def get(self) -> Task | None:
        """The next task this worker may crawl now (its leases taken); None when stopping."""
        loop = asyncio.get_running_loop()
        while not self.stopped.is_set():
            if self.beating is None:
                await loop.run_in_executor(self.io, self._start)
            with self.lock:
                room = self.max_tasks - len(self.held)
            if room <= 0:
                await asyncio.sleep(0.2)
                continue
            now = time.monotonic()
            if self.waiting and self.waiting[0][2] <= now:
                entry_id, message, _ = self.waiting.popleft()
            else:
                # one at a time: the next task goes to whichever worker asks first
                await loop.run_in_executor(self.taker, self._take, 1)
                continue
            task = await loop.run_in_executor(self.io, self._claim, entry_id, message)
            if task is not None:
                return task
        return None

    def report(
        self,
        task: Task,
        status: str,
        detail: str,
        stats: dict[str, Any] | None = None,
        errors: Sequence[tuple[str | None, str, str]] = (),
    ) -> None:
        report = {"status": status, "detail": detail, "stats": stats or {}, "errors": errors}
        self.io.submit(self._finish, task.task_id, report)

    # the queue thread's side

    def _start(self) -> None:
        self.queue.ensure_group()
        self._beat("running")
        self.beating = threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True)
        self.beating.start()
        logger.info("worker %s takes tasks from %s", self.owner, self.queue.url)

    def _take(self, room: int) -> None:
        """Add tasks from the queue to those waiting here (seen by close() even mid-stop)."""
        try:
            taken = self.queue.take(self.owner, room, block=1.0)
        except self.queue.errors as exc:
            logger.error("queue out of reach: %s", exc)
            time.sleep(1.0)
            return
        now = time.monotonic()
        self.waiting.extend((entry_id, message, now) for entry_id, message in taken)

    def _claim(self, entry_id: str, message: dict[str, Any]) -> Task | None:
        try:
            source = message_source(message)
            task = str(message["task"])
        except (KeyError, TypeError, ValueError) as exc:
            logger.error("queue entry %s is not a task (%s): dropped", entry_id, exc)
            self._ack(entry_id)
            return None
        host = host_of(source)
        try:
            with session_scope(self.engine) as session:
                verdict = claim(session, source.name, task, host, self.owner, utcnow())
        except OperationalError as exc:
            logger.error("cannot take %s: %s", source.name, exc.orig)
            verdict = "busy"
        if verdict == "stale":
            logger.info("task %s of %s is done or replaced: dropped", task, source.name)
            self._ack(entry_id)
            return None
        if verdict == "busy":
            self.waiting.append((entry_id, message, time.monotonic() + BUSY_RETRY_SECONDS))
            return None
        with self.lock:
            same = [held.entry_id for held in self.held.values() if held.message["task"] == task]
        if same:  # delivered again while this worker crawls it
            if entry_id not in same:
                self._ack(entry_id)
            return None
        local = next(self.ids)
        with self.lock:
            self.held[local] = _Held(entry_id, message, source, host, utcnow())
            self.hosts[host] += 1
        logger.info("worker %s crawls %s (task %s)", self.owner, source.name, task)
        return Task(local, source, float(message["time_limit"]))

    def _finish(self, local: int, report: dict[str, Any]) -> None:
        with self.lock:
            held = self.held.get(local)
        if held is None:
            return
        name = held.source.name
        with self.lock:  # claims run on this thread too: no other task takes the host meanwhile
            last_on_host = self.hosts[held.host] <= 1
        recorded = False
        for wait in (*DB_RETRY_WAITS, None):
            try:
                with session_scope(self.engine) as session:
                    self._record(session, held, report)
                    if last_on_host:
                        release_host(session, held.host, self.owner)
                recorded = True
                break
            except OperationalError as exc:
                logger.error("cannot record the crawl of %s: %s", name, exc.orig)
                if wait is None:
                    break
                time.sleep(wait)
        with self.lock:
            del self.held[local]
            self.hosts[held.host] -= 1
            if self.hosts[held.host] <= 0:
                del self.hosts[held.host]
        if not recorded:  # its lease and queue entry run out: crawled again by someone
            return
        if report["status"] == "interrupted":
            self._retry(functools.partial(self.queue.put, held.message))
            logger.info("worker %s hands %s back to the queue", self.owner, name)
        self._ack(held.entry_id)

    def _record(self, session: Session, held: _Held, report: dict[str, Any]) -> None:
        """End the lease of a task and record its crawl run and the source's next run."""
        name, task = held.source.name, str(held.message["task"])
        if report["status"] == "interrupted":
            hand_back(session, name, task, self.owner)
        elif finish(session, name, task, self.owner):
            row = get_schedule(session, name)
            plan = (row.interval_seconds, row.consecutive_errors) if row else (None, 0)
            config = message_config(held.message)
            record_crawl(session, held.source, held.started_at, report, config, plan)
            count_done(session, self.owner)
        else:  # the lease ran out and another worker took the source over
            errors = [tuple(error) for error in report["errors"]]
            status = str(report["status"])
            detail = "lease lost: another worker crawls this source"
            record_run(session, [name], held.started_at, status, report["stats"], errors, detail)

    def _ack(self, entry_id: str) -> None:
        self._retry(lambda: self.queue.ack([entry_id]))

    def _retry(self, call: Callable[[], T]) -> T | None:
        for wait in (*DB_RETRY_WAITS, None):
            try:
                return call()
            except self.queue.errors as exc:
                logger.error("queue out of reach: %s", exc)
                if wait is None:
                    return None
                time.sleep(wait)
        return None

    def _heartbeats(self) -> None:
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            self._beat("running")

    def _beat(self, state: str) -> None:
        with self.lock:
            sources = [held.source.name for held in self.held.values()]
            hosts = list(self.hosts)
            entries = [held.entry_id for held in self.held.values()]
        entries += [entry_id for entry_id, _, _ in list(self.waiting)]
        try:
            with session_scope(self.engine) as session:
                heartbeat(session, self.owner, sources, hosts, state)
        except OperationalError as exc:
            logger.error("heartbeat not recorded: %s", exc.orig)
        try:
            self.queue.touch(self.owner, entries)
        except self.queue.errors as exc:
            logger.error("heartbeat not sent to the queue: %s", exc)

    def close(self) -> None:
        """Say goodbye once the reports are written; tasks not crawled go back to the queue."""
        self.stopped.set()
        self.taker.shutdown(wait=True)
        self.io.shutdown(wait=True)
        with self.lock:
            unreported = list(self.held)
        for local in unreported:  # taken as the crawler stopped: never started
            self._finish(local, {"status": "interrupted", "detail": "", "stats": {}, "errors": []})
        while self.waiting:
            entry_id, message, _ = self.waiting.popleft()
            if self._retry(functools.partial(self.queue.put, message)) is not None:
                self._ack(entry_id)
        self._beat("stopped")
        self.queue.close()


def run_queue_worker(
    db_url: str, queue_url: str, max_tasks: int, settings: Sequence[str] = ()
) -> None:
    """Run one queue worker in this process until SIGTERM or SIGINT."""
    from scrapy.crawler import CrawlerProcess

    from aggregator.crawling import SPIDER, crawl_settings
    from aggregator.store.db import open_store

    overrides: dict[str, Any] = {
        "AGGREGATOR_WORKER": True,
        "AGGREGATOR_PROGRESS_INTERVAL": 0,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_INSTALL_ROOT_HANDLER": False,  # the command's handler: one line per message
    }
    overrides.update(setting.partition("=")[::2] for setting in settings)
    engine = open_store(db_url)
    channel = QueueChannel(TaskQueue(queue_url), engine, max_tasks)
    process = CrawlerProcess(crawl_settings(db_url, "", overrides))
    process.crawl(SPIDER, tasks=channel)
    try:
        process.start()
    finally:
        channel.close()
        engine.dispose()
