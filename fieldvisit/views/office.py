"""The township office's pages: registry upload and door plates."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, render_template, request
from flask_babel import gettext as _

from .. import registry
from ..auth import get_store, role_required
from ..plates import sort_villages
from .helpers import base_url

bp = Blueprint("office", __name__, url_prefix="/office")

ALLOWED_SUFFIXES = (".xlsx", ".csv")


@bp.route("/import", methods=["GET", "POST"])
@role_required("admin")
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
        report = registry.import_registry(get_store(), upload.read(), name, actor=g.user.phone)
    except registry.RegistryError as exc:
        return render_template("import.html", errors=exc.errors), 400
    flash(_("导入完成"))
    return render_template("import.html", report=report)


@bp.get("/plates")
@role_required("admin")
def plates() -> str:
    villages = sort_villages(set(get_store().registry().villages))
    return render_template("plates.html", villages=villages)


@bp.get("/plates.pdf")
@role_required("admin")
def plates_pdf() -> Response | tuple[str, int]:
    from ..plates import door_plates_pdf

    village = request.args.get("village") or None
    try:
        pdf = door_plates_pdf(get_store(), base_url(), village)
    except LookupError as exc:
        villages = sort_villages(set(get_store().registry().villages))
        return render_template("plates.html", villages=villages, problem=str(exc)), 404
    filename = "door-plates.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
