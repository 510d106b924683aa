"""Upsert each article in its own transaction and record the crawl run."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from aggregator.items import PageItem
from aggregator.store import queries
from aggregator.store.db import open_store, session_scope

logger = logging.getLogger(__name__)

# How the spider's close reason is recorded on the crawl run
_RUN_STATUS = {"finished": "finished", "shutdown": "interrupted", "cancelled": "interrupted"}


class StorePipeline:
    """Write articles to the SQL store; one transaction per article, so an interrupt loses none."""

    def __init__(self, crawler: Crawler, db_url: str, keep_raw: bool) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.keep_raw = keep_raw
        self.engine: Engine | None = None
        # The crawl run this pipeline records (none in a worker: it reports each source crawl)
        self.run_id: int | None = None
        self.dropped: list[tuple[str | None, str, str]] = []
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        settings = crawler.settings
        return cls(
            crawler,
            db_url=settings.get("AGGREGATOR_DB_URL"),
            keep_raw=settings.getbool("AGGREGATOR_KEEP_RAW_HTML", True),
        )

    def open_spider(self) -> None:
        self.engine = open_store(self.db_url)
        if self.crawler.settings.getbool("AGGREGATOR_WORKER"):
            return  # a worker's spider records one crawl run per source it crawls
        spider = self.crawler.spider
        sources = list(getattr(spider, "sources", []))
        with session_scope(self.engine) as session:
            for source in sources:
                queries.ensure_source(session, source.name, source.url)
            self.run_id = queries.start_run(session, [source.name for source in sources])
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("aggregator/crawl_run", self.run_id)
        logger.info(
            "Storing into %s (crawl run %s)", self.engine.url.render_as_string(), self.run_id
        )

    def process_item(self, item: PageItem) -> PageItem:
        assert self.engine is not None
        stats = self.crawler.stats
        assert stats is not None
        try:
            with session_scope(self.engine) as session:
                result = queries.save_article(session, item, keep_raw=self.keep_raw)
        except SQLAlchemyError as exc:
            stats.inc_value("aggregator/store/errors")
            logger.error("Could not store %s: %s", item.url, exc)
            raise DropItem(f"{item.url}: database error: {exc.__class__.__name__}") from exc
        item.stored_as = result.status
        stats.inc_value(f"aggregator/store/{result.status}")
        logger.debug("Stored %s as article %s (%s)", item.url, result.article_id, result.status)
        return item

    def item_dropped(self, item: Any, response: Any, exception: BaseException) -> None:
        """Remember why a page was not stored, for the crawl run's error list."""
        if isinstance(item, PageItem) and self.run_id is not None:
            self.dropped.append((item.source, item.url, f"dropped: {exception}"))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.engine is None:
            return
        if self.run_id is None:
            self.engine.dispose()
            self.engine = None
            return
        stats: dict[str, Any] = {
            key: value.isoformat() if hasattr(value, "isoformat") else value
            for key, value in (self.crawler.stats.get_stats() if self.crawler.stats else {}).items()
        }
        errors = list(getattr(spider, "crawl_errors", [])) + self.dropped
        try:
            with session_scope(self.engine) as session:
                queries.finish_run(
                    session, self.run_id, _RUN_STATUS.get(reason, reason), stats, errors
                )
        except SQLAlchemyError as exc:
            logger.error("Could not record crawl run %s: %s", self.run_id, exc)
        finally:
            self.engine.dispose()
            self.engine = None
