"""Tests for aggregator.sources: the sources file, feed discovery, fetching and checks."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from aggregator import sources as sources_module
from aggregator.discovery import (
    COMMON_FEED_PATHS,
    candidate_feed_urls,
    discover_feed_links,
    looks_like_feed,
)
from aggregator.exceptions import FetchError, SourcesError
from aggregator.fetching import fetch
from aggregator.humanize import format_duration, parse_duration
from aggregator.settings import USER_AGENT
from aggregator.sources import (
    FeedCheck,
    Source,
    append_source,
    check_source,
    discover_feeds,
    load_sources,
    select_sources,
    slug_from_url,
    source_from_url,
)

DEFAULT_SOURCES = Path(sources_module.__file__).with_name("default_sources.toml")

# --- Fixture site -------------------------------------------------------------------------

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Root blog</title><link>http://example.invalid/</link>
<item><title>One</title><link>http://example.invalid/1</link></item>
<item><title>Two</title><link>http://example.invalid/2</link></item>
<item><title>Three</title><link>http://example.invalid/3</link></item>
</channel></rss>
"""

LINKED_RSS = RSS.replace(b"Root blog", b"Linked blog")

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom blog</title>
<id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title>Only</title><id>urn:x:1</id><updated>2024-01-01T00:00:00Z</updated>
<link href="http://example.invalid/only"/></entry>
</feed>
"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="http://example.invalid/"><title>RDF</title></channel>
<item rdf:about="http://example.invalid/1"><title>One</title></item>
</rdf:RDF>
"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON blog",
        "items": [
            {"id": "1", "url": "http://example.invalid/a", "content_text": "a"},
            {"id": "2", "url": "http://example.invalid/b", "content_text": "b"},
        ],
    }
).encode()

SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>http://example.invalid/1</loc></url><url><loc>http://example.invalid/2</loc></url>
</urlset>
"""

HOME_WITH_LINKS = b"""<!DOCTYPE html><html><head><title>Linked</title>
<link rel="alternate" type="application/rss+xml" title="Comments" href="comments/feed/">
<link rel="alternate" type="application/rss+xml" title="Posts" href="feed.xml">
<link rel="alternate" type="application/atom+xml" href="broken.xml">
</head><body><p>Hello</p></body></html>
"""

HOME_WITHOUT_LINKS = b"""<!DOCTYPE html><html><head><title>Root</title></head>
<body><a href="/post-1">Post 1</a><a href="/post-2">Post 2</a></body></html>
"""

LISTING = b"""<!DOCTYPE html><html><head><title>Posts</title></head><body><main>
<article><h2><a href="/2024/01/first-post/">First post</a></h2></article>
<article><h2><a href="/2024/01/second-post/">Second post</a></h2></article>
<a href="/about/">About</a></main></body></html>
"""

HTML = "text/html; charset=utf-8"
XML = "application/rss+xml"

ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/": (200, HTML, HOME_WITHOUT_LINKS),
    "/feed": (200, XML, RSS),
    # Same document as /feed: discovery must not report it twice
    "/index.xml": (200, "application/xml", RSS),
    "/feed.xml": (200, HTML, HOME_WITHOUT_LINKS),
    "/linked/": (200, HTML, HOME_WITH_LINKS),
    "/linked/feed.xml": (200, XML, LINKED_RSS),
    "/linked/comments/feed/": (200, XML, RSS),
    "/linked/broken.xml": (500, "text/plain", b"oops"),
    "/atom": (200, "application/atom+xml", ATOM),
    "/rdf": (200, "application/rdf+xml", RDF),
    "/json-feed": (200, "application/feed+json", JSON_FEED),
    "/sitemap.xml": (200, "application/xml", SITEMAP),
    "/listing/": (200, HTML, LISTING),
    "/big": (200, "text/plain", b"x" * 5000),
}

REDIRECTS = {
    "/rss": "/feed",
    "/to-ftp": "ftp://127.0.0.1/file",
}


class _Handler(BaseHTTPRequestHandler):
    """Serve the fixture site."""

    def do_GET(self) -> None:
        """Answer one GET from ROUTES, REDIRECTS or the special paths."""
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _answer(self) -> None:
        """Write the response for self.path."""
        if self.path == "/slow":
            time.sleep(2)
            self._send(200, XML, RSS)
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", XML)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"<" * 10)
                self.wfile.flush()
                time.sleep(0.3)
        elif self.path == "/user-agent":
            self._send(200, "text/plain", self.headers.get("User-Agent", "").encode())
        elif self.path in REDIRECTS:
            self.send_response(301)
            self.send_header("Location", REDIRECTS[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path in ROUTES:
            self._send(*ROUTES[self.path])
        else:
            self._send(404, "text/html", b"<h1>Not here</h1>")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        """Send a complete response."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Fixture", "yes")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """Serve the fixture site on 127.0.0.1 and yield its base URL (no trailing slash)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def write(tmp_path: Path, text: str, name: str = "sources.toml") -> Path:
    """Write a sources file and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    """Load a sources file that must be invalid and return the error message."""
    with pytest.raises(SourcesError) as info:
        load_sources(path)
    return str(info.value)


