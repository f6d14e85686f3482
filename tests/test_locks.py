"""The file locks between processes: a forked child does not share its parent's lock."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from fieldvisit.storage.locks import lock_for


def _fork_trier(lock_path: Path, seconds: float) -> tuple[int, int]:
    """Fork a child that, once told through the returned pipe end, tries to take the lock
    of ``lock_path`` for ``seconds`` and exits 0 if it got it. Returns (pid, pipe end)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answers by its exit status, never returns into pytest
        os.close(write_end)
        os.read(read_end, 1)
        got = threading.Event()

        def take() -> None:
            with lock_for(lock_path):
                got.set()

        threading.Thread(target=take, daemon=True).start()
        os._exit(0 if got.wait(seconds) else 1)
    os.close(read_end)
    return pid, write_end


def _got_it(pid: int) -> bool:
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def test_a_forked_child_waits_for_the_lock_its_parent_holds(tmp_path: Path) -> None:
    lock_path = tmp_path / "file.lock"
    lock = lock_for(lock_path)
    with lock:
        pass  # the lock's file is now open in this process, and a child inherits it
    blocked, tell_blocked = _fork_trier(lock_path, 0.5)
    free, tell_free = _fork_trier(lock_path, 5)
    with lock:
        # An flock belongs to the open file: a child locking through its parent's would get
        # the lock at once. The child opens the file again, and waits.
        os.write(tell_blocked, b"x")
        assert not _got_it(blocked)
    os.write(tell_free, b"x")
    assert _got_it(free)
    os.close(tell_blocked)
    os.close(tell_free)
