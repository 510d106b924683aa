"""Tests of feed, sitemap and listing-page discovery."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.discovery import (
    MAX_SITEMAP_BYTES,
    EntryLink,
    html_to_text,
    is_non_post_sitemap,
    never_an_article,
    non_html_reason,
    parse_feed,
    parse_listing,
    parse_sitemap,
)
from aggregator.extract.dates import parse_date

FEED_URL = "https://blog.example.com/feed.xml"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title> Example  Engineering </title>
  <link>https://blog.example.com/</link>
  <ttl>90</ttl>
  <item>
    <title>Scaling Postgres to a billion rows</title>
    <link>https://blog.example.com/2024/05/scaling-postgres</link>
    <guid isPermaLink="false">post-1</guid>
    <pubDate>Wed, 01 May 2024 10:00:00 +0200</pubDate>
    <author>jane@example.com (Jane Doe)</author>
    <description>&lt;p&gt;We &lt;b&gt;scaled&lt;/b&gt; it.&lt;/p&gt;
    &lt;p&gt;Twice &amp;amp; more.&lt;/p&gt;
    &lt;script&gt;alert(1)&lt;/script&gt;</description>
  </item>
  <item>
    <title>Relative link</title>
    <link>/2024/04/relative-post</link>
    <dc:creator>Bob</dc:creator>
    <dc:creator>Alice</dc:creator>
  </item>
  <item>
    <title>Permalink guid only</title>
    <guid>https://blog.example.com/2024/03/guid-post</guid>
  </item>
  <item>
    <title>No link at all</title>
    <guid isPermaLink="false">tag:example.com,2024:4</guid>
  </item>
</channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://www.example.org/blog/">
  <title>Example Atom</title>
  <author><name>Feed Author</name></author>
  <entry>
    <title type="html">First &amp;lt;post&amp;gt;</title>
    <id>urn:uuid:1</id>
    <link rel="replies" href="/comments/1"/>
    <link rel="enclosure" type="audio/mpeg" href="/audio/1.mp3"/>
    <link rel="alternate" type="application/pdf" href="first.pdf"/>
    <link rel="alternate" type="text/html" href="2024/05/first-post"/>
    <updated>2024-05-02T08:30:00-04:00</updated>
    <summary type="html">&lt;p&gt;Hello &lt;em&gt;world&lt;/em&gt;&lt;/p&gt;</summary>
  </entry>
  <entry xml:base="/news/">
    <title>Second</title>
    <id>urn:uuid:2</id>
    <link href="second-post"/>
    <published>2024-05-03T00:00:00Z</published>
    <updated>2024-05-04T00:00:00Z</updated>
    <author><name>Entry Author</name></author>
    <author><name>Co Author</name></author>
  </entry>
</feed>
"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.net/">
    <title>RDF Site</title>
    <link>https://rdf.example.net/</link>
    <items><rdf:Seq><rdf:li resource="https://rdf.example.net/one"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example.net/one">
    <title>One</title>
    <link>https://rdf.example.net/one</link>
    <dc:date>2024-05-05T12:00:00+00:00</dc:date>
    <dc:creator>Rita</dc:creator>
    <description>Plain summary</description>
  </item>
</rdf:RDF>
"""

JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON Blog",
    "home_page_url": "https://json.example.com/",
    "feed_url": "https://json.example.com/feed.json",
    "authors": [{"name": "Feed Person"}],
    "items": [
        {
            "id": "1",
            "url": "https://json.example.com/posts/one",
            "title": "One",
            "date_published": "2024-05-06T09:00:00+02:00",
            "authors": [{"name": "Ann"}, {"name": "Ben"}],
            "summary": "Short one",
        },
        {
            "id": "2",
            "external_url": "/posts/two",
            "date_modified": "2024-05-07T00:00:00Z",
            "content_text": "Only content text",
        },
        {"id": "3", "author": {"name": "Old Style"}, "url": "https://json.example.com/3"},
        {"id": "4", "content_html": "<p>no url</p>"},
        "not an item",
    ],
}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# Feeds


