"""Closed months on the reports page: the office closes and reopens a month; the office and
supervisors download the summary archived at each close. The list itself is drawn by
``reports.index``."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..access.permissions import office_required, supervision_required
from ..closing import ClosingError, archived_pdf, close_month, reopen_month
from ..documents.monthly import report_filename
from ..figures.frozen import month_source
from ..months import check_month
from ..storage.current import get_store
from .reports import page_choices

bp = Blueprint("closing", __name__, url_prefix="/reports/months")


def _refused(problem: str) -> tuple[str, int]:
    return render_template("reports/index.html", problem=problem, **page_choices()), 400


def _to_list() -> Response:
    return redirect(url_for("reports.index", _anchor="closed"), code=303)


@bp.post("/close")
@office_required
def close() -> Response | tuple[str, int]:
    """Close the month chosen (made while the office waits: a few seconds for the PDF)."""
    try:
        done = close_month(get_store(), request.form.get("month", ""), g.user.phone)
    except ClosingError as exc:
        return _refused(str(exc))
    if done.already:
        flash(_("%(month)s 已经关账，未作改动", month=done.month))
    else:
        flash(_("%(month)s 已关账，月度汇总已存档", month=done.month))
    return _to_list()


@bp.post("/<month>/reopen")
@office_required
def reopen(month: str) -> Response | tuple[str, int]:
    """Reopen a closed month, with the reason the form requires."""
    try:
        reopen_month(get_store(), month, g.user.phone, request.form.get("reason", ""))
    except ClosingError as exc:
        return _refused(str(exc))
    flash(_("%(month)s 已重新打开", month=month))
    return _to_list()


@bp.get("/<month>/<name>")
@supervision_required
def archived(month: str, name: str) -> Response:
    """A summary PDF issued when ``month`` was closed, as it was issued."""
    try:
        check_month(month)
    except ValueError:
        abort(404)
    store = get_store()
    pdf = archived_pdf(store, month, name)
    if pdf is None:
        abort(404)
    township = month_source(store, month).township()
    return send_file(
        io.BytesIO(pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=report_filename(township, month, None),
    )
