"""End-to-end crawl throughput on generated WordPress-like blogs served on 127.0.0.1."""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator import settings as project_settings
from aggregator.crawling import LOCAL_SITE_SETTINGS, scrapy_crawl_command
from aggregator.demo.server import SiteGroup
from aggregator.extract import extract_article
from aggregator.store.articles import store_stats
from aggregator.store.db import open_store, session_scope
from aggregator.store.runs import recent_runs
from benchmarks.common import (
    become_subreaper,
    descendants,
    postgres_database,
    proc_table,
    progress,
    tail,
)
from benchmarks.sites import generate_sites

ROOT = Path(__file__).resolve().parent.parent

# The brief's crawl settings: no politeness delays against our own local servers
CRAWL_SETTINGS = {
    **LOCAL_SITE_SETTINGS,
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "CONCURRENT_REQUESTS": str(project_settings.CONCURRENT_REQUESTS),
    "LOG_LEVEL": "INFO",
}
# The reference must obey robots.txt too, or it would skip a request ours makes
REFERENCE_SETTINGS = {**CRAWL_SETTINGS, "ROBOTSTXT_OBEY": "True"}
CONTENT_TYPE = "text/html; charset=utf-8"
PROGRESS_EVERY = 5.0
PROFILE_PAGES = 200
# Targets of issue 10 ("Every core used") on the 2-core development machine: pages per second,
# and the share of the machine's bound (its CPUs / plain trafilatura's CPU seconds per page)
MIN_PAGES_PER_S = 60.0
MIN_SHARE_OF_BOUND = 0.7


_progress = functools.partial(progress, "bench-crawl")


def _article_hits(group: SiteGroup, paths: dict[str, set[str]]) -> int:
    """Count the requests for article pages served so far, over every site."""
    return sum(server.hits[path] for name, server in group.servers.items() for path in paths[name])


@dataclass
class ProcessResult:
    """How a process tree ran: exit code, wall time, CPU time, peak RSS and its log file.

    cpu_s counts the whole tree (the crawl process and its worker processes); peak_rss_mb is
    the largest single process of the tree, tree_rss_mb the peak of the tree's summed RSS.
    """

    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    tree_rss_mb: float
    processes: int
    log: Path


def _tree_rss(root: int) -> tuple[int, int, int]:
    """The summed RSS in bytes of a process and its descendants, their number, the largest."""
    table = proc_table()
    tree = [root, *descendants(root, table)]
    sizes = [table[pid][1] * 1024 if pid in table else 0 for pid in tree]
    return sum(sizes), len(tree), max(sizes)


def _reap_orphans(deadline: float) -> None:
    """Wait for the adopted orphans (fork server, resource tracker) until they are all gone."""
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            time.sleep(0.05)


def _run_process(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    log: Path,
    label: str,
    group: SiteGroup,
    paths: dict[str, set[str]],
) -> ProcessResult:
    """Run a command to its end, with progress on stderr; measure its tree's CPU time and RSS."""
    on_linux = Path("/proc/self/stat").exists()
    adopted = on_linux and become_subreaper()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    tree_rss = processes = largest = 0
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        last = started
        while process.poll() is None:
            if on_linux:
                rss, count, biggest = _tree_rss(process.pid)
                tree_rss, processes = max(tree_rss, rss), max(processes, count)
                largest = max(largest, biggest)
            time.sleep(0.05)
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY:
                last = now
                _progress(
                    f"  {label}: {now - started:5.1f}s, "
                    f"{_article_hits(group, paths)} article pages served"
                )
    wall = time.monotonic() - started
    if adopted:
        _reap_orphans(time.monotonic() + 30)
    # Deltas of every child reaped meanwhile: the crawl process, and (adopted or reaped by
    # it) its worker processes; the site servers are threads of this process, not counted
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return ProcessResult(
        process.returncode,
        wall,
        cpu,
        # Sampled every 0.05 s; without /proc, the largest child's so far (ru_maxrss)
        largest / 2**20 if on_linux else after.ru_maxrss / 1024,
        tree_rss / 2**20,
        processes,
        log,
    )