def test_rss_entries_links_dates_authors_summary_ttl() -> None:
    result = parse_feed(RSS, FEED_URL, "application/rss+xml; charset=utf-8")
    assert result.kind == "rss"
    assert result.title == "Example Engineering"
    assert result.error is None
    assert result.ttl == timedelta(minutes=90)
    assert [e.url for e in result.entries] == [
        "https://blog.example.com/2024/05/scaling-postgres",
        "https://blog.example.com/2024/04/relative-post",
        "https://blog.example.com/2024/03/guid-post",
    ]
    first = result.entries[0]
    assert first.title == "Scaling Postgres to a billion rows"
    assert first.published == utc(2024, 5, 1, 8, 0)
    assert first.published.tzinfo is UTC
    assert first.authors == ("Jane Doe",)
    assert first.summary == "We scaled it. Twice & more."
    assert result.entries[1].authors == ("Bob", "Alice")
    assert result.entries[1].published is None


def test_atom_relative_links_xml_base_and_alternate_preference() -> None:
    result = parse_feed(ATOM, "https://feeds.example.org/atom.xml")
    assert result.kind == "atom"
    assert result.title == "Example Atom"
    assert result.error is None
    first, second = result.entries
    assert first.url == "https://www.example.org/blog/2024/05/first-post"
    assert first.title == "First <post>"
    assert first.published == utc(2024, 5, 2, 12, 30)
    assert first.summary == "Hello world"
    # Entries without an author inherit the feed's.
    assert first.authors == ("Feed Author",)
    assert second.url == "https://www.example.org/news/second-post"
    assert second.published == utc(2024, 5, 3)
    assert second.authors == ("Entry Author", "Co Author")


def test_atom_relative_links_without_xml_base_resolve_against_feed_url() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><title>x</title><id>1</id><link href="/posts/x"/></entry></feed>"""
    result = parse_feed(body, "https://example.com/feeds/all.atom")
    assert [e.url for e in result.entries] == ["https://example.com/posts/x"]


def test_rdf() -> None:
    result = parse_feed(RDF, "https://rdf.example.net/index.rdf")
    assert result.kind == "rdf"
    assert result.title == "RDF Site"
    assert result.entries == [
        EntryLink(
            url="https://rdf.example.net/one",
            title="One",
            published=utc(2024, 5, 5, 12),
            authors=("Rita",),
            summary="Plain summary",
        )
    ]


def test_json_feed_1_1() -> None:
    body = json.dumps(JSON_FEED).encode()
    result = parse_feed(body, "https://json.example.com/feed.json", "application/feed+json")
    assert result.kind == "jsonfeed"
    assert result.title == "JSON Blog"
    assert result.error is None
    assert result.entries == [
        EntryLink(
            "https://json.example.com/posts/one",
            "One",
            utc(2024, 5, 6, 7),
            ("Ann", "Ben"),
            "Short one",
        ),
        EntryLink(
            "https://json.example.com/posts/two",
            None,
            utc(2024, 5, 7),
            ("Feed Person",),
            "Only content text",
        ),
        EntryLink("https://json.example.com/3", None, None, ("Old Style",), None),
    ]


def test_json_feed_detected_by_content_type_and_bom() -> None:
    body = b"\xef\xbb\xbf  " + json.dumps(JSON_FEED).encode()
    assert parse_feed(body, "https://json.example.com/feed.json").kind == "jsonfeed"
    assert parse_feed(body, "https://json.example.com/f", "application/json").kind == "jsonfeed"


def test_json_feed_1_0_author_and_version_check() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1",
        "author": {"name": "Solo"},
        "items": [{"id": "a", "url": "https://e.com/a"}],
    }
    result = parse_feed(json.dumps(doc).encode(), "https://e.com/feed.json")
    assert result.error is None
    assert result.entries[0].authors == ("Solo",)
    unversioned = parse_feed(b'{"items": [{"url": "https://e.com/a"}]}', "https://e.com/f")
    assert [e.url for e in unversioned.entries] == ["https://e.com/a"]
    assert unversioned.error is not None and "version" in unversioned.error


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"items": [1, 2', b"[]", b'{"title": "no items"}', b'{"items": "nope"}'],
)
def test_json_feed_malformed(body: bytes) -> None:
    result = parse_feed(body, "https://e.com/feed.json")
    assert result.entries == []
    assert result.error


def test_truncated_rss_yields_first_entries_and_error() -> None:
    truncated = RSS[: RSS.index(b"<title>Relative link")]
    result = parse_feed(truncated, FEED_URL)
    assert result.kind == "rss"
    assert result.error
    assert [e.url for e in result.entries] == ["https://blog.example.com/2024/05/scaling-postgres"]


def test_rss_with_broken_markup_is_parsed_with_error() -> None:
    body = RSS.replace(b"<title>Relative link</title>", b"<title>Relative & link</title>")
    result = parse_feed(body, FEED_URL)
    assert result.error
    assert len(result.entries) == 3


def test_charset_complaint_is_not_an_error() -> None:
    body = (
        '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel>'
        "<title>Café</title><item><link>https://e.com/a</link></item></channel></rss>"
    ).encode("latin-1")
    result = parse_feed(body, "https://e.com/feed", "application/rss+xml; charset=utf-8")
    assert result.error is None
    assert result.title == "Café"
    assert parse_feed(RSS, FEED_URL, "text/plain").error is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\xff\xfe garbage \x00",
        b"<html><body><p>Not a feed</p></body></html>",
        b"/etc/passwd",
        b"https://example.com/feed.xml",
        b"<rss><channel><item><link>",
        b"\x89PNG\r\n\x1a\n\x00\x00",
    ],
)
def test_garbage_feed_gives_error_never_raises(body: bytes) -> None:
    result = parse_feed(body, FEED_URL)
    assert result.error
    assert result.entries == []


def test_feed_body_is_never_opened_as_a_file_name(tmp_path: Path) -> None:
    # feedparser reads a bytes argument naming an existing file from disk.
    leaked = tmp_path / "secret.xml"
    leaked.write_bytes(RSS)
    result = parse_feed(str(leaked).encode(), FEED_URL)
    assert result.entries == [] and result.title is None


def test_feed_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT")
    body = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>
<rss version="2.0"><channel><title>T &xxe;</title>
<item><title>&xxe;</title><link>https://e.com/a</link><description>&xxe;</description></item>
</channel></rss>""".encode()
    result = parse_feed(body, FEED_URL)
    assert "SECRET" not in repr(result)
    assert [e.url for e in result.entries] == ["https://e.com/a"]


