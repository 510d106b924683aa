"""The cost of storing an article (save_article) as the store grows, against a plain INSERT."""

from __future__ import annotations

import contextlib
import functools
import pickle
import random
import re
import resource
import sqlite3
import statistics
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, delete, event, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aggregator.dedup import stories as grouping
from aggregator.dedup.fingerprints import (
    content_hash,
    lsh_bands,
    minhash_signature,
    normalise_text,
    normalised_hash,
    words_minhash,
)
from aggregator.ingest import fingerprint_page, save_article, story_lead
from aggregator.items import Article as CleanArticle
from aggregator.items import PageItem
from aggregator.store.db import make_engine, open_store, session_scope
from aggregator.store.models import Article, MinhashBand, Source, Story, StoryKey, TermFrequency
from aggregator.store.stories import SqlStoryStore, story_profile
from benchmarks.common import BenchmarkError, percentile, postgres_database, progress, verdict
from benchmarks.dedup_texts import (
    DevText,
    add_boilerplate,
    light_edit,
    paragraphs,
    sentences,
    syndication_lines,
)

# Target of issue 4
TARGET_COST_RATIO = 1.5

DEFAULT_SIZES = (1_000, 10_000, 100_000)
# Articles timed per size; half of them near-duplicates of stored ones
PROBES = 200
MIN_PROBES = 50
MEMORY_PROBES = 30
WARMUP_PROBES = 20
# 100k articles span 100 days: a 3-day story window holds ~3k articles (all of a 1k store)
ARTICLES_PER_DAY = 1000
FILL_CHUNK = 2_000
# Chunks per fill transaction: random-order band keys dirty most index pages in every
# commit, so committing each chunk rewrote the whole band index (WAL, then checkpoint)
FILL_COMMIT_CHUNKS = 10
BASE_COPY_SHARE = 0.05
BASE_SOURCES = 50
# Fill stories: an original joins one of the chunk's latest stories this often
STORY_JOIN_SHARE = 0.35
STORY_JOIN_RECENT = 40
STORY_PARAMS = grouping.StoryParams()
# story_keys.key and term_frequencies.term are String(120)
MAX_TERM_CHARS = 120
# Page cache of the fill connection only (KiB): the band index is inserted in random order
FILL_CACHE_KB = 512_000

_ARTICLES = cast(Table, Article.__table__)
_BANDS = cast(Table, MinhashBand.__table__)
_SOURCES = cast(Table, Source.__table__)
_STORIES = cast(Table, Story.__table__)
_STORY_KEYS = cast(Table, StoryKey.__table__)
_TERMS = cast(Table, TermFrequency.__table__)

_progress = functools.partial(progress, "bench-dedup")


@dataclass(frozen=True)
class Corpus:
    """Sentences and words to generate varied article texts from."""

    sentences: tuple[str, ...]
    words: tuple[str, ...]


def make_corpus(texts: Sequence[DevText]) -> Corpus:
    """Sentences of five words or more, and every word, of the devset texts."""
    found = [
        sentence
        for dev in texts
        for part in paragraphs(dev.text)
        for sentence in sentences(part)
        if len(sentence.split()) >= 5
    ]
    words = [word for dev in texts for word in dev.text.split()]
    return Corpus(tuple(found), tuple(words))


def generate_text(corpus: Corpus, rng: random.Random, min_chars: int = 2000, max_chars: int = 5000):
    """An article text of min_chars-max_chars: devset sentences, each with one word changed."""
    target = rng.randint(min_chars, max_chars)
    parts: list[str] = []
    size = 0
    while size < target:
        paragraph = []
        for _ in range(rng.randint(2, 5)):
            words = rng.choice(corpus.sentences).split()
            words[rng.randrange(len(words))] = rng.choice(corpus.words)
            paragraph.append(" ".join(words))
        parts.append(" ".join(paragraph))
        size += len(parts[-1]) + 2
    return "\n\n".join(parts)


def _published(index: int, now: datetime) -> datetime:
    """Row index (0 = newest) -> publication time at ARTICLES_PER_DAY."""
    return now - timedelta(hours=1) - timedelta(days=index / ARTICLES_PER_DAY)