# --- Durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5s", timedelta(seconds=5)),
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "m", "30 minutes", "1.5h", "-5m", "0s", "5x", "h1"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=30), "30m"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=1), "1d"),
        (timedelta(days=7), "7d"),
    ],
)
def test_format_duration(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected
    assert parse_duration(expected) == value


# --- Loading and validation ---------------------------------------------------------------


def test_load_full_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
# my blogs
[[sources]]
name = "example"
url = "https://example.com/"
feeds = ["https://example.com/feed/"]
sitemaps = ["https://example.com/sitemap.xml"]
listings = ["https://example.com/blog/"]
interval = "30m"
enabled = false

[[sources]]
name = "minimal_2"
url = "http://other.example:8080"
""",
    )
    assert load_sources(str(path)) == [
        Source(
            name="example",
            url="https://example.com/",
            feeds=("https://example.com/feed/",),
            sitemaps=("https://example.com/sitemap.xml",),
            listings=("https://example.com/blog/",),
            interval=timedelta(minutes=30),
            enabled=False,
        ),
        Source(name="minimal_2", url="http://other.example:8080"),
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    message = load_error(path)
    assert str(path) in message
    assert "not found" in message


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sources]]\nname = "a"\nurl = \n')
    message = load_error(path)
    assert str(path) in message
    assert "invalid TOML" in message
    assert "line 3" in message
    assert "column" in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_bytes(b'[[sources]]\nname = "caf\xe9"\n')
    assert "UTF-8" in load_error(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "no sources"),
        ("# only a comment\n", "no sources"),
        ('sources = "https://example.com/"\n', "must be an array of tables"),
        ('[sources]\nname = "a"\n', "must be an array of tables"),
        ('[[source]]\nname = "a"\nurl = "https://a.example/"\n', "did you mean 'sources'?"),
    ],
)
def test_top_level_must_be_sources_array(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    message = load_error(path)
    assert str(path) in message
    assert expected in message


def test_entry_must_be_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'sources = ["https://example.com/"]\n')
    message = load_error(path)
    assert f"{path}: sources[0]: must be a table, got a string" in message


def test_missing_name_is_reported_by_position(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[sources]]\nname = "a"\nurl = "https://a.example/"\n\n'
        '[[sources]]\nurl = "https://b.example/"\n',
    )
    message = load_error(path)
    assert message == f"{path}: sources[1] (line 5): key 'name': required key is missing"


def test_missing_url_is_reported_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sources]]\nname = "a"\n')
    message = load_error(path)
    assert message == f"{path}: source 'a' (line 1): key 'url': required key is missing"


def test_unknown_key_suggests_closest(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[sources]]\nname = "a"\nurl = "https://a.example/"\n'
        'feed = ["https://a.example/feed"]\nzzz = 1\n',
    )
    message = load_error(path)
    lines = message.splitlines()
    assert len(lines) == 2
    assert lines[0] == (
        f"{path}: source 'a' (line 1): key 'feed': unknown key (did you mean 'feeds'?)"
    )
    assert lines[1] == f"{path}: source 'a' (line 1): key 'zzz': unknown key"


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ('name = 5\nurl = "https://a.example/"', "name", "must be a string, got an integer"),
        ('name = "a"\nurl = 5', "url", "must be a string, got an integer"),
        ('name = "a"\nurl = ["https://a.example/"]', "url", "must be a string, got an array"),
        (
            'name = "a"\nurl = "https://a.example/"\nfeeds = "https://a.example/feed"',
            "feeds",
            "must be an array of URL strings, got a string",
        ),
        (
            'name = "a"\nurl = "https://a.example/"\nsitemaps = [1]',
            "sitemaps",
            "must be an array of URL strings",
        ),
        (
            'name = "a"\nurl = "https://a.example/"\nlistings = {x = 1}',
            "listings",
            "must be an array of URL strings, got a table",
        ),
        (
            'name = "a"\nurl = "https://a.example/"\ninterval = 30',
            "interval",
            "must be a duration string",
        ),
        (
            'name = "a"\nurl = "https://a.example/"\nenabled = "yes"',
            "enabled",
            "must be true or false, got a string",
        ),
    ],
)
def test_wrong_types(tmp_path: Path, line: str, key: str, expected: str) -> None:
    path = write(tmp_path, f"[[sources]]\n{line}\n")
    message = load_error(path)
    assert message.startswith(f"{path}: ")
    assert f"key '{key}'" in message
    assert expected in message
    where = "sources[0]" if key == "name" else "source 'a'"
    assert where in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("url", '"example.com"', "absolute http(s) URL"),
        ("url", '"/blog/"', "absolute http(s) URL"),
        ("url", '"ftp://example.com/"', "absolute http(s) URL"),
        ("url", '"https://"', "no host"),
        ("url", '"https://exa mple.com/"', "without spaces"),
        ("url", '"https://example.com:99999/"', "not a valid URL"),
        ("feeds", '["https://a.example/feed", "feed.xml"]', "feeds[1] 'feed.xml'"),
        ("sitemaps", '["javascript:alert(1)"]', "absolute http(s) URL"),
        ("listings", '[""]', "absolute http(s) URL"),
    ],
)
def test_bad_urls(tmp_path: Path, key: str, value: str, expected: str) -> None:
    url = "" if key == "url" else 'url = "https://a.example/"\n'
    path = write(tmp_path, f'[[sources]]\nname = "a"\n{url}{key} = {value}\n')
    message = load_error(path)
    assert message.startswith(f"{path}: source 'a' (line 1): key '{key}': ")
    assert expected in message


@pytest.mark.parametrize("name", ["Bad", "has space", "-dash", "_under", "", "é"])
def test_bad_name_slug(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, f'[[sources]]\nname = "{name}"\nurl = "https://a.example/"\n')
    message = load_error(path)
    assert str(path) in message
    assert "key 'name'" in message
    assert "not a valid name" in message


def test_duplicate_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[sources]]\nname = "a"\nurl = "https://a.example/"\n'
        '[[sources]]\nname = "b"\nurl = "https://b.example/"\n'
        '[[sources]]\nname = "a"\nurl = "https://c.example/"\n',
    )
    message = load_error(path)
    assert message == (
        f"{path}: source 'a' (line 7): key 'name': duplicate name 'a' (first used by sources[0])"
    )


@pytest.mark.parametrize("interval", ["30 minutes", "0s", "soon"])
def test_bad_interval(tmp_path: Path, interval: str) -> None:
    path = write(
        tmp_path, f'[[sources]]\nname = "a"\nurl = "https://a.example/"\ninterval = "{interval}"\n'
    )
    message = load_error(path)
    assert message.startswith(f"{path}: source 'a' (line 1): key 'interval': invalid duration")


def test_all_errors_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[sources]]
name = "ok"
url = "https://ok.example/"

[[sources]]
url = "nope"

[[sources]]
name = "b"
url = "https://b.example/"
interval = "forever"
enabled = 1

[[sources]]
name = "ok"
url = "https://other.example/"
""",
    )
    lines = load_error(path).splitlines()
    assert len(lines) == 5
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert "sources[1] (line 6): key 'name': required key is missing" in lines[0]
    assert "sources[1] (line 6): key 'url': 'nope'" in lines[1]
    assert "source 'b' (line 9): key 'interval'" in lines[2]
    assert "source 'b' (line 9): key 'enabled'" in lines[3]
    assert "source 'ok' (line 15): key 'name': duplicate name" in lines[4]


