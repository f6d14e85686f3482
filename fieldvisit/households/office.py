"""What the township office changes by hand between imports: who helps a household, helpers'
accounts, and a household's registry fields.

Every change is one atomic registry write followed by an audit entry naming who, when, and
the values before and after. Registry fields are checked by the import's own rules (the
parsers in ``registry``), so a value the office can type here is exactly a value the
spreadsheet import would accept, and the other way round.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from .. import registry
from ..access.login import end_sessions
from ..access.permissions import is_helper
from ..access.tokens import drop_tokens, revoked_entries
from ..access.users import set_password
from ..clock import now_iso
from ..idcard import mask_id_number
from ..models import AuditEntry, User, Village
from ..storage import Registry, Store

# The registry fields the office may edit, in the spreadsheet's column order. 户编号 is not
# among them: visits, needs and printed plates refer to a household by it.
EDITABLE: tuple[str, ...] = (
    "village", "group", "head", "members", "attribute", "cause", "status", "exit_year",
    "phone", "id_number", "long_absent",
)  # fmt: skip
_COLUMN_OF = {name: column for column, name in registry.field_of_column().items()}
_FIELD_OF = {column: name for name, column in _COLUMN_OF.items()}
_PHONE = re.compile(r"1[0-9]{10}")  # ASCII digits: \d also takes Arabic-Indic ones
_SEPARATORS = re.compile(r"[、,，;；/]")


class AdminError(ValueError):
    """The change cannot be made; ``errors`` maps a form field to a message ("" for the
    form as a whole). ``status``: 400 for what was typed, 409 for what is stored."""

    def __init__(self, errors: dict[str, str] | str, status: int = 400) -> None:
        self.errors = errors if isinstance(errors, dict) else {"": errors}
        self.status = status
        super().__init__("; ".join(self.errors.values()))


def _entry(at: str, actor: str, action: str, target: str, before: Any, after: Any) -> AuditEntry:
    return AuditEntry(at, actor, action, target, before, after)


# --- registry fields ----------------------------------------------------------------------


def check_household_fields(household_id: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The household fields in ``form`` checked and cleaned exactly as the import does it.

    ``form`` holds field names (``EDITABLE``) with the text typed; vocabularies may be given
    as codes or Chinese labels, ``long_absent`` as a checkbox. An empty ``id_number`` keeps
    the stored number, which the page never shows in full. Raises AdminError per field.
    """
    cells: dict[str, str] = {"户编号": household_id}
    for name in EDITABLE:
        text = form.get(name, "") or ""
        if name == "long_absent":
            text = "是" if text else "否"
        elif name == "id_number" and not text.strip():
            continue
        cells[_COLUMN_OF[name]] = text
    values, problems = registry.check_row(cells)
    if problems:
        errors: dict[str, str] = {}
        for error in problems:
            errors.setdefault(_FIELD_OF.get(error.column, ""), error.reason)
        raise AdminError(errors)
    values.pop("id", None)
    return values


def _audited(name: str, value: Any) -> Any:
    # The audit log is read by more people than the registry: ID numbers stay masked there.
    return mask_id_number(value) if name == "id_number" else value


def edit_household(
    store: Store, household_id: str, form: Mapping[str, str], actor: str
) -> dict[str, Any]:
    """Change a household's registry fields; returns the fields that changed (new values).

    Raises LookupError for an unknown household, AdminError when a value is not accepted.
    """
    values = check_household_fields(household_id, form)
    at = now_iso()
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}

    def change(reg: Registry) -> None:
        household = reg.households.get(household_id)
        if household is None:
            raise LookupError(household_id)
        for name, new in values.items():
            old = getattr(household, name)
            if old != new:
                before[name], after[name] = _audited(name, old), _audited(name, new)
                setattr(household, name, new)
        if after:
            household.updated_at = at
            # A village typed here is created as the import creates it: in the household's
            # township (models.village_key), so a county's 王庄村 stay apart.
            village = Village(household.village, township=household.township)
            reg.villages.setdefault(household.village_key, village)

    current = store.household(household_id)
    if current is None:
        raise LookupError(household_id)
    if "id_number" in values:  # the masked number, as the page shows it, keeps it too
        try:
            values["id_number"] = registry.keep_or_replace_id_number(
                values["id_number"], current.id_number
            )
        except registry.MaskedIdNumberMismatch as exc:
            raise AdminError({"id_number": str(exc.args[0])}) from None
    if all(getattr(current, name) == new for name, new in values.items()):
        return {}  # nothing to write
    store.update_registry(
        change,
        lambda _r: (
            [_entry(at, actor, "household.edit", household_id, before, after)] if after else []
        ),
        tables=("households", "villages"),  # not the members, lists and accounts of a county
    )
    return after


# --- pairing helpers with households ------------------------------------------------------


