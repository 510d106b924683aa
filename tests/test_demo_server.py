"""The demo blogs and their server: real HTTP on 127.0.0.1, feeds and sitemaps that parse."""

from __future__ import annotations

import http.client
import json
import threading
import time
import tomllib
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from lxml import etree, html

from aggregator.demo.server import DEMO_SITES, SiteGroup, SiteServer
from tests.support import SEED_SAMPLE, SEED_TITLE
from tests.support.routes import (
    bytes_route,
    redirect_route,
    reset_route,
    slow_route,
    status_route,
)

FAULTY = Path(__file__).resolve().parent / "sites" / "faulty"
TEXT_SUFFIXES = {".html", ".xml", ".json", ".txt", ".toml", ".atom", ".rss"}
SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}

SEED_PATH = "/2026/11/20/microsoft-continuing-fight-warrants-overseas-data/"
REPAIR_ORIGINAL = "/2026/11/23/europe-right-to-repair-phones-tablets/"
REPAIR_COPY = "/news/2026/11/eu-right-to-repair-rules-cover-smartphones-tablets.html"

# Where each demo site keeps the article body, and which pages are articles
ARTICLE_BODY = {
    "techpulse": "//div[contains(@class, 'entry-content')]/p",
    "kernelnotes": "//div[@class='post-content']/p",
    "devwire": "//div[@class='article-body']/p",
}
ARTICLE_GLOB = {
    "techpulse": "2026/*/*/*/index.html",
    "kernelnotes": "posts/*/index.html",
    "devwire": "news/*/*/*.html",
}


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Return status, headers and body of a request, without raising on HTTP errors."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def url_path(file: Path, root: Path) -> str:
    """Return the URL path that serves a file of a site folder."""
    return "/" + file.relative_to(root).as_posix()


def paragraphs(page: bytes, xpath: str) -> list[str]:
    """Return the text of the paragraphs an XPath selects in an HTML page."""
    return [p.text_content() for p in html.fromstring(page).xpath(xpath)]


def article_files(site: str) -> list[Path]:
    """Return the article pages of a demo site."""
    return sorted((DEMO_SITES / site).glob(ARTICLE_GLOB[site]))


@pytest.fixture(scope="module")
def group() -> Iterator[SiteGroup]:
    with SiteGroup(DEMO_SITES) as started:
        yield started


@pytest.fixture
def tiny_site(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "dir").mkdir(parents=True)
    (root / "index.html").write_text("<p>home {{BASE}}</p>", encoding="utf-8")
    (root / "page.html").write_text("<a href='{{BASE:other}}/x'>{{BASE:nobody}}</a>")
    (root / "dir" / "index.html").write_text("<p>dir</p>", encoding="utf-8")
    (root / "data.json").write_text('{"a": "{{BASE}}"}', encoding="utf-8")
    (root / "source.toml").write_text('name = "tiny"\nurl = "{{BASE}}/"\n', encoding="utf-8")
    return root


def test_demo_sites_are_the_three_blogs(group: SiteGroup) -> None:
    assert set(group.servers) == {"techpulse", "kernelnotes", "devwire"}
    ports = {urlsplit(s.base_url).port for s in group.servers.values()}
    assert len(ports) == 3
    assert all(s.base_url.startswith("http://127.0.0.1:") for s in group.servers.values())
    assert group.bases == {name: s.base_url for name, s in group.servers.items()}


def test_every_served_text_file_has_its_placeholders_filled(group: SiteGroup) -> None:
    for name, server in group.servers.items():
        for file in sorted(server.root.rglob("*")):
            if not file.is_file() or file.name == "source.toml":
                continue
            status, _, body = fetch(server.url(url_path(file, server.root)))
            assert status == 200, file
            if file.suffix in TEXT_SUFFIXES:
                assert b"{{" not in body, file
                if b"{{BASE}}" in file.read_bytes():
                    assert server.base_url.encode() in body, file
            else:
                assert body == file.read_bytes(), file
        assert fetch(server.url("/source.toml"))[0] == 404, name


def test_placeholders_of_other_sites_point_at_their_servers(group: SiteGroup) -> None:
    techpulse = group["techpulse"].base_url
    _, _, page = fetch(group["devwire"].url(REPAIR_COPY))
    assert f'href="{techpulse}{REPAIR_ORIGINAL}"'.encode() in page