def test_inline_array_of_tables_has_no_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, 'sources = [{name = "a", url = "https://a.example/"}, {url = "x"}]\n')
    message = load_error(path)
    assert f"{path}: sources[1]: key 'name': required key is missing" in message


def test_default_sources_file_loads() -> None:
    loaded = load_sources(DEFAULT_SOURCES)
    assert len(loaded) >= 20
    assert all(source.feeds for source in loaded)
    assert all(source.enabled for source in loaded)
    assert any(source.interval is not None for source in loaded)
    assert len({source.url for source in loaded}) == len(loaded)


# --- select_sources -----------------------------------------------------------------------

ALPHA = Source(name="alpha", url="https://alpha.example/")
BETA = Source(name="beta", url="https://beta.example/", enabled=False)
GAMMA = Source(name="gamma", url="https://gamma.example/")


@pytest.mark.parametrize("names", [None, []])
def test_select_all_enabled(names: list[str] | None) -> None:
    assert select_sources([ALPHA, BETA, GAMMA], names) == [ALPHA, GAMMA]


def test_select_named_even_disabled() -> None:
    assert select_sources([ALPHA, BETA, GAMMA], ["gamma", "beta", "gamma"]) == [GAMMA, BETA]


def test_select_unknown_names() -> None:
    with pytest.raises(SourcesError) as info:
        select_sources([ALPHA, BETA, GAMMA], ["alpha", "gama", "zzz"])
    message = str(info.value)
    assert "'gama' (did you mean 'gamma'?)" in message
    assert "'zzz'" in message
    assert "'alpha'" not in message