def _last_run(db_url: str) -> dict[str, Any]:
    """Read the latest crawl run of the store: status, counts, elapsed seconds, errors."""
    engine = open_store(db_url)
    try:
        with session_scope(engine) as session:
            runs = recent_runs(session, limit=1)
            if not runs:
                raise RuntimeError(f"no crawl run recorded in {db_url}")
            run = runs[0]
            elapsed = run.stats.get("elapsed_time_seconds")
            if not isinstance(elapsed, int | float):
                elapsed = ((run.finished_at or run.started_at) - run.started_at).total_seconds()
            total = store_stats(session)["articles"]
            return {
                "run_id": run.id,
                "status": run.status,
                "pages_fetched": run.pages_fetched,
                "articles_stored": run.articles_stored,
                "articles_in_store": total,
                "errors": run.error_count,
                "elapsed_s": float(elapsed),
                "known_skipped": int(run.stats.get("aggregator/known_skipped", 0)),
            }
    finally:
        engine.dispose()


def crawl(
    label: str,
    db_url: str,
    sources: Path,
    workdir: Path,
    group: SiteGroup,
    paths: dict[str, set[str]],
) -> dict[str, Any]:
    """Run the real `scrapy crawl techblogs` once into db_url and return its figures."""
    command = scrapy_crawl_command({"limit": "100000"}, CRAWL_SETTINGS)
    env = {**os.environ, "AGGREGATOR_SOURCES": str(sources), "AGGREGATOR_DB_URL": db_url}
    group.clear_log()
    log = workdir / f"{label.replace(' ', '-')}.log"
    _progress(f"{label}: scrapy crawl techblogs into {db_url}")
    result = _run_process(command, ROOT, env, log, label, group, paths)
    if result.returncode != 0:
        raise RuntimeError(f"{label} exited with {result.returncode}:\n{tail(log, 30)}")
    run = _last_run(db_url)
    article_hits = _article_hits(group, paths)
    pages_per_s = run["pages_fetched"] / run["elapsed_s"] if run["elapsed_s"] else 0.0
    _progress(
        f"{label}: {run['pages_fetched']} pages in {run['elapsed_s']:.1f}s "
        f"({pages_per_s:.1f} pages/s), wall {result.wall_s:.1f}s"
    )
    return {
        **run,
        "wall_s": round(result.wall_s, 3),
        "elapsed_s": round(run["elapsed_s"], 3),
        "pages_per_s": round(pages_per_s, 2),
        "cpu_s": round(result.cpu_s, 2),
        "cpu_ms_per_page": round(1000 * result.cpu_s / run["pages_fetched"], 1)
        if run["pages_fetched"]
        else 0.0,
        "peak_rss_mb": round(result.peak_rss_mb, 1),
        "tree_rss_mb": round(result.tree_rss_mb, 1),
        "processes": result.processes,
        "article_requests_served": article_hits,
    }


REFERENCE_SPIDER = '''"""Fetch the benchmark's article URLs: no pipelines, no parsing."""

import json
from datetime import datetime, timezone
from pathlib import Path

import scrapy


class RawFetchSpider(scrapy.Spider):
    name = "rawfetch"
    fetched = 0

    async def start(self):
        for url in Path(self.urls).read_text().split():
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response):
        self.fetched += 1

    def closed(self, reason):
        stats = self.crawler.stats.get_stats()
        elapsed = stats.get("elapsed_time_seconds")
        if elapsed is None:
            start = stats["start_time"]
            now = datetime.now(start.tzinfo or timezone.utc).replace(tzinfo=start.tzinfo)
            elapsed = (now - start).total_seconds()
        Path(self.out).write_text(json.dumps({"pages": self.fetched, "elapsed_s": elapsed}))
'''


