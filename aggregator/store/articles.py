"""Articles and their sources in SQL (upserts linking copies, listings, counts), and their JSON."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from aggregator.dedup.fingerprints import estimated_jaccard, lsh_bands
from aggregator.dedup.urls import canonical_url
from aggregator.items import ARTICLE_FIELDS, PageItem, utcnow
from aggregator.store.models import Article, CrawlRun, MinhashBand, Source
from aggregator.store.pages import CursorError, check_offset, decode_cursor, encode_cursor

# Two texts whose estimated Jaccard similarity (word 5-shingles) reaches this are copies
# (benchmarks/dedup.py: 0.5 keeps recall >= 0.99 with no unrelated pair above 0.1)
NEAR_DUPLICATE_THRESHOLD = 0.5

# Article and story ids are 32-bit integers: a larger number names nothing
MAX_ID = 2**31 - 1

_STRING: dict[str, Any] = {"type": "string"}
_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
_NULLABLE_INT: dict[str, Any] = {"type": ["integer", "null"]}
_STRINGS: dict[str, Any] = {"type": "array", "items": _STRING}
# The public JSON shape of a stored article, the one the CLI, export and web give: its keys in
# order, each with its JSON Schema. article_to_dict writes it, the export's CSV columns and the
# API description derive from it.
ARTICLE_SCHEMA: dict[str, dict[str, Any]] = {
    "id": {"type": "integer"},
    "url": _STRING,
    "canonical_url": _STRING,
    "source": _STRING,
    "title": _STRING,
    "authors": _STRINGS,
    "published": _NULLABLE_STRING,
    "fetched_at": _STRING,
    "updated_at": _STRING,
    "duplicate_of": _NULLABLE_INT,
    "story_id": _NULLABLE_INT,
    "language": _NULLABLE_STRING,
    "tags": _STRINGS,
    "image_url": _NULLABLE_STRING,
    "text": _STRING,
}


@dataclass(frozen=True)
class SaveResult:
    """What storing one page did: inserted, updated, unchanged or duplicate."""

    status: str
    article_id: int
    duplicate_of: int | None = None
    # An article stored as the original of no other: story grouping places it
    new_original: Article | None = field(default=None, compare=False, repr=False)


def ensure_source(session: Session, name: str, url: str) -> Source:
    """Return the source row of that name, creating it (or refreshing its URL) when needed."""
    known: dict[str, Source] = session.info.setdefault("sources", {})
    if name in known and (not url or known[name].url == url):
        return known[name]  # met earlier in this session (a batch of one source's pages)
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        try:
            with session.begin_nested():
                source = Source(name=name, url=url)
                session.add(source)
        except IntegrityError:  # another process created it a moment ago
            source = session.scalars(select(Source).where(Source.name == name)).one()
    elif url and source.url != url:
        source.url = url
    known[name] = source
    return source


def source_names(session: Session) -> list[str]:
    """The names of the sources the store holds, sorted."""
    return list(session.scalars(select(Source.name).order_by(Source.name)))


def _lock_keys(session: Session, keys: Iterable[int]) -> None:
    """Serialise writers that could see each other as duplicates (PostgreSQL advisory locks).

    SQLite needs nothing: every write transaction starts with BEGIN IMMEDIATE.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # One round trip; sorted, so two writers always lock in the same order and never deadlock
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
        ),
        {"keys": sorted(set(keys))},
    )


def _hash_key(content_hash: str) -> int:
    return int.from_bytes(bytes.fromhex(content_hash[:16]), "little", signed=True)


def _root(session: Session, article: Article) -> Article:
    """The original an article is a copy of, or the article itself."""
    if article.duplicate_of is None:
        return article
    return session.get(Article, article.duplicate_of) or article


def _earliest(articles: Iterable[Article]) -> Article | None:
    """The copy published first (by publication date, then by storage order)."""
    far_future = datetime.max.replace(tzinfo=UTC)
    return min(articles, key=lambda a: (a.published or far_future, a.id), default=None)


