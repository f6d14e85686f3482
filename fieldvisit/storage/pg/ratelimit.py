"""Flask-Limiter's counts (failed logins, guessed API tokens) in PostgreSQL, so that every
server process counts the same attempts: a ``limits`` storage for the fixed-window strategy
(the app's), over the ``rate_limits`` table.

The ``limits`` package has no PostgreSQL backend; this one is small because fixed windows
need only a counter with an expiry per key. Its URI is ``fieldvisit-pg://<name>``, a name
given here by ``register`` to the store's database URL. Expired rows count for nothing; one
write in ``SWEEP_EVERY`` also deletes them, so that the guesses of a helping day (a row per
address and account tried) do not stay in the table for ever. The counts have a small pool of
their own, open for the life of the process: Flask-Limiter keeps one storage for the
process (the last app's), which may outlive the store it was made beside.

A request's first look at a count (an API call asks whether its address is blocked before
anything else) is also its first read of the database. When the request's own store is on
the same database, that read goes through the store, which reads the registry's version in
the same statement and keeps it for the request (``PgStore.count_and_pin``): one round trip,
not two.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from limits.storage import Storage

from .db import Database

SCHEME = "fieldvisit-pg"
_urls: dict[str, str] = {}  # name -> database URL
_pools: dict[str, Database] = {}  # database URL -> its pool for counts
_guard = threading.Lock()
SWEEP_EVERY = 100
COUNT = "SELECT count FROM rate_limits WHERE key = %s AND expires > %s"


def register(url: str) -> str:
    """The URI under which Flask-Limiter reaches the database ``url``."""
    name = hashlib.sha256(url.encode()).hexdigest()[:16]
    with _guard:
        _urls[name] = url
    return f"{SCHEME}://{name}"


def _forget_after_fork() -> None:
    """In a child just forked (``run.py --workers N``): its parent's pools are not its own.
    Their connections' sockets are shared with the parent, and two processes talking on one
    connection break it ("prepared statement already exists"); the child opens its own,
    and leaves the parent's alone (closing them would end the parent's sessions)."""
    global _guard
    _pools.clear()
    _guard = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_forget_after_fork)


def _request_store_read(uri: str) -> Callable[[str, float], int | None] | None:
    """The current request's store's ``count_and_pin``, when that store is on the database
    of ``uri``; None outside a request or on another engine or database."""
    from flask import current_app, has_request_context

    from ..current import STORE_KEY
    from .store import PgStore  # here: the store module imports this one

    if not has_request_context():
        return None
    store = current_app.extensions.get(STORE_KEY)
    if isinstance(store, PgStore) and store.limits_uri == uri:
        return store.count_and_pin
    return None


def _database(name: str) -> Database:
    with _guard:
        url = _urls[name]
        if url not in _pools:
            _pools[url] = Database(url, pool_size=4)
        return _pools[url]


class PgLimitStorage(Storage):
    """Counters with an expiry, one row per key."""

    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012  (the base class declares it so)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.uri = uri or ""
        self.db = _database(self.uri.split("://", 1)[-1])

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return psycopg.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute(
                "INSERT INTO rate_limits (key, count, expires) VALUES (%s, %s, %s)"
                " ON CONFLICT (key) DO UPDATE SET"
                " count = CASE WHEN rate_limits.expires <= %s THEN EXCLUDED.count"
                " ELSE rate_limits.count + EXCLUDED.count END,"
                " expires = CASE WHEN rate_limits.expires <= %s THEN EXCLUDED.expires"
                " ELSE rate_limits.expires END"
                " RETURNING count",
                (key, amount, now + expiry, now, now),
            ).fetchone()
            if random.randrange(SWEEP_EVERY) == 0:  # chance, not a secret
                conn.execute("DELETE FROM rate_limits WHERE expires <= %s", (now,))
        return int(row[0]) if row else amount

    def get(self, key: str) -> int:
        now = time.time()
        first_read = _request_store_read(self.uri)
        count = first_read(key, now) if first_read is not None else None
        if count is not None:
            return count
        with self.db.connection() as conn:
            row = conn.execute(COUNT, (key, now)).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT expires FROM rate_limits WHERE key = %s AND expires > %s",
                (key, time.time()),
            ).fetchone()
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        try:
            with self.db.connection() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def reset(self) -> int | None:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM rate_limits").rowcount

    def clear(self, key: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM rate_limits WHERE key = %s", (key,))
