"""Photos of visits: shown on the household page to whoever may view the household, and
added or removed on a visit's correction page under the rule for correcting it."""

from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, abort, flash, g, redirect, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..access.permissions import login_required, may_correct
from ..storage.current import get_store
from ..visits import photos as visit_photos
from .field import correctable_visit, correction_page, refuse_correction
from .helpers import household_by_token, may_view

bp = Blueprint("photos", __name__)


@bp.get("/photos/<visit_id>/<photo_id>")
@login_required
def photo(visit_id: str, photo_id: str) -> Response:
    """A visit's photo, or its thumbnail with ``?thumb=1``."""
    store = get_store()
    thumb = request.args.get("thumb") == "1"
    visit, data = visit_photos.photo_file(store, visit_id, photo_id, thumb=thumb)
    if visit is None or data is None:
        abort(404)
    household = store.household(visit.household)
    if household is None or not may_view(household):
        abort(403)
    response = send_file(io.BytesIO(data), mimetype="image/jpeg", max_age=86400)
    # Photos of poor households are personal: never kept by a shared proxy.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


# The correction page's photo forms: plain HTML posts (with the form's CSRF token), so they
# work without scripts. Each answers with the correction page again, told what happened.


@bp.post("/h/<token>/visits/<visit_id>/photos")
@login_required
def add_to_correction(token: str, visit_id: str) -> Response | tuple[str, int]:
    """One photo added to a visit being corrected (multipart: ``id`` from the page, ``file``)."""
    household = household_by_token(token)
    visit = correctable_visit(household, visit_id)
    if not may_correct(g.user, visit, date.today()):
        return refuse_correction(token)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return correction_page(household, token, visit, _("请选择照片")), 400
    # One byte past the limit tells "too large" without reading it all (as the API does).
    data = upload.stream.read(visit_photos.MAX_BYTES + 1)
    try:
        added = visit_photos.add_photo(get_store(), visit, request.form.get("id", ""), data, g.user)
    except visit_photos.PhotoError as exc:
        if exc.status == 403:
            return refuse_correction(token, exc.message)
        return correction_page(household, token, visit, exc.message), exc.status
    if added:
        flash(_("照片已添加"))
    return redirect(_back_to(token, visit_id))


@bp.post("/h/<token>/visits/<visit_id>/photos/<photo_id>/remove")
@login_required
def remove_from_correction(token: str, visit_id: str, photo_id: str) -> Response | tuple[str, int]:
    """One photo taken off a visit being corrected, its files deleted."""
    household = household_by_token(token)
    visit = correctable_visit(household, visit_id)
    if not may_correct(g.user, visit, date.today()):
        return refuse_correction(token)
    try:
        removed = visit_photos.remove_photo(get_store(), visit, photo_id, g.user)
    except visit_photos.PhotoError as exc:
        if exc.status == 403:
            return refuse_correction(token, exc.message)
        abort(exc.status)
    if removed:  # a second tap finds it gone already: the page as it is, nothing said
        flash(_("照片已删除"))
    return redirect(_back_to(token, visit_id))


def _back_to(token: str, visit_id: str) -> str:
    # Back to the photos on the correction page, where the helper was.
    return url_for("field.edit_visit", token=token, visit_id=visit_id, _anchor="photos")
