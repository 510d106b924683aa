"""Stories in SQL: grouping's storage (stories, keys, term counts), listing, regrouping."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from aggregator.dedup.stories import StoryDecision, StoryMember, StoryState
from aggregator.store.articles import article_time
from aggregator.store.db import chunked
from aggregator.store.models import Article, Story, StoryKey, TermFrequency

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


# PostgreSQL: every term of an article counted in one statement, rows locked in term order
_PG_UPSERT_TERMS = text(
    "INSERT INTO term_frequencies (term, documents)"
    " SELECT term, :step FROM unnest(CAST(:terms AS text[])) AS term ORDER BY term"
    " ON CONFLICT (term) DO UPDATE"
    " SET documents = term_frequencies.documents + excluded.documents"
)


@cache
def _upsert_terms() -> Any:
    """Add :documents to a term's count, creating the row when it is missing (executemany)."""
    statement = sqlite_insert(cast(Table, TermFrequency.__table__))
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
        ordered = sorted({*_fitting(terms), _DOCUMENTS})
        if self.postgres:
            # One statement over an array: one execution on the server, not one per term
            self.session.execute(_PG_UPSERT_TERMS, {"terms": ordered, "step": step})
            return
        # One executemany of one compiled statement (a multi-row VALUES is compiled anew for
        # every row count, which cost more than the upserts themselves)
        rows = [{"term": term, "documents": step} for term in ordered]
        self.session.connection().execute(_upsert_terms(), rows)

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


def apply_story(session: Session, article: Article, decision: StoryDecision) -> int:
    """Store story grouping's decision for an original article: its story, and the articles
    a split or merge moved (see aggregator.dedup.stories.assign_story); return its story id."""
    article.story_id = int(decision.story_id)
    # Copies that already point at this article join its story too
    session.execute(
        update(Article)
        .where(Article.duplicate_of == article.id)
        .values(story_id=article.story_id)
        .execution_options(synchronize_session=False)
    )
    if decision.split is not None:
        # The articles (and their copies) of the part that became a story of its own
        moved = [int(article_id) for article_id in decision.moved]
        # A moved article may since have become the copy of an earlier one: that one moves too
        originals = select(Article.duplicate_of).where(Article.id.in_(moved)).scalar_subquery()
        session.execute(
            update(Article)
            .where(
                or_(
                    Article.id.in_(moved),
                    Article.duplicate_of.in_(moved),
                    Article.id.in_(originals),
                    Article.duplicate_of.in_(originals),
                )
            )
            .values(story_id=int(decision.split.id))
            .execution_options(synchronize_session=False)
        )
    if decision.merged:
        session.execute(
            update(Article)
            .where(Article.story_id.in_([int(story_id) for story_id in decision.merged]))
            .values(story_id=article.story_id)
            .execution_options(synchronize_session=False)
        )
    return article.story_id


def resolve_story(session: Session, story_id: int) -> int | None:
    """The story a story id leads to now (itself, or the one it was merged into), if any."""
    row = session.execute(select(Story.id, Story.merged_into).where(Story.id == story_id)).first()
    if row is None:
        return None
    return row.merged_into or row.id


def list_stories(
    session: Session, since: datetime | None, min_sources: int = 1, limit: int | None = None
) -> list[tuple[Story, list[Article]]]:
    """Stories seen since a time, most covered first, with their articles and copies."""
    query = (
        select(Story)
        .where(Story.merged_into.is_(None))
        .order_by(Story.source_count.desc(), Story.last_seen.desc(), Story.id)
    )
    if since is None:
        query = query.where(Story.source_count >= min_sources)
    else:
        # The window's index (last_seen) picks the day's few thousand stories to sort; SQLite
        # would walk a year of them by source_count instead, so that column is an expression
        query = query.where(Story.last_seen >= since, Story.source_count + 0 >= min_sources)
    if limit is not None:
        query = query.limit(limit)
    stories = list(session.scalars(query))
    members = _story_articles(session, [story.id for story in stories])
    return [(story, members[story.id]) for story in stories]


def get_story(session: Session, story_id: int) -> tuple[Story, list[Article]] | None:
    """A story and its articles and copies; an id merged into another story leads there."""
    resolved = resolve_story(session, story_id)
    story = session.get(Story, resolved) if resolved is not None else None
    if story is None:
        return None
    return story, _story_articles(session, [story.id])[story.id]


