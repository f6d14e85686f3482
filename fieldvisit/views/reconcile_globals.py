"""What the shared pages' small includes of reconciliation ask for (registered by
``create_app``): the household page's members and items to confirm, the helper's checks on
the home page, the dashboard's section. Each is worked out only when a page includes it."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import g

from ..access.permissions import is_helper, may_record, may_view, scoped_township
from ..idcard import mask_id_number
from ..models import Household
from ..reconcile import overview, terms
from ..storage.current import get_store


def _members(household: Household) -> dict[str, Any]:
    reg = get_store().registry()
    return {
        "members": overview.members_of(reg, household.id),
        "mismatch": overview.count_mismatch(reg, household),
    }


def _items(household: Household) -> dict[str, Any]:
    """The household's items to confirm, and whether this user may answer them."""
    user = g.get("user")
    if not may_view(user, household):
        return {"found": None, "may_answer": False}
    reg = get_store().registry()
    return {
        "found": overview.items_of(reg, household.id),
        "may_answer": may_record(user, household),
        "today": date.today().isoformat(),
    }


def _helper_checks() -> list[overview.HelperCheck]:
    user = g.get("user")
    if not is_helper(user):
        return []
    return overview.helper_checks(get_store(), user.phone, date.today())


def _summary(village: str | None = None, township: str | None = None) -> overview.Summary:
    """The dashboard's section for its ``village`` (key) or ``township``: a township's account
    gets its own township's whatever is asked, as the dashboard's figures do."""
    own = scoped_township(g.get("user"), township)
    return overview.summary(get_store(), date.today(), village, own)


def reconcile_globals() -> dict[str, Any]:
    return {
        "household_members": _members,
        "confirm_items": _items,
        "helper_checks": _helper_checks,
        "reconcile_summary": _summary,
        "mask_id": mask_id_number,
        "kind_label": terms.kind_label,
        "department_label": terms.department_label,
        "reconcile_label": terms.label,
    }
