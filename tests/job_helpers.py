"""Job kinds for the tests of the background jobs: registered once, by whichever test module
imports this, in every process that runs them (the worker finds a job's work by its kind).

  * ``test.echo``    – returns ``params["payload"]`` (text) as bytes, and counts its runs
  * ``test.broken``  – raises ``RuntimeError(params["message"])``
  * ``test.gated``   – reports progress 0 of 2, waits for the gate ``params["gate"]`` (see
    ``gate``), then returns ``params["payload"]``
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from fieldvisit.documents.jobs import Params, Progress, job_kind

RUNS: Counter[str] = Counter()  # test.echo's runs, by params["payload"]
_gates: dict[str, threading.Event] = {}
_guard = threading.Lock()


def gate(name: str) -> threading.Event:
    """The event a ``test.gated`` job of that gate waits for."""
    with _guard:
        return _gates.setdefault(name, threading.Event())


@job_kind("test.echo")
def echo(_store: Any, params: Params, _progress: Progress) -> bytes:
    with _guard:
        RUNS[params["payload"]] += 1
    return str(params["payload"]).encode()


@job_kind("test.broken")
def broken(_store: Any, params: Params, _progress: Progress) -> bytes:
    raise RuntimeError(params["message"])


@job_kind("test.gated")
def gated(_store: Any, params: Params, progress: Progress) -> bytes:
    progress(0, 2)
    gate(params["gate"]).wait(params.get("timeout", 30))
    return str(params["payload"]).encode()
