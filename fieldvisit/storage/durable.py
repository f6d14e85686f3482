"""Writing files so that a crash leaves the old content or the new, never a mix."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any


def fsync_dir(folder: Path) -> None:
    """Make the entries of ``folder`` (a new, renamed or removed file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(folder: Path) -> None:
    """Create ``folder`` and missing parents durably: each new entry's parent is fsynced."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        with suppress(FileExistsError):
            new.mkdir()
        fsync_dir(new.parent)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload``: temp file, fsync, rename, fsync the folder."""
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def append_durably(path: Path, payload: bytes) -> None:
    """Append ``payload`` to ``path`` in one write and fsync it (the folder too when the
    file is new). One ``O_APPEND`` write is never interleaved with another."""
    new = not path.exists()
    if new:
        make_dirs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(path.parent)


def dumps(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON, the form of every data file and journal line."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
