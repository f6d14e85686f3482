"""Browser logins in PostgreSQL (``store.sessions``): every server sees a login, a logout
and "log out everywhere" at once. A login, a logout or a day's first use reads and writes
only its own account's rows: a province's store holds hundreds of thousands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from ...models import AuditEntry, LoginSession
from .audit import insert_audit
from .db import Database
from .jsonb import doc as Jsonb

T = TypeVar("T")


class PgLoginSessions:
    """The login records of one database, keyed by the digest of the cookie's session id."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> dict[str, LoginSession]:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT doc FROM sessions").fetchall()
        return {doc["digest"]: LoginSession.from_doc(doc) for (doc,) in rows}

    def get(self, digest: str) -> LoginSession | None:
        """Read from the database on every request: a logout on another server counts."""
        with self.db.connection() as conn:
            row = conn.execute("SELECT doc FROM sessions WHERE digest = %s", (digest,)).fetchone()
        return LoginSession.from_doc(row[0]) if row else None

    def update(
        self,
        change: Callable[[dict[str, LoginSession]], T],
        audit: Callable[[T], list[AuditEntry]] | None = None,
        phone: str | None = None,
    ) -> T:
        """``change`` on a copy of the records (those of ``phone`` only, when given: a login
        touches its own account's rows, not every record of the store), what changed
        committed with the audit entries in one transaction. One account's changes take its
        own advisory lock (and the sessions' lock shared); a change of every record takes
        the sessions' lock alone, so it waits for them all."""
        with self.db.transaction() as conn:
            if phone is None:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.db.key("sessions"),))
                rows = conn.execute("SELECT doc FROM sessions").fetchall()
            else:
                conn.execute(
                    "SELECT pg_advisory_xact_lock_shared(%s), pg_advisory_xact_lock(%s)",
                    (self.db.key("sessions"), self.db.key("sessions:" + phone)),
                )
                rows = conn.execute(
                    "SELECT doc FROM sessions WHERE phone = %s", (phone,)
                ).fetchall()
            before = {doc["digest"]: doc for (doc,) in rows}
            sessions = {d: LoginSession.from_doc(doc) for d, doc in before.items()}
            result = change(sessions)
            _write(conn, before, {d: s.to_doc() for d, s in sessions.items()})
            insert_audit(conn, audit(result) if audit is not None else [])
        return result


def _write(conn: psycopg.Connection[Any], before: dict[str, Any], after: dict[str, Any]) -> None:
    """Delete and upsert the rows that differ between ``before`` and ``after``."""
    gone = [(d,) for d in before if d not in after]
    put = [(d, doc["phone"], Jsonb(doc)) for d, doc in after.items() if before.get(d) != doc]
    with conn.cursor() as cur:
        if gone:
            cur.executemany("DELETE FROM sessions WHERE digest = %s", gone)
        if put:
            cur.executemany(
                "INSERT INTO sessions (digest, phone, doc) VALUES (%s, %s, %s)"
                " ON CONFLICT (digest) DO UPDATE SET phone = EXCLUDED.phone,"
                " doc = EXCLUDED.doc",
                put,
            )