def test_json_feed_wrong_types_are_ignored() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": 42,
        "items": [{"url": "https://e.com/a", "title": ["x"], "date_published": 5, "summary": {}}],
    }
    result = parse_feed(json.dumps(doc).encode(), "https://e.com/feed.json")
    assert result.title is None
    assert result.entries == [EntryLink("https://e.com/a")]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_feed_never_raises(body: bytes) -> None:
    result = parse_feed(body, FEED_URL)
    assert result.kind in {"rss", "atom", "rdf", "jsonfeed", "unknown"}


def test_html_to_text() -> None:
    assert html_to_text("<p>a</p><p>b<br>c</p>") == "a b c"
    assert html_to_text("plain   text\n") == "plain text"
    assert html_to_text("AT&amp;T <style>p{}</style>") == "AT&T"
    assert html_to_text("  ") is None
    assert html_to_text(None) is None
    assert html_to_text("a < b") == "a < b"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", utc(2024, 5, 1)),
        ("2024-05", utc(2024, 5, 1)),
        ("2024-05-01T10:00Z", utc(2024, 5, 1, 10)),
        ("2024-05-01T10:00:00.5+02:00", datetime(2024, 5, 1, 8, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01 10:00:00", utc(2024, 5, 1, 10)),
        ("Wed, 01 May 2024 10:00:00 GMT", utc(2024, 5, 1, 10)),
        ("yesterday", None),
        ("5", None),
        ("May 5", None),
        ("Tue, 05 May 2026 09:00:00 EST", utc(2026, 5, 5, 14)),
        ("", None),
        (None, None),
    ],
)
def test_feed_dates_need_a_year(value: str | None, expected: datetime | None) -> None:
    assert parse_date(value, need_year=True) == expected


# Sitemaps

