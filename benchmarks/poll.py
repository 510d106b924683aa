"""Polling benchmark: `aggregator schedule` keeping many sources current on one machine.

N simulated blogs, one loopback host each (127.0.x.y, all served by one asyncio server in
this process on one port), each listed with a fixed `interval` and one RSS feed that carries
an ETag and a Last-Modified and answers 304 to them unless a post was published since.
`aggregator schedule` runs with its defaults (plus `--workers N` when given) in its own
session for --minutes while posts appear at random times on random blogs; then SIGTERM.

Measured:
- due checks: sources x floor(run seconds / interval); a check made is a feed request the
  server received during the run, counted at most that many times per source (a source
  checked too often does not make up for one never checked);
- CPU of the scheduler's whole process tree (user + sys of the scheduler and every
  descendant, from wait4() once it exits; descendants orphaned on the way are reaped here,
  as this process is their subreaper), per feed request it made; the server's CPU is this
  process's, never counted;
- every published post: stored or not (matched by URL), and the delay from publication to
  `articles.created_at`, against one interval + 30 s;
- the reference, measured in the same run: the CPU of one bare `scrapy runspider` process
  that fetches robots.txt and one feed (answered 304), i.e. what a process per check costs.

Each feed starts empty: the store is current when the run starts (the older posts a real
blog lists would already be stored and skipped), so the checks are 304s except after a post.

    python -m benchmarks.poll --sources 400 --interval 60s --minutes 4
    python -m benchmarks.poll --sources 2000 --interval 5m --minutes 12
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aggregator.humanize import parse_duration
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import Article, CrawlRun
from benchmarks.common import (
    become_subreaper,
    descendants,
    own_cpu_seconds,
    postgres_database,
    proc_table,
    progress,
    tail,
    verdict,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

# Targets of issue 10
MIN_DUE_SHARE = 0.95
MAX_CPU_MS_PER_CHECK = 20.0
STORE_MARGIN_S = 30.0
# Posts appear between this share of the run and one interval + margin before its end
PUBLISH_FROM_SHARE = 0.1
# Sites per 127.0.x block: 127.0.0.2 .. 127.0.0.251, 127.0.1.2 .. (never .0, .1, .255)
SITES_PER_BLOCK = 250
# How long the scheduler may take to stop after SIGTERM before it is killed
STOP_WAIT_S = 120.0
SAMPLE_EVERY_S = 2.0
PROGRESS_EVERY_S = 15.0

FEED_PATH = "/feed.xml"
ROBOTS = b"User-agent: *\nDisallow: /private/\n"

_WORDS_TEXT = """
    kernel compiler cache latency throughput scheduler allocator database index query replica
    cluster container runtime package release version benchmark profile trace network socket
    protocol browser engine render shader driver firmware battery sensor storage volume snapshot
    backup encryption token session cookie header request response migration schema table column
    partition shard queue worker thread process signal developer maintainer contributor reviewer
    patch branch commit merge conflict pipeline deploy rollout canary outage incident postmortem
    metric alert dashboard budget quota model dataset training inference vector embedding prompt
    agent gateway proxy router filesystem bootloader linker debugger profiler sandbox hypervisor
