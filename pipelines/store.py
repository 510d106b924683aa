"""Upsert articles in small batches, one transaction each, and record the crawl run."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from aggregator.ingest import save_articles
from aggregator.items import PageItem
from aggregator.store.articles import SaveResult, ensure_source
from aggregator.store.db import open_store, session_scope
from aggregator.store.runs import finish_run, start_run

logger = logging.getLogger(__name__)

# How the spider's close reason is recorded on the crawl run
_RUN_STATUS = {"finished": "finished", "shutdown": "interrupted", "cancelled": "interrupted"}


class StorePipeline:
    """Write articles to the SQL store in small batches, one transaction each.

    A page waits at most AGGREGATOR_STORE_WAIT seconds for others to share its transaction
    (AGGREGATOR_STORE_BATCH at most). An article and its frontier row are stored together, so
    a crash loses only pages not yet committed, which the frontier still holds as due.

    Batches are written one after another by a thread of their own: the reactor goes on
    downloading, and handing pages to the extraction processes, while a batch is written.
    """

    def __init__(
        self, crawler: Crawler, db_url: str, keep_raw: bool, batch: int = 1, wait: float = 0
    ) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.keep_raw = keep_raw
        self.batch_size = max(1, batch)
        self.wait = wait
        self.batch: list[tuple[PageItem, asyncio.Future[PageItem]]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.engine: Engine | None = None
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="store")
        # The batches being written: the event loop keeps only weak references to tasks
        self.writing: set[asyncio.Task[None]] = set()
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
            batch=settings.getint("AGGREGATOR_STORE_BATCH", 1),
            wait=settings.getfloat("AGGREGATOR_STORE_WAIT", 0),
        )

    def open_spider(self) -> None:
        self.engine = open_store(self.db_url)
        if self.crawler.settings.getbool("AGGREGATOR_WORKER"):
            return  # a worker's spider records one crawl run per source it crawls
        spider = self.crawler.spider
        sources = list(getattr(spider, "sources", []))
        with session_scope(self.engine) as session:
            for source in sources:
                ensure_source(session, source.name, source.url)
            self.run_id = start_run(session, [source.name for source in sources])
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("aggregator/crawl_run", self.run_id)
        logger.info(
            "Storing into %s (crawl run %s)", self.engine.url.render_as_string(), self.run_id
        )

    async def process_item(self, item: PageItem) -> PageItem:
        future: asyncio.Future[PageItem] = asyncio.get_running_loop().create_future()
        self.batch.append((item, future))
        if len(self.batch) >= self.batch_size:
            self._flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.wait, self._flush)
        return await future

    def _flush(self) -> None:
        """Hand the waiting pages to the writer thread as one batch."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.batch = self.batch, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._write(batch))
            self.writing.add(task)
            task.add_done_callback(self.writing.discard)

    async def _write(self, batch: list[tuple[PageItem, asyncio.Future[PageItem]]]) -> None:
        items = [item for item, _ in batch]
        loop = asyncio.get_running_loop()
        outcomes = await loop.run_in_executor(self.writer, self._store_batch, items)
        assert self.crawler.stats is not None
        for (item, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                future.set_exception(self._failed(item, outcome))
                continue
            item.stored_as = outcome.status
            self.crawler.stats.inc_value(f"aggregator/store/{outcome.status}")
            logger.debug(
                "Stored %s as article %s (%s)", item.url, outcome.article_id, item.stored_as
            )
            future.set_result(item)

    def _store_batch(self, items: list[PageItem]) -> list[SaveResult | Exception]:
        """Store pages in one transaction; when that fails, each page on its own (writer thread)."""
        try:
            return list(self._store(items))
        except Exception as exc:  # a page that fails to store costs that page, never the crawl
            if len(items) == 1:
                return [exc]
        outcomes: list[SaveResult | Exception] = []
        for item in items:  # one bad page, or a passing failure: each page on its own
            try:
                outcomes.extend(self._store([item]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _store(self, items: list[PageItem]) -> list[SaveResult]:
        assert self.engine is not None
        with session_scope(self.engine) as session:
            return save_articles(session, items, self.keep_raw)

    def _failed(self, item: PageItem, exc: Exception) -> DropItem:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("aggregator/store/errors")
        if isinstance(exc, SQLAlchemyError):
            logger.error("Could not store %s: %s", item.url, exc)
            drop = DropItem(f"{item.url}: database error: {exc.__class__.__name__}")
        else:  # a bug: its traceback helps
            logger.error("Could not store %s", item.url, exc_info=exc)
            drop = DropItem(f"{item.url}: not stored: {exc.__class__.__name__}: {exc}")
        drop.__cause__ = exc
        return drop

    def item_dropped(self, item: Any, response: Any, exception: BaseException) -> None:
        """Remember why a page was not stored, for the crawl run's error list."""
        if isinstance(item, PageItem) and self.run_id is not None:
            self.dropped.append((item.source, item.url, f"dropped: {exception}"))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.writer.shutdown(wait=True)
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
                finish_run(session, self.run_id, _RUN_STATUS.get(reason, reason), stats, errors)
        except SQLAlchemyError as exc:
            logger.error("Could not record crawl run %s: %s", self.run_id, exc)
        finally:
            self.engine.dispose()
            self.engine = None
