"""Background jobs for the long downloads: a township's monthly PDF takes seconds, its
booklet a minute or more. A request only queues the work and answers at once; one worker
thread does the work, one job at a time, and the page polls its progress.

One worker, because the work is CPU-bound: two at once would only share the same cores and
double the memory (WeasyPrint holds a whole part of a booklet in memory). The worker is a
daemon thread: stopping the server abandons a half-made PDF rather than waiting for it, and
nothing half-written is left behind because results are written atomically.

A job's record is the store's (``store.jobs``: this process's memory for the embedded
store, a table on PostgreSQL, so any server process shows its progress and serves it) and its
result a file in ``store.reports`` named by the job's random id. The work itself runs in the
process that queued it. A job and its file are removed a day after it was queued (and stray
files from before a restart with them). Only the person who queued a job can see or download
it.
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
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_babel import force_locale, get_locale

from ..storage import Store

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
    result: str | None = None  # its file's name in store.reports

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

    def to_doc(self, titles: dict[str, str]) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "title"}
        return {**doc, "titles": titles}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Job:
        names = {f.name for f in fields(cls)} - {"title"}
        titles = dict(doc.get("titles") or {})
        return cls(
            title=Title(partial(_in_reader_language, titles)),
            **{k: v for k, v in doc.items() if k in names},
        )


def _in_reader_language(titles: dict[str, str]) -> str:
    return titles.get(str(get_locale() or "zh"), "") or titles.get("zh", "")


def _worded(title: Title | str) -> dict[str, str]:
    """A title in each language, worded when the job is queued: another server process may
    show the job, and only this one holds the function that words it."""
    if isinstance(title, str):
        return {"zh": title, "en": title}
    out = {}
    for lang in ("zh", "en"):
        with force_locale(lang):
            out[lang] = str(title)
    return out


def _release_memory() -> None:
    """Give the C heap's free pages back to the system: a booklet's layout leaves a few
    hundred MB free but still mapped in a long-running server."""
    with suppress(OSError, AttributeError):  # not Linux with glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class JobRunner:
    """One worker thread for the jobs this process queued; their records are the store's."""

    def __init__(self, app: Flask, store: Store) -> None:
        self.app = app
        self.store = store
        self._queue: queue.Queue[tuple[Job, Work]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- asking -------------------------------------------------------------------------

    def submit(
        self, owner: str, key: str, title: Title | str, filename: str, mimetype: str, work: Work
    ) -> Job:
        """Queue ``work`` for ``owner``; the same ``key`` still unfinished returns that job.
        Raises JobLimitError when the owner already waits for too many."""
        self.cleanup()
        job = Job(secrets.token_urlsafe(24), owner, key, title, filename, mimetype)
        doc, created = self.store.jobs.add(job.to_doc(_worded(title)), MAX_WAITING_PER_OWNER)
        if doc is None:
            raise JobLimitError(owner)
        if not created:
            return Job.from_doc(doc)
        with self._lock:
            self._start_worker()
        self._queue.put((job, work))
        return job

    def get(self, job_id: str, owner: str) -> Job | None:
        """The job, if it exists and belongs to ``owner``; None otherwise (the same answer
        for both, so ids cannot be probed)."""
        doc = self.store.jobs.get(job_id)
        if doc is None or not secrets.compare_digest(doc["owner"], owner):
            return None
        return Job.from_doc(doc)

    def jobs_of(self, owner: str) -> list[Job]:
        """The owner's jobs, newest first."""
        mine = [Job.from_doc(d) for d in self.store.jobs.of_owner(owner)]
        return sorted(mine, key=lambda j: j.created, reverse=True)

    def result(self, job: Job) -> bytes | None:
        """The finished job's file, or None."""
        if not job.finished_ok or job.result is None:
            return None
        return self.store.reports.read(job.result)

    def wait(self, job_id: str, timeout: float = 60) -> Job:
        """Block until the job has finished (for commands and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            doc = self.store.jobs.get(job_id)
            if doc is None:
                raise KeyError(job_id)
            job = Job.from_doc(doc)
            if not job.unfinished:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(job_id)
            time.sleep(0.02)

    # --- housekeeping ---------------------------------------------------------------------

    def cleanup(self, now: float | None = None) -> None:
        """Forget finished jobs older than a day and delete their files, and any report file
        older than a day (left by a previous run of the server)."""
        now = time.time() if now is None else now
        cutoff = now - JOB_TTL_SECONDS
        kept = self.store.jobs.forget_older(cutoff)
        self.store.reports.remove_older(cutoff, kept)

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
        jobs = self.store.jobs

        def progress(done: int, total: int) -> None:
            jobs.update(job.id, done=done, total=total, heartbeat=time.time())

        try:
            jobs.update(job.id, status="running", heartbeat=time.time())
            with self.app.app_context():
                payload = work(progress)
            name = f"{job.id}{Path(job.filename).suffix.lower()}"
            self.store.reports.put(name, payload)
            jobs.update(job.id, result=name, status="done", finished=time.time())
        except Exception as exc:  # any failure ends the job, never the worker
            LOG.exception("job %s (%s) failed", job.id, job.key)
            error = f"{type(exc).__name__}: {exc}"
            # The store itself may be what failed (its database gone, or closed): logged.
            with suppress(Exception):
                jobs.update(job.id, error=error, status="failed", finished=time.time())
        finally:
            _release_memory()


def get_runner(app: Flask | None = None) -> JobRunner:
    """The app's job runner, made on first use."""
    # The proxy's real app (the worker thread outlives the request); Flask types the proxy
    # as the app itself, which has no such method.
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    runner = app.extensions.get(EXTENSION_KEY)
    if runner is None:
        from .. import STORE_KEY

        runner = app.extensions.setdefault(EXTENSION_KEY, JobRunner(app, app.extensions[STORE_KEY]))
    return runner
