"""Locks, atomic transactions, journals and a read cache over the data folder's JSON files."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import filelock
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from .durable import append_durably, atomic_write_bytes, dumps, fsync_dir, make_dirs
from .journal import (
    META,
    Journal,
    Signature,
    apply_entry,
    journal_path,
    read_data,
    read_journal,
    replay,
    signature,
)

# The only import of TinyDB: the Store's other modules use its tables through these names.
Database = TinyDB
Where = Query

T = TypeVar("T")

# How many parsed files to keep in memory: a township's year of months is ~170 files.
_CACHE_FILES = 2048
# Journal entries appended before they are folded into the TinyDB file. A fold rewrites the
# file (~50 visits); amortised over this many saves it costs little.
COMPACT_AFTER = 64
_STALE_TEMP_SECONDS = 3600


class _MemoryStorage(Storage):
    """TinyDB storage over a dict held for one transaction; the file is written once, at
    commit, so that several table operations land together or not at all."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.dirty = False

    def read(self) -> dict[str, Any]:
        return self.data

    def write(self, data: dict[str, Any]) -> None:
        self.data = data
        self.dirty = True


@dataclass
class _Cached:
    signature: tuple[Signature, Signature]  # the file's and its journal's
    data: dict[str, Any]
    journal: Journal  # without its entries: only identity and extent matter here
    journal_entries: int = 0
    derived: dict[str, Any] = field(default_factory=dict)
    checked: float = field(default_factory=time.monotonic)  # when last found current on disk