# --- to_toml ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        Source(name="plain", url="https://plain.example/"),
        Source(
            name="full",
            url="https://full.example/blog/",
            feeds=("https://full.example/feed/", "https://full.example/atom.xml"),
            sitemaps=("https://full.example/sitemap.xml",),
            listings=('https://full.example/blog/?page=1&x="q"',),
            interval=timedelta(hours=1, minutes=30),
            enabled=False,
        ),
    ],
)
def test_to_toml_round_trip(tmp_path: Path, source: Source) -> None:
    path = write(tmp_path, source.to_toml())
    assert load_sources(path) == [source]


def test_to_toml_only_non_default_keys() -> None:
    rendered = Source(name="x", url="https://x.example/", interval=timedelta(minutes=30)).to_toml()
    assert rendered == '[[sources]]\nname = "x"\nurl = "https://x.example/"\ninterval = "30m"\n'


# --- append_source ------------------------------------------------------------------------

EXISTING = """# My blogs — hand-written, keep this comment
[[sources]]
name   = "alpha"                       # aligned on purpose
url    = "https://www.alpha.example/"
feeds  = ["https://alpha.example/feed/"]
"""


def test_append_keeps_comments_and_formatting(tmp_path: Path) -> None:
    path = write(tmp_path, EXISTING)
    new = Source(name="beta", url="https://beta.example/", feeds=("https://beta.example/rss",))
    append_source(path, new)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(EXISTING)
    assert text == EXISTING + "\n" + new.to_toml()
    assert [source.name for source in load_sources(path)] == ["alpha", "beta"]


