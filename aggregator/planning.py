"""When a source is crawled next: the schedule's settings, the next-run policy, and the
record of a crawl run a worker reported (one machine's scheduler and queue workers alike).

When the next crawl of a source is due:
- a source with an ``interval`` in sources.toml: that interval after the last start;
- otherwise adaptive: halved after a run that found new articles, half as long again after
  one that found none, between ``min_interval`` and ``max_interval``;
- after a failed run (crash, overrun, or no feed/sitemap/listing answered) the delay doubles
  with each consecutive failure, up to ``max_backoff``, and resets on the first success;
- never sooner than the source asked (feed TTL, Retry-After, Cache-Control max-age);
- plus a little jitter, so sources do not all fire at once.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from aggregator.humanize import plural
from aggregator.sources import Source
from aggregator.store.runs import record_run
from aggregator.store.schedule import save_schedule

if TYPE_CHECKING:
    from aggregator.worker import Report

logger = logging.getLogger(__name__)

# Waits before trying again to record a crawl when the database is locked or out of reach
DB_RETRY_WAITS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
# Jitter: this share of the delay, at most MAX_JITTER seconds, either way
JITTER_SHARE = 0.05
MAX_JITTER = 60.0


@dataclass(frozen=True)
class ScheduleConfig:
    """How the scheduler runs crawls and keeps the store; durations in seconds, ages in days."""

    db_url: str
    sources_path: str
    workers: int = 2
    max_crawls: int = 16
    time_limit: float = 600.0
    min_interval: float = 15 * 60.0
    max_interval: float = 6 * 3600.0
    max_backoff: float = 6 * 3600.0
    grace: float = 30.0
    raw_html_days: float | None = 30.0
    prune_days: float | None = None
    retention_every: float = 24 * 3600.0
    reload_every: float = 5.0
    # extra `-s NAME=VALUE` settings for every crawl
    crawl_settings: tuple[str, ...] = ()
    # Several machines: put due crawls in this Redis queue for `aggregator worker`s
    queue_url: str | None = None


@dataclass(frozen=True)
class CrawlOutcome:
    """How one scheduled crawl ended, as the next-run policy sees it."""

    status: str
    new_articles: int
    failed: bool
    asked_wait: float = 0.0


def next_delay(
    source: Source,
    previous_interval: float | None,
    errors: int,
    outcome: CrawlOutcome,
    config: ScheduleConfig,
) -> tuple[float, float, int]:
    """Return (current interval, delay to the next start, consecutive errors) after a run."""
    if source.interval is not None:
        interval = source.interval.total_seconds()
    else:
        interval = previous_interval or config.min_interval
        if not outcome.failed:
            interval = interval / 2 if outcome.new_articles else interval * 1.5
        interval = min(max(interval, config.min_interval), config.max_interval)
    if outcome.failed:
        errors += 1
        delay = min(interval * 2**errors, max(config.max_backoff, interval))
    else:
        errors = 0
        delay = interval
    return interval, max(delay, outcome.asked_wait), errors


def jittered(delay: float, rng: random.Random | None = None) -> float:
    """Return the delay moved by a little random jitter (never below zero)."""
    spread = min(delay * JITTER_SHARE, MAX_JITTER)
    return max(0.0, delay + (rng or random).uniform(-spread, spread))


def record_crawl(
    session: Session,
    source: Source,
    started_at: datetime,
    report: Report,
    config: ScheduleConfig,
    plan: tuple[float | None, int],
    stopping: bool = False,
) -> tuple[datetime, tuple[float, int]]:
    """Record the crawl run a worker reported and the source's next run.

    plan is the source's (interval, failures in a row) before the run; return when it is due
    next and its plan after the run.
    """
    status = str(report.get("status", "crashed"))
    if status in {"crashed", "failed"}:
        # the worker died, or was stopped, before it could finish the crawl
        status = "interrupted" if stopping else "crashed"
    stats: dict[str, Any] = dict(report.get("stats") or {})
    errors = [tuple(error) for error in report.get("errors") or []]
    detail = str(report.get("detail") or "")
    name = source.name
    run_id = record_run(session, [name], started_at, status, stats, errors, detail)
    discovered = int(stats.get("aggregator/discovery/ok", 0))
    failed_discovery = int(stats.get("aggregator/discovery/failed", 0))
    outcome = CrawlOutcome(
        status=status,
        new_articles=int(stats.get("aggregator/store/inserted", 0)),
        failed=status in {"timeout", "crashed"} or (discovered == 0 and failed_discovery > 0),
        asked_wait=float(stats.get("aggregator/asked_wait_seconds", 0)),
    )
    now = datetime.now(UTC)
    interval, delay, errors_in_a_row = next_delay(source, plan[0], plan[1], outcome, config)
    when = max(started_at + timedelta(seconds=jittered(delay)), now)
    not_before = now + timedelta(seconds=outcome.asked_wait) if outcome.asked_wait else None
    if not_before is not None:
        when = max(when, not_before)
    save_schedule(
        session,
        name,
        interval_seconds=interval,
        consecutive_errors=errors_in_a_row,
        next_run_at=when,
        last_run_at=started_at,
        last_run_id=run_id,
        last_status="failed" if outcome.failed else outcome.status,
        last_articles=outcome.new_articles,
        not_before=not_before,
    )
    logger.info(
        "crawl of %s (run %d) %s in %.1f s: %s%s; next in %.0f s",
        name,
        run_id,
        "failed: " + outcome.status if outcome.failed else outcome.status,
        (now - started_at).total_seconds(),
        plural(outcome.new_articles, "new article"),
        f", {plural(errors_in_a_row, 'failure')} in a row" if errors_in_a_row else "",
        (when - now).total_seconds(),
    )
    return when, (interval, errors_in_a_row)
