"""A township's office imports only its own township's households.

The scope of an import is the township of the account importing (``permissions.
scoped_township``: ``None`` for the county's office, for the one township of a single
deployment, and for the command line unless given ``--township``). Within a scope:

* a row whose 乡镇 is empty, or a file without the column, is the account's township;
* a row naming another township, or updating (by 户编号) a household stored under
  another, is refused at its row and column;
* a helper the file would rename or move to another unit is refused when they also help
  households of other townships: that is the county's change to make;
* the households the file leaves out are counted among the township's own only.

Like every other problem these refuse the whole file (imports are all or nothing), and they
are checked against the registry read under its lock, with the rest of the import.
"""

from __future__ import annotations

from flask_babel import gettext as _

from ..models import Household
from ..storage import Registry
from .checking import _Plan
from .errors import RowError


def within(township: str | None, household: Household) -> bool:
    """Whether ``household`` lies within an import's scope."""
    return township is None or household.township == township


def confine(reg: Registry, plan: _Plan, township: str | None) -> list[RowError]:
    """Give the rows without a township ``township``, and the reasons a scoped import may
    not write each row that lies outside it; none when ``township`` is None."""
    if township is None:
        return []
    errors = []
    for values in plan.households:
        row = plan.rows[values["id"]]
        named = values.get("township") or township
        if named != township:
            errors.append(RowError(row, plan.header("乡镇"), _outside(named, township)))
            continue
        values["township"] = township
        stored = reg.households.get(values["id"])
        if stored is not None and stored.township != township:
            reason = _(
                "户编号 %(id)s 已登记在其他乡镇，本账号只能导入%(township)s的帮扶户",
                id=values["id"],
                township=township,
            )
            errors.append(RowError(row, plan.header("户编号"), reason))
    errors.extend(_shared_helpers(reg, plan, township))
    return errors


def _outside(named: str, township: str) -> str:
    return _(
        "这一行是“%(named)s”的帮扶户，本账号只能导入%(township)s的帮扶户",
        named=named,
        township=township,
    )


def _shared_helpers(reg: Registry, plan: _Plan, township: str) -> list[RowError]:
    changed = {
        phone: helper
        for phone, helper in plan.helpers.items()
        if (user := reg.users.get(phone)) is not None
        and (user.name != helper.name or (helper.unit is not None and user.unit != helper.unit))
    }
    if not changed:
        return []
    elsewhere = {
        phone
        for h in reg.households.values()
        if h.township != township
        for phone in h.helpers
        if phone in changed
    }
    reason = _("此人也帮扶其他乡镇的户，姓名和帮扶单位请由县里修改")
    return [
        RowError(changed[phone].row, plan.header("帮扶责任人"), reason)
        for phone in sorted(elsewhere, key=lambda p: changed[p].row)
    ]


def missing_ids(reg: Registry, plan: _Plan, township: str | None) -> list[str]:
    """The households of the scope the file leaves out (they are kept as they are)."""
    in_file = {values["id"] for values in plan.households}
    return [hid for hid, h in reg.households.items() if hid not in in_file and within(township, h)]
