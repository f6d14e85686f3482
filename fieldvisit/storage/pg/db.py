"""The connection pool, the schema's versions and the advisory locks of the PostgreSQL engine.

The schema is numbered SQL files in ``schema/`` (``0001_initial.sql``, ...), applied in
order on start, each in its own transaction with its number recorded in
``schema_migrations``; an advisory lock keeps two servers starting at once from applying
the same file twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
_FILE_RE = re.compile(r"\A([0-9]{4})_[a-z0-9_]+\.sql\Z")


def schema_files() -> list[tuple[int, Path]]:
    """The numbered SQL files, in order."""
    found = []
    for path in SCHEMA_DIR.iterdir():
        match = _FILE_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def lock_key(salt: str, name: str) -> int:
    """A 64-bit advisory lock key for ``name``. Advisory locks are per database, so the key
    includes the schema (``salt``): two stores in one database never wait on each other."""
    digest = hashlib.blake2b(f"{salt}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def migrate(conn: psycopg.Connection[Any], salt: str) -> list[int]:
    """Apply the schema files not yet applied; returns their numbers."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(salt, "migrate"),))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for number, path in schema_files():
            if number in done:
                continue
            conn.execute(path.read_text(encoding="utf-8").encode())
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))
            applied.append(number)
    return applied


class Database:
    """A pool of connections to one database (and schema), with the store's lock keys."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(pool_size, 2),
            # Autocommit: a read is one round trip, not the statement and a COMMIT; a change
            # is still one transaction (``transaction()`` sends BEGIN and COMMIT).
            kwargs={"row_factory": tuple_row, "autocommit": True},
            open=True,
            name="fieldvisit",
        )
        with self.pool.connection() as conn:
            row = conn.execute("SELECT current_schema()").fetchone()
            self.schema = str(row[0]) if row else "public"
            self.salt = f"{self.schema}"
            migrate(conn, self.salt)

    def key(self, name: str) -> int:
        return lock_key(self.salt, name)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for reads: each statement on its own (autocommit), as READ
        COMMITTED would give each its own snapshot anyway."""
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self, pipeline: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A connection in one transaction: committed (durably: synchronous_commit is the
        server's default, on) when the block ends, rolled back when it raises. With
        ``pipeline``, statements are sent without waiting for each answer: a fetch waits for
        what was sent before it, and the block's end for the COMMIT (so a change is still
        acknowledged only once it is durable)."""
        with self.pool.connection() as conn:
            if not pipeline:
                with conn.transaction():
                    yield conn
                return
            try:
                with conn.pipeline():
                    # BEGIN as one more statement of the pipeline: conn.transaction() would
                    # wait for the server's answer to it before sending anything else.
                    conn.execute("BEGIN")
                    yield conn
                    conn.execute("COMMIT")
            except BaseException:
                with suppress(psycopg.Error):  # a broken connection: the pool drops it
                    conn.rollback()
                raise

    def close(self) -> None:
        self.pool.close()


def describe(url: str) -> str:
    """The database a URL names, without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "PostgreSQL"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"postgresql://{info.get('user') or ''}@{host}:{port}/{info.get('dbname') or ''}"
