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

    Operations are idempotent (``put`` upserts by its ``key`` field, ``id`` unless it names
    another; ``drop`` removes matches), so replaying a journal over a file that already
    holds part of it gives the same result. Other keys of an entry (its ``audit`` entries)
    are not the file's.
    """
    out = dict(data)
    tables: dict[str, dict[str, Any]] = {}
    # Per table and key field: key value -> document id, built once per entry so that an
    # import's thousands of puts cost one pass over the table, not one each.
    indexes: dict[tuple[str, str], dict[Any, str]] = {}
    next_ids: dict[str, int] = {}
    for op in entry["ops"]:
        name = op["table"]
        table = tables.get(name)
        if table is None:
            table = tables[name] = dict(out.get(name, {}))
        if op["op"] == "put":
            doc, key = op["doc"], op.get("key", "id")
            index = indexes.get((name, key))
            if index is None:
                index = indexes[(name, key)] = {d.get(key): k for k, d in table.items()}
            doc_id = index.get(doc[key])
            if doc_id is None:
                if name not in next_ids:
                    next_ids[name] = max((int(k) for k in table), default=0) + 1
                doc_id = str(next_ids[name])
                next_ids[name] += 1
                index[doc[key]] = doc_id
            table[doc_id] = doc
        elif op["op"] == "drop":
            where = op["where"]
            gone = [k for k, d in table.items() if all(d.get(f) == v for f, v in where.items())]
            for k in gone:
                del table[k]
            if gone:  # the table's indexes now name removed documents
                for stale in [k for k in indexes if k[0] == name]:
                    del indexes[stale]
        else:
            raise StorageError(f"unknown journal operation {op['op']!r}")
    out.update(tables)
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
