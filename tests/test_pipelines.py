"""The three pipelines, built the Scrapy way, on a real database."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from aggregator.ingest import Extraction, extract_page
from aggregator.items import PageItem
from aggregator.sources import Source
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, CrawlRun
from pipelines.clean import CleanPipeline
from pipelines.dedup import DedupPipeline
from pipelines.store import StorePipeline
from tests.support import SEED, SEED_TITLE

SEED_PAGE = SEED / "wordpress.html"


class FakeSourcesSpider(Spider):
    """A spider with the attributes the store pipeline reads, and no crawling."""

    name = "fake"
    sources: ClassVar[list[Source]] = [Source(name="seedblog", url="https://seed.example/")]
    crawl_errors: ClassVar[list[tuple[str | None, str, str]]] = []


@pytest.fixture
def crawler(db_url: str) -> Crawler:
    crawler = get_crawler(FakeSourcesSpider, {"AGGREGATOR_DB_URL": db_url})
    crawler.spider = FakeSourcesSpider.from_crawler(crawler)
    return crawler


def seed_item(url: str = "https://seed.example/2026/11/microsoft-warrants/") -> PageItem:
    return PageItem(
        url=url + "?utm_source=feed&fbclid=abc",
        source="seedblog",
        body=SEED_PAGE.read_bytes(),
        headers={"content-type": "text/html; charset=utf-8"},
    )


def cleaned(clean: CleanPipeline, item: PageItem) -> PageItem:
    """Run the clean pipeline's coroutine to its end, as Scrapy's asyncio reactor would."""
    return asyncio.run(clean.process_item(item))


def run_through(crawler: Crawler, item: PageItem) -> PageItem:
    clean = build_from_crawler(CleanPipeline, crawler)
    dedup = build_from_crawler(DedupPipeline, crawler)
    store = build_from_crawler(StorePipeline, crawler)
    store.open_spider()
    try:
        return asyncio.run(store.process_item(dedup.process_item(cleaned(clean, item))))
    finally:
        clean.close_spider()
        assert crawler.spider is not None
        store.spider_closed(crawler.spider, "finished")


def test_seed_page_is_stored_as_headline_free_body(crawler: Crawler, db_url: str) -> None:
    item = run_through(crawler, seed_item())
    assert item.stored_as == "inserted"
    # The page's rel=canonical wins over the fetched URL and its tracking parameters
    assert item.canonical_url == (
        "https://techfragments.example/2014/09/01/microsoft-continuing-fight-warrants-overseas-data"
    )
    engine = open_store(db_url)
    with session_scope(engine) as session:
        article = session.scalars(select(Article)).one()
        assert article.title == SEED_TITLE
        assert article.authors == ["Connor Livingston"]
        paragraphs = article.text.split("\n\n")
        assert len(paragraphs) == 2
        assert paragraphs[0].startswith("A US judge on Friday lifted a suspension")
        assert paragraphs[1].endswith("is somewhat suspect.")
        assert article.source.url == "https://seed.example/"
        run = session.scalars(select(CrawlRun)).one()
        assert run.status == "finished" and run.articles_stored == 1
    engine.dispose()


def test_clean_drops_a_page_without_article_with_its_reason(crawler: Crawler) -> None:
    clean = build_from_crawler(CleanPipeline, crawler)
    empty = PageItem(
        url="https://seed.example/tags/",
        source="seedblog",
        body=b"<html><body><nav><a href='/a'>A</a></nav></body></html>",
        headers={"content-type": "text/html"},
    )
    with pytest.raises(DropItem, match="no article found"):
        cleaned(clean, empty)
    pdf = PageItem(
        url="https://seed.example/x.pdf",
        source="seedblog",
        body=b"%PDF-1.4 ...",
        headers={"content-type": "application/pdf"},
    )
    with pytest.raises(DropItem, match="not HTML"):
        cleaned(clean, pdf)
    clean.close_spider()
    assert crawler.stats is not None
    assert crawler.stats.get_value("aggregator/clean/rejected") == 2


def test_dedup_drops_the_same_canonical_url_twice_in_one_run(crawler: Crawler) -> None:
    clean = build_from_crawler(CleanPipeline, crawler)
    dedup = build_from_crawler(DedupPipeline, crawler)
    dedup.process_item(cleaned(clean, seed_item()))
    with pytest.raises(DropItem, match="same canonical URL"):
        dedup.process_item(cleaned(clean, seed_item()))
    clean.close_spider()


def test_feed_metadata_fills_what_the_page_lacks(crawler: Crawler) -> None:
    body = (
        "<html><body><article>"
        + "".join(
            f"<p>Paragraph {n} explains how storage engine number {n} lays out its pages, "
            f"why its write path batches {n * 8} records, and what that costs readers.</p>"
            for n in range(1, 6)
        )
        + "</article></body></html>"
    ).encode()
    item = PageItem(
        url="https://seed.example/plain",
        source="seedblog",
        body=body,
        headers={"content-type": "text/html"},
        feed_title="From the feed",
        feed_authors=["Feed Author"],
    )
    clean = build_from_crawler(CleanPipeline, crawler)
    page = cleaned(clean, item)
    clean.close_spider()
    assert page.article is not None
    assert page.article.title == "From the feed"
    assert page.article.authors == ["Feed Author"]


# The extraction functions below run in the clean pipeline's worker processes, which import
# them from this module.


def extract_noting_pid(
    page: PageItem, boilerplate: frozenset[str], source: Source | None
) -> Extraction:
    """The real extraction, which also writes its pid to the file named by feed_summary."""
    assert page.feed_summary is not None
    Path(page.feed_summary).write_text(str(os.getpid()))
    return extract_page(page, boilerplate, source)


def extract_or_fail(
    page: PageItem, boilerplate: frozenset[str], source: Source | None
) -> Extraction:
    """The real extraction, except that a page can make it raise or kill its process."""
    if "/raise/" in page.url:
        raise ValueError("the extractor choked on this page")
    if "/die/" in page.url:
        os._exit(3)
    return extract_page(page, boilerplate, source)


class PidCleanPipeline(CleanPipeline):
    extract = staticmethod(extract_noting_pid)


class FailingCleanPipeline(CleanPipeline):
    extract = staticmethod(extract_or_fail)


def test_clean_extracts_in_another_process(crawler: Crawler, tmp_path: Path) -> None:
    clean = build_from_crawler(PidCleanPipeline, crawler)
    assert clean.pool.processes >= 1
    item = seed_item()
    item.feed_summary = str(tmp_path / "pid")
    try:
        page = cleaned(clean, item)
    finally:
        clean.close_spider()
    assert page.article is not None and page.article.title == SEED_TITLE
    assert page.content_hash and page.canonical_url and page.minhash
    worker = int((tmp_path / "pid").read_text())
    assert worker != os.getpid()


def test_a_page_that_breaks_the_extractor_is_dropped_and_the_others_go_on(
    crawler: Crawler,
) -> None:
    clean = build_from_crawler(FailingCleanPipeline, crawler)

    async def crawl() -> list[PageItem | BaseException]:
        pages = [
            seed_item("https://seed.example/2026/11/raise/"),
            seed_item("https://seed.example/2026/11/one/"),
            seed_item("https://seed.example/2026/11/die/"),
            seed_item("https://seed.example/2026/11/two/"),
        ]
        results = await asyncio.gather(
            *(clean.process_item(p) for p in pages), return_exceptions=True
        )
        # The pool that lost a worker was replaced: later pages are extracted as usual
        results.append(await clean.process_item(seed_item("https://seed.example/2026/11/3/")))
        return results

    try:
        raised, one, died, two, three = asyncio.run(crawl())
    finally:
        clean.close_spider()
    assert isinstance(raised, DropItem)
    assert str(raised) == (
        "https://seed.example/2026/11/raise/?utm_source=feed&fbclid=abc: "
        "extraction failed: ValueError: the extractor choked on this page"
    )
    assert isinstance(died, DropItem)
    assert "die/?utm_source=feed&fbclid=abc: extraction process died" in str(died)
    for page in (one, two, three):
        assert isinstance(page, PageItem) and page.article is not None
        assert page.article.title == SEED_TITLE
    assert crawler.stats is not None
    assert crawler.stats.get_value("aggregator/clean/failed") == 2
    assert crawler.stats.get_value("aggregator/clean/articles") == 3


def test_a_page_is_cleaned_when_the_boilerplate_cannot_be_learned(
    crawler: Crawler, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_store(db_url)
    with engine.begin() as conn:  # learning reads and writes this table
        conn.exec_driver_sql("ALTER TABLE template_blocks RENAME TO template_blocks_away")
    engine.dispose()
    clean = build_from_crawler(CleanPipeline, crawler)
    clean.open_spider()
    try:
        page = cleaned(clean, seed_item())
    finally:
        clean.close_spider()
    assert page.article is not None and page.article.title == SEED_TITLE
    assert "Boilerplate of seedblog not learnt" in caplog.text


def test_extraction_can_run_in_the_crawl_process(db_url: str) -> None:
    crawler = get_crawler(
        FakeSourcesSpider, {"AGGREGATOR_DB_URL": db_url, "AGGREGATOR_EXTRACT_PROCESSES": 0}
    )
    crawler.spider = FakeSourcesSpider.from_crawler(crawler)
    clean = build_from_crawler(CleanPipeline, crawler)
    page = cleaned(clean, seed_item())
    clean.close_spider()
    assert clean.pool.processes == 0 and page.article is not None


def test_pages_are_stored_in_batches_and_a_page_that_fails_costs_only_itself(
    db_url: str,
) -> None:
    crawler = get_crawler(
        FakeSourcesSpider,
        {"AGGREGATOR_DB_URL": db_url, "AGGREGATOR_STORE_BATCH": 3, "AGGREGATOR_STORE_WAIT": 60},
    )
    crawler.spider = FakeSourcesSpider.from_crawler(crawler)
    clean = build_from_crawler(CleanPipeline, crawler)
    store = build_from_crawler(StorePipeline, crawler)
    store.open_spider()
    urls = [f"https://seed.example/2026/11/{n}/" for n in range(1, 6)]
    pages = [cleaned(clean, seed_item(url)) for url in urls[:4]]
    for page, url in zip(pages, urls, strict=False):
        page.canonical_url = url  # four copies of one text at four addresses
    # not cleaned: storing it fails, in the same batch as two good pages
    pages.insert(1, PageItem(url=urls[4], source="seedblog", body=b"", headers={}))

    async def store_all() -> tuple[list[PageItem | BaseException], list[int]]:
        tasks = [asyncio.ensure_future(store.process_item(page)) for page in pages]
        await asyncio.wait(tasks[:3], timeout=60)
        # the first batch of three was full and is stored; two pages wait for the next one
        waiting = [n for n, task in enumerate(tasks) if not task.done()]
        store._flush()
        return await asyncio.gather(*tasks, return_exceptions=True), waiting

    try:
        results, waiting = asyncio.run(store_all())
    finally:
        clean.close_spider()
        assert crawler.spider is not None
        store.spider_closed(crawler.spider, "finished")
    assert waiting == [3, 4]
    failed = results.pop(1)
    assert isinstance(failed, DropItem)
    assert str(failed).startswith(f"{urls[4]}: not stored: ValueError")
    assert [page.stored_as for page in results if isinstance(page, PageItem)] == ["inserted"] + [
        "duplicate"
    ] * 3
    engine = open_store(db_url)
    with session_scope(engine) as session:
        stored = session.scalars(select(Article.canonical_url).order_by(Article.id)).all()
        assert stored == urls[:4]
    engine.dispose()
    assert crawler.stats is not None
    assert crawler.stats.get_value("aggregator/store/errors") == 1


def test_a_batch_waiting_for_the_database_lock_does_not_stall_the_reactor(db_url: str) -> None:
    crawler = get_crawler(
        FakeSourcesSpider,
        {"AGGREGATOR_DB_URL": db_url, "AGGREGATOR_STORE_BATCH": 1},
    )
    crawler.spider = FakeSourcesSpider.from_crawler(crawler)
    clean = build_from_crawler(CleanPipeline, crawler)
    store = build_from_crawler(StorePipeline, crawler)
    store.open_spider()
    page = cleaned(clean, seed_item())
    clean.close_spider()
    # Another process holds the write lock for a second
    engine = open_store(db_url)
    blocker = engine.connect()
    if engine.dialect.name == "sqlite":
        blocker.exec_driver_sql("SELECT 1")  # the store's transactions begin IMMEDIATE
    else:
        blocker.exec_driver_sql("LOCK TABLE articles IN EXCLUSIVE MODE")

    async def store_while_ticking() -> tuple[PageItem, int]:
        ticks = 0
        release = threading.Timer(1.0, blocker.rollback)
        release.start()
        task = asyncio.ensure_future(store.process_item(page))
        while not task.done():
            await asyncio.sleep(0.05)
            ticks += 1
        return await task, ticks

    try:
        stored, ticks = asyncio.run(store_while_ticking())
    finally:
        blocker.close()
        assert crawler.spider is not None
        store.spider_closed(crawler.spider, "finished")
        engine.dispose()
    # The loop (the reactor, in a crawl) ran on all the while the batch waited for the lock
    assert stored.stored_as == "inserted"
    assert ticks >= 15
