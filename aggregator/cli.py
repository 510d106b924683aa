"""The `aggregator` command: crawl, read and manage the store of clean articles."""

from __future__ import annotations

import functools
import json
import logging
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from aggregator import settings as default_settings
from aggregator.crawling import run_crawl
from aggregator.exceptions import AggregatorError, ImportLineError
from aggregator.store import queries
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import CrawlRun

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Options shared by every command: where the store and the sources file are."""

    def __init__(self, db_url: str, sources_path: str) -> None:
        self.db_url = db_url
        self.sources_path = sources_path
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_store(self.db_url)
        return self._engine


pass_context = click.make_pass_decorator(Context)


def domain_errors(func: F) -> F:
    """Turn domain errors into readable click errors (no traceback for user mistakes)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AggregatorError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def parse_since(value: str | None) -> datetime | None:
    """A duration back from now ("2d", "36h") or an ISO 8601 date, as an aware UTC datetime."""
    if not value:
        return None
    from aggregator.sources import parse_moment

    try:
        return parse_moment(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_url",
    envvar="AGGREGATOR_DB_URL",
    default=default_settings.AGGREGATOR_DB_URL,
    show_default=True,
    help="SQLAlchemy database URL (env AGGREGATOR_DB_URL).",
)
@click.option(
    "--sources",
    "sources_path",
    envvar="AGGREGATOR_SOURCES",
    default=default_settings.AGGREGATOR_SOURCES,
    show_default=True,
    help="The TOML file of sources (env AGGREGATOR_SOURCES).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="techblog-aggregator")
@click.pass_context
def main(ctx: click.Context, db_url: str, sources_path: str, verbose: int) -> None:
    """Crawl tech blogs into a SQL store of clean articles, and read it.

    \b
    Example:
      aggregator crawl                 # crawl every enabled source of sources.toml
      aggregator articles --since 2d   # what arrived in the last two days
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    # The level sits on the handler: Scrapy lowers the root logger's level when it starts
    logging.basicConfig(level=level, handlers=[handler])
    ctx.obj = Context(db_url, sources_path)


# -- crawling --------------------------------------------------------------------------


def _run_summary(engine: Engine, run_id: int | None) -> dict[str, Any]:
    with session_scope(engine) as session:
        run = session.get(CrawlRun, run_id) if run_id is not None else None
        if run is None:
            raise click.ClickException("the crawl did not record a run: see the log above")
        elapsed = ((run.finished_at or run.started_at) - run.started_at).total_seconds()
        return {
            "run": run.id,
            "status": run.status,
            "sources": run.sources,
            "pages_fetched": run.pages_fetched,
            "articles_stored": run.articles_stored,
            "articles_updated": int(run.stats.get("aggregator/store/updated", 0)),
            "errors": run.error_count,
            "seconds": round(elapsed, 2),
            "error_list": [
                {"source": e.source, "url": e.url, "reason": e.reason} for e in run.errors
            ],
        }


@main.command()
@click.argument("source_names", metavar="[SOURCE]...", nargs=-1)
@click.option("--limit", type=click.IntRange(min=1), help="Article pages per source (default 50).")
@click.option("--url", help="Fetch this one page instead of the sources' feeds.")
@click.option("--refresh", is_flag=True, help="Fetch articles again even if already stored.")
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy or AGGREGATOR_* setting, as `scrapy crawl -s` does.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
@pass_context
@domain_errors
def crawl(
    obj: Context,
    source_names: tuple[str, ...],
    limit: int | None,
    url: str | None,
    refresh: bool,
    overrides: tuple[str, ...],
    as_json: bool,
) -> None:
    """Crawl sources now and store their new articles.

    \b
    Example:
      aggregator crawl                      # every enabled source
      aggregator crawl arstechnica lwn --limit 10
      aggregator crawl --url https://example.com/2026/11/a-post/
      aggregator crawl -s DOWNLOAD_DELAY=2
    """
    from aggregator.sources import load_sources, select_sources

    if not url:
        # Validate before any request: a bad file stops here with a readable message
        select_sources(load_sources(obj.sources_path), list(source_names))
    spider_args: dict[str, str] = {}
    if source_names:
        spider_args["source"] = ",".join(source_names)
    if limit:
        spider_args["limit"] = str(limit)
    if url:
        spider_args["url"] = url
    if refresh:
        spider_args["refresh"] = "1"
    settings: dict[str, str] = {}
    for override in overrides:
        name, sep, value = override.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{override!r} is not NAME=VALUE", param_hint="--set")
        settings[name] = value
    run_id = run_crawl(obj.db_url, obj.sources_path, spider_args, settings, progress=not as_json)
    summary = _run_summary(obj.engine, run_id)
    if as_json:
        emit_json(summary)
        return
    click.echo(
        f"Crawl run {summary['run']} {summary['status']} in {summary['seconds']} s: "
        f"{summary['pages_fetched']} pages fetched, {summary['articles_stored']} articles stored, "
        f"{summary['articles_updated']} updated, {summary['errors']} errors."
    )
    for error in summary["error_list"][:20]:
        click.echo(f"  {error['source'] or '-'}: {error['url']}: {error['reason']}", err=True)


# -- reading ---------------------------------------------------------------------------


@main.command()
@click.option("--source", help="Only this source.")
@click.option("--since", help="Only articles newer than this: 2d, 36h, or an ISO date.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@click.option(
    "--with-duplicates",
    is_flag=True,
    help="Also list copies of other articles (hidden by default; see duplicate_of).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one article a line.")
@pass_context
@domain_errors
def articles(
    obj: Context,
    source: str | None,
    since: str | None,
    limit: int | None,
    with_duplicates: bool,
    as_json: bool,
) -> None:
    """List stored articles, newest first; copies of other articles are left out.

    \b
    Example:
      aggregator articles --since 2d
      aggregator articles --source techpulse --json | jq .title
      aggregator articles --with-duplicates --json | jq 'select(.duplicate_of)'
    """
    moment = parse_since(since)
    with session_scope(obj.engine) as session:
        found = 0
        for article in queries.list_articles(
            session, source, moment, include_duplicates=with_duplicates, limit=limit
        ):
            found += 1
            if as_json:
                emit_json(queries.article_to_dict(article))
                continue
            when = (article.published or article.fetched_at).strftime("%Y-%m-%d %H:%M")
            copy = f"  (copy of {article.duplicate_of})" if article.duplicate_of else ""
            click.echo(f"{article.id:>6}  {when}  {article.source.name:<16} {article.title}{copy}")
        if not found and not as_json:
            click.echo("No articles stored yet. Run `aggregator crawl` first.", err=True)


@main.command()
@click.argument("query")
@click.option("--source", help="Only this source.")
@click.option("--author", help="Only articles by this author (exact name, any case).")
@click.option("--tag", help="Only articles with this tag.")
@click.option("--story", type=click.IntRange(0, 2**31 - 1), help="Only articles of this story id.")
@click.option("--since", help="Only articles newer than this: 2d, 36h, or an ISO date.")
@click.option("--until", help="Only articles older than this: 2d, 36h, or an ISO date.")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, best first.")
@pass_context
@domain_errors
def search(
    obj: Context,
    query: str,
    source: str | None,
    author: str | None,
    tag: str | None,
    story: int | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search titles and bodies, best matches first (copies of other articles left out).

    All words must match; "quoted phrases" match as written, compil* matches a prefix, -word
    excludes. With --json: the keys of `aggregator articles --json` plus score, snippet and
    highlights ([start, end) offsets of the matches in the snippet).

    \b
    Example:
      aggregator search 'rust "memory safety"' --since 7d
      aggregator search 'kubernetes -helm' --source lwn --json | jq .title
    """
    from aggregator.export import split_snippet
    from aggregator.store.search import Filters, plain_snippet
    from aggregator.store.search import search as run_search

    filters = Filters(
        source=source,
        author=author,
        tag=tag,
        story=story,
        since=parse_since(since),
        until=parse_since(until),
    )
    with session_scope(obj.engine) as session:
        hits = run_search(session, query, filters, limit=limit)
        for hit in hits:
            if as_json:
                snippet, spans = split_snippet(hit.snippet)
                data = queries.article_to_dict(hit.article)
                data.update(score=round(hit.score, 6), snippet=snippet, highlights=spans)
                emit_json(data)
                continue
            when = (hit.article.published or hit.article.fetched_at).strftime("%Y-%m-%d")
            click.echo(
                f"{hit.article.id:>6}  {when}  {hit.article.source.name:<16} {hit.article.title}"
            )
            click.echo(f"        {plain_snippet(hit.snippet)}")
        if not hits and not as_json:
            click.echo(f"No article matches {query!r}.", err=True)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "atom"]), default="jsonl")
