"""The audit log: append-only JSON lines, one file per month."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

from ..models import AuditEntry
from .durable import append_durably
from .files import _Files
from .journal import _signature
from .paths import _MONTH_RE, check_month

# Months of parsed audit entries a Store keeps in memory (Store.audit_log).
_AUDIT_CACHE_MONTHS = 24


class AuditLog:
    """The audit part of the Store."""

    root: Path
    _files: _Files

    def audit(self, entry: AuditEntry) -> None:
        """Append one audit entry, durably. The log is never rewritten."""
        path = self.root / "audit" / f"{entry.at[:7]}.jsonl"
        line = json.dumps(entry.to_doc(), ensure_ascii=False, default=str) + "\n"
        # One O_APPEND write is atomic among writers, so no lock is needed.
        append_durably(path, line.encode("utf-8"))

    def audit_entries(self, month: str) -> list[AuditEntry]:
        path = self.root / "audit" / f"{check_month(month)}.jsonl"
        out: list[AuditEntry] = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            try:
                out.append(AuditEntry.from_doc(json.loads(line)))
            except ValueError:
                continue  # a line cut short by a crash mid-append
        return out

    def audit_months(self) -> list[str]:
        """Months that have audit entries, oldest first."""
        folder = self.root / "audit"
        if not folder.is_dir():
            return []
        return sorted(
            p.stem for p in folder.iterdir() if p.suffix == ".jsonl" and _MONTH_RE.match(p.stem)
        )

    def audit_log(self, month: str) -> list[AuditEntry]:
        """The month's audit entries (read-only), parsed once per process: the log only
        grows, so each call parses just the lines appended since the last one. The newest
        ``_AUDIT_CACHE_MONTHS`` months stay in memory."""
        path = self.root / "audit" / f"{check_month(month)}.jsonl"
        cache: OrderedDict[str, tuple[int, int, list[AuditEntry]]] = self.__dict__.setdefault(
            "_audit_cache", OrderedDict()
        )
        with self._files._cache_lock:
            sig = _signature(path)
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
