"""One JSON data file and its journal: reading them back, applying the journal's changes.

Its interface, used by ``files`` (which writes journals) and by the Store (which reads them
back after a crash): ``journal_path``, ``signature``, ``read_data``, ``read_journal`` and
``Journal``, ``apply_entry``, ``replay``, and ``META``, the table a folded file keeps its
journal's identity in.
"""

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
META = "_meta"  # in a folded file: which journal (and how much of it) it already holds


# A file's identity on disk (inode, mtime in ns, size), or None when it does not exist.
Signature = tuple[int, int, int] | None


def signature(path: Path) -> Signature:
    """The identity of ``path`` now: cached readings of it are current while it is equal."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8192)
def journal_path(path: Path) -> Path:
    """The journal of the data file ``path`` (``<name>.log`` beside it)."""
    # Cached: every read of a visit file asks for it, and Path arithmetic is not free.
    return path.with_name(path.name + JOURNAL_SUFFIX)


def read_data(path: Path) -> dict[str, Any]:
    """The content of the data file ``path`` without its journal; {} when there is none."""
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
class Journal:
    """An append-only file of changes to one data file: a header line with its identity,
    then one JSON line per acknowledged change."""

    ident: str | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    valid_bytes: int = 0  # complete lines; a line torn by a crash lies beyond
    size: int = 0


def read_journal(path: Path) -> Journal:
    """The journal at ``path`` up to its first torn line (empty when there is none)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Journal()
    journal = Journal(size=len(raw))
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


def apply_entry(data: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
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


def replay(base: dict[str, Any], journal: Journal) -> dict[str, Any]:
    """``base`` (a data file's content) with the entries of ``journal`` it does not already
    hold applied: a folded file records which journal it holds, and how much of it."""
    meta = base.get(META, {}).get("1", {})
    skip = meta.get("applied", 0) if meta.get("journal") == journal.ident else 0
    data = base
    for entry in journal.entries[skip:]:
        data = apply_entry(data, entry)
    return data
