"""Turn a fetched page into a clean article, or drop it with the reason."""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy import Engine

from aggregator.exceptions import RejectedPage
from aggregator.ingest import clean_page, site_boilerplate
from aggregator.items import PageItem
from aggregator.store.db import open_store, session_scope

logger = logging.getLogger(__name__)

# Re-learn a source's boilerplate after this many of its pages went through
_TEMPLATE_REFRESH = 10


class CleanPipeline:
    """Extract the article body and metadata from each PageItem, without its site's boilerplate."""

    def __init__(self, crawler: Crawler, db_url: str) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.engine: Engine | None = None
        self.templates: dict[str, tuple[frozenset[str], int]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanPipeline:
        return cls(crawler, crawler.settings.get("AGGREGATOR_DB_URL"))

    def open_spider(self) -> None:
        self.engine = open_store(self.db_url)

    def close_spider(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    def _boilerplate(self, source: str) -> frozenset[str]:
        """The source's boilerplate keys, re-read from the store every few pages."""
        keys, age = self.templates.get(source, (frozenset(), _TEMPLATE_REFRESH))
        if age >= _TEMPLATE_REFRESH and self.engine is not None:
            with session_scope(self.engine) as session:
                keys, age = site_boilerplate(session, source), 0
        self.templates[source] = (keys, age + 1)
        return keys

    def process_item(self, item: PageItem) -> PageItem:
        stats = self.crawler.stats
        assert stats is not None
        sources = getattr(self.crawler.spider, "sources", [])
        source = next((s for s in sources if s.name == item.source), None)
        try:
            cleaned = clean_page(item, self._boilerplate(item.source), source)
        except RejectedPage as exc:
            stats.inc_value("aggregator/clean/rejected")
            raise DropItem(str(exc)) from exc
        stats.inc_value("aggregator/clean/articles")
        return cleaned