@pytest.mark.parametrize(
    ("site", "path", "content_type"),
    [
        ("techpulse", "/", "text/html; charset=utf-8"),
        ("techpulse", SEED_PATH, "text/html; charset=utf-8"),
        ("techpulse", "/feed/", "application/rss+xml"),
        ("techpulse", "/robots.txt", "text/plain; charset=utf-8"),
        (
            "techpulse",
            "/wp-content/uploads/2026/11/fcc-next-cto-expert-net-neutrality.png",
            "image/png",
        ),
        ("kernelnotes", "/atom.xml", "application/xml"),
        ("kernelnotes", "/posts/page/2/", "text/html; charset=utf-8"),
        ("kernelnotes", "/css/main.css", "text/css"),
        ("devwire", "/feed.json", "application/feed+json"),
        ("devwire", "/sitemap.xml", "application/xml"),
        ("devwire", REPAIR_COPY, "text/html; charset=utf-8"),
    ],
)
def test_content_types(group: SiteGroup, site: str, path: str, content_type: str) -> None:
    status, headers, body = fetch(group[site].url(path))
    assert status == 200
    assert headers["Content-Type"].startswith(content_type)
    assert int(headers["Content-Length"]) == len(body)


def test_missing_page_is_a_small_html_404(group: SiteGroup) -> None:
    status, headers, body = fetch(group["kernelnotes"].url("/posts/no-such-post/"))
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert b"Not Found" in body


def test_directory_serves_its_index_and_redirects_without_slash(group: SiteGroup) -> None:
    server = group["techpulse"]
    _, _, with_slash = fetch(server.url(SEED_PATH))
    assert SEED_TITLE.encode() in with_slash
    with urllib.request.urlopen(server.url(SEED_PATH.rstrip("/")), timeout=10) as response:
        assert response.url == server.url(SEED_PATH)
        assert response.read() == with_slash
    assert fetch(server.url("/wp-content/uploads/"))[0] == 404


def test_head_answers_headers_without_body(group: SiteGroup) -> None:
    status, headers, body = fetch(group["devwire"].url("/feed.json"), method="HEAD")
    _, _, full = fetch(group["devwire"].url("/feed.json"))
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == len(full)


@pytest.mark.parametrize("path", ["/../server.py", "/%2e%2e/server.py", "/.hidden", "/source.toml"])
def test_files_outside_the_site_are_not_served(group: SiteGroup, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", urlsplit(group["devwire"].base_url).port)
    connection.request("GET", path)
    assert connection.getresponse().status == 404
    connection.close()


def test_sources_toml_is_valid_and_points_at_the_running_servers(group: SiteGroup) -> None:
    sources = {s["name"]: s for s in tomllib.loads(group.sources_toml())["sources"]}
    assert set(sources) == {"techpulse", "kernelnotes", "devwire"}
    for name, source in sources.items():
        assert source["url"] == group[name].base_url + "/"
        for url in [source["url"], *source.get("feeds", []), *source.get("sitemaps", [])]:
            assert url.startswith(group[name].base_url)
            assert fetch(url)[0] == 200, url
    assert sources["techpulse"]["feeds"] == [group["techpulse"].url("/feed/")]
    assert "feeds" not in sources["kernelnotes"]
    assert sources["kernelnotes"]["listings"] == [group["kernelnotes"].url("/posts/")]
    assert sources["devwire"]["feeds"] == [group["devwire"].url("/feed.json")]
    assert sources["devwire"]["sitemaps"] == [group["devwire"].url("/sitemap.xml")]


def test_site_server_fills_placeholders_and_knows_other_sites(tiny_site: Path) -> None:
    bases = {"other": "http://other.example"}
    with SiteServer(tiny_site, "tiny", bases=bases) as server:
        assert bases["tiny"] == server.base_url
        assert fetch(server.url("/"))[2] == f"<p>home {server.base_url}</p>".encode()
        # An unknown site name stays visible rather than turning into a wrong URL
        page = fetch(server.url("page.html"))[2]
        assert page == b"<a href='http://other.example/x'>{{BASE:nobody}}</a>"
        _, headers, body = fetch(server.url("/data.json"))
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"a": server.base_url}
        assert fetch(server.url("/dir/"))[2] == b"<p>dir</p>"
        assert tomllib.loads(server.source_toml())["sources"] == [
            {"name": "tiny", "url": server.base_url + "/"}
        ]
    assert "tiny" not in bases
    with pytest.raises(RuntimeError):
        server.base_url  # noqa: B018


