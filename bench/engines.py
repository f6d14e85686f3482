"""The benchmarks on either engine: ``--engine embedded`` (the data folder, the default) or
``--engine postgresql`` with ``--database-url URL`` (a server to use; without it a throwaway
cluster with PostgreSQL's durable defaults is started, see ``pgcluster``).

A benchmark builds its township in a data folder as before; on PostgreSQL that folder is
then copied into a fresh database (``storage.migrate``), and the servers are given the
database's URL instead of the folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=("embedded", "postgresql"), default="embedded")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FIELDVISIT_BENCH_DATABASE_URL"),
        help="PostgreSQL server for --engine postgresql (default: a throwaway cluster)",
    )


@contextlib.contextmanager
def server_url(args: argparse.Namespace) -> Iterator[str | None]:
    """The PostgreSQL server to use (started here when none was given), or None."""
    if args.engine != "postgresql":
        yield None
    elif args.database_url:
        yield args.database_url
    else:
        from pgcluster import cluster

        with cluster(max_connections=300) as url:
            yield url


def fresh_database(server: str) -> str:
    """A new empty database on ``server``; its URL."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    info = conninfo_to_dict(server)
    info["dbname"] = name
    return make_conninfo("", **info)


def place(data: Path, server: str | None) -> str:
    """Where the servers find the township built in ``data``: the folder, or a new database
    holding a copy of it."""
    if server is None:
        return str(data)
    from fieldvisit.storage.migrate import copy_store
    from fieldvisit.storage.pg import PgStore
    from fieldvisit.storage.store import Store

    url = fresh_database(server)
    target = PgStore(url, pool_size=2)
    try:
        copy_store(Store(data), target)
    finally:
        target.close()
    return url


def app_config(location: str) -> dict[str, Any]:
    """create_app's settings for a server over ``location`` (a folder or a database URL)."""
    if location.startswith("postgresql:") or "dbname=" in location:
        return {"DATABASE_URL": location, "DATABASE_POOL": 16}
    return {"DATA_DIR": location}


def open_store(location: str) -> Any:
    """A store over ``location``, for counting what the servers stored."""
    if location.startswith("postgresql:") or "dbname=" in location:
        from fieldvisit.storage.pg import PgStore

        return PgStore(location, pool_size=2)
    from fieldvisit.storage.store import Store

    return Store(location)
