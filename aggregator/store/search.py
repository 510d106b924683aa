"""Full-text search over titles and bodies: SQLite FTS5 (bm25) or PostgreSQL tsvector (ts_rank).

Queries have one syntax on both engines, parsed here: words (all must match), "exact
phrases", prefixes (`compil*`) and exclusions (`-rust`). Copies of other articles are never
returned. Snippets mark matches with SNIPPET_START / SNIPPET_END, which callers turn into
`<mark>` (after escaping the text) or plain brackets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from aggregator.exceptions import AggregatorError
from aggregator.store.models import Article

# Private-use characters: they never occur in stored text, so escaping cannot break them
SNIPPET_START = "\ue000"
SNIPPET_END = "\ue001"
SNIPPET_WORDS = 24
MAX_QUERY_CHARS = 500
MAX_TERMS = 20
MIN_PREFIX_CHARS = 2
# Title matches weigh more than body matches (bm25 column weights)
TITLE_WEIGHT = 4.0

_TOKEN_RE = re.compile(r'(-?)"([^"]*)"|(-?)([^\s"]+)')
_WORD_RE = re.compile(r"\w+")


class SearchQueryError(AggregatorError):
    """A search query that cannot be run, with the reason."""


@dataclass(frozen=True)
class Term:
    """One part of a query: a word or phrase (its words), maybe a prefix, maybe excluded."""

    words: tuple[str, ...]
    prefix: bool = False
    excluded: bool = False


@dataclass(frozen=True)
class Hit:
    """One search result: the article, its score (higher is better) and a snippet."""

    article: Article
    score: float
    snippet: str


@dataclass(frozen=True)
class Filters:
    """What results are restricted to; None means no restriction."""

    source: str | None = None
    author: str | None = None
    tag: str | None = None
    story: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def parse_query(query: str) -> list[Term]:
    """Parse a user query into terms, or raise SearchQueryError saying what is wrong."""
    if len(query) > MAX_QUERY_CHARS:
        raise SearchQueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if query.count('"') % 2:
        raise SearchQueryError(f'unbalanced quote in {query!r}: close the phrase with "')
    terms: list[Term] = []
    for match in _TOKEN_RE.finditer(query):
        excluded = bool(match[1] or match[3])
        raw = match[2] if match[2] is not None else match[4]
        prefix = match[4] is not None and raw.endswith("*")
        words = tuple(word.lower() for word in _WORD_RE.findall(raw))
        if not words:
            continue  # an empty phrase or punctuation alone: nothing to match
        if prefix and len(words[-1]) < MIN_PREFIX_CHARS:
            raise SearchQueryError(
                f"the prefix {raw!r} is too short: give at least {MIN_PREFIX_CHARS} letters"
            )
        terms.append(Term(words, prefix, excluded))
    if len(terms) > MAX_TERMS:
        raise SearchQueryError(f"the query has more than {MAX_TERMS} terms")
    if not any(not term.excluded for term in terms):
        raise SearchQueryError(
            f"nothing to search for in {query!r}: give at least one word that is not excluded"
        )
    return terms


def fts5_query(terms: list[Term]) -> str:
    """Render terms as an FTS5 MATCH expression."""

    def render(term: Term) -> str:
        return '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")

    positive = " AND ".join(render(t) for t in terms if not t.excluded)
    negative = "".join(f" NOT {render(t)}" for t in terms if t.excluded)
    return positive + negative


def tsquery(terms: list[Term]) -> str:
    """Render terms as a PostgreSQL to_tsquery expression."""

    def render(term: Term) -> str:
        words = [f"'{word}'" for word in term.words]
        if term.prefix:
            words[-1] += ":*"
        body = " <-> ".join(words)
        body = f"({body})" if len(words) > 1 else body
        return f"!{body}" if term.excluded else body

    return " & ".join(render(term) for term in terms)


def search(
    session: Session, query: str, filters: Filters | None = None, limit: int = 20, offset: int = 0
) -> list[Hit]:
    """Return the best-ranked articles matching a query (copies of other articles left out)."""
    terms = parse_query(query)
    filters = filters or Filters()
    if session.get_bind().dialect.name == "sqlite":
        rows = _search_sqlite(session, terms, filters, limit, offset)
    else:
        rows = _search_postgres(session, terms, filters, limit, offset)
    found = session.scalars(select(Article).where(Article.id.in_([row[0] for row in rows])))
    articles = {article.id: article for article in found}
    return [Hit(articles[id_], float(score), snippet or "") for id_, score, snippet in rows]


def _filter_sql(filters: Filters, dialect: str) -> tuple[str, dict[str, Any]]:
    """SQL conditions on articles `a` (and the bound values) for the filters."""
    clauses = ["a.duplicate_of IS NULL"]
    values: dict[str, Any] = {}
    if filters.source:
        clauses.append("a.source_id = (SELECT id FROM sources WHERE name = :source)")
        values["source"] = filters.source
    for key, column in (("author", "authors"), ("tag", "tags")):
        value = getattr(filters, key)
        if value:
            if dialect == "sqlite":
                clauses.append(
                    f"EXISTS (SELECT 1 FROM json_each(a.{column}) "
                    f"WHERE lower(value) = lower(:{key}))"
                )
            else:
                clauses.append(
                    f"EXISTS (SELECT 1 FROM json_array_elements_text(a.{column}) AS e(value) "
                    f"WHERE lower(e.value) = lower(:{key}))"
                )
            values[key] = value
    if filters.story is not None:
        # A story merged into another leads there (merges keep one hop: see SqlStoryStore)
        clauses.append(
            "a.story_id = coalesce((SELECT merged_into FROM stories WHERE id = :story), :story)"
        )
        values["story"] = filters.story
    # stored naive UTC (see UTCDateTime)
    for key, operator in (("since", ">="), ("until", "<")):
        moment = getattr(filters, key)
        if moment is not None:
            clauses.append(f"coalesce(a.published, a.fetched_at) {operator} :{key}")
            values[key] = moment.astimezone(UTC).replace(tzinfo=None)
    return " AND ".join(clauses), values


def _search_sqlite(
    session: Session, terms: list[Term], filters: Filters, limit: int, offset: int
) -> list[tuple[int, float, str]]:
    where, values = _filter_sql(filters, "sqlite")
    statement = text(
        f"""
        SELECT a.id, -bm25(articles_fts, {TITLE_WEIGHT}, 1.0) AS score,
               snippet(articles_fts, 1, :start, :end, '…', {SNIPPET_WORDS}) AS snippet
        FROM articles_fts JOIN articles AS a ON a.id = articles_fts.rowid
        WHERE articles_fts MATCH :query AND {where}
        ORDER BY bm25(articles_fts, {TITLE_WEIGHT}, 1.0), a.id DESC
        LIMIT :limit OFFSET :offset
        """
    )
    values.update(
        query=fts5_query(terms), start=SNIPPET_START, end=SNIPPET_END, limit=limit, offset=offset
    )
    return [(row[0], row[1], row[2]) for row in session.execute(statement, values)]


def _search_postgres(
    session: Session, terms: list[Term], filters: Filters, limit: int, offset: int
) -> list[tuple[int, float, str]]:
    where, values = _filter_sql(filters, "postgresql")
    # the headline is computed for the page of results only, not for every match
    statement = text(
        f"""
        SELECT best.id, best.score,
               ts_headline('english', left(a.text, 100000), to_tsquery('english', :query),
                           :options) AS snippet
        FROM (
            SELECT a.id, ts_rank_cd(a.search_vector, to_tsquery('english', :query)) AS score
            FROM articles AS a
            WHERE a.search_vector @@ to_tsquery('english', :query) AND {where}
            ORDER BY score DESC, a.id DESC
            LIMIT :limit OFFSET :offset
        ) AS best JOIN articles AS a ON a.id = best.id
        ORDER BY best.score DESC, best.id DESC
        """
    )
    values.update(
        query=tsquery(terms),
        options=(
            f"StartSel={SNIPPET_START}, StopSel={SNIPPET_END}, MaxWords={SNIPPET_WORDS}, "
            "MinWords=10, MaxFragments=1, FragmentDelimiter=' … '"
        ),
        limit=limit,
        offset=offset,
    )
    return [(row[0], row[1], row[2]) for row in session.execute(statement, values)]


def plain_snippet(snippet: str, start: str = "[", end: str = "]") -> str:
    """Return a snippet with its match markers replaced (for terminals and JSON)."""
    return snippet.replace(SNIPPET_START, start).replace(SNIPPET_END, end)