def test_routes_override_files_match_the_path_and_see_the_query(tiny_site: Path) -> None:
    def echo(handler: BaseHTTPRequestHandler) -> None:
        bytes_route(f"route saw {handler.path}", "text/plain")(handler)

    routes = {
        "/page.html": echo,
        "/gone/": status_route(500, b"<h1>boom</h1>"),
        "/teapot": bytes_route(b"{}", "application/json", status=418, headers={"X-Demo": "1"}),
        "/moved": redirect_route("/dir/"),
    }
    with SiteServer(tiny_site, "tiny", routes) as server:
        assert (
            fetch(server.url("/page.html?utm_source=x"))[2] == b"route saw /page.html?utm_source=x"
        )
        status, _, body = fetch(server.url("/gone/"))
        assert (status, body) == (500, b"<h1>boom</h1>")
        status, headers, body = fetch(server.url("/teapot"))
        assert (status, headers["X-Demo"], headers["Content-Type"], body) == (
            418,
            "1",
            "application/json",
            b"{}",
        )
        with urllib.request.urlopen(server.url("/moved"), timeout=10) as response:
            assert response.url == server.url("/dir/")
        assert fetch(server.url("/"))[0] == 200


def test_reset_route_drops_the_connection(tiny_site: Path) -> None:
    with SiteServer(tiny_site, "tiny", {"/reset": reset_route()}) as server:
        with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
            fetch(server.url("/reset"))
        assert fetch(server.url("/"))[0] == 200


def test_slow_route_does_not_block_other_requests_nor_stop(tiny_site: Path) -> None:
    server = SiteServer(
        tiny_site, "tiny", {"/slow": slow_route(2.0, b"late"), "/stuck": slow_route(60)}
    )
    server.start()
    answers: list[bytes] = []
    slow = threading.Thread(target=lambda: answers.append(fetch(server.url("/slow"))[2]))
    slow.start()
    time.sleep(0.1)
    assert fetch(server.url("/"))[0] == 200
    assert answers == []  # the fast page was answered while the slow one still sleeps
    slow.join(10)
    assert answers == [b"late"]

    def wait_stuck() -> None:
        try:
            fetch(server.url("/stuck"))
        except (ConnectionError, http.client.HTTPException, urllib.error.URLError):
            pass  # the server hangs up on a sleeper when it stops

    stuck = threading.Thread(target=wait_stuck, daemon=True)
    stuck.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 30  # not the sleeper's 60 s


def test_hits_and_log_count_requests_per_path(tiny_site: Path) -> None:
    with SiteServer(tiny_site, "tiny") as server:
        fetch(server.url("/page.html?a=1"))
        fetch(server.url("/page.html"))
        fetch(server.url("/missing"))
        fetch(server.url("/"), method="HEAD")
        assert server.hits == {"/page.html": 2, "/missing": 1, "/": 1}
        assert server.log == [
            ("GET", "/page.html?a=1"),
            ("GET", "/page.html"),
            ("GET", "/missing"),
            ("HEAD", "/"),
        ]
        server.clear_log()
        assert not server.hits and not server.log


def test_group_routes_go_to_their_site(tiny_site: Path) -> None:
    routes = {"tiny": {"/": status_route(503)}}
    with SiteGroup(tiny_site.parent, routes) as started:
        assert fetch(started["tiny"].url("/"))[0] == 503
    with SiteGroup(DEMO_SITES, names=["kernelnotes"]) as one:
        assert list(one.servers) == ["kernelnotes"]
        assert tomllib.loads(one.sources_toml())["sources"][0]["name"] == "kernelnotes"


