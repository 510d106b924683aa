"""Full-text search over titles and bodies: SQLite FTS5 or PostgreSQL tsvector (GIN).

Queries have one syntax on both engines, parsed here: words (all must match), "exact
phrases", prefixes (`compil*`) and exclusions (`-rust`). Copies of other articles are never
returned. Snippets mark matches with SNIPPET_START / SNIPPET_END, which callers turn into
`<mark>` (after escaping the text) or plain brackets.

No order scores every match (bm25 and ts_rank did, and a word in most of a million
articles cost seconds): results come in tiers the text index walks newest first and stops
at the end of the page, so a broad word costs what a rare one does, and both engines give
the same order (see search_page).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, joinedload

from aggregator.exceptions import AggregatorError
from aggregator.store.articles import article_to_dict
from aggregator.store.models import Article
from aggregator.store.pages import CursorError, check_offset, decode_cursor, encode_cursor

# Private-use characters: they never occur in stored text, so escaping cannot break them
SNIPPET_START = "\ue000"
SNIPPET_END = "\ue001"
SNIPPET_WORDS = 24
MAX_QUERY_CHARS = 500
MAX_TERMS = 20
MIN_PREFIX_CHARS = 2
# PostgreSQL: fewer estimated matches than this are read from the GIN index and sorted;
# more are found walking the newest articles down (see _tier_ids). At 1M articles a match
# read from the heap costs about 11 us, a row the walk passes about 14 us (it detoasts the
# tsvector) and a page needs 21 / share rows of it: the two cost the same near 5,000.
PG_BITMAP_MATCHES = 5_000

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
    """One search result: the article, its score (1: every term in the title, else 0), a snippet."""

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


def _fts5_term(term: Term) -> str:
    return '"' + " ".join(term.words) + '"' + ("*" if term.prefix else "")


def fts5_query(terms: list[Term]) -> str:
    """Render terms as an FTS5 MATCH expression."""
    positive = " AND ".join(_fts5_term(t) for t in terms if not t.excluded)
    negative = "".join(f" NOT {_fts5_term(t)}" for t in terms if t.excluded)
    return positive + negative


def _tsquery_term(term: Term, weight: str = "") -> str:
    """One term as tsquery; with a weight (A: the title), only matches of that weight."""
    words = [f"'{word}'" + (f":{weight}" if weight else "") for word in term.words]
    if term.prefix:
        words[-1] = f"'{term.words[-1]}':*{weight}"
    body = " <-> ".join(words)
    body = f"({body})" if len(words) > 1 else body
    return f"!{body}" if term.excluded else body


def tsquery(terms: list[Term]) -> str:
    """Render terms as a PostgreSQL to_tsquery expression."""
    return " & ".join(_tsquery_term(term) for term in terms)


ORDERS = ("relevance", "newest")
# The tiers of the relevance order: every searched term in the title, then the others
_TIERS = (1, 0)


@dataclass(frozen=True)
class SearchPage:
    """One page of results and the cursor of the page after it (None on the last page)."""

    hits: list[Hit]
    next_cursor: str | None


def search(
    session: Session,
    query: str,
    filters: Filters | None = None,
    limit: int = 20,
    cursor: str | None = None,
    order: str = "relevance",
) -> list[Hit]:
    """The first `limit` results of a query from a cursor on (see search_page)."""
    return search_page(session, query, filters, limit, cursor, order).hits


def search_page(
    session: Session,
    query: str,
    filters: Filters | None = None,
    limit: int = 20,
    cursor: str | None = None,
    order: str = "relevance",
    offset: int = 0,
) -> SearchPage:
    """A page of the articles matching a query (copies of other articles left out).

    `relevance`: articles whose title holds every searched term first, then the others;
    newest stored first within each. `newest`: newest stored first. Both orders are walked by
    the text index itself (FTS5 rowids, or the primary key beside the GIN index), newest
    first, so a page costs about the same for a word in every article as for a rare one, and
    the order is the same on SQLite and PostgreSQL. `offset` (at most MAX_OFFSET) skips rows
    for old clients; the cursor is the way to deeper pages.
    """
    terms = parse_query(query)
    filters = filters or Filters()
    if order not in ORDERS:
        raise SearchQueryError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    check_offset(offset)
    tier, before = _start(cursor, order)
    tiers = _TIERS[_TIERS.index(tier) :] if order == "relevance" else (0,)
    dialect = session.get_bind().dialect.name
    wanted = offset + limit + 1  # one more than the page: whether a next page exists
    rows: list[tuple[int, int]] = []
    for number, current in enumerate(tiers):
        match = _tier_match(terms, current if order == "relevance" else None, dialect)
        ids = _tier_ids(
            session, dialect, match, filters, before if number == 0 else None, wanted - len(rows)
        )
        rows += [(current, id_) for id_ in ids]
        if len(rows) >= wanted:
            break
    rows = rows[offset:]
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more and page:
        last_tier, last_id = page[-1]
        next_cursor = encode_cursor(f"search-{order}", t=last_tier, i=last_id)
    snippets = _snippets(session, dialect, terms, [id_ for _, id_ in page])
    found = session.scalars(
        select(Article)
        .options(joinedload(Article.source))
        .where(Article.id.in_([id_ for _, id_ in page]))
    )
    articles = {article.id: article for article in found}
    hits = [
        Hit(articles[id_], float(current), snippets.get(id_, ""))
        for current, id_ in page
        if id_ in articles
    ]
    return SearchPage(hits, next_cursor)


def _start(cursor: str | None, order: str) -> tuple[int, int | None]:
    """The tier and the id to continue below, from a cursor (or the top of the order)."""
    if cursor is None:
        return (_TIERS[0] if order == "relevance" else 0), None
    position = decode_cursor(cursor, f"search-{order}")
    tier, last_id = position.get("t"), position.get("i")
    if tier not in _TIERS or not isinstance(last_id, int) or isinstance(last_id, bool):
        raise CursorError("this cursor names no search position: pass next_cursor as given")
    return tier, last_id


def _tier_match(terms: list[Term], tier: int | None, dialect: str) -> tuple[str, dict[str, str]]:
    """SQL matching one tier (with its values): the query, with or without a title match."""
    positive = [term for term in terms if not term.excluded]
    if dialect == "sqlite":
        full = fts5_query(terms)
        title = " AND ".join(_fts5_term(t) for t in positive)
        if tier is None:
            return "articles_fts MATCH :match", {"match": full}
        if not tier:
            return "articles_fts MATCH :match", {"match": f"({full}) NOT {{title}} : ({title})"}
        # articles_fts_title: the title alone (migration 0007); a column filter on
        # articles_fts would read every match of each word to find those in the title
        in_title = "articles_fts_title MATCH :title"
        if len(positive) < len(terms):  # the excluded terms are checked in the whole text
            in_title += (
                " AND EXISTS (SELECT 1 FROM articles_fts "
                "WHERE articles_fts MATCH :match AND articles_fts.rowid = a.id)"
            )
        return in_title, {"match": full, "title": title}
    values = {"match": tsquery(terms), "title": " & ".join(_tsquery_term(t) for t in positive)}
    in_text = "a.search_vector @@ to_tsquery('english', :match)"
    # title_vector: the title alone, with statistics of its own (migration 0007)
    in_title = "a.title_vector @@ to_tsquery('english', :title)"
    if tier is None:
        return in_text, values
    if not tier:
        return f"{in_text} AND NOT {in_title}", values
    # every positive term in the title implies the whole query, but for its excluded terms
    return (f"{in_title} AND {in_text}" if len(positive) < len(terms) else in_title), values


def _tier_ids(
    session: Session,
    dialect: str,
    match: tuple[str, dict[str, str]],
    filters: Filters,
    before: int | None,
    limit: int,
) -> list[int]:
    """Ids of the articles matching an engine expression, newest stored first, below an id."""
    where, values = _filter_sql(filters, dialect)
    condition, match_values = match
    values.update(match_values, limit=limit)
    # the FTS5 table the condition matches in (on PostgreSQL: the primary key)
    key = condition.split(" MATCH ")[0] + ".rowid" if dialect == "sqlite" else "a.id"
    if before is not None:
        # on SQLite the bound goes to the FTS5 rowid, so the index starts its walk there
        where += f" AND {key} < :before"
        values["before"] = before
    if dialect == "sqlite":
        # FTS5 walks the index from the highest rowid down and stops at the limit
        statement = f"""
            SELECT a.id
            FROM {key.split(".")[0]} JOIN articles AS a ON a.id = {key}
            WHERE {condition} AND {where}
            ORDER BY {key} DESC
            LIMIT :limit
        """
        return [row[0] for row in session.execute(text(statement), values)]
    matches = f"SELECT a.id FROM articles AS a WHERE {condition} AND {where}"
    ordered = text(f"{matches} ORDER BY a.id DESC LIMIT :limit")
    if "search_vector" not in condition:
        # the title's small tsvector is costed right by the planner: no need to steer it
        return [row[0] for row in session.execute(ordered, values)]
    plan = session.execute(text(f"EXPLAIN (FORMAT JSON) {matches}"), values).scalar_one()
    # The planner's estimate of the matches is good, its cost of the two plans is not (it
    # does not count reading a detoasted tsvector per row): few matches are fetched from
    # the GIN index and sorted, many are found walking the primary key down from the newest
    few = plan[0]["Plan"]["Plan Rows"] < PG_BITMAP_MATCHES
    _plan_switches(session, index_scan=not few, bitmap_scan=few)
    try:
        return [row[0] for row in session.execute(ordered, values)]
    finally:
        _plan_switches(session, index_scan=True, bitmap_scan=True)


def _plan_switches(session: Session, index_scan: bool, bitmap_scan: bool) -> None:
    """Allow or forbid the planner's index and bitmap scans for the rest of the transaction."""
    session.execute(
        text(
            "SELECT set_config('enable_indexscan', :index_scan, true), "
            "set_config('enable_bitmapscan', :bitmap_scan, true)"
        ),
        {
            "index_scan": "on" if index_scan else "off",
            "bitmap_scan": "on" if bitmap_scan else "off",
        },
    )


