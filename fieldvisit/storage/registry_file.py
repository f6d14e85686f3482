"""registry.json as domain objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import ApiToken, Household, User, Village
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


def read_registry(files: Files, path: Path) -> Registry:
    """The registry in ``path`` (cached with the file: read-only)."""
    return files.derived(path, "registry", Registry.from_data)


_REGISTRY_TABLES = ("villages", "households", "users", "tokens", "settings", "moves")


def write_registry(db: Database, reg: Registry) -> None:
    """Replace the tables of ``db`` (registry.json in a transaction) with ``reg``."""
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
