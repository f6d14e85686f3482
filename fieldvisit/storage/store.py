"""The Store: domain-level access to one data folder."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ..models import AuditEntry, Household, Need, User, Visit
from .audit_log import AuditLog
from .durable import atomic_write_bytes, make_dirs
from .files import Files, Where
from .journal import JOURNAL_SUFFIX, StorageError, journal_path, read_journal
from .moves import finish_moves, note_moves
from .paths import REGISTRY
from .photos import Photos
from .quarantine import quarantine_misnamed
from .registry_file import Registry, read_registry, write_registry
from .sessions import SESSIONS, LoginSessions
from .visit_files import VisitFiles

T = TypeVar("T")


class _VillageChanged(Exception):
    """The household of a visit being saved is now filed under another village."""

    def __init__(self, village: str) -> None:
        super().__init__(village)
        self.village = village


def _docs_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in data.get("visits", {}).values() if "id" in d}


def _stored_visit(data: dict[str, Any], visit_id: str) -> Visit | None:
    """The visit of this id in a visit file's content, or None."""
    found = next((d for d in data.get("visits", {}).values() if d.get("id") == visit_id), None)
    return Visit.from_doc(found) if found else None


def _save_ops(
    data: dict[str, Any],
    visit_id: str,
    record: Visit,
    needs_for: Callable[[Visit, list[Need]], list[Need]],
) -> list[dict[str, Any]]:
    """The journal operations that store ``record`` (of ``visit_id``) with its needs in a
    visit file whose content is ``data``: see ``Store.save_visit``."""
    stored = [
        Need.from_doc(d) for d in data.get("needs", {}).values() if d.get("visit") == visit_id
    ]
    ops: list[dict[str, Any]] = [
        {"op": "put", "table": "visits", "doc": record.to_doc()},
        {"op": "drop", "table": "needs", "where": {"visit": visit_id, "status": "open"}},
    ]
    ops.extend(
        {"op": "put", "table": "needs", "doc": need.to_doc()} for need in needs_for(record, stored)
    )
    return ops


