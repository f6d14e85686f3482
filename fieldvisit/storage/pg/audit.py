"""The audit log in PostgreSQL: one row per entry, written in the transaction of the change
it records (so a change and its entry are committed together or not at all)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import psycopg

from ...models import AuditEntry
from ..paths import check_month
from .db import Database
from .jsonb import doc as Jsonb

# Months of parsed entries kept in memory, as the embedded AuditLog does.
_CACHE_MONTHS = 24


# Any number of entries in one statement (arrays, not a statement per entry); a visit's save
# sends it as part of its own (``visits``), there under a condition (``where``). An entry
# already there (the same id) is not written twice. Arrays are sent in binary (``%b``): as
# text, each quote of each document is escaped by a pattern, which cost more than the rest
# of the statement.
AUDIT_INSERT_WHERE = (
    "INSERT INTO audit (id, month, doc)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::jsonb[]) AS entry {where}"
    " ON CONFLICT (id) DO NOTHING"
)
INSERT_AUDIT = AUDIT_INSERT_WHERE.format(where="")


def audit_params(entries: list[AuditEntry]) -> tuple[list[str], list[str], list[Any]]:
    """``INSERT_AUDIT``'s parameters for ``entries``."""
    docs = [Jsonb(e.doc_view()) for e in entries]
    return [e.id for e in entries], [e.at[:7] for e in entries], docs


def insert_audit(conn: psycopg.Connection[Any], entries: list[AuditEntry]) -> None:
    """Write ``entries`` in ``conn``'s transaction."""
    if entries:
        conn.execute(INSERT_AUDIT, audit_params(entries))


class PgAuditLog:
    """The audit log of one database (``store.audit_log``). Entries are only appended, so
    a reader fetches just the rows past the last it has seen of a month."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # month -> (highest seq read, the oldest transaction in flight then, (seq, entry)s)
        self._cache: OrderedDict[str, tuple[int, str, list[tuple[int, AuditEntry]]]] = OrderedDict()
        self._lock = threading.Lock()

    def append(self, entry: AuditEntry) -> None:
        """An entry that is a change by itself (a download of full ID numbers, a login)."""
        with self.db.transaction() as conn:
            insert_audit(conn, [entry])

    def months(self) -> list[str]:
        with self.db.connection() as conn:
            # A loose index scan: one probe of the month index per month, not a scan of
            # every entry.
            rows = conn.execute(
                "WITH RECURSIVE m AS ("
                " (SELECT month FROM audit ORDER BY month LIMIT 1)"
                " UNION ALL SELECT (SELECT a.month FROM audit a WHERE a.month > m.month"
                " ORDER BY a.month LIMIT 1) FROM m WHERE m.month IS NOT NULL)"
                " SELECT month FROM m WHERE month IS NOT NULL"
            ).fetchall()
        return [r[0] for r in rows]

    def read_entries(self, month: str) -> list[AuditEntry]:
        """The month's entries read afresh (a new list each call)."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT doc FROM audit WHERE month = %s ORDER BY seq", (check_month(month),)
            ).fetchall()
        return [AuditEntry.from_doc(doc) for (doc,) in rows]

    def entries(self, month: str) -> list[AuditEntry]:
        """The month's entries (read-only), in ``seq`` order. Only rows past the last seen
        are fetched, plus those of transactions in flight at the last read: a transaction
        may take a smaller seq than one that committed before it."""
        check_month(month)
        with self._lock:
            cached = self._cache.get(month)
        last, horizon, pairs = cached if cached is not None else (0, "0", [])
        with self.db.connection() as conn:
            row = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()
            rows = conn.execute(
                "SELECT seq, doc FROM audit WHERE month = %s"
                " AND (seq > %s OR xid >= %s::xid8) ORDER BY seq",
                (month, last, horizon),
            ).fetchall()
        known = {seq for seq, _e in pairs} if rows else set()
        fresh = [(seq, AuditEntry.from_doc(doc)) for seq, doc in rows if seq not in known]
        if fresh:
            late = fresh[0][0] < last  # committed after a larger seq was read: re-sort
            pairs = [*pairs, *fresh]
            if late:
                pairs.sort(key=lambda pair: pair[0])
            last = max(last, *(seq for seq, _e in fresh))
        entry = (last, str(row[0]) if row else horizon, pairs)
        with self._lock:
            self._cache[month] = entry
            self._cache.move_to_end(month)
            while len(self._cache) > _CACHE_MONTHS:
                self._cache.popitem(last=False)
        return [e for _seq, e in pairs]

    def ids(self, month: str) -> set[str]:
        return {e.id for e in self.read_entries(month)}
