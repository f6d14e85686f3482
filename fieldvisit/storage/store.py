"""The Store: domain-level access to one data folder."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Collection, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..models import AuditEntry, Household, Need, User, Visit
from . import pins
from .audit_log import AuditLog
from .closed import CLOSED, ClosedFiles, MonthClosed
from .closed import SETTING as CLOSED_SETTING
from .durable import atomic_write_bytes, make_dirs
from .files import Files, Records, derived_from, version_of
from .folder_parts import FolderParts
from .journal import Content, StorageError
from .moves import finish_moves, note_moves
from .paths import REGISTRY
from .photos import Photos
from .quarantine import quarantine_misnamed
from .recovery import recover
from .registry_file import REGISTRY_KEYS, Registry, read_registry, registry_rows
from .sessions import SESSIONS, LoginSessions
from .snapshot import Folder, backed_up_paths, snapshot_files
from .visit_files import VisitFiles
from .visit_index import Placed, VisitIndex
from .visit_ops import VillageChanged, closed_in, records_of, save_ops, stored_visit

T = TypeVar("T")
_log = logging.getLogger(__name__)


class Store(FolderParts):
    """Domain-level access to one data folder: the registry, visits and needs here; the
    audit log, photos and login records in the members ``audit_log``, ``photos`` and
    ``sessions``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        make_dirs(self.root)
        self.audit_log = AuditLog(self.root / "audit")
        self._files = Files(self.root, self.audit_log.copy, self.audit_log.sync)
        self._files.sweep_temp_files()
        self._visit_files = VisitFiles(self.root / "visits")
        self.visit_index = VisitIndex(self.root)
        self._registry_path = self.root / REGISTRY
        self.photos = Photos(self.root / "photos")
        self.closed = ClosedFiles(self.root / CLOSED)
        self.sessions = LoginSessions(self._files, self.root / SESSIONS)
        # Files whose names a backup could not hold are moved aside (see quarantine).
        quarantine_misnamed(self.root, backed_up_paths(self._folder()))

    def audit(self, entry: AuditEntry) -> None:
        """Append one audit entry that is a change by itself (a download of full ID
        numbers, a login), durably. A change to stored data passes its entries to the
        function that writes it, which commits both in one write."""
        self.audit_log.append(entry)

    def recover(self) -> tuple[int, int]:
        """After a start: copy into the audit log and the visit-id index what a crash kept
        from them (see ``storage.recovery``). Returns (audit entries, ids) written."""
        return recover(self._files, self._visit_files, self.audit_log, self.visit_index)

    # registry ------------------------------------------------------------------------

    def registry(self) -> Registry:
        """The current registry (cached; read-only); within a request, the one it first
        read (see ``storage.pins``)."""
        registry: Registry = pins.pinned(self, self._read_pinned)[0]
        return registry

    def _read_pinned(self) -> tuple[Registry, Hashable]:
        # Both from one reading of the file: what is kept under the version is made from
        # the very registry it names.
        entry = self._files.read(self._registry_path)
        registry = derived_from(entry, "registry", Registry.from_data)
        return registry, version_of(self._registry_path, entry)

    def _fresh_registry(self) -> Registry:
        return read_registry(self._files, self._registry_path)

    def update_registry(
        self,
        change: Callable[[Registry], T],
        audit: Callable[[T], list[AuditEntry]] | None = None,
        tables: Collection[str] | None = None,
    ) -> T:
        """Apply ``change`` to a private copy of the registry and commit it with the audit
        entries ``audit(result)`` gives, in one durable write.

        ``change`` runs under the registry's lock, on data read fresh from disk; if it raises,
        nothing is written. A change that reads and writes only some tables names them in
        ``tables``: it then gets only those (the others left empty), and only those are
        compared and written — at a county's size the rest (members above all) would cost
        more to decode and compare than the change itself.
        """

        if tables is not None and "households" in tables:
            tables = {*tables, "moves"}  # a household's village change is noted there

        def rows(data: dict[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], tuple[T, bool]]:
            reg = Registry.from_data(data, tables)
            villages = {h.id: h.village_key for h in reg.households.values()}
            result = change(reg)
            # A household's records are filed under its village: one that changed village
            # has them carried over, and the move is written down with the change itself so
            # that a crash half-way through is finished on the next start.
            moved = note_moves(reg, villages)
            return registry_rows(reg, tables), (result, moved)

        def records(outcome: tuple[T, bool]) -> Records:
            return records_of(audit(outcome[0])) if audit is not None else []

        try:
            result, moved = self._files.commit_tables(
                self._registry_path, REGISTRY_KEYS, rows, records
            )
            if moved:
                self.finish_moves()
        finally:
            pins.forget(self)  # the request reads its own write
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
        """Carry the visits and needs of households that changed village into their current
        village's files (see ``storage.moves``). Idempotent, and safe to run again after a
        crash at any point. Run after a registry change that moves households and when the
        app starts."""
        finish_moves(self._files, self._visit_files, self._registry_path)

    # visits ---------------------------------------------------------------------------

    def _visit_path(self, month: str, village: str) -> Path:
        return self._visit_files.path(month, village)

    def _month_paths(self, month: str, max_age: float | None = None) -> list[Path]:
        return self._visit_files.of_month(month, max_age)

    def months(self) -> list[str]:
        """Months that have visit files, oldest first."""
        return self._visit_files.months()

    # versions (see engine.Engine): what a file's cached reading is checked against --------

    def _file_version(self, path: Path) -> Hashable:
        return version_of(path, self._files.read(path))

    def registry_version(self) -> Hashable:
        """Changes whenever the registry (settings and closed months included) does; within
        a request, the version of the registry it reads."""
        version: Hashable = pins.pinned(self, self._read_pinned)[1]
        return version

    def visits_version(self, month: str) -> Hashable:
        """Changes whenever a visit dated in ``month`` is stored, changed or moved."""
        return tuple(self._file_version(p) for p in self._month_paths(month))

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

    def visit_by_id(self, visit_id: str) -> Visit | None:
        """The stored visit of this client id, whatever its date, or None."""
        placed = self.visit_index.get(visit_id)
        return self._placed_visit(visit_id, placed) if placed is not None else None

    def _placed_visit(self, visit_id: str, placed: Placed) -> Visit | None:
        household = self.household(placed.household)
        if household is not None:
            found = self.find_visit(placed.month, household.village_key, visit_id)
            if found is not None:
                return found
        # A move not yet carried out: look in every village's file of the month.
        for path in self._month_paths(placed.month):
            found = stored_visit(self._files.read(path).content, visit_id)
            if found is not None:
                return found
        return None

    def household_visits(
        self, months: Sequence[str], village: str, household_id: str
    ) -> list[Visit]:
        """One household's visits in ``months``, only its records decoded (a page's cost)."""
        files = (self._files.read(self._visit_path(m, village)).data for m in months)
        docs = (d for data in files for d in data.get("visits", {}).values())
        return [Visit.from_doc(d) for d in docs if d.get("household") == household_id]

    def household_needs(self, village: str, household_id: str) -> list[Need]:
        """Every need raised for one household, in any month (its village's files)."""
        found = (n for month in self.months() for n in self.needs(month, village))
        return [n for n in found if n.household == household_id]

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
        needs_for: Callable[[Visit, list[Need]], list[Need]],
        audit: Callable[[Visit], AuditEntry] | None = None,
    ) -> tuple[Visit, bool]:
        """Store a visit with its needs and its audit entry, in one durable write.

        The visit's id is looked up in the visit-id index first, under the id's lock: an id
        already stored, whatever its date, is that visit, so ``decide`` sees it and the
        write goes to its file. ``decide(existing)`` runs under the file's lock with the
        stored visit of ``visit.id`` (or None) and returns the record to write, or None to
        leave the stored one as it is (a resend). Returns the record now stored and whether
        anything was written.

        ``needs_for(record, stored)``, under the same lock, gives the needs to write with the
        record from those of the visit now stored (open and resolved): they are written as
        given, the visit's other open needs are dropped and its other resolved ones kept.
        Which needs keep their state is the ledger's rule (``visits.needs.carry_over``).

        ``decide``, ``needs_for`` and ``audit`` only answer: they may be asked more than
        once (the PostgreSQL engine first asks about a visit not stored, on the registry the
        request read, and asks again under its locks if that was not the case).

        ``audit(record)`` makes the audit entry of a record written; it is encoded into the
        journal line at once (never kept, so not copied). This is the hot path of the
        helping day: one line appended to the file's journal and one fsync, whatever the
        file's size (see ``Files.journaled``).
        """
        with self.visit_index.claim(visit.id) as claim:
            if (placed := claim.placed) and self._placed_visit(visit.id, placed) is None:
                placed = None  # indexed by a write a crash undid: the id is free
            month = placed.month if placed is not None else visit.month
            owner = self.household(placed.household if placed is not None else visit.household)
            target = visit.village if owner is None else owner.village_key
            where = (month, target, owner.id if owner is not None else visit.household)
            stored, written = self._save_in(where, visit, decide, needs_for, audit)
            if written and placed is None:
                try:
                    claim.record(month, stored.household)
                except OSError:  # committed: recovery indexes it from the file on next start
                    _log.exception("could not index visit %s", stored.id)
            return stored, written

    def _save_in(
        self,
        where: tuple[str, str, str],
        visit: Visit,
        decide: Callable[[Visit | None], Visit | None],
        needs_for: Callable[[Visit, list[Need]], list[Need]],
        audit: Callable[[Visit], AuditEntry] | None,
    ) -> tuple[Visit, bool]:
        # The file of the visit stored with this id (or of the new one): its month, and the
        # village of the household it belongs to.
        month, target, owner = where

        def change(content: Content) -> tuple[list[dict[str, Any]], tuple[Visit, bool]]:
            # The office may have moved the household to another village since the request
            # looked it up; under this file's lock that is settled (finish_moves takes it too).
            reg = self._fresh_registry()  # under this file's lock: current for both checks
            household = reg.households.get(owner)
            if household is not None and household.village_key != target:
                raise VillageChanged(household.village_key)
            if closed_in(reg, month):  # see set_month
                raise MonthClosed(month)
            existing = stored_visit(content, visit.id)
            record = decide(existing)
            if record is None:
                if existing is None:
                    raise StorageError(f"nothing to store for visit {visit.id}")
                return [], (existing, False)
            if record.village != target:
                record = dataclasses.replace(record, village=target)
            return save_ops(content.data, existing, record, needs_for), (record, True)

        def records(result: tuple[Visit, bool]) -> Records:
            return [audit(result[0]).doc_view()] if audit is not None and result[1] else []

        for _attempt in range(3):
            try:
                return self._files.journaled(self._visit_path(month, target), change, records)
            except VillageChanged as moved:
                target = moved.village
        raise StorageError(f"household {visit.household} keeps changing village")

    def update_need(
        self,
        month: str,
        village: str,
        need_id: str,
        change: Callable[[Need], AuditEntry | None],
    ) -> Need | None:
        """Apply ``change`` to one stored need and commit it with the audit entry ``change``
        returns, in one durable write; None when there is no such need. When ``change``
        returns None, nothing is written."""
        path = self._visit_path(month, village)

        def ops(content: Content) -> tuple[list[dict[str, Any]], tuple[Need | None, Any]]:
            if (doc := content.find("needs", "id", need_id)) is None:
                return [], (None, None)
            need = Need.from_doc(doc)
            entry = change(need)
            if entry is None:
                return [], (need, None)
            return [{"op": "put", "table": "needs", "doc": need.to_doc()}], (need, entry)

        need, _entry = self._files.journaled(
            path, ops, lambda result: [result[1].to_doc()] if result[1] is not None else []
        )
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
        self.visit_index.add((v.id, v.month, v.household) for v in visits)
        self.visit_index.sync()

    # closed months -----------------------------------------------------------------------

    def closed_months(self) -> dict[str, dict[str, Any]]:
        """Every month ever closed -> its record (``state`` "closed" or "reopened")."""
        months = self.setting(CLOSED_SETTING) or {}
        return dict(months) if isinstance(months, dict) else {}

    def is_closed(self, month: str) -> bool:
        return closed_in(self.registry(), month)

    def set_month(
        self,
        month: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
        audit: Callable[[dict[str, Any]], list[AuditEntry]],
    ) -> dict[str, Any] | None:
        """Change the record of ``month`` (closing or reopening it): ``change(record or
        None)`` returns the new record, or None to leave it as it is; it is committed with
        ``audit(new record)`` in one write. Returns the new record, or None when unchanged.

        Once a month is recorded closed, no save of a visit dated in it begins (saves check
        under their file's lock, see ``_save_in``); to be sure none that checked just
        before is still writing, each of the month's visit files is locked once in turn
        before this returns, so figures read afterwards are final.
        """

        def apply(reg: Registry) -> dict[str, Any] | None:
            months = dict(reg.settings.get(CLOSED_SETTING) or {})
            new = change(months.get(month))
            if new is not None:
                months[month] = new
                reg.settings[CLOSED_SETTING] = months
            return new

        result = self.update_registry(apply, lambda new: audit(new) if new is not None else [])
        if result is not None and result.get("state") == "closed":
            self._drain(month)
        return result

    def _drain(self, month: str) -> None:
        """Wait for every save into ``month``'s files that began before it closed."""
        paths = set(self._visit_files.of_month(month))
        paths.update(self._visit_path(month, v) for v in self.registry().villages)
        paths.update(
            self._visit_path(month, h.village_key) for h in self.registry().households.values()
        )
        for path in sorted(paths):
            with self._files.locked(path):
                pass

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

    def snapshot_files(
        self, include_secret: bool, include_photos: bool
    ) -> Iterator[tuple[str, bytes]]:
        """Every data file as (path relative to the folder, content), in the order a backup
        needs (see ``storage.snapshot``)."""
        return snapshot_files(self._folder(), include_secret, include_photos)

    def _folder(self) -> Folder:
        return Folder(
            self.root, self._files, self._visit_files, self.audit_log, self.photos, self.closed
        )
