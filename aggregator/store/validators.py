"""HTTP validators in SQL: the ETag and Last-Modified of each fetched URL (conditional requests)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aggregator.items import utcnow
from aggregator.store.db import chunked
from aggregator.store.models import HttpValidator


def validators_for(
    session: Session, urls: Iterable[str]
) -> dict[str, tuple[str | None, str | None]]:
    """Return the stored (ETag, Last-Modified) of those URLs that have any."""
    wanted = list(dict.fromkeys(urls))
    found: dict[str, tuple[str | None, str | None]] = {}
    for chunk in chunked(wanted):
        rows = session.scalars(select(HttpValidator).where(HttpValidator.url.in_(chunk)))
        found.update({row.url: (row.etag, row.last_modified) for row in rows})
    return found


def save_validator(session: Session, url: str, etag: str | None, last_modified: str | None) -> None:
    """Remember a URL's ETag and Last-Modified (or forget them when it sent none)."""
    row = session.get(HttpValidator, url)
    if etag is None and last_modified is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        try:
            with session.begin_nested():
                session.add(HttpValidator(url=url, etag=etag, last_modified=last_modified))
            return
        except IntegrityError:  # another crawl stored it a moment ago
            row = session.get(HttpValidator, url, populate_existing=True)
            if row is None:
                return
    row.etag, row.last_modified, row.updated_at = etag, last_modified, utcnow()