def reference_fetch(
    urls: list[str], workdir: Path, group: SiteGroup, paths: dict[str, set[str]]
) -> dict[str, Any]:
    """Fetch the same article URLs with a bare Scrapy spider: the raw fetch rate of this machine."""
    folder = workdir / "reference"
    folder.mkdir()
    spider = folder / "rawfetch.py"
    spider.write_text(REFERENCE_SPIDER, encoding="utf-8")
    (folder / "urls.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")
    out = folder / "result.json"
    command = [sys.executable, "-m", "scrapy", "runspider", str(spider)]
    command += ["-a", f"urls={folder / 'urls.txt'}", "-a", f"out={out}"]
    for key, value in REFERENCE_SETTINGS.items():
        command += ["-s", f"{key}={value}"]
    # Outside the project folder, so scrapy.cfg and the project's pipelines are not loaded
    env = {k: v for k, v in os.environ.items() if k != "SCRAPY_SETTINGS_MODULE"}
    group.clear_log()
    _progress(f"reference: scrapy runspider fetching {len(urls)} article URLs, no pipelines")
    result = _run_process(
        command, folder, env, workdir / "reference.log", "reference", group, paths
    )
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(f"reference exited with {result.returncode}:\n{tail(result.log, 30)}")
    figures = json.loads(out.read_text(encoding="utf-8"))
    pages_per_s = figures["pages"] / figures["elapsed_s"] if figures["elapsed_s"] else 0.0
    _progress(
        f"reference: {figures['pages']} pages in {figures['elapsed_s']:.1f}s "
        f"({pages_per_s:.1f} pages/s)"
    )
    return {
        "pages_fetched": figures["pages"],
        "elapsed_s": round(figures["elapsed_s"], 3),
        "wall_s": round(result.wall_s, 3),
        "pages_per_s": round(pages_per_s, 2),
        "cpu_s": round(result.cpu_s, 2),
        "peak_rss_mb": round(result.peak_rss_mb, 1),
    }


def _pages(group: SiteGroup, paths: dict[str, set[str]]) -> Iterator[tuple[str, bytes]]:
    """Yield (URL, page bytes as served) for every article page."""
    for name, server in group.servers.items():
        for path in sorted(paths[name]):
            yield (
                server.url(path),
                server.render((server.root / path.strip("/") / "index.html").read_bytes()),
            )


def measure_extraction(group: SiteGroup, paths: dict[str, set[str]]) -> dict[str, Any]:
    """Time extract_article in this process over every article page, one page at a time."""
    timings: list[float] = []
    sizes: list[int] = []
    text_chars: list[int] = []
    rejected = 0
    _progress("extraction: extract_article over every page, in process")
    for url, html in _pages(group, paths):
        started = time.perf_counter()
        article = extract_article(html, url, CONTENT_TYPE)
        timings.append((time.perf_counter() - started) * 1000)
        sizes.append(len(html))
        if article is None:
            rejected += 1
        else:
            text_chars.append(len(article.text))
    timings.sort()
    result = {
        "pages": len(timings),
        "rejected": rejected,
        "mean_ms": round(statistics.fmean(timings), 2),
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
        "total_s": round(sum(timings) / 1000, 2),
        "page_kb_mean": round(statistics.fmean(sizes) / 1024, 1),
        "page_kb_min": round(min(sizes) / 1024, 1),
        "page_kb_max": round(max(sizes) / 1024, 1),
        "text_chars_mean": round(statistics.fmean(text_chars)) if text_chars else 0,
    }
    _progress(f"extraction: {result['mean_ms']} ms per page on average")
    return result


def measure_trafilatura(group: SiteGroup, paths: dict[str, set[str]]) -> dict[str, Any]:
    """CPU seconds per page of plain trafilatura.extract over every article page, in process."""
    import trafilatura

    pages = list(_pages(group, paths))
    _progress(f"trafilatura: plain trafilatura.extract over {len(pages)} pages, in process")
    started = time.process_time()
    for url, html in pages:
        trafilatura.extract(html, url=url)
    cpu_s = time.process_time() - started
    result = {"pages": len(pages), "cpu_s": round(cpu_s, 2), "cpu_s_per_page": cpu_s / len(pages)}
    _progress(f"trafilatura: {1000 * result['cpu_s_per_page']:.1f} ms of CPU per page")
    return result


def profile_extraction(group: SiteGroup, paths: dict[str, set[str]], top: int = 25) -> None:
    """Print on stderr where extract_article spends its time, over the first pages."""
    pages = []
    for number, page in enumerate(_pages(group, paths)):
        if number >= PROFILE_PAGES:
            break
        pages.append(page)
    profiler = cProfile.Profile()
    profiler.enable()
    for url, html in pages:
        extract_article(html, url, CONTENT_TYPE)
    profiler.disable()
    _progress(f"profile of extract_article over {len(pages)} pages (by own time):")
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(top)


