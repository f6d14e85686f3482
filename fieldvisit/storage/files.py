"""Locks, atomic transactions, journals and a read cache over the data folder's JSON files."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from .durable import (
    atomic_write_bytes,
    blank_out,
    dumps,
    fsync_dir,
    make_dirs,
    unlink,
    write_at,
)
from .journal import (
    META,
    Content,
    Journal,
    Keys,
    Signature,
    apply_entry,
    entry_line,
    journal_path,
    read_data,
    read_journal,
    replay,
    signature,
)
from .locks import FileLock, lock_for
from .open_journals import JOURNALS

# The only import of TinyDB: the Store's other modules use its tables through these names.
Database = TinyDB
Where = Query

T = TypeVar("T")

# How many parsed files to keep in memory: a township's year of months is ~170 files.
_CACHE_FILES = 2048
# Lock file paths kept by data file (``Files._lock``).
_LOCK_PATHS_KEPT = 65536
# Journal entries appended before a fold rewrites the file (~50 visits) with them: rarely.
COMPACT_AFTER = 64
# A journal this long is folded whatever its number of entries (an import is one big entry).
COMPACT_BYTES = 4 << 20
_log = logging.getLogger(__name__)

# What a commit hands on: the audit entries (as documents) written in its journal line.
Records = list[dict[str, Any]]
_STALE_TEMP_SECONDS = 3600
_RECENT_NS = 2_000_000_000


def _recent(journal: Signature) -> bool:
    """Whether a journal was written so lately that its signature may not show the next
    write: its lines are written over allocated space, so its size stays the same, and a
    file time moves in ticks of some milliseconds. Such a journal's tail is read again."""
    return journal is not None and time.time_ns() - journal[1] < _RECENT_NS


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
    keys: Keys = field(default_factory=Keys)  # of ``data``, for the next entry applied to it
    derived: dict[str, Any] = field(default_factory=dict)
    checked: float = field(default_factory=time.monotonic)  # when last found current on disk

    @property
    def content(self) -> Content:
        return Content(self.data, self.keys)


def derived_from(entry: _Cached, key: str, build: Callable[[dict[str, Any]], T]) -> T:
    """``build(entry.data)``, made once per reading of a file and kept with it."""
    if key not in entry.derived:
        entry.derived[key] = build(entry.data)
    value: T = entry.derived[key]
    return value


def version_of(path: Path, entry: _Cached) -> Hashable:
    """What changes with every committed change of ``path``, by any process, and with every
    fold: its file's identity and its journal's extent, as the reading ``entry`` found them
    (``Files.read`` checks the disk, and re-reads a journal's tail while its time stamp may
    hide a write)."""
    return (path.name, entry.signature[0], entry.journal.ident, entry.journal.valid_bytes)