def helper_phone(reg: Registry, text: str) -> str:
    """The phone of the helper meant by ``text``: a phone, a name, or "name phone"."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        raise AdminError(_("请填写帮扶责任人的姓名或手机号"))
    match = _PHONE.search(text)
    if match:
        return match.group(0)
    named = [u for u in reg.users.values() if is_helper(u) and u.name == text]
    if len(named) == 1:
        return named[0].phone
    if named:
        raise AdminError(
            _("有 %(n)d 位帮扶责任人叫“%(name)s”，请填手机号", n=len(named), name=text)
        )
    raise AdminError(_("没有叫“%(name)s”的帮扶责任人，请填手机号", name=text))


def _check_new_helper(user: User | None, phone: str) -> User:
    if user is None or not is_helper(user):
        raise AdminError(_("%(phone)s 不是帮扶责任人", phone=phone))
    if not user.active:
        raise AdminError(_("%(name)s 的账号已停用，不能结对", name=user.name))
    return user


def set_helpers(store: Store, household_id: str, entries: list[str], actor: str) -> list[str]:
    """Pair the household with the helpers named in ``entries`` (phones or names), in that
    order; returns their phones. A helper already paired may stay even when their account
    has been stopped; a new one must be an active helper."""
    reg = store.registry()
    # Several may be typed into one box, separated as in the registry's helper column.
    names = [n for e in entries for n in _SEPARATORS.split(e) if n.strip()]
    phones = list(dict.fromkeys(helper_phone(reg, n) for n in names))
    if not phones:
        raise AdminError(_("至少要有一名帮扶责任人"))
    at = now_iso()

    def change(reg: Registry) -> list[str]:
        household = reg.households.get(household_id)
        if household is None:
            raise LookupError(household_id)
        old = list(household.helpers)
        for phone in phones:
            if phone not in old:
                _check_new_helper(reg.users.get(phone), phone)
        household.helpers = phones
        if phones != old:
            household.updated_at = at
        return old

    store.update_registry(
        change,
        lambda old: (
            [_entry(at, actor, "household.helpers", household_id, old, phones)]
            if old != phones
            else []
        ),
        tables=("households", "users"),
    )
    return phones


def transfer_households(store: Store, from_phone: str, to: str, actor: str) -> list[str]:
    """Give every household of one helper to another (a cadre transferred away); returns the
    户编号 moved. The other helpers of each household stay as they are."""
    to_phone = helper_phone(store.registry(), to)
    if to_phone == from_phone:
        raise AdminError(_("不能转给本人"))
    at = now_iso()

    def change(reg: Registry) -> dict[str, tuple[list[str], list[str]]]:
        if from_phone not in reg.users:
            raise LookupError(from_phone)
        _check_new_helper(reg.users.get(to_phone), to_phone)
        moved = {}
        for household in reg.households.values():
            if from_phone in household.helpers:
                old = list(household.helpers)
                new = [to_phone if p == from_phone else p for p in old]
                household.helpers = list(dict.fromkeys(new))
                household.updated_at = at
                moved[household.id] = (old, household.helpers)
        if not moved:
            raise AdminError(_("这位帮扶责任人没有结对的帮扶户"))
        return moved

    def entries(moved: dict[str, tuple[list[str], list[str]]]) -> list[AuditEntry]:
        before = {"households": {hid: old for hid, (old, _new) in moved.items()}}
        after = {"to": to_phone, "households": {hid: new for hid, (_old, new) in moved.items()}}
        return [_entry(at, actor, "helper.transfer", from_phone, before, after)]

    moved = store.update_registry(change, entries)
    return list(moved)


# --- helpers' accounts ----------------------------------------------------------------------


def _helper_account(reg: Registry, phone: str) -> User:
    # These pages manage helpers; office and supervisor accounts are kept with the commands.
    user = reg.users.get(phone)
    if user is None or not is_helper(user):
        raise LookupError(phone)
    return user


def _still_paired(reg: Registry, phone: str) -> None:
    paired = sum(1 for h in reg.households.values() if phone in h.helpers)
    if paired:
        # A stopped helper cannot log in, so their households would go unvisited unnoticed.
        raise AdminError(
            _(
                "不能停用：还有 %(n)d 户与此人结对，请先把这些户转交给其他帮扶责任人",
                n=paired,
            ),
            status=409,
        )


def set_active(store: Store, phone: str, active: bool, actor: str) -> bool:
    """Let a helper log in again, or stop them (a cadre who has left): their sessions and API
    tokens stop working at once, their visits stay. Returns whether anything changed.
    Raises LookupError when ``phone`` is not a helper, AdminError (409) when stopping a
    helper still paired with households: they are transferred first."""
    if phone == actor:
        raise AdminError(_("不能停用自己的账号"))
    _helper_account(store.registry(), phone)
    at = now_iso()

    def change(reg: Registry) -> tuple[bool, int]:
        user = _helper_account(reg, phone)
        revoked = 0
        if not active:
            _still_paired(reg, phone)  # under the registry's lock: no pairing slips in
            # Gone for good, not just unusable while stopped: a stopped cadre's client must
            # not come back to life if the account is ever started again.
            revoked = drop_tokens(reg, phone)
        was = user.active
        user.active = active
        return was, revoked

    def entries(outcome: tuple[bool, int]) -> list[AuditEntry]:
        was, revoked = outcome
        out = revoked_entries(phone, revoked, actor)
        if was != active:
            action = "user.activate" if active else "user.deactivate"
            out.append(_entry(at, actor, action, phone, {"active": was}, {"active": active}))
        return out

    was, _revoked = store.update_registry(change, entries)
    if not active:
        end_sessions(store, phone, actor)  # also when it was stopped already: a clean slate
    return was != active


def reset_password(store: Store, phone: str, actor: str) -> str:
    """A new generated password for a helper, returned to be shown once; their other
    sessions end. Raises LookupError when ``phone`` is not a helper."""
    _helper_account(store.registry(), phone)
    return set_password(store, phone, None, actor)