SITEMAP_URL = "https://example.com/sitemap.xml"

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url><loc>https://example.com/old</loc><lastmod>2023-01-01</lastmod></url>
  <url><loc>https://example.com/undated-1</loc></url>
  <url>
    <loc> https://example.com/newest </loc>
    <lastmod>2024-05-01T10:00:00+02:00</lastmod>
    <image:image><image:loc>https://example.com/img.png</image:loc></image:image>
  </url>
  <url><loc>https://example.com/middle</loc><lastmod>2024-01-15</lastmod></url>
  <url><loc>https://example.com/undated-2</loc><lastmod>not a date</lastmod></url>
  <url><loc>https://example.com/same-day-a</loc><lastmod>2023-06-01</lastmod></url>
  <url><loc>https://example.com/same-day-b</loc><lastmod>2023-06-01</lastmod></url>
  <url><loc>mailto:someone@example.com</loc></url>
  <url><loc>https://example.com/old</loc></url>
</urlset>
"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://example.com/sitemap-posts-2023.xml</loc><lastmod>2023-12-31</lastmod></sitemap>
  <sitemap><loc>https://example.com/sitemap-posts-2024.xml.gz</loc><lastmod>2024-05-01</lastmod></sitemap>
  <sitemap><loc>/sitemap-pages.xml</loc></sitemap>
</sitemapindex>
"""

NEWS = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://news.example.com/a</loc>
    <news:news>
      <news:publication><news:name>Ex</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2024-05-02T12:00:00Z</news:publication_date>
      <news:title>A</news:title>
    </news:news>
  </url>
  <url>
    <loc>https://news.example.com/b</loc>
    <lastmod>2024-05-03</lastmod>
    <news:news><news:publication_date>2020-01-01</news:publication_date></news:news>
  </url>
</urlset>
"""


def test_urlset_sorted_newest_first_undated_last_stable() -> None:
    result = parse_sitemap(URLSET, SITEMAP_URL)
    assert result.error is None
    assert result.sitemaps == []
    assert [u.url.rsplit("/", 1)[1] for u in result.urls] == [
        "newest",
        "middle",
        "same-day-a",
        "same-day-b",
        "old",
        "undated-1",
        "undated-2",
    ]
    assert result.urls[0].lastmod == utc(2024, 5, 1, 8)
    assert result.urls[4].lastmod == utc(2023, 1, 1)
    assert result.urls[-1].lastmod is None


def test_sitemap_index() -> None:
    result = parse_sitemap(INDEX, SITEMAP_URL)
    assert result.error is None
    assert result.urls == []
    assert [s.url for s in result.sitemaps] == [
        "https://example.com/sitemap-posts-2024.xml.gz",
        "https://example.com/sitemap-posts-2023.xml",
        "https://example.com/sitemap-pages.xml",
    ]


def test_news_sitemap_publication_date_when_no_lastmod() -> None:
    result = parse_sitemap(NEWS, "https://news.example.com/news-sitemap.xml")
    assert result.error is None
    assert [(u.url, u.lastmod) for u in result.urls] == [
        ("https://news.example.com/b", utc(2024, 5, 3)),
        ("https://news.example.com/a", utc(2024, 5, 2, 12)),
    ]


def test_gzip_sitemap() -> None:
    result = parse_sitemap(gzip.compress(URLSET), SITEMAP_URL + ".gz")
    assert result.error is None
    assert result.urls == parse_sitemap(URLSET, SITEMAP_URL).urls


def test_truncated_gzip_sitemap_keeps_what_decompressed() -> None:
    body = gzip.compress(URLSET)
    result = parse_sitemap(body[: len(body) - 20], SITEMAP_URL + ".gz")
    assert result.error
    assert result.urls


def test_gzip_bomb_is_capped() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * (MAX_SITEMAP_BYTES + 10))
    result = parse_sitemap(bomb, SITEMAP_URL + ".gz")
    assert result.error is not None and "larger than" in result.error
    assert result.urls == []


def test_plain_text_sitemap() -> None:
    body = (
        b"https://example.com/a\n\n  https://example.com/b\r\nnot a url\n"
        b"ftp://example.com/c\nhttps://example.com/a\n"
    )
    result = parse_sitemap(body, "https://example.com/sitemap.txt")
    assert result.error is None
    assert [u.url for u in result.urls] == ["https://example.com/a", "https://example.com/b"]
    assert all(u.lastmod is None for u in result.urls)


