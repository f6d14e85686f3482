"""Closed months: what a month's report was made from, kept as it stood.

``closed/YYYY-MM/<sha256>.json`` holds the month's frozen registry and figures and
``closed/YYYY-MM/<sha256>.pdf`` the summary issued, each named by the SHA-256 of its
content. They are written (durably) before the registry records the close, with its audit
entry, in one commit: a crash in between leaves only a file nothing names, never a close
without its files. Files are never rewritten; a month closed again gets new ones.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .durable import atomic_write_bytes
from .journal import StorageError
from .paths import check_month

CLOSED = "closed"
# The registry setting that records closed months: month -> its record (see Store.close_month).
SETTING = "closed_months"
_FILE_RE = re.compile(r"\A[0-9a-f]{64}\.(?:json|pdf)\Z")


class MonthClosed(Exception):
    """A change to a visit dated in a closed month."""

    def __init__(self, month: str) -> None:
        super().__init__(month)
        self.month = month


class ClosedFiles:
    """The files of closed months (``Store.closed``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # <data>/closed

    def put(self, month: str, payload: bytes, suffix: str) -> str:
        """Store ``payload`` (``suffix`` "json" or "pdf") for ``month`` durably; returns its
        file name, the SHA-256 of its content."""
        name = f"{hashlib.sha256(payload).hexdigest()}.{suffix}"
        path = self.path(month, name)
        if not path.exists():
            atomic_write_bytes(path, payload)
        return name

    def path(self, month: str, name: str) -> Path:
        if not _FILE_RE.match(name):
            raise StorageError(f"bad closed-month file name {name!r}")
        return self.folder / check_month(month) / name

    def read(self, month: str, name: str) -> bytes:
        return self.path(month, name).read_bytes()

    def exists(self, month: str, name: str) -> bool:
        return _FILE_RE.match(name) is not None and self.path(month, name).is_file()

    def files(self) -> list[Path]:
        """Every stored file (for backups)."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("*/*") if p.is_file() and _FILE_RE.match(p.name))
