"""Settling a difference: the office takes the department's value, explains it, or sends it
to the household's helper, whose answer at the door settles it or opens it again.

Taking the department's value is a registry edit like any other: checked by the import's
rules (``households.office.check_household_fields`` for a household's fields, the members
file's parsers for a member's), written with the difference's new state and one audit entry
in one write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _

from ..clock import now_iso
from ..households.office import EDITABLE, AdminError, check_household_fields
from ..idcard import mask_id_number
from ..models import AuditEntry, Difference, Household
from ..registry.fields import _Invalid
from ..storage import Registry, Store
from . import terms
from .members import _PARSERS
from .scope import sees_difference

MAX_NOTE = 500
HOUSEHOLD_TARGETS = ("attribute", "members")
Change = tuple[dict[str, Any], dict[str, Any]]  # before, after


class SettleError(ValueError):
    """A difference that cannot be settled as asked; the message is for the office."""


def _household_form(household: Household) -> dict[str, str]:
    """The household's fields as the edit form sends them (the ID number left empty: kept)."""
    form = {
        name: "" if getattr(household, name) is None else str(getattr(household, name))
        for name in EDITABLE
    }
    form["id_number"] = ""
    form["long_absent"] = "1" if household.long_absent else ""
    return form


def _set_household(reg: Registry, hid: str, name: str, value: Any, at: str) -> Change:
    household = reg.households.get(hid)
    if household is None:
        raise SettleError(_("这一户已不在花名册里"))
    form = _household_form(household)
    form[name] = str(value)
    try:
        values = check_household_fields(hid, form)
    except AdminError as exc:
        raise SettleError("；".join(exc.errors.values())) from None
    old = getattr(household, name)
    setattr(household, name, values[name])
    household.updated_at = at
    return {name: old}, {name: values[name]}


def _checked_member_value(target: str, value: Any) -> dict[str, Any]:
    """The member fields ``value`` sets, checked as the members file's cells are."""
    try:
        if target == "disability":
            category = _PARSERS["残疾类别"][1](value["disability"])
            return {
                "disability": category,
                "disability_grade": _PARSERS["残疾等级"][1](value["disability_grade"]),
            }
        if target == "school_stage":
            return {"school_stage": _PARSERS["在校学段"][1](value)}
        if target == "insured" and isinstance(value, bool):
            return {"insured": value}
        if target == "name":
            return {"name": _PARSERS["姓名"][1](value)}
    except (_Invalid, KeyError, TypeError) as exc:
        raise SettleError(_("部门的数据不能直接采用：%(why)s", why=exc)) from None
    raise SettleError(_("这条差异没有可采用的部门数据，请填写说明"))


def _take_value(reg: Registry, d: Difference, at: str) -> Change:
    if not d.target:
        raise SettleError(_("这条差异没有可采用的部门数据，请填写说明"))
    if d.target in HOUSEHOLD_TARGETS:
        return _set_household(reg, d.household, d.target, d.proposed, at)
    values = _checked_member_value(d.target, d.proposed)
    member = reg.members.get(d.id_number)
    household = reg.households.get(d.household)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    is_head = household is not None and household.id_number == d.id_number
    if d.target == "name" and is_head:
        before, after = _set_household(reg, d.household, "head", values["name"], at)
    if member is None and not after:
        raise SettleError(_("这一户还没有导入这个人的家庭成员信息，无法采用"))
    if member is not None:
        for name, new in values.items():
            before[name], after[name] = getattr(member, name), new
            setattr(member, name, new)
        member.updated_at = at
    return before, after


def _who(d: Difference) -> str:
    """What an audit entry is about: the household, or the person on the list alone."""
    if d.household:
        return d.household
    return f"{d.name}（{mask_id_number(d.id_number)}）" if d.id_number else d.name