class Files:
    """Locks, atomic transactions, journals and a read cache over one data folder's files."""

    def __init__(
        self,
        root: Path,
        on_commit: Callable[[Records, list[bytes]], None] | None = None,
        before_fold: Callable[[Records], None] | None = None,
    ) -> None:
        self.root = root
        # ``on_commit(records, lines)`` runs after a journal line with audit entries (the
        # documents, and each as the line holds it) is durable (the Store copies them into
        # the audit log); ``before_fold(records)`` before a journal holding such lines is
        # folded away (the Store makes their copies durable first).
        self.on_commit = on_commit
        self.before_fold = before_fold
        self._cache: OrderedDict[Path, _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._lock_dir = root / ".locks"
        self._lock_paths: dict[Path, Path] = {}  # data file -> its lock file (made once)
        make_dirs(self._lock_dir)

    def _lock(self, path: Path) -> FileLock:
        lock_path = self._lock_paths.get(path)
        if lock_path is None:
            if len(self._lock_paths) >= _LOCK_PATHS_KEPT:
                self._lock_paths.clear()
            rel = path.relative_to(self.root).as_posix().replace("/", "__")
            lock_path = self._lock_paths[path] = self._lock_dir / f"{rel}.lock"
        return lock_for(lock_path)

    def _remember(self, path: Path, entry: _Cached) -> _Cached:
        with self._cache_lock:
            # Put in again rather than moved to the end: the key is then the caller's own
            # Path, which later look-ups find by identity, not by comparing paths.
            self._cache.pop(path, None)
            self._cache[path] = entry
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
        keys = Keys()
        data = replay(base, journal, keys)
        count = len(journal.entries)
        journal.entries = []
        return _Cached(after, data, journal, count, keys)

    def read(self, path: Path) -> _Cached:
        """The file with its journal applied, from cache while neither changed on disk."""
        jpath = journal_path(path)
        with self._cache_lock:
            hit = self._cache.get(path)
        if hit is not None and hit.journal.ident is not None and hit.signature[1] is not None:
            # Its journal, when open here, answers for itself without being asked by path
            # (open_journals); the data file is asked: a transaction that stopped between
            # writing it and removing the journal left new content beside the same journal.
            found = JOURNALS.tail(jpath, hit.signature[1][0], hit.journal.valid_bytes)
            if found is not None and signature(path) == hit.signature[0]:
                grown = self._apply_tail(hit, found[0], (hit.signature[0], found[1]))
                if grown is not None:
                    return self._remember(path, grown)
        sig = (signature(path), signature(jpath))
        with self._cache_lock:
            hit = self._cache.get(path)
            if hit is not None and hit.signature == sig and not _recent(sig[1]):
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
        # A journal that keeps growing is kept open from now on: the next look past its
        # last line is a read of the open file.
        jpath = journal_path(path)
        found = JOURNALS.tail(jpath, new_journal[0], hit.journal.valid_bytes, keep=True)
        if found is None:
            return None
        grown = self._apply_tail(hit, found[0], (sig[0], found[1]))
        if grown is not None and signature(path) != sig[0]:
            return None  # folded while we read
        return grown

    def _apply_tail(
        self, hit: _Cached, tail: bytes, sig: tuple[Signature, Signature]
    ) -> _Cached | None:
        """``hit`` with the complete lines of ``tail``, what its journal now holds past
        them, applied (``sig``: the file's and the journal's signatures now); None when
        they are not what a writer leaves behind."""
        complete = tail[: tail.rfind(b"\n") + 1]
        if not complete:  # nothing new: keep the entry, and what was derived from it
            hit.signature, hit.checked = sig, time.monotonic()
            return hit
        data, consumed, count, keys = hit.data, 0, hit.journal_entries, hit.keys.copy()
        for line in complete.split(b"\n")[:-1]:
            try:
                entry = json.loads(line)
            except ValueError:
                return None  # read it all again
            data = apply_entry(data, entry, keys)
            consumed += len(line) + 1
            count += 1
        valid = hit.journal.valid_bytes + consumed
        size = sig[1][2] if sig[1] is not None else valid
        journal = Journal(ident=hit.journal.ident, valid_bytes=valid, size=size)
        return _Cached(sig, data, journal, count, keys)

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
        return derived_from(entry, key, build)

    def journaled(
        self,
        path: Path,
        change: Callable[[Content], tuple[list[dict[str, Any]], T]],
        audit: Callable[[T], Records] | None = None,
    ) -> T:
        """Append one change to ``path``'s journal: one write and one fsync, the commit.

        ``change(content)`` runs under the file's lock with the current content and returns
        the operations to append and a result; with no operations and no audit entry nothing
        is written. ``audit(result)`` gives the change's audit entries (as documents): they
        are part of the same journal line, so the change and its record are durable together
        or not at all, and are copied into the audit log after the commit (``on_commit``;
        ``storage.recovery`` copies again what a crash kept from reaching it).

        The operations are durable when this returns; every ``COMPACT_AFTER`` entries (or
        ``COMPACT_BYTES``) the journal is folded into the file. What fails after the commit
        (the copy, the fold) is logged, not raised: the change stands and a restart finishes
        the rest.
        """
        with self._lock(path):
            current = self.read(path)
            ops, result = change(current.content)
            # An action that changed nothing may still be one to record (an import of the
            # registry as it stands): its line then holds only the entry.
            records = audit(result) if audit is not None else []
            if not ops and not records:
                return result
            # Each audit entry is encoded once: the journal line holds it, and its copy in
            # the audit log is the same bytes.
            lines = [dumps(record) for record in records]
            # Worked out before the commit (kept only if it succeeds): a thread wakes from the
            # sync with cold CPU caches, and answers sooner the less it has left to do.
            keys = current.keys.copy()
            data = apply_entry(current.data, {"ops": ops}, keys)
            journal, jsig = self._append_entry(path, current, entry_line(ops, lines))
            entries = current.journal_entries + 1
            sig = (current.signature[0], jsig)
            entry = self._remember(path, _Cached(sig, data, journal, entries, keys))
            if records and self.on_commit is not None:
                try:
                    self.on_commit(records, lines)
                except Exception:  # committed: recovery writes the copy on the next start
                    _log.exception("could not copy audit entries after a commit to %s", path)
            if entries >= COMPACT_AFTER or journal.valid_bytes >= COMPACT_BYTES:
                try:
                    self._fold(path, entry)
                except Exception:  # the journal still holds everything: fold next time
                    _log.exception("could not fold the journal of %s", path)
                    self._forget(path)
            return result

    def _forget(self, path: Path) -> None:  # the disk may now be ahead of its cached reading
        with self._cache_lock:
            self._cache.pop(path, None)

    def _append_entry(self, path: Path, current: _Cached, line: bytes) -> tuple[Journal, Signature]:
        """Write the entry ``line`` after the journal's last line and sync it (the commit);
        on failure leave the journal as it was, so that nothing unacknowledged is read back.
        Returns the journal now, and its signature."""
        jpath = journal_path(path)
        journal = current.journal
        try:
            inode = current.signature[1][0] if current.signature[1] is not None else None
            if journal.ident is None:
                # No usable journal yet (or only a header torn by a crash): start one.
                unlink(jpath)
                make_dirs(jpath.parent)
                journal, inode = Journal(ident=uuid.uuid4().hex), None
                line = dumps({"journal": journal.ident}) + b"\n" + line
            # Written where the last complete line ends: over the zeros of an allocated
            # journal, or over what a crash tore (it holds no newline, so whatever of it
            # is left after this line is not read).
            with JOURNALS.writing(jpath, inode) as (fd, written_to):
                allocated = write_at(fd, jpath, line, journal.valid_bytes, journal.size)
            # Its signature as this write left it, without asking: a time stamp of now
            # (what the disk holds may be a tick earlier, which only makes a reading by
            # path look past the last line once more; see ``_recent``).
            sig = (written_to, time.time_ns(), allocated)
            if inode is None:
                fsync_dir(jpath.parent)
        except BaseException:  # not acknowledged, so it must not be read back either
            JOURNALS.forget(jpath)
            with suppress(OSError):
                if current.journal.ident is None:
                    unlink(jpath)
                elif jpath.exists():
                    blank_out(jpath, journal.valid_bytes, len(line))
            self._forget(path)
            raise
        valid = journal.valid_bytes + len(line)
        return Journal(ident=journal.ident, valid_bytes=valid, size=allocated), sig

    def commit_tables(
        self,
        path: Path,
        keys: dict[str, str],
        change: Callable[[dict[str, Any]], tuple[dict[str, list[dict[str, Any]]], T]],
        audit: Callable[[T], Records] | None = None,
    ) -> T:
        """Replace whole tables of ``path`` (``keys``: table -> the field that identifies
        its documents) with the rows ``change(data)`` returns, as one journal line holding
        only the documents that differ, with the change's audit entries (see ``journaled``).
        """

        def diff(content: Content) -> tuple[list[dict[str, Any]], T]:
            rows, result = change(content.data)
            ops: list[dict[str, Any]] = []
            for table, docs in rows.items():
                key = keys[table]
                before = {d.get(key): d for d in content.data.get(table, {}).values()}
                after = {d[key]: d for d in docs}
                ops.extend(
                    {"op": "drop", "table": table, "where": {key: k}}
                    for k in before
                    if k not in after
                )
                ops.extend(
                    {"op": "put", "table": table, "key": key, "doc": d}
                    for k, d in after.items()
                    if before.get(k) != d
                )
            return ops, result

        return self.journaled(path, diff, audit)

    def _fold(self, path: Path, entry: _Cached) -> None:
        """Write ``entry``'s content into the file, then remove its journal. The file says
        which journal it holds, so a crash between the two steps replays nothing twice. The
        audit entries the journal holds are made durable in the audit log first. What the
        entry's Keys know stays true of the file: the next save need not learn it again."""
        jpath, ident = journal_path(path), entry.journal.ident
        if self.before_fold is not None and ident is not None:
            records = [r for e in read_journal(jpath).entries for r in e.get("audit", ())]
            if records:
                self.before_fold(records)
        folded = dict(entry.data)
        if ident is not None:
            folded[META] = {"1": {"journal": ident, "applied": entry.journal_entries}}
        atomic_write_bytes(path, dumps(folded))
        JOURNALS.forget(jpath)
        unlink(jpath)
        self._remember(path, _Cached((signature(path), None), folded, Journal(), 0, entry.keys))

    @contextmanager
    def transaction(self, path: Path) -> Iterator[TinyDB]:
        """A TinyDB over ``path`` for one read-modify-write, committed atomically on exit: the
        file is locked against other threads and processes for the whole block and read fresh
        from disk inside it (its journal folded in). An exception in the block writes nothing."""
        with self._lock(path):
            current = self._load_current(path)
            db = TinyDB(storage=_MemoryStorage, data=dict(current.data))
            yield db
            # TinyDB types its storage as the base class; this one was made with _MemoryStorage.
            storage: _MemoryStorage = db.storage  # type: ignore[assignment]
            if storage.dirty:  # new content: what was known of the old is not of it
                current.data, current.keys = storage.data, Keys()
                self._fold(path, current)

    @contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        with self._lock(path):
            yield

    def sweep_temp_files(self) -> None:
        """Remove temporary files a crash left behind (old enough not to be in use)."""
        cutoff = time.time() - _STALE_TEMP_SECONDS
        for tmp in self.root.rglob(".*.tmp"):
            with suppress(FileNotFoundError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