def test_append_to_file_without_trailing_newline(tmp_path: Path) -> None:
    path = write(tmp_path, EXISTING.rstrip("\n"))
    append_source(path, Source(name="beta", url="https://beta.example/"))
    assert len(load_sources(path)) == 2


def test_append_creates_file(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    source = Source(name="beta", url="https://beta.example/", interval=timedelta(days=1))
    append_source(path, source)
    assert path.read_text(encoding="utf-8").startswith("#")
    assert load_sources(path) == [source]


def test_append_to_file_of_only_comments(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing yet\n")
    append_source(path, Source(name="beta", url="https://beta.example/"))
    assert path.read_text(encoding="utf-8").startswith("# nothing yet\n")
    assert len(load_sources(path)) == 1


@pytest.mark.parametrize(
    ("source", "key"),
    [
        (Source(name="alpha", url="https://new.example/"), "name"),
        (Source(name="other", url="https://alpha.example"), "url"),
        (
            Source(name="other", url="https://new.example/", feeds=("https://alpha.example/feed",)),
            "feeds",
        ),
    ],
)
def test_append_refuses_duplicates(tmp_path: Path, source: Source, key: str) -> None:
    path = write(tmp_path, EXISTING)
    with pytest.raises(SourcesError) as info:
        append_source(path, source)
    message = str(info.value)
    assert str(path) in message
    assert f"key '{key}'" in message
    assert path.read_text(encoding="utf-8") == EXISTING


def test_append_refuses_invalid_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sources]]\nname = "alpha"\n')
    with pytest.raises(SourcesError, match="key 'url'"):
        append_source(path, Source(name="beta", url="https://beta.example/"))


def test_append_refuses_invalid_source_and_leaves_file_alone(tmp_path: Path) -> None:
    path = write(tmp_path, EXISTING)
    with pytest.raises(SourcesError, match="key 'name'"):
        append_source(path, Source(name="Not A Slug", url="https://beta.example/"))
    assert path.read_text(encoding="utf-8") == EXISTING


def test_append_refuses_when_file_uses_inline_array(tmp_path: Path) -> None:
    original = 'sources = [{name = "alpha", url = "https://alpha.example/"}]\n'
    path = write(tmp_path, original)
    with pytest.raises(SourcesError, match="invalid TOML"):
        append_source(path, Source(name="beta", url="https://beta.example/"))
    assert path.read_text(encoding="utf-8") == original


# --- discover_feed_links, candidate_feed_urls, looks_like_feed ------------------------------


def test_discover_feed_links_resolves_and_filters() -> None:
    html = """<html><head>
    <link rel="stylesheet" href="/style.css">
    <link rel="alternate" type="application/rss+xml" href="/feed/">
    <link rel="alternate" type="application/rss+xml" title="Blog &raquo; Comments Feed"
          href="/comments/feed/">
    <link rel="alternate" type="application/atom+xml" href="atom.xml">
    <link rel="alternate" type="application/rss+xml" href="https://example.com/feed/">
    <link rel="alternate" type="application/feed+json" href="feed.json">
    <link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/2">
    <link rel="alternate" type="application/json+oembed" href="/oembed?url=x">
    <link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
    <link rel="Alternate" type="Application/RDF+XML; charset=utf-8" href="//cdn.example.net/i.rdf">
    <link rel="alternate" type="application/rss+xml" href="/post/1/comments.xml">
    <link rel="alternate" type="application/rss+xml" href="">
    </head><body><link rel="alternate" type="application/json" href="/feed.json#x"></body></html>
    """
    assert discover_feed_links(html, "https://example.com/blog/") == [
        "https://example.com/feed/",
        "https://example.com/blog/atom.xml",
        "https://example.com/blog/feed.json",
        "https://cdn.example.net/i.rdf",
        "https://example.com/feed.json",
    ]


