"""What the Store writes into a visit file, and the small rules it reads from the registry
while deciding: kept apart so that ``store`` stays a reader's size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..models import AuditEntry, Need, Visit
from .closed import SETTING as CLOSED_SETTING
from .files import Records
from .journal import Content
from .registry_file import Registry


class VillageChanged(Exception):
    """The household of a visit being saved is now filed under another village."""

    def __init__(self, village: str) -> None:
        super().__init__(village)
        self.village = village


def closed_in(reg: Registry, month: str) -> bool:
    months = reg.settings.get(CLOSED_SETTING)
    record = months.get(month) if isinstance(months, dict) else None
    return isinstance(record, dict) and record.get("state") == "closed"


def records_of(entries: list[AuditEntry]) -> Records:
    return [e.to_doc() for e in entries]


def stored_visit(content: Content, visit_id: str) -> Visit | None:
    """The visit of this id in a visit file's content, or None."""
    found = content.find("visits", "id", visit_id)
    return Visit.from_doc(found) if found else None


def save_ops(
    data: dict[str, Any],
    existing: Visit | None,
    record: Visit,
    needs_for: Callable[[Visit, list[Need]], list[Need]],
) -> list[dict[str, Any]]:
    """The journal operations that store ``record`` with its needs in a visit file whose
    content is ``data`` and which holds ``existing`` of the same id (or not): see
    ``Store.save_visit``."""
    # A visit's needs are only ever written with it, into its file (a save here, a move
    # of its household, an import), so a visit not stored here has none: a new visit's save
    # need not pass over the file's needs, a pass that grew with the month.
    stored = (
        [Need.from_doc(d) for d in data.get("needs", {}).values() if d.get("visit") == record.id]
        if existing is not None
        else []
    )
    ops: list[dict[str, Any]] = [{"op": "put", "table": "visits", "doc": record.to_doc()}]
    if any(need.status == "open" for need in stored):
        # Only then: a drop passes over the whole table, and would find nothing to remove.
        # (Lines are replayed in order, each onto the content it was made from.)
        where = {"visit": record.id, "status": "open"}
        ops.append({"op": "drop", "table": "needs", "where": where})
    ops.extend(
        {"op": "put", "table": "needs", "doc": need.to_doc()} for need in needs_for(record, stored)
    )
    return ops
