"""`aggregator demo`: serve the bundled blogs, crawl them with the real spider, show the result."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import click

from aggregator.crawling import LOCAL_SITE_SETTINGS, run_crawl
from aggregator.demo.server import SiteGroup
from aggregator.humanize import plural
from aggregator.store.articles import article_to_dict, list_articles
from aggregator.store.db import open_store, session_scope

SITES = Path(__file__).with_name("sites")


def first_words(text: str, count: int = 14) -> str:
    words = text.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")


def run_demo(workdir: Path, db_url: str, serve: bool = False, as_json: bool = False) -> None:
    """Serve the demo blogs on 127.0.0.1, crawl them into db_url and print what was stored."""
    with SiteGroup(SITES) as group:
        sources_path = workdir / "sources.toml"
        sources_path.write_text(group.sources_toml(), encoding="utf-8")
        if not as_json:
            click.echo(f"Serving {plural(len(group.servers), 'demo blog')}:", err=True)
            for name, server in group.servers.items():
                click.echo(f"  {name:<12} {server.base_url}/", err=True)
            click.echo(f"Crawling them into {db_url}", err=True)
        run_crawl(db_url, str(sources_path), {}, LOCAL_SITE_SETTINGS, progress=not as_json)
        _print_store(db_url, as_json)
        if serve:
            click.echo(f"Demo blogs keep running; sources file: {sources_path}. Ctrl-C stops.")
            _wait_for_a_stop()


def _wait_for_a_stop() -> None:
    """Return on Ctrl-C or SIGTERM."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_store(db_url: str, as_json: bool) -> None:
    engine = open_store(db_url)
    try:
        with session_scope(engine) as session:
            stored = list(list_articles(session))
            if as_json:
                for article in stored:
                    click.echo(json.dumps(article_to_dict(article), ensure_ascii=False))
                return
            visible = [a for a in stored if a.duplicate_of is None]
            copies = [a for a in stored if a.duplicate_of is not None]
            click.echo(f"\nStored {plural(len(visible), 'article')}:\n")
            for article in sorted(visible, key=lambda a: (a.source.name, a.title)):
                authors = ", ".join(article.authors) or "unknown author"
                click.echo(f"[{article.source.name}] {article.title} ({authors})")
                click.echo(f"    {first_words(article.text)}")
            for copy in copies:
                original = session.get(type(copy), copy.duplicate_of)
                click.echo(
                    f"\nRecognised {copy.url} ({copy.source.name}) as a copy of "
                    f"{original.url if original else copy.duplicate_of}: shown once."
                )
    finally:
        engine.dispose()