@click.option("--source", help="Only this source.")
@click.option("--since", help="Only articles newer than this: 2d, 36h, or an ISO date.")
@click.option("--with-duplicates", is_flag=True, help="Also copies of other articles.")
@pass_context
@domain_errors
def export(
    obj: Context, fmt: str, source: str | None, since: str | None, with_duplicates: bool
) -> None:
    """Write stored articles to standard output, newest first, streamed (any size).

    \b
    Example:
      aggregator export --format csv --since 30d > articles.csv
      aggregator export --format atom --source lwn > lwn.atom
    """
    from aggregator.export import atom_lines, csv_lines, jsonl_lines

    moment = parse_since(since)
    with session_scope(obj.engine) as session:
        articles = queries.list_articles(
            session, source, moment, include_duplicates=with_duplicates
        )
        if fmt == "jsonl":
            lines = jsonl_lines(articles)
        elif fmt == "csv":
            lines = csv_lines(articles)
        else:
            title = f"Articles of {source}" if source else "Articles"
            lines = atom_lines(articles, title, f"urn:techblog-aggregator:export:{source or 'all'}")
        for line in lines:
            sys.stdout.write(line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@pass_context
@domain_errors
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the read-only site: stories, search, articles, sources, JSON API, Atom feeds.

    \b
    Example:
      aggregator serve                      # http://127.0.0.1:8080/
      aggregator serve --host 0.0.0.0 --port 9000
      curl 'http://127.0.0.1:8080/api/search?q=rust'
    """
    import uvicorn

    from aggregator.web import create_app

    obj.engine  # migrate (and check the URL) before the server starts  # noqa: B018
    click.echo(f"Serving {obj.db_url} on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    uvicorn.run(create_app(obj.db_url), host=host, port=port, log_level="warning")


@main.command()
@click.argument("key", metavar="ID|URL")
@click.option("--json", "as_json", is_flag=True, help="The article as one JSON object.")
@pass_context
@domain_errors
def show(obj: Context, key: str, as_json: bool) -> None:
    """Show one stored article: its metadata and clean text.

    \b
    Example:
      aggregator show 12
      aggregator show https://example.com/2026/11/a-post/ --json
    """
    with session_scope(obj.engine) as session:
        article = queries.get_article(session, key)
        if article is None:
            raise click.ClickException(f"no stored article has the id or URL {key!r}")
        copies = queries.copies_of(session, article.id)
        data = queries.article_to_dict(article)
        data["also_published_at"] = [copy.url for copy in copies]
        if as_json:
            emit_json(data)
            return
        click.secho(article.title, bold=True)
        click.echo(f"{article.url}\nsource: {article.source.name}")
        if article.authors:
            click.echo("by " + ", ".join(article.authors))
        if article.published:
            click.echo(f"published {article.published.isoformat()}")
        if article.duplicate_of:
            click.echo(f"copy of article {article.duplicate_of}")
        for url in data["also_published_at"]:
            click.echo(f"also published at {url}")
        click.echo("\n" + article.text)


# -- scheduling ------------------------------------------------------------------------


class Duration(click.ParamType):
    """A duration such as "90s", "15m", "6h"; with allow_zero, "0" means none (keep forever)."""

    name = "duration"

    def __init__(self, allow_zero: bool = False) -> None:
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, float):
            return value
        if self.allow_zero and str(value).strip().lower() in {"0", "off", "keep", "never"}:
            return None
        from aggregator.sources import parse_duration

        try:
            return parse_duration(str(value)).total_seconds()
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@main.command()
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=default_settings.AGGREGATOR_WORKERS,
    show_default="the number of cores",
    help="Long-lived crawl worker processes.",
)
@click.option(
    "--max-crawls",
    type=click.IntRange(min=1),
    default=default_settings.AGGREGATOR_MAX_CRAWLS,
    show_default=True,
    help="Source crawls under way at once, over all workers.",
)
@click.option(
    "--time-limit",
    type=Duration(),
    default=default_settings.AGGREGATOR_CRAWL_TIME_LIMIT,
    show_default=True,
    help="A crawl running longer is stopped and recorded as timed out.",
)
@click.option(
    "--min-interval",
    type=Duration(),
    default=default_settings.AGGREGATOR_MIN_INTERVAL,
    show_default=True,
    help="Shortest adaptive interval (sources without `interval`).",
)
@click.option(
    "--max-interval",
    type=Duration(),
    default=default_settings.AGGREGATOR_MAX_INTERVAL,
    show_default=True,
    help="Longest adaptive interval.",
)
@click.option(
    "--max-backoff",
    type=Duration(),
    default=default_settings.AGGREGATOR_MAX_BACKOFF,
    show_default=True,
    help="Longest wait after consecutive failures of a source.",
)
@click.option(
    "--grace",
    type=Duration(),
    default=default_settings.AGGREGATOR_GRACE_PERIOD,
    show_default=True,
    help="On SIGTERM/SIGINT, how long running crawls may finish before they are stopped.",
)
@click.option(
    "--raw-html-retention",
    type=Duration(allow_zero=True),
    default=default_settings.AGGREGATOR_RAW_HTML_RETENTION,
    show_default=True,
    help="Drop stored raw HTML older than this (articles stay); 0 keeps it.",
)
@click.option(
    "--article-retention",
    type=Duration(allow_zero=True),
    default=default_settings.AGGREGATOR_ARTICLE_RETENTION,
    show_default=True,
    help="Delete articles published longer ago than this; 0 keeps them.",
)
@click.option(
    "--retention-every",
    type=Duration(),
    default=default_settings.AGGREGATOR_RETENTION_EVERY,
    show_default=True,
    help="How often the retention job runs.",
)
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="A Scrapy or AGGREGATOR_* setting for every crawl, as `scrapy crawl -s` takes it.",
)
@pass_context
@domain_errors
def schedule(
    obj: Context,
    workers: int,
    max_crawls: int,
    time_limit: float,
    min_interval: float,
    max_interval: float,
    max_backoff: float,
    grace: float,
    raw_html_retention: float | None,
    article_retention: float | None,
    retention_every: float,
    overrides: tuple[str, ...],
) -> None:
    """Keep the store current: crawl each source when it is due, until SIGTERM or Ctrl-C.

    Sources with an `interval` in sources.toml are crawled that often; the others adaptively,
    more often when they publish often. Failing sources back off. The sources file is re-read
    when it changes. Crawls run in --workers long-lived processes (one host at a time each).
    One line is logged per crawl run; `aggregator status` shows the plan.

    \b
    Example:
      aggregator schedule
      aggregator schedule --workers 4 --min-interval 5m --raw-html-retention 7d
    """
    from aggregator.scheduler import ScheduleConfig, Scheduler

    for override in overrides:
        if "=" not in override or override.startswith("="):
            raise click.BadParameter(f"{override!r} is not NAME=VALUE", param_hint="--set")
    if min_interval > max_interval:
        raise click.BadParameter("must not exceed --max-interval", param_hint="--min-interval")
    logging.getLogger("aggregator").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.setLevel(min(handler.level, logging.INFO))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    config = ScheduleConfig(
        db_url=obj.db_url,
        sources_path=str(Path(obj.sources_path).resolve()),
        workers=workers,
        max_crawls=max_crawls,
        time_limit=time_limit,
        min_interval=min_interval,
        max_interval=max_interval,
        max_backoff=max_backoff,
        grace=grace,
        raw_html_days=raw_html_retention / 86400 if raw_html_retention else None,
        prune_days=article_retention / 86400 if article_retention else None,
        retention_every=retention_every,
        crawl_settings=overrides,
    )
    Scheduler(config).run()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one source a line.")
@pass_context
@domain_errors
def status(obj: Context, as_json: bool) -> None:
    """Per source: next run, last run's result, articles added, failures in a row, interval.

    \b
    Example:
      aggregator status
      aggregator status --json | jq 'select(.consecutive_errors > 0)'
    """
    from aggregator.scheduler import status_rows
    from aggregator.sources import load_sources

    rows = status_rows(obj.engine, load_sources(obj.sources_path))
    if as_json:
        for row in rows:
            emit_json(row)
        return
    if not rows:
        click.echo("No sources configured.", err=True)
    for row in rows:
        interval = row["interval_seconds"]
        every = f"every {_seconds_text(interval)}" if interval else "not run yet"
        state = "disabled" if not row["enabled"] else (row["last_status"] or "never run")
        click.echo(
            f"{row['source']:<20} {row['mode']:<8} {every:<16} next {_when(row['next_run'])}  "
            f"last {_when(row['last_run'])} {state}, {row['last_articles']} new"
            + (
                f", {row['consecutive_errors']} failures in a row"
                if row["consecutive_errors"]
                else ""
            )
            + f"; frontier {row['pending']} pending, {row['failed']} failed"
        )


@main.command("frontier")
@click.option("--source", help="Only this source.")
@click.option(
    "--state",
    type=click.Choice(["pending", "fetched", "failed", "gone", "not_article", "disallowed"]),
    help="Only URLs in this state.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one URL a line.")
@pass_context
@domain_errors
def frontier_(
    obj: Context, source: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """Discovered article URLs and their state: counts per source, then the latest changed.

    Every URL a feed, sitemap or listing showed stays here until it is fetched, gone (404,
    410), not an article, refused by robots.txt, or given up after its retries.

    \b
    Example:
      aggregator frontier
      aggregator frontier --source lwn --state failed
      aggregator frontier --state pending --json | jq -r .url
    """
    from aggregator.store import frontier

    with session_scope(obj.engine) as session:
        rows = [frontier.to_dict(row) for row in frontier.list_urls(session, source, state, limit)]
        counts = frontier.state_counts(session)
    if as_json:
        for row in rows:
            emit_json(row)
        return
    for name, by_state in sorted(counts.items()):
        if source and name != source:
            continue
        summary = ", ".join(f"{by_state[s]} {s}" for s in frontier.STATES if by_state.get(s))
        click.echo(f"{name:<20} {summary}")
    if rows:
        click.echo("")
    for row in rows:
        retry = f" next try {_when(row['next_attempt_at'])}" if row["next_attempt_at"] else ""
        error = f" ({row['last_error']})" if row["last_error"] else ""
        click.echo(
            f"{row['state']:<11} {row['attempts']:>2}x {row['found_via']:<7} {row['url']}"
            f"{retry}{error}"
        )


def _seconds_text(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:.0f}s"


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else "-"


@main.command()
@click.option("--json", "as_json", is_flag=True, help="The counts as one JSON object.")
@pass_context
@domain_errors
def stats(obj: Context, as_json: bool) -> None:
    """Counts of the store: articles, duplicates, per source, latest crawl runs.

    \b
    Example:
      aggregator stats
    """
    with session_scope(obj.engine) as session:
        data = queries.store_stats(session)
        data["recent_runs"] = [
            {
                "id": run.id,
                "started_at": run.started_at.isoformat(),
                "status": run.status,
                "pages_fetched": run.pages_fetched,
                "articles_stored": run.articles_stored,
                "errors": run.error_count,
            }
            for run in queries.recent_runs(session)
        ]
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"{data['visible_articles']} articles ({data['duplicates']} more are copies) "
        f"from {len(data['sources'])} sources, {data['crawl_runs']} crawl runs"
    )
    for source in data["sources"]:
        click.echo(f"  {source['name']:<20} {source['articles']:>6}  last {source['last_fetched']}")
    for run in data["recent_runs"]:
        click.echo(
            f"  run {run['id']}: {run['started_at'][:19]} {run['status']}, "
            f"{run['pages_fetched']} pages, {run['articles_stored']} stored, {run['errors']} errors"
        )


# -- import ----------------------------------------------------------------------------


def _parse_import_line(line: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ImportLineError(f"not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ImportLineError("expected a JSON object")
    return data


@main.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "default_source", help="Source name for lines that give none.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
@domain_errors
def import_(obj: Context, file: Path, default_source: str | None, as_json: bool) -> None:
    """Import articles from a JSON lines file through the same clean/dedup/store path.

    Each line: {"url": ..., "source": ..., "title": ..., "text" or "html": ...,
    "authors": [...], "published": "2026-11-20T10:00:00Z"}; only url is required.

    \b
    Example:
      aggregator import archive.jsonl --source oldblog
    """
    from aggregator.importer import import_line

    counts: dict[str, int] = {}
    failures: list[str] = []
    number = 0
    with file.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = _parse_import_line(line)
                with session_scope(obj.engine) as session:
                    status = import_line(session, data, default_source)
            except AggregatorError as exc:
                failures.append(f"{file}:{number}: {exc}")
                status = "error"
            counts[status] = counts.get(status, 0) + 1
            if number % 500 == 0 and not as_json:
                click.echo(f"... line {number}: {counts}", err=True)
    for failure in failures:
        click.echo(failure, err=True)
    if as_json:
        emit_json({"lines": number, **counts})
    else:
        click.echo(f"Imported {file}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))


@main.command()
@click.option("--source", help="Only the articles of this source.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_context
@domain_errors
def reextract(obj: Context, source: str | None, as_json: bool) -> None:
    """Run extraction again over the stored raw HTML (no crawling) and report what changed.

    \b
    Example:
      aggregator reextract
      aggregator reextract --source techpulse --json
    """
    from aggregator.ingest import reextract_stored, site_boilerplate
    from aggregator.sources import load_sources

    # The sources file's own extraction rules apply when there is one
    rules = (
        {s.name: s for s in load_sources(obj.sources_path)}
        if Path(obj.sources_path).exists()
        else {}
    )
    with session_scope(obj.engine) as session:
        ids = [a.id for a in queries.list_articles(session, source=source)]
    counts: dict[str, int] = {}
    boilerplate: dict[str, frozenset[str]] = {}  # learned once per source, not per article
    for done, article_id in enumerate(ids, 1):
        with session_scope(obj.engine) as session:
            article = queries.get_article(session, article_id)
            if article is not None:
                name = article.source.name
                if name not in boilerplate:
                    boilerplate[name] = site_boilerplate(session, name)
                status = reextract_stored(session, article, boilerplate[name], rules.get(name))
                counts[status] = counts.get(status, 0) + 1
        if not as_json and (done % 100 == 0 or done == len(ids)):
            click.echo(f"\r{done}/{len(ids)} articles re-extracted", err=True, nl=done == len(ids))
    if as_json:
        emit_json({"articles": len(ids), "changed": counts.get("updated", 0), **counts})
        return
    click.echo(
        f"{counts.get('updated', 0)} of {len(ids)} articles changed; "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items()))
    )


@main.command()
@click.option(
    "--since", default="24h", show_default=True, help="Stories seen since: 24h, 3d, or a date."
)
@click.option(
    "--min-sources",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Only stories covered by at least this many outlets.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one story a line.")
@pass_context
@domain_errors
def stories(obj: Context, since: str, min_sources: int, limit: int, as_json: bool) -> None:
    """The day's stories, most covered first: headline, outlets, article links.

    \b
    Example:
      aggregator stories --since 24h --min-sources 2
      aggregator stories --json | jq .title
    """
    with session_scope(obj.engine) as session:
        found = queries.list_stories(session, parse_since(since), min_sources, limit)
        for story, members in found:
            data = queries.story_to_dict(story, members)
            if as_json:
                emit_json(data)
                continue
            click.secho(story.headline, bold=True)
            click.echo(
                f"  {story.source_count} sources, {story.article_count} articles, "
                f"{story.first_seen:%Y-%m-%d %H:%M} to {story.last_seen:%Y-%m-%d %H:%M}"
            )
            for article in data["articles"]:
                click.echo(f"  - [{article['source']}] {article['title']}\n    {article['url']}")
        if not found and not as_json:
            click.echo("No stories in that window.", err=True)


@main.command()
@click.option("--since", help="Regroup only stories seen since: 3d, or a date (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@pass_context
@domain_errors
def restory(obj: Context, since: str | None, as_json: bool) -> None:
    """Group the stored articles into stories again, with the current grouping method.

    Stories that turn out to be one are merged and old story ids lead to the new stories.
    Progress goes to stderr (with --json too: standard output stays one JSON object).

    \b
    Example:
      aggregator restory
      aggregator restory --since 3d --json
    """

    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            click.echo(f"\r{done}/{total} articles regrouped", err=True, nl=done == total)

    with session_scope(obj.engine) as session:
        result = queries.restory(session, parse_since(since), progress)
    if as_json:
        emit_json(
            {
                "articles": result.articles,
                "stories": result.stories,
                "redirected": result.redirected,
            }
        )
        return
    click.echo(f"Regrouped {result.articles} articles into {result.stories} stories.")


# -- database and sources --------------------------------------------------------------


@main.group()
def db() -> None:
    """Manage the database schema.

    \b
    Example:
      aggregator db upgrade
    """


@db.command()
@pass_context
@domain_errors
def upgrade(obj: Context) -> None:
    """Create the schema or migrate it to the newest revision.

    \b
    Example:
      AGGREGATOR_DB_URL=postgresql+psycopg://postgres@127.0.0.1/news aggregator db upgrade
    """
    from aggregator.store.db import current_revision

    click.echo(
        f"Database {obj.engine.url.render_as_string()} is at revision "
        f"{current_revision(obj.engine)}"
    )


@main.group()
def sources() -> None:
    """List, add and check the blogs in the sources file.

    \b
    Example:
      aggregator sources list
    """


@sources.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one source a line.")
@pass_context
@domain_errors
def sources_list(obj: Context, as_json: bool) -> None:
    """List the sources of the sources file.

    \b
    Example:
      aggregator --sources my-blogs.toml sources list
    """
    from aggregator.sources import load_sources

    for source in load_sources(obj.sources_path):
        if as_json:
            emit_json(
                {
                    "name": source.name,
                    "url": source.url,
                    "feeds": list(source.feeds),
                    "sitemaps": list(source.sitemaps),
                    "listings": list(source.listings),
                    "interval": source.interval.total_seconds() if source.interval else None,
                    "enabled": source.enabled,
                }
            )
        else:
            state = "" if source.enabled else "  (disabled)"
            where = ", ".join(source.feeds or source.sitemaps or source.listings) or "discover"
            click.echo(f"{source.name:<20} {source.url}  <- {where}{state}")


@sources.command(name="add")
@click.argument("url")
@click.option("--name", help="Slug for the source (default: from the host name).")
@pass_context
@domain_errors
def sources_add(obj: Context, url: str, name: str | None) -> None:
    """Discover the feeds of a blog and append it to the sources file.

    \b
    Example:
      aggregator sources add https://blog.example.com/ --name example
    """
    from aggregator.sources import append_source, source_from_url

    source = source_from_url(url, name=name)
    append_source(obj.sources_path, source)
    feeds = ", ".join(source.feeds) or "none found: the crawler will read the home page"
    click.echo(f"Added {source.name} ({source.url}) to {obj.sources_path}; feeds: {feeds}")


@sources.command(name="check")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one URL checked a line.")
@pass_context
@domain_errors
def sources_check(obj: Context, names: tuple[str, ...], as_json: bool) -> None:
    """Validate the sources file and report which feeds and sitemaps answer.

    \b
    Example:
      aggregator sources check
      aggregator sources check techpulse devwire
    """
    from aggregator.sources import check_source, load_sources, select_sources

    selected = select_sources(load_sources(obj.sources_path), list(names))
    if not as_json:
        click.echo(f"{obj.sources_path}: {len(selected)} sources, valid")
    failing = 0
    for source in selected:
        for check in check_source(source):
            failing += not check.ok
            if as_json:
                emit_json(
                    {
                        "source": source.name,
                        "url": check.url,
                        "ok": check.ok,
                        "detail": check.detail,
                    }
                )
            else:
                mark = "ok  " if check.ok else "FAIL"
                click.echo(f"{mark} {source.name:<20} {check.url}  {check.detail}")
    if failing:
        sys.exit(1)


# -- demo ------------------------------------------------------------------------------


@main.command()
@click.option(
    "--db",
    "demo_db",
    help="Store into this database instead of a fresh SQLite file in a temporary folder.",
)
@click.option("--serve", is_flag=True, help="Keep the demo blogs running after the crawl.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored articles as JSON lines.")
def demo(demo_db: str | None, serve: bool, as_json: bool) -> None:
    """Serve the bundled demo blogs on 127.0.0.1, crawl them with the real spider, show the result.

    \b
    Example:
      aggregator demo
      aggregator demo --db sqlite:///demo.db --serve
    """
    from aggregator.demo.run import run_demo

    workdir = Path(tempfile.mkdtemp(prefix="aggregator-demo-"))
    db_url = demo_db or f"sqlite:///{workdir / 'demo.db'}"
    run_demo(workdir, db_url, serve=serve, as_json=as_json)
