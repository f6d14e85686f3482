"""The Store: domain-level access to one data folder."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ..models import AuditEntry, Household, Need, User, Visit
from .audit_log import AuditLog
from .durable import atomic_write_bytes, make_dirs
from .files import Where, _Files
from .journal import JOURNAL_SUFFIX, StorageError, _journal_path, _read_journal
from .paths import _MONTH_RE, REGISTRY, check_month, village_file_name
from .photos import Photos
from .registry_file import Registry, _write_registry
from .sessions import LoginSessions

T = TypeVar("T")

_log = logging.getLogger(__name__)
# Where the start moves data files a backup could not hold (see _quarantine_misnamed).
# Backups leave it out: they take only the data files the Store lists.
QUARANTINE = "quarantine"


class _VillageChanged(Exception):
    """The household of a visit being saved is now filed under another village."""

    def __init__(self, village: str) -> None:
        super().__init__(village)
        self.village = village


def _docs_by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in data.get("visits", {}).values() if "id" in d}


class Store(AuditLog, Photos, LoginSessions):
    """Domain-level access to one data folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        make_dirs(self.root)
        self._files = _Files(self.root)
        self._files.sweep_temp_files()
        # folder -> (its mtime, the files in it, when that was last found current)
        self._listings: dict[Path, tuple[int, list[Path], float]] = {}
        self._quarantine_misnamed()  # files whose names a backup could not hold

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
            reg = Registry.from_data(db.storage.read() or {})
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
                reg = Registry.from_data(db.storage.read() or {})
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
            q = Where()
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
        audit: Callable[[Visit], AuditEntry] | None = None,
    ) -> tuple[Visit, bool]:
        """Store a visit with its needs in its month and village file, durably.

        ``audit(record)`` makes the audit entry of a record written: it is appended under
        the file's lock right after the journal line, so that a crash between the two is
        repaired from the journal on the next start (see ``with_recent_visits``).

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
        folder = self.root / "visits"
        if not folder.is_dir():
            return
        for jpath in sorted(folder.glob("*/*.json" + JOURNAL_SUFFIX)):
            try:
                if jpath.stat().st_mtime < since:
                    continue
            except FileNotFoundError:
                continue
            with self._files.locked(jpath.with_name(jpath.name.removesuffix(JOURNAL_SUFFIX))):
                docs = [
                    op["doc"]
                    for entry in _read_journal(jpath).entries
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

    # files a backup could not hold -------------------------------------------------------

    def _backed_up_paths(self) -> Iterator[Path]:
        """The files ``snapshot_files`` would take (photos included), without reading them;
        the registry and the secret key have fixed names and are left out."""
        for month in self.months():
            for path in self._month_paths(month):
                yield from (p for p in (path, _journal_path(path)) if p.exists())
        for month in self.audit_months():
            yield self.root / "audit" / f"{month}.jsonl"
        if (self.root / "photos").is_dir():
            for photo in (self.root / "photos").rglob("*.jpg"):
                if not photo.name.startswith("."):
                    yield photo

    def _quarantine_misnamed(self) -> None:
        """Move the data files whose names a backup may not hold into
        ``quarantine/<time>/`` (same relative path), with a warning naming each.

        Such a name (a newline or control character in it, a photo folder or file that is
        no visit or photo id) is not one the app makes today: it came from a version whose
        id patterns let a trailing newline through, or from a hand. Left in place it would
        stop every backup (``write_backup`` refuses it, since ``restore_backup`` would).
        Renaming it cannot be right, as no record names the file under a corrected name,
        and deleting it would lose what may be someone's evidence; moved aside, the data
        stays on the disk for the operator and the folder can be backed up again.
        """
        from .backup import allowed_name  # backup imports this package: imported on use

        misnamed = [
            path
            for path in self._backed_up_paths()
            if not allowed_name(path.relative_to(self.root).as_posix())
        ]
        if not misnamed:
            return
        make_dirs(self.root / QUARANTINE)
        stamp = time.strftime("%Y%m%d-%H%M%S-")
        folder = Path(tempfile.mkdtemp(prefix=stamp, dir=self.root / QUARANTINE))
        moved = []
        for path in misnamed:
            rel = path.relative_to(self.root)
            target = folder / rel
            make_dirs(target.parent)
            try:
                os.replace(path, target)
            except FileNotFoundError:
                continue  # another process starting on this folder moved it first
            moved.append(rel.as_posix())
            if rel.parts[0] == "photos" and len(rel.parts) == 4:
                with contextlib.suppress(OSError):  # a visit's photo folder left empty
                    path.parent.rmdir()
        if not moved:
            with contextlib.suppress(OSError):
                folder.rmdir()
            return
        _log.warning(
            "moved %d file(s) whose names a backup cannot hold to %s: %s",
            len(moved),
            folder,
            ", ".join(repr(name) for name in moved),
        )
