"""The JSON API under /api/v1, for other systems and for offline sync.

Callers authenticate with the browser session (plus the CSRF token in an ``X-CSRFToken``
header for writes) or with ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from ..access.permissions import (
    in_scope,
    is_helper,
    login_required,
    may_view,
    scoped_township,
    supervision_required,
)
from ..closing.months import closed_month
from ..context import this_g, this_request
from ..figures import dashboard
from ..figures.county import township_rows
from ..figures.month import HelperRow, MissingHousehold, VillageRow
from ..models import User, Visit
from ..months import check_month, this_month
from ..storage import Store
from ..storage.current import get_store
from ..visits import fields as visit_fields
from ..visits import photos
from ..visits import recording as visits
from ..visits.validation import VisitError
from .openapi import document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def visit_json(visit: Visit) -> dict[str, Any]:
    """A stored visit as the API returns it: the fields of ``visits.fields.VISIT``, no
    more (its history and who made each version stay on the server)."""
    doc = visit.doc_view()
    return {k: doc[k] for k in visit_fields.SHOWN}


def _person(user: User) -> dict[str, str]:
    return {"name": user.name, "phone": user.phone}


def _answerable(helpers: list[User]) -> dict[str, str]:
    # The first paired helper answers for the household (all are listed where it matters).
    first = helpers[0] if helpers else None
    return {"helper": first.name if first else "", "phone": first.phone if first else ""}


# Households not visited per page of GET /api/v1/completion: a township's list (676
# households in the reference township) fits in the first page, a county's comes in pages.
NOT_VISITED_PAGE = 1000


def _page_arg(name: str, default: int, most: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    return min(max(value, 1), most)


def _not_visited_page(board: dashboard.Completion) -> dict[str, Any]:
    """One page of the households not visited, and the link to the next when there is one."""
    page = _page_arg("page", 1, 10**6)
    limit = _page_arg("limit", NOT_VISITED_PAGE, NOT_VISITED_PAGE)
    missing = board.figures.not_visited
    start = (page - 1) * limit
    out: dict[str, Any] = {
        "not_visited": [_missing_json(m) for m in missing[start : start + limit]],
        "not_visited_total": len(missing),
        "page": page,
        "next": None,
    }
    if start + limit < len(missing):
        args = {**request.args.to_dict(), "page": str(page + 1), "limit": str(limit)}
        out["next"] = f"{request.path}?{urlencode(args)}"
    return out


def _village_json(r: VillageRow) -> dict[str, Any]:
    # A county's village names its township; a single township's rows are as they were.
    row = {"village": r.village, "households": r.households, "visited": r.visited}
    row["attempted"] = r.attempted
    return {**row, "township": r.township} if r.township else row


def completion_json(board: dashboard.Completion) -> dict[str, Any]:
    """The figures of GET /api/v1/completion (documented in openapi.py)."""
    f = board.figures
    return {
        **_not_visited_page(board),
        "by_township": [
            {
                "township": r.village,
                "households": r.households,
                "visited": r.visited,
                "attempted": r.attempted,
            }
            for r in township_rows(f)
        ],
        "month": f.month,
        "village": f.village,
        "as_of": board.as_of.isoformat(),
        "households": f.households,
        "visited": f.visited,
        "attempted": f.attempted,
        "rate": round(f.rate, 4),
        "previous_visited": f.previous_visited,
        "previous_visited_same_day": board.previous_same_day,
        "by_village": [_village_json(r) for r in f.by_village],
        "by_helper": [_helper_row_json(r) for r in board.helpers],
        "guarantee_gaps": [_gap_json(gap) for gap in board.gaps],
        "environment": [
            {"key": i.key, "label": i.label, "passed": i.passed, "failed": i.failed}
            for i in f.environment
        ],
        "trend": [
            {"month": p.month, "households": p.households, "visited": p.visited}
            for p in board.trend
        ],
    }


def _missing_json(m: MissingHousehold) -> dict[str, Any]:
    """A household not visited in the month, with who answers for it."""
    return {
        "id": m.household.id,
        "village": m.household.village,
        "group": m.household.group,
        "head": m.household.head,
        **_answerable(m.helpers),
        "helpers": [_person(u) for u in m.helpers],
        "attempted": m.attempted,
    }


def _helper_row_json(r: HelperRow) -> dict[str, Any]:
    """A helper's month: their households, how many visited, which not."""
    return {
        "helper": r.name,
        "phone": r.phone,
        "unit": r.unit,
        "households": r.households,
        "visited": r.visited,
        "attempted": r.attempted,
        "not_visited": r.missing,
    }


def _gap_json(gap: dashboard.OpenGap) -> dict[str, Any]:
    """A household with a basic guarantee still not met, since when, and who answers."""
    return {
        "id": gap.household.id,
        "village": gap.household.village,
        "head": gap.household.head,
        "guarantees": gap.guarantees,
        "since": gap.since,
        "last_found": gap.visit.date,
        **_answerable(gap.helpers),
    }


