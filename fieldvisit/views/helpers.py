"""Lookups that abort, and what every template may use."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, request

from .. import vocab
from ..access.accounts import get_store
from ..i18n import select_locale
from ..models import Household


def household_by_token(token: str) -> Household:
    """The household of a door plate's token, or a plain 404."""
    household = get_store().household_by_token(token)
    if household is None:
        abort(404)
    return household


def may_view(household: Household) -> bool:
    """Helpers see their own households; supervisors and the office see all."""
    user = g.user
    if user is None:
        return False
    return user.role in ("admin", "supervisor") or user.phone in household.helpers


def base_url() -> str:
    """The address phones reach: configured, or the one this request came in on."""
    return current_app.config.get("BASE_URL") or request.host_url.rstrip("/")


def township_name() -> str:
    return current_app.config.get("TOWNSHIP") or get_store().setting("township", "") or ""


def template_globals() -> dict[str, Any]:
    return {
        "current_user": g.get("user"),
        "vocab": vocab,
        "label": vocab.label,
        "lang": select_locale(),
        "township": township_name(),
    }
