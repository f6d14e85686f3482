"""Photos of visits, shown on the household page to whoever may view the household."""

from __future__ import annotations

from flask import Blueprint, abort, request, send_file
from werkzeug.wrappers import Response

from ..access.permissions import login_required
from ..storage.current import get_store
from ..visits import photos as visit_photos
from .helpers import may_view

bp = Blueprint("photos", __name__)


@bp.get("/photos/<visit_id>/<photo_id>")
@login_required
def photo(visit_id: str, photo_id: str) -> Response:
    """A visit's photo, or its thumbnail with ``?thumb=1``."""
    store = get_store()
    thumb = request.args.get("thumb") == "1"
    visit, path = visit_photos.photo_file(store, visit_id, photo_id, thumb=thumb)
    if visit is None or path is None:
        abort(404)
    household = store.household(visit.household)
    if household is None or not may_view(household):
        abort(403)
    response = send_file(path, mimetype="image/jpeg", max_age=86400)
    # Photos of poor households are personal: never kept by a shared proxy.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
