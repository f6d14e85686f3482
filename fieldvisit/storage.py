"""The one module that owns storage. Nothing else imports TinyDB.

Layout of the data folder::

    registry.json                        villages, households, users, API tokens, settings
    visits/YYYY-MM/<village>.json        the visits and needs of one village in one month
    visits/YYYY-MM/<village>.json.log    its journal: changes not yet folded into the file
    audit/YYYY-MM.jsonl                  append-only audit entries
    .locks/                              one lock file per data file

Why this shape (see docs/decisions/0001-storage.md):

* Durable. TinyDB's JSONStorage rewrites its file in place, so a crash mid-write leaves half a
  file. Here a file is replaced by writing a temporary file, fsyncing it, renaming it over the
  old one and fsyncing the folder: a reader sees the old file or the new one, never a mix.
* Cheap on the helping day. Saving a visit appends one line to its file's journal and fsyncs
  it, instead of rewriting the file; every ``COMPACT_AFTER`` saves the journal is folded into
  the file. A line torn by a crash was never acknowledged and is ignored (and cut off by the
  next writer); the folded file records which journal it holds, so a crash between the fold
  and the journal's removal replays nothing twice.
* Safe with threads and processes. Each data file has a lock file; a write holds it (a
  ``filelock`` lock, which is an ``flock``, plus a thread lock) for its whole
  read-modify-write.
* Fast with history. No file grows with the years: visits are split by month and village
  (~50 records a file), so saving a visit costs the same in year ten as on day one. Reads are
  cached by the identity (inode, mtime, size) of the file and of its journal, so a page that
  reads a month does not parse JSON that has not changed, and a change made by another
  process is seen at once.

Objects returned by the read functions come from a shared cache: treat them as read-only and
change data only through the ``update_*``/``save_*`` functions.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import tempfile
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

from .models import ApiToken, AuditEntry, Household, Need, User, Village, Visit

T = TypeVar("T")

REGISTRY = "registry.json"
_MONTH_RE = re.compile(r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$")
# How many parsed files to keep in memory: a township's year of months is ~170 files.
_CACHE_FILES = 2048


class StorageError(Exception):
    """A data file cannot be read or written."""


class _VillageChanged(Exception):
    """The household of a visit being saved is now filed under another village."""

    def __init__(self, village: str) -> None:
        super().__init__(village)
        self.village = village


# --- low level: one JSON file, its journal, written durably ------------------------------

JOURNAL_SUFFIX = ".log"
# Journal entries appended before they are folded into the TinyDB file. A fold rewrites the
# file (~50 visits); amortised over this many saves it costs little.
COMPACT_AFTER = 64
_META = "_meta"  # in a folded file: which journal (and how much of it) it already holds
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


Signature = tuple[int, int, int] | None


def _signature(path: Path) -> Signature:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8192)
def _journal_path(path: Path) -> Path:
    # Cached: every read of a visit file asks for it, and Path arithmetic is not free.
    return path.with_name(path.name + JOURNAL_SUFFIX)


def _load(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:  # never written by us: renames are atomic
        raise StorageError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise StorageError(f"{path} does not hold a TinyDB database")
    return data


@dataclass
class _Journal:
    """An append-only file of changes to one data file: a header line with its identity,
    then one JSON line per acknowledged change."""

    ident: str | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    valid_bytes: int = 0  # complete lines; a line torn by a crash lies beyond
    size: int = 0


def _read_journal(path: Path) -> _Journal:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _Journal()
    journal = _Journal(size=len(raw))
    complete = raw[: raw.rfind(b"\n") + 1]
    for line in complete.split(b"\n")[:-1]:
        try:
            item = json.loads(line)
        except ValueError:
            break  # a torn write: nothing after it was acknowledged
        if journal.ident is None:
            if not isinstance(item, dict) or not isinstance(item.get("journal"), str):
                break
            journal.ident = item["journal"]
        else:
            journal.entries.append(item)
        journal.valid_bytes += len(line) + 1
    return journal


def _apply(data: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """``data`` with one journal entry applied, as a new dict: tables are copied, documents
    are replaced and never changed in place, so readers of the old dict are safe.

    Operations are idempotent (``put`` upserts by ``id``; ``drop`` removes matches), so
    replaying a journal over a file that already holds part of it gives the same result.
    """
    out = dict(data)
    for op in entry["ops"]:
        table: dict[str, Any] = dict(out.get(op["table"], {}))
        if op["op"] == "put":
            doc = op["doc"]
            for doc_id, existing in table.items():
                if existing.get("id") == doc["id"]:
                    table[doc_id] = doc
                    break
            else:
                table[str(max((int(k) for k in table), default=0) + 1)] = doc
        elif op["op"] == "drop":
            where = op["where"]
            table = {k: d for k, d in table.items() if any(d.get(f) != v for f, v in where.items())}
        else:
            raise StorageError(f"unknown journal operation {op['op']!r}")
        out[op["table"]] = table
    return out


def _merge(base: dict[str, Any], journal: _Journal) -> dict[str, Any]:
    meta = base.get(_META, {}).get("1", {})
    skip = meta.get("applied", 0) if meta.get("journal") == journal.ident else 0
    data = base
    for entry in journal.entries[skip:]:
        data = _apply(data, entry)
    return data


def _fsync_dir(folder: Path) -> None:
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
        _fsync_dir(new.parent)


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
    _fsync_dir(path.parent)


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
        _fsync_dir(path.parent)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class _Cached:
    signature: tuple[Signature, Signature]  # the file's and its journal's
    data: dict[str, Any]
    journal: _Journal  # without its entries: only identity and extent matter here
    journal_entries: int = 0
    derived: dict[str, Any] = field(default_factory=dict)
    checked: float = field(default_factory=time.monotonic)  # when last found current on disk


class _Files:
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
        jpath = _journal_path(path)
        # Another process may fold the journal while we read: retry until the file and its
        # journal are the same before and after, so base and journal belong together.
        for _attempt in range(5):
            before = (_signature(path), _signature(jpath))
            base = _load(path)
            journal = _read_journal(jpath)
            after = (_signature(path), _signature(jpath))
            if before == after:
                break
        data = _merge(base, journal)
        count = len(journal.entries)
        journal.entries = []
        return _Cached(after, data, journal, count)

    def read(self, path: Path) -> _Cached:
        """The file with its journal applied, from cache while neither changed on disk."""
        sig = (_signature(path), _signature(_journal_path(path)))
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
        jpath = _journal_path(path)
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
            data = _apply(data, entry)
            consumed += len(line) + 1
            count += 1
        if (_signature(path), _signature(jpath))[0] != sig[0]:
            return None  # folded while we read
        valid = hit.journal.valid_bytes + consumed
        journal = _Journal(ident=hit.journal.ident, valid_bytes=valid, size=new_journal[2])
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
        self, path: Path, change: Callable[[dict[str, Any]], tuple[list[dict[str, Any]], T]]
    ) -> T:
        """Append one change to ``path``'s journal: the cheap write for hot files.

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
            jpath = _journal_path(path)
            line = _dumps({"ops": ops}) + b"\n"
            journal = current.journal
            if journal.ident is None:
                # No usable journal yet (or only a header torn by a crash): start one.
                with suppress(FileNotFoundError):
                    jpath.unlink()
                journal = _Journal(ident=uuid.uuid4().hex)
                line = _dumps({"journal": journal.ident}) + b"\n" + line
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
            journal = _Journal(ident=journal.ident, valid_bytes=size, size=size)
            data = _apply(current.data, {"ops": ops})
            entries = current.journal_entries + 1
            sig = (current.signature[0], _signature(jpath))
            self._remember(path, _Cached(sig, data, journal, entries))
            if entries >= COMPACT_AFTER:
                self._fold(path, data, journal.ident, entries)
            return result

    def _fold(self, path: Path, data: dict[str, Any], ident: str | None, applied: int) -> None:
        """Write the journal's content into the file, then remove the journal. The file says
        which journal it holds, so a crash between the two steps replays nothing twice."""
        folded = dict(data)
        if ident is not None:
            folded[_META] = {"1": {"journal": ident, "applied": applied}}
        atomic_write_bytes(path, _dumps(folded))
        jpath = _journal_path(path)
        if jpath.exists():
            jpath.unlink()
            _fsync_dir(path.parent)
        self._remember(path, _Cached((_signature(path), None), folded, _Journal(), 0))

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


