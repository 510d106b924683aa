"""Story grouping's storage in SQL: stories, their index keys and document frequencies."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    CompoundSelect,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from aggregator.dedup.stories import StoryMember, StoryState
from aggregator.store.db import chunked
from aggregator.store.models import Story, StoryKey, TermFrequency

# The row of term_frequencies that counts the documents themselves
_DOCUMENTS = ""
# The width of story_keys.key and term_frequencies.term
_MAX_TERM_CHARS = 120
# Any constant works: the same in every process that shares the database
_PG_STORY_LOCK = 4_242_002


def _fitting(terms: Collection[str]) -> list[str]:
    """The terms short enough for the term and key columns (longer ones are rare names)."""
    return [term for term in terms if len(term) <= _MAX_TERM_CHARS]


# Statements built once and reused: building and compiling them cost more than running them.
# A reused statement object keeps its cache key, so SQLAlchemy finds its compiled form at once.
_FREQUENCIES = select(TermFrequency.term, TermFrequency.documents).where(
    TermFrequency.term.in_(bindparam("terms", expanding=True))
)
_STORIES = select(
    Story.id,
    Story.headline,
    Story.first_seen,
    Story.last_seen,
    Story.article_count,
    Story.sources,
    # As text: decoding the profile is most of a candidate's cost, and _decoded skips it
    # for a story read before and not changed since
    sql_cast(Story.profile, Text),
).where(Story.id.in_(bindparam("ids", expanding=True)))
# Stories decoded lately, by id, with the row they were decoded from (a process-wide cache:
# a story changed by any process has a different row, and is decoded again)
_DECODED: OrderedDict[int, tuple[tuple[Any, ...], StoryState]] = OrderedDict()
_DECODED_MAX = 4096


def _decoded(row: tuple[Any, ...]) -> StoryState:
    """The StoryState of a row of _STORIES, decoded once for as long as the row is unchanged."""
    story_id = row[0]
    known = _DECODED.get(story_id)
    if known is not None and known[0] == row:
        _DECODED.move_to_end(story_id)
        return known[1]
    story_id, headline, first_seen, last_seen, article_count, sources, profile = row
    state = _state(
        story_id, headline, first_seen, last_seen, article_count, sources, json.loads(profile)
    )
    _DECODED[story_id] = (row, state)
    if len(_DECODED) > _DECODED_MAX:
        _DECODED.popitem(last=False)
    return state


@cache
def _candidate_ids(keys: int, per_key: int) -> CompoundSelect:
    """Per key (bound as key0, key1, ...), the latest per_key stories seen since :since."""
    return union_all(
        *(
            select(
                select(StoryKey.story_id)
                .where(
                    StoryKey.key == bindparam(f"key{n}"), StoryKey.last_seen >= bindparam("since")
                )
                .order_by(StoryKey.last_seen.desc())
                .limit(per_key)
                .subquery()
            )
            for n in range(keys)
        )
    )


@cache
def _upsert_terms(postgres: bool) -> Any:
    """Add :documents to a term's count, creating the row when it is missing (executemany)."""
    statement = (pg_insert if postgres else sqlite_insert)(cast(Table, TermFrequency.__table__))
    return statement.on_conflict_do_update(
        index_elements=[TermFrequency.term],
        set_={"documents": TermFrequency.documents + statement.excluded.documents},
    )


