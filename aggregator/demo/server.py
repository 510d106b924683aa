"""Serve folders of static demo blogs on 127.0.0.1, one HTTP server per blog, in daemon threads."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

Route = Callable[[BaseHTTPRequestHandler], None]

DEMO_SITES = Path(__file__).resolve().parent / "sites"

# The per-site template that sources_toml() renders; it describes the site, it is not part of it
SOURCE_TEMPLATE = "source.toml"

TEXT_SUFFIXES = frozenset({".html", ".htm", ".xml", ".json", ".txt", ".toml", ".atom", ".rss"})

CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".toml": "application/toml",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".gz": "application/gzip",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
JSON_FEED_CONTENT_TYPE = "application/feed+json"

# Tried in order when a directory is requested; a feed folder like /feed/ has only index.xml
DIRECTORY_INDEXES = ("index.html", "index.xml")

_PLACEHOLDER = re.compile(rb"\{\{BASE(?::([A-Za-z0-9_.-]+))?\}\}")

_NOT_FOUND_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    b"<body><h1>Not Found</h1><p>The requested page does not exist.</p></body></html>\n"
)


def substitute(data: bytes, base: str, bases: Mapping[str, str]) -> bytes:
    """Replace {{BASE}} with base and {{BASE:name}} with bases[name]; unknown names stay."""

    def replace(match: re.Match[bytes]) -> bytes:
        name = match.group(1)
        if name is None:
            return base.encode()
        other = bases.get(name.decode())
        return other.encode() if other is not None else match.group(0)

    return _PLACEHOLDER.sub(replace, data)


def content_type_for(path: Path, body: bytes, *, directory_index: bool = False) -> str:
    """Return the Content-Type header for a file with this body."""
    suffix = path.suffix.lower()
    if suffix == ".json" and _is_json_feed(body):
        return JSON_FEED_CONTENT_TYPE
    if suffix == ".xml" and directory_index:
        # A WordPress /feed/ URL answers with the feed's own type, not generic XML
        head = body[:500].lstrip()
        if b"<rss" in head:
            return "application/rss+xml; charset=utf-8"
        if b"<feed" in head:
            return "application/atom+xml; charset=utf-8"
    return CONTENT_TYPES.get(suffix, DEFAULT_CONTENT_TYPE)


def _is_json_feed(body: bytes) -> bool:
    """Tell whether a JSON document is a JSON Feed."""
    try:
        document = json.loads(body)
    except ValueError:
        return False
    version = document.get("version") if isinstance(document, dict) else None
    return isinstance(version, str) and version.startswith("https://jsonfeed.org/version/")


def respond(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Write a complete response; HEAD gets the headers only (routes answer through it too)."""
    _answered(handler)
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


class _SiteHTTPServer(ThreadingHTTPServer):
    """The HTTP server of one site; handlers reach the site through .site."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: SiteServer) -> None:
        self.site = site
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up; log real errors instead of printing them."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        logger.exception("error while serving site %s to %s", self.site.name, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Answer one request from a route or from the site's folder."""

    server: _SiteHTTPServer
    server_version = "DemoBlog/1.0"

    def do_GET(self) -> None:
        """Serve a GET request."""
        self.server.site.handle(self)

    def do_HEAD(self) -> None:
        """Serve a HEAD request."""
        self.server.site.handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and the demo read .log and .hits instead."""


class InFlight:
    """Requests being answered at once, and the most seen: shared by the sites of one host."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self._lock:
            self.now -= 1


def _answered(handler: BaseHTTPRequestHandler) -> None:
    """Count a request as answered (once): before its response goes out, as a client sees it.

    Counted after writing instead, a server thread descheduled between the write and the count
    would still count a request its client had finished, and overlap it with the next one.
    """
    leave = getattr(handler, "leave_in_flight", None)
    if leave is not None:
        handler.leave_in_flight = None  # type: ignore[attr-defined]
        leave()


