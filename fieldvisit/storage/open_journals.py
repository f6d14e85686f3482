"""Journals kept open between saves, shared by every ``Files`` of the process.

A save used to open its journal twice, to look past its last line (has another process
appended?) and to write its own, and to ask the disk by path three times more; with the
registry read twice a request, that was some 150 µs of a 1.5 ms save. Kept open, the journal
answers both questions through its open file: ``fstat`` tells whether it is still the
file's journal, a one-byte ``pread`` at the end of its last line whether anything follows.

Why the open file is enough. Journals are only ever created at their path, written in
place and removed (by a fold, or when a torn header is started again); never renamed or
replaced. So a journal that still has a link is the one at its path. Lines are written where
the last one ends, over zeros, under the file's lock: a zero (or the end of the file) there
means nothing new. The data file beside it is still asked by path (``Files.read``): a fold
writes it before it removes the journal, and one that stopped between the two (a
transaction's, with new content) leaves the same journal beside another file.

At most ``max_open`` journals stay open (least recently used closed first); one in use is
closed only when its user is done with it. A forked child may use the parent's: reads and
writes name their offset, so the shared file position does not matter.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .journal import Signature, StorageError


class _Open:
    __slots__ = ("doomed", "fd", "inode", "users")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.inode = os.fstat(fd).st_ino
        self.users = 0
        self.doomed = False  # evicted while in use: closed by its last user


class OpenJournals:
    """Journal path -> the journal, open."""

    def __init__(self, max_open: int = 128) -> None:
        self.max_open = max_open
        self._open: OrderedDict[Path, _Open] = OrderedDict()
        self._guard = threading.Lock()

    def tail(
        self, jpath: Path, inode: int, offset: int, keep: bool = False
    ) -> tuple[bytes, Signature] | None:
        """What the journal ``jpath`` holds past ``offset`` (b"" when nothing), with its
        signature, if the journal of ``inode`` is open here and is still the one at
        ``jpath``; None otherwise (ask by path). ``keep``: open it if it is not open yet."""
        with self._guard:  # held while the file is used: it is not closed under us
            kept = self._open.get(jpath)
            if kept is not None and kept.inode != inode and keep:
                self._drop(jpath)  # an earlier journal of the file
                kept = None
            if kept is None and keep:
                try:
                    kept = _Open(os.open(jpath, os.O_RDWR | os.O_CLOEXEC))
                except FileNotFoundError:
                    return None
                self._open[jpath] = kept
                self._trim()
            if kept is None or kept.inode != inode:
                return None
            st = os.fstat(kept.fd)
            if st.st_nlink == 0:
                self._drop(jpath)
                return None  # removed by a fold: the path holds another journal, or none
            self._open.move_to_end(jpath)
            sig = (st.st_ino, st.st_mtime_ns, st.st_size)
            first = os.pread(kept.fd, 1, offset)
            if first in (b"", b"\0"):
                return b"", sig
            return first + os.pread(kept.fd, max(st.st_size - offset - 1, 0), offset + 1), sig

    @contextmanager
    def writing(self, jpath: Path, inode: int | None) -> Iterator[tuple[int, int]]:
        """The journal at ``jpath``, open for writing, kept open afterwards, and its inode.
        ``inode``: the journal the caller read under the file's lock, or None for one it is
        starting (the path holds none)."""
        with self._guard:
            kept = self._open.get(jpath)
            if kept is not None and (inode is None or kept.inode != inode):
                self._drop(jpath)
                kept = None
            if kept is None:
                flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if inode is None else 0)
                kept = _Open(os.open(jpath, flags, 0o600))
                if inode is not None and kept.inode != inode:
                    os.close(kept.fd)  # not the journal the caller read: write nothing
                    raise StorageError(f"{jpath} changed under its file's lock")
                self._open[jpath] = kept
                self._trim()
            self._open.move_to_end(jpath)
            kept.users += 1
        try:
            yield kept.fd, kept.inode
        finally:
            with self._guard:
                kept.users -= 1
                if kept.doomed and not kept.users:
                    os.close(kept.fd)

    def forget(self, jpath: Path) -> None:
        """Close the journal at ``jpath`` (this process removed it, or a write failed)."""
        with self._guard:
            self._drop(jpath)

    def _drop(self, jpath: Path) -> None:
        kept = self._open.pop(jpath, None)
        if kept is None:
            return
        if kept.users:
            kept.doomed = True
        else:
            os.close(kept.fd)

    def _trim(self) -> None:
        while len(self._open) > self.max_open:
            self._drop(next(iter(self._open)))


JOURNALS = OpenJournals()
