"""The records of background downloads (``store.jobs``): who asked, what, how far along,
and the name of the finished file in ``store.reports``. Records are plain documents; the
work itself stays with the process that queued it (``documents.jobs``).

The embedded store keeps them in this process's memory, as a one-computer office needs; on
PostgreSQL they are rows every server process reads (``storage.pg.jobs``), so a job's page
and its download answer whichever process a request reaches.
"""

from __future__ import annotations

import threading
from typing import Any

UNFINISHED = ("queued", "running")


class MemoryJobBook:
    """Job records in memory (one process)."""

    def __init__(self) -> None:
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, doc: dict[str, Any], limit: int) -> tuple[dict[str, Any] | None, bool]:
        """Record ``doc`` unless its owner has an unfinished job of the same key (returned,
        False) or ``limit`` unfinished ones already (None, False)."""
        with self._lock:
            mine = [
                j
                for j in self._jobs.values()
                if j["owner"] == doc["owner"] and j["status"] in UNFINISHED
            ]
            for job in mine:
                if job["key"] == doc["key"]:
                    return dict(job), False
            if len(mine) >= limit:
                return None, False
            self._jobs[doc["id"]] = dict(doc)
            return dict(doc), True

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._jobs.get(job_id)
            return dict(found) if found is not None else None

    def of_owner(self, owner: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(j) for j in self._jobs.values() if j["owner"] == owner]

    def update(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id].update(fields)

    def forget_older(self, cutoff: float) -> set[str]:
        """Forget finished jobs queued before ``cutoff``; the result files of the jobs
        still known."""
        with self._lock:
            for job_id in [
                i
                for i, j in self._jobs.items()
                if j["created"] < cutoff and j["status"] not in UNFINISHED
            ]:
                del self._jobs[job_id]
            return {j["result"] for j in self._jobs.values() if j.get("result")}