def _snippets(session: Session, dialect: str, terms: list[Term], ids: list[int]) -> dict[int, str]:
    """The snippet of each article of a page, its matches marked (computed for the page only)."""
    if not ids:
        return {}
    if dialect == "sqlite":
        statement = text(
            f"""
            SELECT rowid, snippet(articles_fts, 1, :start, :end, '…', {SNIPPET_WORDS})
            FROM articles_fts
            WHERE articles_fts MATCH :query AND rowid IN ({", ".join(str(i) for i in ids)})
            """
        )
        values: dict[str, Any] = {
            "query": fts5_query(terms),
            "start": SNIPPET_START,
            "end": SNIPPET_END,
        }
    else:
        statement = text(
            f"""
            SELECT a.id, ts_headline('english', left(a.text, 100000),
                                     to_tsquery('english', :query), :options)
            FROM articles AS a WHERE a.id IN ({", ".join(str(i) for i in ids)})
            """
        )
        values = {
            "query": tsquery(terms),
            "options": (
                f"StartSel={SNIPPET_START}, StopSel={SNIPPET_END}, MaxWords={SNIPPET_WORDS}, "
                "MinWords=10, MaxFragments=1, FragmentDelimiter=' … '"
            ),
        }
    return {row[0]: row[1] or "" for row in session.execute(statement, values)}


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


