"""The audit log (操作记录): the office and supervisors read who changed what, and when.

Nobody changes the log here; entries are written by the domain modules as changes happen.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from .. import audit
from ..auth import get_store, role_required
from ..models import AuditEntry, Household
from .admin import paginate

bp = Blueprint("audit", __name__, url_prefix="/office")
READERS = ("admin", "supervisor")


@bp.get("/audit")
@role_required(*READERS)
def index() -> str:
    filters = audit.Filters.from_args(request.args)
    rows = audit.entries(get_store(), filters)
    return render_template(
        "audit.html", filters=filters, page=paginate(rows, request.args), kinds=audit.KINDS
    )


def household_history(household: Household) -> list[AuditEntry]:
    """For the household page: its history, shown to the office and supervisors only."""
    if g.get("user") is None or g.user.role not in READERS:
        return []
    return audit.household_history(get_store(), household)


@bp.app_context_processor
def audit_helpers() -> dict[str, Any]:
    return {"audit_history": household_history, "audit_changes": audit.changes}
