"""A household's location: the office sets or clears it, and templates measure how far a
visit was recorded from it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..access.permissions import office_required
from ..storage.current import get_store
from ..visits import location as geo
from ..visits import recording as visits
from .helpers import household_by_token

bp = Blueprint("location", __name__)


def location_globals() -> dict[str, Any]:
    """For every template: the distance between two points, and how far counts as far."""
    return {
        "distance_m": geo.distance_m,
        "far_meters": current_app.config.get("FAR_METERS", 500),
    }


def _number(text: str) -> float | None:
    # Phones type a decimal comma, sometimes the full-width one.
    try:
        return float(text.strip().replace("，", ".").replace(",", "."))
    except ValueError:
        return None


@bp.post("/h/<token>/location")
@office_required
def set_location(token: str) -> Response:
    """The office sets (or clears) a household's location."""
    household = household_by_token(token)
    errors: dict[str, str] = {}
    location = None
    if "clear" not in request.form:
        # Each coordinate told apart: "not a number" is not "out of range".
        raw = {name: _number(request.form.get(name, "")) for name in ("lat", "lng")}
        if raw["lat"] is None:
            errors["lat"] = _("纬度要填数字，例如 33.39297")
        if raw["lng"] is None:
            errors["lng"] = _("经度要填数字，例如 113.96361")
        if not errors:
            location = geo.parse_location(raw, errors)
    if errors:
        flash(_("位置无效：%(problem)s", problem="；".join(errors.values())))
    else:
        visits.place_household(get_store(), household.id, location, g.user.phone, only_new=False)
        flash(_("户的位置已保存") if location else _("户的位置已清除"))
    return redirect(url_for("field.household", token=token) + "#location")