class SiteServer:
    """Serve one folder on 127.0.0.1 with {{BASE}} placeholders filled in at request time.

    delay (seconds) slows every answer down; in_flight counts the requests being answered.
    """

    def __init__(
        self,
        root: Path,
        name: str,
        routes: Mapping[str, Route] | None = None,
        *,
        bases: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.root = Path(root).resolve()
        self.name = name
        self.routes: dict[str, Route] = dict(routes or {})
        self.bases: dict[str, str] = bases if bases is not None else {}
        self.host = host
        self.port = port
        self.hits: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []
        self.delay = 0.0
        self.in_flight = InFlight()
        self._lock = threading.Lock()
        self._httpd: _SiteHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Return http://127.0.0.1:PORT of the running server."""
        if self._httpd is None:
            raise RuntimeError(f"site {self.name!r} is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str = "/") -> str:
        """Return the absolute URL of a path on this site."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> Self:
        """Bind the port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._httpd = _SiteHTTPServer((self.host, self.port), self)
        self.bases[self.name] = self.base_url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"site-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None
        if self.bases.get(self.name) is not None:
            del self.bases[self.name]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def clear_log(self) -> None:
        """Forget the requests counted so far."""
        with self._lock:
            self.hits.clear()
            self.log.clear()

    def render(self, data: bytes) -> bytes:
        """Fill in the placeholders of a text file's bytes."""
        return substitute(data, self.base_url, self.bases)

    def source_toml(self, table: str = "sources") -> str:
        """Render this site's source.toml as one [[table]] entry; empty if it has none."""
        template = self.root / SOURCE_TEMPLATE
        if not template.is_file():
            return ""
        lines = self.render(template.read_bytes()).decode("utf-8").strip().splitlines()
        keys = [i for i, line in enumerate(lines) if line.strip() and line.lstrip()[0] != "#"]
        first = keys[0] if keys else len(lines)
        if not keys or not lines[first].lstrip().startswith("["):
            lines.insert(first, f"[[{table}]]")
        return "\n".join(lines) + "\n"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request: a route for the exact path, else a file of the folder."""
        self.in_flight.enter()
        handler.leave_in_flight = self.in_flight.leave  # type: ignore[attr-defined]
        try:
            if self.delay:
                time.sleep(self.delay)
            self._answer(handler)
        finally:
            _answered(handler)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path or "/"
        with self._lock:
            self.hits[path] += 1
            self.log.append((handler.command, handler.path))
        route = self.routes.get(path)
        if route is not None:
            route(handler)
            return
        found = self._find(path)
        if found is None:
            respond(handler, 404, _NOT_FOUND_PAGE, "text/html; charset=utf-8")
            return
        file, is_index = found
        if file.is_dir():
            query = urlsplit(handler.path).query
            location = path + "/" + (f"?{query}" if query else "")
            respond(handler, 301, b"", "text/html; charset=utf-8", {"Location": location})
            return
        body = file.read_bytes()
        if file.suffix.lower() in TEXT_SUFFIXES:
            body = self.render(body)
        # conditional GET, as real blogs answer it: an ETag of the content and the file's time
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        modified = formatdate(file.stat().st_mtime, usegmt=True)
        validators = {"ETag": etag, "Last-Modified": modified}
        if handler.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in handler.headers
            and handler.headers.get("If-Modified-Since") == modified
        ):
            respond(handler, 304, b"", content_type_for(file, body), validators)
            return
        content_type = content_type_for(file, body, directory_index=is_index)
        respond(handler, 200, body, content_type, validators)

    def _find(self, path: str) -> tuple[Path, bool] | None:
        """Map a URL path to (file or directory to redirect, is a directory index), or None."""
        parts = [part for part in unquote(path).split("/") if part]
        if any(part.startswith(".") or "\\" in part for part in parts):
            return None
        if parts == [SOURCE_TEMPLATE]:
            return None
        target = self.root.joinpath(*parts)
        if target.is_file():
            return target, False
        if not target.is_dir():
            return None
        if not path.endswith("/"):
            return target, False
        for index in DIRECTORY_INDEXES:
            candidate = target / index
            if candidate.is_file():
                return candidate, True
        return None


class SiteGroup:
    """One SiteServer per subfolder of root, sharing the name -> base URL mapping."""

    def __init__(
        self,
        root: Path = DEMO_SITES,
        routes: Mapping[str, Mapping[str, Route]] | None = None,
        *,
        names: Iterable[str] | None = None,
        base_port: int = 0,
    ) -> None:
        self.root = Path(root)
        self.bases: dict[str, str] = {}
        wanted = set(names) if names is not None else None
        folders = sorted(
            p
            for p in self.root.iterdir()
            if p.is_dir()
            and not p.name.startswith((".", "_"))
            and (wanted is None or p.name in wanted)
        )
        routes = routes or {}
        self.servers: dict[str, SiteServer] = {
            folder.name: SiteServer(
                folder,
                folder.name,
                routes.get(folder.name),
                bases=self.bases,
                port=base_port + i if base_port else 0,
            )
            for i, folder in enumerate(folders)
        }

    def __getitem__(self, name: str) -> SiteServer:
        return self.servers[name]

    def start(self) -> Self:
        """Start every site's server."""
        try:
            for server in self.servers.values():
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every site's server."""
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def sources_toml(self, table: str = "sources") -> str:
        """Render a sources file listing every site that has a source.toml."""
        entries = [server.source_toml(table) for server in self.servers.values()]
        return "\n".join(entry for entry in entries if entry)

    def clear_log(self) -> None:
        """Forget the requests counted so far on every site."""
        for server in self.servers.values():
            server.clear_log()


if __name__ == "__main__":
    with SiteGroup() as group:
        for site in group.servers.values():
            print(f"{site.name}: {site.base_url}/")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
