"""The scheduler's state of each source in SQL: when it runs next, how its last runs went."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from aggregator.items import utcnow
from aggregator.store.models import SourceSchedule


def get_schedule(session: Session, source: str) -> SourceSchedule | None:
    """Return the scheduler's state of a source, or None before its first scheduled run."""
    return session.get(SourceSchedule, source)


def list_schedules(session: Session) -> list[SourceSchedule]:
    """Return the scheduler's state of every source it has seen, by name."""
    return list(session.scalars(select(SourceSchedule).order_by(SourceSchedule.source)))


def save_schedule(session: Session, source: str, **values: Any) -> None:
    """Create or update the scheduler's state of a source."""
    values["updated_at"] = utcnow()
    where = SourceSchedule.source == source
    if not session.execute(update(SourceSchedule).where(where).values(values)).rowcount:  # type: ignore[attr-defined]
        session.execute(insert(SourceSchedule).values(source=source, **values))