def test_discover_feed_links_uses_base_href() -> None:
    html = b"""<html><head><base href="/sub/dir/">
    <link rel="alternate" type="application/atom+xml" href="atom.xml"></head></html>"""
    assert discover_feed_links(html, "https://example.com/x/y") == [
        "https://example.com/sub/dir/atom.xml"
    ]


def test_discover_feed_links_in_broken_or_empty_html() -> None:
    assert discover_feed_links("", "https://example.com/") == []
    assert discover_feed_links(b"   ", "https://example.com/") == []
    broken = '<link rel=alternate type="application/rss+xml" href=rss.xml><p>unclosed <b>'
    assert discover_feed_links(broken, "https://example.com/a/") == [
        "https://example.com/a/rss.xml"
    ]


def test_discover_feed_links_with_encoding_declaration() -> None:
    html = '<?xml version="1.0" encoding="iso-8859-1"?><html><head><link rel="alternate" '
    html += 'type="application/rss+xml" href="/café.xml"></head></html>'
    assert discover_feed_links(html, "https://example.com/") == ["https://example.com/café.xml"]


def test_candidate_feed_urls_are_at_the_site_root() -> None:
    assert candidate_feed_urls("https://example.com/blog/post?x=1") == [
        f"https://example.com{path}" for path in COMMON_FEED_PATHS
    ]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (RSS, "application/rss+xml"),
        (RSS, "text/html"),
        (b"\xef\xbb\xbf\n  " + RSS, None),
        (ATOM, "application/atom+xml"),
        (b'<feed xmlns="http://purl.org/atom/ns#"><title>0.3</title></feed>', None),
        (RDF, "application/xml"),
        (JSON_FEED, "application/feed+json"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": []}', "application/json"),
        (b'<rss version="2.0"><channel><title>&nbsp; broken &</title></channel></rss>', None),
        (RSS.decode().replace("UTF-8", "UTF-16").encode("utf-16"), "text/xml"),
    ],
)
def test_looks_like_feed(body: bytes, content_type: str | None) -> None:
    assert looks_like_feed(body, content_type)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", None),
        (HOME_WITH_LINKS, "text/html"),
        (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"></html>', None),
        (SITEMAP, "application/xml"),
        (b"<feed><title>no namespace</title></feed>", None),
        (b'{"version": "1.0", "items": []}', "application/json"),
        (b"[1, 2]", "application/json"),
        (b"{not json", "application/json"),
        (b"plain text", "text/plain"),
        (RSS, "image/png"),
    ],
)
def test_does_not_look_like_feed(body: bytes, content_type: str | None) -> None:
    assert not looks_like_feed(body, content_type)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.com/", "example"),
        ("https://blog.example.com/", "blog-example"),
        ("https://example.com/blog/", "example"),
        ("https://www.bbc.co.uk/news", "bbc"),
        ("https://Engineering.Atspotify.COM/", "engineering-atspotify"),
        ("http://localhost:8000/", "localhost-8000"),
        ("http://127.0.0.1:8080/", "127-0-0-1-8080"),
    ],
)
def test_slug_from_url(url: str, expected: str) -> None:
    assert slug_from_url(url) == expected


# --- Fetching, discovery and checks against a real local server -----------------------------


def test_fetch_returns_final_url_body_and_lowercased_headers(server: str) -> None:
    final_url, body, headers = fetch(f"{server}/rss")
    assert final_url == f"{server}/feed"
    assert body == RSS
    assert headers["content-type"] == XML
    assert headers["x-fixture"] == "yes"
    assert all(key == key.lower() for key in headers)


