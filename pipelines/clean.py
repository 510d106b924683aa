"""Turn a fetched page into a clean, fingerprinted article in a worker process, or drop it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from aggregator.exceptions import RejectedPage
from aggregator.ingest import Extraction, boilerplate_due, extract_page, site_boilerplate
from aggregator.items import PageItem
from aggregator.processes import ProcessPool, default_processes
from aggregator.sources import Source
from aggregator.store.db import open_store, session_scope

logger = logging.getLogger(__name__)


class CleanPipeline:
    """Extract the article body, metadata and fingerprints of each PageItem, off the reactor.

    Extraction is CPU work: it runs in AGGREGATOR_EXTRACT_PROCESSES worker processes (0: in
    this process), while the reactor keeps fetching. The site's learned boilerplate is read
    here, from the store, and sent along with the page.
    """

    # A module-level function, so worker processes can import it
    extract: Callable[[PageItem, frozenset[str], Source | None], Extraction] = staticmethod(
        extract_page
    )

    def __init__(self, crawler: Crawler, db_url: str, processes: int) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.engine: Engine | None = None
        # Per source: its boilerplate keys and how many of its pages came; sources being learned
        self.templates: dict[str, tuple[frozenset[str], int]] = {}
        self.learning: set[str] = set()
        self.pool = ProcessPool(processes)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanPipeline:
        settings = crawler.settings
        processes = settings.getint("AGGREGATOR_EXTRACT_PROCESSES", -1)
        return cls(
            crawler,
            settings.get("AGGREGATOR_DB_URL"),
            default_processes() if processes < 0 else processes,
        )

    def open_spider(self) -> None:
        self.engine = open_store(self.db_url)

    def close_spider(self) -> None:
        self.pool.shutdown()
        if self.engine is not None:
            self.engine.dispose()

    async def _boilerplate(self, source: str) -> frozenset[str]:
        """The source's boilerplate keys, learned again as its pages come (see boilerplate_due).

        Learning reads the source's recent articles and writes to the store: it runs in a
        thread, so the reactor never waits for the store's write lock or the learning itself.
        """
        keys, pages = self.templates.get(source, (frozenset(), 0))
        self.templates[source] = (keys, pages + 1)
        if not boilerplate_due(pages + 1) or self.engine is None or source in self.learning:
            return keys
        self.learning.add(source)  # one learning at a time per source
        try:
            keys = await asyncio.to_thread(self._learn, self.engine, source)
        except SQLAlchemyError as exc:  # learnt again with a later page; this one goes on
            logger.error("Boilerplate of %s not learnt: %s", source, exc)
            return keys
        finally:
            self.learning.discard(source)
        self.templates[source] = (keys, self.templates[source][1])
        return keys

    @staticmethod
    def _learn(engine: Engine, source: str) -> frozenset[str]:
        with session_scope(engine) as session:
            return site_boilerplate(session, source)

    async def process_item(self, item: PageItem) -> PageItem:
        stats = self.crawler.stats
        assert stats is not None
        sources = getattr(self.crawler.spider, "sources", [])
        source = next((s for s in sources if s.name == item.source), None)
        try:
            extraction = await self.pool.run(
                type(self).extract, item, await self._boilerplate(item.source), source
            )
        except RejectedPage as exc:
            stats.inc_value("aggregator/clean/rejected")
            raise DropItem(str(exc)) from exc
        except BrokenProcessPool as exc:
            # It died again, alone in a process of its own (see ProcessPool.run)
            stats.inc_value("aggregator/clean/failed")
            logger.error("Extraction of %s kills its worker process", item.url)
            raise DropItem(f"{item.url}: extraction process died (BrokenProcessPool)") from exc
        except Exception as exc:
            # A bug or a crash of the extractor costs this page, never the crawl
            stats.inc_value("aggregator/clean/failed")
            logger.exception("Extraction of %s failed", item.url)
            raise DropItem(
                f"{item.url}: extraction failed: {exc.__class__.__name__}: {exc}"
            ) from exc
        stats.inc_value("aggregator/clean/articles")
        return extraction.apply(item)
