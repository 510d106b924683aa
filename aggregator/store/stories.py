"""Story grouping's storage in SQL: stories, their index keys and document frequencies."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, insert, select, text, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from aggregator.dedup.stories import StoryState
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
            rows = self.session.execute(
                select(TermFrequency.term, TermFrequency.documents).where(
                    TermFrequency.term.in_(chunk)
                )
            )
            found.update({term: documents for term, documents in rows})
        return found

    def add_document_terms(self, terms: Collection[str], step: int = 1) -> None:
        """Count one more (or, with step=-1, one less) document containing each term."""
        rows = [{"term": term, "documents": step} for term in {*_fitting(terms), _DOCUMENTS}]
        dialect_insert = pg_insert if self.postgres else sqlite_insert
        for chunk in chunked(rows):
            # One multi-row statement: one round trip instead of one per term
            statement = dialect_insert(TermFrequency).values(list(chunk))
            self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[TermFrequency.term],
                    set_={"documents": TermFrequency.documents + statement.excluded.documents},
                )
            )

    def candidate_stories(
        self, keys: Collection[str], since: datetime, per_key: int
    ) -> list[StoryState]:
        """Return stories seen since a time that carry a key, the latest per_key for each key."""
        if not keys:
            return []
        # One statement: per key, an indexed range scan on (key, last_seen), newest first
        per_key_ids = [
            select(
                select(StoryKey.story_id)
                .where(StoryKey.key == key, StoryKey.last_seen >= since)
                .order_by(StoryKey.last_seen.desc())
                .limit(per_key)
                .subquery()
            )
            for key in keys
        ]
        ids = dict.fromkeys(self.session.scalars(union_all(*per_key_ids)))
        if not ids:
            return []
        stories = self.session.scalars(select(Story).where(Story.id.in_(list(ids))))
        return [_state(story) for story in stories]

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
        row.profile = {
            "centroid": story.centroid,
            "titles": list(story.titles),
            "keys": list(story.keys),
        }
        self.session.flush()
        self.session.execute(delete(StoryKey).where(StoryKey.story_id == story_id))
        keys = _fitting(dict.fromkeys(story.keys))
        if keys:
            self.session.execute(
                insert(StoryKey),
                [{"key": key, "story_id": story_id, "last_seen": story.last_seen} for key in keys],
            )


def _state(story: Story) -> StoryState:
    profile = story.profile
    return StoryState(
        id=str(story.id),
        headline=story.headline,
        first_seen=story.first_seen,
        last_seen=story.last_seen,
        article_count=story.article_count,
        sources=tuple(story.sources),
        centroid=dict(profile.get("centroid", {})),
        titles=tuple(profile.get("titles", ())),
        keys=tuple(profile.get("keys", ())),
    )