def listed_urls(group: SiteGroup) -> dict[str, list[str]]:
    """Return every URL the demo feeds and sitemaps list, per site."""
    tp = feedparser.parse(fetch(group["techpulse"].url("/feed/"))[2])
    kn = feedparser.parse(fetch(group["kernelnotes"].url("/atom.xml"))[2])
    dw = json.loads(fetch(group["devwire"].url("/feed.json"))[2])
    index = etree.fromstring(fetch(group["devwire"].url("/sitemap.xml"))[2])
    sitemap_urls: list[str] = []
    for loc in index.xpath("//sm:sitemap/sm:loc/text()", namespaces=SITEMAP_NS):
        sitemap = etree.fromstring(fetch(str(loc))[2])
        sitemap_urls += sitemap.xpath("//sm:url/sm:loc/text()", namespaces=SITEMAP_NS)
    return {
        "techpulse": [e.link for e in tp.entries],
        "kernelnotes": [e.link for e in kn.entries],
        "devwire": [i["url"] for i in dw["items"]],
        "devwire-sitemap": [str(u) for u in sitemap_urls],
    }


def test_feeds_and_sitemaps_parse(group: SiteGroup) -> None:
    for path, version, count in [
        ("techpulse/feed/", "rss20", 5),
        ("kernelnotes/atom.xml", "atom10", 3),
    ]:
        site, _, rest = path.partition("/")
        parsed = feedparser.parse(fetch(group[site].url("/" + rest))[2])
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert parsed.version == version
        assert len(parsed.entries) == count
        assert all(e.get("published_parsed") and e.get("author") for e in parsed.entries)
    feed = json.loads(fetch(group["devwire"].url("/feed.json"))[2])
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert len(feed["items"]) == 5
    assert all(i["content_html"] and i["date_published"] for i in feed["items"])
    index = etree.fromstring(fetch(group["devwire"].url("/sitemap.xml"))[2])
    assert etree.QName(index).localname == "sitemapindex"
    sitemap = etree.fromstring(fetch(group["devwire"].url("/sitemap-posts.xml"))[2])
    assert len(sitemap.xpath("//sm:url/sm:lastmod", namespaces=SITEMAP_NS)) == 5


def test_every_listed_url_answers_200_and_is_an_article(group: SiteGroup) -> None:
    urls = listed_urls(group)
    assert sorted(urls["devwire"]) == sorted(urls["devwire-sitemap"])
    for key, listed in urls.items():
        site = key.split("-")[0]
        assert listed and len(set(listed)) == len(listed)
        for url in listed:
            assert url.startswith(group[site].base_url)
            status, _, body = fetch(url)
            assert status == 200, url
            assert len(paragraphs(body, ARTICLE_BODY[site])) >= 2, url


def test_kernelnotes_needs_its_listing_pages_and_autodiscovery(group: SiteGroup) -> None:
    server = group["kernelnotes"]
    home = html.fromstring(fetch(server.url("/"))[2])
    alternate = home.xpath("//link[@rel='alternate']")
    assert [(a.get("type"), a.get("href")) for a in alternate] == [
        ("application/atom+xml", server.url("/atom.xml"))
    ]
    found: list[str] = []
    url: str | None = server.url("/posts/")
    while url:
        page = html.fromstring(fetch(url)[2])
        found += page.xpath("//li[@class='post-entry']/h2/a/@href")
        nexts = page.xpath("//head/link[@rel='next']/@href")
        older = page.xpath("//a[@rel='next' and contains(., 'Older posts')]/@href")
        assert nexts == older
        url = nexts[0] if nexts else None
    posts = sorted(
        p.parent.name for p in (DEMO_SITES / "kernelnotes" / "posts").glob("*/index.html")
    )
    assert sorted(u.rstrip("/").rsplit("/", 1)[-1] for u in found) == posts
    assert len(posts) >= 7
    in_feed = set(listed_urls(group)["kernelnotes"])
    assert len(in_feed) == 3 and in_feed < set(found)


def test_seed_post_is_the_seed_article_with_its_clutter(group: SiteGroup) -> None:
    page = fetch(group["techpulse"].url(SEED_PATH))[2]
    seed_paragraphs = SEED_SAMPLE.read_text(encoding="utf-8").split("\n\n")[2:4]
    assert paragraphs(page, ARTICLE_BODY["techpulse"]) == [p.strip() for p in seed_paragraphs]
    tree = html.fromstring(page)
    assert tree.xpath("string(//h1[@class='entry-title'])") == SEED_TITLE
    text = tree.text_content()
    for clutter in [
        "What do you think?",
        "Written by Connor Livingston",
        "Connor Livingston is a tech blogger who",
        "Leave a Reply",
        "Your email address will not be published.",
        "Required fields are marked *",
        "GIPHY App Key not set. Please check settings",
        "The FCC’s next CTO is an expert on net neutrality",
        "The Galaxy Note 4 has been spotted on Samsung’s website",
    ]:
        assert clutter in text, clutter
    assert tree.xpath("//img[@alt='Avatar of Connor Livingston']")
    assert tree.xpath("//article[contains(@class, 'post')]//div[contains(@class, 'entry-content')]")
    assert tree.xpath("//div[@id='respond']") and tree.xpath(
        "//nav[contains(@class, 'post-navigation')]"
    )


