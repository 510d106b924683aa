"""Articles, sources, crawl runs, validators and boilerplate in SQL, for the rest of the code."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from aggregator.dedup import stories as grouping
from aggregator.dedup.fingerprints import estimated_jaccard, lsh_bands
from aggregator.dedup.urls import canonical_url
from aggregator.items import PageItem, utcnow
from aggregator.store import frontier
from aggregator.store.db import chunked
from aggregator.store.models import (
    Article,
    CrawlError,
    CrawlRun,
    HttpValidator,
    MinhashBand,
    Source,
    SourceSchedule,
    Story,
    StoryKey,
    TemplateBlock,
    TermFrequency,
)
from aggregator.store.pages import CursorError, check_offset, decode_cursor, encode_cursor
from aggregator.store.stories import SqlStoryStore

logger = logging.getLogger(__name__)

# Two texts whose estimated Jaccard similarity (word 5-shingles) reaches this are copies
# (benchmarks/dedup.py: 0.5 keeps recall >= 0.99 with no unrelated pair above 0.1)
NEAR_DUPLICATE_THRESHOLD = 0.5

# Story grouping compares the headline and about this much of the opening text
STORY_LEAD_CHARS = 600

# Article and story ids are 32-bit integers: a larger number names nothing
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class SaveResult:
    """What storing one page did: inserted, updated, unchanged or duplicate."""

    status: str
    article_id: int
    duplicate_of: int | None = None


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
    clean = page.article
    article.url = page.url
    article.canonical_url = page.canonical_url
    article.title = clean.title
    article.text = clean.text
    article.authors = list(clean.authors)
    article.tags = list(clean.tags)
    article.published = clean.published
    article.modified = clean.modified
    article.language = clean.language
    article.image_url = clean.image_url
    article.site_name = clean.site_name
    article.description = clean.description
    article.content_hash = page.content_hash
    article.minhash = page.minhash
    article.http_headers = dict(page.headers)
    article.fetched_at = page.fetched_at
    article.raw_html = None
    if keep_raw and page.body:
        article.raw_html = page.compressed_body or compress_html(page.body)


def save_article(
    session: Session,
    page: PageItem,
    keep_raw: bool = True,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
) -> SaveResult:
    """Upsert a cleaned page by canonical URL; a copy (same or nearly the same text) is linked.

    A copy points at the earliest published copy with duplicate_of and shares its story. The
    URL the page was requested at is marked fetched in the frontier, in the same transaction.
    """
    result = _upsert_article(session, page, keep_raw, threshold)
    frontier.record_fetched(session, page.source, page.requested_url or page.url, result.article_id)
    return result


def _upsert_article(
    session: Session, page: PageItem, keep_raw: bool, threshold: float
) -> SaveResult:
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
            if article.duplicate_of is None and original is None:
                assign_story(session, article, source.name)
            status = "duplicate" if article.duplicate_of is not None else "inserted"
            return SaveResult(status, article.id, article.duplicate_of)

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


def template_keys(session: Session, source: str) -> set[str]:
    """Keys of the paragraphs learned to be boilerplate of a source."""
    return set(
        session.scalars(select(TemplateBlock.block_key).join(Source).where(Source.name == source))
    )


def add_template_blocks(session: Session, source: str, blocks: dict[str, str]) -> None:
    """Remember paragraphs (key -> sample text) as boilerplate of a source."""
    if not blocks:
        return
    source_row = ensure_source(session, source, "")
    known = template_keys(session, source)
    for key, sample in blocks.items():
        if key not in known:
            try:
                with session.begin_nested():
                    session.add(
                        TemplateBlock(source_id=source_row.id, block_key=key, sample=sample)
                    )
            except IntegrityError:  # learned by another process at the same moment
                pass


def story_lead(article: Article) -> str:
    """The opening of an article that story grouping compares (headline and lead paragraphs)."""
    return lead_paragraphs(article.text)


def lead_paragraphs(text: str) -> str:
    """The first paragraphs of a text, until they hold STORY_LEAD_CHARS characters."""
    lead = ""
    for paragraph in text.split("\n\n"):
        lead = f"{lead}\n\n{paragraph}" if lead else paragraph
        if len(lead) >= STORY_LEAD_CHARS:
            break
    return lead


def assign_story(session: Session, article: Article, source: str) -> int:
    """Put a stored original article into its story (a recent one, or a new one)."""
    store = SqlStoryStore(session)
    store.lock()
    decision = grouping.assign_story(
        store,
        grouping.StoryArticle(
            id=str(article.id),
            source=source,
            title=article.title,
            text=story_lead(article),
            published=article.published or article.fetched_at,
        ),
    )
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
class RestoryResult:
    """What regrouping did: articles regrouped, stories they now form, old ids redirected."""

    articles: int
    stories: int
    redirected: int


def restory(
    session: Session,
    since: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RestoryResult:
    """Group stored articles into stories again (those seen since a time, or all).

    An old story id that no longer names a story leads to the story of the article that
    started it, so links to it keep working.
    """
    newest = func.coalesce(Article.published, Article.fetched_at)
    chosen: ColumnElement[bool]
    if since is None:
        dissolved = list(session.scalars(select(Story.id)))
        session.execute(delete(StoryKey))
        session.execute(delete(Story))
        session.execute(delete(TermFrequency))
        chosen = true()
    else:
        dissolved = list(session.scalars(select(Story.id).where(Story.last_seen >= since)))
        ids = list(
            session.scalars(
                select(Article.id).where(or_(Article.story_id.in_(dissolved), newest >= since))
            )
        )
        chosen = Article.id.in_(ids)
        store = SqlStoryStore(session)
        params = grouping.StoryParams()
        for article in session.scalars(
            select(Article).where(
                chosen, Article.duplicate_of.is_(None), Article.story_id.is_not(None)
            )
        ):
            # Its terms were counted when it was first grouped: count them once only
            terms = grouping.article_terms(article.title, story_lead(article), params)
            store.add_document_terms(terms, step=-1)
        session.execute(delete(StoryKey).where(StoryKey.story_id.in_(dissolved)))
        session.execute(delete(Story).where(Story.id.in_(dissolved)))
    session.execute(
        update(Article)
        .where(chosen)
        .values(story_id=None)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    originals = session.scalars(
        select(Article)
        .options(joinedload(Article.source))
        .where(chosen, Article.duplicate_of.is_(None))
        .order_by(newest, Article.id)
    ).all()
    stories = set()
    for done, article in enumerate(originals, 1):
        stories.add(assign_story(session, article, article.source.name))
        if progress is not None:
            progress(done, len(originals))
    redirected = _redirect_dissolved(session, dissolved)
    active = session.scalars(
        select(func.count(func.distinct(Article.story_id))).where(
            chosen, Article.story_id.is_not(None)
        )
    ).one()
    return RestoryResult(len(originals), active, redirected)


def _redirect_dissolved(session: Session, dissolved: list[int]) -> int:
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


@dataclass(frozen=True)
class ArticlePage:
    """One page of a listing and the cursor of the page after it (None on the last page)."""

    articles: list[Article]
    next_cursor: str | None


def _newest() -> ColumnElement[datetime]:
    """The time a listing orders by: publication, else fetch (indexed as ix_articles_newest)."""
    return func.coalesce(Article.published, Article.fetched_at)


def _listing(
    source: str | None, since: datetime | None, include_duplicates: bool, cursor: str | None
) -> Select[Article]:
    newest = _newest()
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


def compress_html(body: bytes) -> bytes:
    """A page's HTML as stored in articles.raw_html (see raw_html)."""
    return zlib.compress(body, 6)


