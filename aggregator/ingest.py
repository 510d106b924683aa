"""Ingestion: clean, fingerprint, store and group a page into its story (pipelines, `import`,
`reextract`, `restory`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from aggregator.dedup import stories as grouping
from aggregator.dedup.fingerprints import content_hash, minhash_signature
from aggregator.dedup.urls import canonical_url
from aggregator.discovery import non_html_reason
from aggregator.exceptions import RejectedPage
from aggregator.extract import NoArticle, extract
from aggregator.extract.templates import TEMPLATE_SAMPLE, learn_boilerplate, strip_boilerplate
from aggregator.items import Article as CleanArticle
from aggregator.items import PageItem
from aggregator.sources import Source
from aggregator.store import frontier, stories
from aggregator.store.articles import (
    NEAR_DUPLICATE_THRESHOLD,
    SaveResult,
    compress_html,
    raw_html,
    recent_texts,
    upsert_article,
)
from aggregator.store.boilerplate import boilerplate_keys, save_boilerplate
from aggregator.store.models import Article

# A source's boilerplate is learned again at each of its first pages, then every this many
BOILERPLATE_REFRESH = 10


def boilerplate_due(pages: int) -> bool:
    """Whether a source's boilerplate is learned again at its pages-th page of a run.

    At each of its first pages (while its store holds few texts, learning reads little), then
    at every BOILERPLATE_REFRESH-th.
    """
    return pages <= BOILERPLATE_REFRESH or pages % BOILERPLATE_REFRESH == 0


def site_boilerplate(session: Session, source: str) -> frozenset[str]:
    """Keys of the paragraphs that are boilerplate of a source: learned before, or now."""
    known = boilerplate_keys(session, source)
    learned = learn_boilerplate(recent_texts(session, source, TEMPLATE_SAMPLE))
    save_boilerplate(session, source, {k: v for k, v in learned.items() if k not in known})
    return frozenset(known | learned.keys())


def clean_page(
    page: PageItem, boilerplate: frozenset[str] = frozenset(), source: Source | None = None
) -> PageItem:
    """Extract the article of a page, completed with its feed metadata; reject non-articles.

    Paragraphs whose key is in boilerplate (see site_boilerplate) are dropped; the source's
    own rules (content and remove selectors from sources.toml) apply when it is given.
    """
    content_type = page.headers.get("content-type")
    reason = non_html_reason(content_type, page.body)
    if reason:
        raise RejectedPage(f"{page.url}: {reason}")
    article = extract(
        page.body,
        page.url,
        content_type,
        source.content if source else None,
        source.remove if source else (),
    )
    if isinstance(article, NoArticle):
        raise RejectedPage(f"{page.url}: no article found in the page, {article.reason}")
    article.text = strip_boilerplate(article.text, boilerplate)
    if not article.text:
        raise RejectedPage(f"{page.url}: only the site's boilerplate, no article")
    if not article.title and page.feed_title:
        article.title = page.feed_title
    if not article.authors and page.feed_authors:
        article.authors = list(page.feed_authors)
    if article.published is None and page.feed_published is not None:
        article.published = page.feed_published
    if not article.title:
        # No headline anywhere: name the article after its opening words
        words = article.text.split()
        article.title = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    page.article = article
    return page


def fingerprint_page(page: PageItem) -> PageItem:
    """Set the canonical URL, the content hash and the MinHash signature of a cleaned page."""
    if page.article is None:
        raise RejectedPage(f"{page.url}: page was not cleaned")
    page.canonical_url = canonical_url(page.url, page.article.canonical_url)
    page.content_hash = content_hash(page.article.text)
    page.minhash = minhash_signature(page.article.text)
    page.compressed_body = compress_html(page.body)
    return page


@dataclass(frozen=True)
class Extraction:
    """What clean_page and fingerprint_page add to a page (sent back from a worker process)."""

    article: CleanArticle
    canonical_url: str
    content_hash: str
    minhash: bytes | None
    compressed_body: bytes | None

    def apply(self, page: PageItem) -> PageItem:
        """Set the extracted article and fingerprints on the page."""
        page.article = self.article
        page.canonical_url = self.canonical_url
        page.content_hash = self.content_hash
        page.minhash = self.minhash
        page.compressed_body = self.compressed_body
        return page


def extract_page(
    page: PageItem, boilerplate: frozenset[str] = frozenset(), source: Source | None = None
) -> Extraction:
    """clean_page then fingerprint_page: the CPU work of a page, no database (runs in a worker)."""
    page = fingerprint_page(clean_page(page, boilerplate, source))
    assert page.article is not None and page.canonical_url and page.content_hash
    return Extraction(
        page.article, page.canonical_url, page.content_hash, page.minhash, page.compressed_body
    )


def save_article(
    session: Session,
    page: PageItem,
    keep_raw: bool = True,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
) -> SaveResult:
    """Store a cleaned page: upsert its article (a copy is linked to its original), put a new
    original into its story, and mark the URL the page was requested at fetched in the
    frontier, all in the session's transaction."""
    return save_articles(session, [page], keep_raw, threshold)[0]