def test_republished_post_has_the_same_body_and_no_canonical(group: SiteGroup) -> None:
    original = fetch(group["techpulse"].url(REPAIR_ORIGINAL))[2]
    copy = fetch(group["devwire"].url(REPAIR_COPY))[2]
    assert paragraphs(original, ARTICLE_BODY["techpulse"]) == paragraphs(
        copy, ARTICLE_BODY["devwire"]
    )
    assert not html.fromstring(copy).xpath("//link[@rel='canonical']")


def test_demo_articles_are_substantial_english_posts() -> None:
    counts = {}
    for site in ARTICLE_BODY:
        files = article_files(site)
        counts[site] = len(files)
        for file in files:
            body = paragraphs(file.read_bytes(), ARTICLE_BODY[site])
            assert 2 <= len(body) <= 5, file
            assert all(len(p.split()) >= 60 for p in body), file
    assert counts == {"techpulse": 5, "kernelnotes": 8, "devwire": 5}


def test_devwire_articles_carry_newsarticle_json_ld(group: SiteGroup) -> None:
    for file in article_files("devwire"):
        page = fetch(group["devwire"].url(url_path(file, DEMO_SITES / "devwire")))[2]
        scripts = html.fromstring(page).xpath("//script[@type='application/ld+json']/text()")
        data = json.loads(scripts[0])
        assert data["@type"] == "NewsArticle"
        assert data["headline"] and data["author"][0]["name"] and data["datePublished"]


def test_robots_txt(group: SiteGroup) -> None:
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(fetch(group["techpulse"].url("/robots.txt"))[2].decode().splitlines())
    assert parser.can_fetch("*", group["techpulse"].url(SEED_PATH))
    assert not parser.can_fetch("*", group["techpulse"].url("/wp-admin/options.php"))
    for site in ("kernelnotes", "devwire"):
        assert fetch(group[site].url("/robots.txt"))[0] == 200


def test_faulty_site_misbehaves_as_documented() -> None:
    with SiteServer(FAULTY, "faulty", {"/broken/": status_route(500)}) as server:
        source = tomllib.loads(server.source_toml())["sources"][0]
        assert source["feeds"] == [server.url("/feed.xml")]
        assert source["sitemaps"] == [server.url("/sitemap.xml")]
        feed = feedparser.parse(fetch(server.url("/feed.xml"))[2])
        assert feed.bozo == 1
        assert [urlsplit(e.link).path for e in feed.entries] == [
            "/good-1/",
            "/good-2/",
            "/missing/",
            "/broken/",
            "/slow/",
            "/report.pdf",
            "/private/notes/",
            "/empty/",
        ]
        sitemap_body = fetch(server.url("/sitemap.xml"))[2]
        with pytest.raises(etree.XMLSyntaxError):
            etree.fromstring(sitemap_body)
        recovered = etree.fromstring(sitemap_body, etree.XMLParser(recover=True))
        locs = recovered.xpath("//sm:loc/text()", namespaces=SITEMAP_NS)
        assert urlsplit(str(locs[0])).path == "/good-3/"
        for path in ("/good-1/", "/good-2/", "/good-3/"):
            status, _, body = fetch(server.url(path))
            assert status == 200 and len(paragraphs(body, "//article/p")) >= 2
        assert fetch(server.url("/missing/"))[0] == 404
        assert fetch(server.url("/broken/"))[0] == 500
        status, headers, body = fetch(server.url("/report.pdf"))
        assert headers["Content-Type"] == "application/pdf"
        assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
        empty = html.fromstring(fetch(server.url("/empty/"))[2])
        assert not empty.xpath("//article") and len(empty.xpath("//a")) >= 3
