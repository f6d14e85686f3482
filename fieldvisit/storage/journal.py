"""One JSON data file and its journal: reading them back, applying the journal's changes."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class StorageError(Exception):
    """A data file cannot be read or written."""


JOURNAL_SUFFIX = ".log"
_META = "_meta"  # in a folded file: which journal (and how much of it) it already holds


Signature = tuple[int, int, int] | None


def _signature(path: Path) -> Signature:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8192)
def _journal_path(path: Path) -> Path:
    # Cached: every read of a visit file asks for it, and Path arithmetic is not free.
    return path.with_name(path.name + JOURNAL_SUFFIX)


def _load(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:  # never written by us: renames are atomic
        raise StorageError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise StorageError(f"{path} does not hold a TinyDB database")
    return data


@dataclass
class _Journal:
    """An append-only file of changes to one data file: a header line with its identity,
    then one JSON line per acknowledged change."""

    ident: str | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    valid_bytes: int = 0  # complete lines; a line torn by a crash lies beyond
    size: int = 0


def _read_journal(path: Path) -> _Journal:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _Journal()
    journal = _Journal(size=len(raw))
    complete = raw[: raw.rfind(b"\n") + 1]
    for line in complete.split(b"\n")[:-1]:
        try:
            item = json.loads(line)
        except ValueError:
            break  # a torn write: nothing after it was acknowledged
        if journal.ident is None:
            if not isinstance(item, dict) or not isinstance(item.get("journal"), str):
                break
            journal.ident = item["journal"]
        else:
            journal.entries.append(item)
        journal.valid_bytes += len(line) + 1
    return journal


def _apply(data: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """``data`` with one journal entry applied, as a new dict: tables are copied, documents
    are replaced and never changed in place, so readers of the old dict are safe.

    Operations are idempotent (``put`` upserts by ``id``; ``drop`` removes matches), so
    replaying a journal over a file that already holds part of it gives the same result.
    """
    out = dict(data)
    for op in entry["ops"]:
        table: dict[str, Any] = dict(out.get(op["table"], {}))
        if op["op"] == "put":
            doc = op["doc"]
            for doc_id, existing in table.items():
                if existing.get("id") == doc["id"]:
                    table[doc_id] = doc
                    break
            else:
                table[str(max((int(k) for k in table), default=0) + 1)] = doc
        elif op["op"] == "drop":
            where = op["where"]
            table = {k: d for k, d in table.items() if any(d.get(f) != v for f, v in where.items())}
        else:
            raise StorageError(f"unknown journal operation {op['op']!r}")
        out[op["table"]] = table
    return out


def _merge(base: dict[str, Any], journal: _Journal) -> dict[str, Any]:
    meta = base.get(_META, {}).get("1", {})
    skip = meta.get("applied", 0) if meta.get("journal") == journal.ident else 0
    data = base
    for entry in journal.entries[skip:]:
        data = _apply(data, entry)
    return data
