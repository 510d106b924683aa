"""stderr for people: one progress line kept below the log lines, and the crawl's progress.

On a terminal the progress line is redrawn in place and a log line clears it first, then it
is drawn again below; off a terminal (a file, cron, a pipe) it is printed as a line of its
own, and only when it changed. At normal verbosity a log record is one line, without its
traceback (`-v` shows them), and Scrapy's own per-request error lines are left out: the
spider records each failure once and the crawl's summary lists them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from aggregator.humanize import LOG_FORMAT, LOG_TIME_FORMAT

if TYPE_CHECKING:  # Scrapy is imported when a crawl starts, not by every command
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from twisted.internet import task

# Scrapy loggers whose lines repeat, with a traceback, a failure the spider records itself
_REPEATING_LOGGERS = (
    "scrapy.downloadermiddlewares.retry",
    "scrapy.downloadermiddlewares.robotstxt",
)


class Console:
    """A stream shared by log lines and one progress line that stays below them."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.lock = threading.RLock()
        self.shown = ""  # the progress line on the terminal now
        self.last = ""  # the last progress line written off a terminal

    def progress(self, line: str, final: bool = False) -> None:
        """Show a progress line: in place on a terminal, else as a line when it changed."""
        with self.lock:
            if self.tty:
                self.stream.write("\r\033[K" + line + ("\n" if final else ""))
                self.shown = "" if final else line
            elif line != self.last:
                self.stream.write(line + "\n")
            self.last = "" if final else line
            self.stream.flush()

    def write(self, text: str) -> None:
        """Write text (whole lines) above the progress line."""
        with self.lock:
            if self.tty and self.shown:
                self.stream.write("\r\033[K" + text + self.shown)
            else:
                self.stream.write(text)
            self.stream.flush()


_console: Console | None = None


def console() -> Console:
    """The console of the current stderr (it changes under click's CliRunner)."""
    global _console
    if _console is None or _console.stream is not sys.stderr:
        _console = Console(sys.stderr)
    return _console


class ConsoleHandler(logging.Handler):
    """A logging handler that writes above the progress line of the console."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            console().write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


class OneLineFormatter(logging.Formatter):
    """Each record as one line: an exception's message is kept, its traceback is not."""

    def format(self, record: logging.LogRecord) -> str:
        if not (record.exc_info or record.exc_text or record.stack_info):
            return super().format(record)
        short = logging.makeLogRecord(record.__dict__)
        short.exc_info = short.exc_text = short.stack_info = None
        line = super().format(short)
        error = record.exc_info[1] if record.exc_info else None
        detail = str(error).strip().splitlines() if error is not None else []
        if detail and detail[0] not in line:
            line += f" ({type(error).__name__}: {detail[0]})"
        return line


def _not_repeating(record: logging.LogRecord) -> bool:
    """Leave out the lines that repeat a failure the crawl's summary lists."""
    if record.name.startswith(_REPEATING_LOGGERS):
        return False
    # a page not stored ("Dropped: reason" and the whole item): the run records the reason
    return not (record.name == "scrapy.core.scraper" and str(record.msg).startswith("Dropped:"))


def console_handler(verbose: int, timestamps: bool = False) -> logging.Handler:
    """The CLI's log handler: WARNING and one line a record; INFO with -v, DEBUG with -vv.

    With timestamps (the long-running scheduler), each line starts with its time in UTC.
    """
    handler = ConsoleHandler()
    handler.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))
    form = ("%(asctime)s " if timestamps else "") + LOG_FORMAT
    formatter = (OneLineFormatter if not verbose else logging.Formatter)(form, LOG_TIME_FORMAT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    if not verbose:
        handler.addFilter(_not_repeating)
    return handler


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
    """Show the crawl's progress line on stderr every AGGREGATOR_PROGRESS_INTERVAL seconds."""

    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.task: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        interval = crawler.settings.getfloat("AGGREGATOR_PROGRESS_INTERVAL", 0)
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler, interval)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def _print(self, final: bool = False) -> None:
        assert self.crawler.stats is not None
        console().progress(progress_line(self.crawler.stats.get_stats()), final=final)

    def spider_opened(self, spider: Spider) -> None:
        from twisted.internet import task

        self.task = task.LoopingCall(self._print)
        self.task.start(self.interval, now=False)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self._print(final=True)
