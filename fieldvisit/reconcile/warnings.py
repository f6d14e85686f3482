"""Warning lists (部门筛查预警): each person found becomes a check at the door.

Departments push such lists each month (医保: high out-of-pocket costs; 卫健: new serious
illness; 教育: heavy school costs; 应急: a disaster). Each person found in the registry becomes
a check for their household's helpers, due a number of days (``check_days``, 15 unless the
office sets another) after the list's 推送日期: the county counts the time limit from the
day it pushed the list, not from the day the township happened to upload it. A check's id
is made from the warning itself, so the same list sent again makes no second check.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from flask_babel import gettext as _

from ..clock import now_iso
from ..models import AuditEntry, Check
from ..storage import Registry, Store
from . import terms
from .compare import Found, not_found
from .lists import ListRow, push_date
from .people import People
from .scope import of_township

MAX_DAYS = 90
MAX_TEXT = 500


class CheckError(ValueError):
    """A check's answer that cannot be recorded; the message is for the person."""


def check_days(reg: Registry) -> int:
    days = reg.settings.get(terms.CHECK_DAYS_SETTING, terms.DEFAULT_CHECK_DAYS)
    return days if isinstance(days, int) and 1 <= days <= MAX_DAYS else terms.DEFAULT_CHECK_DAYS


def check_id(id_number: str, row: ListRow, pushed: str) -> str:
    key = "|".join(("warning", id_number, row.cells.get("预警类型", "")))
    key += "|" + "|".join((row.cells.get("预警内容", ""), pushed))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def make_checks(
    reg: Registry,
    rows: list[ListRow],
    comparison: str,
    at: str,
    days: int,
    township: str | None = None,
) -> tuple[int, list[Found]]:
    """Add a check per person found (none for a warning already checked or waiting), within
    ``township`` (None: anywhere); returns the checks made and the people not found."""
    people = People(reg)
    made, missing = 0, []
    for row in rows:
        person = people.match(row)
        if person is None:
            missing.append(not_found(row))
            continue
        if not of_township(reg, township, person.household):
            continue  # another township's person: that township's office checks them
        raw = row.cells.get("推送日期", "")
        cid = check_id(person.id_number, row, push_date(raw) or raw)
        if cid in reg.checks:
            if comparison not in reg.checks[cid].lists:
                reg.checks[cid].lists.append(comparison)
            continue
        pushed = push_date(raw) or at[:10]
        due = (date.fromisoformat(pushed) + timedelta(days=days)).isoformat()
        reg.checks[cid] = Check(
            cid, comparison, person.household, person.id_number, row.name or person.name,
            row.cells.get("预警类型", ""), row.cells.get("预警内容", ""), pushed, due,
            created_at=at, lists=[comparison],
        )  # fmt: skip
        made += 1
    return made, missing


def is_overdue(check: Check, today: date) -> bool:
    return check.status == "open" and check.due < today.isoformat()


def record_check(
    store: Store, check_id: str, result: str, action: str, note: str, actor: str
) -> Check:
    """The helper's finding at the door: 属实 or 不属实 (``result`` true | false), what was
    done, a note. Raises LookupError for no such check, CheckError for an answer that
    cannot be kept (the page says why)."""
    if result not in terms.WARNING_RESULTS:
        raise CheckError(_("请选择核查结果：属实或不属实"))
    action, note = action.strip(), note.strip()
    if len(action) > MAX_TEXT or len(note) > MAX_TEXT:
        raise CheckError(_("每项最多 %(n)d 字", n=MAX_TEXT))
    if result == "true" and not action:
        raise CheckError(_("情况属实时，请写明采取了什么措施"))
    at = now_iso()

    def change(reg: Registry) -> Check:
        check = reg.checks.get(check_id)
        if check is None:
            raise LookupError(check_id)
        if check.status != "open":
            raise CheckError(_("这项核查已经反馈过了"))
        check.status, check.result, check.action, check.note = "done", result, action, note
        check.done_by, check.done_at = actor, at
        return check

    def entries(check: Check) -> list[AuditEntry]:
        after = {
            "warning": check.warning,
            "result": terms.WARNING_RESULTS[result],
            "action_taken": action,
            "note": note,
        }
        return [AuditEntry(at, actor, "reconcile.check", check.household, None, after)]

    return store.update_registry(change, entries)


def set_check_days(store: Store, typed: str, actor: str) -> int:
    """The office's time limit for checks (days); raises CheckError for a bad value."""
    text = typed.strip()
    if not text.isdecimal() or not 1 <= int(text) <= MAX_DAYS:
        raise CheckError(_("核查时限应为 1 到 %(most)d 之间的天数", most=MAX_DAYS))
    days = int(text)
    at = now_iso()

    def change(reg: Registry) -> int:
        old = check_days(reg)
        reg.settings[terms.CHECK_DAYS_SETTING] = days
        return old

    def entries(old: int) -> list[AuditEntry]:
        if old == days:
            return []
        key = terms.CHECK_DAYS_SETTING
        return [AuditEntry(at, actor, "settings.check_days", "township", {key: old}, {key: days})]

    store.update_registry(change, entries)
    return days
