"""The office's pages for other departments' lists (/office/reconcile): upload a list, read
the result, settle each difference, follow the warning checks, download the workbook, the
feedback table and the PDF; and the members upload.

Supervisors read everything; only the office uploads, settles and downloads full ID
numbers. A township's account reads, runs and settles its own township's only
(``reconcile.scope``): another township's difference or comparison is not there for it (404),
like another township's household. Thin views over ``fieldvisit.reconcile``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..access.permissions import (
    deployment_office_required,
    office_required,
    scoped_township,
    supervision_required,
)
from ..clock import now_iso
from ..documents.jobs import JobLimitError, Title
from ..models import AuditEntry, Comparison
from ..reconcile import overview, results, scope, settle, terms
from ..reconcile.members import import_members
from ..reconcile.running import run_comparison
from ..reconcile.warnings import CheckError, check_days, is_overdue, set_check_days
from ..registry.errors import RegistryError
from ..storage.current import get_store
from .admin import paginate
from .office import ALLOWED_SUFFIXES, XLSX, UnconfirmedError, attachment, full_ids_asked
from .reports import PDF, Request, busy_message, submit

bp = Blueprint("reconcile", __name__, url_prefix="/office")
SHOWN_COMPARISONS = 20


def _upload() -> tuple[bytes, str] | str:
    """The uploaded file and its name, or why there is none to read."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _("请选择要导入的表格文件")
    name = upload.filename.lower()  # it only tells the format; never a path
    if not name.endswith(ALLOWED_SUFFIXES):
        return _("只能导入 .xlsx 或 .csv 文件")
    return upload.read(), upload.filename


def _township(asked: str | None = None) -> str | None:
    """The township the caller's pages and writes keep to (``permissions.scoped_township``):
    their account's, else the one ``asked`` (None: every township)."""
    return scoped_township(g.user, asked)


def _asked() -> str | None:
    """The township a list page was asked for (the dashboard's links of a township's page)."""
    return _township((request.args.get("township") or "").strip() or None)


def _index_page(status: int = 200, **extra: Any) -> tuple[str, int]:
    store = get_store()
    reg = store.registry()
    township = _township()
    comparisons = scope.comparisons(reg, township)[:SHOWN_COMPARISONS]
    page = render_template(
        "reconcile/index.html",
        comparisons=comparisons,
        counts=scope.counts_of(reg, comparisons, township),
        summary=overview.summary(store, date.today(), township=township),
        departments=terms.DEPARTMENTS,
        department_label=terms.department_label,
        kind_label=terms.kind_label,
        days=check_days(reg),
        **extra,
    )
    return page, status


@bp.get("/reconcile")
@supervision_required
def index() -> tuple[str, int]:
    return _index_page()


@bp.post("/reconcile")
@office_required
def upload() -> Response | tuple[str, int]:
    department = request.form.get("department", "")
    if department not in terms.DEPARTMENTS:
        return _index_page(400, problem=_("请选择名单的部门"))
    got = _upload()
    if isinstance(got, str):
        return _index_page(400, problem=got, chosen=department)
    data, filename = got
    try:
        outcome = run_comparison(get_store(), department, data, filename, g.user.phone, _township())
    except RegistryError as exc:
        return _index_page(400, errors=exc.errors, chosen=department)
    flash(_("比对完成"))
    return redirect(url_for("reconcile.result", cid=outcome.comparison.id), code=303)


def _comparison(cid: str) -> Comparison:
    found = get_store().registry().comparisons.get(cid)
    if found is None or not scope.sees_comparison(_township(), found):
        abort(404)
    return found


def _shown_kind(counts: dict[str, int]) -> str:
    kind = request.args.get("kind", "")
    if kind in terms.KINDS:
        return kind
    return next((k for k in terms.KINDS if counts.get(k)), terms.NOT_ON_REGISTRY)


@bp.get("/reconcile/<cid>")
@supervision_required
def result(cid: str) -> str:
    comparison = _comparison(cid)
    reg = get_store().registry()
    today = date.today()
    township = _township()
    found = results.lines_of(reg, cid, township=township)
    kind = _shown_kind({k: len(v) for k, v in found.items()})
    feedback = []
    if comparison.department == "warning":
        feedback = results.feedback_of(reg, cid, today, township=township)
    counts = scope.counts_of(reg, [comparison], township)[cid]
    return render_template(
        "reconcile/result.html",
        comparison=comparison,
        counts=results.counts_in_words(comparison, counts),
        found={k: len(v) for k, v in found.items()},
        kind=kind,
        page=paginate(found[kind], request.args),
        feedback=paginate(feedback, request.args),
        department_label=terms.department_label,
        kind_label=terms.kind_label,
        person=lambda phone: reg.users[phone].name if phone in reg.users else phone,
    )


@bp.get("/reconcile/open")
@supervision_required
def open_differences() -> str:
    township = _asked()
    found = results.lines_of(get_store().registry(), open_only=True, township=township)
    kind = _shown_kind({k: len(v) for k, v in found.items()})
    return render_template(
        "reconcile/open.html",
        township=township,
        found={k: len(v) for k, v in found.items()},
        kind=kind,
        page=paginate(found[kind], request.args),
        kind_label=terms.kind_label,
        department_label=terms.department_label,
    )


