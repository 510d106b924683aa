"""The sources file: load, validate and append to it; add and check sources outside Scrapy."""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aggregator.discovery import (
    candidate_feed_urls,
    discover_feed_links,
    feed_type,
    looks_like_feed,
    non_html_reason,
    parse_feed,
    parse_listing,
    parse_sitemap,
)
from aggregator.exceptions import FetchError, SourcesError
from aggregator.fetching import (
    DEFAULT_TIMEOUT,
    FetchFailed,
    fetch,
    fetch_response,
    url_problem,
)
from aggregator.humanize import format_duration, parse_duration

logger = logging.getLogger(__name__)


SOURCE_KEYS = (
    "name",
    "url",
    "feeds",
    "sitemaps",
    "listings",
    "interval",
    "enabled",
    "content",
    "remove",
)
REQUIRED_KEYS = ("name", "url")
URL_LIST_KEYS = ("feeds", "sitemaps", "listings")

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SOURCES_HEADER_RE = re.compile(r"^[ \t]*\[\[[ \t]*sources[ \t]*\]\]", re.MULTILINE)
# Second-level labels under a country code that are not the site's own name (bbc.co.uk)
_SECOND_LEVEL_LABELS = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or"})


_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_NEW_FILE_HEADER = "# Blogs to crawl; aggregator/default_sources.toml documents every key.\n"
# Sniffing the root element never needs more than the head of the document


@dataclass(frozen=True)
class Source:
    """One blog to crawl, as configured in the sources file."""

    name: str
    url: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    interval: timedelta | None = None
    enabled: bool = True
    # Extraction rules for sites no heuristic gets right: CSS selectors
    content: str | None = None
    remove: tuple[str, ...] = ()

    def to_toml(self) -> str:
        """Render this source as one `[[sources]]` block holding only its non-default keys."""
        lines = [
            "[[sources]]",
            f"name = {_toml_string(self.name)}",
            f"url = {_toml_string(self.url)}",
        ]
        for key in URL_LIST_KEYS:
            values: tuple[str, ...] = getattr(self, key)
            if len(values) == 1:
                lines.append(f"{key} = [{_toml_string(values[0])}]")
            elif values:
                lines.append(f"{key} = [")
                lines.extend(f"    {_toml_string(value)}," for value in values)
                lines.append("]")
        if self.interval is not None:
            lines.append(f"interval = {_toml_string(format_duration(self.interval))}")
        if not self.enabled:
            lines.append("enabled = false")
        if self.content:
            lines.append(f"content = {_toml_string(self.content)}")
        if self.remove:
            lines.append(f"remove = [{', '.join(_toml_string(r) for r in self.remove)}]")
        return "\n".join(lines) + "\n"


@dataclass
class FeedCheck:
    """The outcome of fetching one feed, sitemap or listing URL of a source."""

    url: str
    ok: bool
    detail: str


def load_sources(path: str | Path) -> list[Source]:
    """Read and validate a sources file, reporting every problem at once."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SourcesError(f"{path}: sources file not found") from None
    except UnicodeDecodeError as exc:
        raise SourcesError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SourcesError(f"{path}: cannot read sources file ({exc.strerror or exc})") from None
    return _parse_sources_text(text, str(path))


def select_sources(sources: Iterable[Source], names: Sequence[str] | None) -> list[Source]:
    """Pick the named sources (even disabled ones), or every enabled source when none are named."""
    sources = list(sources)
    if not names:
        return [source for source in sources if source.enabled]
    by_name = {source.name: source for source in sources}
    unknown = [name for name in dict.fromkeys(names) if name not in by_name]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
        raise SourcesError(f"unknown source name(s): {', '.join(hints)}")
    return [by_name[name] for name in dict.fromkeys(names)]


def discover_feeds(home_url: str, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """Return the feed URLs of a site that really answer as feeds."""
    return _discover(home_url, timeout)[1]


def slug_from_url(url: str) -> str:
    """Derive a source name from a URL's host ("https://www.example.com/" -> "example")."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    labels = [label for label in host.split(".") if label]
    is_ip = bool(labels) and all(label.isdigit() for label in labels)
    if not is_ip:
        if labels and labels[0] == "www":
            labels = labels[1:]
        if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL_LABELS:
            labels = labels[:-2]
        elif len(labels) >= 2:
            labels = labels[:-1]
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        labels.append(str(port))
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(labels).lower()).strip("-")
    return slug or "source"


