"""Households that changed village: their visits and needs follow them into the files of
their new village.

A household's records are filed under its village (``visits/YYYY-MM/<village>.json``), so a
household the office moves (an edit, a re-import after villages merged, a misspelt village
corrected) would otherwise leave its history where its page, the ledger and the village
figures no longer look. The move is written into the registry with the change that makes
it (``Registry.moves``) and carried out afterwards, so that a crash half-way through is
finished on the next start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .files import Files, Where
from .journal import journal_path
from .registry_file import Registry, read_registry, write_registry
from .visit_files import VisitFiles


def note_moves(reg: Registry, villages_before: dict[str, str]) -> bool:
    """Add to ``reg.moves`` the households whose village is no longer the one in
    ``villages_before`` (household id -> village); whether there was any."""
    moved = [
        {"household": h.id, "from": villages_before[h.id]}
        for h in reg.households.values()
        if h.id in villages_before and h.village_key != villages_before[h.id]
    ]
    reg.moves.extend(moved)
    return bool(moved)


def finish_moves(files: Files, visit_files: VisitFiles, registry_path: Path) -> None:
    """Carry the visits and needs of the households in the registry's ``moves`` into their
    current village's files, then forget those moves.

    Idempotent, and safe to run again after a crash at any point: records are copied
    (those already there skipped) before they are removed from the old file, and the
    moves are forgotten only when every month is done.
    """
    with files.locked(files.root / ".moves"):
        registry = read_registry(files, registry_path)
        pending = list(registry.moves)
        if not pending:
            return
        households = registry.households
        # old village -> {household: its village now}
        plan: dict[str, dict[str, str]] = {}
        for move in pending:
            household = households.get(move["household"])
            if household is not None and household.village_key != move["from"]:
                plan.setdefault(move["from"], {})[household.id] = household.village_key
        for month in visit_files.months():
            for source, targets in plan.items():
                _move_records(files, visit_files, month, source, targets)

        with files.transaction(registry_path) as db:
            reg = Registry.from_data(db.storage.read() or {})
            reg.moves = [m for m in reg.moves if m not in pending]
            write_registry(db, reg)


def _move_records(
    files: Files, visit_files: VisitFiles, month: str, source: str, targets: dict[str, str]
) -> None:
    """Move one month's records of the households in ``targets`` out of ``source``'s
    file into their new villages' files."""
    path = visit_files.path(month, source)
    if not path.exists() and not journal_path(path).exists():
        return
    # The old file stays locked throughout, so no record of it is removed uncopied.
    with files.locked(path):
        data = files.read(path).data
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
            with files.transaction(visit_files.path(month, target)) as db:
                for table, docs in tables.items():
                    there = db.table(table, cache_size=0)
                    present = {d.get("id") for d in there.all()}
                    new = [d for d in docs if d["id"] not in present]
                    if new:
                        there.insert_multiple(new)
        q = Where()
        with files.transaction(path) as db:
            for table in ("visits", "needs"):
                db.table(table, cache_size=0).remove(q.household.one_of(list(targets)))
