"""Engines and sessions from a database URL, SQLite pragmas, and automatic migrations."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from aggregator.exceptions import StoreError

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works: it only has to be the same in every process sharing the database
# (stories.py's story lock is 4_242_002)
_PG_MIGRATION_LOCK = 4_242_001
_PG_SCHEDULER_LOCK = 4_242_003


# Objects the migrations create that the models do not describe: APScheduler's job table
# and the full-text search index (FTS5 table and its shadow tables, the tsvector column), and
# the expression indexes of the listing order (migration 0007; Alembic does not compare them)
UNMODELLED_TABLE_PREFIXES = ("apscheduler_jobs", "articles_fts")
UNMODELLED_NAMES = frozenset(
    {
        "search_vector",
        "ix_articles_search_vector",
        "title_vector",
        "ix_articles_title_vector",
        "ix_articles_newest",
        "ix_articles_source_newest",
    }
)


# What to write in --db or AGGREGATOR_DB_URL, as error messages show it
EXAMPLE_URLS = {
    "sqlite": "sqlite:///aggregator.db",
    "postgresql": "postgresql+psycopg://user@host/dbname",
}
_UPGRADE_HINT = "run `aggregator db upgrade` to create or migrate it"

# The execution option of read-only transactions (see read_scope)
_READ_ONLY = "aggregator_read_only"

T = TypeVar("T")
# Keep IN lists well below SQLite's and PostgreSQL's parameter limits
IN_LIST_LIMIT = 500


def chunked(items: Sequence[T], size: int = IN_LIST_LIMIT) -> Iterator[Sequence[T]]:
    """Split items into runs short enough for one IN list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_modelled(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    """Alembic include_object hook: whether the models describe this database object."""
    if type_ == "table" and name and name.startswith(UNMODELLED_TABLE_PREFIXES):
        return False
    return name not in UNMODELLED_NAMES


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT (a RELEASE commits everything):
    # let SQLAlchemy emit BEGIN itself, see _sqlite_begin
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers (CLI, web) work while a crawl writes; busy_timeout waits for the lock
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of page cache (the default is 2 MiB): the article and band indexes stay hot
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front, so busy_timeout applies instead of a
    # "database is locked" error when two processes upgrade a read to a write; a read-only
    # transaction (read_scope) takes no lock at all: in WAL mode it never waits for a writer
    readonly = conn.get_execution_options().get(_READ_ONLY)
    conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def parse_db_url(url: str) -> URL:
    """Parse a database URL; SQLite and PostgreSQL only, `postgresql://` read as psycopg's."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database URL {url!r} is not valid: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgres" or (backend == "postgresql" and "+" not in parsed.drivername):
        # the postgres:// form of libpq and Heroku, and plain postgresql://: psycopg 3
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in {"sqlite", "postgresql"}:
        raise StoreError(
            f"database URL {parsed.render_as_string()}: {backend} is not supported; use SQLite "
            f"({EXAMPLE_URLS['sqlite']}) or PostgreSQL ({EXAMPLE_URLS['postgresql']})"
        )
    return parsed


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL (made absolute), or None for other databases and in-memory ones."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().absolute()


def make_engine(url: str) -> Engine:
    """Create an engine for a SQLAlchemy URL, with SQLite tuned for one writer and many readers."""
    parsed = parse_db_url(url)
    shown = parsed.render_as_string()
    path = sqlite_path(parsed)
    if path is not None and not path.parent.is_dir():
        raise StoreError(f"cannot open database {shown}: there is no folder {path.parent}")
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        hint = ""
        if exc.name == "psycopg":
            hint = "; install the PostgreSQL extra: pip install 'techblog-aggregator[postgres]'"
        raise StoreError(f"cannot open database {shown}: {exc}{hint}") from exc
    except Exception as exc:  # missing driver, bad options: say which URL
        raise StoreError(f"cannot open database {shown}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def _first_line(exc: DBAPIError) -> str:
    return (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]


def current_revision(engine: Engine) -> str | None:
    """Return the migration revision the database is at, or None for an empty database."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:  # no server, no such database, not a SQLite file
        raise StoreError(
            f"cannot open database {engine.url.render_as_string()}: {_first_line(exc)}"
        ) from exc


def head_revision() -> str | None:
    """Return the newest migration revision this code knows."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to call from several processes at once."""
    try:
        if current_revision(engine) == head_revision():
            return
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                try:
                    command.upgrade(_alembic_config(engine), "head")
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    conn.commit()
        else:
            command.upgrade(_alembic_config(engine), "head")
    except DBAPIError as exc:
        raise StoreError(
            f"cannot migrate database {engine.url.render_as_string()}: {_first_line(exc)}"
        ) from exc
    logger.info("Database %s is at revision %s", engine.url.render_as_string(), head_revision())


def open_store(url: str) -> Engine:
    """Open the database at url, creating or migrating its schema when needed."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    except StoreError:
        engine.dispose()
        raise
    return engine


def open_existing_store(url: str) -> Engine:
    """Open a store that exists at the newest revision, creating nothing (for read-only use)."""
    engine = make_engine(url)
    shown = engine.url.render_as_string()
    path = sqlite_path(engine.url)
    try:
        if path is not None and not path.is_file():
            raise StoreError(f"no aggregator database at {shown}; {_UPGRADE_HINT}")
        revision = current_revision(engine)
        if revision is None:
            raise StoreError(f"no aggregator database at {shown}; {_UPGRADE_HINT}")
        if revision != head_revision():
            raise StoreError(
                f"the database {shown} has schema revision {revision}, this version needs "
                f"{head_revision()}; {_UPGRADE_HINT}"
            )
    except StoreError:
        engine.dispose()
        raise
    return engine


@contextmanager
def scheduler_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's scheduler lock while the block runs; StoreError when it is taken.

    One `aggregator schedule` per database: on PostgreSQL a session advisory lock (it holds
    across machines and goes with the connection if the process dies; a connection lost to
    an outage loses it too, and it is not taken again), on SQLite an exclusive lock on a file
    next to the database (released by the system when the process dies).
    """
    shown = engine.url.render_as_string()
    taken = f"another `aggregator schedule` is running on {shown}"
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_SCHEDULER_LOCK}):
                holder = conn.execute(
                    text(
                        "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l "
                        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                        "AND l.objid = :k AND l.granted"
                    ),
                    {"k": _PG_SCHEDULER_LOCK},
                ).first()
                where = (
                    f" (server process {holder.pid}, client {holder.client_addr or 'local'}, "
                    f"since {holder.backend_start:%Y-%m-%d %H:%M:%S %Z})"
                    if holder
                    else ""
                )
                raise StoreError(taken + where)
            conn.commit()
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_SCHEDULER_LOCK})
                    conn.commit()
                except DBAPIError:  # the connection was lost, and the lock with it
                    conn.invalidate()
        return
    path = sqlite_path(engine.url)
    if path is None:  # an in-memory database belongs to this process alone
        yield
        return
    lock_path = path.with_name(path.name + ".schedule-lock")
    with lock_path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip()
            raise StoreError(taken + (f" ({owner})" if owner else "")) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def out_of_reach(exc: BaseException | None) -> bool:
    """Whether an error (or what caused it) is the store out of reach for a while.

    A lost connection, a lock held too long or a full connection pool passes: the work it
    stopped is tried again as it is, never counted as a failure of the page or the source.
    """
    while exc is not None:
        if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
            return True
        exc = exc.__cause__
    return False


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A transaction that only reads: on SQLite it does not take the write lock."""
    factory = sessionmaker(engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
