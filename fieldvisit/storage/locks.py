"""One lock per data file, for the threads of this process and for other processes.

A thread lock (re-entrant) orders this process's threads; an ``flock`` on the file's lock
file orders processes (the server, a command run beside it). The lock file stays open for
the life of the process: opening it on every acquisition, as the ``filelock`` package does,
cost about 0.6 ms a lock, two locks on every save (measured in ``bench/bench_api_save.py``),
and a save is about 2 ms. ``flock`` locks belong to an open file, which a forked child
shares with its parent, so a child reopens the file before using it.

A file that is only ever appended to (a shard of the visit-id index) can be its own lock
file: the lock's open file is then also the one its holder reads and appends through
(``FileLock.fileno``), so that a save neither creates a lock file nor opens the shard.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import resource
import threading
from pathlib import Path
from types import TracebackType


class _Process:
    """Which process holds a lock's open file, told without a system call: a number that
    every forked child bumps (``os.register_at_fork``), where asking ``os.getpid()`` on
    every lock was three system calls a save."""

    generation = 0

    @classmethod
    def forked(cls) -> None:
        cls.generation += 1


os.register_at_fork(after_in_child=_Process.forked)


class FileLock:
    """An exclusive lock on ``path`` (created if missing), re-entrant within a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = threading.RLock()
        self._fd: int | None = None
        self._generation = -1  # of the process that opened ``_fd`` (``_Process``)
        self._depth = 0  # how deep the holding thread has entered

    def _file(self) -> int:
        if self._fd is None or self._generation != _Process.generation:
            # A forked child must not use the parent's open file: their flock is shared.
            # O_APPEND: a holder that appends through it (``fileno``) writes at the end.
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._fd = os.open(self.path, flags, 0o600)
            self._generation = _Process.generation
        return self._fd

    def __enter__(self) -> FileLock:
        self._thread.acquire()
        try:
            if self._depth == 0:
                # Blocking: threads of this process wait on the thread lock above, so only
                # another process can hold it, for one short write.
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            self._depth += 1
        except BaseException:
            self._thread.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()

    def fileno(self) -> int:
        """The lock's open file, for the thread that holds the lock (it stays open while
        held: only an idle lock is closed)."""
        if not self._depth:
            raise RuntimeError(f"{self.path} is not locked")
        return self._file()

    def close_if_idle(self) -> bool:
        """Close the lock file when no thread holds the lock (to bound open files)."""
        if not self._thread.acquire(blocking=False):
            return False
        try:
            if self._depth or self._fd is None:
                return False
            if self._generation == _Process.generation:
                os.close(self._fd)
            self._fd = None
            return True
        finally:
            self._thread.release()


class LockTable:
    """The lock of each lock file, shared by every Store of the process; at most
    ``max_open`` lock files stay open (a backup locks every data file in turn, a county's
    folder has tens of thousands, and tests open thousands of folders). A lock evicted while
    another thread still holds a reference to it stays correct: its ``flock`` is on its own
    open file, which excludes the new one's."""

    def __init__(self, max_open: int = 256) -> None:
        self.max_open = max_open
        self._locks: dict[Path, FileLock] = {}  # insertion-ordered: least recently used first
        self._guard = threading.Lock()

    def get(self, path: Path) -> FileLock:
        with self._guard:
            lock = self._locks.pop(path, None)
            if lock is None:
                lock = FileLock(path)
            self._locks[path] = lock
            excess = len(self._locks) - self.max_open
            if excess > 0:
                for old in list(itertools.islice(self._locks, excess)):
                    if self._locks[old].close_if_idle():
                        del self._locks[old]
            return lock

    def forget(self, path: Path) -> None:
        """Close the lock of ``path`` when idle, so that the next ``get`` opens the file now
        at that path (the one it had open was removed or replaced)."""
        with self._guard:
            lock = self._locks.get(path)
            if lock is not None and lock.close_if_idle():
                del self._locks[path]


def _max_open() -> int:
    """Lock files kept open: a township's helping-day working set (this month's village
    files and the 256 shards of the visit-id index, each locked on a save: at 256 most saves
    reopened one), and well under 1024 in all, the most a server's ``select()`` can watch."""
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 256
    if soft == resource.RLIM_INFINITY:
        return 384
    return max(64, min(384, soft // 4))


_TABLE = LockTable(_max_open())


def lock_for(path: Path) -> FileLock:
    """The process's lock on the lock file ``path``."""
    return _TABLE.get(path)


def forget_lock(path: Path) -> None:
    """See ``LockTable.forget``."""
    _TABLE.forget(path)