def save_articles(
    session: Session,
    pages: Sequence[PageItem],
    keep_raw: bool = True,
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
) -> list[SaveResult]:
    """Store cleaned pages in the session's transaction, as save_article does each.

    Their new originals are put into stories last: story grouping holds a lock on the whole
    store until the transaction ends (one writer groups at a time, on every machine), so it
    is taken once every page of the batch is written, not while they are.
    """
    results = []
    for page in pages:
        result = upsert_article(session, page, keep_raw, threshold)
        url = page.requested_url or page.url
        frontier.record_fetched(session, page.source, url, result.article_id)
        results.append(result)
    for page, result in zip(pages, results, strict=True):
        article, source = result.new_original, page.source
        if article is None:
            continue
        if article.duplicate_of is not None:
            # a page of this batch published earlier took over as the original: it is the
            # one to place, unless it brought a story of its own
            article = session.get(Article, article.duplicate_of)
            if article is None or article.story_id is not None:
                continue
            source = article.source.name
        group_article(session, article, source)
    return results


def story_lead(article: Article) -> str:
    """The opening of a stored article that story grouping compares (see lead_paragraphs)."""
    return grouping.lead_paragraphs(article.text)


def group_article(session: Session, article: Article, source: str) -> int:
    """Put a stored original article into its story (a recent one, or a new one)."""
    store = stories.SqlStoryStore(session)
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
    return stories.apply_story(session, article, decision)


@dataclass(frozen=True)
class RestoryResult:
    """What regrouping did: articles regrouped, stories they now form, old ids redirected."""

    articles: int
    stories: int
    redirected: int


def regroup_stories(
    session: Session,
    since: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RestoryResult:
    """Group stored articles into stories again (those seen since a time, or all).

    An old story id that no longer names a story leads to the story of the article that
    started it, so links to it keep working.
    """
    regrouping = stories.to_regroup(session, since)
    if regrouping.articles is not None:
        store = stories.SqlStoryStore(session)
        params = grouping.StoryParams()
        for article in stories.grouped_originals(session, regrouping):
            # Its terms were counted when it was first grouped: count them once only
            terms = grouping.article_terms(article.title, story_lead(article), params)
            store.add_document_terms(terms, step=-1)
    originals = stories.dissolve(session, regrouping)
    for done, article in enumerate(originals, 1):
        group_article(session, article, article.source.name)
        if progress is not None:
            progress(done, len(originals))
    redirected = stories.redirect_dissolved(session, regrouping.dissolved)
    return RestoryResult(len(originals), stories.count_regrouped(session, regrouping), redirected)


def reextract_stored(
    session: Session,
    article: Article,
    boilerplate: frozenset[str] = frozenset(),
    source: Source | None = None,
    keep_raw: bool = True,
) -> str:
    """Run extraction again over an article's stored raw HTML; return what changed.

    boilerplate is its source's (see site_boilerplate), read once per source by the caller.
    """
    body = raw_html(article)
    if body is None:
        return "no_raw_html"
    page = PageItem(
        url=article.url,
        source=article.source.name,
        body=body,
        headers=dict(article.http_headers),
        fetched_at=article.fetched_at,
        # What the feed gave at crawl time survives in the row: keep it as the fallback
        feed_title=article.title,
        feed_authors=list(article.authors),
        feed_published=article.published,
    )
    try:
        page = fingerprint_page(clean_page(page, boilerplate, source))
    except RejectedPage:
        return "no_article"
    # The stored row keeps its identity even if the page's declared canonical URL changed
    page.canonical_url = article.canonical_url
    return save_article(session, page, keep_raw=keep_raw).status