def find_original(
    session: Session,
    content_hash: str,
    minhash: bytes | None,
    bands: list[int],
    exclude: int | None = None,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
) -> Article | None:
    """The original of which a text is a copy: same text, or a near-duplicate by MinHash."""
    same = select(Article).where(Article.content_hash == content_hash)
    if exclude is not None:
        same = same.where(Article.id != exclude)
    matches = list(session.scalars(same))
    if minhash is not None:
        candidates = (
            select(Article)
            .where(
                Article.id.in_(
                    select(MinhashBand.article_id).where(MinhashBand.band.in_(bands)).distinct()
                )
            )
            .where(Article.minhash.is_not(None))
        )
        if exclude is not None:
            candidates = candidates.where(Article.id != exclude)
        matches += [
            candidate
            for candidate in session.scalars(candidates)
            if candidate.minhash is not None
            and estimated_jaccard(minhash, candidate.minhash) >= threshold
        ]
    roots = {root.id: root for root in (_root(session, m) for m in matches) if root.id != exclude}
    return _earliest(roots.values())


def _copy_of(article: Article, original: Article | None) -> None:
    """Point a new article at its original before it is inserted (one write, not two)."""
    article.duplicate_of = original.id if original is not None else None
    if original is not None:
        article.story_id = original.story_id


def _link_copy(session: Session, article: Article, original: Article | None) -> None:
    """Make the original of a group the article itself when it was published first."""
    if original is None or _earliest([original, article]) is original:
        return
    # The new article predates the stored original: it becomes the original of the group
    article.duplicate_of = None
    article.story_id = original.story_id
    session.execute(
        update(Article)
        .where(or_(Article.id == original.id, Article.duplicate_of == original.id))
        .values(duplicate_of=article.id)
        .execution_options(synchronize_session="fetch")
    )


def _write_bands(
    session: Session, article: Article, bands: list[int], replace: bool = True
) -> None:
    if replace:
        session.execute(delete(MinhashBand).where(MinhashBand.article_id == article.id))
    if bands:
        # Core executemany on the table: dozens of rows per article, no ORM bulk machinery
        session.connection().execute(
            insert(MinhashBand.__table__),  # type: ignore[arg-type]
            [{"band": band, "article_id": article.id} for band in dict.fromkeys(bands)],
        )


def _apply(article: Article, page: PageItem, keep_raw: bool) -> None:
    """Copy the page's extracted fields onto the row."""
    assert page.article is not None and page.canonical_url and page.content_hash
    for name in ARTICLE_FIELDS:
        value = getattr(page.article, name)
        setattr(article, name, list(value) if isinstance(value, list) else value)
    article.url = page.url
    # The page's: the one the article declared, else its URL's, normalised (fingerprint_page)
    article.canonical_url = page.canonical_url
    article.content_hash = page.content_hash
    article.minhash = page.minhash
    article.http_headers = dict(page.headers)
    article.fetched_at = page.fetched_at
    article.raw_html = None
    if keep_raw and page.body:
        article.raw_html = page.compressed_body or compress_html(page.body)


def upsert_article(
    session: Session,
    page: PageItem,
    keep_raw: bool = True,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
) -> SaveResult:
    """Upsert a cleaned page by canonical URL; a copy (same or nearly the same text) is linked.

    A copy points at the earliest published copy with duplicate_of and shares its story; a new
    original is handed back as new_original, for story grouping to place (see
    aggregator.ingest.save_article, which also marks the page's URL fetched).
    """
    if page.article is None or not page.canonical_url or not page.content_hash:
        raise ValueError(f"{page.url}: page is not cleaned and fingerprinted")
    bands = lsh_bands(page.minhash) if page.minhash is not None else []
    _lock_keys(session, [_hash_key(page.content_hash), *bands])
    source = ensure_source(session, page.source, "")
    existing = session.scalar(select(Article).where(Article.canonical_url == page.canonical_url))
    if existing is None:
        article = Article(source_id=source.id, story_id=None)
        _apply(article, page, keep_raw)
        original = find_original(session, page.content_hash, page.minhash, bands, None, threshold)
        _copy_of(article, original)
        try:
            with session.begin_nested():
                session.add(article)
                session.flush()
                _link_copy(session, article, original)
                _write_bands(session, article, bands, replace=False)
        except IntegrityError:
            # Another process stored the same canonical URL between our read and our insert
            existing = session.scalars(
                select(Article).where(Article.canonical_url == page.canonical_url)
            ).one()
        else:
            # An earlier copy that took over as original joins its group's story as it is:
            # grouping it again would count one article twice
            new = article if article.duplicate_of is None and original is None else None
            status = "duplicate" if article.duplicate_of is not None else "inserted"
            return SaveResult(status, article.id, article.duplicate_of, new)

    changed = (
        existing.text != page.article.text
        or existing.title != page.article.title
        or existing.authors != list(page.article.authors)
        or existing.published != page.article.published
    )
    text_changed = existing.content_hash != page.content_hash
    _apply(existing, page, keep_raw)
    if text_changed:
        original = find_original(
            session, page.content_hash, page.minhash, bands, existing.id, threshold
        )
        _copy_of(existing, original)
        _link_copy(session, existing, original)
        _write_bands(session, existing, bands)
    if changed:
        existing.updated_at = utcnow()
    session.flush()
    return SaveResult("updated" if changed else "unchanged", existing.id, existing.duplicate_of)


