"""Background jobs for the long downloads: a township's monthly PDF takes seconds, its
booklet a minute or more. A request only queues the work and answers at once; a worker
thread does the work, one job at a time, and the page polls its progress.

A job's work is data, not a function: a kind (``"summary"``, ``"booklet"``, …) and its
parameters as JSON, kept in the job's record (``store.jobs``). Each kind is a function
``(store, params, progress) -> bytes`` registered with ``@job_kind(name)``; the built-in
ones are in ``documents.job_kinds``. So any server process can make any job: on PostgreSQL
every process runs a worker that claims the oldest queued job from the table (``FOR UPDATE
SKIP LOCKED``), beats while it runs, and stores the file in ``store.reports``; a job whose
worker stopped beating for ``STALE_SECONDS`` (its process died) is claimed again, and failed
after ``MAX_ATTEMPTS`` claims (``storage.job_book``). The embedded store's one process keeps
the records in memory and runs the one worker.

One worker per process, because the work is CPU-bound: two at once would only share the same
cores and double the memory (WeasyPrint holds a whole part of a booklet in memory). The
worker is a daemon thread: stopping the server abandons a half-made PDF rather than waiting
for it (on PostgreSQL another process, or this one restarted, claims it again once its
heartbeat is stale; the embedded store's records end with its process); nothing
half-written is left behind because results are written atomically.

A job and its file are removed a day after it was queued (and stray files from before a
restart with them). Only the person who queued a job can see or download it.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import logging
import os
import secrets
import socket
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
from ..storage.job_book import JobBookClosed

LOG = logging.getLogger(__name__)
EXTENSION_KEY = "fieldvisit.documents.jobs"
JOB_TTL_SECONDS = 24 * 3600
MAX_WAITING_PER_OWNER = 3  # queued or running: enough for a month's set of downloads
HEARTBEAT_SECONDS = 5.0
# A worker that has not beaten for this long is taken for dead. Far above the heartbeat: a
# worker starved of CPU on a busy server (a booklet's layout, a helping day's saves) must
# not lose its job to another that would only redo it.
STALE_SECONDS = 60.0
MAX_ATTEMPTS = 3  # claims of one job, the first and two after its worker died
KINDS_MODULE = "fieldvisit.documents.job_kinds"

Progress = Callable[[int, int], None]
Params = dict[str, Any]
Kind = Callable[[Store, Params, Progress], bytes]
KINDS: dict[str, Kind] = {}


def job_kind(name: str) -> Callable[[Kind], Kind]:
    """Register the decorated ``(store, params, progress) -> bytes`` as the work of jobs of
    kind ``name``. It runs in an app context, in whichever process claims the job, with the
    ``params`` given to ``submit`` read back from JSON."""

    def register(work: Kind) -> Kind:
        KINDS[name] = work
        return work

    return register


def known_kinds() -> dict[str, Kind]:
    """Every registered kind, the built-in ones loaded first."""
    importlib.import_module(KINDS_MODULE)
    return KINDS


class JobLimitError(RuntimeError):
    """The person already has as many unfinished jobs as allowed."""


class TakenOver(RuntimeError):
    """The job is no longer this worker's (another claimed it, or it was forgotten)."""


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
    kind: str = ""  # its work: a registered kind (job_kind) ...
    params: Params = field(default_factory=dict)  # ... and what it is given, as JSON
    created: float = field(default_factory=time.time)
    status: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    finished: float | None = None
    error: str = ""  # for the log and the operator; people see a plain message
    result: str | None = None  # its file's name in store.reports
    worker: str = ""  # the worker running it (host:pid:random)
    heartbeat: float | None = None
    attempts: int = 0  # claims so far

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
    """Queues jobs into the store's book and runs one worker thread that claims them."""

    def __init__(
        self,
        app: Flask,
        store: Store,
        *,
        worker: bool = True,
        heartbeat: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.app = app
        self.store = store
        self.runs_worker = worker  # False: queue only (another process makes the files)
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.max_attempts = max_attempts
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- asking -------------------------------------------------------------------------

    def submit(
        self,
        owner: str,
        key: str,
        title: Title | str,
        filename: str,
        mimetype: str,
        kind: str,
        params: Params | None = None,
    ) -> Job:
        """Queue a job of ``kind`` with ``params`` (JSON) for ``owner``; the same ``key``
        still unfinished returns that job. Raises JobLimitError when the owner already waits
        for too many, KeyError for a kind nobody registered."""
        if kind not in known_kinds():
            raise KeyError(f"no job kind {kind!r}")
        params = json.loads(json.dumps(params or {}))  # as the worker will read them
        self.cleanup()
        job = Job(secrets.token_urlsafe(24), owner, key, title, filename, mimetype, kind, params)
        doc, created = self.store.jobs.add(job.to_doc(_worded(title)), MAX_WAITING_PER_OWNER)
        if doc is None:
            raise JobLimitError(owner)
        if not created:
            return Job.from_doc(doc)
        if self.runs_worker:
            self.start()
        self._wake.set()
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

    def start(self) -> None:
        """Start this process's worker (once): it claims jobs until the store is closed."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="fieldvisit-jobs", daemon=True
                )
                self._thread.start()

    def run_one(self) -> bool:
        """Claim one job and make it; False when none was waiting."""
        doc = self.store.jobs.claim(
            self.worker_id, set(known_kinds()), self.stale_after, self.max_attempts
        )
        if doc is None:
            return False
        self._run(Job.from_doc(doc))
        return True

    def _loop(self) -> None:
        while True:
            try:
                if self.run_one():
                    continue
            except JobBookClosed:
                return  # the app's store was closed: its worker ends with it
            except Exception:  # the database away for a moment: try again later
                LOG.exception("claiming a job failed")
                time.sleep(1)
            # Woken at once by a job this process queued; others' found by polling (none
            # with the embedded store, whose jobs are all this process's).
            self._wake.wait(self.store.jobs.poll_seconds)
            self._wake.clear()

    def _run(self, job: Job) -> None:
        jobs, me = self.store.jobs, self.worker_id

        def progress(done: int, total: int) -> None:
            if not jobs.report(job.id, me, done=done, total=total):
                raise TakenOver(job.id)  # stop making what another worker now makes

        stop = threading.Event()
        beating = threading.Thread(target=self._beat, args=(job.id, stop), daemon=True)
        beating.start()
        try:
            with self.app.app_context():
                payload = KINDS[job.kind](self.store, job.params, progress)
            # A later attempt's file is named apart: a worker taken for dead that still
            # finishes must not overwrite the file of the one that took its job over.
            again = f"-{job.attempts}" if job.attempts > 1 else ""
            name = f"{job.id}{again}{Path(job.filename).suffix.lower()}"
            self.store.reports.put(name, payload)
            if not jobs.report(job.id, me, result=name, status="done", finished=time.time()):
                raise TakenOver(job.id)
        except TakenOver:
            LOG.warning("job %s (%s) was taken over by another worker", job.id, job.key)
        except Exception as exc:  # any failure ends the job, never the worker
            LOG.exception("job %s (%s) failed", job.id, job.key)
            error = f"{type(exc).__name__}: {exc}"
            # The store itself may be what failed (its database gone, or closed): logged.
            with suppress(Exception):
                jobs.report(job.id, me, error=error, status="failed", finished=time.time())
        finally:
            stop.set()
            _release_memory()

    def _beat(self, job_id: str, stop: threading.Event) -> None:
        """Refresh the job's heartbeat until ``stop``: proof that its process lives."""
        while not stop.wait(self.heartbeat):
            try:
                if not self.store.jobs.report(job_id, self.worker_id):
                    return
            except Exception:  # the next beat may get through; the job goes on meanwhile
                LOG.warning("job %s: heartbeat not written", job_id, exc_info=True)


def get_runner(app: Flask | None = None) -> JobRunner:
    """The app's job runner, made on first use; its worker starts with the first job this
    process queues, or with ``start_worker`` (every server process)."""
    # The proxy's real app (the worker thread outlives the request); Flask types the proxy
    # as the app itself, which has no such method.
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    runner = app.extensions.get(EXTENSION_KEY)
    if runner is None:
        from .. import STORE_KEY

        runner = app.extensions.setdefault(EXTENSION_KEY, JobRunner(app, app.extensions[STORE_KEY]))
    return runner


def start_worker(app: Flask) -> JobRunner:
    """Run this server process's job worker from now on: on PostgreSQL it makes the jobs
    any process queued, also when this one queues none."""
    runner = get_runner(app)
    runner.start()
    return runner