class _FastFingerprints:
    """content_hash and minhash_signature of generated texts, from cached word normalisations.

    Generated texts reuse a fixed vocabulary, so normalising each word once and joining is
    several times faster than normalising each text; the hash and the signature are then
    aggregator.dedup.fingerprints' own, and verify() checks the whole against the real thing.
    """

    def __init__(self) -> None:
        self.normal: dict[str, str] = {}

    def normalised(self, body: str) -> list[str]:
        """The words of normalise_text(body)."""
        normal = self.normal
        out: list[str] = []
        for word in body.split():
            folded = normal.get(word)
            if folded is None:
                folded = normal[word] = normalise_text(word)
            out.extend(folded.split())
        return out

    def __call__(self, body: str) -> tuple[str, bytes | None]:
        """content_hash and minhash_signature of body."""
        words = self.normalised(body)
        return normalised_hash(" ".join(words)), words_minhash(words)

    def verify(self, body: str) -> None:
        """Fail loudly if the fast path disagrees with aggregator.dedup.fingerprints."""
        if self(body) != (content_hash(body), minhash_signature(body)):
            raise BenchmarkError("fast fingerprints differ from aggregator.dedup.fingerprints")


_FAST = _FastFingerprints()


@dataclass
class FillChunk:
    """Rows of one fill chunk for every table save_article reads: articles to term counts."""

    articles: list[dict[str, Any]]
    bands: list[dict[str, Any]]
    stories: list[dict[str, Any]]
    story_keys: list[dict[str, Any]]
    # Document frequency of each term among the chunk's originals
    terms: Counter[str]
    originals: int


def _lead_terms(title: str, body: str) -> dict[str, float]:
    """The term weights story grouping computes for an article (headline and lead)."""
    return grouping.article_terms(title, story_lead(Article(text=body)), STORY_PARAMS)