def recent_texts(session: Session, source: str, limit: int) -> list[str]:
    """Texts of the latest distinct articles of a source (copies left out)."""
    rows = session.execute(
        select(Article.content_hash, Article.text)
        .join(Article.source)
        .where(Source.name == source, Article.duplicate_of.is_(None))
        .order_by(Article.id.desc())
        # Enough rows to find `limit` distinct texts, without reading the whole source
        .limit(limit * 3)
    )
    texts = {content_hash: text for content_hash, text in reversed(rows.all())}
    return list(texts.values())[-limit:]


@dataclass(frozen=True)
class ArticlePage:
    """One page of a listing and the cursor of the page after it (None on the last page)."""

    articles: list[Article]
    next_cursor: str | None


def article_time() -> ColumnElement[datetime]:
    """The time a listing orders by: publication, else fetch (indexed as ix_articles_newest)."""
    return func.coalesce(Article.published, Article.fetched_at)


def _listing(
    source: str | None, since: datetime | None, include_duplicates: bool, cursor: str | None
) -> Select[Article]:
    newest = article_time()
    query = (
        select(Article)
        .options(joinedload(Article.source))
        .order_by(newest.desc(), Article.id.desc())
    )
    if source:
        query = query.where(
            Article.source_id == select(Source.id).where(Source.name == source).scalar_subquery()
        )
    if since is not None:
        query = query.where(newest >= since)
    if not include_duplicates:
        query = query.where(Article.duplicate_of.is_(None))
    if cursor is not None:
        moment, last_id = _listing_position(cursor)
        # (newest, id) < (moment, last_id), spelt so that SQLite too ranges over the index
        query = query.where(newest <= moment, or_(newest < moment, Article.id < last_id))
    return query


def _listing_position(cursor: str) -> tuple[datetime, int]:
    position = decode_cursor(cursor, "articles")
    try:
        moment = datetime.fromisoformat(position["t"])
        last_id = position["i"]
    except (KeyError, TypeError, ValueError):
        raise CursorError("this cursor names no article: pass next_cursor as given") from None
    if moment.tzinfo is None or not isinstance(last_id, int) or isinstance(last_id, bool):
        raise CursorError("this cursor names no article: pass next_cursor as given")
    return moment, last_id


def article_cursor(article: Article) -> str:
    """The cursor of the listing page that follows this article."""
    moment = article.published or article.fetched_at
    return encode_cursor("articles", t=moment.astimezone(UTC).isoformat(), i=article.id)


def list_articles(
    session: Session,
    source: str | None = None,
    since: datetime | None = None,
    include_duplicates: bool = True,
    limit: int | None = None,
    cursor: str | None = None,
) -> Iterator[Article]:
    """Stored articles, newest first (by publication, else fetch time), streamed.

    From a cursor (see article_cursor) on: the index on that order serves any depth.
    """
    query = _listing(source, since, include_duplicates, cursor)
    if limit is not None:
        query = query.limit(limit)
    yield from session.scalars(query.execution_options(yield_per=200))


def articles_page(
    session: Session,
    source: str | None = None,
    since: datetime | None = None,
    include_duplicates: bool = False,
    limit: int = 20,
    cursor: str | None = None,
    offset: int = 0,
) -> ArticlePage:
    """A page of the listing and the cursor of the next one; offset (old clients) is capped."""
    check_offset(offset)
    query = _listing(source, since, include_duplicates, cursor).limit(limit + 1)
    if offset:
        query = query.offset(offset)
    found = list(session.scalars(query))
    page = found[:limit]
    more = len(found) > limit and bool(page)
    return ArticlePage(page, article_cursor(page[-1]) if more else None)


