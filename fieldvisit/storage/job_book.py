"""The records of background downloads (``store.jobs``): who asked, what (a kind and its
parameters, plain data), how far along, which worker runs it, and the name of the finished
file in ``store.reports``. The work is done by whichever worker claims the record
(``documents.jobs``).

The embedded store keeps them in this process's memory, as a one-computer office needs (its
one process runs the one worker); on PostgreSQL they are rows every server process reads and
claims (``storage.pg.jobs``), so a job queued by one process may be made by another, and its
page and download answer whichever process a request reaches.

Claiming: the oldest queued job of a kind the worker knows, or a running one whose worker
stopped beating ``stale_after`` seconds ago (its process died), is marked running under the
claiming worker with a fresh heartbeat and one attempt more. A stale job already tried
``max_attempts`` times is failed instead (``ABANDONED``): a job that kills every process that
runs it must not go round the servers for ever. What a worker writes afterwards (progress,
heartbeat, the end) counts only while the job is still its own (``report``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from typing import Any

UNFINISHED = ("queued", "running")
ABANDONED = "abandoned: the server process making it stopped, too many times"


class JobBookClosed(RuntimeError):
    """The store under the book was closed: its worker ends."""


class MemoryJobBook:
    """Job records in memory (one process)."""

    # Every job is queued by this process, which wakes its worker itself: no polling needed.
    poll_seconds: float | None = None

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

    def claim(
        self, worker: str, kinds: Collection[str], stale_after: float, max_attempts: int
    ) -> dict[str, Any] | None:
        """The job ``worker`` is to run now (see the module's docstring), or None."""
        now = time.time()
        with self._lock:
            waiting = sorted(
                (j for j in self._jobs.values() if j.get("kind") in kinds),
                key=lambda j: j["created"],
            )
            for job in waiting:
                stale = job["status"] == "running" and (job.get("heartbeat") or 0) < (
                    now - stale_after
                )
                if stale and job.get("attempts", 0) >= max_attempts:
                    job.update(status="failed", error=ABANDONED, finished=now)
                elif job["status"] == "queued" or stale:
                    attempts = job.get("attempts", 0) + 1
                    job.update(status="running", worker=worker, heartbeat=now, attempts=attempts)
                    return dict(job)
            return None

    def report(self, job_id: str, worker: str, **fields: Any) -> bool:
        """Write ``fields`` and a fresh heartbeat if the job is still running under
        ``worker``; False (nothing written) when it is not: taken over, or forgotten."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job["status"] != "running" or job.get("worker") != worker:
                return False
            job.update(fields, heartbeat=time.time())
            return True

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