def _docs_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in data.get("visits", {}).values() if "id" in d}


# --- the registry -------------------------------------------------------------------------


@dataclass
class Registry:
    """Everything in registry.json, as domain objects keyed by their stable ids."""

    villages: dict[str, Village] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, ApiToken] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    # Households whose village changed and whose visits and needs still lie (partly) in the
    # old village's files: {"household": 户编号, "from": old village}. See Store.finish_moves.
    moves: list[dict[str, str]] = field(default_factory=list)
    by_token: dict[str, str] = field(default_factory=dict)  # QR token -> 户编号

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Registry:
        def docs(table: str) -> list[dict[str, Any]]:
            return list(data.get(table, {}).values())

        reg = cls(
            villages={d["name"]: Village.from_doc(d) for d in docs("villages")},
            households={d["id"]: Household.from_doc(d) for d in docs("households")},
            users={d["phone"]: User.from_doc(d) for d in docs("users")},
            tokens={d["digest"]: ApiToken.from_doc(d) for d in docs("tokens")},
            settings={d["key"]: d["value"] for d in docs("settings")},
            moves=[{"household": d["household"], "from": d["from"]} for d in docs("moves")],
        )
        reg.by_token = {h.token: h.id for h in reg.households.values()}
        return reg


_REGISTRY_TABLES = ("villages", "households", "users", "tokens", "settings", "moves")


