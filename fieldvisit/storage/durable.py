"""Writing files so that a crash leaves the old content or the new, never a mix.

Every step that changes the disk (write, sync, rename, truncate, removal) goes through
``step`` first. In production it does nothing; the crash tests (``tests/test_crashes.py``)
set ``faults.hook`` to fail or kill the process at each step in turn, the way SQLite's own
crash tests do, and then check what a restart finds.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import orjson


class _Faults:
    """The seam the crash tests use: ``hook(kind, path)`` runs before every step."""

    hook: Callable[[str, Path], None] | None = None


faults = _Faults()


def step(kind: str, path: Path) -> None:
    """About to ``kind`` (write, sync, rename, truncate, unlink, mkdir) ``path``."""
    hook = faults.hook
    if hook is not None:
        hook(kind, path)


def fsync_dir(folder: Path) -> None:
    """Make the entries of ``folder`` (a new, renamed or removed file) durable."""
    step("sync", folder)
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
        step("mkdir", new)
        with suppress(FileExistsError):
            new.mkdir()
        fsync_dir(new.parent)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload``: temp file, fsync, rename, fsync the folder."""
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            step("write", path)
            fh.write(payload)
            fh.flush()
            step("sync", path)
            os.fsync(fh.fileno())
        step("rename", path)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def append_to(fd: int, path: Path, payload: bytes, clean_end: bool = False) -> None:
    """Append ``payload`` in one write to ``path``, open as ``fd`` (with ``O_APPEND``),
    without a sync. ``clean_end``: the caller knows the file ends with a whole line."""
    # A write a full disk cut short left a line without its newline: start a line of
    # our own, or this one would be glued to it and unreadable too (readers skip the
    # torn line; an empty line a concurrent writer makes of this is skipped as well).
    if not clean_end:
        end = os.lseek(fd, 0, os.SEEK_END)
        if end and os.pread(fd, 1, end - 1) != b"\n":
            payload = b"\n" + payload
    step("append", path)
    written = os.write(fd, payload)
    if written != len(payload):  # a full disk can take part of a write
        raise OSError(28, "short write", str(path))


# A journal grows by this much at a time, filled with zeros and synced once; its lines are
# then written over the zeros and synced with fdatasync. Overwriting allocated blocks needs no
# change to the file's size or block map, so the sync of a save does not wait for the file
# system's journal: it cost about half of an append's fsync on ext4 (measured), and it is
# what SQLite's WAL does by reusing its file.
JOURNAL_CHUNK = 64 * 1024


def write_at(fd: int, path: Path, payload: bytes, offset: int, allocated: int) -> int:
    """Write ``payload`` at ``offset`` of ``path``, open as ``fd`` (of which ``allocated``
    bytes exist), and sync it, with one sync; returns how many bytes the file now holds.

    When the payload would pass the end, the file grows by whole chunks of zeros in the same
    write, and the sync is a full fsync (the size changes); otherwise an fdatasync. Readers
    take a file's lines up to its last newline, so the zeros after them are never read as
    data, and a line torn by a crash (no newline) neither. A new file's folder is the
    caller's to sync (``fsync_dir``)."""
    end = offset + len(payload)
    grow = end > allocated
    if grow:
        allocated = -(-(end + JOURNAL_CHUNK // 2) // JOURNAL_CHUNK) * JOURNAL_CHUNK
        payload = payload + bytes(allocated - end)
    step("append", path)
    written = os.pwrite(fd, payload, offset)
    if written != len(payload):  # a full disk can take part of a write
        raise OSError(28, "short write", str(path))
    step("sync", path)
    if grow:
        os.fsync(fd)
    else:
        os.fdatasync(fd)
    return allocated


def blank_out(path: Path, offset: int, length: int) -> None:
    """Overwrite ``length`` bytes at ``offset`` with zeros and sync: a line written there
    that was not acknowledged is never read back."""
    fd = os.open(path, os.O_RDWR)
    try:
        step("write", path)
        os.pwrite(fd, bytes(length), offset)
        step("sync", path)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def append_durably(path: Path, payload: bytes) -> None:
    """Append ``payload`` to ``path`` in one write and fsync it (the folder too when the
    file is new). One ``O_APPEND`` write is never interleaved with another."""
    new = not path.exists()
    if new:
        make_dirs(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        append_to(fd, path, payload)
        step("sync", path)
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(path.parent)


def sync_file(path: Path) -> None:
    """fsync ``path`` (and its folder), when it exists."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        step("sync", path)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def truncate(path: Path, size: int) -> None:
    step("truncate", path)
    os.truncate(path, size)


def unlink(path: Path) -> None:
    """Remove ``path`` (no error when it is gone) and make the removal durable."""
    step("unlink", path)
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


# What orjson is not to write its own way: a date or a dataclass was never a document here,
# and is refused (by the standard encoder below) as it always was.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# For what orjson refuses and the standard library writes: an integer past 64 bits, a key
# that is not a string. Made once: ``json.dumps`` with any argument builds an encoder a call.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON, the form of every data file and journal line.

    Written by orjson: a visit's save encodes its document twice (the change and its audit
    entry), and the standard encoder took 7 µs for each, orjson half a microsecond
    (decision 21). Both write the same bytes for what the store holds (strings, booleans,
    integers, lists, objects with string keys), and the same numbers for floats, which
    orjson may spell otherwise (``1e-7`` for ``1e-07``); a NaN, which the standard encoder
    writes as ``NaN`` (no JSON), is ``null``."""
    try:
        return orjson.dumps(data, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return _COMPACT.encode(data).encode("utf-8")
