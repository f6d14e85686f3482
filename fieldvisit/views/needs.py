"""The rectification ledger (问题整改台账) for the office and supervisors.

Helpers are not let in: they see their households' open needs on each household's page.
The office closes entries off (销号) and reopens them; supervisors may comment.
"""

from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..access.permissions import in_scope, office_required, supervision_required
from ..collation import sort_villages
from ..households.search import find_helpers
from ..storage.current import get_store
from ..visits import needs
from .admin import paginate

bp = Blueprint("needs", __name__)

PAGE_SIZE = 100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/needs")
@supervision_required
def ledger() -> str:
    store = get_store()
    filters = needs.Filters.from_args(request.args)
    entries = _in_scope(needs.ledger(store, filters, date.today()))
    return render_template(
        "needs.html",
        filters=filters,
        page=paginate(entries, request.args, PAGE_SIZE),
        villages=sort_villages(set(store.registry().villages)),
        helpers=find_helpers(store.registry()),
        ages=needs.AGES,
    )


@bp.get("/needs/export.xlsx")
@supervision_required
def export() -> Response:
    filters = needs.Filters.from_args(request.args)
    entries = _in_scope(needs.ledger(get_store(), filters, date.today()))
    return send_file(
        io.BytesIO(needs.export_xlsx(entries)),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"问题整改台账-{date.today().isoformat()}.xlsx",
    )


def _in_scope(entries: list[needs.Entry]) -> list[needs.Entry]:
    """The entries of households within the account's township (permissions.in_scope)."""
    return [e for e in entries if _reaches(e)]


def _reaches(entry: needs.Entry) -> bool:
    # A need whose household left the registry belongs to no township: the county's (or
    # the single township's) office keeps seeing it, as before.
    if entry.household is None:
        return not g.user.township
    return in_scope(g.user, entry.household)


def _check_scope(need_id: str) -> None:
    """404 for a need of another township's household (as for the household itself)."""
    entry = needs.entry(get_store(), need_id, date.today())
    if entry is not None and not _reaches(entry):
        abort(404)


def _entry_page(
    need_id: str, status: int = 200, problem: str = "", **reopen: str
) -> tuple[str, int]:
    """The need's page; ``reopen`` holds the reopening form's ``reason`` as typed and its
    ``reason_error``, shown at the field rather than above the page."""
    entry = needs.entry(get_store(), need_id, date.today())
    if entry is None or not _reaches(entry):
        abort(404)
    return render_template("admin/need.html", entry=entry, problem=problem, **reopen), status


@bp.get("/needs/<need_id>")
@supervision_required
def show(need_id: str) -> tuple[str, int]:
    return _entry_page(need_id)


def _take_step(need_id: str, step: str) -> Response | tuple[str, int]:
    _check_scope(need_id)
    store = get_store()
    text = request.form.get("note", "")
    try:
        if step == "resolve":
            needs.resolve(store, need_id, g.user.phone, text)
            flash(_("已销号"))
        elif step == "reopen":
            needs.reopen(store, need_id, g.user.phone, text)
            flash(_("已重新打开"))
        else:
            needs.comment(store, need_id, g.user.phone, text)
            flash(_("意见已添加"))
    except LookupError:
        abort(404)
    except needs.LedgerError as exc:
        if step == "reopen" and exc.status == 400:  # about the reason typed
            return _entry_page(need_id, exc.status, reason=text, reason_error=exc.message)
        return _entry_page(need_id, exc.status, exc.message)
    return redirect(url_for("needs.show", need_id=need_id))


@bp.post("/needs/<need_id>/resolve")
@office_required
def resolve(need_id: str) -> Response | tuple[str, int]:
    return _take_step(need_id, "resolve")


@bp.post("/needs/<need_id>/reopen")
@office_required
def reopen(need_id: str) -> Response | tuple[str, int]:
    return _take_step(need_id, "reopen")


@bp.post("/needs/<need_id>/comment")
@supervision_required
def comment(need_id: str) -> Response | tuple[str, int]:
    return _take_step(need_id, "comment")