class Files:
    """Locks, atomic transactions, journals and a read cache over the JSON files of one data
    folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: OrderedDict[Path, _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._locks_by_path: dict[Path, tuple[threading.RLock, filelock.FileLock]] = {}
        self._guard = threading.Lock()
        self._lock_dir = root / ".locks"
        make_dirs(self._lock_dir)

    def _locks(self, path: Path) -> tuple[threading.RLock, filelock.FileLock]:
        with self._guard:
            locks = self._locks_by_path.get(path)
            if locks is None:
                rel = path.relative_to(self.root).as_posix().replace("/", "__")
                locks = (
                    threading.RLock(),
                    filelock.FileLock(self._lock_dir / f"{rel}.lock", timeout=60),
                )
                self._locks_by_path[path] = locks
            return locks

    def _remember(self, path: Path, entry: _Cached) -> _Cached:
        with self._cache_lock:
            self._cache[path] = entry
            self._cache.move_to_end(path)
            while len(self._cache) > _CACHE_FILES:
                self._cache.popitem(last=False)
        return entry

    def _load_current(self, path: Path) -> _Cached:
        jpath = journal_path(path)
        # Another process may fold the journal while we read: retry until the file and its
        # journal are the same before and after, so base and journal belong together.
        for _attempt in range(5):
            before = (signature(path), signature(jpath))
            base = read_data(path)
            journal = read_journal(jpath)
            after = (signature(path), signature(jpath))
            if before == after:
                break
        data = replay(base, journal)
        count = len(journal.entries)
        journal.entries = []
        return _Cached(after, data, journal, count)

    def read(self, path: Path) -> _Cached:
        """The file with its journal applied, from cache while neither changed on disk."""
        sig = (signature(path), signature(journal_path(path)))
        with self._cache_lock:
            hit = self._cache.get(path)
            if hit is not None and hit.signature == sig:
                self._cache.move_to_end(path)
                hit.checked = time.monotonic()
                return hit
        if hit is not None:
            grown = self._read_appended(path, hit, sig)
            if grown is not None:
                return self._remember(path, grown)
        return self._remember(path, self._load_current(path))

    def _read_appended(
        self, path: Path, hit: _Cached, sig: tuple[Signature, Signature]
    ) -> _Cached | None:
        """When only the journal grew (the helping day: another process saved a visit),
        apply just its new lines to the cached content; None when a full read is needed."""
        old_journal, new_journal = hit.signature[1], sig[1]
        if (
            hit.signature[0] != sig[0]
            or hit.journal.ident is None
            or old_journal is None
            or new_journal is None
            or old_journal[0] != new_journal[0]  # another journal (a fold came between)
            or new_journal[2] <= hit.journal.valid_bytes
        ):
            return None
        jpath = journal_path(path)
        try:
            with jpath.open("rb") as fh:
                fh.seek(hit.journal.valid_bytes)
                tail = fh.read()
        except FileNotFoundError:
            return None
        complete = tail[: tail.rfind(b"\n") + 1]
        data, consumed, count = hit.data, 0, hit.journal_entries
        for line in complete.split(b"\n")[:-1]:
            try:
                entry = json.loads(line)
            except ValueError:
                return None  # not what a writer leaves behind: read it all again
            data = apply_entry(data, entry)
            consumed += len(line) + 1
            count += 1
        if (signature(path), signature(jpath))[0] != sig[0]:
            return None  # folded while we read
        valid = hit.journal.valid_bytes + consumed
        journal = Journal(ident=hit.journal.ident, valid_bytes=valid, size=new_journal[2])
        return _Cached(sig, data, journal, count)

    def derived(
        self,
        path: Path,
        key: str,
        build: Callable[[dict[str, Any]], T],
        max_age: float | None = None,
    ) -> T:
        """``build(data)`` for the current content of ``path``, cached with the file.

        With ``max_age`` (seconds), a cached entry found current that recently is used
        without asking the disk again: for checks that may be a moment behind another
        process, never for what a writer decides under its lock.
        """
        entry = None
        if max_age is not None:
            with self._cache_lock:
                hit = self._cache.get(path)
            if hit is not None and time.monotonic() - hit.checked < max_age:
                entry = hit
        if entry is None:
            entry = self.read(path)
        if key not in entry.derived:
            entry.derived[key] = build(entry.data)
        return entry.derived[key]

    def journaled(
        self,
        path: Path,
        change: Callable[[dict[str, Any]], tuple[list[dict[str, Any]], T]],
        durable: Callable[[T], None] | None = None,
    ) -> T:
        """Append one change to ``path``'s journal: the cheap write for hot files.

        ``durable(result)``, when given, runs once the change is durable, still under the
        lock and before the journal may be folded away: what must follow the change (its
        audit line) can then be recovered from the journal after a crash in between.

        ``change(data)`` runs under the file's lock with the current content and returns the
        operations to append (none: nothing is written) and a result. The operations are
        durable when this returns; every ``COMPACT_AFTER`` entries the journal is folded into
        the file.
        """
        tlock, flock = self._locks(path)
        with tlock, flock:
            current = self.read(path)
            ops, result = change(current.data)
            if not ops:
                return result
            jpath = journal_path(path)
            line = dumps({"ops": ops}) + b"\n"
            journal = current.journal
            if journal.ident is None:
                # No usable journal yet (or only a header torn by a crash): start one.
                with suppress(FileNotFoundError):
                    jpath.unlink()
                journal = Journal(ident=uuid.uuid4().hex)
                line = dumps({"journal": journal.ident}) + b"\n" + line
            elif journal.size > journal.valid_bytes:
                os.truncate(jpath, journal.valid_bytes)  # drop a torn, unacknowledged tail
            try:
                append_durably(jpath, line)
            except BaseException:
                # Not acknowledged, so it must not be read back either: undo the append.
                with suppress(OSError):
                    if journal.valid_bytes:
                        os.truncate(jpath, journal.valid_bytes)
                    else:
                        jpath.unlink()
                raise
            size = journal.valid_bytes + len(line)
            journal = Journal(ident=journal.ident, valid_bytes=size, size=size)
            data = apply_entry(current.data, {"ops": ops})
            entries = current.journal_entries + 1
            sig = (current.signature[0], signature(jpath))
            self._remember(path, _Cached(sig, data, journal, entries))
            if durable is not None:
                durable(result)
            if entries >= COMPACT_AFTER:
                self._fold(path, data, journal.ident, entries)
            return result

    def _fold(self, path: Path, data: dict[str, Any], ident: str | None, applied: int) -> None:
        """Write the journal's content into the file, then remove the journal. The file says
        which journal it holds, so a crash between the two steps replays nothing twice."""
        folded = dict(data)
        if ident is not None:
            folded[META] = {"1": {"journal": ident, "applied": applied}}
        atomic_write_bytes(path, dumps(folded))
        jpath = journal_path(path)
        if jpath.exists():
            jpath.unlink()
            fsync_dir(path.parent)
        self._remember(path, _Cached((signature(path), None), folded, Journal(), 0))

    @contextmanager
    def transaction(self, path: Path) -> Iterator[TinyDB]:
        """A TinyDB over ``path`` for one read-modify-write, committed atomically on exit.

        The file is locked against other threads and processes for the whole block and read
        fresh from disk inside it (with its journal folded in). An exception in the block
        writes nothing.
        """
        tlock, flock = self._locks(path)
        with tlock, flock:
            current = self._load_current(path)
            db = TinyDB(storage=_MemoryStorage, data=dict(current.data))
            yield db
            # TinyDB types its storage as the base class; this one was made with _MemoryStorage.
            storage: _MemoryStorage = db.storage  # type: ignore[assignment]
            if storage.dirty:
                self._fold(path, storage.data, current.journal.ident, current.journal_entries)

    @contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        tlock, flock = self._locks(path)
        with tlock, flock:
            yield

    def sweep_temp_files(self) -> None:
        """Remove temporary files a crash left behind (old enough not to be in use)."""
        cutoff = time.time() - _STALE_TEMP_SECONDS
        for tmp in self.root.rglob(".*.tmp"):
            with suppress(FileNotFoundError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
