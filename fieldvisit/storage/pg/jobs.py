"""Background downloads' records in PostgreSQL (``store.jobs``): every server process shows
a job's progress and serves its file. See ``storage.job_book`` for the interface."""

from __future__ import annotations

from typing import Any

from .db import Database
from .jsonb import doc as Jsonb

# Columns kept beside the document: what is looked up, or changes while the job runs.
_COLUMNS = ("status", "done", "total", "finished", "error", "worker", "heartbeat")
_SELECT = "SELECT doc, status, done, total, finished, error, worker, heartbeat FROM jobs"


def _doc(row: tuple[Any, ...]) -> dict[str, Any]:
    doc = dict(row[0])
    doc.update(zip(_COLUMNS, row[1:], strict=True))
    return doc


class PgJobBook:
    """Job records in the ``jobs`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, doc: dict[str, Any], limit: int) -> tuple[dict[str, Any] | None, bool]:
        with self.db.transaction() as conn:
            # One owner's submissions in turn: the limit and the reuse of an unfinished job
            # of the same key are decided on what the others committed.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self.db.key("jobs:" + doc["owner"]),))
            rows = conn.execute(
                _SELECT + " WHERE owner = %s AND status IN ('queued', 'running')",
                (doc["owner"],),
            ).fetchall()
            mine = [_doc(r) for r in rows]
            for job in mine:
                if job["key"] == doc["key"]:
                    return job, False
            if len(mine) >= limit:
                return None, False
            fixed = {k: v for k, v in doc.items() if k not in _COLUMNS}
            conn.execute(
                "INSERT INTO jobs (id, owner, key, doc, status, created, worker, heartbeat)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    doc["id"],
                    doc["owner"],
                    doc["key"],
                    Jsonb(fixed),
                    doc["status"],
                    doc["created"],
                    doc.get("worker", ""),
                    doc.get("heartbeat"),
                ),
            )
        return dict(doc), True

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.db.connection() as conn:
            row = conn.execute(_SELECT + " WHERE id = %s", (job_id,)).fetchone()
        return _doc(row) if row else None

    def of_owner(self, owner: str) -> list[dict[str, Any]]:
        with self.db.connection() as conn:
            rows = conn.execute(_SELECT + " WHERE owner = %s", (owner,)).fetchall()
        return [_doc(r) for r in rows]

    def update(self, job_id: str, **fields: Any) -> None:
        columns = {k: v for k, v in fields.items() if k in _COLUMNS}
        extra = {k: v for k, v in fields.items() if k not in _COLUMNS}
        sets = [f"{k} = %s" for k in columns]
        args: list[Any] = list(columns.values())
        if extra:
            sets.append("doc = doc || %s")
            args.append(Jsonb(extra))
        if not sets:
            return
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = %s", [*args, job_id])

    def forget_older(self, cutoff: float) -> set[str]:
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM jobs WHERE created < %s AND status NOT IN ('queued', 'running')",
                (cutoff,),
            )
            rows = conn.execute("SELECT doc->>'result' FROM jobs WHERE doc ? 'result'").fetchall()
        return {r[0] for r in rows if r[0]}