def test_fetch_sends_the_project_user_agent(server: str) -> None:
    _url, body, _headers = fetch(f"{server}/user-agent")
    assert body.decode() == USER_AGENT


def test_fetch_http_error(server: str) -> None:
    with pytest.raises(FetchError) as info:
        fetch(f"{server}/missing.xml")
    assert str(info.value) == f"{server}/missing.xml: 404 Not Found"


def test_fetch_timeout(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(f"{server}/slow", timeout=0.3)
    assert str(info.value) == f"{server}/slow: timed out"
    assert time.monotonic() - started < 1.5


def test_fetch_total_deadline_beats_a_trickling_server(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch(f"{server}/trickle", timeout=0.8)
    assert time.monotonic() - started < 2.5


def test_fetch_size_cap(server: str) -> None:
    with pytest.raises(FetchError, match="larger than 100 bytes"):
        fetch(f"{server}/big", max_bytes=100)
    assert len(fetch(f"{server}/big")[1]) == 5000


def test_fetch_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError) as info:
        fetch(f"http://127.0.0.1:{port}/", timeout=2)
    assert str(info.value) == f"http://127.0.0.1:{port}/: connection refused"


def test_fetch_refuses_non_http(server: str) -> None:
    with pytest.raises(FetchError, match="absolute http"):
        fetch("file:///etc/passwd")
    with pytest.raises(FetchError, match="redirect to a non-http"):
        fetch(f"{server}/to-ftp")


def test_discover_feeds_from_link_rel_alternate(server: str) -> None:
    # comments feed ignored, the 500 feed dropped, no fallback needed
    assert discover_feeds(f"{server}/linked/") == [f"{server}/linked/feed.xml"]


def test_discover_feeds_falls_back_to_common_paths(server: str) -> None:
    # /feed answers; /rss redirects to it and /index.xml repeats it; /feed.xml is HTML
    assert discover_feeds(f"{server}/") == [f"{server}/feed"]


def test_discover_feeds_home_page_error(server: str) -> None:
    with pytest.raises(FetchError, match="404 Not Found"):
        discover_feeds(f"{server}/nowhere/")


def test_source_from_url(server: str) -> None:
    source = source_from_url(f"{server}/linked/")
    port = server.rsplit(":", 1)[1]
    assert source == Source(
        name=f"127-0-0-1-{port}",
        url=f"{server}/linked/",
        feeds=(f"{server}/linked/feed.xml",),
    )


def test_source_from_url_with_name_appends_cleanly(server: str, tmp_path: Path) -> None:
    path = write(tmp_path, EXISTING)
    source = source_from_url(server, name="fixture")
    assert source.name == "fixture"
    assert source.feeds == (f"{server}/feed",)
    append_source(path, source)
    assert load_sources(path)[-1] == source


def test_source_from_url_rejects_bad_input() -> None:
    with pytest.raises(SourcesError, match="absolute http"):
        source_from_url("example.com")
    with pytest.raises(SourcesError, match="source name"):
        source_from_url("https://example.com/", name="Bad Name")


def test_check_source_configured_urls(server: str) -> None:
    source = Source(
        name="fixture",
        url=f"{server}/",
        feeds=(
            f"{server}/feed",
            f"{server}/rss",
            f"{server}/atom",
            f"{server}/rdf",
            f"{server}/json-feed",
            f"{server}/missing.xml",
            f"{server}/feed.xml",
            f"{server}/slow",
        ),
        sitemaps=(f"{server}/sitemap.xml", f"{server}/listing/"),
        listings=(f"{server}/listing/",),
    )
    checks = check_source(source, timeout=0.5)
    assert checks == [
        FeedCheck(f"{server}/feed", True, "200, RSS, 3 entries"),
        FeedCheck(f"{server}/rss", True, f"200, RSS, 3 entries, redirected to {server}/feed"),
        FeedCheck(f"{server}/atom", True, "200, Atom, 1 entry"),
        FeedCheck(f"{server}/rdf", True, "200, RDF, 1 entry"),
        FeedCheck(f"{server}/json-feed", True, "200, JSON Feed, 2 entries"),
        FeedCheck(f"{server}/missing.xml", False, "404 Not Found"),
        FeedCheck(f"{server}/feed.xml", False, "200, not a feed (text/html)"),
        FeedCheck(f"{server}/slow", False, "timed out"),
        FeedCheck(f"{server}/sitemap.xml", True, "200, sitemap, 2 URLs"),
        FeedCheck(f"{server}/listing/", False, "200, not a sitemap (text/html)"),
        FeedCheck(f"{server}/listing/", True, "200, HTML page, 2 article links"),
    ]


def test_check_source_without_feeds_uses_discovery(server: str) -> None:
    checks = check_source(Source(name="linked", url=f"{server}/linked/"))
    assert checks == [
        FeedCheck(f"{server}/linked/feed.xml", True, "discovered: 200, RSS, 3 entries")
    ]


def test_check_source_home_page_down(server: str) -> None:
    checks = check_source(Source(name="gone", url=f"{server}/gone/"))
    assert checks == [FeedCheck(f"{server}/gone/", False, "404 Not Found")]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BROKEN_RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
    b"<item><title>a</title><link>{{BASE}}/2024/01/a-post/</link></item>"
)
NO_ARTICLES = b"<!DOCTYPE html><html><body><p>Hi</p><a href='/about/'>About</a></body></html>"