CHECK_STATES = ("open", "overdue", "done", "all")


@bp.get("/reconcile/checks")
@supervision_required
def checks() -> str:
    state = request.args.get("state", "open")
    state = state if state in CHECK_STATES else "open"
    reg = get_store().registry()
    today = date.today()
    township = _asked()
    rows = [
        c
        for c in sorted(scope.checks(reg, township), key=lambda c: c.due)
        if state == "all"
        or (state == "overdue" and is_overdue(c, today))
        or (state in ("open", "done") and c.status == state)
    ]
    return render_template(
        "reconcile/checks.html",
        township=township,
        state=state,
        states=CHECK_STATES,
        page=paginate(rows, request.args),
        households=reg.households,
        overdue=lambda c: is_overdue(c, today),
        person=lambda phone: reg.users[phone].name if phone in reg.users else phone,
    )


# --- settling ------------------------------------------------------------------------------


def _back() -> Response:
    """Back to the list the form was sent from (a path on this site only)."""
    back = request.form.get("back", "")
    if not back.startswith("/office/reconcile") or "//" in back or "\\" in back:
        back = url_for("reconcile.open_differences")
    return redirect(back, code=303)


def _settled(action: Any, *args: Any) -> Response:
    try:
        action(get_store(), *args, g.user.phone, township=_township())
    except LookupError:
        abort(404)
    except settle.SettleError as exc:
        flash(str(exc))
        return _back()
    flash(_("已处理"))
    return _back()


@bp.post("/reconcile/differences/<did>/take")
@office_required
def take(did: str) -> Response:
    return _settled(settle.take, did)


@bp.post("/reconcile/differences/<did>/explain")
@office_required
def explain(did: str) -> Response:
    return _settled(settle.explain, did, request.form.get("note", ""))


@bp.post("/reconcile/differences/<did>/send")
@office_required
def send(did: str) -> Response:
    return _settled(settle.send, did)


@bp.post("/reconcile/settings")
@deployment_office_required
def settings() -> Response | tuple[str, int]:
    try:
        set_check_days(get_store(), request.form.get("days", ""), g.user.phone)
    except CheckError as exc:
        return _index_page(400, problem=str(exc))
    flash(_("设置已保存"))
    return redirect(url_for("reconcile.index"), code=303)


# --- downloads -----------------------------------------------------------------------------


@bp.route("/reconcile/<cid>/result.xlsx", methods=["GET", "POST"])
@office_required
def workbook(cid: str) -> Response | tuple[str, int]:
    """The workbook (IDs masked; full only by the page's confirmed form), every download
    logged like the registry's."""
    comparison = _comparison(cid)
    try:
        full_ids = full_ids_asked(request.method, request.form)
    except UnconfirmedError as exc:
        flash(str(exc))
        return redirect(url_for("reconcile.result", cid=cid), code=303)
    store = get_store()
    township = _township()
    data = results.workbook(store, comparison, date.today(), full_ids, township)
    after = {"comparison": cid, "full_ids": full_ids}
    store.audit(
        AuditEntry(now_iso(), g.user.phone, "reconcile.export", comparison.filename, None, after)
    )
    name = results.result_filename(store, comparison, ".xlsx", township)
    response = attachment(data, XLSX, name, f"reconcile-{comparison.at[:10]}.xlsx")
    if full_ids:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/reconcile/<cid>/result.pdf")
@supervision_required
def pdf(cid: str) -> Response | tuple[str, int]:
    comparison = _comparison(cid)
    store = get_store()
    today = date.today()
    township = _township()
    asked = Request(
        key=f"reconcile/{cid}",
        title=Title(
            lambda: _(
                "比对结果：%(department)s", department=terms.department_label(comparison.department)
            )
        ),
        filename=results.result_filename(store, comparison, ".pdf", township),
        mimetype=PDF,
        kind="reconcile",
        params={"comparison": cid, "today": today.isoformat(), "township": township},
    )
    try:
        job = submit(asked)
    except JobLimitError:
        flash(busy_message())
        return redirect(url_for("reconcile.result", cid=cid), code=303)
    return redirect(url_for("reports.job", job_id=job.id), code=303)


# --- members -------------------------------------------------------------------------------


@bp.route("/import-members", methods=["GET", "POST"])
@office_required
def members() -> str | tuple[str, int]:
    if request.method == "GET":
        return render_template("reconcile/members_import.html")
    got = _upload()
    if isinstance(got, str):
        return render_template("reconcile/members_import.html", problem=got), 400
    data, filename = got
    try:
        report = import_members(get_store(), data, filename, g.user.phone, _township())
    except RegistryError as exc:
        return render_template("reconcile/members_import.html", errors=exc.errors), 400
    flash(_("导入完成"))
    return render_template("reconcile/members_import.html", report=report)
