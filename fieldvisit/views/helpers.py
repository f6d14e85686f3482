"""Lookups that abort, and what every template may use."""

from __future__ import annotations

from typing import Any

from flask import abort, g

from .. import vocab
from ..access import permissions
from ..collation import name_pinyin
from ..households.lookup import township_name
from ..i18n import select_locale
from ..models import Household, village_label
from ..storage.current import get_store


def household_by_token(token: str) -> Household:
    """The household of a door plate's token, or a plain 404 (also for an account of another
    township: to a township's office, the county's other households are not there)."""
    household = get_store().household_by_token(token)
    if household is None:
        abort(404)
    user = g.get("user")
    if user is not None and not permissions.in_scope(user, household):
        abort(404)
    return household


def may_view(household: Household) -> bool:
    """Whether this request's user may see ``household`` (``permissions.may_view``)."""
    return permissions.may_view(g.user, household)


def template_globals() -> dict[str, Any]:
    return {
        "current_user": g.get("user"),
        "vocab": vocab,
        "label": vocab.label,
        # Visits and needs are filed under their village's key (城关镇/王庄村): shown as read.
        "village_label": village_label,
        "lang": select_locale(),
        "township": township_name(get_store()),
        # A name column's data-sort: the browser's own Chinese order reads 曾 as céng.
        "name_pinyin": name_pinyin,
        # Templates ask who may do what by the same functions as the views.
        **permissions.template_functions(),
    }