def source_from_url(url: str, name: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Source:
    """Build a Source for a blog's home page, discovering its feeds."""
    problem = url_problem(url)
    if problem:
        raise SourcesError(f"{url!r}: {problem}")
    if name is not None and not _NAME_RE.fullmatch(name):
        raise SourcesError(f"{name!r}: a source name must match [a-z0-9][a-z0-9_-]*")
    home, feeds = _discover(url, timeout)
    if not feeds:
        # Without a feed the home page is the best list of posts we have
        logger.warning("No feed found for %s; using the home page as a listing", home)
        return Source(name=name or slug_from_url(home), url=home, listings=(home,))
    return Source(name=name or slug_from_url(home), url=home, feeds=tuple(feeds))


def append_source(path: str | Path, source: Source) -> None:
    """Append a source to a sources file as text, keeping the user's comments and layout."""
    path = Path(path)
    text = ""
    existing: list[Source] = []
    if path.exists():
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourcesError(f"{path}: cannot read sources file ({exc})") from None
        if _has_content(text):
            existing = load_sources(path)
    _refuse_duplicate(path, existing, source)
    if not text:
        addition = _NEW_FILE_HEADER + "\n"
    elif text.endswith("\n\n"):
        addition = ""
    elif text.endswith("\n"):
        addition = "\n"
    else:
        addition = "\n\n"
    addition += source.to_toml()
    # Validate the would-be file first so a bad source never leaves a broken file behind
    _parse_sources_text(text + addition, str(path))
    try:
        with path.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(addition)
    except OSError as exc:
        raise SourcesError(f"{path}: cannot write sources file ({exc.strerror or exc})") from None
    load_sources(path)
    logger.info("Added source %s (%s) to %s", source.name, source.url, path)


def check_source(source: Source, timeout: float = DEFAULT_TIMEOUT) -> list[FeedCheck]:
    """Fetch what a crawl of the source reads and judge it with the crawl's own parsers.

    Its feeds, sitemaps and listings; without feeds, the feeds its home page announces or
    the usual paths hold, else (no sitemap or listing either) the home page as a listing.
    """
    checks = [_check_feed(url, timeout) for url in source.feeds]
    checks.extend(_check_sitemap(url, timeout) for url in source.sitemaps)
    checks.extend(_check_listing(url, source.url, timeout) for url in source.listings)
    if not source.feeds:
        checks.extend(_check_discovery(source, timeout))
    return checks


def _check_discovery(source: Source, timeout: float) -> list[FeedCheck]:
    """Check what the crawl finds on the home page of a source without feeds."""
    try:
        home, feeds = _discover(source.url, timeout)
    except FetchError as exc:
        return [FeedCheck(source.url, False, _strip_url(str(exc), source.url))]
    if feeds:
        return [_check_feed(url, timeout, prefix="discovered: ") for url in feeds]
    if source.sitemaps or source.listings:
        return [FeedCheck(source.url, True, "no feed found; the crawl reads the ones above")]
    return [_check_listing(home, source.url, timeout, prefix="no feed found; as a listing: ")]


def _discover(home_url: str, timeout: float) -> tuple[str, list[str]]:
    """Fetch a home page; return its final URL and the feeds that really answer as feeds."""
    home, body, _headers = fetch(home_url, timeout)
    announced = discover_feed_links(body, home)
    logger.debug("%s announces feeds %s", home, announced)
    feeds = _working_feeds(announced, timeout)
    if not feeds:
        feeds = _working_feeds(candidate_feed_urls(home), timeout)
    return home, feeds


def _working_feeds(urls: Iterable[str], timeout: float) -> list[str]:
    """Return the final URLs of those candidates that answer with a feed, without repeats."""
    found: list[str] = []
    seen_bodies: set[bytes] = set()
    for url in urls:
        try:
            final_url, _status, body, headers = fetch_response(url, timeout)
        except FetchFailed as exc:
            logger.debug("Feed candidate %s failed: %s", url, exc.reason)
            continue
        if not looks_like_feed(body, headers.get("content-type")):
            logger.debug("Feed candidate %s is not a feed", url)
            continue
        # /feed and /rss often serve the same document; keep only the first
        digest = hashlib.sha256(body).digest()
        if final_url in found or digest in seen_bodies:
            continue
        seen_bodies.add(digest)
        found.append(final_url)
    return found


def _check_feed(url: str, timeout: float, prefix: str = "") -> FeedCheck:
    """Fetch one feed URL and read it as the crawl does (aggregator.discovery.parse_feed)."""
    try:
        final_url, status, body, headers = fetch_response(url, timeout)
    except FetchFailed as exc:
        return FeedCheck(url, False, prefix + exc.reason)
    content_type = headers.get("content-type")
    kind = feed_type(body, content_type)
    if kind is None:
        return FeedCheck(
            url, False, f"{prefix}{status}, not a feed ({_describe_type(content_type)})"
        )
    result = parse_feed(body, final_url, content_type)
    if result.error:
        return FeedCheck(url, False, f"{prefix}{status}, {kind}, malformed: {result.error}")
    entries = len(result.entries)
    detail = f"{prefix}{status}, {kind}, {entries} {'entry' if entries == 1 else 'entries'}"
    return FeedCheck(url, True, detail + _redirect_note(url, final_url))


def _check_sitemap(url: str, timeout: float) -> FeedCheck:
    """Fetch one sitemap URL and read it as the crawl does (discovery.parse_sitemap)."""
    try:
        final_url, status, body, headers = fetch_response(url, timeout)
    except FetchFailed as exc:
        return FeedCheck(url, False, exc.reason)
    result = parse_sitemap(body, final_url)
    if result.error:
        if not (result.urls or result.sitemaps) and result.error.startswith("not a sitemap"):
            content_type = _describe_type(headers.get("content-type"))
            return FeedCheck(url, False, f"{status}, not a sitemap ({content_type})")
        return FeedCheck(url, False, f"{status}, malformed sitemap: {result.error}")
    note = _redirect_note(url, final_url)
    if result.sitemaps and not result.urls:
        return FeedCheck(
            url, True, f"{status}, sitemap index, {len(result.sitemaps)} sitemaps{note}"
        )
    return FeedCheck(url, True, f"{status}, sitemap, {len(result.urls)} URLs{note}")


def _check_listing(url: str, site_url: str, timeout: float, prefix: str = "") -> FeedCheck:
    """Fetch one listing page and find its article links as the crawl does (parse_listing)."""
    try:
        final_url, status, body, headers = fetch_response(url, timeout)
    except FetchFailed as exc:
        return FeedCheck(url, False, prefix + exc.reason)
    if reason := non_html_reason(headers.get("content-type"), body):
        return FeedCheck(url, False, f"{prefix}{status}, {reason}")
    found = len(parse_listing(body, final_url, site_url).article_urls)
    if not found:
        return FeedCheck(url, False, f"{prefix}{status}, HTML page without article links")
    detail = f"{prefix}{status}, HTML page, {found} article link{'' if found == 1 else 's'}"
    return FeedCheck(url, True, detail + _redirect_note(url, final_url))


def _describe_type(content_type: str | None) -> str:
    """Return the media type of a Content-Type header, or "no content type"."""
    media_type = (content_type or "").split(";")[0].strip()
    return media_type or "no content type"


def _redirect_note(url: str, final_url: str) -> str:
    """Say where a URL redirected to, if it did."""
    return f", redirected to {final_url}" if final_url != url else ""


def _strip_url(message: str, url: str) -> str:
    """Drop the "URL: " prefix of a FetchError message."""
    return message.removeprefix(f"{url}: ")


def _parse_sources_text(text: str, label: str) -> list[Source]:
    """Validate the text of a sources file; `label` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{label}: invalid TOML: {exc}") from None
    errors: list[str] = []
    for key in data:
        if key != "sources":
            errors.append(f"{label}: unknown top-level key {key!r}{_suggest(key, ('sources',))}")
    entries = data.get("sources")
    if entries is None:
        errors.append(f"{label}: no sources: expected a [[sources]] array of tables")
        raise SourcesError("\n".join(errors))
    if not isinstance(entries, list):
        errors.append(
            f"{label}: 'sources' must be an array of tables ([[sources]]), "
            f"got {_type_name(entries)}"
        )
        raise SourcesError("\n".join(errors))
    header_lines = _sources_header_lines(text, len(entries))
    sources: list[Source] = []
    first_by_name: dict[str, str] = {}
    for index, entry in enumerate(entries):
        line = f" (line {header_lines[index]})" if header_lines else ""
        where = f"sources[{index}]{line}"
        if not isinstance(entry, dict):
            errors.append(f"{label}: {where}: must be a table, got {_type_name(entry)}")
            continue
        name = entry.get("name")
        if isinstance(name, str) and name:
            where = f"source {name!r}{line}"
        entry_errors: list[str] = []
        source = _validate_entry(entry, entry_errors)
        errors.extend(f"{label}: {where}: {message}" for message in entry_errors)
        if isinstance(name, str) and name:
            if name in first_by_name:
                errors.append(
                    f"{label}: {where}: key 'name': duplicate name {name!r} "
                    f"(first used by {first_by_name[name]})"
                )
            else:
                first_by_name[name] = f"sources[{index}]"
        if source is not None:
            sources.append(source)
    if errors:
        raise SourcesError("\n".join(errors))
    return sources


def _validate_entry(entry: dict[str, Any], errors: list[str]) -> Source | None:
    """Check one [[sources]] table; append problems to `errors`, return the Source if valid."""
    for key in entry:
        if key not in SOURCE_KEYS:
            errors.append(f"key {key!r}: unknown key{_suggest(key, SOURCE_KEYS)}")
    for key in REQUIRED_KEYS:
        if key not in entry:
            errors.append(f"key {key!r}: required key is missing")
    name = entry.get("name")
    if "name" in entry:
        if not isinstance(name, str):
            errors.append(f"key 'name': must be a string, got {_type_name(name)}")
        elif not _NAME_RE.fullmatch(name):
            errors.append(
                f"key 'name': {name!r} is not a valid name: use lower-case letters, digits, "
                "'-' and '_', starting with a letter or digit"
            )
    url = entry.get("url")
    if "url" in entry:
        if not isinstance(url, str):
            errors.append(f"key 'url': must be a string, got {_type_name(url)}")
        elif problem := url_problem(url):
            errors.append(f"key 'url': {url!r}: {problem}")
    url_lists: dict[str, tuple[str, ...]] = {}
    for key in URL_LIST_KEYS:
        if key not in entry:
            continue
        values = entry[key]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.append(f"key {key!r}: must be an array of URL strings, got {_type_name(values)}")
            continue
        for position, value in enumerate(values):
            if problem := url_problem(value):
                errors.append(f"key {key!r}: {key}[{position}] {value!r}: {problem}")
        url_lists[key] = tuple(dict.fromkeys(values))
    interval: timedelta | None = None
    if "interval" in entry:
        raw = entry["interval"]
        if not isinstance(raw, str):
            errors.append(
                f"key 'interval': must be a duration string like '30m', got {_type_name(raw)}"
            )
        else:
            try:
                interval = parse_duration(raw)
            except ValueError as exc:
                errors.append(f"key 'interval': {exc}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append(f"key 'enabled': must be true or false, got {_type_name(enabled)}")
    content = entry.get("content")
    if content is not None:
        if not isinstance(content, str):
            errors.append(
                f"key 'content': must be a CSS selector string, got {_type_name(content)}"
            )
        elif problem := _selector_problem(content):
            errors.append(f"key 'content': {content!r}: {problem}")
    remove = entry.get("remove", [])
    if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
        errors.append(f"key 'remove': must be an array of CSS selectors, got {_type_name(remove)}")
        remove = []
    for position, selector in enumerate(remove):
        if problem := _selector_problem(selector):
            errors.append(f"key 'remove': remove[{position}] {selector!r}: {problem}")
    if errors:
        return None
    assert isinstance(name, str) and isinstance(url, str) and isinstance(enabled, bool)
    return Source(
        name=name,
        url=url,
        feeds=url_lists.get("feeds", ()),
        sitemaps=url_lists.get("sitemaps", ()),
        listings=url_lists.get("listings", ()),
        interval=interval,
        enabled=enabled,
        content=content,
        remove=tuple(remove),
    )


def _selector_problem(selector: str) -> str | None:
    """Say what is wrong with a CSS selector, or None."""
    from cssselect import GenericTranslator, SelectorError

    if not selector.strip():
        return "empty selector"
    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        return f"not a valid CSS selector ({exc})"
    return None


def _refuse_duplicate(path: Path, existing: Sequence[Source], source: Source) -> None:
    """Raise SourcesError if the new source repeats the name, URL or a feed of an existing one."""
    new_url = _url_key(source.url)
    new_feeds = {_url_key(feed) for feed in source.feeds}
    for other in existing:
        if other.name == source.name:
            raise SourcesError(f"{path}: source {source.name!r}: key 'name': name already used")
        if _url_key(other.url) == new_url:
            raise SourcesError(
                f"{path}: source {source.name!r}: key 'url': {source.url} is already "
                f"configured as source {other.name!r}"
            )
        shared = new_feeds & {_url_key(feed) for feed in other.feeds}
        if shared:
            raise SourcesError(
                f"{path}: source {source.name!r}: key 'feeds': {sorted(shared)[0]} is already "
                f"a feed of source {other.name!r}"
            )


def _url_key(url: str) -> str:
    """Normalise a URL for duplicate detection: scheme and host case, trailing slash."""
    parts = urlsplit(url)
    netloc = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{netloc}{path}{query}"


def _has_content(text: str) -> bool:
    """Tell whether a TOML text holds any key at all (not only comments and blank lines)."""
    try:
        return bool(tomllib.loads(text))
    except tomllib.TOMLDecodeError:
        return True


def _sources_header_lines(text: str, count: int) -> list[int]:
    """Return the line of each `[[sources]]` header when they match the entries one to one."""
    lines = [text.count("\n", 0, match.start()) + 1 for match in _SOURCES_HEADER_RE.finditer(text)]
    return lines if len(lines) == count else []


def _suggest(key: str, known: Sequence[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest known key, or ""."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _toml_string(value: str) -> str:
    """Quote a string as a TOML basic string."""
    escaped = []
    for char in value:
        if char in _TOML_ESCAPES:
            escaped.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _type_name(value: object) -> str:
    """Name a TOML value's type the way a user of the file would."""
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    for python_type, name in names.items():
        if isinstance(value, python_type):
            return name
    return f"a {type(value).__name__}"
