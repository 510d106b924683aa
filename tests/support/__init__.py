"""What several test modules share: paths, the local crawl settings and runner, a PostgreSQL
database, the CLI runner, reading the store, sample stories and clutter lines.

The fault routes of the test sites are in tests.support.routes; fixtures in tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from aggregator.crawling import LOCAL_SITE_SETTINGS, scrapy_crawl_command
from aggregator.store.articles import article_to_dict, list_articles
from aggregator.store.db import open_store, session_scope
from aggregator.store.models import CrawlRun

ROOT = Path(__file__).resolve().parent.parent.parent
SITES = ROOT / "tests" / "sites"
# Saved pages of one real article (a WordPress post), its title and its text as a sample
SEED = SITES / "seed"
SEED_TITLE = "Microsoft is continuing its fight against warrants overseas data"
SEED_SAMPLE = SEED / "techblog-page-sample.txt"
PG_ADMIN_URL = os.environ.get(
    "AGGREGATOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

# Crawls of local sites in tests: no delays, and a failed request fails at once
FAST_CRAWL = {
    **LOCAL_SITE_SETTINGS,
    "RETRY_ENABLED": "False",
    "DOWNLOAD_TIMEOUT": "5",
    "LOG_LEVEL": "INFO",
}

# Lines of the seed page's clutter that no stored article may keep
CLUTTER_LINES = (
    "What do you think?",
    "Written by",
    "Avatar of",
    "Leave a Reply",
    "Your email address will not be published",
    "GIPHY App Key not set",
    "Required fields are marked",
    "is a tech blogger who",
)


def stored(db_url: str) -> list[dict[str, object]]:
    engine = open_store(db_url)
    try:
        with session_scope(engine) as session:
            return [article_to_dict(a) for a in list_articles(session)]
    finally:
        engine.dispose()


def last_run(db_url: str) -> dict[str, object]:
    engine = open_store(db_url)
    try:
        with session_scope(engine) as session:
            run = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
            assert run is not None
            return {
                "status": run.status,
                "errors": [(e.url, e.reason) for e in run.errors],
                "stats": dict(run.stats),
                "pages_fetched": run.pages_fetched,
                "articles_stored": run.articles_stored,
            }
    finally:
        engine.dispose()


def _postgres_admin() -> tuple[object, str | None]:
    """A psycopg connection to the maintenance database, or the reason there is none."""
    import psycopg

    try:
        dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        return psycopg.connect(dsn, autocommit=True, connect_timeout=3), None
    except psycopg.OperationalError as exc:
        return None, str(exc).strip()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; fails in CI when none answers."""
    conn, reason = _postgres_admin()
    if conn is None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and does not answer: {reason}")
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 does not answer: {reason}")
    name = f"aggtest_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]


