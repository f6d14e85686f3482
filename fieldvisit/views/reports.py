"""The office's monthly downloads: pick a month and a village (a county's office: the county
or one township; a township's office makes its own township's files only), queue the file,
watch it being made, download it. For the office and supervisors; a job is visible to its
owner only.

The office's door plates (queued from ``/office/plates``) are watched and downloaded here too.
"""

from __future__ import annotations

import io
from collections.abc import Callable
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
from ..access.permissions import supervision_required
from ..collation import sort_villages
from ..documents import booklet, county, exports, plates
from ..documents import monthly as reports
from ..documents.jobs import Job, JobLimitError, Params, Title, get_runner
from ..documents.monthly import ReportError
from ..documents.plate_address import require_plate_address
from ..figures.county import county_townships, is_county
from ..figures.frozen import month_source, registry_for
from ..households.lookup import township_name
from ..months import previous_month, this_month
from ..storage import Registry
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
    kind: str  # the job's work: a kind of documents.job_kinds and its parameters
    params: Params


def _month(form: Any, today: date) -> str:
    """The form's month, checked. One holding a control character is refused here: the
    check that follows strips spaces, which would make "2026-11\\n" pass as 2026-11."""
    raw = form.get("month", "")
    if has_control(raw):
        shown = "".join(c for c in raw[:20] if c.isprintable())
        raise ReportError(reports.not_a_month_message(shown))
    return reports.check_report_month(raw, today)


def _township(asked: str | None, reg: Registry) -> str | None:
    """The township a file of the caller's covers: a township's account its own (asking
    for another is refused, with a message), the county's (or the one township's) the one
    asked for, None for the whole registry. Checked against ``reg``."""
    asked = (asked or "").strip()  # a name the registry does not know is refused below
    own = g.user.township
    if own and asked and asked != own:
        raise ReportError(_("本账号只能生成本乡镇（%(own)s）的文件", own=own))
    return reports.check_township(reg, own or asked)


def _household(household: str | None, township: str | None) -> None:
    """A household asked for by 户编号 must lie in ``township``: another township's is not
    named to a township's account (it does not exist for them)."""
    if household is None or township is None:
        return
    found = get_store().household(household)
    if found is None or found.township != township:
        raise ReportError(_("没有户编号为 %(id)s 的户", id=household))


def _scope_label(village: str | None, township: str | None, reg: Registry) -> Callable[[], str]:
    """How a job's title names what it covers, worded when shown."""
    county = is_county(reg) and township is None
    return lambda: village or township or (_("全县") if county else _("全镇"))


def _summary(form: Any, today: date) -> Request:
    store = get_store()
    month = _month(form, today)
    source = month_source(store, month)  # a closed month: its own registry and name
    township = _township(form.get("township"), source.registry)
    village = reports.check_village(store, form.get("village") or None, source.registry, township)
    name = reports.report_filename(township or source.township(), month, village)
    scope = _scope_label(village, township, source.registry)
    return Request(
        key=f"summary/{township or ''}/{month}/{village or ''}",
        title=Title(lambda: _("月度汇总：%(scope)s，%(month)s", scope=scope(), month=month)),
        filename=name,
        mimetype=PDF,
        kind="summary",
        params={"month": month, "village": village, "township": township, "today": str(today)},
    )


def _townships(form: Any, today: date) -> Request:
    """Every township's summary, one PDF each, in a zip: the county's accounts only."""
    store = get_store()
    month = _month(form, today)
    source = month_source(store, month)
    if g.user.township or not is_county(source.registry):
        raise ReportError(_("各乡镇的月度汇总只能由全县的账号生成"))
    count = len(county_townships(source.registry))
    return Request(
        key=f"townships/{month}",
        title=Title(
            lambda: ngettext(
                "各乡镇月度汇总：%(month)s，%(num)d 个乡镇",
                "各乡镇月度汇总：%(month)s，%(num)d 个乡镇",
                count,
                month=month,
            )
        ),
        filename=county.townships_zip_filename(source.township(), month),
        mimetype=county.ZIP_MIMETYPE,
        kind="townships",
        params={"month": month, "today": str(today)},
    )


