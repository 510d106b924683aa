"""The `aggregator` command: crawl, read and manage the store of clean articles."""

from __future__ import annotations

import difflib
import functools
import json
import logging
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aggregator import settings as default_settings
from aggregator.crawling import check_environment, parse_overrides, run_crawl
from aggregator.exceptions import AggregatorError, ImportLineError, SettingsError
from aggregator.humanize import human_time, plural
from aggregator.ingest import regroup_stories
from aggregator.progress import console, console_handler
from aggregator.store.articles import (
    article_cursor,
    article_to_dict,
    copies_of,
    get_article,
    list_articles,
    source_names,
    store_stats,
)
from aggregator.store.db import (
    open_existing_store,
    open_store,
    parse_db_url,
    read_scope,
    session_scope,
    sqlite_path,
)
from aggregator.store.models import CrawlRun
from aggregator.store.runs import list_runs, recent_runs, run_to_dict
from aggregator.store.stories import list_stories, story_to_dict

if TYPE_CHECKING:
    from aggregator.sources import Source

F = TypeVar("F", bound=Callable[..., Any])

# Failed URLs listed after a crawl or under a run (`--json` gives them all), and the lines of
# a run's log tail `aggregator runs` shows
SHOWN_ERRORS = 20
SHOWN_LOG_LINES = 10


class Context:
    """Options shared by every command: where the store and the sources file are."""

    def __init__(self, db_url: str, sources_path: str, db_given: bool = False) -> None:
        self.db_url = db_url
        self.sources_path = sources_path
        # whether --db was given on the command line (not the default or the environment)
        self.db_given = db_given
        self.verbose = 0
        self._engine: Engine | None = None

    def set_verbosity(self, verbose: int, timestamps: bool = False) -> None:
        """Log at WARNING, INFO with -v, DEBUG with -vv, on stderr (with the time, if asked)."""
        self.verbose = verbose
        handler = console_handler(verbose, timestamps)
        # The level sits on the handler: Scrapy lowers the root logger's level when it starts
        logging.basicConfig(level=handler.level, handlers=[handler], force=True)

    @property
    def engine(self) -> Engine:
        """The store, created or migrated when needed (for the commands that write)."""
        if self._engine is None:
            self._engine = open_store(self.db_url)
        return self._engine

    @property
    def reader(self) -> Engine:
        """The store as it is, for the commands that only read: they create nothing."""
        if self._engine is None:
            self._engine = open_existing_store(self.db_url)
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
        except SQLAlchemyError as exc:  # the server went away, a lock held too long
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise click.ClickException(f"database error: {detail[0] if detail else exc}") from exc

    return wrapper  # type: ignore[return-value]


def parse_since(value: str | None, option: str = "--since") -> datetime | None:
    """A duration back from now ("2d", "36h") or an ISO 8601 date, as an aware UTC datetime."""
    if not value:
        return None
    from aggregator.humanize import parse_moment

    try:
        return parse_moment(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{option}'") from exc


def check_source_name(session: Session, name: str | None) -> None:
    """Refuse a --source the store has never seen, suggesting the closest name."""
    if not name:
        return
    known = source_names(session)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "known: " + (", ".join(known) or "none")
        raise click.ClickException(f"no source {name!r} in the store ({hint})")


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


class Interrupted(click.ClickException):
    """The command was stopped by Ctrl-C or SIGTERM before its end."""

    exit_code = 130


class JsonError(click.ClickException):
    """An error of a command run with --json: `{"error": "..."}` on stderr, same exit code."""

    def __init__(self, error: click.ClickException) -> None:
        super().__init__(error.format_message())
        self.exit_code = error.exit_code  # type: ignore[misc]  # a class variable in click

    def show(self, file: Any = None) -> None:
        click.echo(json.dumps({"error": self.message}, ensure_ascii=False), err=True)


class AggregatorGroup(click.Group):
    """The `aggregator` group: errors of a command run with --json are JSON too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["aggregator.json"] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if ctx.meta.get("aggregator.json") and not isinstance(exc, JsonError):
                raise JsonError(exc) from exc
            raise


@click.group(cls=AggregatorGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    given = ctx.get_parameter_source("db_url") == click.core.ParameterSource.COMMANDLINE
    ctx.obj = Context(db_url, sources_path, db_given=given)
    ctx.obj.set_verbosity(verbose)
    try:
        check_environment()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _late_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        obj = ctx.find_object(Context)
        if obj is not None:
            obj.db_url, obj.db_given = value, True


def _late_sources(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    obj = ctx.find_object(Context)
    if value is not None and obj is not None:
        obj.sources_path = value


def _late_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    obj = ctx.find_object(Context)
    if value and obj is not None:
        obj.set_verbosity(obj.verbose + value)


def _add_global_options(group: click.Group) -> None:
    """Let every command take the global options after its name too: `articles --db URL -v`."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _add_global_options(command)
            continue
        command.params += [
            click.Option(
                ["--db"], expose_value=False, callback=_late_db, help="As `aggregator --db`."
            ),
            click.Option(
                ["--sources"],
                expose_value=False,
                callback=_late_sources,
                help="As `aggregator --sources`.",
            ),
            click.Option(
                ["-v", "--verbose"],
                count=True,
                expose_value=False,
                callback=_late_verbose,
                help="As `aggregator -v`.",
            ),
        ]


# -- crawling --------------------------------------------------------------------------


set_option = click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="A Scrapy or AGGREGATOR_* setting, as `scrapy crawl -s` takes it (repeatable).",
)