def raw_html(article: Article) -> bytes | None:
    """The stored page as fetched, decompressed."""
    return zlib.decompress(article.raw_html) if article.raw_html else None


def article_to_dict(article: Article, with_text: bool = True) -> dict[str, Any]:
    """The public JSON shape of a stored article."""
    data: dict[str, Any] = {
        "id": article.id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source": article.source.name,
        "title": article.title,
        "authors": list(article.authors),
        "published": article.published.isoformat() if article.published else None,
        "fetched_at": article.fetched_at.isoformat(),
        "updated_at": article.updated_at.isoformat(),
        "duplicate_of": article.duplicate_of,
        "story_id": article.story_id,
        "language": article.language,
        "tags": list(article.tags),
        "image_url": article.image_url,
    }
    if with_text:
        data["text"] = article.text
    return data


def start_run(session: Session, sources: list[str]) -> int:
    """Record the start of a crawl run and return its id."""
    run = CrawlRun(sources=sources, status="running", stats={})
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    status: str,
    stats: dict[str, Any],
    errors: Iterable[tuple[str | None, str, str]] = (),
) -> None:
    """Record how a crawl run ended: its status, stats and failed URLs (source, url, reason)."""
    run = session.get(CrawlRun, run_id)
    if run is None:
        raise ValueError(f"crawl run {run_id} does not exist")
    run.finished_at = utcnow()
    run.status = status
    run.stats = stats
    for key, value in _run_counts(stats).items():
        setattr(run, key, value)
    for source, url, reason in errors:
        run.errors.append(CrawlError(source=source, url=url, reason=reason))
    run.error_count = len(run.errors)


