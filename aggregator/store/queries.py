"""The reads and writes the rest of the code may call; the only module that writes SQL."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from aggregator.items import PageItem, utcnow
from aggregator.store.models import Article, CrawlError, CrawlRun, Source, TemplateBlock

logger = logging.getLogger(__name__)

# Keep IN lists well below SQLite's and PostgreSQL's parameter limits
_IN_CHUNK = 500


@dataclass(frozen=True)
class SaveResult:
    """What storing one page did: inserted, updated, unchanged or duplicate."""

    status: str
    article_id: int
    duplicate_of: int | None = None


def ensure_source(session: Session, name: str, url: str) -> Source:
    """Return the source row of that name, creating it (or refreshing its URL) when needed."""
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
    return source


def known_urls(session: Session, urls: Iterable[str]) -> set[str]:
    """Return those of the given URLs already stored, as fetched URL or as canonical URL."""
    wanted = list(dict.fromkeys(urls))
    found: set[str] = set()
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        rows = session.execute(
            select(Article.url, Article.canonical_url).where(
                or_(Article.url.in_(chunk), Article.canonical_url.in_(chunk))
            )
        )
        for url, canonical in rows:
            found.update({url, canonical})
    return found.intersection(wanted)


def _original_with_hash(session: Session, content_hash: str, exclude: int | None) -> Article | None:
    query = (
        select(Article)
        .where(Article.content_hash == content_hash, Article.duplicate_of.is_(None))
        .order_by(Article.id)
        .limit(1)
    )
    if exclude is not None:
        query = query.where(Article.id != exclude)
    return session.scalar(query)


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
    article.http_headers = dict(page.headers)
    article.fetched_at = page.fetched_at
    article.raw_html = zlib.compress(page.body, 6) if keep_raw and page.body else None


def save_article(session: Session, page: PageItem, keep_raw: bool = True) -> SaveResult:
    """Upsert a cleaned page by canonical URL; an exact copy points at its original."""
    if page.article is None or not page.canonical_url or not page.content_hash:
        raise ValueError(f"{page.url}: page is not cleaned and fingerprinted")
    source = ensure_source(session, page.source, "")
    existing = session.scalar(select(Article).where(Article.canonical_url == page.canonical_url))
    if existing is None:
        article = Article(source_id=source.id, story_id=None)
        _apply(article, page, keep_raw)
        original = _original_with_hash(session, page.content_hash, None)
        if original is not None:
            article.duplicate_of = original.id
            article.story_id = original.story_id
        try:
            with session.begin_nested():
                session.add(article)
        except IntegrityError:
            # Another process stored the same canonical URL between our read and our insert
            existing = session.scalars(
                select(Article).where(Article.canonical_url == page.canonical_url)
            ).one()
        else:
            status = "duplicate" if original is not None else "inserted"
            return SaveResult(status, article.id, article.duplicate_of)

    changed = (
        existing.text != page.article.text
        or existing.title != page.article.title
        or existing.authors != list(page.article.authors)
        or existing.published != page.article.published
    )
    hash_changed = existing.content_hash != page.content_hash
    _apply(existing, page, keep_raw)
    if hash_changed:
        original = _original_with_hash(session, page.content_hash, existing.id)
        existing.duplicate_of = (
            original.id if original is not None and original.id < existing.id else None
        )
    if changed:
        existing.updated_at = utcnow()
    session.flush()
    return SaveResult("updated" if changed else "unchanged", existing.id, existing.duplicate_of)


def recent_texts(session: Session, source: str, limit: int) -> list[str]:
    """Texts of the latest distinct articles of a source (copies left out)."""
    latest = (
        select(func.max(Article.id).label("id"))
        .join(Article.source)
        .where(Source.name == source, Article.duplicate_of.is_(None))
        .group_by(Article.content_hash)
        .order_by(func.max(Article.id).desc())
        .limit(limit)
        .subquery()
    )
    return list(session.scalars(select(Article.text).join(latest, Article.id == latest.c.id)))


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


def list_articles(
    session: Session,
    source: str | None = None,
    since: datetime | None = None,
    include_duplicates: bool = True,
    limit: int | None = None,
) -> Iterator[Article]:
    """Stored articles, newest first (by publication, else fetch time), streamed."""
    newest = func.coalesce(Article.published, Article.fetched_at)
    query = select(Article).options(joinedload(Article.source)).order_by(newest.desc(), Article.id)
    if source:
        query = query.join(Article.source).where(Source.name == source)
    if since is not None:
        query = query.where(newest >= since)
    if not include_duplicates:
        query = query.where(Article.duplicate_of.is_(None))
    if limit is not None:
        query = query.limit(limit)
    yield from session.scalars(query.execution_options(yield_per=200))


def get_article(session: Session, key: str | int) -> Article | None:
    """The article with that id, or with that URL or canonical URL."""
    if isinstance(key, int) or str(key).isdigit():
        return session.get(Article, int(key), options=[joinedload(Article.source)])
    return session.scalar(
        select(Article)
        .options(joinedload(Article.source))
        .where(or_(Article.url == key, Article.canonical_url == key))
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
    run.pages_fetched = int(stats.get("aggregator/pages_fetched", 0))
    run.articles_stored = int(stats.get("aggregator/store/inserted", 0)) + int(
        stats.get("aggregator/store/duplicate", 0)
    )
    for source, url, reason in errors:
        run.errors.append(CrawlError(source=source, url=url, reason=reason))
    run.error_count = len(run.errors)


def recent_runs(session: Session, limit: int = 5) -> list[CrawlRun]:
    """The latest crawl runs, newest first."""
    return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)))


def store_stats(session: Session) -> dict[str, Any]:
    """Counts of the store: articles, duplicates, per source, crawl runs."""
    total = session.scalar(select(func.count(Article.id))) or 0
    duplicates = (
        session.scalar(select(func.count(Article.id)).where(Article.duplicate_of.is_not(None))) or 0
    )
    per_source = session.execute(
        select(
            Source.name,
            func.count(Article.id),
            func.max(Article.fetched_at),
        )
        .outerjoin(Article, Article.source_id == Source.id)
        .group_by(Source.name)
        .order_by(Source.name)
    ).all()
    runs = session.scalar(select(func.count(CrawlRun.id))) or 0
    return {
        "articles": total,
        "visible_articles": total - duplicates,
        "duplicates": duplicates,
        "sources": [
            {
                "name": name,
                "articles": count,
                "last_fetched": last.isoformat() if last else None,
            }
            for name, count, last in per_source
        ],
        "crawl_runs": runs,
    }