"""
_VERBS_TEXT = "ships adds drops speeds fixes breaks replaces rewrites trims doubles halves"
_WORDS, _VERBS = _WORDS_TEXT.split(), _VERBS_TEXT.split()
_PEOPLE = "Ada Lovelace,Grace Hopper,Ken Thompson,Barbara Liskov,Dennis Ritchie,Frances Allen"


def site_address(index: int) -> str:
    """Return the loopback address of site index: 127.0.0.2, ... 127.0.0.251, 127.0.1.2, ..."""
    block, offset = divmod(index, SITES_PER_BLOCK)
    if block > 255:
        raise ValueError(f"at most {256 * SITES_PER_BLOCK} sites")
    return f"127.0.{block}.{offset + 2}"


def due_per_source(run_seconds: float, interval_seconds: float) -> int:
    """Return how many checks of one source are due in a run: floor(run / interval)."""
    return math.floor(run_seconds / interval_seconds + 1e-9)


def checks_made(times: Sequence[float], start: float, stop: float, due: int) -> int:
    """Return the feed requests in [start, stop) of one source, counted at most due times."""
    return min(due, sum(1 for t in times if start <= t < stop))


def publish_window(run_seconds: float, interval_seconds: float) -> tuple[float, float]:
    """Return (first, last) second of the run at which posts may appear."""
    first = run_seconds * PUBLISH_FROM_SHARE
    last = run_seconds - interval_seconds - STORE_MARGIN_S - 5.0
    if last <= first:
        need = (interval_seconds + STORE_MARGIN_S + 5.0) / (1 - PUBLISH_FROM_SHARE) / 60
        raise ValueError(f"the run is too short for this interval: use --minutes > {need:.1f}")
    return first, last


# -- the sites ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """One post published during the run."""

    site: int
    number: int
    title: str
    path: str
    published: datetime
    seed: int


@dataclass
class SiteCounts:
    """The requests one site received."""

    feed_times: list[float] = field(default_factory=list)
    feed_200: int = 0
    feed_304: int = 0
    robots: int = 0
    articles: int = 0
    other: int = 0


@dataclass
class Site:
    """One simulated blog: its posts, its feed and the validators of that feed."""

    index: int
    name: str
    address: str
    posts: list[Post] = field(default_factory=list)
    feed: bytes = b""
    etag: str = ""
    modified: float = 0.0
    counts: SiteCounts = field(default_factory=SiteCounts)


def _sentence(rng: random.Random) -> str:
    words = rng.sample(_WORDS, 9)
    return (
        f"The {words[0]} team {rng.choice(_VERBS)} the {words[1]} {words[2]} so that every "
        f"{words[3]} and {words[4]} keeps its {words[5]} while the {words[6]} {words[7]} "
        f"waits for the {words[8]}."
    )


def article_html(site: Site, post: Post, base: str) -> bytes:
    """Render a post's page: a small, realistic article with a title, a date, a byline."""
    rng = random.Random(post.seed)
    author = rng.choice(_PEOPLE.split(","))
    paragraphs = "\n".join(
        f"<p>{' '.join(_sentence(rng) for _ in range(rng.randint(3, 5)))}</p>"
        for _ in range(rng.randint(4, 6))
    )
    iso = post.published.isoformat(timespec="seconds")
    day = f"{post.published:%B} {post.published.day}, {post.published:%Y}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(post.title)} | {site.name}</title>
<meta property="og:title" content="{escape(post.title)}">
<meta property="article:published_time" content="{iso}">
<link rel="alternate" type="application/rss+xml" href="{base}{FEED_PATH}">
</head><body>
<header><a href="{base}/">{site.name}</a> <nav><a href="{base}/">Home</a></nav></header>
<main><article>
<h1>{escape(post.title)}</h1>
<p class="byline">By {escape(author)} &middot; <time datetime="{iso}">{day}</time></p>
{paragraphs}
</article></main>
<footer>&copy; {post.published:%Y} {site.name}</footer>
</body></html>
""".encode()


def feed_xml(site: Site, base: str) -> bytes:
    """Render a site's RSS feed, newest post first."""
    items = "".join(
        f"<item><title>{escape(p.title)}</title><link>{base}{p.path}</link>"
        f'<guid isPermaLink="true">{base}{p.path}</guid>'
        f"<pubDate>{formatdate(p.published.timestamp(), usegmt=True)}</pubDate></item>\n"
        for p in reversed(site.posts[-20:])
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{site.name}</title><link>{base}/</link>"
        f"<description>Notes from {site.name}</description>\n{items}</channel></rss>\n"
    ).encode()


