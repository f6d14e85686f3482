"""Visits and needs in PostgreSQL.

A save runs in one transaction: the registry's advisory lock shared (a registry change,
which may move the household or close the month, takes it exclusively), an advisory lock on
the visit's id (there may be no row yet to lock), then its row ``FOR UPDATE``; ``decide``
and ``needs_for`` run there, and the visit, its needs and its audit entry are committed
together. A visit not yet stored is first tried in one statement, decided on the registry
the request read and written only if that is still the registry's version (``SAVE_NEW``).
``visits.id`` is the primary key: a visit is stored once whatever its date."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from ...models import AuditEntry, Household, Need, Visit
from ..closed import MonthClosed
from ..journal import StorageError
from ..paths import check_month
from ..registry_file import Registry
from .audit import AUDIT_INSERT_WHERE, INSERT_AUDIT, audit_params, insert_audit
from .db import Database
from .jsonb import doc as Jsonb
from .registry import REGISTRY_LOCK, RegistryTables

# A save is four statements and two waits for the server: BEGIN and the locks; one read of
# the visit, its needs and the registry's version; one write of the visit, its needs and its
# audit entry; COMMIT. The read is a statement of its own after the locks: READ COMMITTED
# takes a statement's snapshot when it starts, so a read in the locks' statement could miss
# a registry change it waited for. A visit not yet stored (most saves of a helping day) is
# written in one wait: see ``VisitTables._save_new``.
SAVE_LOCKS = "SELECT pg_advisory_xact_lock_shared(%s), pg_advisory_xact_lock(%s)"
SAVE_READ = (
    "WITH v AS (SELECT doc, month FROM visits WHERE id = %(id)s FOR UPDATE),"
    " n AS (SELECT doc FROM needs WHERE visit = %(id)s FOR UPDATE)"
    " SELECT (SELECT version FROM registry_version), (SELECT doc FROM v), (SELECT month FROM v),"
    " ARRAY(SELECT doc FROM n)"
)
UPSERT_VISIT = (
    "INSERT INTO visits (id, month, village, household, doc) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO UPDATE SET month = EXCLUDED.month, village = EXCLUDED.village,"
    " household = EXCLUDED.household, doc = EXCLUDED.doc, seq = nextval('change_seq')"
)
# Arrays in binary (``%b``), as in ``audit.AUDIT_INSERT_WHERE``.
NEEDS_UPSERT = (
    "INSERT INTO needs (id, visit, month, village, household, status, doc)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[],"
    " %b::text[], %b::jsonb[]) AS need {where}"
    " ON CONFLICT (id) DO UPDATE SET visit = EXCLUDED.visit, month = EXCLUDED.month,"
    " village = EXCLUDED.village, household = EXCLUDED.household, status = EXCLUDED.status,"
    " doc = EXCLUDED.doc, seq = nextval('change_seq')"
)
# The parts of one statement see the tables as they were before it: the needs deleted (the
# open ones of the visit's old version) are never the ones upserted.
SAVE_WRITE = (
    f"WITH v AS ({UPSERT_VISIT}),"
    " gone AS (DELETE FROM needs WHERE visit = %s AND status = 'open' AND id <> ALL(%b::text[])),"
    f" kept AS ({NEEDS_UPSERT.format(where='')}),"
    f" logged AS ({INSERT_AUDIT})"
    " SELECT 1"
)
# A first save, in one statement that is its own transaction (autocommit): the visit only if
# its id is free and the registry is still the version its record was decided on, its needs
# and audit entry only if the visit was written. The version row is locked FOR SHARE, the
# lock a registry change (``RegistryTables.update``) waits on with FOR UPDATE: a change in
# flight is waited for and then seen (the row is read again, its version no longer matches),
# and a change that comes after waits for the save. The visit id's advisory lock, taken
# before the insert, keeps a save that decides under its locks (``save``) from running beside
# this one.
SAVE_NEW = (
    "WITH current AS (SELECT pg_advisory_xact_lock(%s) FROM registry_version"
    " WHERE version = %s FOR SHARE),"
    " v AS (INSERT INTO visits (id, month, village, household, doc)"
    " SELECT %s, %s, %s, %s, %s FROM current ON CONFLICT (id) DO NOTHING RETURNING id),"
    f" kept AS ({NEEDS_UPSERT.format(where='WHERE EXISTS (SELECT FROM v)')}),"
    f" logged AS ({AUDIT_INSERT_WHERE.format(where='WHERE EXISTS (SELECT FROM v)')})"
    " SELECT count(*) FROM v"
)


def visit_row(visit: Visit, month: str) -> tuple[Any, ...]:
    return (visit.id, month, visit.village, visit.household, Jsonb(visit.doc_view()))


def need_row(need: Need, month: str) -> tuple[Any, ...]:
    return (
        need.id,
        need.visit,
        month,
        need.village,
        need.household,
        need.status,
        Jsonb(need.doc_view()),
    )


def need_columns(needs: list[Need], month: str) -> tuple[list[Any], ...]:
    """The needs as the columns ``unnest`` takes: ids, visits, months, villages, households,
    statuses, documents."""
    return (
        [n.id for n in needs],
        [n.visit for n in needs],
        [month] * len(needs),
        [n.village for n in needs],
        [n.household for n in needs],
        [n.status for n in needs],
        [Jsonb(n.doc_view()) for n in needs],
    )


def _closed(settings: dict[str, Any], month: str) -> bool:
    from ..closed import SETTING

    months = settings.get(SETTING)
    record = months.get(month) if isinstance(months, dict) else None
    return isinstance(record, dict) and record.get("state") == "closed"


def _in_owners_village(record: Visit, owner: Household | None) -> Visit:
    """A visit is kept in its household's village, whatever the client said."""
    if owner is not None and record.village != owner.village_key:
        return dataclasses.replace(record, village=owner.village_key)
    return record


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

    def of_household(self, months: Sequence[str], village: str, household_id: str) -> list[Visit]:
        # One statement for a household page's year (or its whole history), not one a month:
        # each is a round trip, and ten years are 120 months.
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT doc FROM visits WHERE household = %s AND month = ANY(%s)"
                " AND village = %s ORDER BY month, seq",
                (household_id, [check_month(m) for m in months], village),
            ).fetchall()
        return [Visit.from_doc(doc) for (doc,) in rows]

    def needs_of_household(self, village: str, household_id: str) -> list[Need]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT doc FROM needs WHERE household = %s AND village = %s ORDER BY month, seq",
                (household_id, village),
            ).fetchall()
        return [Need.from_doc(doc) for (doc,) in rows]

    def save(
        self,
        visit: Visit,
        decide: Callable[[Visit | None], Visit | None],
        needs_for: Callable[[Visit, list[Need]], list[Need]],
        audit: Callable[[Visit], AuditEntry] | None,
        pinned: tuple[Registry, int] | None = None,
    ) -> tuple[Visit, bool]:
        """See ``Store.save_visit``: the same contract, in one transaction. Pipelined: the
        locks and the read go to the server together, and the write with the COMMIT: two
        waits for the server, each of which, on a busy machine, also waits for the
        database's process to be given a core. With ``pinned`` (the registry the request
        read and its version), a visit not yet stored is first tried in one wait."""
        if pinned is not None:
            record = self._save_new(visit, decide, needs_for, audit, *pinned)
            if record is not None:
                return record, True
        with self.db.transaction(pipeline=True) as conn:
            conn.execute(SAVE_LOCKS, self._lock_keys(visit))
            row = conn.execute(SAVE_READ, {"id": visit.id}).fetchone()
            version, doc, month, need_docs = row if row else (None, None, None, [])
            existing = Visit.from_doc(doc) if doc is not None else None
            month = month or visit.month
            # Read after the locks: registry changes wait for this save.
            reg = self.registry.at_version(conn, (version,) if version is not None else None)
            stored = [Need.from_doc(d) for d in need_docs or []]
            owner = reg.households.get(existing.household if existing else visit.household)
            if _closed(reg.settings, month):
                raise MonthClosed(month)
            record = decide(existing)
            if record is None:
                if existing is None:
                    raise StorageError(f"nothing to store for visit {visit.id}")
                return existing, False
            record = _in_owners_village(record, owner)
            if record.id != visit.id:
                raise StorageError(f"visit {visit.id} decided as {record.id}")
            needs = needs_for(record, stored)
            columns = need_columns(needs, month)
            conn.execute(
                SAVE_WRITE,
                (
                    *visit_row(record, month),
                    record.id,
                    columns[0],
                    *columns,
                    *audit_params([audit(record)] if audit is not None else []),
                ),
            )
        return record, True

    def _save_new(
        self,
        visit: Visit,
        decide: Callable[[Visit | None], Visit | None],
        needs_for: Callable[[Visit, list[Need]], list[Need]],
        audit: Callable[[Visit], AuditEntry] | None,
        reg: Registry,
        version: int,
    ) -> Visit | None:
        """``visit`` stored as a first save, decided on ``reg`` and written only if its id is
        free and the registry is still ``version``: one statement, one wait for the server,
        answered once committed. None when not written (the id is stored, the registry
        changed, the month is closed, or ``decide`` will not answer for a visit not stored,
        as a correction's will not): ``save`` then decides under its locks."""
        if _closed(reg.settings, visit.month):
            return None
        try:
            record = decide(None)
        except Exception:
            # A refusal of a visit not stored (a correction, a photo): asked again on the
            # stored one, where a refusal is the answer.
            return None
        if record is None or record.id != visit.id:
            return None
        record = _in_owners_village(record, reg.households.get(visit.household))
        needs = needs_for(record, [])
        entries = [audit(record)] if audit is not None else []
        with self.db.connection() as conn:  # autocommit: the statement is the transaction
            row = conn.execute(
                SAVE_NEW,
                (
                    self.db.key("visit:" + visit.id),
                    version,
                    *visit_row(record, visit.month),
                    *need_columns(needs, visit.month),
                    *audit_params(entries),
                ),
            ).fetchone()
        return record if row is not None and row[0] == 1 else None

    def _lock_keys(self, visit: Visit) -> tuple[int, int]:
        return self.db.key(REGISTRY_LOCK), self.db.key("visit:" + visit.id)

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
