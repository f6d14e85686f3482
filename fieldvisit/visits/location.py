"""Locations of visits and households: checking what a phone sent, and distances."""

from __future__ import annotations

import math
from typing import Any

from flask_babel import gettext as _

EARTH_RADIUS_M = 6_371_008.8
# A fix this good may set a household's location from its first in-person visit.
GOOD_ACCURACY_M = 100.0
MAX_ACCURACY_M = 100_000.0


def _number(value: Any) -> float | None:
    # bool is an int in Python; a phone never sends true for a coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_location(raw: Any, errors: dict[str, str]) -> dict[str, float] | None:
    """A visit's ``{"lat", "lng", "accuracy"}`` as sent, checked; None when absent (no
    permission or no fix: the visit is still stored, marked "no location")."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errors["location"] = _("定位数据无效")
        return None
    lat, lng = _number(raw.get("lat")), _number(raw.get("lng"))
    accuracy = _number(raw.get("accuracy")) if raw.get("accuracy") is not None else None
    if lat is None or not -90 <= lat <= 90:
        errors["location.lat"] = _("纬度应在 -90 到 90 之间")
    if lng is None or not -180 <= lng <= 180:
        errors["location.lng"] = _("经度应在 -180 到 180 之间")
    if raw.get("accuracy") is not None and (accuracy is None or accuracy < 0):
        errors["location.accuracy"] = _("定位精度应为不小于 0 的数")
    if lat is None or lng is None or "location.accuracy" in errors:
        return None
    location = {"lat": round(lat, 7), "lng": round(lng, 7)}
    if accuracy is not None:
        location["accuracy"] = round(min(accuracy, MAX_ACCURACY_M), 1)
    return location


def distance_m(a: dict[str, float] | None, b: dict[str, float] | None) -> float | None:
    """Great-circle (haversine) distance in metres; None when either is unknown."""
    if not a or not b:
        return None
    lat1, lng1, lat2, lng2 = map(math.radians, (a["lat"], a["lng"], b["lat"], b["lng"]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def good_fix(location: dict[str, float] | None) -> bool:
    """Precise enough to place a household: an accuracy reported and within 100 m."""
    if not location or location.get("accuracy") is None:
        return False
    return location["accuracy"] <= GOOD_ACCURACY_M