def test_malformed_sitemap_keeps_what_parsed() -> None:
    truncated = URLSET[: URLSET.index(b"<url><loc>https://example.com/middle")] + b"<url><loc>htt"
    result = parse_sitemap(truncated, SITEMAP_URL)
    assert result.error
    assert {u.url for u in result.urls} == {
        "https://example.com/old",
        "https://example.com/undated-1",
        "https://example.com/newest",
    }


def test_sitemap_without_namespace_and_with_unescaped_ampersand() -> None:
    body = b"<urlset><url><loc>https://e.com/?a=1&b=2&amp;c=3&#38;d=4</loc></url></urlset>"
    result = parse_sitemap(body, "https://e.com/sitemap.xml")
    assert result.error is None
    assert [u.url for u in result.urls] == ["https://e.com/?a=1&b=2&c=3&d=4"]


def test_xxe_is_not_resolved() -> None:
    body = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
  <!ENTITY net SYSTEM "http://127.0.0.1:9/evil">
  <!ENTITY lol "lollollollollollollollollollol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://example.com/&xxe;</loc></url>
  <url><loc>https://example.com/&net;x</loc></url>
  <url><loc>https://example.com/&lol2;</loc></url>
</urlset>"""
    result = parse_sitemap(body, SITEMAP_URL)
    text = repr(result)
    assert "root:" not in text
    assert "lol" not in text
    assert "evil" not in text
    assert {u.url for u in result.urls} <= {"https://example.com/", "https://example.com/x"}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<",
        b"\x1f\x8bnot gzip",
        b"<html><body>Not found</body></html>",
        b"\x00\x01\x02",
        b'<?xml version="1.0"?><rss version="2.0"></rss>',
    ],
)
def test_garbage_sitemap_gives_error_never_raises(body: bytes) -> None:
    result = parse_sitemap(body, SITEMAP_URL)
    assert result.error
    assert result.urls == [] and result.sitemaps == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_sitemap_never_raises(body: bytes) -> None:
    parse_sitemap(body, SITEMAP_URL)
    parse_sitemap(gzip.compress(body), SITEMAP_URL)


# Listing pages

LISTING_URL = "https://blog.example.com/blog/"
SITE_URL = "https://blog.example.com/"

LISTING = b"""<!DOCTYPE html>
<html><head>
  <meta charset="utf-8">
  <title>Blog</title>
  <link rel="stylesheet" href="/assets/site.css">
  <link rel="alternate" type="application/rss+xml" href="/feed/">
  <link rel="next" href="/blog/page/2/">
</head>
<body>
<header class="site-header">
  <h1 class="site-title"><a href="/">Example Blog</a></h1>
  <nav class="main-nav"><ul>
    <li><a href="/blog/">Blog</a></li>
    <li><a href="/about/">About</a></li>
    <li><a href="/2024/01/featured-post-in-the-menu/">Featured</a></li>
    <li><a href="https://twitter.com/example">Twitter</a></li>
    <li><a href="/login">Log in</a></li>
  </ul></nav>
