"""What a start finishes after a crash: the copies of committed records.

A change is committed by one durable write, its journal line, which holds the change's audit
entries too. Two things are copied from it afterwards without an fsync of their own, to keep
the helping day's save at one synced write: the audit entries into the audit log, and a new
visit's id into the visit-id index. A crash (a power cut) can keep those copies from the
disk; ``recover`` writes them again from the files written since the last start. A copy is
identified (the audit entry's id, the visit's id), so nothing is copied twice.

The files to read are those changed since the last recovery finished (``.recovered`` holds
its starting time): any commit after it changed its file after it. A folder without that
mark (one made by an earlier version, a restored backup) is read whole once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .audit_log import AuditLog
from .durable import atomic_write_bytes
from .files import Files
from .journal import journal_path, read_journal
from .paths import REGISTRY
from .sessions import SESSIONS
from .visit_files import VisitFiles
from .visit_index import VisitIndex

MARK = ".recovered"
# File times and the clock may disagree by a little (coarse timestamps, another process).
_SLACK_SECONDS = 5.0


def _since(root: Path) -> float | None:
    try:
        return float((root / MARK).read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        return None


def _changed(path: Path, since: float | None) -> bool:
    if since is None:
        return True
    for p in (path, journal_path(path)):
        try:
            if os.stat(p).st_mtime >= since - _SLACK_SECONDS:
                return True
        except FileNotFoundError:
            continue
    return False


def _data_files(root: Path, visit_files: VisitFiles) -> Iterator[tuple[Path, bool]]:
    """Every data file with a journal that may hold records, and whether it holds visits."""
    yield root / REGISTRY, False
    yield root / SESSIONS, False
    for month in visit_files.months():
        for path in visit_files.of_month(month):
            yield path, True


def recover(
    files: Files, visit_files: VisitFiles, audit_log: AuditLog, index: VisitIndex
) -> tuple[int, int]:
    """Copy into the audit log and the visit-id index what the files changed since the last
    recovery hold and they lack. Returns (audit entries, visit ids) written."""
    root = files.root
    with files.locked(root / MARK):
        started = time.time()
        since = _since(root)
        known: dict[str, set[str]] = {}
        missing: list[dict[str, Any]] = []
        ids: list[tuple[str, str, str]] = []
        for path, holds_visits in _data_files(root, visit_files):
            if not _changed(path, since):
                continue
            with files.locked(path):
                for entry in read_journal(journal_path(path)).entries:
                    for record in entry.get("audit", ()):
                        month = str(record.get("at", ""))[:7]
                        if month not in known:
                            known[month] = audit_log.ids(month)
                        if record.get("id") not in known[month]:
                            missing.append(record)
                            known[month].add(record.get("id", ""))
                if holds_visits:
                    month = path.parent.name
                    ids.extend(
                        (d["id"], month, d.get("household", ""))
                        for d in files.read(path).data.get("visits", {}).values()
                        if "id" in d
                    )
        if missing:
            audit_log.copy(missing)
            audit_log.sync(missing)
        added = index.add(ids)
        if added:
            index.sync()
        if (root / REGISTRY).exists() or journal_path(root / REGISTRY).exists() or ids:
            # Not in a folder with no data yet: a restore asks for an empty one.
            atomic_write_bytes(root / MARK, f"{started:.3f}".encode("ascii"))
        return len(missing), added