class SqlStoryStore:
    """The StoryStore protocol of aggregator.dedup.stories on one SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def lock(self) -> None:
        """Serialise story assignment between processes until the transaction ends.

        SQLite needs nothing: every write transaction starts with BEGIN IMMEDIATE.
        """
        if self.postgres:
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_STORY_LOCK})

    def doc_count(self) -> int:
        """Return how many documents the document frequencies count."""
        return self.document_frequencies([_DOCUMENTS]).get(_DOCUMENTS, 0)

    def document_frequencies(self, terms: Collection[str]) -> dict[str, int]:
        """Return the document frequency of each known term among terms."""
        found: dict[str, int] = {}
        for chunk in chunked(_fitting(terms)):
            rows = self.session.execute(_FREQUENCIES, {"terms": list(chunk)})
            found.update({term: documents for term, documents in rows})
        return found

    def add_document_terms(self, terms: Collection[str], step: int = 1) -> None:
        """Count one more (or, with step=-1, one less) document containing each term."""
        # Sorted: writers serialised by lock() would not need it, but rows then lock in order
        rows = [
            {"term": term, "documents": step} for term in sorted({*_fitting(terms), _DOCUMENTS})
        ]
        # One executemany of one compiled statement (a multi-row VALUES is compiled anew for
        # every row count, which cost more than the upserts themselves)
        self.session.connection().execute(_upsert_terms(self.postgres), rows)

    def candidate_stories(
        self, keys: Collection[str], since: datetime, per_key: int
    ) -> list[StoryState]:
        """Return stories seen since a time that carry a key, the latest per_key for each key."""
        if not keys:
            return []
        # One statement: per key, an indexed range scan on (key, last_seen), newest first
        params: dict[str, Any] = {f"key{n}": key for n, key in enumerate(keys)}
        params["since"] = since
        ids = dict.fromkeys(self.session.scalars(_candidate_ids(len(keys), per_key), params))
        if not ids:
            return []
        # Plain rows, not ORM objects: nothing here is changed through the session
        rows = self.session.execute(_STORIES, {"ids": list(ids)})
        return [_decoded(tuple(row)) for row in rows]

    def save_story(self, story: StoryState) -> None:
        """Insert or replace a story and its key postings."""
        story_id = int(story.id)
        row = self.session.get(Story, story_id)
        if row is None:
            row = Story(id=story_id)
            self.session.add(row)
        row.headline = story.headline
        row.first_seen = story.first_seen
        row.last_seen = story.last_seen
        row.article_count = story.article_count
        row.source_count = story.source_count
        row.sources = list(story.sources)
        row.merged_into = None
        row.profile = story_profile(story)
        self.session.flush()
        self.session.execute(delete(StoryKey).where(StoryKey.story_id == story_id))
        keys = _fitting(dict.fromkeys(story.keys))
        if keys:
            self.session.execute(
                insert(StoryKey),
                [{"key": key, "story_id": story_id, "last_seen": story.last_seen} for key in keys],
            )

    def merge_story(self, story_id: str, into: str) -> None:
        """Record that a story was merged into another: no keys, links lead to into."""
        gone, kept = int(story_id), int(into)
        self.session.execute(delete(StoryKey).where(StoryKey.story_id == gone))
        # One hop for every old id: stories merged into this one earlier now lead to into too
        self.session.execute(
            update(Story)
            .where((Story.id == gone) | (Story.merged_into == gone))
            .values(merged_into=kept)
            .execution_options(synchronize_session=False)
        )


def story_profile(story: StoryState) -> dict[str, Any]:
    """The JSON profile of a story: its term profile, titles, index keys and members."""
    return {
        "centroid": story.centroid,
        "titles": list(story.titles),
        "keys": list(story.keys),
        "members": [[m.id, m.source, m.published.isoformat(), m.vector] for m in story.members],
    }


def _state(
    story_id: int,
    headline: str,
    first_seen: datetime,
    last_seen: datetime,
    article_count: int,
    sources: list[str],
    profile: dict[str, Any],
) -> StoryState:
    return StoryState(
        id=str(story_id),
        headline=headline,
        first_seen=first_seen,
        last_seen=last_seen,
        article_count=article_count,
        sources=tuple(sources),
        centroid=dict(profile.get("centroid", {})),
        titles=tuple(profile.get("titles", ())),
        keys=tuple(profile.get("keys", ())),
        members=tuple(
            StoryMember(member_id, source, datetime.fromisoformat(published), vector)
            for member_id, source, published, vector in profile.get("members", ())
        ),
    )
