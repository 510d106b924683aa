"""The `techblogs` spider: finds article URLs in feeds, sitemaps and listings; fetches them."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from twisted.python.failure import Failure

from aggregator.crawling import check_environment
from aggregator.dedup.urls import canonical_url
from aggregator.discovery import (
    EntryLink,
    candidate_feed_urls,
    discover_feed_links,
    is_non_post_sitemap,
    looks_like_feed,
    never_an_article,
    non_html_reason,
    parse_feed,
    parse_listing,
    parse_sitemap,
)
from aggregator.exceptions import RejectedPage, SourcesError
from aggregator.fetching import url_problem
from aggregator.humanize import parse_duration
from aggregator.items import PageItem
from aggregator.sources import (
    Source,
    load_sources,
    select_sources,
    slug_from_url,
)
from aggregator.store import frontier
from aggregator.store.db import open_store, out_of_reach, read_scope, session_scope
from aggregator.store.frontier import Discovered, RetryPolicy
from aggregator.store.validators import save_validator, validators_for

if TYPE_CHECKING:
    from aggregator.worker import TaskChannel

logger = logging.getLogger(__name__)

# A worker asks the frontier for the due URLs of a source whose last check found none only
# when its feeds showed new URLs, or this many seconds later (retries that came due meanwhile,
# URLs left pending by another crawl)
FRONTIER_RECHECK = 600.0
# Failures after which an article URL is never requested again (any other is retried)
_FINAL_OUTCOMES = {
    "http_404": frontier.GONE,
    "http_410": frontier.GONE,
    "robots": frontier.DISALLOWED,
}
# How deep child sitemaps of a sitemap index are followed
_SITEMAP_DEPTH = 3
_MAX_AGE_RE = re.compile(r"(?:^|[,\s])s?-?max-?age\s*=\s*(\d+)", re.I)


@dataclass
class _SourceState:
    """What the spider knows about one crawl of one source (a task, in a worker)."""

    source: Source
    key: int
    # the worker task of this source crawl; None when one run covers the whole crawl
    task_id: int | None = None
    pending: int = 0
    scheduled: int = 0
    items: int = 0
    fetching: bool = False
    done: bool = False
    cancelled: bool = False
    seen: dict[str, bool] = field(default_factory=dict)  # URL key -> found with a date
    discovered: dict[str, Discovered] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str | None, str, str]] = field(default_factory=list)
    on_done: Callable[[_SourceState, str], None] | None = None


def _headers(response: Response) -> dict[str, str]:
    return {
        key.decode("latin-1").lower(): b", ".join(values).decode("latin-1")
        for key, values in response.headers.items()
    }


def _failure_reason(failure: Failure) -> tuple[str, str]:
    """A stats key and a readable reason for a failed request."""
    if isinstance(failure.value, HttpError):
        status = failure.value.response.status
        return f"http_{status}", f"HTTP {status}"
    if failure.check(DownloadTimeoutError):
        return "timeout", "timed out"
    if failure.check(CannotResolveHostError):
        return "dns", "host name not found"
    if failure.check(DownloadConnectionRefusedError):
        return "refused", "connection refused"
    if failure.check(DownloadCancelledError):
        return "too_large", f"download cancelled: {failure.value}"
    message = str(failure.value) or failure.type.__name__  # type: ignore[union-attr]
    if failure.check(IgnoreRequest) and "robots.txt" in message:
        return "robots", "forbidden by robots.txt"
    return failure.type.__name__.lower(), message  # type: ignore[union-attr]


def _db_reason(exc: SQLAlchemyError) -> str:
    """A one-line reason for a database error."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"database error: {detail[0] if detail else exc.__class__.__name__}"


def _max_age(cache_control: bytes | None) -> float:
    """Seconds of a Cache-Control max-age (or s-maxage), 0 without one."""
    match = _MAX_AGE_RE.search((cache_control or b"").decode("latin-1"))
    return float(match[1]) if match else 0.0


def _retry_after(value: bytes | None) -> float:
    """Seconds of a Retry-After header, in seconds or as an HTTP date; 0 without one."""
    text = (value or b"").decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    if not text:
        return 0.0
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


