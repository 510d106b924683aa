"""Quality and speed benchmarks behind `make bench`."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """Create a fresh PostgreSQL database on 127.0.0.1:5432; drop it afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
