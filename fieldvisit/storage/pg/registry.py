"""The registry in PostgreSQL: one row per document of each registry table, a version row
bumped by every change, and a per-process cache keyed by that version.

Every registry change takes the registry's advisory lock exclusively; a visit's save takes it
shared (see ``visits``), so a change that moves a household to another village, or closes a
month, never interleaves with a save that looked at the registry before it.

A read outside a transaction looks at the version row once per request (``storage.pins``
keeps the registry a request first read); what must be decided on the registry as it is (a
save, a change) reads it in its own transaction, under the lock, always checking the version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from ...models import AuditEntry
from ..registry_file import REGISTRY_KEYS, Registry, registry_rows
from .audit import insert_audit
from .db import Database
from .jsonb import doc as Jsonb

T = TypeVar("T")
Raw = dict[str, dict[str, dict[str, Any]]]  # table -> key -> document
REGISTRY_LOCK = "registry"


def read_raw(conn: psycopg.Connection[Any]) -> tuple[int, Raw]:
    """The registry's version and documents, from one snapshot (one statement)."""
    rows = conn.execute(
        "SELECT v.version, r.tbl, r.key, r.doc FROM registry_version v LEFT JOIN registry r ON true"
    ).fetchall()
    version = int(rows[0][0]) if rows else 0
    raw: Raw = {}
    for _version, tbl, key, doc in rows:
        if tbl is not None:
            raw.setdefault(tbl, {})[key] = doc
    return version, raw


def _key_of(table: str, doc: dict[str, Any]) -> str:
    return str(doc[REGISTRY_KEYS.get(table, "id")])


def diff_rows(before: Raw, rows: dict[str, list[dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
    """What to delete (table, key) and upsert (table, key, doc) to go from ``before`` to
    ``rows`` (the tables as ``registry_rows`` gives them)."""
    gone: list[Any] = []
    put: list[Any] = []
    for table, docs in rows.items():
        old = before.get(table, {})
        new = {_key_of(table, d): d for d in docs}
        gone.extend((table, k) for k in old if k not in new)
        put.extend((table, k, Jsonb(d)) for k, d in new.items() if old.get(k) != d)
    return gone, put


def write_rows(conn: psycopg.Connection[Any], gone: list[Any], put: list[Any]) -> None:
    with conn.cursor() as cur:
        if gone:
            cur.executemany("DELETE FROM registry WHERE tbl = %s AND key = %s", gone)
        if put:
            cur.executemany(
                "INSERT INTO registry (tbl, key, doc) VALUES (%s, %s, %s)"
                " ON CONFLICT (tbl, key) DO UPDATE SET doc = EXCLUDED.doc",
                put,
            )


def carry_moves(conn: psycopg.Connection[Any], before: Registry, after: Registry) -> None:
    """Visits and needs follow a household to its new village, in the change's transaction
    (the embedded store does it after, file by file: see ``storage.moves``)."""
    moved = [
        (h.village_key, h.id)
        for h in after.households.values()
        if h.id in before.households and before.households[h.id].village_key != h.village_key
    ]
    if not moved:
        return
    with conn.cursor() as cur:
        for table in ("visits", "needs"):
            cur.executemany(
                f"UPDATE {table} SET village = %s, seq = nextval('change_seq'),"
                " doc = jsonb_set(doc, '{village}', to_jsonb(%s::text))"
                " WHERE household = %s",
                [(village, village, hid) for village, hid in moved],
            )


class RegistryTables:
    """The registry of one database, with this process's cached reading of it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._cached: tuple[int, Raw, Registry] | None = None

    def _remember(self, version: int, raw: Raw) -> Registry:
        """Cache ``raw`` as ``version``."""
        reg = Registry.from_data(raw)
        with self._lock:
            if self._cached is None or self._cached[0] <= version:
                self._cached = (version, raw, reg)
        return reg

    def current(self, conn: psycopg.Connection[Any] | None = None) -> Registry:
        """The registry now (read-only): one cheap look at the version, the documents only
        when it moved. A request looks once (``storage.pins``): another process's change is
        seen by the next request, never trusted stale for a while."""
        if conn is None:
            with self.db.connection() as own:
                return self.current(own)
        return self.at_version(
            conn, conn.execute("SELECT version FROM registry_version").fetchone()
        )

    def at_version(self, conn: psycopg.Connection[Any], row: tuple[Any, ...] | None) -> Registry:
        """The registry whose version ``row`` was just read in ``conn``: the cached one when
        it is that version, else read again in ``conn``."""
        version = int(row[0]) if row else 0
        cached = self._cached
        if cached is not None and cached[0] == version:
            return cached[2]
        version, raw = read_raw(conn)
        return self._remember(version, raw)

    def update(
        self,
        change: Callable[[Registry], T],
        audit: Callable[[T], list[AuditEntry]] | None = None,
    ) -> T:
        """``change`` on a private copy, committed with its audit entries in one transaction
        under the registry's exclusive lock."""
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.db.key(REGISTRY_LOCK),))
            row = conn.execute("SELECT version FROM registry_version FOR UPDATE").fetchone()
            version = int(row[0]) if row else 0
            cached = self._cached
            if cached is not None and cached[0] == version:
                raw = cached[1]
            else:
                version, raw = read_raw(conn)
            before = Registry.from_data(raw)
            reg = Registry.from_data(raw)
            result = change(reg)
            rows = registry_rows(reg)
            rows["moves"] = []  # moves are carried out in this transaction, never pending
            gone, put = diff_rows(raw, rows)
            entries = audit(result) if audit is not None else []
            if gone or put:
                write_rows(conn, gone, put)
                carry_moves(conn, before, reg)
                conn.execute("UPDATE registry_version SET version = version + 1")
                version += 1
                new_raw = {t: {_key_of(t, d): d for d in docs} for t, docs in rows.items()}
            insert_audit(conn, entries)
        if gone or put:
            self._remember(version, new_raw)
        return result