def _booklet(form: Any, today: date) -> Request:
    store = get_store()
    raw = form.get("year", "")
    raw = "" if has_control(raw) else raw.strip()  # "2026\n" is no year either
    if not raw.isdecimal():
        raise ReportError(_("请选择年度"))
    year = booklet.check_year(int(raw), today)
    reg = store.registry()
    township = _township(form.get("township"), reg)
    household = form.get("household", "").strip() or None
    _household(household, township)
    village = None if household else form.get("village") or None
    village = reports.check_village(store, village, reg, township)
    chosen = booklet.booklet_households(store, village, household, township)
    name = booklet.booklet_filename(township or township_name(store), year, village, household)
    count = len(chosen)
    scope = _scope_label(household or village, township, reg)
    return Request(
        key=f"booklet/{township or ''}/{year}/{village or ''}/{household or ''}",
        title=Title(
            lambda: ngettext(
                "一户一册：%(scope)s，%(year)d 年度，%(num)d 户",
                "一户一册：%(scope)s，%(year)d 年度，%(num)d 户",
                count,
                scope=scope(),
                year=year,
            )
        ),
        filename=name,
        mimetype=PDF,
        kind="booklet",
        params={
            "year": year,
            "village": village,
            "household": household,
            "township": township,
            "today": str(today),
        },
    )


def _visits(form: Any, today: date) -> Request:
    store = get_store()
    month = _month(form, today)
    registry = registry_for(store, month)
    township = _township(form.get("township"), registry)
    village = reports.check_village(store, form.get("village") or None, registry, township)
    fmt = form.get("format", "xlsx")
    if fmt not in exports.FORMATS:
        raise ReportError(_("请选择 Excel 或 CSV"))
    scope = _scope_label(village, township, registry)
    return Request(
        key=f"visits/{township or ''}/{month}/{village or ''}/{fmt}",
        title=Title(lambda: _("走访记录：%(scope)s，%(month)s", scope=scope(), month=month)),
        filename=exports.export_filename(month, village, fmt, township or ""),
        mimetype=MIMETYPES[fmt],
        kind="visits",
        params={
            "month": month,
            "format": fmt,
            "village": village,
            "township": township,
            "today": str(today),
        },
    )


KINDS = {
    "summary": _summary,
    "townships": _townships,
    "booklet": _booklet,
    "visits": _visits,
}


def plates_request(
    village: str | None,
    household: str | None = None,
    *,
    stale: bool = False,
    township: str | None = None,
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
    reg = store.registry()
    try:
        township = _township(township, reg)
        _household(household, township)
    except ReportError as exc:
        raise LookupError(str(exc)) from None
    households = plates.households_for_plates(
        reg, village, household, stale=stale, township=township
    )
    if household is not None:
        household = households[0].id  # as stored, whatever spaces were typed around it
    count = len(households)

    named = _scope_label(household or village, township, reg)

    def title() -> str:
        scope = _("需要重新打印") if stale else named()
        return ngettext(
            "户牌：%(scope)s，%(num)d 户", "户牌：%(scope)s，%(num)d 户", count, scope=scope
        )

    return Request(
        # The address is part of the key: plates made after the address changed carry other
        # links, so they are not the same file.
        key="/".join(
            ("plates", township or "", village or "", household or "", "stale" * stale, address)
        ),
        title=Title(title),
        filename=plates.plates_filename(
            township or township_name(store), village, household or ("重新打印" if stale else None)
        ),
        mimetype=PDF,
        kind="plates",
        params={
            "address": address,
            "village": village,
            "household": household,
            "stale": stale,
            "township": township,
        },
    )


def submit(asked: Request) -> Job:
    """Queue ``asked`` for the caller; JobLimitError when they already wait for too many."""
    return get_runner().submit(
        g.user.phone,
        asked.key,
        asked.title,
        asked.filename,
        asked.mimetype,
        asked.kind,
        asked.params,
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
        **township_choices(store.registry()),
        "jobs": get_runner().jobs_of(g.user.phone),
        "closed": closing.closed_months(store),
        "closable": closing.closable_months(store, today),
        "people": {u.phone: u.name for u in store.registry().users.values()},
    }


def township_choices(reg: Registry) -> dict[str, Any]:
    """The forms' places for the caller: a county's account picks the county or one of its
    ``townships``; a township's account has its ``own_township`` and its villages only; a
    single township's deployment sees the villages, as it always did."""
    own = g.user.township
    keys = {key for key, v in reg.villages.items() if not own or v.township == own}
    return {
        "villages": sort_villages(keys),
        "townships": county_townships(reg) if not own and is_county(reg) else [],
        "own_township": own,
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
        if job.total > 1 and kind_of(job) == "townships":
            return _("正在生成：%(done)d / %(total)d 个乡镇", done=job.done, total=job.total)
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
