"""The township office's pages: registry upload and download, and door plates.

Door plates are made by the background job runner (a township's take some 20 seconds): this
page queues them, and the reports' job pages show their progress and the download.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from urllib.parse import quote

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from .. import registry
from ..access.permissions import (
    deployment_office_required,
    in_scope,
    office_required,
    scoped_township,
)
from ..clock import now_iso
from ..documents import plate_address, plate_records
from ..documents.jobs import JobLimitError, get_runner
from ..idcard import mask_id_number
from ..models import AuditEntry
from ..registry.exporting import RegistrySource
from ..registry.template import template_xlsx
from ..storage import Registry, Store
from ..storage.current import get_store
from .reports import busy_message, kind_of, plates_request, submit, township_choices

bp = Blueprint("office", __name__, url_prefix="/office")

ALLOWED_SUFFIXES = (".xlsx", ".csv")


@bp.route("/import", methods=["GET", "POST"])
@office_required
def import_registry() -> str | tuple[str, int]:
    if request.method == "GET":
        return render_template("import.html")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("import.html", problem=_("请选择要导入的表格文件")), 400
    # The name only tells the format; it never reaches the file system.
    name = upload.filename.lower()
    if not name.endswith(ALLOWED_SUFFIXES):
        return render_template("import.html", problem=_("只能导入 .xlsx 或 .csv 文件")), 400
    try:
        # A township's office imports its own township's households only (registry.scope).
        township = scoped_township(g.user, None)
        report = registry.import_registry(
            get_store(), upload.read(), name, actor=g.user.phone, township=township
        )
    except registry.RegistryError as exc:
        return render_template("import.html", errors=exc.errors), 400
    flash(_("导入完成"))
    return render_template("import.html", report=report)


def _plates_page(
    problem: str | None = None, household: str | None = None, address: str | None = None
) -> str:
    """The door-plates page: the address the codes will carry (and why plates cannot be
    made yet, when they cannot), the plates naming helpers no longer paired, the form (with
    the 户编号 or address asked for, to correct it), and the caller's plates being made or
    ready to download."""
    store = get_store()
    reg = store.registry()
    jobs = [j for j in get_runner().jobs_of(g.user.phone) if kind_of(j) == "plates"]
    state = plate_address.address_state(store, request.host_url)
    return render_template(
        "plates.html",
        **township_choices(reg),
        jobs=jobs,
        problem=problem,
        household=household,
        state=state,
        address=plate_address.stored_address(reg) if address is None else address,
        stale=[p for p in plate_records.stale_plates(reg) if in_scope(g.user, p.household)],
    )


@bp.get("/plates")
@office_required
def plates() -> str:
    return _plates_page()


@bp.post("/plates")
@office_required
def queue_plates() -> BaseResponse | tuple[str, int]:
    # Only the plates naming helpers no longer paired; else one household's plate (户编号,
    # e.g. after a new QR code) or a village's: the 户编号 wins when both are filled in, as
    # on the reports' booklet form.
    stale = request.form.get("stale") == "1"
    household = None if stale else request.form.get("household", "").strip() or None
    village = None if stale or household else request.form.get("village") or None
    try:
        township = request.form.get("township")
        job = submit(plates_request(village, household, stale=stale, township=township))
    except (LookupError, plate_address.AddressError) as exc:
        return _plates_page(str(exc), household), 400
    except JobLimitError:
        return _plates_page(busy_message(), household), 429
    return redirect(url_for("reports.job", job_id=job.id), code=303)


@bp.post("/plates/address")
@deployment_office_required
def set_plates_address() -> BaseResponse | tuple[str, int]:
    """The address phones use (手机访问地址), kept with the registry's settings."""
    typed = request.form.get("address", "")
    try:
        plate_address.set_phone_address(get_store(), typed, actor=g.user.phone)
    except plate_address.AddressError as exc:
        return _plates_page(str(exc), address=typed.strip()[:200]), 400
    flash(_("手机访问地址已保存"))
    return redirect(url_for("office.plates"), code=303)


