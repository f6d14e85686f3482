"""The JSON API under /api/v1, for other systems and for offline sync.

Callers authenticate with the browser session (plus the CSRF token in an ``X-CSRFToken``
header for writes) or with ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import visits
from ..auth import get_store, login_required
from ..models import Visit
from ..openapi import document
from ..storage import check_month

bp = Blueprint("api", __name__, url_prefix="/api/v1")

VISIT_FIELDS = (
    "id",
    "household",
    "village",
    "date",
    "kind",
    "guarantees",
    "environment",
    "helped_clean",
    "needs",
    "satisfaction",
    "notes",
    "helper",
    "recorded_by",
    "version",
    "created_at",
    "updated_at",
)


def visit_json(visit: Visit) -> dict[str, Any]:
    doc = visit.to_doc()
    return {k: doc[k] for k in VISIT_FIELDS}


def _error(status: int, message: str, errors: dict[str, str] | None = None) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": message}
    if errors:
        body["errors"] = errors
    return jsonify(body), status


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


@bp.get("/households")
@login_required
def households() -> Response:
    store = get_store()
    states = visits.month_states(store, date.today().isoformat()[:7])
    rows = [
        {
            "id": h.id,
            "village": h.village,
            "group": h.group,
            "head": h.head,
            "members": h.members,
            "state": states.get(h.id, "not_visited"),
        }
        for h in sorted(store.registry().households.values(), key=lambda h: h.id)
        if g.user.role != "helper" or g.user.phone in h.helpers
    ]
    return jsonify(rows)


@bp.get("/checklist")
@login_required
def checklist() -> Response:
    items = visits.checklist(get_store())
    return jsonify([{"key": i.key, "label": i.label} for i in items])


@bp.post("/visits")
@login_required
def create_visit() -> tuple[Response, int]:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _error(400, _("请求内容须为 JSON 对象"))
    try:
        visit, created = visits.record_visit(get_store(), payload, g.user)
    except visits.VisitError as exc:
        return _error(exc.status, _("走访记录无法保存"), exc.errors)
    return jsonify(visit_json(visit)), 201 if created else 200


@bp.get("/visits")
@login_required
def list_visits() -> Response:
    month = request.args.get("month") or date.today().isoformat()[:7]
    try:
        check_month(month)
    except ValueError:
        return _error(400, _("month 应为 YYYY-MM 形式"))  # type: ignore[return-value]
    store = get_store()
    found = store.visits(month)
    if g.user.role == "helper":
        reg = store.registry()
        mine = {h.id for h in reg.households.values() if g.user.phone in h.helpers}
        found = [v for v in found if v.household in mine or v.helper == g.user.phone]
    found = sorted(found, key=lambda v: (v.date, v.household, v.created_at))
    return jsonify([visit_json(v) for v in found])
