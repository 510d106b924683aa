"""aggregator.crawling: the in-process crawl and the `scrapy crawl` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from aggregator.crawling import LOCAL_SITE_SETTINGS, crawl_settings, scrapy_crawl_command
from aggregator.demo.live import LiveBlog
from aggregator.demo.run import SITES as DEMO_SITES
from aggregator.demo.server import SiteGroup
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, CrawlRun
from aggregator.store.runs import start_run
from tests.support import ROOT, scrapy_crawl

# run_crawl starts a CrawlerProcess, which a process can do once: each call is its own process
RUN_CRAWL = """
import sys
from aggregator.crawling import LOCAL_SITE_SETTINGS, run_crawl
settings = {**LOCAL_SITE_SETTINGS, "RETRY_ENABLED": "False"}
args = {"source": "kernelnotes", "limit": "2"}
print(repr(run_crawl(sys.argv[1], sys.argv[2], args, settings, progress=False)))
"""


def test_run_crawl_records_a_run_and_returns_its_id(db_url: str, tmp_path: Path) -> None:
    engine = open_store(db_url)
    try:
        with session_scope(engine) as session:
            earlier = start_run(session, ["someone-else"])
        with SiteGroup(DEMO_SITES) as group:
            sources = tmp_path / "sources.toml"
            sources.write_text(group.sources_toml(), encoding="utf-8")
            result = subprocess.run(
                [sys.executable, "-c", RUN_CRAWL, db_url, str(sources)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        assert result.returncode == 0, result.stderr[-3000:]
        run_id = int(result.stdout.strip().splitlines()[-1])
        assert run_id != earlier
        assert "sources 1/1" not in result.stderr  # progress=False: no progress line
        with session_scope(engine) as session:
            run = session.get(CrawlRun, run_id)
            assert run is not None
            assert run.status == "finished"
            assert run.sources == ["kernelnotes"]
            assert run.articles_stored == 2
            assert session.scalar(select(func.count(Article.id))) == 2
    finally:
        engine.dispose()


def test_scrapy_crawl_command_passes_spider_arguments_and_settings() -> None:
    command = scrapy_crawl_command({"source": "lwn", "limit": 3}, LOCAL_SITE_SETTINGS)
    assert command[:5] == [sys.executable, "-m", "scrapy", "crawl", "techblogs"]
    assert command[5:9] == ["-a", "source=lwn", "-a", "limit=3"]
    pairs = list(zip(command[9::2], command[10::2], strict=True))
    assert pairs == [("-s", f"{key}={value}") for key, value in LOCAL_SITE_SETTINGS.items()]
    assert scrapy_crawl_command() == command[:5]


def test_crawl_settings_are_the_project_settings_with_overrides_read_as_typed_values() -> None:
    settings = crawl_settings("sqlite:///x.db", "/srv/sources.toml", LOCAL_SITE_SETTINGS)
    assert settings.get("AGGREGATOR_DB_URL") == "sqlite:///x.db"
    assert settings.get("AGGREGATOR_SOURCES") == "/srv/sources.toml"
    assert settings.getbool("ROBOTSTXT_OBEY") is True  # from aggregator/settings.py
    # the strings of a -s command line read as the numbers and flags they stand for
    assert settings.getfloat("DOWNLOAD_DELAY") == 0.0
    assert settings.getbool("AUTOTHROTTLE_ENABLED") is False
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 8


def test_the_per_host_limit_holds_with_no_download_delay(tmp_path: Path) -> None:
    # Scrapy 2.19 alone starts every queued request of a host at once when the delay is 0
    blog = LiveBlog(tmp_path / "blog", host="127.0.0.6")
    for _ in range(16):
        blog.publish()
    blog.server.delay = 0.05  # answers slow enough to overlap
    blog.start()
    sources = tmp_path / "sources.toml"
    sources.write_text(blog.source_toml(), encoding="utf-8")
    try:
        settings = {"DOWNLOAD_DELAY": "0", "CONCURRENT_REQUESTS_PER_DOMAIN": "2"}
        crawl = scrapy_crawl(sources, f"sqlite:///{tmp_path / 'store.db'}", settings=settings)
    finally:
        blog.stop()
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    assert blog.server.hits["/posts/16/"] == 1
    assert blog.server.in_flight.peak == 2