</header>
<main>
  <article class="post type-post">
    <header class="entry-header">
      <h2 class="entry-title">
        <a href="/2024/05/14/shipping-faster/" rel="bookmark">Shipping faster</a>
      </h2>
      <span class="byline"><a href="/author/jane/" rel="author">Jane</a></span>
    </header>
    <div class="entry-content">
      <p>Intro <a href="#more">more</a> and <a href="/wp-content/uploads/diagram.png">diagram</a>.
      See <a href="/docs/setup.pdf">the PDF</a>
      and <a href="/2024/05/14/shipping-faster/#comments">3 comments</a>.</p>
    </div>
    <footer class="entry-footer">
      <a href="/category/engineering/" rel="category tag">Engineering</a>
      <a href="/tag/ci/" rel="tag">CI</a>
    </footer>
  </article>
  <article class="post">
    <h2><a href="https://blog.example.com/hello">Hello</a></h2>
    <p>A short post whose slug is one word, found by its heading.</p>
    <a href="/hello?utm_source=x#top">Read more</a>
  </article>
  <div class="post-card">
    <a class="post-card-link" href="/how-we-built-our-search-engine/">
      <span>How we built search</span>
    </a>
  </div>
  <div class="teaser"><a href="/posts/42">Post 42</a></div>
  <div class="teaser"><a href="/p/substack-style">Substack style</a></div>
  <div class="teaser"><a href="/articles/rust-in-production">Rust</a></div>
  <div class="teaser"><a href="http://blog.example.com/2023/12/old-http-post">Old http</a></div>
  <div class="teaser"><a href="https://cdn.example.com/2024/02/same-registered-domain-post">CDN</a></div>
  <div class="teaser"><a href="https://other.org/2024/05/someone-elses-great-post">Elsewhere</a></div>
  <div class="teaser"><a href="/2024/05/">May 2024 archive</a></div>
  <div class="teaser"><a href="/blog/2024">2024</a></div>
  <div class="teaser"><a href="/search/?q=rust">Search</a></div>
  <div class="teaser"><a href="/?s=postgres">Search WP</a></div>
  <div class="teaser"><a href="/?p=123">WordPress plain permalink</a></div>
  <div class="teaser"><a href="/feed/atom/">Atom</a></div>
  <div class="teaser"><a href="/wp-admin/post-new-thing.php">Admin</a></div>
  <div class="teaser"><a href="/shipping-faster-with-ci/?replytocom=5">Reply</a></div>
  <div class="teaser"><a href="javascript:void(0)">JS</a> <a href="mailto:a@b.c">Mail</a></div>
  <div class="teaser"><a href="/contact">Contact</a></div>
  <div class="teaser"><a href="/assets/some-big-file-name.zip">Zip</a></div>
</main>
<nav class="navigation posts-navigation">
  <div class="nav-links">
    <div class="nav-previous"><a href="/blog/page/2/">Older posts</a></div>
  </div>
</nav>
<aside class="sidebar">
  <section class="widget"><h3>Recent</h3><ul>
    <li><a href="/2022/02/a-sidebar-only-post-link/">Sidebar</a></li>
  </ul></section>
</aside>
<footer class="site-footer">
  <a href="/privacy-policy-and-cookie-rules/">Privacy</a>
  <a href="/page/2/">2</a>
