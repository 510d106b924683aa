"""The three pipelines, built the Scrapy way, on a real database."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from aggregator.items import PageItem
from aggregator.sources import Source
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, CrawlRun
from pipelines.clean import CleanPipeline
from pipelines.dedup import DedupPipeline
from pipelines.store import StorePipeline

SEED_PAGE = Path(__file__).parent / "sites" / "seed" / "wordpress.html"
TITLE = "Microsoft is continuing its fight against warrants overseas data"


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


def run_through(crawler: Crawler, item: PageItem) -> PageItem:
    clean = build_from_crawler(CleanPipeline, crawler)
    dedup = build_from_crawler(DedupPipeline, crawler)
    store = build_from_crawler(StorePipeline, crawler)
    store.open_spider()
    try:
        return store.process_item(dedup.process_item(clean.process_item(item)))
    finally:
        assert crawler.spider is not None
        store.spider_closed(crawler.spider, "finished")


def test_seed_page_is_stored_as_headline_free_body(crawler: Crawler, db_url: str) -> None:
    item = run_through(crawler, seed_item())
    # The page's rel=canonical wins over the fetched URL and its tracking parameters
    assert item.canonical_url == (
        "https://techfragments.example/2014/09/01/microsoft-continuing-fight-warrants-overseas-data"
    )
    engine = open_store(db_url)
    with session_scope(engine) as session:
        article = session.scalars(select(Article)).one()
        assert article.title == TITLE
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
        clean.process_item(empty)
    pdf = PageItem(
        url="https://seed.example/x.pdf",
        source="seedblog",
        body=b"%PDF-1.4 ...",
        headers={"content-type": "application/pdf"},
    )
    with pytest.raises(DropItem, match="not HTML"):
        clean.process_item(pdf)
    assert crawler.stats is not None
    assert crawler.stats.get_value("aggregator/clean/rejected") == 2


def test_dedup_drops_the_same_canonical_url_twice_in_one_run(crawler: Crawler) -> None:
    clean = build_from_crawler(CleanPipeline, crawler)
    dedup = build_from_crawler(DedupPipeline, crawler)
    dedup.process_item(clean.process_item(seed_item()))
    with pytest.raises(DropItem, match="same canonical URL"):
        dedup.process_item(clean.process_item(seed_item()))


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
    cleaned = build_from_crawler(CleanPipeline, crawler).process_item(item)
    assert cleaned.article is not None
    assert cleaned.article.title == "From the feed"
    assert cleaned.article.authors == ["Feed Author"]
