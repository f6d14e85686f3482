"""Serving with several processes on one machine (``run.py --workers N``).

waitress serves with threads in one process, and Python runs one thread at a time, so one
process uses about one core. Here the parent binds the listening socket once and forks N
children, each of which makes its own app (its own store, connection pool and job worker:
nothing is shared across a fork but the socket) and serves that socket with waitress; the
kernel hands each new connection to one of them. A child that dies is replaced; SIGTERM or
Ctrl-C stops them all.

Every process runs a background-job worker (``documents.jobs.start_worker``). What the
processes share is the store: with PostgreSQL, everything another process needs (logins,
login limits, job records, their work as data, and their files) is in the database, and
any process's worker makes a job any process queued. With the embedded store
the data folder is shared through its file locks, but each process keeps its own login
limits and background-job records (a job's page answers only from the process that queued
it), so more than one worker there suits a benchmark rather than an office.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType

from flask import Flask


def tune_collector() -> None:
    """Run Python's cycle collector less often, and never over what the start loaded.

    A server keeps large long-lived caches: the registry and the parsed data files, some
    hundreds of thousands of objects, none of them garbage. At the default thresholds a full
    collection walked all of them every few dozen requests; with the demo township that put
    the median API save at about 3.6 ms, against 3.3 ms with the collector off (measured
    through the test client). Freezing what is loaded now keeps it out of every collection;
    the higher thresholds make the young collections, which a request's garbage needs,
    rarer and the full ones rarer still. Called once a server's app is made."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _child(make_app: Callable[[], Flask], sock: socket.socket, threads: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    code = 1
    try:
        from waitress import serve

        from .documents.jobs import start_worker

        app = make_app()
        start_worker(app)
        tune_collector()
        serve(
            app,
            sockets=[sock],
            threads=threads,
            connection_limit=1000,
            ident="fieldvisit",
        )
        code = 0
    finally:
        sys.stdout.flush()
        os._exit(code)


def serve_processes(
    make_app: Callable[[], Flask], host: str, port: int, threads: int, workers: int
) -> int:
    """Serve ``make_app()`` in ``workers`` processes on one socket until stopped."""
    sock = socket.create_server((host, port), backlog=2048)
    sock.setblocking(False)
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            _child(make_app, sock, threads)
        children.add(pid)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue

    for _ in range(workers):
        spawn()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        if not stopping:
            print(f"fieldvisit: worker {pid} ended; starting another", file=sys.stderr)
            spawn()
    return 0
