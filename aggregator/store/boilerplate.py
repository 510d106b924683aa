"""The paragraphs learned to be boilerplate of each source, in SQL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aggregator.store.articles import ensure_source
from aggregator.store.models import Source, TemplateBlock


def boilerplate_keys(session: Session, source: str) -> set[str]:
    """Keys of the paragraphs learned to be boilerplate of a source."""
    return set(
        session.scalars(select(TemplateBlock.block_key).join(Source).where(Source.name == source))
    )


def save_boilerplate(session: Session, source: str, paragraphs: dict[str, str]) -> None:
    """Remember paragraphs (key -> sample text) as boilerplate of a source."""
    if not paragraphs:
        return
    source_row = ensure_source(session, source, "")
    known = boilerplate_keys(session, source)
    for key, sample in paragraphs.items():
        if key not in known:
            try:
                with session.begin_nested():
                    session.add(
                        TemplateBlock(source_id=source_row.id, block_key=key, sample=sample)
                    )
            except IntegrityError:  # learned by another process at the same moment
                pass