def get_article(session: Session, key: str | int) -> Article | None:
    """The article with that id, or with that URL or canonical URL.

    A URL is also normalised as the crawl does (tracking parameters, host case, fragment), so
    the link a reader has, `?utm_source=...` and all, finds the stored article.
    """
    if isinstance(key, int) or str(key).isdigit():
        if int(key) > MAX_ID:
            return None
        return session.get(Article, int(key), options=[joinedload(Article.source)])
    keys = {key, canonical_url(key)}
    return session.scalar(
        select(Article)
        .options(joinedload(Article.source))
        .where(or_(Article.url.in_(keys), Article.canonical_url.in_(keys)))
        .order_by(Article.id)
        .limit(1)
    )


def copies_of(session: Session, article_id: int) -> list[Article]:
    """The duplicates that point at this article."""
    return list(
        session.scalars(
            select(Article)
            .options(joinedload(Article.source))
            .where(Article.duplicate_of == article_id)
            .order_by(Article.id)
        )
    )


def story_neighbours(session: Session, article: Article, limit: int = 50) -> list[Article]:
    """The other originals of an article's story, in storage order."""
    if article.story_id is None:
        return []
    return list(
        session.scalars(
            select(Article)
            .options(joinedload(Article.source))
            .where(
                Article.story_id == article.story_id,
                Article.id != article.id,
                Article.duplicate_of.is_(None),
            )
            .order_by(Article.id)
            .limit(limit)
        )
    )


def source_exists(session: Session, name: str) -> bool:
    """Whether the store holds a source of that name."""
    if "\x00" in name:  # PostgreSQL refuses NUL in text: no source has it
        return False
    return session.scalar(select(Source.id).where(Source.name == name)) is not None


def compress_html(body: bytes) -> bytes:
    """A page's HTML as stored in articles.raw_html (see raw_html)."""
    return zlib.compress(body, 6)


def raw_html(article: Article) -> bytes | None:
    """The stored page as fetched, decompressed."""
    return zlib.decompress(article.raw_html) if article.raw_html else None


def _public_value(article: Article, key: str) -> Any:
    """One value of an article's public JSON: the source by name, times in ISO 8601."""
    if key == "source":
        return article.source.name
    value = getattr(article, key)
    if isinstance(value, datetime):
        return value.isoformat()
    return list(value) if isinstance(value, list) else value


def article_to_dict(
    article: Article, with_text: bool = True, copies: list[Article] | None = None
) -> dict[str, Any]:
    """The public JSON shape of a stored article (CLI, export, web), with the URLs of its
    copies (also_published_at) when they are given."""
    data = {
        key: _public_value(article, key) for key in ARTICLE_SCHEMA if with_text or key != "text"
    }
    if copies is not None:
        data["also_published_at"] = [copy.url for copy in copies]
    return data


def source_counts(session: Session) -> list[dict[str, Any]]:
    """Per source, by name: its URL, its articles (copies of others apart), its copies, and
    when it was last fetched (ISO 8601 UTC); the same counts for the CLI and the web."""
    original = Article.duplicate_of.is_(None)
    rows = session.execute(
        select(
            Source.name,
            Source.url,
            func.count(Article.id).filter(original),
            func.count(Article.id).filter(~original),
            func.max(Article.fetched_at),
        )
        .outerjoin(Article, Article.source_id == Source.id)
        .group_by(Source.id, Source.name, Source.url)
        .order_by(Source.name)
    )
    return [
        {
            "name": name,
            "url": url,
            "articles": articles,
            "copies": copies,
            # max() of a column: naive on SQLite, whose values are UTC
            "last_fetched": (last if last.tzinfo else last.replace(tzinfo=UTC)).isoformat()
            if last
            else None,
        }
        for name, url, articles, copies, last in rows
    ]


def store_stats(session: Session) -> dict[str, Any]:
    """Counts of the store: articles, duplicates, per source, crawl runs."""
    total = session.scalar(select(func.count(Article.id))) or 0
    duplicates = (
        session.scalar(select(func.count(Article.id)).where(Article.duplicate_of.is_not(None))) or 0
    )
    runs = session.scalar(select(func.count(CrawlRun.id))) or 0
    return {
        "articles": total,
        "visible_articles": total - duplicates,
        "duplicates": duplicates,
        "sources": [
            {
                "source": row["name"],
                "articles": row["articles"],
                "copies": row["copies"],
                "last_fetched": row["last_fetched"],
            }
            for row in source_counts(session)
        ],
        "crawl_runs": runs,
    }