def json_option(help: str) -> Callable[[F], F]:
    """--json: output for programs; help says its shape (the error, if any, is JSON too)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def queue_option(help: str, required: bool = False) -> Callable[[F], F]:
    """--queue URL (env AGGREGATOR_QUEUE_URL): the Redis queue of several machines."""
    return click.option(
        "--queue",
        "queue_url",
        envvar="AGGREGATOR_QUEUE_URL",
        default=default_settings.AGGREGATOR_QUEUE_URL or None,
        required=required,
        metavar="URL",
        help=help + " (env AGGREGATOR_QUEUE_URL).",
    )


def _settings(overrides: tuple[str, ...]) -> dict[str, str]:
    """The -s NAME=VALUE settings, each value checked against its setting's form."""
    try:
        return parse_overrides(overrides)
    except SettingsError as exc:
        raise click.BadParameter(str(exc), param_hint="'-s' / '--set'") from exc


def _run_summary(engine: Engine, run_id: int | None) -> dict[str, Any]:
    with session_scope(engine) as session:
        run = session.get(CrawlRun, run_id) if run_id is not None else None
        if run is None:
            raise click.ClickException("the crawl did not record a run: see the log above")
        return run_to_dict(run)


@main.command()
@click.argument("source_names", metavar="[SOURCE]...", nargs=-1)
@click.option("--limit", type=click.IntRange(min=1), help="Article pages per source (default 50).")
@click.option("--url", help="Fetch this one page instead of the sources' feeds.")
@click.option("--refresh", is_flag=True, help="Fetch articles again even if already stored.")
@set_option
@json_option("Print the run's summary as JSON.")
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
      aggregator crawl ars-technica lwn --limit 10
      aggregator crawl --url https://example.com/2026/11/a-post/
      aggregator crawl -s DOWNLOAD_DELAY=2
    """
    from aggregator.fetching import url_problem
    from aggregator.sources import load_sources, select_sources

    if url and (problem := url_problem(url)):
        raise click.BadParameter(f"{url!r}: {problem}", param_hint="'--url'")
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
    settings = _settings(overrides)
    obj.engine  # a bad --db stops here, with its message, before Scrapy starts  # noqa: B018
    run_id = run_crawl(obj.db_url, obj.sources_path, spider_args, settings, progress=not as_json)
    summary = _run_summary(obj.engine, run_id)
    if as_json:
        emit_json(summary)
    else:
        click.echo(
            f"Crawl run {summary['id']} {summary['status']} in {summary['duration_seconds']} s: "
            f"{plural(summary['pages_fetched'], 'page')} fetched, "
            f"{plural(summary['articles_stored'], 'article')} stored, "
            f"{summary['articles_updated']} updated, {plural(summary['errors'], 'error')}."
        )
        click.echo(f"Database: {_store_location(obj.db_url)}")
        errors = summary["error_list"]
        for error in errors[:SHOWN_ERRORS]:
            click.echo(f"  {error['source'] or '-'}: {error['url']}: {error['reason']}", err=True)
        if len(errors) > SHOWN_ERRORS:
            click.echo(f"  ... and {len(errors) - SHOWN_ERRORS} more", err=True)
    _crawl_outcome(summary)


def _store_location(db_url: str) -> str:
    """The store's URL as --db takes it, a SQLite file's path made absolute."""
    path = sqlite_path(db_url)
    return f"sqlite:///{path}" if path is not None else parse_db_url(db_url).render_as_string()


def _crawl_outcome(summary: dict[str, Any]) -> None:
    """Exit non-zero after a crawl that was interrupted, did not finish, or failed outright."""
    status = summary["status"]
    if status == "interrupted":
        raise Interrupted(f"crawl run {summary['id']} interrupted")
    if status != "finished":
        raise click.ClickException(f"crawl run {summary['id']} did not finish: {status}")
    if summary["errors"] and not (summary["articles_stored"] or summary["articles_updated"]):
        raise click.ClickException(
            f"crawl run {summary['id']} stored nothing and had {plural(summary['errors'], 'error')}"
        )


# -- reading ---------------------------------------------------------------------------


@main.command()
@click.option("--source", help="Only this source.")
@click.option("--since", help="Only articles newer than this: 2d, 36h, or an ISO date.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@click.option(
    "--cursor",
    help="Continue after the page that printed this cursor (with --limit; any depth, no offset).",
)
@click.option(
    "--with-duplicates",
    is_flag=True,
    help="Also list copies of other articles (hidden by default; see duplicate_of).",
)
@json_option("JSON lines, one article a line.")
@pass_context
@domain_errors
def articles(
    obj: Context,
    source: str | None,
    since: str | None,
    limit: int | None,
    cursor: str | None,
    with_duplicates: bool,
    as_json: bool,
) -> None:
    """List stored articles, newest first; copies of other articles are left out.

    With --limit, a page that is not the last one ends with the cursor of the next page on
    standard error: `--cursor CURSOR` prints that page.

    \b
    Example:
      aggregator articles --since 2d
      aggregator articles --source techpulse --json | jq .title
      aggregator articles --with-duplicates --json | jq 'select(.duplicate_of)'
      aggregator articles --limit 50 --cursor eyJpIjo...
    """
    moment = parse_since(since)
    with session_scope(obj.reader) as session:
        check_source_name(session, source)
        found = 0
        last_cursor = ""
        # one row more than the page: whether there is a next page to point at
        listed = list_articles(
            session,
            source,
            moment,
            include_duplicates=with_duplicates,
            limit=limit + 1 if limit else None,
            cursor=cursor,
        )
        for article in listed:
            if limit is not None and found == limit:
                click.echo(f"Next page: --cursor {last_cursor}", err=True)
                break
            found += 1
            last_cursor = article_cursor(article)
            if as_json:
                emit_json(article_to_dict(article))
                continue
            when = human_time(article.published or article.fetched_at)
            copy = f"  (copy of {article.duplicate_of})" if article.duplicate_of else ""
            click.echo(f"{article.id:>6}  {when}  {article.source.name:<16} {article.title}{copy}")
        if found or as_json:
            return
        if source or moment:
            wanted = [
                f"of {source}" if source else "",
                f"since {human_time(moment)}" if moment else "",
            ]
            click.echo(f"No articles {' '.join(w for w in wanted if w)}.", err=True)
        else:
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
@click.option(
    "--order",
    type=click.Choice(["relevance", "newest"]),
    default="relevance",
    show_default=True,
    help="relevance: every word in the title first, then the others, newest first in each.",
)
@click.option("--cursor", help="Continue after the page that printed this cursor.")
@json_option("JSON lines, best first.")
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
    order: str,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Search titles and bodies, best matches first (copies of other articles left out).

    All words must match; "quoted phrases" match as written, compil* matches a prefix, -word
    excludes. Articles with every word in the title come first (score 1), then the others
    (score 0), newest first within each; --order newest: newest first. With --json: the keys
    of `aggregator articles --json` plus score, snippet and highlights ([start, end) offsets
    of the matches in the snippet). A page that is not the last ends with the cursor of the
    next page on standard error.

    \b
    Example:
      aggregator search 'rust "memory safety"' --since 7d
      aggregator search 'kubernetes -helm' --source lwn --json | jq .title
    """
    from aggregator.store.search import Filters, hit_to_dict, plain_snippet, search_page

    filters = Filters(
        source=source,
        author=author,
        tag=tag,
        story=story,
        since=parse_since(since),
        until=parse_since(until, "--until"),
    )
    with session_scope(obj.reader) as session:
        check_source_name(session, source)
        page = search_page(session, query, filters, limit=limit, cursor=cursor, order=order)
        hits = page.hits
        for hit in hits:
            if as_json:
                emit_json(hit_to_dict(hit))
                continue
            when = human_time(hit.article.published or hit.article.fetched_at)
            click.echo(
                f"{hit.article.id:>6}  {when}  {hit.article.source.name:<16} {hit.article.title}"
            )
            click.echo(f"        {plain_snippet(hit.snippet)}")
        if not hits and not as_json:
            click.echo(f"No article matches {query!r}.", err=True)
        if page.next_cursor:
            click.echo(f"Next page: --cursor {page.next_cursor}", err=True)


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
    with session_scope(obj.reader) as session:
        check_source_name(session, source)
        articles = list_articles(session, source, moment, include_duplicates=with_duplicates)
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

    obj.reader  # check the URL and the store before the server starts  # noqa: B018
    click.echo(f"Serving {obj.db_url} on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    uvicorn.run(create_app(obj.db_url), host=host, port=port, log_level="warning")


@main.command()
@click.argument("key", metavar="ID|URL")
@json_option("The article as one JSON object.")
@pass_context
@domain_errors
def show(obj: Context, key: str, as_json: bool) -> None:
    """Show one stored article: its metadata and clean text.

    \b
    Example:
      aggregator show 12
      aggregator show https://example.com/2026/11/a-post/ --json
    """
    with session_scope(obj.reader) as session:
        article = get_article(session, key)
        if article is None:
            raise click.ClickException(f"no stored article has the id or URL {key!r}")
        data = article_to_dict(article, copies=copies_of(session, article.id))
        if as_json:
            emit_json(data)
            return
        click.secho(article.title, bold=True)
        click.echo(f"{article.url}\nsource: {article.source.name}")
        if article.authors:
            click.echo("by " + ", ".join(article.authors))
        if article.published:
            click.echo(f"published {human_time(article.published)}")
        if article.duplicate_of:
            click.echo(f"copy of article {article.duplicate_of}")
        for url in data["also_published_at"]:
            click.echo(f"also published at {url}")
        click.echo("\n" + article.text)


# -- scheduling ------------------------------------------------------------------------


# Longer durations would overflow dates when the scheduler adds them to now
MAX_DURATION_SECONDS = 100 * 365 * 86400


def duration_option(
    name: str, default: str, help: str, allow_zero: bool = False
) -> Callable[[F], F]:
    """A duration option (90s, 15m, 6h, 2d) with its default shown."""
    return click.option(
        name, type=Duration(allow_zero=allow_zero), default=default, show_default=True, help=help
    )


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
        from aggregator.humanize import parse_duration

        try:
            seconds = parse_duration(str(value)).total_seconds()
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds > MAX_DURATION_SECONDS:
            longest = f"{MAX_DURATION_SECONDS // 86400}d"
            self.fail(f"{value!r} is too long: at most {longest}", param, ctx)
        return seconds


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
@duration_option(
    "--time-limit",
    default_settings.AGGREGATOR_CRAWL_TIME_LIMIT,
    "A crawl running longer is stopped and recorded as timed out.",
)
@duration_option(
    "--min-interval",
    default_settings.AGGREGATOR_MIN_INTERVAL,
    "Shortest adaptive interval (sources without `interval`).",
)
@duration_option(
    "--max-interval", default_settings.AGGREGATOR_MAX_INTERVAL, "Longest adaptive interval."
)
@duration_option(
    "--max-backoff",
    default_settings.AGGREGATOR_MAX_BACKOFF,
    "Longest wait after consecutive failures of a source.",
)
@duration_option(
    "--grace",
    default_settings.AGGREGATOR_GRACE_PERIOD,
    "On SIGTERM/SIGINT, how long running crawls may finish before they are stopped "
    "(a second signal stops them at once).",
)
@duration_option(
    "--raw-html-retention",
    default_settings.AGGREGATOR_RAW_HTML_RETENTION,
    "Drop stored raw HTML older than this (articles stay); 0 keeps it.",
    allow_zero=True,
)
@duration_option(
    "--article-retention",
    default_settings.AGGREGATOR_ARTICLE_RETENTION,
    "Delete articles published longer ago than this; 0 keeps them.",
    allow_zero=True,
)
@duration_option(
    "--retention-every",
    default_settings.AGGREGATOR_RETENTION_EVERY,
    "How often the retention job runs.",
)
@queue_option(
    "Several machines: put due crawls in this Redis queue (redis://host:6379/0) for "
    "`aggregator worker`s, and crawl none here"
)
@set_option
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
    queue_url: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Keep the store current: crawl each source when it is due, until SIGTERM or Ctrl-C.

    Sources with an `interval` in sources.toml are crawled that often; the others adaptively,
    more often when they publish often. Failing sources back off. The sources file is re-read
    when it changes. Crawls run in --workers long-lived processes (one host at a time each).
    One line is logged per crawl run; `aggregator status` shows the plan. One scheduler runs
    per database: a second one exits with an error. A second SIGTERM/Ctrl-C ends the --grace
    period at once. With --queue, the due crawls go to a Redis queue instead, for `aggregator
    worker`s on any machine.

    \b
    Example:
      aggregator schedule
      aggregator schedule --workers 4 --min-interval 5m --raw-html-retention 7d
      aggregator --db postgresql+psycopg://db/news schedule --queue redis://queue:6379/0
    """
    from aggregator.planning import ScheduleConfig
    from aggregator.scheduler import Scheduler
    from aggregator.sources import load_sources

    _settings(overrides)
    # a missing or broken file at start is an error; later, the last good one is kept
    load_sources(obj.sources_path)
    if min_interval > max_interval:
        raise click.BadParameter("must not exceed --max-interval", param_hint="--min-interval")
    obj.set_verbosity(obj.verbose, timestamps=True)
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
        queue_url=queue_url,
    )
    Scheduler(config).run()


@main.command()
@queue_option(
    "The Redis queue `aggregator schedule --queue` fills, as redis://host:6379/0",
    required=True,
)
@click.option(
    "--tasks",
    type=click.IntRange(min=1),
    default=default_settings.AGGREGATOR_WORKER_TASKS,
    show_default=True,
    help="Source crawls this worker runs at once.",
)
@set_option
@pass_context
@domain_errors
def worker(obj: Context, queue_url: str, tasks: int, overrides: tuple[str, ...]) -> None:
    """Crawl the sources `aggregator schedule --queue` puts in the queue, until SIGTERM.

    Run as many as you like, on any machine that reaches the queue and the database (use
    PostgreSQL). A source is crawled by one worker at a time, a host too; the tasks of a
    worker that dies are taken over by another within a lease (30 s). On SIGTERM a worker
    hands its unfinished crawls back to the queue.

    \b
    Example:
      AGGREGATOR_DB_URL=postgresql+psycopg://db/news aggregator worker --queue redis://queue:6379/0
    """
    from aggregator.cluster import run_queue_worker

    _settings(overrides)
    obj.set_verbosity(obj.verbose, timestamps=True)
    logging.getLogger("aggregator").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.setLevel(min(handler.level, logging.INFO))
    run_queue_worker(obj.db_url, queue_url, tasks, overrides)


@main.command()
@json_option("JSON lines, one source a line.")
@queue_option("Also show how many tasks wait in this Redis queue")
@pass_context
@domain_errors
def status(obj: Context, as_json: bool, queue_url: str | None) -> None:
    """Per source: next run, last run's result, articles added, failures in a row, interval.

    The last run is the newest of the scheduler's and `aggregator crawl`'s; the last failed
    URL is shown under the source (`aggregator runs --source NAME` lists the runs). With
    queue workers (several machines), then the workers (heartbeat, current sources), the
    source leases and, with --queue, the tasks waiting in the queue; with --json, as a last
    line {"cluster": {...}}.

    \b
    Example:
      aggregator status
      aggregator status --json | jq 'select(.consecutive_errors > 0)'
    """
    from aggregator.scheduler import status_rows
    from aggregator.sources import load_sources

    rows = status_rows(obj.reader, load_sources(obj.sources_path))
    cluster = _cluster_status(obj.reader, queue_url)
    if as_json:
        for row in rows:
            emit_json(row)
        if cluster:
            emit_json({"cluster": cluster})
        return
    if not rows:
        click.echo("No sources configured.", err=True)
    for row in rows:
        interval = row["interval_seconds"]
        every = f"every {_seconds_text(interval)}" if interval else "every -"
        state = "disabled" if not row["enabled"] else (row["last_status"] or "never run")
        click.echo(
            f"{row['source']:<20} {row['mode']:<8} {every:<16} next {human_time(row['next_run'])}"
            f"  last {human_time(row['last_run'])} {state}, {row['last_articles']} new"
            + (
                f", {plural(row['consecutive_errors'], 'failure')} in a row"
                if row["consecutive_errors"]
                else ""
            )
            + f"; frontier {row['pending']} pending, {row['failed']} failed"
        )
        if error := row["last_error"]:
            click.echo(
                f"    last error {human_time(error['at'])}: {error['url']}: {error['reason']}"
            )
    if cluster:
        _print_cluster(cluster)


def _cluster_status(engine: Engine, queue_url: str | None) -> dict[str, Any] | None:
    """The queue workers, leases and queue depth; None when there are no queue workers."""
    from aggregator.cluster import TaskQueue, cluster_status

    with read_scope(engine) as session:
        cluster = cluster_status(session)
    if queue_url:
        queue = TaskQueue(queue_url)
        try:
            cluster["queue"] = queue.depth()
        except queue.errors as exc:
            raise click.ClickException(f"queue {queue_url} does not answer: {exc}") from exc
        finally:
            queue.close()
    return cluster if cluster["workers"] or queue_url else None


def _print_cluster(cluster: dict[str, Any]) -> None:
    click.echo("")
    if "queue" in cluster:
        queue = cluster["queue"]
        click.echo(f"queue: {queue['waiting']} waiting, {queue['taken']} taken by workers")
    for worker in cluster["workers"]:
        current = ", ".join(worker["current"]) or "idle"
        click.echo(
            f"worker {worker['worker']:<24} {worker['state']:<8} "
            f"heartbeat {worker['heartbeat_seconds_ago']:.0f} s ago, "
            f"{worker['tasks_done']} crawls done; now: {current}"
        )
    for lease in cluster["leases"]:
        click.echo(f"lease  {lease['source']:<24} {lease['worker']} until {lease['expires']}")


@main.command()
@click.option("--source", help="Only the runs that crawled this source (and its errors).")
@click.option("--failed", is_flag=True, help="Only runs that did not finish or had errors.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@json_option("JSON lines, one run a line, every error.")
@pass_context
@domain_errors
def runs(obj: Context, source: str | None, failed: bool, limit: int, as_json: bool) -> None:
    """Recent crawl runs, newest first, scheduled or not, with their failed URLs and why.

    \b
    Example:
      aggregator runs --failed
      aggregator runs --source lwn --limit 5
      aggregator runs --failed --json | jq -r '.error_list[].reason'
    """
    with read_scope(obj.reader) as session:
        found = [run_to_dict(run) for run in list_runs(session, source, failed, limit)]
    for run in found:
        if source:
            run["error_list"] = [e for e in run["error_list"] if e["source"] == source]
        if as_json:
            emit_json(run)
            continue
        names = ", ".join(run["sources"][:3]) + (
            f" and {len(run['sources']) - 3} more" if len(run["sources"]) > 3 else ""
        )
        click.echo(
            f"run {run['id']}  {human_time(run['started_at'])}  {run['status']} in "
            f"{run['duration_seconds']} s  {names or '-'}: "
            f"{plural(run['pages_fetched'], 'page')}, {run['articles_stored']} stored, "
            f"{plural(run['errors'], 'error')}"
        )
        if run["log_tail"] and run["status"] != "finished":
            for line in run["log_tail"].strip().splitlines()[-SHOWN_LOG_LINES:]:
                click.echo(f"    | {line}")
        errors = run["error_list"]
        for error in errors[:SHOWN_ERRORS]:
            click.echo(f"    {error['source'] or '-'}: {error['url']}: {error['reason']}")
        if len(errors) > SHOWN_ERRORS:
            click.echo(f"    ... and {len(errors) - SHOWN_ERRORS} more (--json lists them all)")
    if not found and not as_json:
        click.echo("No crawl runs" + (" that failed." if failed else " yet."), err=True)


@main.command("frontier")
@click.option("--source", help="Only this source.")
@click.option(
    "--state",
    type=click.Choice(["pending", "fetched", "failed", "gone", "not_article", "disallowed"]),
    help="Only URLs in this state.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option("JSON lines, one URL a line.")
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

    with session_scope(obj.reader) as session:
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
        retry = f" next try {human_time(row['next_attempt_at'])}" if row["next_attempt_at"] else ""
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


@main.command()
@json_option("The counts as one JSON object.")
@pass_context
@domain_errors
def stats(obj: Context, as_json: bool) -> None:
    """Counts of the store: articles, duplicates, per source, latest crawl runs.

    \b
    Example:
      aggregator stats
    """
    with session_scope(obj.reader) as session:
        data = store_stats(session)
        data["recent_runs"] = [run_to_dict(run, with_errors=False) for run in recent_runs(session)]
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"{plural(data['visible_articles'], 'article')} ({data['duplicates']} more are copies) "
        f"from {plural(len(data['sources']), 'source')}, "
        f"{plural(data['crawl_runs'], 'crawl run')}"
    )
    for source in data["sources"]:
        click.echo(
            f"  {source['source']:<20} {source['articles']:>6}  "
            f"last fetched {human_time(source['last_fetched'])}"
        )
    for run in data["recent_runs"]:
        click.echo(
            f"  run {run['id']}: {human_time(run['started_at'])} {run['status']}, "
            f"{plural(run['pages_fetched'], 'page')}, {run['articles_stored']} stored, "
            f"{plural(run['errors'], 'error')}"
        )


# -- import ----------------------------------------------------------------------------


def _source_rules(sources_path: str) -> dict[str, Source]:
    """The sources of the sources file by name, for their extraction rules (none without one)."""
    from aggregator.sources import load_sources

    path = Path(sources_path)
    return {s.name: s for s in load_sources(path)} if path.exists() else {}


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
@json_option("Print the summary as JSON.")
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
    from aggregator.importer import Importer

    importer = Importer(
        _source_rules(obj.sources_path), default_source, default_settings.AGGREGATOR_KEEP_RAW_HTML
    )
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
                    status = importer.line(session, data)
            except AggregatorError as exc:
                failures.append(f"{file}:{number}: {exc}")
                status = "errors"
            counts[status] = counts.get(status, 0) + 1
            if number % 100 == 0 and not as_json:
                console().progress(f"line {number}: " + _counts_text(counts))
    if number >= 100 and not as_json:
        console().progress(f"line {number}: " + _counts_text(counts), final=True)
    for failure in failures:
        click.echo(failure, err=True)
    if as_json:
        emit_json({"lines": number, **counts})
    else:
        click.echo(f"Imported {file}: " + _counts_text(counts))
    if failures:
        raise click.ClickException(f"{len(failures)} of {number} lines of {file} not imported")


def _counts_text(counts: dict[str, int]) -> str:
    """ "2 inserted, 1 error": counts by status, the status "errors" in its number."""
    return ", ".join(
        plural(v, "error") if k == "errors" else f"{v} {k.replace('_', ' ')}"
        for k, v in sorted(counts.items())
    )


@main.command()
@click.option("--source", help="Only the articles of this source.")
@json_option("Print the counts as JSON.")
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

    rules = _source_rules(obj.sources_path)
    with session_scope(obj.engine) as session:
        ids = [a.id for a in list_articles(session, source=source)]
    counts: dict[str, int] = {}
    boilerplate: dict[str, frozenset[str]] = {}  # learned once per source, not per article
    for done, article_id in enumerate(ids, 1):
        with session_scope(obj.engine) as session:
            article = get_article(session, article_id)
            if article is not None:
                name = article.source.name
                if name not in boilerplate:
                    boilerplate[name] = site_boilerplate(session, name)
                status = reextract_stored(session, article, boilerplate[name], rules.get(name))
                counts[status] = counts.get(status, 0) + 1
        if not as_json and (done % 100 == 0 or done == len(ids)):
            console().progress(f"{done}/{len(ids)} articles re-extracted", final=done == len(ids))
    if as_json:
        emit_json({"articles": len(ids), "changed": counts.get("updated", 0), **counts})
        return
    click.echo(
        f"{counts.get('updated', 0)} of {plural(len(ids), 'article')} changed; "
        + _counts_text(counts)
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
@json_option("JSON lines, one story a line.")
@pass_context
@domain_errors
def stories(obj: Context, since: str, min_sources: int, limit: int, as_json: bool) -> None:
    """The day's stories, most covered first: headline, outlets, article links.

    \b
    Example:
      aggregator stories --since 24h --min-sources 2
      aggregator stories --json | jq .title
    """
    with session_scope(obj.reader) as session:
        found = list_stories(session, parse_since(since), min_sources, limit)
        for story, members in found:
            data = story_to_dict(story, members)
            if as_json:
                emit_json(data)
                continue
            click.secho(story.headline, bold=True)
            click.echo(
                f"  story {story.id} (search --story {story.id}): "
                f"{plural(story.source_count, 'source')}, "
                f"{plural(story.article_count, 'article')}, "
                f"{human_time(story.first_seen)} to {human_time(story.last_seen)}"
            )
            for article in data["articles"]:
                click.echo(f"  - [{article['source']}] {article['title']}\n    {article['url']}")
        if not found and not as_json:
            click.echo("No stories in that window.", err=True)


@main.command()
@click.option("--since", help="Regroup only stories seen since: 3d, or a date (default: all).")
@json_option("Print the counts as one JSON object.")
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
            console().progress(f"{done}/{total} articles regrouped", final=done == total)

    with session_scope(obj.engine) as session:
        result = regroup_stories(session, parse_since(since), progress)
    if as_json:
        emit_json(
            {
                "articles": result.articles,
                "stories": result.stories,
                "redirected": result.redirected,
            }
        )
        return
    stories = plural(result.stories, "story", "stories")
    click.echo(f"Regrouped {plural(result.articles, 'article')} into {stories}.")


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
@json_option("JSON lines, one source a line.")
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
                    "source": source.name,
                    "url": source.url,
                    "feeds": list(source.feeds),
                    "sitemaps": list(source.sitemaps),
                    "listings": list(source.listings),
                    "interval_seconds": source.interval.total_seconds()
                    if source.interval
                    else None,
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
@json_option("JSON lines, one URL checked a line.")
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
        click.echo(f"{obj.sources_path}: {plural(len(selected), 'source')}, valid")
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
@click.option("--serve", is_flag=True, help="Keep the demo blogs running after the crawl.")
@json_option("Print the stored articles as JSON lines.")
@pass_context
def demo(obj: Context, serve: bool, as_json: bool) -> None:
    """Serve the bundled demo blogs on 127.0.0.1, crawl them with the real spider, show the result.

    The articles go to a fresh SQLite file in a temporary folder, or to the database --db
    names on the command line (AGGREGATOR_DB_URL is not used: the demo never writes into
    the store you configured unless you say so).

    \b
    Example:
      aggregator demo
      aggregator demo --db sqlite:///demo.db --serve
    """
    from aggregator.demo.run import run_demo

    workdir = Path(tempfile.mkdtemp(prefix="aggregator-demo-"))
    db_url = obj.db_url if obj.db_given else f"sqlite:///{workdir / 'demo.db'}"
    run_demo(workdir, db_url, serve=serve, as_json=as_json)


_add_global_options(main)