class PollSites:
    """Every simulated blog, served by one asyncio server on 0.0.0.0 in a daemon thread.

    The local address of a connection (127.0.x.y) tells which site it asks for; connections
    to any other address are closed unanswered.
    """

    def __init__(self, count: int, seed: int = 2026) -> None:
        self.rng = random.Random(seed)
        self.sites = [Site(i, f"pollblog{i + 1:04d}", site_address(i)) for i in range(count)]
        self.by_address = {site.address: site for site in self.sites}
        self.port = 0
        self.lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> PollSites:
        """Bind a port on 0.0.0.0 and serve in a daemon thread."""
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._connection, "0.0.0.0", 0, backlog=1024)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="poll-sites", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise failure[0]
        with self.lock:
            for site in self.sites:
                self._render(site)
        return self

    def stop(self) -> None:
        """Stop serving."""
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop = self._server = self._thread = None

    def __enter__(self) -> PollSites:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- content ------------------------------------------------------------------------

    def base(self, site: Site) -> str:
        """Return http://127.0.x.y:PORT of a site."""
        return f"http://{site.address}:{self.port}"

    def feed_url(self, site: Site) -> str:
        """Return the URL of a site's feed."""
        return self.base(site) + FEED_PATH

    def sources_toml(self, interval: str) -> str:
        """Return the sources file: one [[sources]] entry per site, all with this interval."""
        return "\n".join(
            f'[[sources]]\nname = "{site.name}"\nurl = "{self.base(site)}/"\n'
            f'feeds = ["{self.feed_url(site)}"]\ninterval = "{interval}"\n'
            for site in self.sites
        )

    def publish(self, index: int) -> Post:
        """Publish a post on a site now: its page appears and its feed changes (new ETag)."""
        with self.lock:
            site = self.sites[index]
            number = len(site.posts) + 1
            words = self.rng.sample(_WORDS, 3)
            title = f"{words[0].capitalize()} {self.rng.choice(_VERBS)} {words[1]} {words[2]}"
            post = Post(
                site=index,
                number=number,
                title=f"{title} ({site.name} #{number})",
                path=f"/posts/{number}/",
                published=datetime.now(UTC),
                seed=self.rng.getrandbits(32),
            )
            site.posts.append(post)
            self._render(site)
            return post

    def post_url(self, post: Post) -> str:
        """Return the absolute URL of a post."""
        return self.base(self.sites[post.site]) + post.path

    def _render(self, site: Site) -> None:
        site.feed = feed_xml(site, self.base(site))
        site.etag = '"' + hashlib.sha1(site.feed).hexdigest()[:16] + '"'
        # whole seconds, as HTTP dates carry them; every new version a later one
        now = float(int(time.time()))
        site.modified = now if now > site.modified else site.modified + 1

    def reset_counts(self) -> None:
        """Forget the requests counted so far."""
        with self.lock:
            for site in self.sites:
                site.counts = SiteCounts()

    # -- HTTP ---------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local = writer.get_extra_info("sockname")
        site = self.by_address.get(local[0]) if local else None
        try:
            while site is not None:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    break
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split()
                if len(parts) != 3:
                    break
                method, target, version = parts
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if value:
                        headers[name.strip().lower()] = value.strip()
                status, extra, body = self._answer(site, method, target, headers)
                keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found", 405: "Not Allowed"}
                out = [f"HTTP/1.1 {status} {reason[status]}", "Server: PollBlog/1.0"]
                out += [f"{k}: {v}" for k, v in extra.items()]
                if status != 304:
                    out.append(f"Content-Length: {len(body)}")
                out.append("Connection: " + ("keep-alive" if keep else "close"))
                payload = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
                if method != "HEAD" and status != 304:
                    payload += body
                writer.write(payload)
                await writer.drain()
                if not keep:
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _answer(
        self, site: Site, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Return (status, headers, body) for one request to a site."""
        path = target.split("?", 1)[0]
        if method not in {"GET", "HEAD"}:
            return 405, {"Allow": "GET, HEAD"}, b""
        with self.lock:
            counts = site.counts
            if path == FEED_PATH:
                counts.feed_times.append(time.monotonic())
                validators = {
                    "ETag": site.etag,
                    "Last-Modified": formatdate(site.modified, usegmt=True),
                    "Content-Type": "application/rss+xml; charset=utf-8",
                }
                if _not_modified(headers, site.etag, site.modified):
                    counts.feed_304 += 1
                    return 304, validators, b""
                counts.feed_200 += 1
                return 200, validators, site.feed
            if path == "/robots.txt":
                counts.robots += 1
                return 200, {"Content-Type": "text/plain; charset=utf-8"}, ROBOTS
            if path.startswith("/posts/"):
                number = path.removeprefix("/posts/").strip("/")
                if number.isdigit() and 1 <= int(number) <= len(site.posts):
                    counts.articles += 1
                    post = site.posts[int(number) - 1]
                    page = article_html(site, post, self.base(site))
                    return 200, {"Content-Type": "text/html; charset=utf-8"}, page
            counts.other += 1
            if path == "/":
                links = "".join(
                    f'<li><a href="{p.path}">{escape(p.title)}</a></li>'
                    for p in reversed(site.posts)
                )
                home = f"<!DOCTYPE html><html><head><title>{site.name}</title></head>"
                home += f"<body><h1>{site.name}</h1><ul>{links}</ul></body></html>"
                return 200, {"Content-Type": "text/html; charset=utf-8"}, home.encode()
        return 404, {"Content-Type": "text/plain"}, b"not found\n"


def _not_modified(headers: dict[str, str], etag: str, modified: float) -> bool:
    """Whether a conditional GET matches: If-None-Match first, else If-Modified-Since."""
    if "if-none-match" in headers:
        tags = [t.strip().removeprefix("W/") for t in headers["if-none-match"].split(",")]
        return etag in tags or "*" in tags
    since = headers.get("if-modified-since")
    if since:
        try:
            return parsedate_to_datetime(since).timestamp() >= modified
        except (TypeError, ValueError):
            return False
    return False


# -- processes -------------------------------------------------------------------------


def _cpu_seconds(usage: Any) -> float:
    return float(usage.ru_utime + usage.ru_stime)


def _wait(pid: int, timeout: float) -> tuple[int, Any] | None:
    """wait4() a child for up to timeout seconds: (exit status, rusage) or None."""
    deadline = time.monotonic() + timeout
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _reap_orphans(known: set[int], wait_s: float = 5.0) -> tuple[float, int, int]:
    """Reap adopted descendants: (their CPU seconds, max RSS KiB, how many had to be killed)."""
    cpu, rss, killed = 0.0, 0, 0
    deadline = time.monotonic() + wait_s
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            if pid not in known:
                cpu += _cpu_seconds(usage)
                rss = max(rss, usage.ru_maxrss)
            continue
        if time.monotonic() < deadline:
            time.sleep(0.1)
            continue
        # still running after the scheduler is gone: left behind; stop them by pid
        left = [p for p in descendants(os.getpid()) if p not in known]
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        deadline = time.monotonic() + wait_s
    return cpu, rss, killed


REFERENCE_SPIDER = '''"""Fetch one feed with its ETag (and robots.txt): no pipelines."""

import scrapy


class OneFeedSpider(scrapy.Spider):
    name = "onefeed"
    handle_httpstatus_list = [304]

    async def start(self):
        yield scrapy.Request(self.url, headers={"If-None-Match": self.etag}, dont_filter=True)

    def parse(self, response):
        self.logger.info("feed answered %d", response.status)
'''


def reference_check(sites: PollSites, workdir: Path) -> dict[str, Any]:
    """CPU of one bare `scrapy runspider` process checking one feed (a 304): a process's cost."""
    folder = workdir / "reference"
    folder.mkdir(exist_ok=True)
    spider = folder / "onefeed.py"
    spider.write_text(REFERENCE_SPIDER, encoding="utf-8")
    site = sites.sites[0]
    command = [sys.executable, "-m", "scrapy", "runspider", str(spider)]
    command += ["-a", f"url={sites.feed_url(site)}", "-a", f"etag={site.etag}"]
    command += ["-s", "ROBOTSTXT_OBEY=True"]
    command += ["-s", "LOG_LEVEL=INFO", "-s", "TELNETCONSOLE_ENABLED=False"]
    # outside the project folder and settings, so none of the project's components load
    env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    started = time.monotonic()
    with (workdir / "reference.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        result = _wait(process.pid, 120)
    if result is None:
        os.kill(process.pid, signal.SIGKILL)
        _wait(process.pid, 10)
        raise RuntimeError("the reference scrapy process did not finish in 120 s")
    status, usage = result
    process.returncode = os.waitstatus_to_exitcode(status)
    answered = site.counts.feed_304 == 1
    return {
        "what": "one bare `scrapy runspider` process: robots.txt + one feed answered 304",
        "exit_code": process.returncode,
        "feed_answered_304": answered,
        "cpu_ms": round(_cpu_seconds(usage) * 1000),
        "wall_s": round(time.monotonic() - started, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
    }


# -- the run ---------------------------------------------------------------------------


_progress = functools.partial(progress, "bench-poll")


@contextlib.contextmanager
def _database(postgres: bool, workdir: Path) -> Iterator[str]:
    if postgres:
        with postgres_database("bench_poll") as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'poll.db'}"


def _schedule(
    sites: PollSites,
    db_url: str,
    sources_path: Path,
    workers: int | None,
    run_s: float,
    plan: list[tuple[float, int]],
    workdir: Path,
) -> dict[str, Any]:
    """Run `aggregator schedule` for run_s seconds while publishing; return its figures."""
    command = [sys.executable, "-m", "aggregator", "--db", db_url, "--sources", str(sources_path)]
    command += ["schedule"]
    if workers is not None:
        command += ["--workers", str(workers)]
    published: list[Post] = []
    samples = {"tree_rss_kib": 0, "processes": 0}
    # the scheduler process's own CPU, last read before SIGTERM: how the tree's CPU splits
    scheduler_cpu: float | None = None
    log_path = workdir / "schedule.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    start = time.monotonic()
    end = start + run_s
    next_sample = start
    next_progress = start + PROGRESS_EVERY_S
    pending = list(plan)
    exited: tuple[int, Any] | None = None
    try:
        while (now := time.monotonic()) < end:
            while pending and start + pending[0][0] <= now:
                published.append(sites.publish(pending.pop(0)[1]))
            if now >= next_sample:
                table = proc_table()
                tree = [process.pid, *descendants(process.pid, table)]
                rss = sum(table[pid][1] for pid in tree if pid in table)
                samples["tree_rss_kib"] = max(samples["tree_rss_kib"], rss)
                samples["processes"] = max(samples["processes"], len(tree))
                scheduler_cpu = own_cpu_seconds(process.pid) or scheduler_cpu
                next_sample = now + SAMPLE_EVERY_S
            if now >= next_progress:
                with sites.lock:
                    checks = sum(len(s.counts.feed_times) for s in sites.sites)
                    articles = sum(s.counts.articles for s in sites.sites)
                _progress(
                    f"{now - start:5.0f}/{run_s:.0f} s: {checks} feed requests, "
                    f"{len(published)} posts published, {articles} article pages served, "
                    f"tree {samples['processes']} processes max"
                )
                next_progress = now + PROGRESS_EVERY_S
            done, status, usage = os.wait4(process.pid, os.WNOHANG)
            if done:
                exited = (status, usage)
                break
            wake = min(next_sample, next_progress, end)
            if pending:
                wake = min(wake, start + pending[0][0])
            time.sleep(max(0.01, min(0.5, wake - time.monotonic())))
        stopped_at = time.monotonic()
        if exited is None:
            scheduler_cpu = own_cpu_seconds(process.pid) or scheduler_cpu
        killed = False
        if exited is None:
            process.send_signal(signal.SIGTERM)
            exited = _wait(process.pid, STOP_WAIT_S)
            if exited is None:
                killed = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                exited = _wait(process.pid, 30)
    except BaseException:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        raise
    exit_s = time.monotonic() - start
    tree_usage: Any = None
    if exited is not None:
        process.returncode = os.waitstatus_to_exitcode(exited[0])
        tree_usage = exited[1]
    orphan_cpu, orphan_rss, left_behind = _reap_orphans({process.pid})
    tree_cpu = (_cpu_seconds(tree_usage) if tree_usage is not None else 0.0) + orphan_cpu
    max_rss = max(tree_usage.ru_maxrss if tree_usage is not None else 0, orphan_rss)
    run_seconds = stopped_at - start
    return {
        "command": command,
        "exit_code": process.returncode,
        "exited_early": stopped_at < end - 1,
        "killed_after_sigterm": killed,
        "processes_left_behind": left_behind,
        "run_s": run_seconds,
        "stop_s": exit_s - run_seconds,
        "start": start,
        "stopped_at": stopped_at,
        "tree_cpu_s": tree_cpu,
        "largest_process_rss_mib": round(max_rss / 1024, 1),
        "tree_rss_mib_peak": round(samples["tree_rss_kib"] / 1024, 1),
        "tree_processes_peak": samples["processes"],
        "scheduler_own_cpu_s": scheduler_cpu,
        "published": published,
        "log": str(log_path),
    }


def _store_figures(db_url: str, urls: list[str], since: datetime) -> dict[str, Any]:
    """Read when each post URL was stored, and the crawl runs recorded."""
    engine = open_store(db_url)
    try:
        with session_scope(engine) as session:
            stored: dict[str, datetime] = {}
            for chunk in range(0, len(urls), 500):
                part = urls[chunk : chunk + 500]
                rows = session.execute(
                    select(Article.url, Article.canonical_url, Article.created_at).where(
                        Article.url.in_(part) | Article.canonical_url.in_(part)
                    )
                )
                for url, canonical, created in rows:
                    for key in (url, canonical):
                        if key in part:
                            stored[key] = min(created, stored.get(key, created))
            statuses: dict[str, int] = {}
            not_modified = 0
            for status, stats in session.execute(
                select(CrawlRun.status, CrawlRun.stats).where(CrawlRun.started_at >= since)
            ):
                statuses[status] = statuses.get(status, 0) + 1
                not_modified += int((stats or {}).get("aggregator/not_modified", 0))
            articles = len(session.scalars(select(Article.id)).all())
    finally:
        engine.dispose()
    return {
        "stored": stored,
        "crawl_runs": sum(statuses.values()),
        "run_statuses": statuses,
        "runs_not_modified": not_modified,
        "articles_in_store": articles,
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run the benchmark and return its figures and verdicts."""
    interval_s = parse_duration(args.interval).total_seconds()
    run_s = args.minutes * 60
    first, last = publish_window(run_s, interval_s)
    rng = random.Random(args.seed)
    plan = sorted(
        (rng.uniform(first, last), rng.randrange(args.sources)) for _ in range(args.posts)
    )
    subreaper = become_subreaper()
    with PollSites(args.sources, seed=args.seed) as sites:
        _progress(
            f"{args.sources} sites on 127.0.0.2..{site_address(args.sources - 1)}:{sites.port}"
        )
        reference = reference_check(sites, workdir)
        _progress(
            f"reference: one bare scrapy process checking one feed: {reference['cpu_ms']} ms CPU"
        )
        sites.reset_counts()
        sources_path = workdir / "sources.toml"
        sources_path.write_text(sites.sources_toml(args.interval), encoding="utf-8")
        since = datetime.now(UTC)
        with _database(args.postgres, workdir) as db_url:
            _progress(
                f"aggregator schedule for {args.minutes:g} min, {args.posts} posts between "
                f"{first:.0f} s and {last:.0f} s; log in {workdir / 'schedule.log'}"
            )
            runner = _schedule(sites, db_url, sources_path, args.workers, run_s, plan, workdir)
            published: list[Post] = runner.pop("published")
            urls = [sites.post_url(p) for p in published]
            store = _store_figures(db_url, urls, since)
        with sites.lock:
            counts = [site.counts for site in sites.sites]
    start, stopped_at = runner.pop("start"), runner.pop("stopped_at")
    # due over the planned run: a scheduler that exits early still owed those checks
    due_each = due_per_source(max(runner["run_s"], run_s), interval_s)
    due = due_each * args.sources
    made = sum(checks_made(c.feed_times, start, stopped_at, due_each) for c in counts)
    feed_requests = sum(len(c.feed_times) for c in counts)
    gaps = [
        b - a
        for c in counts
        for a, b in zip(c.feed_times, c.feed_times[1:], strict=False)
        if b <= stopped_at
    ]
    never = sum(1 for c in counts if not any(t < stopped_at for t in c.feed_times))
    delays = []
    missed = []
    for post, url in zip(published, urls, strict=True):
        when = store["stored"].get(url)
        if when is None:
            missed.append(url)
        else:
            delays.append((when - post.published).total_seconds())
    limit_s = interval_s + STORE_MARGIN_S
    cpu_ms = runner["tree_cpu_s"] * 1000 / feed_requests if feed_requests else None
    due_share = made / due if due else 0.0
    late = sum(1 for d in delays if d > limit_s)
    targets = {
        "due_checks": {
            "value": round(due_share, 4),
            "target": f">= {MIN_DUE_SHARE:.0%} of due checks made",
            "pass": due_share >= MIN_DUE_SHARE,
        },
        "cpu_per_check": {
            "value": None if cpu_ms is None else round(cpu_ms, 1),
            "target": f"<= {MAX_CPU_MS_PER_CHECK:g} ms of CPU per check (whole process tree)",
            "pass": cpu_ms is not None and cpu_ms <= MAX_CPU_MS_PER_CHECK,
        },
        "posts_in_time": {
            "value": len(published) - len(missed) - late,
            "target": f"all {len(published)} posts stored within {limit_s:g} s",
            "pass": not missed and not late,
        },
        "clean_stop": {
            "value": runner["exit_code"],
            "target": "exit 0 after SIGTERM, no process left behind, not killed",
            "pass": runner["exit_code"] == 0
            and not runner["exited_early"]
            and not runner["killed_after_sigterm"]
            and not runner["processes_left_behind"],
        },
    }
    return {
        "sources": args.sources,
        "interval": args.interval,
        "interval_s": interval_s,
        "minutes": args.minutes,
        "database": "postgresql" if args.postgres else "sqlite",
        "workers": args.workers,
        "command": " ".join(runner.pop("command")),
        "run_s": round(runner["run_s"], 1),
        "stop_s": round(runner["stop_s"], 1),
        "exit_code": runner["exit_code"],
        "exited_early": runner["exited_early"],
        "killed_after_sigterm": runner["killed_after_sigterm"],
        "processes_left_behind": runner["processes_left_behind"],
        "subreaper": subreaper,
        "due_per_source": due_each,
        "due_checks": due,
        "checks_made": made,
        "feed_requests": feed_requests,
        "feed_304": sum(c.feed_304 for c in counts),
        "feed_200": sum(c.feed_200 for c in counts),
        "robots_requests": sum(c.robots for c in counts),
        "article_requests": sum(c.articles for c in counts),
        "sources_never_checked": never,
        "check_gap_median_s": round(statistics.median(gaps), 1) if gaps else None,
        "check_gap_max_s": round(max(gaps), 1) if gaps else None,
        "crawl_runs": store["crawl_runs"],
        "crawl_run_statuses": store["run_statuses"],
        "runs_not_modified": store["runs_not_modified"],
        "tree_cpu_s": round(runner["tree_cpu_s"], 2),
        "cpu_ms_per_check": None if cpu_ms is None else round(cpu_ms, 1),
        "largest_process_rss_mib": runner["largest_process_rss_mib"],
        "tree_rss_mib_peak": runner["tree_rss_mib_peak"],
        "tree_processes_peak": runner["tree_processes_peak"],
        "scheduler_own_cpu_s": None
        if runner["scheduler_own_cpu_s"] is None
        else round(runner["scheduler_own_cpu_s"], 2),
        "posts_published": len(published),
        "posts_stored": len(published) - len(missed),
        "posts_late": late,
        "delay_limit_s": limit_s,
        "delay_median_s": round(statistics.median(delays), 1) if delays else None,
        "delay_max_s": round(max(delays), 1) if delays else None,
        "missed": missed,
        "reference": reference,
        "targets": targets,
        "pass": all(t["pass"] for t in targets.values()),
        "log": runner["log"],
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g} s"


def report(f: dict[str, Any]) -> str:
    """Render the figures for a reader."""
    t = f["targets"]
    workers = f"--workers {f['workers']}" if f["workers"] is not None else "its defaults"
    ref = f["reference"]
    own = f["scheduler_own_cpu_s"]
    per_check = "n/a" if f["cpu_ms_per_check"] is None else f"{f['cpu_ms_per_check']:g} ms"
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(f["crawl_run_statuses"].items()))
    lines = [
        f"bench-poll: {f['sources']} sources x interval {f['interval']}, {f['run_s']:.0f} s, "
        f"{f['database']}, aggregator schedule with {workers}",
        f"  due checks        {f['due_checks']} ({f['sources']} sources x {f['due_per_source']})",
        f"  checks made       {f['checks_made']} ({t['due_checks']['value']:.1%})"
        f"   {verdict(t['due_checks']['pass'])} (>= {MIN_DUE_SHARE:.0%})",
        f"  feed requests     {f['feed_requests']}: {f['feed_304']} answered 304, "
        f"{f['feed_200']} answered 200; robots.txt {f['robots_requests']}, "
        f"article pages {f['article_requests']}",
        f"  per source        never checked {f['sources_never_checked']}; gap between checks "
        f"median {_seconds(f['check_gap_median_s'])}, max {_seconds(f['check_gap_max_s'])}",
        f"  crawl runs        {f['crawl_runs']} recorded ({statuses or 'none'}), "
        f"{f['runs_not_modified']} feeds not modified",
        f"  CPU, whole tree   {f['tree_cpu_s']:.1f} s = {per_check} per check"
        f"   {verdict(t['cpu_per_check']['pass'])} (<= {MAX_CPU_MS_PER_CHECK:g} ms)",
        f"                    of which the scheduler process itself {_seconds(own)} "
        "until SIGTERM, the rest its descendants",
        f"  posts             {f['posts_published']} published, {f['posts_stored']} stored, "
        f"{f['posts_late']} late; delay median {_seconds(f['delay_median_s'])}, max "
        f"{_seconds(f['delay_max_s'])}   {verdict(t['posts_in_time']['pass'])} "
        f"(<= {f['delay_limit_s']:g} s)",
        f"  memory            largest process {f['largest_process_rss_mib']} MiB; whole tree "
        f"{f['tree_rss_mib_peak']} MiB peak over {f['tree_processes_peak']} processes",
        f"  stop              exit {f['exit_code']} {f['stop_s']:.1f} s after SIGTERM, "
        f"{f['processes_left_behind']} processes left behind"
        f"{', killed' if f['killed_after_sigterm'] else ''}"
        f"{', EXITED EARLY' if f['exited_early'] else ''}   {verdict(t['clean_stop']['pass'])}",
        f"  reference         {ref['what']}: {ref['cpu_ms']} ms CPU, {ref['wall_s']} s, "
        f"{ref['peak_rss_mib']} MiB",
        f"  log               {f['log']}",
        f"bench-poll: {verdict(f['pass'])}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.poll",
        description=__doc__.split("\n\n")[0],
        epilog="Example: python -m benchmarks.poll --sources 20 --minutes 3 --posts 5",
    )
    parser.add_argument("--sources", type=int, default=400, help="simulated sources (400)")
    parser.add_argument("--interval", default="60s", help='each source\'s interval ("60s")')
    parser.add_argument("--minutes", type=float, default=4.0, help="how long it runs (4)")
    parser.add_argument("--posts", type=int, default=40, help="posts published in the run (40)")
    parser.add_argument(
        "--workers", type=int, help="pass --workers N to aggregator schedule (else its default)"
    )
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    parser.add_argument("--workdir", type=Path, help="keep sources, database and logs here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.sources < 1 or args.posts < 0 or args.minutes <= 0:
        parser.error("--sources must be >= 1, --posts >= 0, --minutes > 0")
    try:
        interval_s = parse_duration(args.interval).total_seconds()
        publish_window(args.minutes * 60, interval_s)
    except ValueError as exc:
        parser.error(str(exc))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="aggregator-poll-"))
    workdir.mkdir(parents=True, exist_ok=True)
    figures = run(args, workdir)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(report(figures))
        if figures["exited_early"] or figures["exit_code"] not in (0, None):
            print(f"last lines of {figures['log']}:\n{tail(figures['log'], 20)}")
    return 0 if figures["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
