"""Finished background downloads kept in a folder (``store.reports``): ``<data>/exports/``
for the embedded store, or a folder every server shares (``SHARED_DIR``) on PostgreSQL.

A file is named by its job's random id; it is written atomically, so a reader finds the
whole file or none. Made again on demand, so backups leave it out.
"""

from __future__ import annotations

import re
from pathlib import Path

from .durable import atomic_write_bytes
from .journal import StorageError

# A job's id (secrets.token_urlsafe) and the download's suffix: never a path.
_NAME_RE = re.compile(r"\A[A-Za-z0-9_-]{16,64}(?:\.[a-z0-9]{1,5})?\Z")


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise StorageError(f"bad report file name {name!r}")
    return name


class ReportFolder:
    """Report files in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, name: str, payload: bytes) -> None:
        atomic_write_bytes(self.folder / check_name(name), payload)

    def read(self, name: str) -> bytes | None:
        try:
            return (self.folder / check_name(name)).read_bytes()
        except FileNotFoundError:
            return None

    def remove_older(self, cutoff: float, keep: set[str]) -> None:
        """Delete the files last changed before ``cutoff`` (a time) except those in
        ``keep``: a day-old download, or one left by an earlier run of the server."""
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            try:
                if path.name not in keep and path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                continue
