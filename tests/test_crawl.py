"""End to end: `scrapy crawl techblogs` against blogs on 127.0.0.1, into SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from aggregator.crawling import scrapy_crawl_command
from aggregator.demo.run import SITES as DEMO_SITES
from aggregator.demo.server import SiteGroup
from aggregator.sources import slug_from_url
from aggregator.store import frontier
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, CrawlRun, Source
from tests.support import (
    CLUTTER_LINES,
    FAST_CRAWL,
    ROOT,
    SEED_SAMPLE,
    SITES,
    last_run,
    scrapy_crawl,
    stored,
)
from tests.support.routes import slow_route, status_route


@pytest.fixture(scope="module")
def demo_group() -> Iterator[SiteGroup]:
    with SiteGroup(DEMO_SITES) as group:
        yield group


@pytest.fixture
def demo_sources(demo_group: SiteGroup, tmp_path: Path) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(demo_group.sources_toml(), encoding="utf-8")
    for server in demo_group.servers.values():
        server.hits.clear()
    return path


def article_hits(group: SiteGroup) -> dict[str, int]:
    """Requests per path that were article pages (not feeds, sitemaps, listings, robots)."""
    hits: dict[str, int] = {}
    for name, server in group.servers.items():
        for path, count in server.hits.items():
            if path.endswith((".xml", ".json", "/feed/", "robots.txt")) or path in {"/"}:
                continue
            if "/page/" in path or path.rstrip("/").endswith("/posts"):
                continue
            hits[f"{name}{path}"] = count
    return hits


def test_demo_blogs_are_stored_clean_and_once(
    demo_group: SiteGroup, demo_sources: Path, db_url: str
) -> None:
    result = scrapy_crawl(demo_sources, db_url)
    assert result.returncode == 0, result.stderr[-3000:]
    articles = stored(db_url)
    by_source: dict[str, list[dict[str, object]]] = {}
    for article in articles:
        by_source.setdefault(str(article["source"]), []).append(article)
    assert set(by_source) == set(demo_group.servers)
    for article in articles:
        text = str(article["text"])
        for clutter in CLUTTER_LINES:
            assert clutter not in text, (article["url"], clutter)
        assert not text.startswith(str(article["title"]))
    seed = [
        a
        for a in articles
        if a["title"] == "Microsoft is continuing its fight against warrants overseas data"
    ]
    assert len(seed) == 1
    paragraphs = SEED_SAMPLE.read_text(encoding="utf-8").split("\n\n")[2:4]
    assert seed[0]["text"] == "\n\n".join(p.strip() for p in paragraphs)
    assert seed[0]["authors"] == ["Connor Livingston"]
    copies = [a for a in articles if a["duplicate_of"] is not None]
    assert len(copies) == 1
    original = next(a for a in articles if a["id"] == copies[0]["duplicate_of"])
    assert original["source"] != copies[0]["source"]
    assert original["text"] == copies[0]["text"]
    run = last_run(db_url)
    assert run["status"] == "finished"
    assert run["articles_stored"] == len(articles)


def test_second_crawl_fetches_no_article_twice_unless_refresh(
    demo_group: SiteGroup, demo_sources: Path, db_url: str
) -> None:
    assert scrapy_crawl(demo_sources, db_url).returncode == 0
    first = stored(db_url)
    hits_after_first = article_hits(demo_group)
    assert hits_after_first and all(count == 1 for count in hits_after_first.values())
    result = scrapy_crawl(demo_sources, db_url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert article_hits(demo_group) == hits_after_first
    assert len(stored(db_url)) == len(first)
    stats = last_run(db_url)["stats"]
    assert isinstance(stats, dict)
    # unchanged feeds and sitemaps answer 304 and are not parsed again; the listings' links
    # to stored posts are skipped without a request
    assert stats.get("aggregator/not_modified", 0) >= 3
    assert stats.get("aggregator/feeds_parsed", 0) == 0
    assert stats.get("aggregator/known_skipped", 0) >= 1
    assert scrapy_crawl(demo_sources, db_url, "-a", "refresh=1").returncode == 0
    refreshed = article_hits(demo_group)
    assert sum(refreshed.values()) > sum(hits_after_first.values())
    assert len(stored(db_url)) == len(first)
    assert last_run(db_url)["stats"].get("aggregator/store/unchanged", 0) > 0  # type: ignore[union-attr]


def test_limit_and_source_selection(
    demo_group: SiteGroup, demo_sources: Path, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'limited.db'}"
    result = scrapy_crawl(demo_sources, db_url, "-a", "source=kernelnotes", "-a", "limit=2")
    assert result.returncode == 0, result.stderr[-3000:]
    articles = stored(db_url)
    assert len(articles) == 2
    assert {a["source"] for a in articles} == {"kernelnotes"}


def test_listing_pagination_finds_posts_the_feed_does_not_list(
    demo_group: SiteGroup, demo_sources: Path, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'listing.db'}"
    result = scrapy_crawl(demo_sources, db_url, "-a", "source=kernelnotes")
    assert result.returncode == 0, result.stderr[-3000:]
    server = demo_group.servers["kernelnotes"]
    assert server.hits["/atom.xml"] == 1  # discovered from <link rel=alternate>
    assert server.hits["/posts/page/2/"] == 1
    assert len(stored(db_url)) >= 7


def test_single_url(demo_group: SiteGroup, demo_sources: Path, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'one.db'}"
    post = demo_group.servers["kernelnotes"].url("/posts/sched-ext-tour/")
    one = scrapy_crawl(demo_sources, db_url, "-a", f"url={post}")
    assert one.returncode == 0, one.stderr[-3000:]
    assert [(a["source"], a["url"]) for a in stored(db_url)] == [("kernelnotes", post)]
    assert sum(demo_group.servers["kernelnotes"].hits.values()) == 2  # robots.txt and the post
    home = demo_group.servers["devwire"].base_url + "/"
    listing = scrapy_crawl(demo_sources, db_url, "-a", f"url={home}")
    assert listing.returncode == 0
    # The home page is a listing, not an article: dropped with its reason
    assert len(stored(db_url)) == 1
    assert any("no article" in reason for _, reason in last_run(db_url)["errors"])  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def faulty_group() -> Iterator[SiteGroup]:
    routes = {
        "faulty": {
            "/broken/": status_route(500, b"<h1>Internal Server Error</h1>"),
            "/slow/": slow_route(8.0, b"<html><body><p>too late</p></body></html>", "text/html"),
        }
    }
    with SiteGroup(SITES, routes=routes, names=["faulty"]) as group:
        yield group


def test_faults_are_counted_and_the_crawl_goes_on(
    faulty_group: SiteGroup, tmp_path: Path, db_url: str
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(faulty_group.sources_toml(), encoding="utf-8")
    result = scrapy_crawl(sources, db_url, settings={"DOWNLOAD_TIMEOUT": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    urls = {str(a["url"]).rsplit("/", 2)[-2] for a in stored(db_url)}
    assert {"good-1", "good-2", "good-3"} <= urls
    run = last_run(db_url)
    assert run["status"] == "finished"
    reasons = {url.split("/", 3)[-1]: reason for url, reason in run["errors"]}  # type: ignore[union-attr]
    assert reasons["missing/"] == "HTTP 404"
    assert reasons["broken/"] == "HTTP 500"
    assert reasons["slow/"] == "timed out"
    assert "not HTML" in reasons["report.pdf"]
    assert "no article" in reasons["empty/"]
    assert "malformed feed" in reasons["feed.xml"]
    assert "malformed sitemap" in reasons["sitemap.xml"]
    assert reasons["private/notes/"] == "forbidden by robots.txt"
    # what the frontier keeps of each: retried, never again, or fetched
    engine = open_store(db_url)
    with session_scope(engine) as session:
        states = {row.url.split("/", 3)[-1]: row.state for row in frontier.list_urls(session)}
    engine.dispose()
    assert states["broken/"] == states["slow/"] == "failed"
    assert states["missing/"] == "gone"
    assert states["report.pdf"] == states["empty/"] == "not_article"
    assert states["private/notes/"] == "disallowed"
    assert states["good-1/"] == "fetched"


@pytest.fixture(scope="module")
def mixed_group() -> Iterator[SiteGroup]:
    with SiteGroup(SITES, names=["mixedblog"]) as group:
        yield group


def test_pages_without_an_article_are_kept_out_and_never_fetched_again(
    mixed_group: SiteGroup, tmp_path: Path, db_url: str
) -> None:
    # A blog whose sitemap index lists sitemaps of posts, pages, categories, tags, authors and
    # products, and whose sitemap of posts lists tag, category, author, product and listing
    # pages beside its three posts
    sources = tmp_path / "sources.toml"
    sources.write_text(mixed_group.sources_toml(), encoding="utf-8")
    server = mixed_group["mixedblog"]
    server.clear_log()
    result = scrapy_crawl(sources, db_url)
    assert result.returncode == 0, result.stderr[-3000:]
    posts = {"/storage-engine-rewrite/", "/keyboard-firmware-split/", "/small-isp-ipv6/"}
    assert {str(a["url"]).removeprefix(server.base_url) for a in stored(db_url)} == posts
    # sitemaps of anything but posts are never read, taxonomy pages never fetched
    for path in ("/page-sitemap.xml", "/category-sitemap.xml", "/post_tag-sitemap.xml",
                 "/author-sitemap.xml", "/product-sitemap.xml", "/tag/storage/",
                 "/category/news/", "/author/jane-doe/"):  # fmt: skip
        assert server.hits[path] == 0, path
    assert server.hits["/post-sitemap.xml"] == 1
    # the product page and the listing of guides are fetched once, recorded as no article
    engine = open_store(db_url)
    with session_scope(engine) as session:
        states = {
            row.url.removeprefix(server.base_url): (row.state, row.last_error or "")
            for row in frontier.list_urls(session, "mixedblog")
        }
    engine.dispose()
    assert set(states) == posts | {"/shop/ceramic-mug/", "/guides/"}
    assert states["/shop/ceramic-mug/"][0] == states["/guides/"][0] == "not_article"
    assert "product" in states["/shop/ceramic-mug/"][1]
    assert all(states[path][0] == "fetched" for path in posts)

    result = scrapy_crawl(sources, db_url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert server.hits["/shop/ceramic-mug/"] == server.hits["/guides/"] == 1
    assert len(stored(db_url)) == 3


def test_bad_sources_file_stops_before_any_request(demo_group: SiteGroup, tmp_path: Path) -> None:
    base = demo_group.servers["techpulse"].base_url
    sources = tmp_path / "bad.toml"
    sources.write_text(
        f'[[sources]]\nname = "techpulse"\nurl = "{base}/"\nfeeds = ["{base}/feed/"]\n'
        '[[sources]]\nname = "broken"\nurl = "not a url"\nfedds = []\n',
        encoding="utf-8",
    )
    for server in demo_group.servers.values():
        server.hits.clear()
    result = scrapy_crawl(sources, f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode != 0
    assert str(sources) in result.stderr and "broken" in result.stderr
    assert "fedds" in result.stderr and "url" in result.stderr
    assert sum(sum(s.hits.values()) for s in demo_group.servers.values()) == 0


def _slow_blog(tmp_path: Path) -> SiteGroup:
    """A blog whose 40 article pages answer in 1 s each (not started)."""
    paragraphs = " ".join(["Engineers shipped a careful change to the storage layer."] * 12)
    page = (
        "<html><head><title>Post {n}</title></head><body><article><h1>Post {n}</h1>"
        f"<p>{paragraphs}</p><p>{paragraphs} Second.</p></article></body></html>"
    )
    root = tmp_path / "sites" / "slowblog"
    root.mkdir(parents=True)
    items = "".join(
        f"<item><title>Post {n}</title><link>{{{{BASE}}}}/post-{n}/</link></item>"
        for n in range(40)
    )
    (root / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>s</title>{items}</channel></rss>'
    )
    (root / "source.toml").write_text(
        '[[sources]]\nname = "slowblog"\nurl = "{{BASE}}/"\nfeeds = ["{{BASE}}/feed.xml"]\n'
    )
    routes = {
        "slowblog": {
            f"/post-{n}/": slow_route(1.0, page.format(n=n).encode(), "text/html; charset=utf-8")
            for n in range(40)
        }
    }
    return SiteGroup(root.parent, routes=routes)


def test_ctrl_c_leaves_the_database_consistent(tmp_path: Path, db_url: str) -> None:
    # Article pages answer slowly (40 s in all, 2 at a time), so the interrupt lands
    # mid-crawl even though pages download while the extraction processes start
    with _slow_blog(tmp_path) as group:
        sources = tmp_path / "sources.toml"
        sources.write_text(group.sources_toml(), encoding="utf-8")
        command = scrapy_crawl_command(
            settings={**FAST_CRAWL, "CONCURRENT_REQUESTS_PER_DOMAIN": "2"}
        )
        env = {"AGGREGATOR_SOURCES": str(sources), "AGGREGATOR_DB_URL": db_url}
        import os

        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        engine = open_store(db_url)
        try:
            server = group.servers["slowblog"]
            while time.monotonic() < deadline:
                # a few pages served: the crawl is under way (articles are being extracted)
                if sum(n for path, n in server.hits.items() if path.startswith("/post-")) >= 6:
                    break
                time.sleep(0.1)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
            with session_scope(engine) as session:
                articles = list(session.scalars(select(Article)))
                run = session.scalars(select(CrawlRun)).one()
                assert 1 <= len(articles) < 40
                for article in articles:
                    assert article.title.startswith("Post ")
                    assert article.text.count("\n\n") == 1 and article.content_hash
                assert run.status == "interrupted", stderr[-2000:]
                assert run.finished_at is not None
        finally:
            engine.dispose()
            if process.poll() is None:
                process.kill()


def test_aggregator_crawl_shows_progress_and_a_summary(
    demo_group: SiteGroup, demo_sources: Path, db_url: str
) -> None:
    fast = [f"--set={key}={value}" for key, value in FAST_CRAWL.items()]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aggregator",
            "--db",
            db_url,
            "--sources",
            str(demo_sources),
            "crawl",
            "techpulse",
            "--limit",
            "3",
            *fast,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sources 1/1 · pages 3 · stored 3 · errors 0" in result.stderr
    assert "3 pages fetched, 3 articles stored" in result.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "aggregator", "--db", db_url, "articles", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert len(listed.stdout.splitlines()) == 3
    # `status` counts this crawl as the source's last run, with what it added
    options = ["--db", db_url, "--sources", str(demo_sources)]
    status = subprocess.run(
        [sys.executable, "-m", "aggregator", *options, "status", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = {row["source"]: row for row in map(json.loads, status.stdout.splitlines())}
    assert rows["techpulse"]["last_status"] == "finished"
    assert rows["techpulse"]["last_articles"] == 3 and rows["techpulse"]["last_run"]
    assert rows["devwire"]["last_run"] is None


def test_sources_add_and_check_against_live_blogs(demo_group: SiteGroup, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aggregator.cli import main

    sources = tmp_path / "mine.toml"
    base = demo_group.servers["kernelnotes"].base_url
    runner = CliRunner()
    options = ["--db", f"sqlite:///{tmp_path / 's.db'}", "--sources", str(sources)]
    added = runner.invoke(main, [*options, "sources", "add", f"{base}/", "--name", "kn"])
    assert added.exit_code == 0, added.output
    assert f"feeds: {base}/atom.xml" in added.output
    again = runner.invoke(main, [*options, "sources", "add", f"{base}/", "--name", "kn"])
    assert again.exit_code == 1 and "kn" in again.output
    checked = runner.invoke(main, [*options, "sources", "check", "--json"])
    assert checked.exit_code == 0, checked.output
    import json

    rows = [json.loads(line) for line in checked.output.splitlines()]
    assert rows and all(row["ok"] for row in rows)
    assert rows[0]["url"] == f"{base}/atom.xml"


def test_feed_found_on_a_usual_path_when_the_home_page_links_none(
    tmp_path: Path, db_url: str
) -> None:
    root = tmp_path / "sites" / "plainblog"
    (root / "post-one").mkdir(parents=True)
    (root / "index.html").write_text("<html><body><h1>Plain blog</h1></body></html>")
    words = "Compilers turn careful source code into fast machine code for every platform."
    (root / "post-one" / "index.html").write_text(
        "<html><head><title>Post one</title></head><body><article><h1>Post one</h1>"
        f"<p>{words * 4}</p><p>{words * 3} The end.</p></article></body></html>"
    )
    (root / "rss.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>p</title>'
        "<item><title>Post one</title><link>{{BASE}}/post-one/</link></item></channel></rss>"
    )
    (root / "source.toml").write_text('name = "plainblog"\nurl = "{{BASE}}/"\n')
    with SiteGroup(root.parent) as group:
        sources = tmp_path / "sources.toml"
        sources.write_text(group.sources_toml(), encoding="utf-8")
        result = scrapy_crawl(sources, db_url)
        assert result.returncode == 0, result.stderr[-3000:]
        hits = group.servers["plainblog"].hits
    assert [a["title"] for a in stored(db_url)] == ["Post one"]
    assert last_run(db_url)["errors"] == []  # probing the usual paths is not an error
    for path in ("/feed", "/rss", "/atom.xml", "/feed.xml", "/index.xml", "/rss.xml"):
        assert hits[path] == 1, path


def test_waits_asked_by_a_source_are_read_from_its_headers() -> None:
    from email.utils import format_datetime

    from spiders.techblogs import _max_age, _retry_after

    assert _max_age(b"public, max-age=600") == 600
    assert _max_age(b"s-maxage=120, max-age=60") == 120  # the first one given
    assert _max_age(b"no-cache") == 0 and _max_age(None) == 0
    assert _retry_after(b"120") == 120
    later = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True).encode()
    assert 590 <= _retry_after(later) <= 600
    assert _retry_after(b"soon") == 0 and _retry_after(None) == 0


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aggregator_crawl(
    db_url: str, sources: Path | None, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`aggregator crawl` in a subprocess, as from cron: stderr is no terminal."""
    fast = [f"--set={key}={value}" for key, value in FAST_CRAWL.items()]
    options = ["--db", db_url] + (["--sources", str(sources)] if sources else [])
    return subprocess.run(
        [sys.executable, "-m", "aggregator", *options, "crawl", *fast, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_crawl_where_every_request_fails_exits_1_with_one_line_per_failure(
    tmp_path: Path, db_url: str
) -> None:
    urls = [f"http://127.0.0.1:{_closed_port()}/" for _ in range(2)]
    sources = tmp_path / "sources.toml"
    sources.write_text(
        "".join(f'[[sources]]\nname = "dead{n}"\nurl = "{url}"\n' for n, url in enumerate(urls))
    )
    result = aggregator_crawl(db_url, sources, "--set=RETRY_ENABLED=True", "--set=RETRY_TIMES=1")
    assert result.returncode == 1, result.stderr
    assert "0 articles stored" in result.stdout
    assert "stored nothing and had 2 errors" in result.stderr
    assert "Traceback" not in result.stderr
    for url in urls:
        assert result.stderr.count(url) == 1, result.stderr  # the summary's line, no more
        assert f"{url}: connection refused" in result.stderr
    # off a terminal the progress line is printed when it changed, never twice the same
    progress = [line for line in result.stderr.splitlines() if line.startswith("sources ")]
    assert progress and len(progress) == len(set(progress))
    # tracebacks (Scrapy's and Twisted's) are there with -v
    verbose = aggregator_crawl(db_url, sources, "-v")
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr


def test_crawl_of_a_missing_page_exits_1(faulty_group: SiteGroup, db_url: str) -> None:
    url = faulty_group.servers["faulty"].base_url + "/missing/"
    result = aggregator_crawl(db_url, None, "--url", url)
    assert result.returncode == 1, result.stderr
    assert f"{url}: HTTP 404" in result.stderr
    assert "stored nothing and had 1 error" in result.stderr
    assert "0 pages fetched, 0 articles stored, 0 updated, 1 error." in result.stdout
    # the ad-hoc source is named as `sources add` would name the site
    engine = open_store(db_url)
    with session_scope(engine) as session:
        assert session.scalars(select(Source.name)).all() == [slug_from_url(url)]
    engine.dispose()


def test_aggregator_crawl_interrupted_exits_130(tmp_path: Path, db_url: str) -> None:
    import os

    with _slow_blog(tmp_path) as group:
        sources = tmp_path / "sources.toml"
        sources.write_text(group.sources_toml(), encoding="utf-8")
        fast = [f"--set={key}={value}" for key, value in FAST_CRAWL.items()]
        command = [sys.executable, "-m", "aggregator", "--db", db_url, "--sources", str(sources)]
        process = subprocess.Popen(
            [*command, "crawl", *fast, "--set=CONCURRENT_REQUESTS_PER_DOMAIN=2"],
            cwd=ROOT,
            env={**os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            server = group.servers["slowblog"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if sum(n for path, n in server.hits.items() if path.startswith("/post-")) >= 8:
                    break
                time.sleep(0.1)
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, stderr[-3000:]
    assert " interrupted in " in stdout
    assert "Error: crawl run 1 interrupted" in stderr
    # several seconds of crawling, and no progress line printed twice off a terminal
    progress = [line for line in stderr.splitlines() if line.startswith("sources ")]
    assert len(progress) >= 2 and len(progress) == len(set(progress)), stderr[-2000:]


def test_progress_line_and_log_lines_do_not_collide_on_a_terminal(
    faulty_group: SiteGroup, tmp_path: Path, db_url: str
) -> None:
    import os
    import pty

    sources = tmp_path / "sources.toml"
    sources.write_text(faulty_group.sources_toml(), encoding="utf-8")
    fast = [f"--set={key}={value}" for key, value in FAST_CRAWL.items()]
    command = [sys.executable, "-m", "aggregator", "--db", db_url, "--sources", str(sources)]
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [
            *command,
            "crawl",
            "-v",
            *fast,
            "--set=DOWNLOAD_TIMEOUT=2",
            "--set=AGGREGATOR_PROGRESS_INTERVAL=0.1",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0
    text = output.decode("utf-8", "replace").replace("\r\n", "\n")
    visible = [line.rsplit("\r", 1)[-1].removeprefix("\x1b[K") for line in text.split("\n")]
    LEVELS = ("INFO ", "WARNING ", "ERROR ")
    logs = [line for line in visible if line.startswith(LEVELS)]
    assert len(logs) > 10
    # every log line starts a line of its own: none is glued after a progress line
    glued = [
        line
        for line in visible
        if line.startswith("sources ") and any(level in line for level in LEVELS)
    ]
    assert not glued
    assert any(line.startswith("sources 1/1") for line in visible)