def _story_rows(story: grouping.StoryState) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The stories row and story_keys rows SqlStoryStore.save_story writes for a story."""
    story_id = int(story.id)
    row = {
        "id": story_id,
        "headline": story.headline,
        "first_seen": story.first_seen,
        "last_seen": story.last_seen,
        "article_count": story.article_count,
        "source_count": story.source_count,
        "sources": list(story.sources),
        "profile": story_profile(story),
    }
    keys = [
        {"key": key, "story_id": story_id, "last_seen": story.last_seen}
        for key in dict.fromkeys(story.keys)
    ]
    return row, keys


def _group_chunk(rows: list[dict[str, Any]], rng: random.Random) -> FillChunk:
    """Stories for the originals of a chunk, built as aggregator.dedup.stories builds them.

    Document frequencies are those of the chunk (two days of news); an original joins a
    recent story of the chunk with probability STORY_JOIN_SHARE, else starts its own.
    """
    originals = [row for row in rows if row["duplicate_of"] is None]
    terms = {row["id"]: _lead_terms(row["title"], row["text"]) for row in originals}
    frequencies: Counter[str] = Counter()
    for weights in terms.values():
        frequencies.update(term for term in weights if len(term) <= MAX_TERM_CHARS)
    documents = len(originals)
    stories: dict[str, grouping.StoryState] = {}
    story_of: dict[int, int] = {}
    for row in originals:
        vector = grouping._weighted(terms[row["id"]], frequencies, documents)
        source = f"base{row['source_id']}"
        article = grouping.StoryArticle(
            str(row["id"]), source, row["title"], row["text"], row["published"]
        )
        recent = list(stories)[-STORY_JOIN_RECENT:]
        if recent and rng.random() < STORY_JOIN_SHARE:
            joined = stories[rng.choice(recent)]
            story = grouping._joined(joined, article, vector, STORY_PARAMS)
        else:
            top = grouping._top(vector, STORY_PARAMS.article_keys)
            story = grouping.StoryState(
                id=article.id,
                headline=article.title,
                first_seen=article.published,
                last_seen=article.published,
                article_count=1,
                sources=(source,),
                centroid=vector,
                titles=(article.title,),
                keys=tuple(top[: STORY_PARAMS.story_keys]),
                members=(grouping._member(article, vector, STORY_PARAMS),),
            )
        stories[story.id] = story
        story_of[row["id"]] = int(story.id)
    for row in rows:
        row["story_id"] = story_of[row["duplicate_of"] or row["id"]]
    story_rows, key_rows = [], []
    for story in stories.values():
        story_row, keys = _story_rows(story)
        story_rows.append(story_row)
        key_rows += [key for key in keys if len(key["key"]) <= MAX_TERM_CHARS]
    bands = [{"band": band, "article_id": row["id"]} for row in rows for band in row.pop("_bands")]
    # Sorted, so each chunk walks the (band, article_id) and (key, story_id) indexes in order
    bands.sort(key=lambda band: band["band"])
    key_rows.sort(key=lambda key: (key["key"], key["story_id"]))
    return FillChunk(rows, bands, story_rows, key_rows, frequencies, documents)


def _fill_chunk(job: tuple[Corpus, int, int, int, datetime]) -> FillChunk:
    """Rows for ids first..last (worker process): text, fingerprints, band keys, stories."""
    corpus, first, last, seed, now = job
    rng = random.Random(seed * 1_000_003 + first)
    rows: list[dict[str, Any]] = []
    for article_id in range(first, last + 1):
        duplicate_of = None
        if rows and rng.random() < BASE_COPY_SHARE:
            source_row = rng.choice(rows)
            body = light_edit(source_row["text"], rng)
            duplicate_of = source_row["duplicate_of"] or source_row["id"]
        else:
            body = generate_text(corpus, rng)
        if article_id == first:
            _FAST.verify(body)
        digest, signature = _FAST(body)
        published = _published(article_id - 1, now)
        url = f"https://base{article_id % BASE_SOURCES}.example/p/{article_id}"
        rows.append(
            {
                "id": article_id,
                "source_id": 1 + article_id % BASE_SOURCES,
                "url": url,
                "canonical_url": url,
                "title": " ".join(body.split()[:9]),
                "text": body,
                "authors": ["Alex Writer"],
                "tags": ["tech"],
                "published": published,
                "modified": None,
                "language": "de",
                "image_url": None,
                "site_name": None,
                "description": None,
                "content_hash": digest,
                "duplicate_of": duplicate_of,
                "story_id": None,
                "raw_html": None,
                "minhash": signature,
                "http_headers": {"content-type": "text/html; charset=utf-8"},
                "fetched_at": published,
                "created_at": published,
                "updated_at": published,
                "_bands": list(dict.fromkeys(lsh_bands(signature))) if signature else [],
            }
        )
    return _group_chunk(rows, rng)


def _create_sources(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(_SOURCES),
            [
                {"id": n, "name": f"base{n}", "url": f"https://base{n}.example/"}
                for n in range(1, BASE_SOURCES + 1)
            ],
        )
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the sequence behind: ensure_source("probe") would collide
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('sources', 'id'), :top)"),
                {"top": BASE_SOURCES},
            )


def _fill_connection_settings(dbapi_connection: Any, _record: Any) -> None:
    """Bulk-load settings of the fill engine only; the timed engine keeps the store's own."""
    cursor = dbapi_connection.cursor()
    if isinstance(dbapi_connection, sqlite3.Connection):
        # The default 2 MB cache thrashes on the random-order band index past ~10k articles
        cursor.execute(f"PRAGMA cache_size=-{FILL_CACHE_KB}")
        cursor.execute("PRAGMA synchronous=OFF")
    else:
        cursor.execute("SET synchronous_commit TO off")
    cursor.close()


def _write_term_totals(conn: Connection, totals: Counter[str], documents: int) -> None:
    """Set term_frequencies to the document counts of every filled original."""
    rows = [{"term": term, "documents": count} for term, count in sorted(totals.items())]
    rows.append({"term": "", "documents": documents})
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(rows), 5_000):
        statement = dialect_insert(_TERMS)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[TermFrequency.term],
                set_={"documents": statement.excluded.documents},
            ),
            rows[start : start + 5_000],
        )


@dataclass
class FillState:
    """What the fill has stored so far, across sizes."""

    filled: int = 0
    originals: int = 0
    terms: Counter[str] = field(default_factory=Counter)


