"""Background downloads' records in PostgreSQL (``store.jobs``): every server process shows
a job's progress and serves its file, and every process's worker claims queued jobs here
(``FOR UPDATE SKIP LOCKED``: two workers never take the same row, and neither waits for the
other). See ``storage.job_book`` for the interface and the claiming rules.

Heartbeats are the database's clock, not the app server's: servers on several machines
judge a heartbeat's age on one clock.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import psycopg_pool

from ..job_book import ABANDONED, JobBookClosed
from .db import Database
from .jsonb import doc as Jsonb

# Columns kept beside the document: what is looked up, or changes while the job runs.
_COLUMNS = ("status", "done", "total", "finished", "error", "worker", "heartbeat", "attempts")
_FIELDS = "doc, status, done, total, finished, error, worker, heartbeat, attempts"
_SELECT = f"SELECT {_FIELDS} FROM jobs"
_NOW = "extract(epoch FROM clock_timestamp())::float8"


def _doc(row: tuple[Any, ...]) -> dict[str, Any]:
    doc = dict(row[0])
    doc.update(zip(_COLUMNS, row[1:], strict=True))
    return doc


class PgJobBook:
    """Job records in the ``jobs`` table."""

    # How often a worker looks for jobs other processes queued (its own wake it at once).
    poll_seconds: float | None = 1.0

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
                "INSERT INTO jobs (id, owner, key, doc, status, created)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (doc["id"], doc["owner"], doc["key"], Jsonb(fixed), doc["status"], doc["created"]),
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
        sets, args = _sets(fields)
        if not sets:
            return
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = %s", [*args, job_id])

    def claim(
        self, worker: str, kinds: Collection[str], stale_after: float, max_attempts: int
    ) -> dict[str, Any] | None:
        waiting = (
            "SELECT id FROM jobs WHERE doc->>'kind' = ANY(%(kinds)s) AND (status = 'queued'"
            f" OR (status = 'running' AND heartbeat < {_NOW} - %(stale)s))"
        )
        args = {"kinds": sorted(kinds), "stale": stale_after, "max": max_attempts}
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    f"UPDATE jobs SET status = 'failed', error = %(error)s, finished = {_NOW}"
                    f" WHERE id IN ({waiting} AND status = 'running' AND attempts >= %(max)s"
                    " FOR UPDATE SKIP LOCKED)",
                    {**args, "error": ABANDONED},
                )
                row = conn.execute(
                    f"UPDATE jobs SET status = 'running', worker = %(worker)s,"
                    f" heartbeat = {_NOW}, attempts = attempts + 1"
                    f" WHERE id = ({waiting} ORDER BY created LIMIT 1 FOR UPDATE SKIP LOCKED)"
                    f" RETURNING {_FIELDS}",
                    {**args, "worker": worker},
                ).fetchone()
        except psycopg_pool.PoolClosed as exc:
            raise JobBookClosed(str(exc)) from exc
        return _doc(row) if row else None

    def report(self, job_id: str, worker: str, **fields: Any) -> bool:
        sets, args = _sets(fields)
        sets.append(f"heartbeat = {_NOW}")
        with self.db.transaction() as conn:
            done = conn.execute(
                f"UPDATE jobs SET {', '.join(sets)}"
                " WHERE id = %s AND status = 'running' AND worker = %s",
                [*args, job_id, worker],
            )
            return done.rowcount == 1

    def forget_older(self, cutoff: float) -> set[str]:
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM jobs WHERE created < %s AND status NOT IN ('queued', 'running')",
                (cutoff,),
            )
            rows = conn.execute("SELECT doc->>'result' FROM jobs WHERE doc ? 'result'").fetchall()
        return {r[0] for r in rows if r[0]}


def _sets(fields: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """SET clauses for ``fields``: columns by name, the rest merged into the document."""
    columns = {k: v for k, v in fields.items() if k in _COLUMNS}
    extra = {k: v for k, v in fields.items() if k not in _COLUMNS}
    sets = [f"{k} = %s" for k in columns]
    args: list[Any] = list(columns.values())
    if extra:
        sets.append("doc = doc || %s")
        args.append(Jsonb(extra))
    return sets, args
