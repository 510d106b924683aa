"""Crawl runs in SQL: their start, end, stats and failed URLs, and the JSON shape of a run."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, insert, or_, select
from sqlalchemy.orm import Session

from aggregator.items import utcnow
from aggregator.store.models import CrawlError, CrawlRun


def start_run(session: Session, sources: list[str]) -> int:
    """Record the start of a crawl run and return its id."""
    run = CrawlRun(sources=sources, status="running", stats={})
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    status: str,
    stats: dict[str, Any],
    errors: Iterable[tuple[str | None, str, str]] = (),
) -> None:
    """Record how a crawl run ended: its status, stats and failed URLs (source, url, reason)."""
    run = session.get(CrawlRun, run_id)
    if run is None:
        raise ValueError(f"crawl run {run_id} does not exist")
    run.finished_at = utcnow()
    run.status = status
    run.stats = stats
    for key, value in _run_counts(stats).items():
        setattr(run, key, value)
    for source, url, reason in errors:
        run.errors.append(CrawlError(source=source, url=url, reason=reason))
    run.error_count = len(run.errors)


def record_run(
    session: Session,
    sources: list[str],
    started_at: datetime,
    status: str,
    stats: dict[str, Any],
    errors: Iterable[tuple[str | None, str, str]] = (),
    log_tail: str | None = None,
) -> int:
    """Record a whole crawl run at its end (a worker's crawl of one source); return its id."""
    now = utcnow()
    errors = list(errors)
    values = {
        "sources": sources,
        "started_at": started_at,
        "finished_at": now,
        "status": status,
        "stats": stats,
        "log_tail": log_tail,
        "error_count": len(errors),
        **_run_counts(stats),
    }
    run_id = int(
        session.execute(insert(CrawlRun).values(values).returning(CrawlRun.id)).scalar_one()
    )
    if errors:
        session.execute(
            insert(CrawlError),
            [
                {"run_id": run_id, "source": source, "url": url, "reason": reason, "at": now}
                for source, url, reason in errors
            ],
        )
    return run_id


def _run_counts(stats: dict[str, Any]) -> dict[str, int]:
    """The pages fetched and articles stored a crawl run's stats count."""
    stored = int(stats.get("aggregator/store/inserted", 0))
    stored += int(stats.get("aggregator/store/duplicate", 0))
    return {
        "pages_fetched": int(stats.get("aggregator/pages_fetched", 0)),
        "articles_stored": stored,
    }


def run_to_dict(run: CrawlRun, with_errors: bool = True) -> dict[str, Any]:
    """The public JSON shape of a crawl run; durations in seconds, as everywhere."""
    elapsed = ((run.finished_at or run.started_at) - run.started_at).total_seconds()
    data: dict[str, Any] = {
        "id": run.id,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": round(elapsed, 2),
        "status": run.status,
        "sources": list(run.sources),
        "pages_fetched": run.pages_fetched,
        "articles_stored": run.articles_stored,
        "articles_updated": int((run.stats or {}).get("aggregator/store/updated", 0)),
        "errors": run.error_count,
    }
    if with_errors:
        data["error_list"] = [
            {"source": e.source, "url": e.url, "reason": e.reason} for e in run.errors
        ]
        data["log_tail"] = run.log_tail or None
    return data


def _lists_source(name: str) -> ColumnElement[bool]:
    """Whether a run's sources (a JSON array of names, stored as text) include this name."""
    pattern = '%"' + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'
    return cast(CrawlRun.sources, Text).like(pattern, escape="\\")


def _errors_of(name: str) -> ColumnElement[bool]:
    """Whether a run recorded a failed URL of this source."""
    return (
        select(CrawlError.id)
        .where(CrawlError.run_id == CrawlRun.id, CrawlError.source == name)
        .exists()
    )


def list_runs(
    session: Session, source: str | None = None, failed: bool = False, limit: int = 20
) -> list[CrawlRun]:
    """Crawl runs, newest first: of one source, and only those that failed, when asked.

    A run failed when it did not finish, or recorded a failed URL (of that source).
    """
    query = select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)
    if source:
        query = query.where(_lists_source(source))
    if failed:
        had_errors = _errors_of(source) if source else CrawlRun.error_count > 0
        query = query.where(or_(CrawlRun.status != "finished", had_errors))
    return list(session.scalars(query))


def last_run_of(session: Session, source: str) -> CrawlRun | None:
    """The newest crawl run of a source, scheduled or not."""
    runs = list_runs(session, source, limit=1)
    return runs[0] if runs else None


def last_error_of(session: Session, source: str) -> CrawlError | None:
    """The newest failed URL recorded for a source."""
    return session.scalar(
        select(CrawlError)
        .where(CrawlError.source == source)
        .order_by(CrawlError.id.desc())
        .limit(1)
    )


def articles_added(run: CrawlRun, source: str) -> int:
    """How many new articles a run stored for a source (a crawl of several counts each)."""
    stats = run.stats or {}
    key = f"aggregator/sources/{source}/inserted"
    if key in stats or len(run.sources) != 1:
        return int(stats.get(key, 0))
    return int(stats.get("aggregator/store/inserted", 0))


def get_run(session: Session, run_id: int) -> CrawlRun | None:
    """Return a crawl run by id."""
    return session.get(CrawlRun, run_id)


def recent_runs(session: Session, limit: int = 5) -> list[CrawlRun]:
    """The latest crawl runs, newest first."""
    return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)))