# SQLite's text indexes, merged by optimize_text_index
FTS5_TABLES = ("articles_fts", "articles_fts_title")


def optimize_text_index(connection: Any, budget_seconds: float = 30.0) -> int:
    """Merge the segments of SQLite's text indexes, a step at a time; return the steps taken.

    FTS5 adds a segment per write and merges only some of them: a year of writes leaves
    dozens, and a search walking newest first seeks in each (narrow queries took 3x as long
    at 1M articles). Each step is its own short write (the DB-API connection is in
    autocommit mode), so crawls keep writing in between; the work stops when it is done
    or the time budget is spent, and the next call goes on from there.
    """
    steps = 0
    deadline = time.monotonic() + budget_seconds
    for table in FTS5_TABLES:
        while time.monotonic() < deadline:
            before = connection.total_changes
            # a negative page count: merge all segments into one, incrementally
            connection.execute(f"INSERT INTO {table}({table}, rank) VALUES ('merge', -2000)")
            steps += 1
            if connection.total_changes - before < 2:  # nothing left to merge
                break
    return steps


def split_snippet(snippet: str) -> tuple[str, list[tuple[int, int]]]:
    """Return a snippet's plain text and the [start, end) offsets of its highlighted matches."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    position, start = 0, None
    for char in snippet:
        if char == SNIPPET_START:
            start = position
        elif char == SNIPPET_END:
            if start is not None:
                spans.append((start, position))
            start = None
        else:
            plain.append(char)
            position += 1
    return "".join(plain), spans


def hit_to_dict(hit: Hit) -> dict[str, Any]:
    """The public JSON shape of a search result: its article's, with score, snippet and the
    [start, end) offsets of the matches in the snippet (highlights)."""
    snippet, spans = split_snippet(hit.snippet)
    data = article_to_dict(hit.article)
    data.update(score=round(hit.score, 6), snippet=snippet, highlights=spans)
    return data


def plain_snippet(snippet: str, start: str = "[", end: str = "]") -> str:
    """Return a snippet with its match markers replaced (for terminals and JSON)."""
    return snippet.replace(SNIPPET_START, start).replace(SNIPPET_END, end)
