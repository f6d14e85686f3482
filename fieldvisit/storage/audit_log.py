"""The audit log: append-only JSON lines, one file per month (``audit/YYYY-MM.jsonl``)."""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path

from ..models import AuditEntry
from .durable import append_durably, append_to, make_dirs, sync_file
from .journal import signature
from .paths import _MONTH_RE, check_month

# Months of parsed audit entries an AuditLog keeps in memory (AuditLog.entries).
_AUDIT_CACHE_MONTHS = 24
# Audit files kept open for copies, in all: a server writes one month at a time (two on a
# month's first day), a county's one data folder or a test run's many.
_OPEN_FILES = 8


class _OpenAppends:
    """The audit files a process copies entries into, kept open: a save's copy is then
    one write, not an open, a write and a close. One table for the process (every data
    folder's logs), so that the files kept open stay few whatever the number of stores.
    Each use asks the path which file it names (one ``stat``): the log is never replaced
    while a server runs, but a file removed by hand must not swallow the copies."""

    def __init__(self) -> None:
        self._open: OrderedDict[Path, tuple[int, int]] = OrderedDict()  # path -> fd, inode
        self._guard = threading.Lock()

    def append(self, path: Path, payload: bytes) -> None:
        with self._guard:  # held while the file is used: it is not closed under a writer
            kept = self._open.get(path)
            now = signature(path)
            if kept is not None and (now is None or kept[1] != now[0]):
                os.close(self._open.pop(path)[0])
                kept = None
            if kept is None:
                make_dirs(path.parent)
                fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
                kept = self._open[path] = (fd, os.fstat(fd).st_ino)
                while len(self._open) > _OPEN_FILES:
                    os.close(self._open.popitem(last=False)[1][0])
            self._open.move_to_end(path)
            append_to(kept[0], path, payload)


_APPENDS = _OpenAppends()


class AuditLog:
    """The audit log of one data folder (``Store.audit_log``). Nothing rewrites it: entries
    are only appended, so readers parse just the lines appended since they last looked."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # <data>/audit
        # month -> (the file's inode, bytes parsed, the entries in them)
        self._cache: OrderedDict[str, tuple[int, int, list[AuditEntry]]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._paths: dict[str, Path] = {}

    def path(self, month: str) -> Path:
        """The file of ``month``'s entries (it may not exist)."""
        path = self._paths.get(month)
        if path is None:
            if len(self._paths) > 1024:
                self._paths.clear()
            path = self._paths[month] = self.folder / f"{check_month(month)}.jsonl"
        return path

    def append(self, entry: AuditEntry) -> None:
        """Append one audit entry, durably: for an entry that is itself the change (a report
        downloaded); a change's entry is committed with the change (``copy``)."""
        path = self.folder / f"{entry.at[:7]}.jsonl"
        line = json.dumps(entry.to_doc(), ensure_ascii=False, default=str) + "\n"
        # One O_APPEND write is atomic among writers, so no lock is needed.
        append_durably(path, line.encode("utf-8"))

    def copy(self, records: list[dict[str, object]], encoded: list[bytes] | None = None) -> None:
        """Append audit entries (as documents) already durable in a change's journal line,
        without an fsync of their own: the line is the record, and ``storage.recovery``
        writes a copy again if a crash kept this one from the disk. ``encoded``: the
        entries as that line holds them (JSON), written as they are."""
        if encoded is None:
            encoded = [
                json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8") for doc in records
            ]
        by_month: dict[str, list[bytes]] = {}
        for doc, line in zip(records, encoded, strict=True):
            by_month.setdefault(str(doc["at"])[:7], []).append(line + b"\n")
        for month, lines in by_month.items():
            _APPENDS.append(self.path(month), b"".join(lines))

    def sync(self, records: list[dict[str, object]]) -> None:
        """Make the copies of these entries durable (before their journal is folded away).

        A copy may be missing: the one after the commit failed (a full disk), or a crash
        came before it and the journal is folded before ``storage.recovery`` ran (a restart
        finishes moves first). Those are copied now, found by id, or the fold would lose
        them with the journal."""
        months = sorted({str(doc["at"])[:7] for doc in records})
        known = {month: {e.id for e in self.entries(month)} for month in months}
        missing = [doc for doc in records if doc.get("id") not in known[str(doc["at"])[:7]]]
        if missing:
            self.copy(missing)
        for month in months:
            sync_file(self.path(month))

    def ids(self, month: str) -> set[str]:
        """The ids of the month's entries (entries written before ids existed have none)."""
        return {e.id for e in self.read_entries(month)}

    def months(self) -> list[str]:
        """Months that have audit entries, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(
            p.stem
            for p in self.folder.iterdir()
            if p.suffix == ".jsonl" and _MONTH_RE.match(p.stem)
        )

    def read_entries(self, month: str) -> list[AuditEntry]:
        """The month's entries parsed afresh from the file: a new list on every call (for
        a check that must not trust a cache; ``entries`` is the cheap read)."""
        out: list[AuditEntry] = []
        try:
            lines = self.path(month).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            try:
                out.append(AuditEntry.from_doc(json.loads(line)))
            except ValueError:
                continue  # a line cut short by a crash mid-append
        return out

    def entries(self, month: str) -> list[AuditEntry]:
        """The month's audit entries (read-only), parsed once per process: the log only
        grows, so each call parses just the lines appended since the last one. The newest
        ``_AUDIT_CACHE_MONTHS`` months stay in memory."""
        path = self.path(month)
        cache = self._cache
        with self._cache_lock:
            sig = signature(path)
            if sig is None:
                cache.pop(month, None)
                return []
            inode, offset, entries = cache.get(month, (sig[0], 0, []))
            if inode != sig[0] or offset > sig[2]:  # replaced (a restore): start again
                offset, entries = 0, []
            if offset < sig[2]:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    raw = fh.read()
                complete = raw[: raw.rfind(b"\n") + 1]  # a line being appended waits
                entries = list(entries)  # a caller may hold the old list
                for line in complete.splitlines():
                    try:
                        entries.append(AuditEntry.from_doc(json.loads(line)))
                    except ValueError:
                        continue  # a line cut short by a crash mid-append
                offset += len(complete)
            cache[month] = (sig[0], offset, entries)
            cache.move_to_end(month)
            while len(cache) > _AUDIT_CACHE_MONTHS:
                cache.popitem(last=False)
            return entries
