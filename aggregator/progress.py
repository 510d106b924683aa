"""A Scrapy extension that keeps one progress line on stderr during a crawl."""

from __future__ import annotations

import sys
from typing import TextIO

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task


def progress_line(stats: dict[str, object]) -> str:
    """Render crawl stats as: sources done/total, pages fetched, articles stored, errors."""

    def count(key: str) -> int:
        value = stats.get(key, 0)
        return value if isinstance(value, int) else 0

    stored = count("aggregator/store/inserted") + count("aggregator/store/duplicate")
    updated = count("aggregator/store/updated")
    return (
        f"sources {count('aggregator/sources_done')}/{count('aggregator/sources_total')}"
        f" · pages {count('aggregator/pages_fetched')}"
        f" · stored {stored}"
        + (f" (+{updated} updated)" if updated else "")
        + f" · errors {count('aggregator/errors')}"
    )


class ProgressExtension:
    """Rewrite a progress line on stderr every AGGREGATOR_PROGRESS_INTERVAL seconds."""

    def __init__(self, crawler: Crawler, interval: float, stream: TextIO) -> None:
        self.crawler = crawler
        self.interval = interval
        self.stream = stream
        self.task: task.LoopingCall | None = None
        self.tty = stream.isatty()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        interval = crawler.settings.getfloat("AGGREGATOR_PROGRESS_INTERVAL", 0)
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler, interval, sys.stderr)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def _print(self, final: bool = False) -> None:
        assert self.crawler.stats is not None
        line = progress_line(self.crawler.stats.get_stats())
        if self.tty:
            self.stream.write("\r\033[K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def spider_opened(self, spider: Spider) -> None:
        self.task = task.LoopingCall(self._print)
        self.task.start(self.interval, now=False)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self._print(final=True)