class TechBlogsSpider(scrapy.Spider):
    """Crawl the selected sources (-a source=a,b) or one page (-a url=URL) into PageItems.

    Discovery (feeds, sitemaps, listings) adds article URLs to the frontier; once a source's
    discovery is over, its due frontier URLs are fetched, newest first, up to the limit.
    In a worker (aggregator.worker) the spider stays open and crawls the sources it is given,
    each as its own crawl run with its own time limit.
    """

    name = "techblogs"

    def __init__(
        self,
        source: str | None = None,
        limit: str | int | None = None,
        url: str | None = None,
        refresh: str | bool | None = None,
        tasks: TaskChannel | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_names = [name.strip() for name in (source or "").split(",") if name.strip()]
        self.limit_arg = limit
        self.single_url = url
        self.refresh = str(refresh).lower() in {"1", "true", "yes"} if refresh else False
        self.tasks = tasks
        self.sources: list[Source] = []
        # crawls of sources under way (by task key); the current one of each source by name
        self.states: dict[int, _SourceState] = {}
        self.current: dict[str, _SourceState] = {}
        self.crawl_errors: list[tuple[str | None, str, str]] = []
        self.limit = 0
        self.listing_depth = 0
        self.retry = RetryPolicy()
        self.engine: Engine | None = None
        # sources whose frontier had nothing due, and since when (time.monotonic())
        self.frontier_quiet: dict[str, float] = {}
        # ETag / Last-Modified of feeds and sitemaps from earlier crawls, by URL
        self.validators: dict[str, tuple[str | None, str | None]] = {}
        self._keys = itertools.count()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> TechBlogsSpider:
        spider: TechBlogsSpider = super().from_crawler(crawler, *args, **kwargs)
        spider._configure(crawler)
        crawler.signals.connect(spider._item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(spider._item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(spider._item_error, signal=signals.item_error)
        return spider

    def _configure(self, crawler: Crawler) -> None:
        """Load and validate the sources before any request; a bad file stops the crawl here."""
        check_environment()
        settings = crawler.settings
        limit = self.limit_arg or settings.getint("AGGREGATOR_ARTICLE_LIMIT")
        if not str(limit).isdigit() or int(limit) < 1:
            raise ValueError(f"-a limit must be a positive whole number, not {limit!r}")
        self.limit = int(limit)
        self.listing_depth = settings.getint("AGGREGATOR_LISTING_DEPTH")
        self.retry = RetryPolicy(
            attempts=settings.getint("AGGREGATOR_RETRY_ATTEMPTS"),
            backoff=parse_duration(settings.get("AGGREGATOR_RETRY_BACKOFF")).total_seconds(),
        )
        if self.tasks is not None:
            pass  # sources arrive one task at a time
        elif self.single_url:
            if problem := url_problem(self.single_url):
                raise ValueError(f"-a url={self.single_url!r}: {problem}")
            self.sources = [self._source_for_url(settings.get("AGGREGATOR_SOURCES"))]
            self.refresh = True
        else:
            all_sources = load_sources(settings.get("AGGREGATOR_SOURCES"))
            self.sources = select_sources(all_sources, self.source_names)
        for source in self.sources:
            self._new_state(source)
        self.engine = open_store(settings.get("AGGREGATOR_DB_URL"))

    def _new_state(self, source: Source, task_id: int | None = None) -> _SourceState:
        state = _SourceState(source, next(self._keys), task_id)
        self.states[state.key] = state
        self.current[source.name] = state
        return state

    def _source_for_url(self, sources_path: str) -> Source:
        """The configured source a single URL belongs to, or an ad-hoc one named after its host."""
        parts = urlsplit(self.single_url or "")
        try:
            sources = load_sources(sources_path)
        except SourcesError:  # no (valid) sources file is fine for one URL
            sources = []
        wanted = set(self.source_names)
        for source in sources:
            if source.name in wanted or (
                not wanted and urlsplit(source.url).netloc == parts.netloc
            ):
                return source
        # named as `sources add` names the same site
        name = self.source_names[0] if self.source_names else slug_from_url(self.single_url or "")
        return Source(name=name, url=f"{parts.scheme}://{parts.netloc}/")

    def closed(self, reason: str) -> None:
        # a worker stopped mid-crawl: its unfinished source crawls end as interrupted
        for state in list(self.states.values()):
            if state.task_id is not None and not state.done:
                self._maybe_done(state, "interrupted")
        if self.engine is not None:
            self.engine.dispose()

    # -- counting ---------------------------------------------------------------------------

    def _inc(self, state: _SourceState | None, key: str, count: int = 1) -> None:
        """Count in the crawl's stats and in the source's own (its crawl run, in a worker)."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, count)
        if state is not None:
            state.stats[key] += count

    def _max(self, state: _SourceState, key: str, value: int) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.max_value(key, value)
        state.stats[key] = max(state.stats[key], value)

    # -- requests and bookkeeping -------------------------------------------------------

    def _request(
        self, state: _SourceState, url: str, callback: Callable[..., Any], **meta: Any
    ) -> scrapy.Request:
        state.pending += 1
        return scrapy.Request(
            url,
            callback=callback,
            errback=self._on_error,
            dont_filter=True,
            meta={"source": state.source.name, "task": state.key, **meta},
        )

    def _discovery_request(
        self, state: _SourceState, url: str, callback: Callable[..., Any], **meta: Any
    ) -> scrapy.Request:
        """A feed, sitemap or listing request; feeds and sitemaps are conditional GETs."""
        request = self._request(state, url, callback, discovery=True, **meta)
        if callback in (self.parse_feed, self.parse_sitemap) and not self.refresh:
            etag, last_modified = self._validators(url)
            if etag:
                request.headers["If-None-Match"] = etag
            if last_modified:
                request.headers["If-Modified-Since"] = last_modified
            request.meta["handle_httpstatus_list"] = [304]
        return request

    def _validators(self, url: str) -> tuple[str | None, str | None]:
        """The stored validators of a URL; the configured feeds' were read in one query."""
        if url not in self.validators and self.engine is not None:
            self._load_validators([url])
        return self.validators.get(url, (None, None))

    def _load_validators(self, urls: list[str]) -> None:
        assert self.engine is not None
        with read_scope(self.engine) as session:
            found = validators_for(session, urls)
        # URLs without validators are remembered too, so they are not looked up again
        self.validators.update({url: found.get(url, (None, None)) for url in urls})

    def _not_modified(self, state: _SourceState, response: Response) -> bool:
        """Count a discovery response; say whether it is a 304."""
        self._inc(state, "aggregator/discovery/ok")
        self._note_asked_wait(state, response.headers.get("Cache-Control"), None)
        if response.status == 304:
            self._inc(state, "aggregator/not_modified")
            logger.debug("%s: not modified", response.url)
            return True
        return False

    async def _remember_validators(self, response: Response) -> None:
        """Keep a feed's or sitemap's validators, once what it listed is in the frontier.

        Kept only then: a 304 next time must not hide URLs that never reached the frontier.
        """
        if response.meta.get("handle_httpstatus_list") and self.engine is not None:
            # kept under the URL that is requested next time, before any redirect
            url = (response.meta.get("redirect_urls") or [response.url])[0]
            etag = response.headers.get("ETag")
            last_modified = response.headers.get("Last-Modified")
            validators = (
                etag.decode("latin-1") if etag else None,
                last_modified.decode("latin-1") if last_modified else None,
            )
            if self.validators.get(url) != validators:
                await asyncio.to_thread(self._save_validators, self.engine, url, validators)
                self.validators[url] = validators

    @staticmethod
    def _save_validators(
        engine: Engine, url: str, validators: tuple[str | None, str | None]
    ) -> None:
        with session_scope(engine) as session:
            save_validator(session, url, *validators)

    def _note_asked_wait(
        self, state: _SourceState, cache_control: bytes | None, retry_after: bytes | None
    ) -> None:
        """Keep the longest wait a source asked for (max-age, Retry-After, feed TTL)."""
        self._ask_wait(state, max(_max_age(cache_control), _retry_after(retry_after)))

    def _ask_wait(self, state: _SourceState, seconds: float) -> None:
        if seconds > 0:
            self._max(state, "aggregator/asked_wait_seconds", int(seconds))

    def _state(self, response_or_failure: Response | Failure) -> _SourceState:
        if isinstance(response_or_failure, Failure):
            meta = response_or_failure.request.meta  # type: ignore[attr-defined]
        else:
            meta = response_or_failure.meta
        return self.states[meta["task"]]

    def _finish(self, state: _SourceState) -> None:
        """Count one request of the source as answered.

        When its discovery is over, its due frontier URLs are fetched; when those are answered
        too and their items stored, the source is done.
        """
        state.pending -= 1
        if state.pending > 0:
            return
        if state.cancelled:
            self._forget(state)
            return
        if not state.fetching:
            state.fetching = True
            assert self.crawler.engine is not None
            try:
                requests = list(self._article_requests(state))
            except SQLAlchemyError as exc:  # the next crawl fetches what is due then
                self._record_error(state, state.source.url, "database", _db_reason(exc))
                requests = []
            for request in requests:
                self.crawler.engine.crawl(request)
        self._maybe_done(state)

    def _stopping(self) -> bool:
        """Whether the crawl is being shut down (SIGTERM): what fails now was only cut short."""
        engine = self.crawler.engine
        return engine is not None and not engine.running

    def _maybe_done(self, state: _SourceState, status: str = "finished") -> None:
        if state.done or (status == "finished" and (state.pending or state.items)):
            return
        if status == "finished" and self._stopping():
            status = "interrupted"
        state.done = True
        self._inc(state, "aggregator/sources_done")
        if state.task_id is None:  # one run for several sources: what each of them added
            assert self.crawler.stats is not None
            added = state.stats["aggregator/store/inserted"]
            self.crawler.stats.set_value(f"aggregator/sources/{state.source.name}/inserted", added)
        logger.info("Source %s %s: %d article pages", state.source.name, status, state.scheduled)
        if state.task_id is not None and self.current.get(state.source.name) is state:
            del self.current[state.source.name]
        self._forget(state)
        if state.on_done is not None:
            state.on_done(state, status)

    def _forget(self, state: _SourceState) -> None:
        """Drop a worker's finished source crawl once none of its requests is left."""
        if state.done and not state.pending and state.task_id is not None:
            self.states.pop(state.key, None)

    def _record_error(self, state: _SourceState | None, url: str, key: str, reason: str) -> None:
        self._inc(state, "aggregator/errors")
        self._inc(state, f"aggregator/errors/{key}")
        error = (state.source.name if state else None, url, reason)
        if state is not None and state.task_id is not None:
            state.errors.append(error)
        else:
            self.crawl_errors.append(error)
        # INFO: the crawl run records it, and `aggregator crawl` lists it once at its end
        logger.info("%s: %s", url, reason)

    def _frontier_failure(self, state: _SourceState, url: str, outcome: str, reason: str) -> None:
        """Record in the frontier how fetching an article URL failed."""
        if self.engine is None:
            return
        try:
            with session_scope(self.engine) as session:
                frontier.record_failure(
                    session, state.source.name, url, outcome, reason, self.retry
                )
        except SQLAlchemyError as exc:  # the URL stays due: it is fetched again next time
            logger.error("%s: frontier not updated: %s", url, _db_reason(exc))

    def _on_error(self, failure: Failure) -> Iterator[scrapy.Request]:
        request = failure.request  # type: ignore[attr-defined]
        state = self._state(failure)
        if state.cancelled or self._stopping():
            self._finish(state)
            return
        key, reason = _failure_reason(failure)
        if isinstance(failure.value, HttpError):
            self._note_asked_wait(state, None, failure.value.response.headers.get("Retry-After"))
        if request.meta.get("discovery") and not request.meta.get("candidate"):
            self._inc(state, "aggregator/discovery/failed")
        try:
            if request.meta.get("candidate"):
                # Probing the usual feed paths: a 404 there is expected, not a crawl error
                logger.debug("%s: no feed at %s (%s)", state.source.name, request.url, reason)
            else:
                self._record_error(state, request.url, key, reason)
            if request.meta.get("article"):
                outcome = _FINAL_OUTCOMES.get(key, frontier.FAILED)
                self._frontier_failure(state, request.url, outcome, reason)
            fallback = request.meta.get("on_failure")
            if fallback is not None:
                yield from fallback(state)
        finally:
            self._finish(state)

    # -- items ------------------------------------------------------------------------------

    def _item_state(self, item: Any) -> _SourceState | None:
        if not isinstance(item, PageItem):
            return None
        return self.current.get(item.source)

    def _item_done(self, state: _SourceState | None) -> None:
        if state is not None and state.items > 0:
            state.items -= 1
            if not state.pending and state.fetching:
                self._maybe_done(state)

    def _item_scraped(self, item: Any, response: Any, spider: Any) -> None:
        state = self._item_state(item)
        if state is not None and getattr(item, "stored_as", None):
            state.stats[f"aggregator/store/{item.stored_as}"] += 1
        self._item_done(state)

    def _item_dropped(self, item: Any, response: Any, exception: BaseException) -> None:
        """A page not stored: no article in it is final; the store out of reach leaves it due
        as it was; anything else (an extractor crash, say) is tried again later."""
        state = self._item_state(item)
        if state is not None and isinstance(item, PageItem):
            url = item.requested_url or item.url
            if out_of_reach(exception):
                logger.info("%s: stays due (the store was out of reach)", url)
            elif item.article is None and isinstance(exception.__cause__, RejectedPage):
                self._frontier_failure(state, url, frontier.NOT_ARTICLE, str(exception))
            else:
                self._frontier_failure(state, url, frontier.FAILED, str(exception))
            if state.task_id is not None:  # else the store pipeline records the drops
                state.errors.append((item.source, item.url, f"dropped: {exception}"))
        self._item_done(state)

    def _item_error(self, item: Any, response: Any, spider: Any, failure: Failure) -> None:
        state = self._item_state(item)
        if state is not None and isinstance(item, PageItem) and not out_of_reach(failure.value):
            reason = f"pipeline error: {failure.value}"
            self._frontier_failure(state, item.requested_url or item.url, frontier.FAILED, reason)
        self._item_done(state)

    # -- discovery ----------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("aggregator/sources_total", len(self.sources))
        if self.tasks is not None:
            async for request in self._worker_requests(self.tasks):
                yield request
            return
        if self.single_url:
            state = next(iter(self.states.values()))
            state.seen[canonical_url(self.single_url)] = True
            state.scheduled += 1
            state.fetching = True
            yield self._request(
                state, self.single_url, self.parse_article, entry=None, article=True
            )
            return
        if self.engine is not None and not self.refresh:
            self._load_validators([url for s in self.sources for url in (*s.feeds, *s.sitemaps)])
        for state in list(self.states.values()):
            # counted before the first is sent, so the source is not over after its first answer
            for request in list(self._discovery_requests(state)):
                yield request

    async def _worker_requests(self, tasks: TaskChannel) -> AsyncIterator[scrapy.Request]:
        """Crawl the sources a worker is given until its channel closes."""
        loop = asyncio.get_running_loop()
        while True:
            task = await tasks.get()
            if task is None:
                return
            if task.source.name in self.current:
                tasks.report(task, "skipped", "this source is still being crawled")
                continue
            self.sources = [s for s in self.sources if s.name != task.source.name]
            self.sources.append(task.source)
            state = self._new_state(task.source, task.task_id)
            # which worker did what: in the run's stats, for `aggregator status` and the logs
            state.stats["aggregator/worker_pid"] = os.getpid()
            state.on_done = lambda state, status, task=task: tasks.report(
                task, status, "", dict(state.stats), state.errors
            )
            # validators stay known between checks: this worker saved any that changed
            urls = (*task.source.feeds, *task.source.sitemaps)
            if unknown := [url for url in urls if url not in self.validators]:
                try:
                    self._load_validators(unknown)
                except SQLAlchemyError as exc:  # then fetched in full, and kept afresh
                    logger.error("%s: %s", task.source.name, _db_reason(exc))
                    self.validators.update(dict.fromkeys(unknown, (None, None)))
            requests = list(self._discovery_requests(state))
            loop.call_later(task.time_limit, self._time_up, state)
            for request in requests:
                yield request

    def _time_up(self, state: _SourceState) -> None:
        """Stop a source crawl at its time limit: its requests still queued are dropped."""
        if state.done:
            return
        logger.warning("crawl of %s overran its time limit: stopped", state.source.name)
        state.cancelled = True
        self._maybe_done(state, "timeout")

    def is_cancelled(self, request: scrapy.Request) -> bool:
        """Whether a request belongs to a source crawl stopped at its time limit."""
        state = self.states.get(request.meta.get("task", -1))
        return state is None or state.cancelled

    def _discovery_requests(self, state: _SourceState) -> Iterator[scrapy.Request]:
        source = state.source
        for feed in source.feeds:
            yield self._discovery_request(state, feed, self.parse_feed)
        for sitemap in source.sitemaps:
            yield self._discovery_request(state, sitemap, self.parse_sitemap, depth=0)
        for listing in source.listings:
            yield self._discovery_request(state, listing, self.parse_listing, depth=0)
        if not source.feeds:
            yield self._discovery_request(state, source.url, self.parse_home)

    def parse_home(self, response: Response) -> Iterator[scrapy.Request]:
        """Find the feeds of a source that lists none: <link rel=alternate>, then usual paths."""
        state = self._state(response)
        try:
            if state.cancelled:
                return
            self._not_modified(state, response)
            links = discover_feed_links(response.body, response.url)
            if links:
                logger.info("%s: discovered feeds %s", state.source.name, ", ".join(links))
                for link in links:
                    yield self._discovery_request(state, link, self.parse_feed)
            else:
                yield from self._try_feed_candidates(state, candidate_feed_urls(state.source.url))
        finally:
            self._finish(state)

    def _try_feed_candidates(
        self, state: _SourceState, candidates: list[str]
    ) -> Iterator[scrapy.Request]:
        """Try the usual feed paths one after the other; without any, read the home page."""
        if not candidates:
            if not state.source.listings and not state.source.sitemaps:
                logger.info("%s: no feed found, reading the home page", state.source.name)
                yield self._discovery_request(state, state.source.url, self.parse_listing, depth=0)
            return
        first, rest = candidates[0], candidates[1:]

        def next_candidate(state: _SourceState) -> Iterator[scrapy.Request]:
            return self._try_feed_candidates(state, rest)

        yield self._discovery_request(
            state, first, self.parse_feed, candidate=True, on_failure=next_candidate
        )

    # Discovery callbacks are coroutines: what they write to the store is written in a thread,
    # so the reactor never waits for the store's write lock (held by the store pipeline)
    async def parse_feed(self, response: Response) -> AsyncIterator[scrapy.Request]:
        state = self._state(response)
        try:
            if state.cancelled:
                return
            content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
            if response.meta.get("candidate") and not looks_like_feed(response.body, content_type):
                for request in response.meta["on_failure"](state):
                    yield request
                return
            if self._not_modified(state, response):
                return
            self._inc(state, "aggregator/feeds_parsed")
            result = parse_feed(response.body, response.url, content_type)
            if result.ttl:
                self._ask_wait(state, result.ttl.total_seconds())
            if result.error:
                self._record_error(
                    state, response.url, "bad_feed", f"malformed feed: {result.error}"
                )
            logger.info(
                "%s: feed %s lists %d entries", state.source.name, response.url, len(result.entries)
            )
            await self._discovered(state, result.entries, "feed")
            await self._remember_validators(response)
        finally:
            self._finish(state)

    async def parse_sitemap(self, response: Response) -> AsyncIterator[scrapy.Request]:
        state = self._state(response)
        try:
            if state.cancelled or self._not_modified(state, response):
                return
            result = parse_sitemap(response.body, response.url)
            if result.error:
                self._record_error(
                    state, response.url, "bad_sitemap", f"malformed sitemap: {result.error}"
                )
            depth = response.meta.get("depth", 0)
            # sitemaps of tags, categories, authors, pages or products list no posts, and
            # neither do the URLs of such pages in a sitemap of posts
            children = [c for c in result.sitemaps if not is_non_post_sitemap(c.url)]
            urls = [u for u in result.urls if not never_an_article(u.url)]
            for key, skipped in (
                ("sitemaps", len(result.sitemaps) - len(children)),
                ("urls", len(result.urls) - len(urls)),
            ):
                if skipped:
                    self._inc(state, f"aggregator/discovery/skipped_{key}", skipped)
            if depth < _SITEMAP_DEPTH:
                for child in children:
                    yield self._request(state, child.url, self.parse_sitemap, depth=depth + 1)
            await self._discovered(state, [EntryLink(url=u.url) for u in urls], "sitemap")
            await self._remember_validators(response)
        finally:
            self._finish(state)

    async def parse_listing(self, response: Response) -> AsyncIterator[scrapy.Request]:
        state = self._state(response)
        try:
            if state.cancelled:
                return
            if response.meta.get("discovery"):
                self._not_modified(state, response)
            result = parse_listing(response.body, response.url, state.source.url)
            new = await self._discovered(
                state, [EntryLink(url=u) for u in result.article_urls], "listing"
            )
            depth = response.meta.get("depth", 0)
            # older pages are worth reading only while this one still showed new posts
            if depth < self.listing_depth and (new or self.refresh):
                for page in result.next_pages[:1]:
                    yield self._request(state, page, self.parse_listing, depth=depth + 1)
        finally:
            self._finish(state)

    async def _discovered(self, state: _SourceState, entries: Iterable[EntryLink], via: str) -> int:
        """Add the article URLs found to the frontier; return how many it did not hold yet."""
        links: list[Discovered] = []
        for entry in entries:
            key = canonical_url(entry.url)
            dated = entry.published is not None
            # a URL a sitemap listed undated comes again from the feed for its date
            if key in state.seen and (state.seen[key] or not dated):
                continue
            state.seen[key] = dated
            link = Discovered(entry.url, via, entry.title, tuple(entry.authors), entry.published)
            links.append(link)
            if self.refresh:  # fetched whatever their state (see _article_requests)
                state.discovered[key] = link
        if not links:
            return 0
        if self.engine is None:
            return len(links)
        added = await asyncio.to_thread(self._add_discovered, self.engine, state.source.name, links)
        self._inc(state, "aggregator/frontier/added", added)
        self._inc(state, "aggregator/known_skipped", len(links) - added)
        return added

    @staticmethod
    def _add_discovered(engine: Engine, source: str, links: list[Discovered]) -> int:
        with session_scope(engine) as session:
            return frontier.add_discovered(session, source, links)

    def _article_requests(self, state: _SourceState) -> Iterator[scrapy.Request]:
        """Requests for the source's due frontier URLs, newest first, within the limit.

        With refresh, the URLs discovered in this crawl are fetched whatever their state.
        """
        name = state.source.name
        quiet_since = self.frontier_quiet.get(name)
        if self.refresh:
            links = list(state.discovered.values())[: self.limit]
        elif (
            quiet_since is not None
            and not state.stats["aggregator/frontier/added"]
            and time.monotonic() - quiet_since < FRONTIER_RECHECK
        ):
            links = []  # a worker's check of a source whose feeds showed nothing new
        else:
            assert self.engine is not None
            with read_scope(self.engine) as session:
                links = frontier.due(session, name, self.limit)
            if links:
                self.frontier_quiet.pop(name, None)
            else:
                self.frontier_quiet[name] = time.monotonic()
        for link in links:
            state.scheduled += 1
            entry = EntryLink(
                url=link.url, title=link.title, published=link.published, authors=link.authors
            )
            yield self._request(state, link.url, self.parse_article, entry=entry, article=True)

    # -- article pages ------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[PageItem]:
        state = self._state(response)
        try:
            if state.cancelled:
                return
            self._inc(state, "aggregator/pages_fetched")
            headers = _headers(response)
            redirects = response.meta.get("redirect_urls") or []
            requested = redirects[0] if redirects else response.request.url  # type: ignore[union-attr]
            skip = non_html_reason(headers.get("content-type"), response.body)
            if skip:
                self._record_error(state, response.url, "non_html", f"skipped: {skip}")
                self._frontier_failure(state, requested, frontier.NOT_ARTICLE, f"skipped: {skip}")
                return
            entry: EntryLink | None = response.meta.get("entry")
            state.items += 1
            yield PageItem(
                url=response.url,
                source=state.source.name,
                body=response.body,
                headers=headers,
                status=response.status,
                requested_url=requested,
                feed_title=entry.title if entry else None,
                feed_published=entry.published if entry else None,
                feed_authors=list(entry.authors) if entry else [],
                feed_summary=entry.summary if entry else None,
            )
        finally:
            self._finish(state)
