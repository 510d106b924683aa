"""Shared fixtures: a real database per test (SQLite and PostgreSQL), local sites, crawl runner."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from aggregator.crawling import LOCAL_SITE_SETTINGS, scrapy_crawl_command
from aggregator.store.db import open_store

ROOT = Path(__file__).resolve().parent.parent
SITES = Path(__file__).resolve().parent / "sites"
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated database."""
    engine = open_store(db_url)
    yield engine
    engine.dispose()


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