def _generated_chunks(
    jobs: int, chunks: Sequence[tuple[Corpus, int, int, int, datetime]], cache: Path
) -> Iterator[FillChunk]:
    """The chunks' rows: generated by worker processes once, then read from cache."""
    paths = [cache / f"fill-{first}-{last}.pickle" for _c, first, last, _s, _n in chunks]
    if all(path.is_file() for path in paths):
        # The second backend stores exactly the rows the first one stored
        for path in paths:
            yield pickle.loads(path.read_bytes())
        return
    with ProcessPoolExecutor(jobs) as pool:
        for path, chunk in zip(paths, pool.map(_fill_chunk, chunks), strict=True):
            path.write_bytes(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
            yield chunk


def fill_store(
    url: str,
    corpus: Corpus,
    state: FillState,
    size: int,
    seed: int,
    now: datetime,
    jobs: int,
    cache: Path,
) -> float:
    """Bulk-insert rows filled+1..size of every table save_article reads; return seconds."""
    started = time.monotonic()
    chunks = [
        (corpus, first, min(first + FILL_CHUNK - 1, size), seed, now)
        for first in range(state.filled + 1, size + 1, FILL_CHUNK)
    ]
    inserting = 0.0
    # Its own engine, so the bulk-load pragmas never reach the connections that are timed
    engine = make_engine(url)
    event.listen(engine, "connect", _fill_connection_settings)
    try:
        with engine.connect() as conn:
            for number, chunk in enumerate(_generated_chunks(jobs, chunks, cache), start=1):
                insert_started = time.monotonic()
                # The connection begins a transaction on first use; committed every few chunks
                for table, rows in (
                    (_ARTICLES, chunk.articles),
                    (_BANDS, chunk.bands),
                    (_STORIES, chunk.stories),
                    (_STORY_KEYS, chunk.story_keys),
                ):
                    if rows:
                        conn.execute(insert(table), rows)
                if number % FILL_COMMIT_CHUNKS == 0:
                    conn.commit()
                state.terms.update(chunk.terms)
                state.originals += chunk.originals
                inserting += time.monotonic() - insert_started
                done = chunk.articles[-1]["id"]
                if done % 20_000 == 0 or done == size:
                    _progress(
                        f"  filled {done} rows, {time.monotonic() - started:.0f}s "
                        f"({inserting:.0f}s inserting)"
                    )
            _write_term_totals(conn, state.terms, state.originals)
            if engine.dialect.name == "postgresql":
                # Explicit ids leave the sequence behind
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence('articles', 'id'), :top)"),
                    {"top": size},
                )
            conn.commit()
            if engine.dialect.name == "sqlite":
                # On the DBAPI connection: SQLAlchemy would wrap it in BEGIN IMMEDIATE
                raw = conn.connection.dbapi_connection
                assert raw is not None
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    state.filled = size
    if url.startswith("postgresql"):
        # Autovacuum would have analysed the tables by now
        with make_engine(url).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return time.monotonic() - started


def make_probes(
    corpus: Corpus, engine: Engine, seed: int, now: datetime, count: int, near: int
) -> list[PageItem]:
    """New articles to store: fresh texts, and near-duplicates of rows 1..1000 (in every size)."""
    rng = random.Random(seed + 7)
    with engine.connect() as conn:
        stored = conn.execute(
            select(Article.id, Article.text).where(
                Article.id <= 1000, Article.duplicate_of.is_(None)
            )
        ).all()
    copies = set(rng.sample(range(count), near))
    pages = []
    for number in range(count):
        if number in copies:
            _id, body = rng.choice(stored)
            before, after = syndication_lines("base.example", "probe", rng)
            body = add_boilerplate(light_edit(body, rng), before, after)
        else:
            body = generate_text(corpus, rng)
        page = PageItem(
            url=f"https://probe{number % 10}.example/a/{number}", source="probe", body=b""
        )
        page.article = CleanArticle(title=" ".join(body.split()[:9]), text=body, published=now)
        pages.append(fingerprint_page(page))
    return pages