def record_run(
    session: Session,
    sources: list[str],
    started_at: datetime,
    status: str,
    stats: dict[str, Any],
    errors: Iterable[tuple[str | None, str, str]] = (),
    log_tail: str | None = None,
) -> int:
    """Record a whole crawl run at its end (a worker's crawl of one source); return its id."""
    now = utcnow()
    errors = list(errors)
    values = {
        "sources": sources,
        "started_at": started_at,
        "finished_at": now,
        "status": status,
        "stats": stats,
        "log_tail": log_tail,
        "error_count": len(errors),
        **_run_counts(stats),
    }
    run_id = int(
        session.execute(insert(CrawlRun).values(values).returning(CrawlRun.id)).scalar_one()
    )
    if errors:
        session.execute(
            insert(CrawlError),
            [
                {"run_id": run_id, "source": source, "url": url, "reason": reason, "at": now}
                for source, url, reason in errors
            ],
        )
    return run_id


def _run_counts(stats: dict[str, Any]) -> dict[str, int]:
    """The pages fetched and articles stored a crawl run's stats count."""
    stored = int(stats.get("aggregator/store/inserted", 0))
    stored += int(stats.get("aggregator/store/duplicate", 0))
    return {
        "pages_fetched": int(stats.get("aggregator/pages_fetched", 0)),
        "articles_stored": stored,
    }


def run_to_dict(run: CrawlRun, with_errors: bool = True) -> dict[str, Any]:
    """The public JSON shape of a crawl run; durations in seconds, as everywhere."""
    elapsed = ((run.finished_at or run.started_at) - run.started_at).total_seconds()
    data: dict[str, Any] = {
        "id": run.id,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": round(elapsed, 2),
        "status": run.status,
        "sources": list(run.sources),
        "pages_fetched": run.pages_fetched,
        "articles_stored": run.articles_stored,
        "articles_updated": int((run.stats or {}).get("aggregator/store/updated", 0)),
        "errors": run.error_count,
    }
    if with_errors:
        data["error_list"] = [
            {"source": e.source, "url": e.url, "reason": e.reason} for e in run.errors
        ]
        data["log_tail"] = run.log_tail or None
    return data


def _lists_source(name: str) -> ColumnElement[bool]:
    """Whether a run's sources (a JSON array of names, stored as text) include this name."""
    pattern = '%"' + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'
    return cast(CrawlRun.sources, Text).like(pattern, escape="\\")


def _errors_of(name: str) -> ColumnElement[bool]:
    """Whether a run recorded a failed URL of this source."""
    return (
        select(CrawlError.id)
        .where(CrawlError.run_id == CrawlRun.id, CrawlError.source == name)
        .exists()
    )


def list_runs(
    session: Session, source: str | None = None, failed: bool = False, limit: int = 20
) -> list[CrawlRun]:
    """Crawl runs, newest first: of one source, and only those that failed, when asked.

    A run failed when it did not finish, or recorded a failed URL (of that source).
    """
    query = select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)
    if source:
        query = query.where(_lists_source(source))
    if failed:
        had_errors = _errors_of(source) if source else CrawlRun.error_count > 0
        query = query.where(or_(CrawlRun.status != "finished", had_errors))
    return list(session.scalars(query))


def last_run_of(session: Session, source: str) -> CrawlRun | None:
    """The newest crawl run of a source, scheduled or not."""
    runs = list_runs(session, source, limit=1)
    return runs[0] if runs else None


def last_error_of(session: Session, source: str) -> CrawlError | None:
    """The newest failed URL recorded for a source."""
    return session.scalar(
        select(CrawlError)
        .where(CrawlError.source == source)
        .order_by(CrawlError.id.desc())
        .limit(1)
    )


def articles_added(run: CrawlRun, source: str) -> int:
    """How many new articles a run stored for a source (a crawl of several counts each)."""
    stats = run.stats or {}
    key = f"aggregator/sources/{source}/inserted"
    if key in stats or len(run.sources) != 1:
        return int(stats.get(key, 0))
    return int(stats.get("aggregator/store/inserted", 0))


def get_run(session: Session, run_id: int) -> CrawlRun | None:
    """Return a crawl run by id."""
    return session.get(CrawlRun, run_id)


def recent_runs(session: Session, limit: int = 5) -> list[CrawlRun]:
    """The latest crawl runs, newest first."""
    return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)))


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


# -- conditional requests ----------------------------------------------------------------


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


# -- scheduler state ---------------------------------------------------------------------


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


# -- retention ---------------------------------------------------------------------------


def drop_raw_html(session: Session, fetched_before: datetime) -> int:
    """Drop the raw HTML of articles fetched before a time (the articles stay); return how many."""
    result = session.execute(
        update(Article)
        .where(Article.fetched_at < fetched_before, Article.raw_html.is_not(None))
        .values(raw_html=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune_articles(session: Session, published_before: datetime) -> int:
    """Delete articles published (or, without a date, fetched) before a time; return how many."""
    old = or_(
        Article.published < published_before,
        (Article.published.is_(None)) & (Article.fetched_at < published_before),
    )
    result = session.execute(delete(Article).where(old))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