def scrapy_crawl(
    sources: Path | None,
    db_url: str,
    *args: str,
    settings: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `scrapy crawl techblogs` in a subprocess, as a user would, and return its result."""
    env = {**os.environ, "AGGREGATOR_DB_URL": db_url}
    if sources is not None:
        env["AGGREGATOR_SOURCES"] = str(sources)
    command = scrapy_crawl_command(settings={**FAST_CRAWL, **(settings or {})}) + list(args)
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def invoke(db_url: str, *args: str, sources: Path | None = None) -> click.testing.Result:
    """Run the `aggregator` command on db_url (and a sources file) through click's CliRunner."""
    from aggregator.cli import main

    options = ["--db", db_url]
    if sources is not None:
        options += ["--sources", str(sources)]
    return CliRunner().invoke(main, [*options, *args], catch_exceptions=False)


# Two emergency patches of one company for one browser, years apart: the same subject, two
# events (versions, identifiers and places tell them apart)
PATCH_ONE = [
    (
        "Microsoft rushes out emergency Internet Explorer patch for MS08-078 flaw",
        "Microsoft issued an out-of-band update on Wednesday for Internet Explorer 7 after "
        "attackers used the MS08-078 hole to plant malware on Windows XP machines.",
    ),
    (
        "Emergency IE fix: Microsoft closes MS08-078 hole used by data thieves",
        "The MS08-078 update for Internet Explorer 7 stops attacks that stole game passwords "
        "from Windows XP users, Microsoft said on Wednesday.",
    ),
    (
        "Microsoft patches Internet Explorer 7 zero-day with MS08-078",
        "Users of Internet Explorer 7 on Windows XP should install MS08-078 now, Microsoft "
        "said, as the flaw was used to install malware.",
    ),
    (
        "Install MS08-078 today, Microsoft tells Internet Explorer 7 users",
        "Attackers exploited the Internet Explorer 7 bug on Windows XP for a week before "
        "Microsoft shipped the MS08-078 emergency update on Wednesday.",
    ),
]
PATCH_TWO = [
    (
        "Microsoft releases Fix it tool for Internet Explorer 11 flaw CVE-2013-3893",
        "Microsoft published a temporary Fix it shortcut for CVE-2013-3893, a memory bug in "
        "Internet Explorer 11 on Windows 8.1 attacked in Japan and Taiwan.",
    ),
    (
        "CVE-2013-3893: Microsoft offers Fix it while Internet Explorer 11 attacks spread",
        "Targeted attacks in Japan and Taiwan use CVE-2013-3893 against Internet Explorer 11 "
        "on Windows 8.1; Microsoft's Fix it blocks them until a full patch.",
    ),
    (
        "Internet Explorer 11 on Windows 8.1 hit by CVE-2013-3893 attacks",
        "Microsoft confirmed limited attacks in Japan and Taiwan on CVE-2013-3893 and released "
        "a Fix it for Internet Explorer 11 users.",
    ),
    (
        "Microsoft Fix it shuts CVE-2013-3893 door in Internet Explorer 11",
        "The Fix it from Microsoft protects Internet Explorer 11 on Windows 8.1 against "
        "CVE-2013-3893, used in attacks on organisations in Japan and Taiwan.",
    ),
]
# One acquisition told two ways at first (the buyer named, or only "the chip giant" and the
# regulator): two stories, until articles that tell both sides show they are one
ACQUISITION = [
    (
        "Nvidia buys Israeli startup Run:ai",
        "Nvidia agreed to buy Run:ai, a Tel Aviv company whose software schedules GPU "
        "workloads, for about $700 million.",
    ),
    (
        "EU clears chipmaker's deal for GPU orchestration firm",
        "The graphics chip giant said the acquisition of the Kubernetes-based GPU orchestration "
        "platform closed after regulators in Brussels cleared it.",
    ),
    (
        "Nvidia to acquire Run:ai for $700 million",
        "Run:ai, founded in Tel Aviv in 2018, will join Nvidia; the $700 million purchase brings "
        "its GPU scheduling software in house.",
    ),
    (
        "Brussels clears GPU orchestration platform purchase",
        "European regulators cleared the acquisition of the Kubernetes-based GPU orchestration "
        "platform by Nvidia, and the chip giant closed the deal.",
    ),
    (
        "Nvidia closes $700 million Run:ai deal after Brussels approval",
        "Nvidia completed its acquisition of Run:ai, the Tel Aviv maker of Kubernetes-based GPU "
        "orchestration software, after European regulators in Brussels cleared the $700 "
        "million deal.",
    ),
    (
        "Run:ai joins Nvidia as Brussels clears GPU orchestration deal",
        "The Tel Aviv startup's Kubernetes-based GPU orchestration platform joins Nvidia after "
        "European regulators in Brussels cleared the $700 million purchase by the chip giant.",
    ),
]

# Later articles that tell both sides at once: with them the two stories are alike enough
# for a stricter merge ratio too
ACQUISITION_BRIDGE = [
    (
        "Brussels clears Nvidia's $700 million Run:ai purchase",
        "European regulators in Brussels cleared the chip giant Nvidia's acquisition of Run:ai, "
        "the Tel Aviv maker of the Kubernetes-based GPU orchestration platform.",
    ),
    (
        "Chip giant Nvidia closes Run:ai deal as Brussels clears GPU orchestration purchase",
        "Nvidia closed the $700 million acquisition of the Tel Aviv GPU orchestration platform "
        "Run:ai after European regulators in Brussels cleared it.",
    ),
]

# One event told by three outlets, and two unrelated articles
EVENT = [
    (
        "wire",
        "Microsoft refuses to hand over emails stored in Ireland",
        "Microsoft said on Friday it would not hand over emails stored in a data center in "
        "Ireland to US prosecutors, despite a court order by Judge Loretta Preska, and will "
        "appeal the warrant ruling.",
    ),
    (
        "techpulse",
        "Microsoft defies judge over overseas email warrant",
        "A US judge lifted a suspension on her order directing Microsoft to turn over a "
        "customer's emails held in Ireland; Microsoft will not release the emails while it "
        "appeals the warrant, the company said.",
    ),
    (
        "devwire",
        "Judge Preska orders Microsoft to release Ireland emails; company appeals",
        "Chief Judge Loretta Preska ordered Microsoft to give US prosecutors emails stored in "
        "Ireland. Microsoft declined to comply with the warrant and plans to appeal.",
    ),
]
OTHER = [
    (
        "wire",
        "Samsung shows the Galaxy Note 4 on its website",
        "Samsung published a product page for the Galaxy Note 4 ahead of its launch event, "
        "showing a larger screen, a metal frame and an improved stylus.",
    ),
    (
        "devwire",
        "Open hardware laptop mainboard released by RISC-V startup",
        "A hardware startup released schematics and board layouts of a RISC-V laptop mainboard "
        "under an open hardware licence, with boot firmware.",
    ),
]
