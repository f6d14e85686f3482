"""The audit log (操作记录): the office and supervisors read who changed what, and when.

Nobody changes the log here; entries are written by the domain modules as changes happen.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from ..access.permissions import may_supervise, scoped_township, supervision_required
from ..audit import reading as audit
from ..models import Household
from ..storage.current import get_store
from .admin import paginate

bp = Blueprint("audit", __name__, url_prefix="/office")
HISTORY_SHOWN = 50  # a household page's share; the link below it opens the whole log


@bp.get("/audit")
@supervision_required
def index() -> str:
    filters = audit.Filters.from_args(request.args)
    store = get_store()
    found = audit.entries(store, filters)
    township = scoped_township(g.get("user"), None)
    if township is not None:
        found = [e for e in found if audit.in_township(store, e, township)]
    page = paginate(found, request.args)
    names = audit.Names.of(store)
    rows = [audit.present(e, names, filters.household) for e in page.items]
    return render_template(
        "audit.html", filters=filters, page=page, rows=rows, kinds=audit.kind_labels()
    )


def household_history(household: Household) -> list[audit.Row]:
    """For the household page: its history, shown to the office and supervisors only, each
    bulk entry with this household's part alone."""
    if not may_supervise(g.get("user")):
        return []
    store = get_store()
    found = audit.household_history(store, household)[:HISTORY_SHOWN]
    names = audit.Names.of(store)
    return [audit.present(e, names, household.id) for e in found]


def audit_helpers() -> dict[str, Any]:
    """For every template: the household page's history (registered by ``create_app``)."""
    return {"audit_history": household_history}
