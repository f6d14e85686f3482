"""At the door: the items a helper is to confirm (warning checks, differences the office
sent), answered from the household page or the visit form.

Each answer is its own small form, sent at once and apart from the visit: the visit form is
saved through the phone's offline queue, these answers need a connection (the form says
so). Helpers answer for their own households; the office may answer for any.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..access.permissions import login_required, may_record
from ..reconcile import settle
from ..reconcile.warnings import CheckError, record_check
from ..storage.current import get_store
from .helpers import household_by_token

bp = Blueprint("confirm", __name__)


def _back(token: str) -> Response:
    """To the visit form when the answer came from it, else the household page."""
    if request.form.get("back") == "visit":
        return redirect(url_for("field.visit_form", token=token), code=303)
    return redirect(url_for("field.household", token=token), code=303)


def _answer(token: str, belongs: Any, action: Any) -> Response:
    household = household_by_token(token)
    if not may_record(g.user, household):
        abort(403)
    if not belongs(household.id):
        abort(404)
    try:
        action()
    except LookupError:
        abort(404)
    except (CheckError, settle.SettleError) as exc:
        flash(str(exc))
        return _back(token)
    flash(_("核实结果已提交"))
    return _back(token)


@bp.post("/h/<token>/checks/<check_id>")
@login_required
def answer_check(token: str, check_id: str) -> Response:
    form = request.form
    check = get_store().registry().checks.get(check_id)
    return _answer(
        token,
        lambda hid: check is not None and check.household == hid,
        lambda: record_check(
            get_store(),
            check_id,
            form.get("result", ""),
            form.get("action", ""),
            form.get("note", ""),
            g.user.phone,
        ),
    )


@bp.post("/h/<token>/differences/<did>/answer")
@login_required
def answer_difference(token: str, did: str) -> Response:
    form = request.form
    d = get_store().registry().differences.get(did)
    return _answer(
        token,
        lambda hid: d is not None and d.household == hid,
        lambda: settle.answer(
            get_store(), did, form.get("verdict", ""), form.get("note", ""), g.user.phone
        ),
    )
