"""The office's monthly downloads: pick a month and village, queue the file, watch it being
made, download it. For the office and supervisors; a job is visible to its owner only.

The office's door plates (queued from ``/office/plates``) are watched and downloaded here too.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response as BaseResponse

from .. import closing
from ..access.permissions import in_scope, scoped_township, supervision_required
from ..collation import sort_villages
from ..documents import booklet, exports, plates
from ..documents import monthly as reports
from ..documents.jobs import Job, JobLimitError, Title, Work, get_runner
from ..documents.monthly import ReportError
from ..documents.plate_address import require_plate_address
from ..figures.frozen import month_source, registry_for
from ..households.lookup import township_name
from ..months import previous_month, this_month
from ..storage.current import get_store
from ..storage.paths import has_control

bp = Blueprint("reports", __name__, url_prefix="/reports")

PDF = "application/pdf"
MIMETYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}


@dataclass
class Request:
    """A download as asked for in the form, checked: what to make and how to call it."""

    key: str
    title: Title  # worded when shown, in the language of whoever reads the job's page
    filename: str
    mimetype: str
    work: Work


def _month(form: Any, today: date) -> str:
    """The form's month, checked. One holding a control character is refused here: the
    check that follows strips spaces, which would make "2026-11\\n" pass as 2026-11."""
    raw = form.get("month", "")
    if has_control(raw):
        shown = "".join(c for c in raw[:20] if c.isprintable())
        raise ReportError(reports.not_a_month_message(shown))
    return reports.check_report_month(raw, today)


def _own_township(village: str | None, household: str | None = None) -> None:
    """A township's account makes files of its own township only: until booklets, plates and
    the visits export take a township (docs/decisions/0016-county.md), it names one of its
    villages or households; the county's (or a single township's) accounts are unchanged."""
    township = g.user.township
    if not township:
        return
    if household is not None:
        found = get_store().household(household)
        if found is not None and in_scope(g.user, found):
            return
    elif village is not None and village.startswith(f"{township}/"):
        return
    raise ReportError(_("请选择本乡镇的一个村"))


def _summary(form: Any, today: date) -> Request:
    store = get_store()
    month = _month(form, today)
    source = month_source(store, month)  # a closed month: its own registry and name
    village = reports.check_village(store, form.get("village") or None, source.registry)
    township = scoped_township(g.user, None)
    if village is not None:
        _own_township(village)
    name = reports.report_filename(township or source.township(), month, village)
    return Request(
        key=f"summary/{township or ''}/{month}/{village or ''}",
        title=Title(
            lambda: _("月度汇总：%(scope)s，%(month)s", scope=village or _("全镇"), month=month)
        ),
        filename=name,
        mimetype=PDF,
        work=lambda _progress: reports.monthly_report_pdf(
            get_store(), month, village, today, township=township
        ),
    )


def _booklet(form: Any, today: date) -> Request:
    store = get_store()
    raw = form.get("year", "")
    raw = "" if has_control(raw) else raw.strip()  # "2026\n" is no year either
    if not raw.isdecimal():
        raise ReportError(_("请选择年度"))
    year = booklet.check_year(int(raw), today)
    household = form.get("household", "").strip() or None
    village = None if household else form.get("village") or None
    _own_township(village, household)
    chosen = booklet.booklet_households(store, village, household)
    name = booklet.booklet_filename(township_name(store), year, village, household)
    count = len(chosen)
    return Request(
        key=f"booklet/{year}/{village or ''}/{household or ''}",
        title=Title(
            lambda: ngettext(
                "一户一册：%(scope)s，%(year)d 年度，%(num)d 户",
                "一户一册：%(scope)s，%(year)d 年度，%(num)d 户",
                count,
                scope=household or village or _("全镇"),
                year=year,
            )
        ),
        filename=name,
        mimetype=PDF,
        work=lambda progress: booklet.booklet_pdf(
            get_store(), year, village, household, progress=progress, today=today
        ),
    )


def _visits(form: Any, today: date) -> Request:
    store = get_store()
    month = _month(form, today)
    registry = registry_for(store, month)
    village = reports.check_village(store, form.get("village") or None, registry)
    _own_township(village)
    fmt = form.get("format", "xlsx")
    if fmt not in exports.FORMATS:
        raise ReportError(_("请选择 Excel 或 CSV"))
    return Request(
        key=f"visits/{month}/{village or ''}/{fmt}",
        title=Title(
            lambda: _("走访记录：%(scope)s，%(month)s", scope=village or _("全镇"), month=month)
        ),
        filename=exports.export_filename(month, village, fmt),
        mimetype=MIMETYPES[fmt],
        work=lambda _progress: exports.export_visits_bytes(get_store(), month, fmt, village, today)[
            0
        ],
    )


KINDS = {"summary": _summary, "booklet": _booklet, "visits": _visits}


def plates_request(
    village: str | None, household: str | None = None, *, stale: bool = False
) -> Request:
    """Door plates of the township, one village or one household (by 户编号, given without
    ``village``), or with ``stale`` only those naming helpers the household no longer has.
    Checked now (LookupError, or AddressError while no address phones reach is set, each
    with a message) so that the office is told on the page, not by a failed job.

    Not one of KINDS: ``POST /reports`` is open to supervisors, door plates are the office's
    only, so they are queued by ``POST /office/plates`` behind its admin check.
    """
    store = get_store()
    # Never the request's own address: a plate printed from the server's browser would lead
    # phones to 127.0.0.1 (see documents.plate_address).
    address = require_plate_address(store)
    try:
        _own_township(village, household)
    except ReportError as exc:
        raise LookupError(str(exc)) from None
    households = plates.households_for_plates(store.registry(), village, household, stale=stale)
    if household is not None:
        household = households[0].id  # as stored, whatever spaces were typed around it
    count = len(households)

    def title() -> str:
        scope = household or (_("需要重新打印") if stale else village or _("全镇"))
        return ngettext(
            "户牌：%(scope)s，%(num)d 户", "户牌：%(scope)s，%(num)d 户", count, scope=scope
        )

    return Request(
        # The address is part of the key: plates made after the address changed carry other
        # links, so they are not the same file.
        key="/".join(("plates", village or "", household or "", "stale" if stale else "", address)),
        title=Title(title),
        filename=plates.plates_filename(
            township_name(store), village, household or ("重新打印" if stale else None)
        ),
        mimetype=PDF,
        # The plate is made from the registry as it is when the job runs, so a household's
        # plate queued right after a new QR code carries the new one.
        work=lambda progress: plates.door_plates_pdf(
            get_store(), address, village, progress=progress, household=household, stale=stale
        ),
    )


def submit(asked: Request) -> Job:
    """Queue ``asked`` for the caller; JobLimitError when they already wait for too many."""
    return get_runner().submit(
        g.user.phone, asked.key, asked.title, asked.filename, asked.mimetype, asked.work
    )


def kind_of(job: Job) -> str:
    """What a job makes ("summary", "plates", …): the first part of its key."""
    return job.key.split("/", 1)[0]


def busy_message() -> str:
    return _("您已有几份文件正在生成，请等它们完成后再试")


def page_choices() -> dict[str, Any]:
    """What the reports page shows besides a problem: the forms' choices, the caller's
    files, and the closed months (``views.closing`` draws the page too)."""
    store = get_store()
    today = date.today()
    current = this_month(today)
    months = sorted({*store.months(), current}, reverse=True)
    last = previous_month(current)
    return {
        "months": months,
        "default_month": last if last in months else months[0],
        "years": sorted({int(m[:4]) for m in months}, reverse=True),
        "villages": sort_villages(set(store.registry().villages)),
        "jobs": get_runner().jobs_of(g.user.phone),
        "closed": closing.closed_months(store),
        "closable": closing.closable_months(store, today),
        "people": {u.phone: u.name for u in store.registry().users.values()},
    }


def _own_job(job_id: str) -> Job:
    """The caller's job, or 404: someone else's job does not exist for them."""
    job = get_runner().get(job_id, g.user.phone)
    if job is None:
        abort(404)
    return job


@bp.get("")
@supervision_required
def index() -> str:
    return render_template("reports/index.html", **page_choices())


@bp.post("")
@supervision_required
def start() -> BaseResponse | tuple[str, int]:
    plan = KINDS.get(request.form.get("kind", ""))
    if plan is None:
        abort(400)
    try:
        job = submit(plan(request.form, date.today()))
    except ReportError as exc:
        return render_template("reports/index.html", problem=str(exc), **page_choices()), 400
    except JobLimitError:
        return render_template("reports/index.html", problem=busy_message(), **page_choices()), 429
    return redirect(url_for("reports.job", job_id=job.id), code=303)


def status_message(job: Job) -> str:
    if job.status == "queued":
        return _("排队中，前面的文件生成后开始")
    if job.status == "running":
        if job.total > 1 and kind_of(job) == "plates":
            return _("正在生成：%(done)d / %(total)d 张户牌", done=job.done, total=job.total)
        if job.total > 1:
            return _("正在生成：%(done)d / %(total)d 户", done=job.done, total=job.total)
        return _("正在生成")
    if job.status == "done":
        return _("已完成")
    return _("生成失败，请重试；如仍失败请联系管理员")


@bp.get("/jobs/<job_id>")
@supervision_required
def job(job_id: str) -> str:
    job = _own_job(job_id)
    return render_template("reports/job.html", job=job, kind=kind_of(job), message=status_message)


@bp.get("/jobs/<job_id>.json")
@supervision_required
def job_status(job_id: str) -> Response:
    job = _own_job(job_id)
    download = url_for("reports.download", job_id=job.id) if job.finished_ok else None
    return jsonify(
        id=job.id,
        status=job.status,
        done=job.done,
        total=job.total,
        percent=job.percent,
        message=status_message(job),
        download=download,
    )


@bp.get("/jobs/<job_id>/download")
@supervision_required
def download(job_id: str) -> Response:
    job = _own_job(job_id)
    payload = get_runner().result(job)
    if payload is None:
        abort(404)
    return send_file(
        io.BytesIO(payload), mimetype=job.mimetype, as_attachment=True, download_name=job.filename
    )
