"""Background jobs for the long downloads: a township's monthly PDF takes seconds, its
booklet a minute or more. A request only queues the work and answers at once; one worker
thread does the work, one job at a time, and the page polls its progress.

One worker, because the work is CPU-bound: two at once would only share the same cores and
double the memory (WeasyPrint holds a whole part of a booklet in memory). The worker is a
daemon thread: stopping the server abandons a half-made PDF rather than waiting for it, and
nothing half-written is left behind because results are written atomically.

Jobs live in memory; their results are files under ``<data>/exports/``, named by the job's
random id. A job and its file are removed a day after it was queued (and stray files from
before a restart with them). Only the person who queued a job can see or download it.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app

from ..storage import atomic_write_bytes

LOG = logging.getLogger(__name__)
EXTENSION_KEY = "fieldvisit.documents.jobs"
JOB_TTL_SECONDS = 24 * 3600
MAX_WAITING_PER_OWNER = 3  # queued or running: enough for a month's set of downloads

Progress = Callable[[int, int], None]
Work = Callable[[Progress], bytes]


class JobLimitError(RuntimeError):
    """The person already has as many unfinished jobs as allowed."""


@dataclass(frozen=True)
class Title:
    """A job's title kept as the function that words it (its values bound in), worded each
    time it is shown: the job lives a day, and whoever queued it may read its page in the
    other language by then. ``str()`` needs a request or app context for the catalogue."""

    words: Callable[[], str]

    def __str__(self) -> str:
        return self.words()


@dataclass
class Job:
    id: str
    owner: str  # phone of the user who queued it
    key: str  # what was asked for; the same request while unfinished reuses the job
    title: Title | str  # shown with str(): a Title in the reader's language
    filename: str  # the download's name
    mimetype: str
    created: float = field(default_factory=time.time)
    status: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    finished: float | None = None
    error: str = ""  # for the log and the operator; people see a plain message
    path: Path | None = None

    @property
    def finished_ok(self) -> bool:
        return self.status == "done"

    @property
    def unfinished(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0


def _release_memory() -> None:
    """Give the C heap's free pages back to the system: a booklet's layout leaves a few
    hundred MB free but still mapped in a long-running server."""
    with suppress(OSError, AttributeError):  # not Linux with glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class JobRunner:
    """One worker thread and the jobs it has done or will do."""

    def __init__(self, app: Flask, folder: Path) -> None:
        self.app = app
        self.folder = folder
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Job, Work]] = queue.Queue()
        self._worker: threading.Thread | None = None

    # --- asking -------------------------------------------------------------------------

    def submit(
        self, owner: str, key: str, title: Title | str, filename: str, mimetype: str, work: Work
    ) -> Job:
        """Queue ``work`` for ``owner``; the same ``key`` still unfinished returns that job.
        Raises JobLimitError when the owner already waits for too many."""
        self.cleanup()
        with self._lock:
            mine = [j for j in self._jobs.values() if j.owner == owner and j.unfinished]
            for job in mine:
                if job.key == key:
                    return job
            if len(mine) >= MAX_WAITING_PER_OWNER:
                raise JobLimitError(owner)
            job = Job(secrets.token_urlsafe(24), owner, key, title, filename, mimetype)
            self._jobs[job.id] = job
            self._start_worker()
        self._queue.put((job, work))
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        """The job, if it exists and belongs to ``owner``; None otherwise (the same answer
        for both, so ids cannot be probed)."""
        job = self._jobs.get(job_id)
        if job is None or not secrets.compare_digest(job.owner, owner):
            return None
        return job

    def jobs_of(self, owner: str) -> list[Job]:
        """The owner's jobs, newest first."""
        with self._lock:
            mine = [j for j in self._jobs.values() if j.owner == owner]
        return sorted(mine, key=lambda j: j.created, reverse=True)

    def wait(self, job_id: str, timeout: float = 60) -> Job:
        """Block until the job has finished (for commands and tests)."""
        deadline = time.monotonic() + timeout
        job = self._jobs[job_id]
        while job.unfinished:
            if time.monotonic() > deadline:
                raise TimeoutError(job_id)
            time.sleep(0.02)
        return job

    # --- housekeeping ---------------------------------------------------------------------

    def cleanup(self, now: float | None = None) -> None:
        """Forget finished jobs older than a day and delete their files, and any file in the
        exports folder older than a day (left by a previous run of the server)."""
        now = time.time() if now is None else now
        cutoff = now - JOB_TTL_SECONDS
        with self._lock:
            for job in [j for j in self._jobs.values() if j.created < cutoff and not j.unfinished]:
                del self._jobs[job.id]
            kept = {j.path for j in self._jobs.values() if j.path is not None}
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            try:
                if path not in kept and path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                continue

    # --- the worker -----------------------------------------------------------------------

    def _start_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._loop, name="fieldvisit-jobs", daemon=True)
            self._worker.start()

    def _loop(self) -> None:
        while True:
            job, work = self._queue.get()
            try:
                self._run(job, work)
            finally:
                self._queue.task_done()

    def _run(self, job: Job, work: Work) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        job.status = "running"
        try:
            with self.app.app_context():
                payload = work(progress)
            suffix = Path(job.filename).suffix.lower()
            path = self.folder / f"{job.id}{suffix}"
            atomic_write_bytes(path, payload)
            job.path = path
            job.status = "done"
        except Exception as exc:  # any failure ends the job, never the worker
            LOG.exception("job %s (%s) failed", job.id, job.key)
            job.error = f"{type(exc).__name__}: {exc}"
            job.status = "failed"
        finally:
            job.finished = time.time()
            _release_memory()


def get_runner(app: Flask | None = None) -> JobRunner:
    """The app's job runner, made on first use (exports under the data folder)."""
    # The proxy's real app (the worker thread outlives the request); Flask types the proxy
    # as the app itself, which has no such method.
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    runner = app.extensions.get(EXTENSION_KEY)
    if runner is None:
        from .. import STORE_KEY

        folder = app.extensions[STORE_KEY].root / "exports"
        runner = app.extensions.setdefault(EXTENSION_KEY, JobRunner(app, folder))
    return runner
