"""Tests of the polling benchmark's pure parts: its sites over real HTTP, the due-check sums."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import feedparser
import pytest

from aggregator.sources import load_sources
from benchmarks.common import descendants
from benchmarks.poll import (
    PollSites,
    checks_made,
    due_per_source,
    publish_window,
    site_address,
)


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Return status, headers and body, without raising on 304 or 404."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def sites() -> Iterator[PollSites]:
    with PollSites(3, seed=5) as served:
        yield served


def test_site_addresses_are_distinct_loopback_hosts() -> None:
    addresses = [site_address(i) for i in range(2000)]
    assert addresses[:2] == ["127.0.0.2", "127.0.0.3"]
    assert site_address(250) == "127.0.1.2"
    assert len(set(addresses)) == 2000
    for address in addresses:
        parts = [int(p) for p in address.split(".")]
        assert parts[:2] == [127, 0] and 2 <= parts[3] <= 251


def test_due_checks_arithmetic() -> None:
    assert due_per_source(120, 60) == 2
    assert due_per_source(119.9, 60) == 1
    assert due_per_source(240.0, 60) == 4
    assert due_per_source(720, 300) == 2
    # requests before the run, after the stop, and beyond what was due are not counted
    times = [-1.0, 0.0, 30.0, 61.0, 62.0, 119.0, 125.0]
    assert checks_made(times, 0.0, 120.0, due=2) == 2
    assert checks_made(times, 0.0, 120.0, due=10) == 5
    assert checks_made([], 0.0, 120.0, due=2) == 0


def test_publish_window_leaves_an_interval_and_the_margin() -> None:
    first, last = publish_window(240, 60)
    assert first == pytest.approx(24)
    assert last == pytest.approx(240 - 60 - 30 - 5)
    with pytest.raises(ValueError, match="--minutes"):
        publish_window(120, 300)


def test_feed_answers_304_to_its_validators_and_200_after_a_publication(
    sites: PollSites,
) -> None:
    site = sites.sites[1]
    url = sites.feed_url(site)
    assert url.startswith("http://127.0.0.3:")
    status, headers, body = fetch(url)
    assert status == 200
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert feedparser.parse(body).feed.title == site.name
    assert fetch(url, {"If-None-Match": etag})[0] == 304
    assert fetch(url, {"If-Modified-Since": modified})[0] == 304
    assert fetch(url, {"If-None-Match": '"other"', "If-Modified-Since": modified})[0] == 200

    post = sites.publish(1)
    status, headers, body = fetch(url, {"If-None-Match": etag})
    assert status == 200
    assert headers["ETag"] != etag
    assert fetch(url, {"If-Modified-Since": modified})[0] == 200
    entries = feedparser.parse(body).entries
    assert [e.link for e in entries] == [sites.post_url(post)]
    assert fetch(url, {"If-None-Match": headers["ETag"]})[0] == 304

    status, _, page = fetch(sites.post_url(post))
    assert status == 200
    text = page.decode()
    assert f"<h1>{post.title}</h1>" in text
    assert post.published.isoformat(timespec="seconds") in text
    assert text.count("<p>") >= 4
    assert fetch(sites.base(site) + "/posts/99/")[0] == 404
    assert b"User-agent: *" in fetch(sites.base(site) + "/robots.txt")[2]
    counts = site.counts
    assert counts.feed_304 >= 3 and counts.feed_200 >= 3 and counts.articles == 1
    assert counts.robots == 1 and len(counts.feed_times) == counts.feed_200 + counts.feed_304


def test_the_local_address_picks_the_site(sites: PollSites) -> None:
    for site in sites.sites:
        status, _, body = fetch(sites.feed_url(site))
        assert status == 200
        assert feedparser.parse(body).feed.title == site.name
    # the same port on an address of no site: closed unanswered
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://127.0.0.200:{sites.port}/feed.xml", timeout=5)


def test_sources_file_lists_every_site_with_its_interval(sites: PollSites, tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(sites.sources_toml("60s"), encoding="utf-8")
    loaded = load_sources(path)
    assert [s.name for s in loaded] == [site.name for site in sites.sites]
    assert [list(s.feeds) for s in loaded] == [[sites.feed_url(site)] for site in sites.sites]
    assert {s.interval.total_seconds() for s in loaded if s.interval} == {60.0}
    assert len({s.url for s in loaded}) == 3


def test_last_modified_moves_forward_with_every_publication() -> None:
    with PollSites(1) as served:
        site = served.sites[0]
        before = site.modified
        served.publish(0)
        served.publish(0)
        assert site.modified >= before + 2
        assert fetch(served.feed_url(site))[1]["Last-Modified"] == formatdate(
            site.modified, usegmt=True
        )


def test_descendants_finds_grandchildren() -> None:
    script = "import subprocess, sys, time; subprocess.Popen(['sleep', '30']); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(100):
            below = descendants(child.pid)
            if below:
                break
            time.sleep(0.05)
        assert len(below) == 1
        assert child.pid in descendants(os.getpid())
    finally:
        for pid in descendants(child.pid):
            os.kill(pid, signal.SIGKILL)
        child.kill()
        child.wait()
