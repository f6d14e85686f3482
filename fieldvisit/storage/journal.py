"""One JSON data file and its journal: reading them back, applying the journal's changes.

Its interface, used by ``files`` (which writes journals) and by the Store (which reads them
back after a crash): ``journal_path``, ``signature``, ``read_data``, ``read_journal`` and
``Journal``, ``entry_line``, ``apply_entry``, ``Keys`` and ``Content``, ``replay``, and
``META``, the table a folded file keeps its journal's identity in.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .durable import dumps


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


def entry_line(ops: list[dict[str, Any]], audit: list[bytes]) -> bytes:
    """The journal line ``{"ops": [...], "audit": [...]}`` of a change, its audit entries
    given encoded (``{"ops": [...]}`` alone when it has none)."""
    if not audit:
        return dumps({"ops": ops}) + b"\n"
    return b'{"ops":' + dumps(ops) + b',"audit":[' + b",".join(audit) + b"]}\n"


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


@dataclass
class Keys:
    """What applying an entry learns by passing over a table, kept for the next entry of
    the same content (``Files`` keeps one with each cached reading): per table and key
    field, key value -> document id; per table, its highest document id. Without it a save
    passed over its whole month-and-village file to add one visit.

    A Keys describes one content. ``apply_entry`` updates the one it is given to describe
    its result, replacing (never changing) the inner dicts, so the Keys it was copied from
    (``copy``) stays true of the content before."""

    by_key: dict[tuple[str, str], dict[Any, str]] = field(default_factory=dict)
    top: dict[str, int] = field(default_factory=dict)

    def copy(self) -> Keys:
        return Keys(dict(self.by_key), dict(self.top))


class Content:
    """A data file's content as a change sees it (``Files.journaled``): its tables, and what
    its ``Keys`` know of them. (A plain class: one is made per save, and a frozen
    dataclass's ``__init__`` cost as much as the look-up it serves.)"""

    __slots__ = ("data", "keys")

    def __init__(self, data: dict[str, Any], keys: Keys) -> None:
        self.data = data
        self.keys = keys

    def find(self, table: str, key: str, value: Any) -> dict[str, Any] | None:
        """The document of ``table`` whose ``key`` field is ``value``, or None.

        Through the index the last entry applied left, when there is one: a pass over the
        table touches every document, and on a busy server those are not in the CPU's
        caches (a save's look-up for its visit id was a twentieth of its time)."""
        docs: dict[str, Any] = self.data.get(table, {})
        index = self.keys.by_key.get((table, key))
        if index is not None:
            if value not in index:
                return None
            doc = docs.get(index[value])
            if doc is not None and doc.get(key) == value:
                return doc  # else an index out of step: the pass below answers
        return next((d for d in docs.values() if d.get(key) == value), None)


def apply_entry(
    data: dict[str, Any], entry: dict[str, Any], keys: Keys | None = None
) -> dict[str, Any]:
    """``data`` with one journal entry applied, as a new dict: tables are copied, documents
    are replaced and never changed in place, so readers of the old dict are safe.

    Operations are idempotent (``put`` upserts by its ``key`` field, ``id`` unless it names
    another; ``drop`` removes matches), so replaying a journal over a file that already
    holds part of it gives the same result. Other keys of an entry (its ``audit`` entries)
    are not the file's. ``keys``: what is known of ``data`` (see ``Keys``), updated to
    describe the result; the result is the same with or without it.
    """
    out = dict(data)
    tables: dict[str, dict[str, Any]] = {}
    known = keys if keys is not None else Keys()
    # Per table and key field: key value -> document id, made (or copied from ``known``)
    # once per entry, so that an import's thousands of puts cost one pass over the table.
    owned: set[tuple[str, str]] = set()
    next_ids: dict[str, int] = {}
    put_by: dict[str, set[str]] = {}  # table -> the key fields its puts used
    dropped: set[str] = set()
    for op in entry["ops"]:
        name = op["table"]
        table = tables.get(name)
        if table is None:
            table = tables[name] = dict(out.get(name, {}))
        if op["op"] == "put":
            doc, key = op["doc"], op.get("key", "id")
            index = _index(known, owned, table, name, key)
            put_by.setdefault(name, set()).add(key)
            doc_id = index.get(doc[key])
            if doc_id is None:
                if name not in next_ids:
                    top = known.top.get(name) if name not in dropped else None
                    if top is None:
                        top = max((int(k) for k in table), default=0)
                    next_ids[name] = top + 1
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
                _forget_table(known, owned, name)
                dropped.add(name)
        else:
            raise StorageError(f"unknown journal operation {op['op']!r}")
    out.update(tables)
    _settle(known, owned, put_by, dropped, next_ids)
    return out


def _settle(
    known: Keys,
    owned: set[tuple[str, str]],
    put_by: dict[str, set[str]],
    dropped: set[str],
    next_ids: dict[str, int],
) -> None:
    """Leave in ``known`` only what is true of an entry's result."""
    for name, fields in put_by.items():
        if len(fields) > 1:  # an index of one field may be behind puts by another
            _forget_table(known, owned, name)
    for name in dropped:
        known.top.pop(name, None)
    for name, following in next_ids.items():
        if name not in dropped:
            known.top[name] = following - 1


def _index(
    known: Keys, owned: set[tuple[str, str]], table: dict[str, Any], name: str, key: str
) -> dict[Any, str]:
    """The table's index on ``key`` for this entry: ``known``'s, copied once, or made."""
    ik = (name, key)
    if ik not in owned:
        # One of another field, not made in this entry, may name what a put by this one
        # changes: it is made again when needed, as it would be without ``known``.
        for other in [k for k in known.by_key if k[0] == name and k != ik and k not in owned]:
            del known.by_key[other]
        carried = known.by_key.get(ik)
        known.by_key[ik] = (
            dict(carried) if carried is not None else {d.get(key): k for k, d in table.items()}
        )
        owned.add(ik)
    return known.by_key[ik]


def _forget_table(known: Keys, owned: set[tuple[str, str]], name: str) -> None:
    for stale in [k for k in known.by_key if k[0] == name]:
        del known.by_key[stale]
        owned.discard(stale)


def replay(base: dict[str, Any], journal: Journal, keys: Keys | None = None) -> dict[str, Any]:
    """``base`` (a data file's content) with the entries of ``journal`` it does not already
    hold applied: a folded file records which journal it holds, and how much of it.
    ``keys``: as for ``apply_entry``, of ``base`` and then of the result."""
    meta = base.get(META, {}).get("1", {})
    skip = meta.get("applied", 0) if meta.get("journal") == journal.ident else 0
    data = base
    for entry in journal.entries[skip:]:
        data = apply_entry(data, entry, keys)
    return data
