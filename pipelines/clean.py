"""Turn a fetched page into a clean article, or drop it with the reason."""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from aggregator.exceptions import RejectedPage
from aggregator.ingest import clean_page
from aggregator.items import PageItem

logger = logging.getLogger(__name__)


class CleanPipeline:
    """Extract the article body and metadata from each PageItem."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CleanPipeline:
        return cls(crawler)

    def process_item(self, item: PageItem) -> PageItem:
        stats = self.crawler.stats
        assert stats is not None
        try:
            cleaned = clean_page(item)
        except RejectedPage as exc:
            stats.inc_value("aggregator/clean/rejected")
            raise DropItem(str(exc)) from exc
        stats.inc_value("aggregator/clean/articles")
        return cleaned