def _plain_insert(session: Session, page: PageItem, suffix: str) -> Article:
    """The reference: the same article row inserted with no dedup lookups and no band rows."""
    assert page.article is not None and page.canonical_url and page.content_hash
    clean = page.article
    row = Article(
        source_id=1,
        url=page.url + suffix,
        canonical_url=page.canonical_url + suffix,
        title=clean.title,
        text=clean.text,
        authors=list(clean.authors),
        tags=list(clean.tags),
        published=clean.published,
        content_hash=page.content_hash,
        minhash=page.minhash,
        http_headers={},
        fetched_at=page.fetched_at,
    )
    session.add(row)
    return row


@dataclass
class StorySnapshot:
    """The stories a probe can join (seen within the window), to put back after timing."""

    stories: dict[int, dict[str, Any]]
    keys: dict[int, list[dict[str, Any]]]

    @classmethod
    def take(cls, engine: Engine, since: datetime) -> StorySnapshot:
        """Read the stories seen since a time and their keys."""
        with engine.connect() as conn:
            stories = {
                row["id"]: dict(row)
                for row in conn.execute(select(_STORIES).where(Story.last_seen >= since)).mappings()
            }
            keys: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for row in conn.execute(
                select(_STORY_KEYS).where(StoryKey.last_seen >= since)
            ).mappings():
                keys[row["story_id"]].append(dict(row))
        return cls(stories, keys)


def _restore(
    engine: Engine,
    watermark: int,
    snapshot: StorySnapshot,
    added_terms: Sequence[Collection[str]],
) -> None:
    """Undo the probes: their rows, the stories they joined and their term counts."""
    with session_scope(engine) as session:
        touched = set(
            session.scalars(select(Article.story_id).where(Article.id > watermark).distinct())
        )
        session.execute(delete(MinhashBand).where(MinhashBand.article_id > watermark))
        session.execute(delete(Article).where(Article.id > watermark))
        session.execute(delete(StoryKey).where(StoryKey.story_id > watermark))
        session.execute(delete(Story).where(Story.id > watermark))
        joined = sorted(story for story in touched if story in snapshot.stories)
        if joined:
            session.execute(delete(StoryKey).where(StoryKey.story_id.in_(joined)))
            session.execute(delete(Story).where(Story.id.in_(joined)))
            session.execute(insert(_STORIES), [snapshot.stories[story] for story in joined])
            keys = [key for story in joined for key in snapshot.keys[story]]
            if keys:
                session.execute(insert(_STORY_KEYS), keys)
        store = SqlStoryStore(session)
        for terms in added_terms:
            store.add_document_terms(terms, step=-1)