def _settle(
    store: Store,
    did: str,
    actor: str,
    action: str,
    apply: Callable[[Registry, Difference, str], Change],
    township: str | None,
) -> Difference:
    """Apply ``apply`` to the difference ``did`` with one audit entry; LookupError for none,
    or one outside ``township`` (a township's office: ``scope``; None: any)."""
    at = now_iso()

    def change(reg: Registry) -> tuple[Difference, Change]:
        d = reg.differences.get(did)
        if d is None or not sees_difference(reg, township, d):
            raise LookupError(did)
        return d, apply(reg, d, at)

    def entries(result: tuple[Difference, Change]) -> list[AuditEntry]:
        d, (before, after) = result
        after = {
            **after,
            "difference": terms.KINDS[d.kind],
            "department": terms.DEPARTMENTS[d.department],
        }
        return [AuditEntry(at, actor, action, _who(d), before, after)]

    d, _change = store.update_registry(change, entries)
    return d


def _open(d: Difference) -> None:
    if d.status not in ("open", "sent"):
        raise SettleError(_("这条差异已经处理过了"))


def _log(d: Difference, action: str, actor: str, at: str, note: str = "") -> None:
    d.history.append({"action": action, "who": actor, "at": at, "note": note})
    d.updated_at = at


def _note(text: str, required: bool = True) -> str:
    text = text.strip()
    if required and not text:
        raise SettleError(_("请填写说明"))
    if len(text) > MAX_NOTE:
        raise SettleError(_("说明最多 %(n)d 字", n=MAX_NOTE))
    return text


def take(store: Store, did: str, actor: str, township: str | None = None) -> Difference:
    """Write the department's value into the registry; the difference is settled."""

    def apply(reg: Registry, d: Difference, at: str) -> Change:
        _open(d)
        change = _take_value(reg, d, at)
        d.status, d.settlement = "settled", "taken"
        _log(d, "taken", actor, at)
        return change

    return _settle(store, did, actor, "reconcile.take", apply, township)


def explain(
    store: Store, did: str, note: str, actor: str, township: str | None = None
) -> Difference:
    """Settle with the office's explanation (a note), the registry left as it is."""
    text = _note(note)

    def apply(reg: Registry, d: Difference, at: str) -> Change:
        _open(d)
        d.status, d.settlement, d.note = "settled", "explained", text
        _log(d, "explained", actor, at, text)
        return {}, {"note": text}

    return _settle(store, did, actor, "reconcile.explain", apply, township)


def send(store: Store, did: str, actor: str, township: str | None = None) -> Difference:
    """Ask the household's helper to check at the next visit."""

    def apply(reg: Registry, d: Difference, at: str) -> Change:
        _open(d)
        household = reg.households.get(d.household)
        if household is None:
            raise SettleError(_("不在花名册里的人无法交帮扶责任人核实"))
        if not household.helpers:
            raise SettleError(_("这一户没有帮扶责任人"))
        d.status = "sent"
        _log(d, "sent", actor, at)
        return {}, {"helpers": list(household.helpers)}

    return _settle(store, did, actor, "reconcile.send", apply, township)


def answer(store: Store, did: str, verdict: str, note: str, actor: str) -> Difference:
    """The helper's answer to a difference sent to them."""
    # The registry is right (settled), or the department is (open again, for the office to
    # take its value).
    if verdict not in terms.ANSWERS:
        raise SettleError(_("请选择核实结果"))
    text = _note(note, required=False)

    def apply(reg: Registry, d: Difference, at: str) -> Change:
        if d.status != "sent":
            raise SettleError(_("这条差异已不需要核实"))
        if verdict == "registry":
            d.status, d.settlement = "settled", "checked"
        else:
            d.status = "open"
        d.note = text
        _log(d, f"answer_{verdict}", actor, at, text)
        return {}, {"result": terms.ANSWERS[verdict], "note": text}

    return _settle(store, did, actor, "reconcile.answer", apply, None)  # views.confirm scopes it