@pytest.fixture
def odd_blogs(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Blogs a crawl gets nothing from, though each answers: their base URLs by name."""
    from aggregator.demo.server import SiteGroup
    from tests.support.routes import bytes_route

    for name in ("pngblog", "brokenfeed", "noarticles"):
        (tmp_path / name).mkdir()
    routes = {
        "pngblog": {"/": bytes_route(PNG, "image/png")},
        "brokenfeed": {"/feed.xml": bytes_route(BROKEN_RSS, "application/rss+xml")},
        "noarticles": {"/": bytes_route(NO_ARTICLES)},
    }
    with SiteGroup(tmp_path, routes=routes) as group:
        yield {name: server.base_url for name, server in group.servers.items()}


def test_check_source_reads_what_the_crawl_reads_with_its_parsers(
    odd_blogs: dict[str, str],
) -> None:
    png = odd_blogs["pngblog"]
    assert check_source(Source(name="png", url=f"{png}/"), timeout=5) == [
        FeedCheck(
            f"{png}/",
            False,
            "no feed found; as a listing: 200, image/png is not HTML (sniffed from the body)",
        )
    ]
    broken = odd_blogs["brokenfeed"]
    [feed] = check_source(Source(name="b", url=f"{broken}/", feeds=(f"{broken}/feed.xml",)))
    assert not feed.ok and feed.detail.startswith("200, RSS, malformed: ")
    empty = odd_blogs["noarticles"]
    assert check_source(Source(name="n", url=f"{empty}/"), timeout=5) == [
        FeedCheck(
            f"{empty}/", False, "no feed found; as a listing: 200, HTML page without article links"
        )
    ]


def test_sources_check_command_fails_on_what_the_crawl_cannot_use(
    odd_blogs: dict[str, str], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from aggregator.cli import main

    sources = tmp_path / "sources.toml"
    sources.write_text(
        "".join(
            f'[[sources]]\nname = "{name}"\nurl = "{base}/"\n'
            + (f'feeds = ["{base}/feed.xml"]\n' if name == "brokenfeed" else "")
            for name, base in odd_blogs.items()
        )
    )
    result = CliRunner().invoke(main, ["--sources", str(sources), "sources", "check"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{sources}: 3 sources, valid"
    assert len(lines) == 4 and all(line.startswith("FAIL ") for line in lines[1:])
