"""What the Store writes into a visit file, and the small rules it reads from the registry
while deciding: kept apart so that ``store`` stays a reader's size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..models import AuditEntry, Need, Visit
from .closed import SETTING as CLOSED_SETTING
from .files import Records
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


def stored_visit(data: dict[str, Any], visit_id: str) -> Visit | None:
    """The visit of this id in a visit file's content, or None."""
    found = next((d for d in data.get("visits", {}).values() if d.get("id") == visit_id), None)
    return Visit.from_doc(found) if found else None


def save_ops(
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