</footer>
</body></html>
"""


def test_listing_article_urls_in_document_order() -> None:
    # Not: nav, author, tag, category, asset, archive, search, feed, admin, other-site and
    # footer links, nor the one-word "Read more" link outside a heading.
    result = parse_listing(LISTING, LISTING_URL, SITE_URL)
    assert result.article_urls == [
        "https://blog.example.com/2024/05/14/shipping-faster/",
        "https://blog.example.com/hello",
        "https://blog.example.com/how-we-built-our-search-engine/",
        "https://blog.example.com/posts/42",
        "https://blog.example.com/p/substack-style",
        "https://blog.example.com/articles/rust-in-production",
        "http://blog.example.com/2023/12/old-http-post",
        "https://cdn.example.com/2024/02/same-registered-domain-post",
        "https://blog.example.com/?p=123",
    ]


def test_listing_next_pages() -> None:
    result = parse_listing(LISTING, LISTING_URL, SITE_URL)
    assert result.next_pages == ["https://blog.example.com/blog/page/2/"]


def test_listing_page_n_links_to_n_plus_one_only() -> None:
    body = b"""<html><body>
      <div class="pagination">
        <a href="/blog/page/1/">1</a><a href="/blog/page/2/">2</a>
        <a href="/blog/page/3/">3</a><a href="/blog/page/4/">4</a>
        <a href="/other/page/4/">4 elsewhere</a>
      </div>
      <a href="/other?page=4">query 4 elsewhere</a>
    </body></html>"""
    result = parse_listing(body, "https://e.com/blog/page/3/", "https://e.com/")
    assert result.next_pages == ["https://e.com/blog/page/4/"]
    query = parse_listing(
        b'<a href="?page=2">2</a><a href="?page=3">3</a><a href="/x?page=3">x</a>',
        "https://e.com/list?page=2",
        "https://e.com",
    )
    assert query.next_pages == ["https://e.com/list?page=3"]


@pytest.mark.parametrize(
    "anchor",
    [
        b'<a class="next page-numbers" href="/list/two">x</a>',
        b'<li class="next"><a href="/list/two">x</a></li>',
        b'<a href="/list/two">Next page</a>',
        b'<a href="/list/two">Older Posts &rarr;</a>',
        b'<a href="/list/two">&raquo;</a>',
        b'<a href="/list/two">\xe2\x80\xba</a>',
        b'<a rel="next" href="/list/two">x</a>',
    ],
)
def test_listing_next_page_anchor_forms(anchor: bytes) -> None:
    body = b"<html><body><p>" + anchor + b"</p></body></html>"
    result = parse_listing(body, "https://e.com/list", "https://e.com/")
    assert result.next_pages == ["https://e.com/list/two"]
    assert result.article_urls == []


def test_listing_newer_posts_link_is_not_next() -> None:
    body = b"""<div class="nav-next"><a href="/blog/">Newer posts</a></div>
    <a href="/blog/page/1/">1</a>"""
    result = parse_listing(body, "https://e.com/blog/page/2/", "https://e.com/")
    assert result.next_pages == []


def test_listing_base_href_and_other_site() -> None:
    body = b"""<html><head><base href="https://blog.example.com/en/"></head><body>
      <h2><a href="2024/05/relative-to-base">x</a></h2></body></html>"""
    result = parse_listing(body, "https://blog.example.com/", "https://blog.example.com/")
    assert result.article_urls == ["https://blog.example.com/en/2024/05/relative-to-base"]
    assert parse_listing(body, "https://blog.example.com/", "https://other.com/").article_urls == []


def test_listing_github_pages_users_are_different_sites() -> None:
    body = b"""<a href="https://alice.github.io/2024/05/my-first-post">a</a>
    <a href="https://bob.github.io/2024/05/his-first-post">b</a>"""
    result = parse_listing(body, "https://alice.github.io/", "https://alice.github.io/")
    assert result.article_urls == ["https://alice.github.io/2024/05/my-first-post"]


def test_listing_on_localhost() -> None:
    body = b'<article><h2><a href="/posts/demo">Demo</a></h2></article>'
    result = parse_listing(body, "http://127.0.0.1:8000/", "http://127.0.0.1:8000/")
    assert result.article_urls == ["http://127.0.0.1:8000/posts/demo"]


@pytest.mark.parametrize("body", [b"", b"   ", b"\x00\xff", b"<", b"not html at all"])
def test_listing_garbage(body: bytes) -> None:
    assert parse_listing(body, LISTING_URL, SITE_URL).article_urls == []


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_parse_listing_never_raises(body: bytes) -> None:
    parse_listing(body, LISTING_URL, SITE_URL)


# Content sniffing


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("text/html; charset=utf-8", b"<!doctype html><p>x", None),
        ("application/xhtml+xml", b"<?xml version='1.0'?><html/>", None),
        (None, b"\xef\xbb\xbf  <!DOCTYPE html><html>", None),
        ("application/octet-stream", b"<html><body>x", None),
        ("text/plain", b"\n<div class='x'>hi</div>", None),
        ("application/pdf", b"%PDF-1.7 ...", "application/pdf is not HTML (sniffed from the body)"),
        ("text/html", b"%PDF-1.7 ...", "application/pdf is not HTML (sniffed from the body)"),
        ("text/html", b"\x89PNG\r\n\x1a\n....", "image/png is not HTML (sniffed from the body)"),
        (None, b"\xff\xd8\xff\xe0JFIF", "image/jpeg is not HTML (sniffed from the body)"),
        ("text/html", b"GIF89a....", "image/gif is not HTML (sniffed from the body)"),
        ("image/png", b"not really a png", "image/png is not HTML"),
        ("application/pdf", b"garbage", "application/pdf is not HTML"),
        ("application/json", b'{"a": 1}', "application/json is not HTML"),
        ("text/plain", b"just words", "text/plain is not HTML"),
        (None, b"just words", "body does not look like HTML"),
        ("text/html", b"", "empty body"),
        ("text/html", b"  \n", "empty body"),
    ],
)
def test_non_html_reason(content_type: str | None, body: bytes, reason: str | None) -> None:
    assert non_html_reason(content_type, body) == reason


def test_mislabelled_html_is_html() -> None:
    # A server that calls its page image/png still serves a page when the body is one.
    assert non_html_reason("image/png", b"<!DOCTYPE html><html><body>x</body></html>") is None


@pytest.mark.parametrize(
    ("markup", "found"),
    [
        # one-word slugs need a heading
        (b'<article><h2><a href="/hello">x</a></h2></article>', True),
        (b'<main><div><header><h2><a href="/hello">x</a></h2></header></div></main>', True),
        (b'<div class="card"><header><h2><a href="/hello">x</a></h2></header></div>', False),
        (b'<main><section><h3><a href="/hello">x</a></h3></section></main>', True),
        (b'<article><p><a href="/hello">x</a></p></article>', False),
        (b'<div><a href="/hello">x</a></div>', False),
        (b'<body><header><h1><a href="/hello">Site</a></h1></header></body>', False),
        # post-like URLs, unless in the page's chrome
        (b'<div><a href="/2024/05/dated">x</a></div>', True),
        (b'<nav><a href="/2024/05/dated">x</a></nav>', False),
        (b'<body><footer><a href="/three-word-slug">x</a></footer></body>', False),
        (b'<div class="post-navigation"><a href="/three-word-slug">x</a></div>', False),
        (b'<aside><article class="post"><a href="/three-word-slug">x</a></article></aside>', True),
        (b'<article><footer class="entry-footer"><a href="/three-word-slug">x</a></footer>', True),
    ],
)
def test_listing_context_scores(markup: bytes, found: bool) -> None:
    result = parse_listing(markup, "https://e.com/blog", "https://e.com/")
    assert bool(result.article_urls) is found


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["url", "title", "authors", "author", "name", "summary", "items"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_json_values, max_size=4), _json_values)
def test_parse_json_feed_never_raises(items: list[object], authors: object) -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": items, "authors": authors}
    result = parse_feed(json.dumps(doc).encode(), "https://e.com/feed.json")
    assert result.kind == "jsonfeed"
    assert all(isinstance(a, str) for e in result.entries for a in e.authors)


@pytest.mark.parametrize(
    ("url", "skipped"),
    [
        ("https://example.com/post-sitemap.xml", False),
        ("https://example.com/sitemap-posts-2024.xml.gz", False),
        ("https://example.com/wp-sitemap-posts-post-1.xml", False),
        ("https://example.com/news-sitemap.xml", False),
        ("https://example.com/post_tag-sitemap.xml", True),
        ("https://example.com/category-sitemap.xml", True),
        ("https://example.com/author-sitemap.xml", True),
        ("https://example.com/page-sitemap2.xml", True),
        ("https://example.com/product-sitemap.xml", True),
        ("https://example.com/wp-sitemap-taxonomies-category-1.xml", True),
        ("https://example.com/wp-sitemap-users-1.xml", True),
        ("https://example.com/wp-sitemap-posts-page-1.xml", True),
        ("https://shop.example/sitemap_products_1.xml?from=1&to=99", True),
        ("https://example.com/sitemap-pages.xml", True),
    ],
)
def test_sitemaps_of_tags_categories_authors_pages_and_products_are_recognised(
    url: str, skipped: bool
) -> None:
    assert is_non_post_sitemap(url) is skipped


def test_urls_that_are_never_articles() -> None:
    assert never_an_article("https://example.com/tag/rust/")
    assert never_an_article("https://example.com/category/news/page/2/")
    assert never_an_article("https://example.com/author/jane-doe/")
    assert never_an_article("https://example.com/")
    assert not never_an_article("https://example.com/2026/11/a-post/")
    assert not never_an_article("https://example.com/shop/ceramic-mug/")  # the page tells


def test_a_json_feed_of_the_http_version_url_is_read_by_the_crawl_as_by_sources_check() -> None:
    body = json.dumps(
        {
            "version": "http://jsonfeed.org/version/1",
            "title": "Early adopter",
            "items": [{"id": "1", "url": "https://json.example.com/first", "title": "First"}],
        }
    ).encode()
    result = parse_feed(body, "https://json.example.com/feed.json")
    assert result.error is None
    assert [entry.url for entry in result.entries] == ["https://json.example.com/first"]