@dataclass
class StatementStats:
    """Time spent per SQL statement text."""

    calls: Counter[str] = field(default_factory=Counter)
    ms: Counter[str] = field(default_factory=Counter)
    example: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def statement_timing(engine: Engine) -> Iterator[StatementStats]:
    """Record the time of every statement run on engine while the block runs."""
    stats = StatementStats()

    def before(conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        elapsed = (time.perf_counter() - conn.info["bench_started"].pop()) * 1000
        shape = re.sub(r"\s+", " ", statement).strip()
        shape = re.sub(r"(\?|%\(\w+\)s)(, (\?|%\(\w+\)s))+", "…", shape)
        stats.calls[shape] += 1
        stats.ms[shape] += elapsed
        stats.example.setdefault(shape, (statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield stats
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The query plan of one statement, as the database gives it."""
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    if isinstance(parameters, list):
        # An executemany: the plan of its first row stands for all
        parameters = parameters[0] if parameters else None
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            conn.rollback()
    except SQLAlchemyError as exc:
        return [f"no plan: {type(exc).__name__}: {str(exc).splitlines()[0]}"]
    return [" | ".join(str(value) for value in row) for row in rows]


def _rss_mb() -> float:
    """Current resident set size of this process."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _store_terms(page: PageItem) -> list[str]:
    """The terms assign_story counted for a stored original page."""
    assert page.article is not None
    return list(_lead_terms(page.article.title, page.article.text))


def measure_size(
    engine: Engine, probes: Sequence[PageItem], watermark: int, now: datetime, explain_top: bool
) -> dict[str, Any]:
    """Time save_article and the plain insert for each probe; memory and slowest statements."""
    since = now - STORY_PARAMS.window - timedelta(days=1)
    snapshot = StorySnapshot.take(engine, since)
    # A crawler that has been running has warm caches: a few saves first, undone, not timed
    warm: list[list[str]] = []
    for page in probes[-WARMUP_PROBES:]:
        with session_scope(engine) as session:
            if save_article(session, page, keep_raw=False).status == "inserted":
                warm.append(_store_terms(page))
    _restore(engine, watermark, snapshot, warm)
    save_ms, plain_ms, statuses = [], [], Counter[str]()
    added: list[list[str]] = []
    rss_before = _rss_mb()
    for page in probes:
        started = time.perf_counter()
        with session_scope(engine) as session:
            plain = _plain_insert(session, page, "#plain")
        plain_ms.append((time.perf_counter() - started) * 1000)
        with engine.begin() as conn:
            conn.execute(delete(Article).where(Article.id == plain.id))
        started = time.perf_counter()
        with session_scope(engine) as session:
            status = save_article(session, page, keep_raw=False).status
        save_ms.append((time.perf_counter() - started) * 1000)
        statuses[status] += 1
        if status == "inserted":
            added.append(_store_terms(page))
    _restore(engine, watermark, snapshot, added)
    peaks = []
    added = []
    with statement_timing(engine) as stats:
        for page in probes[:MEMORY_PROBES]:
            tracemalloc.start()
            with session_scope(engine) as session:
                status = save_article(session, page, keep_raw=False).status
            peaks.append(tracemalloc.get_traced_memory()[1] / 1024)
            tracemalloc.stop()
            if status == "inserted":
                added.append(_store_terms(page))
    _restore(engine, watermark, snapshot, added)
    slowest = [
        {
            "statement": shape[:300],
            "calls": stats.calls[shape],
            "ms_per_call": stats.ms[shape] / stats.calls[shape],
        }
        for shape, _ms in stats.ms.most_common(5)
    ]
    if explain_top:
        for entry, (shape, _ms) in zip(slowest, stats.ms.most_common(3), strict=False):
            entry["plan"] = explain(engine, *stats.example[shape])
    return {
        "save_ms_median": statistics.median(save_ms),
        "save_ms_p95": percentile(save_ms, 0.95),
        "plain_ms_median": statistics.median(plain_ms),
        "plain_ms_p95": percentile(plain_ms, 0.95),
        "statuses": dict(statuses),
        "window_stories": len(snapshot.stories),
        "tracemalloc_peak_kb_max": max(peaks),
        "tracemalloc_peak_kb_median": statistics.median(peaks),
        "rss_mb_before": rss_before,
        "rss_mb_after": _rss_mb(),
        "sql_ms_per_save": sum(stats.ms.values()) / len(peaks),
        "slowest_statements": slowest,
    }


def _counts(engine: Engine) -> dict[str, int]:
    """Rows of each table save_article reads."""
    tables = {
        "articles": _ARTICLES,
        "band_rows": _BANDS,
        "stories": _STORIES,
        "story_keys": _STORY_KEYS,
        "terms": _TERMS,
    }
    with engine.connect() as conn:
        return {
            name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in tables.items()
        }


@dataclass(frozen=True)
class CostRun:
    """What every backend of the cost benchmark shares: the corpus, sizes and fill cache."""

    corpus: Corpus
    sizes: Sequence[int]
    seed: int
    probes: int
    jobs: int
    now: datetime
    cache: Path


def run_cost_backend(url: str, run: CostRun) -> dict[str, Any]:
    """Fill one store size by size and measure storing new articles at each size."""
    engine = open_store(url)
    corpus, sizes, seed, probes, now = run.corpus, run.sizes, run.seed, run.probes, run.now
    try:
        _create_sources(engine)
        state = FillState()
        results: dict[str, Any] = {}
        pages: list[PageItem] = []
        for size in sorted(sizes):
            _progress(f"cost ({engine.dialect.name}): filling to {size} articles")
            fill_s = fill_store(url, corpus, state, size, seed, now, run.jobs, run.cache)
            if not pages:
                pages = make_probes(corpus, engine, seed, now, probes, probes // 2)
            _progress(f"cost ({engine.dialect.name}): timing {len(pages)} saves at {size}")
            measured = measure_size(engine, pages, size, now, explain_top=size == max(sizes))
            results[str(size)] = {**_counts(engine), "fill_s": fill_s, **measured}
        smallest, largest = str(min(sizes)), str(max(sizes))
        ratio = results[largest]["save_ms_median"] / results[smallest]["save_ms_median"]
        return {
            "sizes": results,
            "ratio": ratio,
            "ratio_p95": results[largest]["save_ms_p95"] / results[smallest]["save_ms_p95"],
            "plain_ratio": results[largest]["plain_ms_median"]
            / results[smallest]["plain_ms_median"],
            "pass": ratio <= TARGET_COST_RATIO,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    finally:
        engine.dispose()


def cost_benchmark(
    texts: Sequence[DevText],
    workdir: Path,
    postgres: bool,
    sizes: Sequence[int],
    seed: int,
    probes: int,
    jobs: int,
) -> dict[str, Any]:
    """Cost of save_article against store size, with a plain insert as reference."""
    cache = workdir / "fill"
    cache.mkdir(exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    run = CostRun(make_corpus(texts), sizes, seed, probes, jobs, now, cache)
    backends = {"sqlite": run_cost_backend(f"sqlite:///{workdir / 'cost.db'}", run)}
    if postgres:
        with postgres_database("bench_dedup") as pg_url:
            backends["postgresql"] = run_cost_backend(pg_url, run)
    return {"probes": probes, "near_duplicate_probes": probes // 2, "backends": backends}


def cost_report(cost: dict[str, Any]) -> list[str]:
    lines = [
        f"Cost of storing one article ({cost['probes']} new articles per size, "
        f"{cost['near_duplicate_probes']} of them near-duplicates of stored ones); "
        f"target: median at the largest size <= {TARGET_COST_RATIO} x at the smallest",
        f"  store filled at {ARTICLES_PER_DAY} articles a day ({BASE_COPY_SHARE:.0%} copies), "
        "originals grouped into stories with their story_keys and term_frequencies",
    ]
    for name, backend in cost["backends"].items():
        lines.append(
            f"  {name}:   size   fill s   save_article ms med/p95   plain INSERT ms med/p95   "
            "tracemalloc peak KB   RSS MB"
        )
        for size, run in backend["sizes"].items():
            lines.append(
                f"  {'':>{len(name)}} {int(size):>7} {run['fill_s']:8.1f}   "
                f"{run['save_ms_median']:10.2f} / {run['save_ms_p95']:7.2f}   "
                f"{run['plain_ms_median']:13.2f} / {run['plain_ms_p95']:6.2f}   "
                f"{run['tracemalloc_peak_kb_median']:9.0f} "
                f"(max {run['tracemalloc_peak_kb_max']:.0f})"
                f"   {run['rss_mb_after']:.0f}   {run['statuses']}"
            )
            lines.append(
                f"  {'':>{len(name)}} {'':>7} rows: {run['band_rows']} bands, "
                f"{run['stories']} stories ({run['window_stories']} in the window), "
                f"{run['story_keys']} story keys, {run['terms']} terms; "
                f"SQL {run['sql_ms_per_save']:.2f} ms of each save"
            )
        lines.append(
            f"  {name}: ratio largest/smallest {backend['ratio']:.2f} "
            f"(p95 {backend['ratio_p95']:.2f}; "
            f"plain INSERT {backend['plain_ratio']:.2f}) {verdict(backend['pass'])}; "
            f"peak RSS of the process {backend['peak_rss_mb']:.0f} MB"
        )
        largest = backend["sizes"][max(backend["sizes"], key=int)]
        for statement in largest["slowest_statements"][:3]:
            lines.append(
                f"    {statement['ms_per_call']:.3f} ms x {statement['calls']}: "
                f"{statement['statement'][:160]}"
            )
            for plan in statement.get("plan", []):
                lines.append(f"      plan: {plan}")
    return lines
