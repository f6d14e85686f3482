"""The HTML visit form's fields, turned into the same payload the API takes (and back), so
that one validation serves both."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from werkzeug.datastructures import MultiDict

from ..models import Visit
from ..vocab import GUARANTEES

_YES_NO = {"yes": True, "no": False}
_NEED_KEY = re.compile(r"needs\.(\d+)\.(\w+)")
_YES_NO_NA = {"yes": True, "no": False, "na": None}


def payload_from_form(form: MultiDict[str, str], household_id: str) -> dict[str, Any]:
    """The API payload for a submitted form; missing answers stay missing."""
    payload: dict[str, Any] = {
        "id": form.get("id", ""),
        "household": household_id,
        "date": form.get("date", ""),
        "kind": form.get("kind") or None,
        "satisfaction": form.get("satisfaction") or "",
        "notes": form.get("notes", ""),
        "helped_clean": _YES_NO.get(form.get("helped_clean", ""), False),
        "guarantees": {},
        "environment": {},
        "needs": [],
    }
    if form.get("helper"):
        payload["helper"] = form["helper"]
    for key in GUARANTEES:
        answer = form.get(f"g_{key}")
        if answer in _YES_NO:
            payload["guarantees"][key] = _YES_NO[answer]
    for name, answer in form.items():
        if name.startswith("env_") and answer in _YES_NO_NA:
            payload["environment"][name[4:]] = _YES_NO_NA[answer]
        elif name.startswith("env_"):
            payload["environment"][name[4:]] = "invalid"
    for i in _filled_need_rows(form):
        payload["needs"].append(
            {
                "category": form.get(f"needs-{i}-category") or None,
                "description": form.get(f"needs-{i}-description", "").strip(),
                "urgent": form.get(f"needs-{i}-urgent") == "yes",
            }
        )
    return payload


def _filled_need_rows(form: MultiDict[str, str]) -> list[int]:
    """The need rows that hold something: the payload's needs, in order."""
    return [
        i
        for i in range(need_rows(form))
        if form.get(f"needs-{i}-category") or form.get(f"needs-{i}-description", "").strip()
    ]


def errors_by_row(errors: dict[str, str], form: MultiDict[str, str]) -> dict[str, str]:
    """The validation's errors with each need's place in the payload turned into its row on
    the form (an empty row above it is not in the payload), so each shows at its own row."""
    rows = _filled_need_rows(form)
    out = {}
    for key, message in errors.items():
        need = _NEED_KEY.fullmatch(key)
        if need and int(need[1]) < len(rows):
            key = f"needs.{rows[int(need[1])]}.{need[2]}"
        out[key] = message
    return out


def need_rows(form: MultiDict[str, str]) -> int:
    try:
        return max(0, min(int(form.get("need_rows", "1")), 20))
    except ValueError:
        return 1


def blank_values(today: date) -> dict[str, Any]:
    """A new form: a fresh client id (a double tap resends the same id) and today's date."""
    return {"id": uuid.uuid4().hex, "date": today.isoformat(), "need_rows": 1, "needs": []}


def values_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """What was typed, to show again next to the errors."""
    values: dict[str, Any] = dict(form.items())
    rows = need_rows(form)
    if "add_need" in form:
        rows += 1
    values["need_rows"] = max(rows, 1)
    return values


def values_from_visit(visit: Visit) -> dict[str, Any]:
    """A stored visit as form values, for a correction."""
    to_word: dict[bool | None, str] = {True: "yes", False: "no", None: "na"}
    values: dict[str, Any] = {
        "id": visit.id,
        "date": visit.date,
        "kind": visit.kind,
        "satisfaction": visit.satisfaction,
        "notes": visit.notes,
        "helper": visit.helper,
        "helped_clean": "yes" if visit.helped_clean else "no",
    }
    for key, ok in visit.guarantees.items():
        values[f"g_{key}"] = to_word[ok]
    for key, answer in visit.environment.items():
        values[f"env_{key}"] = to_word[answer]
    for i, need in enumerate(visit.needs):
        values[f"needs-{i}-category"] = need["category"]
        values[f"needs-{i}-description"] = need["description"]
        values[f"needs-{i}-urgent"] = "yes" if need["urgent"] else ""
    values["need_rows"] = max(len(visit.needs), 1)
    return values
