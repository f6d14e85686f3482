"""What a visit holds: its fields as the API takes and gives them, and the township's
environment checklist (the keys of its ``environment`` field).

``VISIT`` is the one list of a visit's fields. The validation asks it which JSON type each
field sent has, the API's JSON is made of its fields and the OpenAPI document's Visit and
VisitIn schemas list its fields, so that a new field is added here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..storage import Store
from ..vocab import DEFAULT_CHECKLIST


@dataclass(frozen=True)
class Field:
    """One key of a visit in the API's JSON."""

    name: str
    # Its JSON Schema type(s): what the OpenAPI document states and what the validation
    # takes as that field's value.
    json_type: str | tuple[str, ...]
    # Sent by a client and checked by ``validation.validate``; False: set by the server,
    # only in what the API returns.
    sent: bool = True
    # Required in a visit sent to the API (``POST /visits``).
    required_in: bool = False
    # Always present in a visit the API returns (every field is returned; these never empty).
    required_out: bool = False


# In the order of the API's JSON; what a client sends keeps the same order.
VISIT: tuple[Field, ...] = (
    Field("id", "string", required_in=True, required_out=True),
    Field("household", "string", required_in=True, required_out=True),
    Field("village", "string", sent=False, required_out=True),
    Field("date", "string", required_in=True, required_out=True),
    Field("kind", "string", required_in=True, required_out=True),
    Field("guarantees", "object"),
    Field("environment", "object"),
    Field("helped_clean", "boolean"),
    Field("needs", "array"),
    Field("satisfaction", "string"),
    Field("notes", "string"),
    Field("helper", "string", required_out=True),
    Field("recorded_by", "string", sent=False, required_out=True),
    Field("version", "integer", sent=False),
    Field("created_at", "string", sent=False),
    Field("updated_at", "string", sent=False),
    Field("photos", "array", sent=False),
    Field("location", ("object", "null")),
)

BY_NAME: dict[str, Field] = {f.name: f for f in VISIT}
# What a client may send: the fields ``validate`` checks.
SENT: tuple[str, ...] = tuple(f.name for f in VISIT if f.sent)
# What the API returns of a stored visit, in this order.
SHOWN: tuple[str, ...] = tuple(f.name for f in VISIT)


# The Python types JSON's types parse to.
_PYTHON: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
    "integer": (int,),
    "number": (int, float),
}


def _accepted(json_type: str | tuple[str, ...]) -> tuple[tuple[type, ...], bool]:
    """The Python types a value of ``json_type`` may have, and whether a bool is one."""
    types = (json_type,) if isinstance(json_type, str) else json_type
    return tuple(t for name in types for t in _PYTHON[name]), "boolean" in types


# Per field, worked out once: every visit saved asks about ten of them.
_ACCEPTED = {f.name: _accepted(f.json_type) for f in VISIT}


def has_type(name: str, value: Any) -> bool:
    """Whether ``value`` (as parsed from JSON or a form) has the JSON type the field ``name``
    is documented with; a mistyped value is refused, never converted."""
    types, boolean = _ACCEPTED[name]
    # bool is an int in Python, never a number in JSON.
    if isinstance(value, bool):
        return boolean
    return isinstance(value, types)


def typed(name: str, value: Any) -> Any:
    """``value`` when it has the field's JSON type, else None."""
    return value if has_type(name, value) else None


@dataclass
class ChecklistItem:
    key: str
    label: str


def checklist(store: Store) -> list[ChecklistItem]:
    """The township's environment checklist (the defaults until it sets its own)."""
    items = store.setting("checklist")
    if not items:
        return [ChecklistItem(k, label) for k, label in DEFAULT_CHECKLIST]
    return [ChecklistItem(i["key"], i["label"]) for i in items]
