"""The one module that owns storage. Nothing else imports TinyDB.

Layout of the data folder::

    registry.json                    villages, households, users, API tokens, settings
    visits/YYYY-MM/<village>.json    the visits and needs of one village in one month
    audit/YYYY-MM.jsonl              append-only audit entries
    .locks/                          one lock file per data file

Why this shape (see docs/decisions/0001-storage.md):

* Durable. TinyDB's JSONStorage rewrites its file in place, so a crash mid-write leaves half a
  file. Here every write goes to a temporary file in the same folder, is fsynced, renamed over
  the old file, and the folder is fsynced: a reader sees the old file or the new one, never a
  mix, and an acknowledged write survives power loss.
* Safe with threads and processes. Each data file has a lock file; a write holds it (a
  ``filelock`` lock, which is an ``flock``, plus a thread lock) for its whole
  read-modify-write, and reads inside the transaction come fresh from disk.
* Fast with history. TinyDB rewrites a whole file per operation, so no file may grow with the
  years: visits are split by month and village (~50 records a file), so saving a visit costs
  the same in year ten as on day one. Reads are cached by file identity (inode, mtime, size),
  so a page that reads a month does not parse JSON that has not changed.

Objects returned by the read functions come from a shared cache: treat them as read-only and
change data only through the ``update_*``/``save_*`` functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
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
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# How many parsed files to keep in memory: a township's year of months is ~170 files.
_CACHE_FILES = 2048


class StorageError(Exception):
    """A data file cannot be read or written."""


# --- low level: one JSON file, written atomically ----------------------------------------


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


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


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


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload``: temp file, fsync, rename, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
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


@dataclass
class _Cached:
    signature: tuple[int, int, int] | None
    data: dict[str, Any]
    derived: dict[str, Any] = field(default_factory=dict)


class _Files:
    """Locks, atomic transactions and a read cache over the JSON files of one data folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: OrderedDict[Path, _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._thread_locks: dict[Path, threading.RLock] = {}
        self._guard = threading.Lock()

    def _locks(self, path: Path) -> tuple[threading.RLock, filelock.FileLock]:
        with self._guard:
            tlock = self._thread_locks.setdefault(path, threading.RLock())
        rel = path.relative_to(self.root).as_posix().replace("/", "__")
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        return tlock, filelock.FileLock(lock_dir / f"{rel}.lock", timeout=60)

    def read(self, path: Path) -> _Cached:
        """The parsed file, from cache while the file on disk is unchanged."""
        sig = _signature(path)
        with self._cache_lock:
            hit = self._cache.get(path)
            if hit is not None and hit.signature == sig:
                self._cache.move_to_end(path)
                return hit
        entry = _Cached(sig, _load(path) if sig else {})
        with self._cache_lock:
            self._cache[path] = entry
            while len(self._cache) > _CACHE_FILES:
                self._cache.popitem(last=False)
        return entry

    def derived(self, path: Path, key: str, build: Callable[[dict[str, Any]], T]) -> T:
        """``build(data)`` for the current content of ``path``, cached with the file."""
        entry = self.read(path)
        if key not in entry.derived:
            entry.derived[key] = build(entry.data)
        return entry.derived[key]

    @contextmanager
    def transaction(self, path: Path) -> Iterator[TinyDB]:
        """A TinyDB over ``path`` for one read-modify-write, committed atomically on exit.

        The file is locked against other threads and processes for the whole block and read
        fresh from disk inside it. An exception in the block writes nothing.
        """
        tlock, flock = self._locks(path)
        with tlock, flock:
            data = _load(path)
            db = TinyDB(storage=_MemoryStorage, data=data)
            yield db
            storage: _MemoryStorage = db.storage  # type: ignore[assignment]
            if storage.dirty:
                payload = json.dumps(storage.data, ensure_ascii=False, separators=(",", ":"))
                atomic_write_bytes(path, payload.encode("utf-8"))
                sig = _signature(path)
                with self._cache_lock:
                    self._cache[path] = _Cached(sig, storage.data)
                    self._cache.move_to_end(path)

    @contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        tlock, flock = self._locks(path)
        with tlock, flock:
            yield


# --- the registry -------------------------------------------------------------------------


@dataclass
class Registry:
    """Everything in registry.json, as domain objects keyed by their stable ids."""

    villages: dict[str, Village] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, ApiToken] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
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
        )
        reg.by_token = {h.token: h.id for h in reg.households.values()}
        return reg


_REGISTRY_TABLES = ("villages", "households", "users", "tokens", "settings")


def _write_registry(db: TinyDB, reg: Registry) -> None:
    rows: dict[str, list[dict[str, Any]]] = {
        "villages": [v.to_doc() for v in reg.villages.values()],
        "households": [h.to_doc() for h in reg.households.values()],
        "users": [u.to_doc() for u in reg.users.values()],
        "tokens": [t.to_doc() for t in reg.tokens.values()],
        "settings": [{"key": k, "value": v} for k, v in reg.settings.items()],
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
        self.root.mkdir(parents=True, exist_ok=True)
        self._files = _Files(self.root)

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
            result = change(reg)
            _write_registry(db, reg)
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

    # visits ---------------------------------------------------------------------------

    def _visit_path(self, month: str, village: str) -> Path:
        return self.root / "visits" / check_month(month) / village_file_name(village)

    def _month_paths(self, month: str) -> list[Path]:
        folder = self.root / "visits" / check_month(month)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix == ".json")

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
        """Store a visit with its needs in its month and village file, atomically.

        ``decide(existing)`` runs under the file's lock with the stored visit of ``visit.id``
        (or None) and returns the record to write, or None to leave the stored one as it is
        (a resend). Returns the record now stored and whether anything was written. The
        record's open needs are replaced by ``needs_for(record)``; resolved ones are kept.
        """
        path = self._visit_path(visit.month, visit.village)
        q = Query()
        with self._files.transaction(path) as db:
            visits = db.table("visits", cache_size=0)
            found = visits.get(q.id == visit.id)
            existing = Visit.from_doc(dict(found)) if found else None
            record = decide(existing)
            if record is None:
                assert existing is not None
                return existing, False
            if found is not None:
                visits.update(record.to_doc(), doc_ids=[found.doc_id])
            else:
                visits.insert(record.to_doc())
            table = db.table("needs", cache_size=0)
            table.remove((q.visit == visit.id) & (q.status == "open"))
            kept = {d["id"] for d in table.search(q.visit == visit.id)}
            fresh = [n.to_doc() for n in needs_for(record) if n.id not in kept]
            if fresh:
                table.insert_multiple(fresh)
        return record, True

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
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry.to_doc(), ensure_ascii=False, default=str) + "\n"
        with self._files.locked(path):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

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
