"""Visits and needs in PostgreSQL.

A save runs in one transaction: the registry's advisory lock shared (a registry change,
which may move the household or close the month, takes it exclusively), an advisory lock on
the visit's id (there may be no row yet to lock), then its row ``FOR UPDATE``; ``decide``
and ``needs_for`` run there, and the visit, its needs and its audit entry are committed
together. ``visits.id`` is the primary key: a visit is stored once whatever its date.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import psycopg

from ...models import AuditEntry, Need, Visit
from ..closed import MonthClosed
from ..journal import StorageError
from ..paths import check_month
from .audit import insert_audit
from .db import Database
from .jsonb import doc as Jsonb
from .registry import REGISTRY_LOCK, RegistryTables

UPSERT_VISIT = (
    "INSERT INTO visits (id, month, village, household, doc) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET month = EXCLUDED.month, village = EXCLUDED.village,"
    " household = EXCLUDED.household, doc = EXCLUDED.doc, seq = nextval('change_seq')"
)
UPSERT_NEED = (
    "INSERT INTO needs (id, visit, month, village, household, status, doc)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET visit = EXCLUDED.visit, month = EXCLUDED.month,"
    " village = EXCLUDED.village, household = EXCLUDED.household, status = EXCLUDED.status,"
    " doc = EXCLUDED.doc, seq = nextval('change_seq')"
)


def visit_row(visit: Visit, month: str) -> tuple[Any, ...]:
    return (visit.id, month, visit.village, visit.household, Jsonb(visit.to_doc()))


def need_row(need: Need, month: str) -> tuple[Any, ...]:
    return (
        need.id,
        need.visit,
        month,
        need.village,
        need.household,
        need.status,
        Jsonb(need.to_doc()),
    )


def _closed(settings: dict[str, Any], month: str) -> bool:
    from ..closed import SETTING

    months = settings.get(SETTING)
    record = months.get(month) if isinstance(months, dict) else None
    return isinstance(record, dict) and record.get("state") == "closed"


class VisitTables:
    """The visits and needs of one database."""

    def __init__(self, db: Database, registry: RegistryTables) -> None:
        self.db = db
        self.registry = registry

    def _where(self, month: str, village: str | None) -> tuple[str, tuple[Any, ...]]:
        if village is None:
            return "month = %s", (check_month(month),)
        return "month = %s AND village = %s", (check_month(month), village)

    def visits(self, month: str, village: str | None = None) -> list[Visit]:
        where, args = self._where(month, village)
        with self.db.connection() as conn:
            rows = conn.execute(f"SELECT doc FROM visits WHERE {where} ORDER BY seq", args)
            return [Visit.from_doc(doc) for (doc,) in rows.fetchall()]

    def needs(self, month: str, village: str | None = None) -> list[Need]:
        where, args = self._where(month, village)
        with self.db.connection() as conn:
            rows = conn.execute(f"SELECT doc FROM needs WHERE {where} ORDER BY seq", args)
            return [Need.from_doc(doc) for (doc,) in rows.fetchall()]

    def months(self) -> list[str]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "WITH RECURSIVE m AS ("
                " (SELECT month FROM visits ORDER BY month LIMIT 1)"
                " UNION ALL SELECT (SELECT v.month FROM visits v WHERE v.month > m.month"
                " ORDER BY v.month LIMIT 1) FROM m WHERE m.month IS NOT NULL)"
                " SELECT month FROM m WHERE month IS NOT NULL"
            ).fetchall()
        return [r[0] for r in rows]

    def by_id(self, visit_id: str, month: str | None = None, village: str | None = None) -> Any:
        sql, args = "SELECT doc FROM visits WHERE id = %s", [visit_id]
        if month is not None:
            sql, args = sql + " AND month = %s", [*args, month]
        if village is not None:
            sql, args = sql + " AND village = %s", [*args, village]
        with self.db.connection() as conn:
            row = conn.execute(sql, args).fetchone()
        return Visit.from_doc(row[0]) if row else None

    def of_household(self, month: str, village: str, household_id: str) -> list[Visit]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT doc FROM visits WHERE household = %s AND month = %s AND village = %s"
                " ORDER BY seq",
                (household_id, check_month(month), village),
            ).fetchall()
        return [Visit.from_doc(doc) for (doc,) in rows]

    def save(
        self,
        visit: Visit,
        decide: Callable[[Visit | None], Visit | None],
        needs_for: Callable[[Visit, list[Need]], list[Need]],
        audit: Callable[[Visit], AuditEntry] | None,
    ) -> tuple[Visit, bool]:
        """See ``Store.save_visit``: the same contract, in one transaction. Pipelined: the
        locks and the three reads go to the server together, and the writes with the
        COMMIT: two waits for the server rather than ten, each of which, on a busy
        machine, also waits for the database's process to be given a core."""
        with self.db.transaction(pipeline=True) as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock_shared(%s), pg_advisory_xact_lock(%s)",
                (self.db.key(REGISTRY_LOCK), self.db.key("visit:" + visit.id)),
            )
            found = conn.execute(
                "SELECT doc, month FROM visits WHERE id = %s FOR UPDATE", (visit.id,)
            )
            version = conn.execute("SELECT version FROM registry_version")
            needs = conn.execute("SELECT doc FROM needs WHERE visit = %s FOR UPDATE", (visit.id,))
            row = found.fetchone()
            existing = Visit.from_doc(row[0]) if row else None
            month = row[1] if row else visit.month
            # Read after the locks: registry changes wait for this save.
            reg = self.registry.at_version(conn, version.fetchone())
            stored = [Need.from_doc(doc) for (doc,) in needs.fetchall()]
            owner = reg.households.get(existing.household if existing else visit.household)
            if _closed(reg.settings, month):
                raise MonthClosed(month)
            record = decide(existing)
            if record is None:
                if existing is None:
                    raise StorageError(f"nothing to store for visit {visit.id}")
                return existing, False
            if owner is not None and record.village != owner.village_key:
                record = dataclasses.replace(record, village=owner.village_key)
            if record.id != visit.id:
                raise StorageError(f"visit {visit.id} decided as {record.id}")
            self._write(conn, record, month, needs_for(record, stored))
            insert_audit(conn, [audit(record)] if audit is not None else [])
        return record, True

    def _write(
        self, conn: psycopg.Connection[Any], record: Visit, month: str, new_needs: list[Need]
    ) -> None:
        with conn.cursor() as cur:
            cur.execute(UPSERT_VISIT, visit_row(record, month))
            cur.execute("DELETE FROM needs WHERE visit = %s AND status = 'open'", (record.id,))
            if new_needs:
                cur.executemany(UPSERT_NEED, [need_row(n, month) for n in new_needs])

    def update_need(
        self,
        month: str,
        village: str,
        need_id: str,
        change: Callable[[Need], AuditEntry | None],
    ) -> Need | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT doc FROM needs WHERE id = %s AND month = %s AND village = %s FOR UPDATE",
                (need_id, check_month(month), village),
            ).fetchone()
            if row is None:
                return None
            need = Need.from_doc(row[0])
            entry = change(need)
            if entry is None:
                return need
            conn.execute(
                "UPDATE needs SET doc = %s, status = %s, seq = nextval('change_seq') WHERE id = %s",
                (Jsonb(need.to_doc()), need.status, need.id),
            )
            insert_audit(conn, [entry])
        return need

    def import_many(self, visits: list[Visit], needs: list[Need]) -> None:
        """Bulk-load (the demo's history, a migration): visits and needs already stored
        are left as they are."""
        with self.db.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO visits (id, month, village, household, doc)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [visit_row(v, v.month) for v in visits],
            )
            cur.executemany(
                "INSERT INTO needs (id, visit, month, village, household, status, doc)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [need_row(n, n.raised_at[:7]) for n in needs],
            )