def _write_registry(db: TinyDB, reg: Registry) -> None:
    rows: dict[str, list[dict[str, Any]]] = {
        "villages": [v.to_doc() for v in reg.villages.values()],
        "households": [h.to_doc() for h in reg.households.values()],
        "users": [u.to_doc() for u in reg.users.values()],
        "tokens": [t.to_doc() for t in reg.tokens.values()],
        "settings": [{"key": k, "value": v} for k, v in reg.settings.items()],
        "moves": list(reg.moves),
    }
    for name in _REGISTRY_TABLES:
        table = db.table(name, cache_size=0)
        table.truncate()
        if rows[name]:
            table.insert_multiple(rows[name])


# --- the store ----------------------------------------------------------------------------


def village_file_name(village: str) -> str:
    """A safe file name for a village: readable, yet no name can escape the folder."""
    readable = re.sub(r"[^\w\u4e00-\u9fff]+", "_", village).strip("_")[:40] or "village"
    digest = hashlib.sha1(village.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}.json"


def check_month(month: str) -> str:
    if not _MONTH_RE.match(month):
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return month


class Store:
    """Domain-level access to one data folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        make_dirs(self.root)
        self._files = _Files(self.root)
        self._files.sweep_temp_files()
        # folder -> (its mtime, the files in it, when that was last found current)
        self._listings: dict[Path, tuple[int, list[Path], float]] = {}

    # registry ------------------------------------------------------------------------

    @property
    def _registry_path(self) -> Path:
        return self.root / REGISTRY

    def registry(self) -> Registry:
        """The current registry (cached; read-only)."""
        return self._files.derived(self._registry_path, "registry", Registry.from_data)

    def update_registry(self, change: Callable[[Registry], T]) -> T:
        """Apply ``change`` to a private copy of the registry and write it atomically.

        ``change`` runs under the registry's lock, on data read fresh from disk; if it raises,
        nothing is written.
        """
        with self._files.transaction(self._registry_path) as db:
            reg = Registry.from_data(db.storage.read())
            villages = {h.id: h.village for h in reg.households.values()}
            result = change(reg)
            # A household's records are filed under its village: one that changed village
            # has them carried over, and the move is written down with the change itself so
            # that a crash half-way through is finished on the next start.
            moved = [
                {"household": h.id, "from": villages[h.id]}
                for h in reg.households.values()
                if h.id in villages and h.village != villages[h.id]
            ]
            reg.moves.extend(moved)
            _write_registry(db, reg)
        if moved:
            self.finish_moves()
        return result

    def is_empty(self) -> bool:
        return not self.registry().households and not self.registry().users

    def household(self, household_id: str) -> Household | None:
        return self.registry().households.get(household_id)

    def household_by_token(self, token: str) -> Household | None:
        reg = self.registry()
        hid = reg.by_token.get(token)
        return reg.households.get(hid) if hid else None

    def user(self, phone: str) -> User | None:
        return self.registry().users.get(phone)

    def setting(self, key: str, default: Any = None) -> Any:
        return self.registry().settings.get(key, default)

    # households that changed village ---------------------------------------------------

    def finish_moves(self) -> None:
        """Carry the visits and needs of households that changed village (an edit, a
        re-import after villages merged, a misspelt village corrected) into their current
        village's files, so that their page, the ledger and the village figures find them.

        Idempotent, and safe to run again after a crash at any point: records are copied
        (those already there skipped) before they are removed from the old file, and the
        moves are forgotten only when every month is done. Run after a registry change that
        moves households and when the app starts.
        """
        with self._files.locked(self.root / ".moves"):
            pending = list(self.registry().moves)
            if not pending:
                return
            households = self.registry().households
            # old village -> {household: its village now}
            plan: dict[str, dict[str, str]] = {}
            for move in pending:
                household = households.get(move["household"])
                if household is not None and household.village != move["from"]:
                    plan.setdefault(move["from"], {})[household.id] = household.village
            for month in self.months():
                for source, targets in plan.items():
                    self._move_records(month, source, targets)

            def forget(reg: Registry) -> None:
                reg.moves = [m for m in reg.moves if m not in pending]

            with self._files.transaction(self._registry_path) as db:
                reg = Registry.from_data(db.storage.read())
                forget(reg)
                _write_registry(db, reg)

    def _move_records(self, month: str, source: str, targets: dict[str, str]) -> None:
        """Move one month's records of the households in ``targets`` out of ``source``'s
        file into their new villages' files."""
        path = self._visit_path(month, source)
        if not path.exists() and not _journal_path(path).exists():
            return
        # The old file stays locked throughout, so no record of it is removed uncopied.
        with self._files.locked(path):
            data = self._files.read(path).data
            moving: dict[str, dict[str, list[dict[str, Any]]]] = {}
            for table in ("visits", "needs"):
                for doc in data.get(table, {}).values():
                    target = targets.get(doc.get("household", ""))
                    if target is not None:
                        docs = moving.setdefault(target, {}).setdefault(table, [])
                        docs.append({**doc, "village": target})
            if not moving:
                return
            for target, tables in moving.items():
                with self._files.transaction(self._visit_path(month, target)) as db:
                    for table, docs in tables.items():
                        there = db.table(table, cache_size=0)
                        present = {d.get("id") for d in there.all()}
                        new = [d for d in docs if d["id"] not in present]
                        if new:
                            there.insert_multiple(new)
            q = Query()
            with self._files.transaction(path) as db:
                for table in ("visits", "needs"):
                    db.table(table, cache_size=0).remove(q.household.one_of(list(targets)))

    # visits ---------------------------------------------------------------------------

    def _visit_path(self, month: str, village: str) -> Path:
        return self.root / "visits" / check_month(month) / village_file_name(village)

    def _month_paths(self, month: str, max_age: float | None = None) -> list[Path]:
        folder = self.root / "visits" / check_month(month)
        recent = self._listings.get(folder)
        if max_age is not None and recent is not None and time.monotonic() - recent[2] < max_age:
            return recent[1]
        # A folder's mtime changes whenever a file in it is created, renamed or removed (not
        # when a journal grows), so its listing can be cached on it. Timestamps are coarse (a
        # few ms), so a listing is trusted only once its mtime is a second old: two changes
        # within one tick would otherwise leave the same mtime and a stale listing.
        try:
            mtime = os.stat(folder).st_mtime_ns
        except FileNotFoundError:
            return []
        cached = self._listings.get(folder)
        if cached is not None and cached[0] == mtime and time.time_ns() - mtime > 1_000_000_000:
            self._listings[folder] = (mtime, cached[1], time.monotonic())
            return cached[1]
        # A village's file may exist only as its journal until the first fold.
        names = {
            p.name.removesuffix(JOURNAL_SUFFIX)
            for p in folder.iterdir()
            if p.name.endswith((".json", ".json" + JOURNAL_SUFFIX)) and not p.name.startswith(".")
        }
        paths = [folder / name for name in sorted(names)]
        self._listings[folder] = (mtime, paths, time.monotonic())
        return paths

    def months(self) -> list[str]:
        """Months that have visit files, oldest first."""
        folder = self.root / "visits"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if _MONTH_RE.match(p.name))

    def _visits_of(self, path: Path) -> list[Visit]:
        return self._files.derived(
            path,
            "visits",
            lambda data: [Visit.from_doc(d) for d in data.get("visits", {}).values()],
        )

    def _needs_of(self, path: Path) -> list[Need]:
        return self._files.derived(
            path,
            "needs",
            lambda data: [Need.from_doc(d) for d in data.get("needs", {}).values()],
        )

    def visits(self, month: str, village: str | None = None) -> list[Visit]:
        """The visits dated in ``month`` (optionally of one village)."""
        paths = [self._visit_path(month, village)] if village else self._month_paths(month)
        out: list[Visit] = []
        for path in paths:
            out.extend(self._visits_of(path))
        return out

    def find_visit_in_month(self, month: str, visit_id: str) -> Visit | None:
        """The visit with this client id in any village's file of ``month``.

        Used on every save to refuse an id another village's visit already has; it may be
        a second behind another process (a resend is caught exactly, under its own file's
        lock), which keeps the helping day's hot path from asking the disk about every
        village's file each time.
        """
        for path in self._month_paths(month, max_age=1.0):
            by_id = self._files.derived(path, "visit_ids", _docs_by_id, max_age=1.0)
            if visit_id in by_id:
                return Visit.from_doc(by_id[visit_id])
        return None

    def household_visits(self, month: str, village: str, household_id: str) -> list[Visit]:
        """One household's visits in ``month``: only its records are decoded, so a household
        page stays cheap while its village's file grows on the helping day."""
        data = self._files.read(self._visit_path(month, village)).data
        return [
            Visit.from_doc(d)
            for d in data.get("visits", {}).values()
            if d.get("household") == household_id
        ]

    def needs(self, month: str, village: str | None = None) -> list[Need]:
        """The needs raised in visits dated in ``month``."""
        paths = [self._visit_path(month, village)] if village else self._month_paths(month)
        out: list[Need] = []
        for path in paths:
            out.extend(self._needs_of(path))
        return out

    def find_visit(self, month: str, village: str, visit_id: str) -> Visit | None:
        for visit in self._visits_of(self._visit_path(month, village)):
            if visit.id == visit_id:
                return visit
        return None

    def save_visit(
        self,
        visit: Visit,
        decide: Callable[[Visit | None], Visit | None],
        needs_for: Callable[[Visit], list[Need]],
    ) -> tuple[Visit, bool]:
        """Store a visit with its needs in its month and village file, durably.

        ``decide(existing)`` runs under the file's lock with the stored visit of ``visit.id``
        (or None) and returns the record to write, or None to leave the stored one as it is
        (a resend). Returns the record now stored and whether anything was written. The
        record's open needs are replaced by ``needs_for(record)``; resolved ones are kept.

        This is the hot path of the helping day: one line appended to the file's journal and
        one fsync, whatever the file's size (see ``_Files.journaled``).
        """
        target = visit

        def change(data: dict[str, Any]) -> tuple[list[dict[str, Any]], tuple[Visit, bool]]:
            # The office may have moved the household to another village since the request
            # looked it up; under this file's lock that is settled (finish_moves takes it too).
            household = self.household(visit.household)
            if household is not None and household.village != target.village:
                raise _VillageChanged(household.village)
            found = next(
                (d for d in data.get("visits", {}).values() if d.get("id") == visit.id), None
            )
            existing = Visit.from_doc(found) if found else None
            record = decide(existing)
            if record is None:
                assert existing is not None
                return [], (existing, False)
            if record.village != target.village:
                record = dataclasses.replace(record, village=target.village)
            stored = {
                d["id"]: d for d in data.get("needs", {}).values() if d.get("visit") == visit.id
            }
            ops: list[dict[str, Any]] = [
                {"op": "put", "table": "visits", "doc": record.to_doc()},
                {"op": "drop", "table": "needs", "where": {"visit": visit.id, "status": "open"}},
            ]
            for need in needs_for(record):
                doc = need.to_doc()
                old = stored.get(need.id)
                if old is not None and old.get("status") != "open":
                    continue  # resolved (销号) stays resolved
                if old is not None:
                    # The same need kept in a correction keeps its ledger history and comments.
                    doc = {**old, **{k: doc[k] for k in ("urgent", "raised_by", "raised_at")}}
                ops.append({"op": "put", "table": "needs", "doc": doc})
            return ops, (record, True)

        for _attempt in range(3):
            try:
                return self._files.journaled(self._visit_path(visit.month, target.village), change)
            except _VillageChanged as moved:
                target = dataclasses.replace(target, village=moved.village)
        raise StorageError(f"household {visit.household} keeps changing village")

    def update_need(
        self, month: str, village: str, need_id: str, change: Callable[[Need], None]
    ) -> Need | None:
        """Apply ``change`` to one stored need; None when there is no such need."""
        path = self._visit_path(month, village)
        q = Query()
        with self._files.transaction(path) as db:
            table = db.table("needs", cache_size=0)
            doc = table.get(q.id == need_id)
            if doc is None:
                return None
            need = Need.from_doc(dict(doc))
            change(need)
            table.update(need.to_doc(), doc_ids=[doc.doc_id])
        return need

    def import_visits(self, visits: list[Visit], needs: list[Need]) -> None:
        """Bulk-load visits (the demo township's history): one write per file."""
        groups: dict[Path, tuple[list[Visit], list[Need]]] = {}
        for v in visits:
            groups.setdefault(self._visit_path(v.month, v.village), ([], []))[0].append(v)
        for n in needs:
            groups.setdefault(self._visit_path(n.raised_at[:7], n.village), ([], []))[1].append(n)
        for path, (vs, ns) in groups.items():
            with self._files.transaction(path) as db:
                if vs:
                    db.table("visits", cache_size=0).insert_multiple(v.to_doc() for v in vs)
                if ns:
                    db.table("needs", cache_size=0).insert_multiple(n.to_doc() for n in ns)

    # audit ----------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        """Append one audit entry, durably. The log is never rewritten."""
        path = self.root / "audit" / f"{entry.at[:7]}.jsonl"
        line = json.dumps(entry.to_doc(), ensure_ascii=False, default=str) + "\n"
        # One O_APPEND write is atomic among writers, so no lock is needed.
        append_durably(path, line.encode("utf-8"))

    def audit_entries(self, month: str) -> list[AuditEntry]:
        path = self.root / "audit" / f"{check_month(month)}.jsonl"
        out: list[AuditEntry] = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return out
        for line in lines:
            try:
                out.append(AuditEntry.from_doc(json.loads(line)))
            except ValueError:
                continue  # a line cut short by a crash mid-append
        return out

    # small files ------------------------------------------------------------------------

    def secret(self, name: str, make: Callable[[], str]) -> str:
        """A value kept in its own file (the generated secret key), created once."""
        path = self.root / name
        with self._files.locked(path):
            if path.exists():
                return path.read_text(encoding="utf-8").strip()
            value = make()
            atomic_write_bytes(path, value.encode("utf-8"))
            os.chmod(path, 0o600)
            return value

    # photos ------------------------------------------------------------------------------
    # data/photos/YYYY-MM/<visit id>/<photo id>.jpg and .thumb.jpg. The caller passes ids
    # it has checked against PHOTO_ID_RE; the file names are made here, never from a name
    # a client sent, and the month is the visit's.

    def _photo_folder(self, month: str, visit_id: str) -> Path:
        if not PHOTO_ID_RE.match(visit_id):
            raise StorageError(f"bad visit id {visit_id!r}")
        return self.root / "photos" / check_month(month) / visit_id

    def save_photo(
        self, month: str, visit_id: str, photo_id: str, full: bytes, thumb: bytes
    ) -> None:
        """Store a photo and its thumbnail durably (the thumbnail first: a photo listed in
        a visit always has both)."""
        if not PHOTO_ID_RE.match(photo_id):
            raise StorageError(f"bad photo id {photo_id!r}")
        folder = self._photo_folder(month, visit_id)
        atomic_write_bytes(folder / f"{photo_id}.thumb.jpg", thumb)
        atomic_write_bytes(folder / f"{photo_id}.jpg", full)

    def photo_path(self, month: str, visit_id: str, photo_id: str, thumb: bool) -> Path | None:
        """The stored file of a photo, or None."""
        if not PHOTO_ID_RE.match(photo_id) or not PHOTO_ID_RE.match(visit_id):
            return None
        path = self._photo_folder(month, visit_id) / (
            f"{photo_id}.thumb.jpg" if thumb else f"{photo_id}.jpg"
        )
        return path if path.is_file() else None

    def photo_months(self, visit_id: str) -> list[str]:
        """Months (newest first) that hold photos of this visit id."""
        if not PHOTO_ID_RE.match(visit_id):
            return []
        folder = self.root / "photos"
        if not folder.is_dir():
            return []
        return sorted(
            (
                p.name
                for p in folder.iterdir()
                if _MONTH_RE.match(p.name) and (p / visit_id).is_dir()
            ),
            reverse=True,
        )

    # audit months and snapshots ------------------------------------------------------------

    def audit_months(self) -> list[str]:
        """Months that have audit entries, oldest first."""
        folder = self.root / "audit"
        if not folder.is_dir():
            return []
        return sorted(
            p.stem for p in folder.iterdir() if p.suffix == ".jsonl" and _MONTH_RE.match(p.stem)
        )

    def snapshot_files(
        self, include_secret: bool, include_photos: bool
    ) -> Iterator[tuple[str, bytes]]:
        """Every data file as (path relative to the folder, content), each from one moment.

        A JSON data file and its journal are read together under the file's lock, so the
        pair is consistent; that per-file consistency is what this module promises (there
        is no moment at which the whole folder is frozen). The order keeps references
        whole: visit files first, then the registry, so every visit in the snapshot names a
        household in it (households are never removed); photos last, so every photo a
        visit lists is there (photo files are written before the visit names them, and
        never changed). Audit logs are cut after their last complete line. Lock files,
        temporary files and report files (``exports/``, made again on demand) are left out.
        """
        paths: list[Path] = []
        for month in self.months():
            paths.extend(self._month_paths(month))
        paths.append(self._registry_path)
        for path in paths:
            with self._files.locked(path):
                pair = [path, _journal_path(path)]
                found = [(p, p.read_bytes()) for p in pair if p.exists()]
            for p, payload in found:
                yield p.relative_to(self.root).as_posix(), payload
        for month in self.audit_months():
            path = self.root / "audit" / f"{month}.jsonl"
            raw = path.read_bytes()
            yield path.relative_to(self.root).as_posix(), raw[: raw.rfind(b"\n") + 1]
        if include_photos and (self.root / "photos").is_dir():
            for photo in sorted((self.root / "photos").rglob("*.jpg")):
                if not photo.name.startswith("."):
                    yield photo.relative_to(self.root).as_posix(), photo.read_bytes()
        secret = self.root / "secret_key"
        if include_secret and secret.is_file():
            yield "secret_key", secret.read_bytes()

    def audit_log(self, month: str) -> list[AuditEntry]:
        """The month's audit entries (read-only), parsed once per process: the log only
        grows, so each call parses just the lines appended since the last one. The newest
        ``_AUDIT_CACHE_MONTHS`` months stay in memory."""
        path = self.root / "audit" / f"{check_month(month)}.jsonl"
        cache: OrderedDict[str, tuple[int, int, list[AuditEntry]]] = self.__dict__.setdefault(
            "_audit_cache", OrderedDict()
        )
        with self._files._cache_lock:
            sig = _signature(path)
            if sig is None:
                cache.pop(month, None)
                return []
            inode, offset, entries = cache.get(month, (sig[0], 0, []))
            if inode != sig[0] or offset > sig[2]:  # replaced (a restore): start again
                offset, entries = 0, []
            if offset < sig[2]:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    raw = fh.read()
                complete = raw[: raw.rfind(b"\n") + 1]  # a line being appended waits
                entries = list(entries)  # a caller may hold the old list
                for line in complete.splitlines():
                    try:
                        entries.append(AuditEntry.from_doc(json.loads(line)))
                    except ValueError:
                        continue  # a line cut short by a crash mid-append
                offset += len(complete)
            cache[month] = (sig[0], offset, entries)
            cache.move_to_end(month)
            while len(cache) > _AUDIT_CACHE_MONTHS:
                cache.popitem(last=False)
            return entries


# Months of parsed audit entries a Store keeps in memory (Store.audit_log).
_AUDIT_CACHE_MONTHS = 24

# Visit and photo ids as they may appear in a photo's path: no dots, no slashes.
PHOTO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$")