# --- registry download ------------------------------------------------------------------
# The web download hides ID numbers unless an admin asks for them and confirms it, in the
# export page's form; the CLI ``export-registry`` (for the server's operator) keeps them, so
# a round trip loses nothing.


class _MaskedRegistry:
    """The store as the registry export reads it: the households of one township when
    ``township`` is given (a township's office: permissions.scoped_township), and with every
    ID number masked unless ``full_ids``."""

    def __init__(self, store: Store, full_ids: bool = False, township: str | None = None) -> None:
        self._store = store
        self._full_ids = full_ids
        self._township = township

    def registry(self) -> Registry:
        reg = self._store.registry()
        households = {
            hid: h
            if self._full_ids
            else dataclasses.replace(h, id_number=mask_id_number(h.id_number))
            for hid, h in reg.households.items()
            if self._township is None or h.township == self._township
        }
        return dataclasses.replace(reg, households=households)


def registry_download(
    store: Store, fmt: str, full_ids: bool, actor: str, township: str | None = None
) -> bytes:
    """The registry file for the web (of one township when ``township`` is given); who
    downloaded it, and whether with full ID numbers, goes into the audit log."""
    source: RegistrySource = _MaskedRegistry(store, full_ids, township)
    data = registry.export_registry_bytes(source, fmt)
    entry = AuditEntry(now_iso(), actor, "registry.export", fmt, None, {"full_ids": full_ids})
    store.audit(entry)
    return data


class UnconfirmedError(ValueError):
    """Full ID numbers were asked for without ticking the confirmation."""


def full_ids_asked(method: str, form: Mapping[str, str]) -> bool:
    """Whether a download request gets full ID numbers: only a POST of the export page's
    form (its CSRF token is checked for every POST) with both boxes ticked. A link (GET)
    never does, whatever its query says: a link can be sent on, bookmarked, prefetched or
    planted in a page the admin opens. Raises UnconfirmedError when the confirmation is
    missing."""
    if method != "POST" or form.get("full_ids") != "1":
        return False
    if form.get("confirm") != "1":
        raise UnconfirmedError(_("要导出完整身份证号，请勾选确认"))
    return True


@bp.get("/export")
@office_required
def export_page() -> str:
    return render_template("export.html")


@bp.get("/registry")
@office_required
def registry_page() -> str:
    """The registry in one place: import, download (masked), the blank template."""
    return render_template("registry.html")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(data: bytes, mimetype: str, name: str, fallback: str) -> Response:
    """A download called ``name`` (Chinese, RFC 5987 ``filename*``), with ``fallback`` for
    browsers that only read ``filename``: send_file's own fallback drops every Chinese
    character ("-2026-12-02.xlsx")."""
    response = Response(data, mimetype=mimetype)
    encoded = "UTF-8''" + quote(name, safe="!#$&+^`|~")
    response.headers.set(
        "Content-Disposition", "attachment", filename=fallback, **{"filename*": encoded}
    )
    return response


@bp.get("/registry-template.xlsx")
@office_required
def registry_template() -> Response:
    return attachment(template_xlsx(), XLSX, "花名册模板.xlsx", "registry-template.xlsx")


@bp.route("/export-registry.<fmt>", methods=["GET", "POST"])
@office_required
def export_registry(fmt: str) -> Response | tuple[str, int]:
    if fmt not in registry.FORMATS:
        return render_template("export.html", problem=_("只能导出 .xlsx 或 .csv 文件")), 404
    try:
        full_ids = full_ids_asked(request.method, request.form)
    except UnconfirmedError as exc:
        return render_template("export.html", problem=str(exc)), 400
    township = scoped_township(g.user, None)
    data = registry_download(get_store(), fmt, full_ids, g.user.phone, township)
    # A dated Chinese name (花名册-2026-12-02.xlsx): several downloads stay apart in the
    # clerk's folder.
    today = date.today().isoformat()
    mimetype = "text/csv" if fmt == "csv" else XLSX
    response = attachment(data, mimetype, f"花名册-{today}.{fmt}", f"registry-{today}.{fmt}")
    if full_ids:
        response.headers["Cache-Control"] = "no-store"  # not left in the browser's cache either
    return response
