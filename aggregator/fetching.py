"""A small HTTP client for what runs outside Scrapy (`sources add` and `sources check`).

The project's User-Agent, http(s) only (redirects too), a size cap and a deadline that a
trickling server cannot outlast; failures are one short line that says why.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from aggregator.exceptions import FetchError
from aggregator.settings import DOWNLOAD_MAXSIZE, USER_AGENT

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0
MAX_FETCH_BYTES = DOWNLOAD_MAXSIZE
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)


def url_problem(url: str) -> str | None:
    """Say what is wrong with a URL that must be absolute http(s) with a host, or None."""
    if not url or url != url.strip() or any(c.isspace() for c in url):
        return "must be an absolute http(s) URL without spaces"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme.lower() not in {"http", "https"}:
        return "must be an absolute http(s) URL (like 'https://example.com/')"
    if not parts.hostname:
        return "URL has no host"
    if port == 0:
        return "URL has an invalid port"
    return None


def fetch(
    url: str, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = MAX_FETCH_BYTES
) -> tuple[str, bytes, dict[str, str]]:
    """Fetch a URL with the project's User-Agent; return (final URL, body, lower-cased headers)."""
    try:
        final_url, _status, body, headers = fetch_response(url, timeout, max_bytes)
    except FetchFailed as exc:
        raise FetchError(f"{url}: {exc.reason}") from exc
    return final_url, body, headers


class FetchFailed(Exception):
    """A fetch failed; `reason` is short and says why without the URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _HttpOnlyRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http and https URLs."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        """Refuse a redirect that leaves http(s)."""
        if urlsplit(newurl).scheme.lower() not in {"http", "https"}:
            raise FetchFailed(f"redirect to a non-http(s) URL: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_response(
    url: str, timeout: float, max_bytes: int = MAX_FETCH_BYTES
) -> tuple[str, int, bytes, dict[str, str]]:
    """Fetch a URL; return (final URL, status, body, headers) or raise FetchFailed."""
    problem = url_problem(url)
    if problem:
        raise FetchFailed(problem)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT})
    opener = urllib.request.build_opener(_HttpOnlyRedirectHandler)
    deadline = time.monotonic() + timeout
    logger.debug("Fetching %s", url)
    try:
        with opener.open(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            # read1 returns what has arrived, so a trickling server cannot outlast the deadline
            while chunk := response.read1(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchFailed(f"response larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise FetchFailed("timed out")
                chunks.append(chunk)
            headers: dict[str, str] = {}
            for key, value in response.headers.items():
                key = key.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            return response.geturl(), response.status, b"".join(chunks), headers
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchFailed(_http_error_reason(exc.code, exc.reason)) from None
    except urllib.error.URLError as exc:
        raise FetchFailed(_network_error_reason(exc.reason)) from None
    except TimeoutError:
        raise FetchFailed("timed out") from None
    except http.client.HTTPException as exc:
        raise FetchFailed(f"bad HTTP response ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        raise FetchFailed(_network_error_reason(exc)) from None


def _http_error_reason(code: int, reason: object) -> str:
    """Render an HTTP error status as "404 Not Found"."""
    phrase = str(reason or "").strip()
    if not phrase:
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "HTTP error"
    return f"{code} {phrase}"


def _network_error_reason(reason: object) -> str:
    """Render a connection-level failure as a short phrase."""
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, socket.gaierror):
        return "host not found"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ConnectionResetError):
        return "connection reset"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error ({reason.reason or reason})"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or type(reason).__name__