def _story_articles(session: Session, story_ids: list[int]) -> dict[int, list[Article]]:
    """The articles of each story, originals first, then copies, oldest first."""
    members: dict[int, list[Article]] = {story_id: [] for story_id in story_ids}
    for chunk in chunked(story_ids):
        ids = list(chunk)
        for article in session.scalars(
            select(Article)
            .options(joinedload(Article.source))
            .where(Article.story_id.in_(ids))
            .order_by(
                Article.duplicate_of.is_not(None),
                func.coalesce(Article.published, Article.fetched_at),
                Article.id,
            )
        ):
            members[article.story_id or 0].append(article)
    return members


def story_to_dict(story: Story, members: list[Article]) -> dict[str, Any]:
    """The public JSON shape of a story: its articles, then the copies other outlets ran.

    Counts are those of the articles listed: every outlet, a copy's included, once.
    """
    return {
        "id": story.id,
        "title": story.headline,
        "first_seen": story.first_seen.isoformat(),
        "last_seen": story.last_seen.isoformat(),
        "article_count": sum(1 for a in members if a.duplicate_of is None),
        "copy_count": sum(1 for a in members if a.duplicate_of is not None),
        "source_count": len({a.source.name for a in members}),
        "articles": [
            {
                "id": a.id,
                "source": a.source.name,
                "title": a.title,
                "url": a.url,
                "copy_of": a.duplicate_of,
            }
            for a in members
        ],
    }


@dataclass(frozen=True)
class Regrouping:
    """What a regrouping covers: the stories it dissolves and their articles (None: all)."""

    dissolved: list[int]
    articles: list[int] | None

    def chosen(self) -> ColumnElement[bool]:
        """Whether an article is one of those regrouped."""
        return true() if self.articles is None else Article.id.in_(self.articles)


def to_regroup(session: Session, since: datetime | None = None) -> Regrouping:
    """The stories seen since a time (or all) and the articles to group again: theirs and those
    published (else fetched) since."""
    if since is None:
        return Regrouping(list(session.scalars(select(Story.id))), None)
    dissolved = list(session.scalars(select(Story.id).where(Story.last_seen >= since)))
    ids = list(
        session.scalars(
            select(Article.id).where(or_(Article.story_id.in_(dissolved), article_time() >= since))
        )
    )
    return Regrouping(dissolved, ids)


def grouped_originals(session: Session, regrouping: Regrouping) -> list[Article]:
    """The originals of a regrouping that are in a story now (their terms are counted)."""
    return list(
        session.scalars(
            select(Article).where(
                regrouping.chosen(), Article.duplicate_of.is_(None), Article.story_id.is_not(None)
            )
        )
    )


def dissolve(session: Session, regrouping: Regrouping) -> list[Article]:
    """Delete the stories of a regrouping and take its articles out of them; return its
    originals in the order they are grouped again (oldest first).

    Regrouping all of them forgets the term counts too; regrouping some, the caller subtracts
    theirs first (see grouped_originals).
    """
    if regrouping.articles is None:
        session.execute(delete(StoryKey))
        session.execute(delete(Story))
        session.execute(delete(TermFrequency))
    else:
        session.execute(delete(StoryKey).where(StoryKey.story_id.in_(regrouping.dissolved)))
        session.execute(delete(Story).where(Story.id.in_(regrouping.dissolved)))
    chosen = regrouping.chosen()
    session.execute(
        update(Article)
        .where(chosen)
        .values(story_id=None)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return list(
        session.scalars(
            select(Article)
            .options(joinedload(Article.source))
            .where(chosen, Article.duplicate_of.is_(None))
            .order_by(article_time(), Article.id)
        ).all()
    )


def count_regrouped(session: Session, regrouping: Regrouping) -> int:
    """How many stories the articles of a regrouping form."""
    return session.scalars(
        select(func.count(func.distinct(Article.story_id))).where(
            regrouping.chosen(), Article.story_id.is_not(None)
        )
    ).one()


def redirect_dissolved(session: Session, dissolved: list[int]) -> int:
    """Keep each dissolved story id that names no story now as a pointer to its first article's."""
    redirected = 0
    for chunk in chunked(dissolved):
        ids = list(chunk)
        existing = set(session.scalars(select(Story.id).where(Story.id.in_(ids))))
        rows = session.execute(
            select(Article.id, Article.story_id, Story.first_seen, Story.last_seen)
            .join(Story, Story.id == Article.story_id)
            .where(Article.id.in_([i for i in ids if i not in existing]))
        )
        for old_id, story_id, first_seen, last_seen in rows:
            session.add(
                Story(
                    id=old_id,
                    headline="",
                    first_seen=first_seen,
                    last_seen=last_seen,
                    article_count=0,
                    source_count=0,
                    sources=[],
                    profile={},
                    merged_into=story_id,
                )
            )
            redirected += 1
    session.flush()
    return redirected
