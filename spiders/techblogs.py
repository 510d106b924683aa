"""The `techblogs` spider: finds article URLs in feeds, sitemaps and listings; fetches them."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
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
from twisted.python.failure import Failure

from aggregator.dedup.urls import canonical_url
from aggregator.discovery import (
    EntryLink,
    non_html_reason,
    parse_feed,
    parse_listing,
    parse_sitemap,
)
from aggregator.exceptions import SourcesError
from aggregator.items import PageItem
from aggregator.sources import (
    Source,
    candidate_feed_urls,
    discover_feed_links,
    load_sources,
    looks_like_feed,
    select_sources,
)
from aggregator.store import queries
from aggregator.store.db import open_store, session_scope

logger = logging.getLogger(__name__)

# How deep child sitemaps of a sitemap index are followed
_SITEMAP_DEPTH = 3
_MAX_AGE_RE = re.compile(r"(?:^|[,\s])s?-?max-?age\s*=\s*(\d+)", re.I)


@dataclass
class _SourceState:
    """What the spider knows about one source during a crawl."""

    source: Source
    pending: int = 0
    scheduled: int = 0
    done: bool = False
    seen: set[str] = field(default_factory=set)


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
    """Crawl the selected sources (-a source=a,b) or one page (-a url=URL) into PageItems."""

    name = "techblogs"

    def __init__(
        self,
        source: str | None = None,
        limit: str | int | None = None,
        url: str | None = None,
        refresh: str | bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_names = [name.strip() for name in (source or "").split(",") if name.strip()]
        self.limit_arg = limit
        self.single_url = url
        self.refresh = str(refresh).lower() in {"1", "true", "yes"} if refresh else False
        self.sources: list[Source] = []
        self.states: dict[str, _SourceState] = {}
        self.crawl_errors: list[tuple[str | None, str, str]] = []
        self.limit = 50
        self.listing_depth = 3
        self.engine: Engine | None = None
        # ETag / Last-Modified of feeds and sitemaps from earlier crawls, by URL
        self.validators: dict[str, tuple[str | None, str | None]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> TechBlogsSpider:
        spider: TechBlogsSpider = super().from_crawler(crawler, *args, **kwargs)
        spider._configure(crawler)
        return spider

    def _configure(self, crawler: Crawler) -> None:
        """Load and validate the sources before any request; a bad file stops the crawl here."""
        settings = crawler.settings
        limit = self.limit_arg or settings.getint("AGGREGATOR_ARTICLE_LIMIT", 50)
        if not str(limit).isdigit() or int(limit) < 1:
            raise ValueError(f"-a limit must be a positive whole number, not {limit!r}")
        self.limit = int(limit)
        self.listing_depth = settings.getint("AGGREGATOR_LISTING_DEPTH", 3)
        if self.single_url:
            self.sources = [self._source_for_url(settings.get("AGGREGATOR_SOURCES"))]
            self.refresh = True
        else:
            all_sources = load_sources(settings.get("AGGREGATOR_SOURCES"))
            self.sources = select_sources(all_sources, self.source_names)
        self.states = {source.name: _SourceState(source) for source in self.sources}
        self.engine = open_store(settings.get("AGGREGATOR_DB_URL"))

    def _source_for_url(self, sources_path: str) -> Source:
        """The configured source a single URL belongs to, or an ad-hoc one named after its host."""
        parts = urlsplit(self.single_url or "")
        host = parts.hostname or ""
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
        name = self.source_names[0] if self.source_names else host.removeprefix("www.")
        return Source(name=name or "adhoc", url=f"{parts.scheme}://{parts.netloc}/")

    def closed(self, reason: str) -> None:
        if self.engine is not None:
            self.engine.dispose()

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
            meta={"source": state.source.name, **meta},
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
        with session_scope(self.engine) as session:
            found = queries.validators_for(session, urls)
        # URLs without validators are remembered too, so they are not looked up again
        self.validators.update({url: found.get(url, (None, None)) for url in urls})

    def _not_modified(self, response: Response) -> bool:
        """Count a 304 and say so; otherwise remember the response's validators."""
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("aggregator/discovery/ok")
        self._note_asked_wait(response.headers.get("Cache-Control"), None)
        if response.status == 304:
            stats.inc_value("aggregator/not_modified")
            logger.info("%s: not modified", response.url)
            return True
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
                with session_scope(self.engine) as session:
                    queries.save_validator(session, url, *validators)
                self.validators[url] = validators
        return False

    def _note_asked_wait(self, cache_control: bytes | None, retry_after: bytes | None) -> None:
        """Keep the longest wait a source asked for (max-age, Retry-After, feed TTL)."""
        seconds = max(_max_age(cache_control), _retry_after(retry_after))
        self._ask_wait(seconds)

    def _ask_wait(self, seconds: float) -> None:
        stats = self.crawler.stats
        assert stats is not None
        if seconds > 0:
            stats.max_value("aggregator/asked_wait_seconds", int(seconds))

    def _state(self, response_or_failure: Response | Failure) -> _SourceState:
        if isinstance(response_or_failure, Failure):
            meta = response_or_failure.request.meta  # type: ignore[attr-defined]
        else:
            meta = response_or_failure.meta
        return self.states[meta["source"]]

    def _finish(self, state: _SourceState) -> None:
        """Count one request of the source as answered; the source is done when none is left."""
        state.pending -= 1
        if state.pending == 0 and not state.done:
            state.done = True
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("aggregator/sources_done")
            logger.info("Source %s done: %d article pages", state.source.name, state.scheduled)

    def _record_error(self, state: _SourceState | None, url: str, key: str, reason: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("aggregator/errors")
        self.crawler.stats.inc_value(f"aggregator/errors/{key}")
        self.crawl_errors.append((state.source.name if state else None, url, reason))
        logger.warning("%s: %s", url, reason)

    def _on_error(self, failure: Failure) -> Iterator[scrapy.Request]:
        request = failure.request  # type: ignore[attr-defined]
        state = self._state(failure)
        key, reason = _failure_reason(failure)
        if isinstance(failure.value, HttpError):
            self._note_asked_wait(None, failure.value.response.headers.get("Retry-After"))
        if request.meta.get("discovery") and not request.meta.get("candidate"):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("aggregator/discovery/failed")
        try:
            if request.meta.get("candidate"):
                # Probing the usual feed paths: a 404 there is expected, not a crawl error
                logger.debug("%s: no feed at %s (%s)", state.source.name, request.url, reason)
            else:
                self._record_error(state, request.url, key, reason)
            fallback = request.meta.get("on_failure")
            if fallback is not None:
                yield from fallback(state)
        finally:
            self._finish(state)

    # -- discovery ----------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("aggregator/sources_total", len(self.sources))
        if self.single_url:
            state = self.states[self.sources[0].name]
            state.seen.add(canonical_url(self.single_url))
            state.scheduled += 1
            yield self._request(state, self.single_url, self.parse_article, entry=None)
            return
        if self.engine is not None and not self.refresh:
            self._load_validators([url for s in self.sources for url in (*s.feeds, *s.sitemaps)])
        for state in self.states.values():
            for request in self._discovery_requests(state):
                yield request

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
            self._not_modified(response)
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

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        state = self._state(response)
        try:
            content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
            if response.meta.get("candidate") and not looks_like_feed(response.body, content_type):
                yield from response.meta["on_failure"](state)
                return
            if self._not_modified(response):
                return
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("aggregator/feeds_parsed")
            result = parse_feed(response.body, response.url, content_type)
            if result.ttl:
                self._ask_wait(result.ttl.total_seconds())
            if result.error:
                self._record_error(
                    state, response.url, "bad_feed", f"malformed feed: {result.error}"
                )
            logger.info(
                "%s: feed %s lists %d entries", state.source.name, response.url, len(result.entries)
            )
            yield from self._article_requests(state, result.entries)
        finally:
            self._finish(state)

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        state = self._state(response)
        try:
            if self._not_modified(response):
                return
            result = parse_sitemap(response.body, response.url)
            if result.error:
                self._record_error(
                    state, response.url, "bad_sitemap", f"malformed sitemap: {result.error}"
                )
            depth = response.meta.get("depth", 0)
            if depth < _SITEMAP_DEPTH:
                for child in result.sitemaps:
                    yield self._request(state, child.url, self.parse_sitemap, depth=depth + 1)
            yield from self._article_requests(state, [EntryLink(url=u.url) for u in result.urls])
        finally:
            self._finish(state)

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        state = self._state(response)
        try:
            if response.meta.get("discovery"):
                self._not_modified(response)
            result = parse_listing(response.body, response.url, state.source.url)
            yield from self._article_requests(
                state, [EntryLink(url=u) for u in result.article_urls]
            )
            depth = response.meta.get("depth", 0)
            if depth < self.listing_depth and state.scheduled < self.limit:
                for page in result.next_pages[:1]:
                    yield self._request(state, page, self.parse_listing, depth=depth + 1)
        finally:
            self._finish(state)

    def _article_requests(
        self, state: _SourceState, entries: Iterable[EntryLink]
    ) -> Iterator[scrapy.Request]:
        """Requests for new article URLs: not seen in this run, not stored yet, within the limit."""
        fresh: list[tuple[str, EntryLink]] = []
        for entry in entries:
            key = canonical_url(entry.url)
            if key not in state.seen:
                state.seen.add(key)
                fresh.append((key, entry))
        if not fresh:
            return
        if not self.refresh and self.engine is not None:
            with session_scope(self.engine) as session:
                stored = queries.known_urls(
                    session, [k for k, _ in fresh] + [e.url for _, e in fresh]
                )
            before = len(fresh)
            fresh = [(k, e) for k, e in fresh if k not in stored and e.url not in stored]
            if before > len(fresh):
                assert self.crawler.stats is not None
                self.crawler.stats.inc_value("aggregator/known_skipped", before - len(fresh))
        for _, entry in fresh:
            if state.scheduled >= self.limit:
                return
            state.scheduled += 1
            yield self._request(state, entry.url, self.parse_article, entry=entry)

    # -- article pages ------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[PageItem]:
        state = self._state(response)
        try:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("aggregator/pages_fetched")
            headers = _headers(response)
            skip = non_html_reason(headers.get("content-type"), response.body)
            if skip:
                self._record_error(state, response.url, "non_html", f"skipped: {skip}")
                return
            entry: EntryLink | None = response.meta.get("entry")
            redirects = response.meta.get("redirect_urls") or []
            yield PageItem(
                url=response.url,
                source=state.source.name,
                body=response.body,
                headers=headers,
                status=response.status,
                requested_url=redirects[0]
                if redirects
                else response.request.url
                if response.request
                else response.url,
                feed_title=entry.title if entry else None,
                feed_published=entry.published if entry else None,
                feed_authors=list(entry.authors) if entry else [],
                feed_summary=entry.summary if entry else None,
            )
        finally:
            self._finish(state)