def _error(status: int, message: str, errors: dict[str, str] | None = None) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": message}
    if errors:
        body["errors"] = errors
    return jsonify(body), status


class BodyError(ValueError):
    """A request body that is not the JSON object a route takes (answered with 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def json_object() -> dict[str, Any]:
    """The request's JSON body, which must be an object: every JSON route reads it here.

    Raises BodyError. Nesting deeper than the parser goes (``[[[[…]]]]`` ten thousand deep
    is a 20 kB body) raises RecursionError, which is no ValueError: ``get_json(silent=True)``
    lets it through as a 500.
    """
    try:
        payload = this_request().get_json(silent=True)  # every write asks: see context
    except RecursionError:
        raise BodyError(_("JSON 嵌套层数过多")) from None
    if not isinstance(payload, dict):
        raise BodyError(_("请求内容须为 JSON 对象"))
    return payload


@bp.errorhandler(BodyError)
def bad_body(exc: BodyError) -> tuple[Response, int]:
    return _error(400, exc.message)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


@bp.get("/households")
@login_required
def households() -> Response:
    store = get_store()
    states = visits.month_states(store, this_month())
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
        if may_view(g.user, h)
    ]
    return jsonify(rows)


@bp.get("/checklist")
@login_required
def checklist() -> Response:
    items = visit_fields.checklist(get_store())
    return jsonify([{"key": i.key, "label": i.label} for i in items])


@bp.post("/visits")
@login_required
def create_visit() -> tuple[Response, int]:
    payload = json_object()
    try:
        visit, created = visits.record_visit(get_store(), payload, this_g().user)
    except VisitError as exc:
        return _error(exc.status, exc.message or _("走访记录无法保存"), exc.errors)
    return jsonify(visit_json(visit)), 201 if created else 200


@bp.get("/csrf")
@login_required
def csrf_token() -> tuple[Response, int]:
    """A fresh CSRF token for the browser's session. The offline queue asks for one just
    before sending, so a record saved days ago goes up with a token that is valid now."""
    if g.token_auth:
        return _error(400, _("使用 API 令牌时不需要 CSRF 令牌"))
    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response, 200


@bp.post("/visits/<visit_id>/photos")
@login_required
def add_photo(visit_id: str) -> tuple[Response, int]:
    """One photo of a stored visit (multipart: ``id`` made by the client, ``file``)."""
    store = get_store()
    visit = photos.find_visit(store, visit_id)
    if visit is None:
        return _error(404, _("没有这条走访记录"))
    upload = request.files.get("file")
    if upload is None:
        return _error(400, _("请选择照片"), {"file": _("请选择照片")})
    # Read one byte past the limit: enough to tell "too large" without reading it all.
    data = upload.stream.read(photos.MAX_BYTES + 1)
    try:
        added = photos.add_photo(store, visit, request.form.get("id", ""), data, g.user)
    except photos.PhotoError as exc:
        response, status = _error(exc.status, exc.message, {"file": exc.message})
        if status == 503:  # busy decoding others' photos: a moment later will do
            response.headers["Retry-After"] = "10"
        return response, status
    stored = photos.find_visit(store, visit_id) or visit
    return jsonify(visit_json(stored)), 201 if added else 200


@bp.get("/visits")
@login_required
def list_visits() -> Response | tuple[Response, int]:
    month = request.args.get("month") or this_month()
    try:
        check_month(month)
    except ValueError:
        message = _("month 应为 YYYY-MM 形式")
        return _error(400, message, {"month": message})
    store = get_store()
    found = store.visits(month)
    if is_helper(g.user):
        reg = store.registry()
        mine = {h.id for h in reg.households.values() if g.user.phone in h.helpers}
        found = [v for v in found if v.household in mine or v.helper == g.user.phone]
    elif g.user.township:  # a township's office: its own township's households only
        reg = store.registry()
        found = [v for v in found if (h := reg.households.get(v.household)) and in_scope(g.user, h)]
    found = sorted(found, key=lambda v: (v.date, v.household, v.created_at))
    return jsonify([visit_json(v) for v in found])


@bp.get("/completion")
@supervision_required
def completion() -> Response | tuple[Response, int]:
    """The month's completion figures, the same as the dashboard's and the monthly PDF's."""
    store = get_store()
    today = date.today()
    try:
        query = dashboard.parse_query(store, request.args, today, partial(scoped_township, g.user))
    except dashboard.QueryError as exc:
        return _error(400, exc.message, {exc.field: exc.message})
    board = dashboard.completion(store, query, today)
    return jsonify({**completion_json(board), **closed_json(store, board.figures.month)})


def closed_json(store: Store, month: str) -> dict[str, Any]:
    """Whether the month's figures are final (closed), and its closes and reopenings: the
    county can tell a closed month's answer from one that may still change."""
    found = closed_month(store, month)
    return {
        "closed": found is not None and found.closed,
        "closed_at": found.closed_at if found is not None else None,
        "reopenings": len(found.reopenings) if found is not None else 0,
    }