def run_backend(
    backend: str,
    db_url: str,
    sources: Path,
    workdir: Path,
    group: SiteGroup,
    paths: dict[str, set[str]],
    reference: dict[str, Any],
    extraction: dict[str, Any],
    bound: float,
) -> dict[str, Any]:
    """A full crawl then an incremental one into one fresh database."""
    first = crawl(f"crawl {backend}", db_url, sources, workdir, group, paths)
    second = crawl(f"incremental {backend}", db_url, sources, workdir, group, paths)
    ratio = first["pages_per_s"] / reference["pages_per_s"] if reference["pages_per_s"] else 0.0
    extraction_s = extraction["mean_ms"] * first["pages_fetched"] / 1000
    return {
        "db": db_url.split("://", 1)[0],
        "crawl": first,
        "incremental": second,
        "ratio_to_reference": round(ratio, 3),
        "ratio_to_bound": round(first["pages_per_s"] / bound, 3) if bound else 0.0,
        "extraction_share": round(extraction_s / first["elapsed_s"], 3)
        if first["elapsed_s"]
        else 0.0,
    }


def _commit() -> str | None:
    """Return the checkout's commit, so figures can be matched to the code they measured."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def _report(result: dict[str, Any]) -> str:
    """Return the figures as readable text."""
    ext = result["extraction"]
    ref = result["reference"]
    plain = result["trafilatura"]
    lines = [
        f"Crawl benchmark: {result['sites']} sites x {result['posts_per_site']} posts = "
        f"{result['pages']} article pages of {ext['page_kb_mean']} KB on average "
        f"({ext['page_kb_min']}-{ext['page_kb_max']} KB), {result['cpus']} CPUs, "
        f"commit {result['commit']}",
        "",
        f"Reference (bare Scrapy spider, no pipelines): {ref['pages_fetched']} pages in "
        f"{ref['elapsed_s']:.2f}s = {ref['pages_per_s']:.1f} pages/s "
        f"(wall {ref['wall_s']:.2f}s, CPU {ref['cpu_s']:.1f}s, "
        f"peak RSS {ref['peak_rss_mb']:.0f} MB)",
        f"Extraction in process: {ext['mean_ms']:.1f} ms/page mean, {ext['median_ms']:.1f} median, "
        f"{ext['p95_ms']:.1f} p95; {ext['pages'] - ext['rejected']}/{ext['pages']} articles, "
        f"{ext['text_chars_mean']} chars of text on average",
        f"Plain trafilatura: {1000 * plain['cpu_s_per_page']:.1f} ms of CPU per page; machine "
        f"bound = {result['cpus']} CPUs / that = {result['bound_pages_per_s']:.1f} pages/s",
        f"Targets: >= {MIN_PAGES_PER_S:.0f} pages/s and >= {MIN_SHARE_OF_BOUND} x bound "
        f"= {MIN_SHARE_OF_BOUND * result['bound_pages_per_s']:.1f} pages/s",
    ]
    for name, backend in result["backends"].items():
        first, second = backend["crawl"], backend["incremental"]
        lines += [
            "",
            f"{name}:",
            f"  full crawl       wall {first['wall_s']:7.2f}s  crawl {first['elapsed_s']:7.2f}s  "
            f"{first['pages_per_s']:7.1f} pages/s = "
            f"{backend['ratio_to_reference']:.2f} x reference",
            f"                   {first['articles_stored']} articles stored "
            f"({first['articles_in_store']} in store), {first['pages_fetched']} pages fetched, "
            f"{first['errors']} errors",
            f"                   {backend['ratio_to_bound']:.2f} x bound: "
            f"{'PASS' if not _missed_targets(backend, result['bound_pages_per_s']) else 'FAIL'} "
            f"(>= {MIN_PAGES_PER_S:.0f} pages/s: "
            f"{'pass' if first['pages_per_s'] >= MIN_PAGES_PER_S else 'fail'}, "
            f">= {MIN_SHARE_OF_BOUND} x bound: "
            f"{'pass' if backend['ratio_to_bound'] >= MIN_SHARE_OF_BOUND else 'fail'})",
            f"                   CPU {first['cpu_s']:.1f}s = "
            f"{first['cpu_ms_per_page']:.1f} ms/page, summed over the crawl process tree "
            f"({first['processes']} processes: workers, fork server, resource tracker)",
            f"                   peak RSS {first['tree_rss_mb']:.0f} MB summed over the tree, "
            f"{first['peak_rss_mb']:.0f} MB its largest process",
            f"                   extraction ~ {backend['extraction_share']:.0%} of crawl time "
            f"({ext['mean_ms']:.1f} ms x {first['pages_fetched']} pages)",
            f"  incremental      wall {second['wall_s']:7.2f}s  crawl {second['elapsed_s']:7.2f}s  "
            f"{second['pages_fetched']} article pages fetched",
            f"                   {second['article_requests_served']} article requests served, "
            f"{second['known_skipped']} known URLs skipped",
        ]
    return "\n".join(lines)


def _missed_targets(backend: dict[str, Any], bound: float) -> list[str]:
    """The crawl targets a backend's full crawl missed (empty when it met both)."""
    rate = backend["crawl"]["pages_per_s"]
    missed = []
    if rate < MIN_PAGES_PER_S:
        missed.append(f"{MIN_PAGES_PER_S} pages/s")
    if rate < MIN_SHARE_OF_BOUND * bound:
        missed.append(
            f"{MIN_SHARE_OF_BOUND} x the bound ({MIN_SHARE_OF_BOUND * bound:.1f} pages/s)"
        )
    return missed


