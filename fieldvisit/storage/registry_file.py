"""registry.json as domain objects."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import ApiToken, Check, Comparison, Difference, Household, Member, User, Village
from .files import Database, Files


@dataclass
class Registry:
    """Everything in registry.json, as domain objects keyed by their stable ids."""

    villages: dict[str, Village] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, ApiToken] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    # Households whose village changed and whose visits and needs still lie (partly) in the
    # old village's files: {"household": 户编号, "from": old village}. See storage.moves.
    moves: list[dict[str, str]] = field(default_factory=list)
    by_token: dict[str, str] = field(default_factory=dict)  # QR token -> 户编号
    # Household members and other departments' lists (see fieldvisit/reconcile).
    members: dict[str, Member] = field(default_factory=dict)  # by ID number
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    differences: dict[str, Difference] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict[str, Any], tables: Collection[str] | None = None) -> Registry:
        """The registry in ``data``; with ``tables``, only those tables (the others left
        empty), for a change that touches nothing else (see ``Store.update_registry``)."""

        def docs(table: str) -> list[dict[str, Any]]:
            if tables is not None and table not in tables:
                return []
            return list(data.get(table, {}).values())

        reg = cls(
            villages={v.key: v for v in map(Village.from_doc, docs("villages"))},
            households={d["id"]: Household.from_doc(d) for d in docs("households")},
            users={d["phone"]: User.from_doc(d) for d in docs("users")},
            tokens={d["digest"]: ApiToken.from_doc(d) for d in docs("tokens")},
            settings={d["key"]: d["value"] for d in docs("settings")},
            moves=[{"household": d["household"], "from": d["from"]} for d in docs("moves")],
            members={d["id_number"]: Member.from_doc(d) for d in docs("members")},
            comparisons={d["id"]: Comparison.from_doc(d) for d in docs("comparisons")},
            differences={d["id"]: Difference.from_doc(d) for d in docs("differences")},
            checks={d["id"]: Check.from_doc(d) for d in docs("checks")},
        )
        reg.by_token = {h.token: h.id for h in reg.households.values()}
        return reg


def read_registry(files: Files, path: Path) -> Registry:
    """The registry in ``path`` (cached with the file: read-only)."""
    return files.derived(path, "registry", Registry.from_data)


# Each table of registry.json and the field that identifies its documents.
REGISTRY_KEYS = {
    # A village is its township and name: documents carry that key (models.village_key).
    # Older documents have none and are rewritten with it on the next change of the table.
    "villages": "key",
    "households": "id",
    "users": "phone",
    "tokens": "digest",
    "settings": "key",
    "moves": "id",
    "members": "id_number",
    "comparisons": "id",
    "differences": "id",
    "checks": "id",
}


def registry_rows(
    reg: Registry, tables: Collection[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``reg`` as the documents of each table of registry.json (only ``tables``, when
    given: the documents of the others are not made at all)."""
    rows: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "villages": lambda: [{**v.to_doc(), "key": v.key} for v in reg.villages.values()],
        "households": lambda: [h.to_doc() for h in reg.households.values()],
        "users": lambda: [u.to_doc() for u in reg.users.values()],
        "tokens": lambda: [t.to_doc() for t in reg.tokens.values()],
        "settings": lambda: [{"key": k, "value": v} for k, v in reg.settings.items()],
        "moves": lambda: [{"id": f"{m['household']}|{m['from']}", **m} for m in reg.moves],
        "members": lambda: [m.to_doc() for m in reg.members.values()],
        "comparisons": lambda: [c.to_doc() for c in reg.comparisons.values()],
        "differences": lambda: [d.to_doc() for d in reg.differences.values()],
        "checks": lambda: [c.to_doc() for c in reg.checks.values()],
    }
    return {name: make() for name, make in rows.items() if tables is None or name in tables}


def write_registry(db: Database, reg: Registry) -> None:
    """Replace the tables of ``db`` (registry.json in a transaction) with ``reg``."""
    for name, rows in registry_rows(reg).items():
        table = db.table(name, cache_size=0)
        table.truncate()
        if rows:
            table.insert_multiple(rows)