class Store:
    """Domain-level access to one data folder: the registry, visits and needs here; the
    audit log, photos and login records in the members ``audit_log``, ``photos`` and
    ``sessions``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        make_dirs(self.root)
        self._files = Files(self.root)
        self._files.sweep_temp_files()
        self._visit_files = VisitFiles(self.root / "visits")
        self.audit_log = AuditLog(self.root / "audit")
        self.photos = Photos(self.root / "photos")
        self.sessions = LoginSessions(self._files, self.root / SESSIONS)
        # Files whose names a backup could not hold are moved aside (see quarantine).
        quarantine_misnamed(self.root, self._backed_up_paths())

    def audit(self, entry: AuditEntry) -> None:
        """Append one audit entry, durably: the one way every change is written down."""
        self.audit_log.append(entry)

    # registry ------------------------------------------------------------------------

    @property
    def _registry_path(self) -> Path:
        return self.root / REGISTRY

    def registry(self) -> Registry:
        """The current registry (cached; read-only)."""
        return read_registry(self._files, self._registry_path)

    def update_registry(self, change: Callable[[Registry], T]) -> T:
        """Apply ``change`` to a private copy of the registry and write it atomically.

        ``change`` runs under the registry's lock, on data read fresh from disk; if it raises,
        nothing is written.
        """
        with self._files.transaction(self._registry_path) as db:
            reg = Registry.from_data(db.storage.read() or {})
            villages = {h.id: h.village for h in reg.households.values()}
            result = change(reg)
            # A household's records are filed under its village: one that changed village
            # has them carried over, and the move is written down with the change itself so
            # that a crash half-way through is finished on the next start.
            moved = note_moves(reg, villages)
            write_registry(db, reg)
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
        needs_for: Callable[[Visit, list[Need]], list[Need]],
        audit: Callable[[Visit], AuditEntry] | None = None,
    ) -> tuple[Visit, bool]:
        """Store a visit with its needs in its month and village file, durably.

        ``decide(existing)`` runs under the file's lock with the stored visit of ``visit.id``
        (or None) and returns the record to write, or None to leave the stored one as it is
        (a resend). Returns the record now stored and whether anything was written.

        ``needs_for(record, stored)``, under the same lock, gives the needs to write with the
        record from those of the visit now stored (open and resolved): they are written as
        given, the visit's other open needs are dropped and its other resolved ones kept.
        Which needs keep their state is the ledger's rule (``visits.needs.carry_over``).

        ``audit(record)`` makes the audit entry of a record written: it is appended under
        the file's lock right after the journal line, so that a crash between the two is
        repaired from the journal on the next start (see ``with_recent_visits``).

        This is the hot path of the helping day: one line appended to the file's journal and
        one fsync, whatever the file's size (see ``Files.journaled``).
        """
        target = visit

        def change(data: dict[str, Any]) -> tuple[list[dict[str, Any]], tuple[Visit, bool]]:
            # The office may have moved the household to another village since the request
            # looked it up; under this file's lock that is settled (finish_moves takes it too).
            household = self.household(visit.household)
            if household is not None and household.village != target.village:
                raise _VillageChanged(household.village)
            existing = _stored_visit(data, visit.id)
            record = decide(existing)
            if record is None:
                assert existing is not None
                return [], (existing, False)
            if record.village != target.village:
                record = dataclasses.replace(record, village=target.village)
            return _save_ops(data, visit.id, record, needs_for), (record, True)

        def durable(result: tuple[Visit, bool]) -> None:
            if audit is not None and result[1]:
                self.audit(audit(result[0]))

        for _attempt in range(3):
            try:
                return self._files.journaled(
                    self._visit_path(visit.month, target.village), change, durable
                )
            except _VillageChanged as moved:
                target = dataclasses.replace(target, village=moved.village)
        raise StorageError(f"household {visit.household} keeps changing village")

    def with_recent_visits(self, since: float, check: Callable[[list[Visit]], None]) -> None:
        """``check(visits)`` with the visits written to each journal changed since ``since``
        (a time stamp), under that file's lock: after a crash, what should have followed a
        save (its audit line) is repaired from there, never while a save is writing it."""
        for jpath in self._visit_files.journals():
            try:
                if jpath.stat().st_mtime < since:
                    continue
            except FileNotFoundError:
                continue
            with self._files.locked(jpath.with_name(jpath.name.removesuffix(JOURNAL_SUFFIX))):
                docs = [
                    op["doc"]
                    for entry in read_journal(jpath).entries
                    for op in entry.get("ops", [])
                    if op.get("op") == "put" and op.get("table") == "visits"
                ]
                if docs:
                    check([Visit.from_doc(doc) for doc in docs])

    def update_need(
        self, month: str, village: str, need_id: str, change: Callable[[Need], None]
    ) -> Need | None:
        """Apply ``change`` to one stored need; None when there is no such need."""
        path = self._visit_path(month, village)
        q = Where()
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
        """Every data file as (path relative to the folder, content), each from one moment.

        A JSON data file and its journal are read together under the file's lock, so the
        pair is consistent; that per-file consistency is what this module promises (there
        is no moment at which the whole folder is frozen). The order keeps references
        whole: visit files first, then the registry, so every visit in the snapshot names a
        household in it (households are never removed); photos last, so every photo a
        visit lists is there (photo files are written before the visit names them, and
        never changed). Audit logs are cut after their last complete line. Lock files,
        temporary files, login records and report files (``exports/``, made again on
        demand) are left out.
        """
        paths: list[Path] = []
        for month in self.months():
            paths.extend(self._month_paths(month))
        paths.append(self._registry_path)
        for path in paths:
            with self._files.locked(path):
                pair = [path, journal_path(path)]
                found = [(p, p.read_bytes()) for p in pair if p.exists()]
            for p, payload in found:
                yield p.relative_to(self.root).as_posix(), payload
        for month in self.audit_log.months():
            path = self.audit_log.path(month)
            raw = path.read_bytes()
            yield path.relative_to(self.root).as_posix(), raw[: raw.rfind(b"\n") + 1]
        if include_photos:
            for photo in sorted(self.photos.files()):
                yield photo.relative_to(self.root).as_posix(), photo.read_bytes()
        secret = self.root / "secret_key"
        if include_secret and secret.is_file():
            yield "secret_key", secret.read_bytes()

    def _backed_up_paths(self) -> Iterator[Path]:
        """The files ``snapshot_files`` would take (photos included), without reading them;
        the registry and the secret key have fixed names and are left out."""
        for month in self.months():
            for path in self._month_paths(month):
                yield from (p for p in (path, journal_path(path)) if p.exists())
        for month in self.audit_log.months():
            yield self.audit_log.path(month)
        yield from self.photos.files()