def project_cpus() -> int:
    """The CPUs the crawl may use (what AGGREGATOR_EXTRACT_PROCESSES defaults to)."""
    from aggregator.processes import default_processes

    return default_processes()


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the sites, serve them, measure, print the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.crawl", description=__doc__)
    parser.add_argument("--sites", type=int, default=40, help="number of blogs (default 40)")
    parser.add_argument("--posts", type=int, default=25, help="posts per blog (default 25)")
    parser.add_argument("--postgres", action="store_true", help="also crawl into PostgreSQL")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", action="store_true", help="cProfile extraction on stderr")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.sites < 1 or args.posts < 1:
        parser.error("--sites and --posts must be positive")

    workdir = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    try:
        _progress(f"generating {args.sites} sites x {args.posts} posts in {workdir}")
        started = time.monotonic()
        sites = generate_sites(workdir / "sites", args.sites, args.posts)
        paths = {site.name: {post.path for post in site.posts} for site in sites}
        _progress(f"generated in {time.monotonic() - started:.1f}s")
        with SiteGroup(workdir / "sites") as group:
            sources = workdir / "sources.toml"
            sources.write_text(group.sources_toml(), encoding="utf-8")
            urls = [group[name].url(path) for name in paths for path in sorted(paths[name])]
            extraction = measure_extraction(group, paths)
            plain = measure_trafilatura(group, paths)
            cpus = project_cpus()
            # What this machine could do at best: every core busy with plain trafilatura only
            bound = cpus / plain["cpu_s_per_page"]
            if args.profile:
                profile_extraction(group, paths)
            reference = reference_fetch(urls, workdir, group, paths)
            backends: dict[str, Any] = {}
            sqlite_url = f"sqlite:///{workdir / 'bench.db'}"
            backends["sqlite"] = run_backend(
                "sqlite", sqlite_url, sources, workdir, group, paths, reference, extraction, bound
            )
            if args.postgres:
                with postgres_database("bench_crawl") as pg_url:
                    backends["postgresql"] = run_backend(
                        "postgresql",
                        pg_url,
                        sources,
                        workdir,
                        group,
                        paths,
                        reference,
                        extraction,
                        bound,
                    )
        result = {
            "sites": args.sites,
            "posts_per_site": args.posts,
            "pages": len(urls),
            "cpus": cpus,
            "commit": _commit(),
            "trafilatura": plain,
            "bound_pages_per_s": round(bound, 1),
            "targets": {"pages_per_s": MIN_PAGES_PER_S, "share_of_bound": MIN_SHARE_OF_BOUND},
            "settings": CRAWL_SETTINGS,
            "extraction": extraction,
            "reference": reference,
            "backends": backends,
        }
        print(json.dumps(result) if args.json else _report(result))
        problems = [
            f"{name}: {b['crawl']['articles_stored']} of {len(urls)} pages stored"
            for name, b in backends.items()
            if b["crawl"]["articles_stored"] != len(urls)
        ] + [
            f"{name}: incremental crawl fetched {b['incremental']['article_requests_served']} pages"
            for name, b in backends.items()
            if b["incremental"]["article_requests_served"]
        ]
        failed = [
            f"{name}: {b['crawl']['pages_per_s']:.1f} pages/s, below {target}"
            for name, b in backends.items()
            for target in _missed_targets(b, bound)
        ]
        for problem in problems:
            _progress(f"WARNING {problem}")
        for failure in failed:
            _progress(f"FAIL {failure}")
        return 1 if problems or failed else 0
    finally:
        if args.keep:
            _progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
