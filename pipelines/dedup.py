"""Give each article its canonical URL and content hash; drop a URL seen twice in one run."""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from aggregator.exceptions import RejectedPage
from aggregator.ingest import fingerprint_page
from aggregator.items import PageItem


class DedupPipeline:
    """Canonical URL and exact-text fingerprint; the store links copies to their original."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.seen_urls: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupPipeline:
        return cls(crawler)

    def process_item(self, item: PageItem) -> PageItem:
        stats = self.crawler.stats
        assert stats is not None
        page = item
        if page.content_hash is None:
            # The clean pipeline fingerprints in its worker processes; this is for other callers
            try:
                page = fingerprint_page(item)
            except RejectedPage as exc:
                raise DropItem(str(exc)) from exc
        assert page.canonical_url is not None
        if page.canonical_url in self.seen_urls:
            stats.inc_value("aggregator/dedup/same_url")
            raise DropItem(f"{page.url}: same canonical URL as a page of this run")
        self.seen_urls.add(page.canonical_url)
        return page
