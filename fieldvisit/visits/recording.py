"""Recording visits: validation shared by the form and the API, idempotent saving,
corrections that keep earlier versions, and each household's state for a month."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _

from ..clock import now_iso
from ..models import AuditEntry, Household, Need, User, Visit
from ..storage import Registry, Store
from ..storage.paths import DATE_PATTERN, ID_PATTERN, whole
from ..vocab import DEFAULT_CHECKLIST, GUARANTEES, NEED_CATEGORIES, SATISFACTION, VISIT_KINDS
from . import location as geo

ID_RE = whole(ID_PATTERN)
MAX_NEEDS = 20
MAX_NOTES = 2000
MAX_NEED_TEXT = 500
# A visit saved offline at the end of a month may reach the server days later.
HELPER_GRACE_DAYS = 7
# No paper record of this work is older; a mistyped year such as 0001 or 1900 is refused.
EARLIEST_DATE = date(2000, 1, 1)
_DATE_RE = whole(DATE_PATTERN)
# Invisible characters pasted from other apps: they mean nothing in a note, and a worksheet
# cannot hold them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What an error names of the unknown keys a client sent: enough to find the mistake, never
# the whole (perhaps huge) object echoed back.
UNKNOWN_SHOWN = 3
UNKNOWN_KEY_CHARS = 40


class VisitError(ValueError):
    """The visit cannot be stored; ``errors`` maps a field to a message for the user."""

    def __init__(self, errors: dict[str, str], status: int = 400) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.status = status


@dataclass
class ChecklistItem:
    key: str
    label: str


def checklist(store: Store) -> list[ChecklistItem]:
    """The township's environment checklist (the defaults until it sets its own)."""
    items = store.setting("checklist")
    if not items:
        return [ChecklistItem(k, label) for k, label in DEFAULT_CHECKLIST]
    return [ChecklistItem(i["key"], i["label"]) for i in items]


def may_record(user: User, household: Household) -> bool:
    """Helpers record for their own households; the office may enter on anyone's behalf."""
    return user.role == "admin" or (user.role == "helper" and user.phone in household.helpers)


def earliest_date(user: User, today: date) -> date | None:
    """The oldest date this user may record; None: no limit (补录 by the office)."""
    if user.role == "admin":
        return None
    return min(today.replace(day=1), today - timedelta(days=HELPER_GRACE_DAYS))


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _free_text(raw: Any, field: str, errors: dict[str, str]) -> str:
    """Text the helper typed: a string or nothing, invisible control characters dropped;
    anything else (a number, a list: an API client's mistake) is refused, not converted."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        errors[field] = _("应为文字")
        return ""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a broken client
        errors[field] = _("含有无法保存的字符")
        return ""
    return _CONTROL.sub("", raw).strip()


def _parse_date(raw: Any, user: User, today: date, errors: dict[str, str]) -> str:
    # Only YYYY-MM-DD: Python also reads "20261129" and week dates, which no form sends.
    try:
        if not isinstance(raw, str) or not _DATE_RE.match(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        errors["date"] = _("请填写日期（年-月-日）")
        return ""
    if day > today:
        errors["date"] = _("日期不能晚于今天")
    if day < EARLIEST_DATE:
        errors["date"] = _("日期不能早于 %(year)d 年", year=EARLIEST_DATE.year)
    oldest = earliest_date(user, today)
    if oldest is not None and day < oldest:
        errors["date"] = _("只能登记本月的走访；更早的记录请镇扶贫办补录")
    return day.isoformat()


def _parse_flags(
    raw: Any, keys: list[str], required: bool, allow_none: bool, field: str, errors: dict[str, str]
) -> dict[str, Any]:
    raw = raw if isinstance(raw, dict) else {}
    out: dict[str, Any] = {}
    for key in keys:
        value = raw.get(key, "missing")
        if value == "missing":
            if required:
                errors[f"{field}.{key}"] = _("请选择")
            continue
        if value is None and allow_none:
            out[key] = None
        elif isinstance(value, bool):
            out[key] = value
        else:
            errors[f"{field}.{key}"] = _("请选择")
    unknown = set(raw) - set(keys)
    if unknown:
        errors[field] = _("未知项目：%(keys)s", keys=_some_keys(unknown))
    return out


def _some_keys(keys: set[Any]) -> str:
    """A few of ``keys``, each cut short and without control characters, then "…" when
    there were more."""
    shown = []
    for key in sorted(map(str, keys))[:UNKNOWN_SHOWN]:
        key = " ".join(_CONTROL.sub("", key).split())
        shown.append(key if len(key) <= UNKNOWN_KEY_CHARS else key[:UNKNOWN_KEY_CHARS] + "…")
    return "、".join(shown) + ("…" if len(keys) > UNKNOWN_SHOWN else "")


def _parse_needs(raw: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_NEEDS:
        errors["needs"] = _("需求最多 %(n)d 条", n=MAX_NEEDS)
        return []
    needs = []
    for i, item in enumerate(raw):
        item = item if isinstance(item, dict) else {}
        category = _text_or_none(item.get("category"))
        field = f"needs.{i}.description"
        description = _free_text(item.get("description"), field, errors)
        if category not in NEED_CATEGORIES:
            errors[f"needs.{i}.category"] = _("请选择需求类别")
        if field not in errors and not description:
            errors[field] = _("请描述需求")
        elif len(description) > MAX_NEED_TEXT:
            errors[field] = _("需求描述最多 %(n)d 字", n=MAX_NEED_TEXT)
        urgent = item.get("urgent", False)
        if not isinstance(urgent, bool):
            errors[f"needs.{i}.urgent"] = _("请选择是否紧急")
        needs.append({"category": category, "description": description, "urgent": urgent is True})
    return needs


def validate(
    store: Store, payload: dict[str, Any], user: User, today: date
) -> tuple[Household, dict[str, Any]]:
    """Check a visit as sent by the form or the API; return its household and clean fields.

    Raises VisitError with every problem found, keyed by field.
    """
    errors: dict[str, str] = {}
    visit_id = payload.get("id")
    visit_id = visit_id if isinstance(visit_id, str) else ""
    if not ID_RE.match(visit_id):
        errors["id"] = _("记录编号无效")
    household_id = payload.get("household")
    # A 户编号 is text: 4117210010001 sent as a JSON number is a client's mistake (and one
    # with a leading zero would have lost it), refused rather than converted.
    if household_id is not None and not isinstance(household_id, str):
        raise VisitError({"household": _("户编号应为文字")})
    household = store.household(household_id or "")
    if household is None:
        raise VisitError({"household": _("没有这个户编号")}, status=404)
    if not may_record(user, household):
        raise VisitError({"household": _("您不是这户的帮扶责任人，不能登记走访")}, status=403)

    helper = user.phone
    if user.role == "admin":
        helper = payload.get("helper") or (household.helpers[0] if household.helpers else "")
        # A phone is text too: a number is refused, not converted.
        helper = helper if isinstance(helper, str) else ""
        helper_user = store.user(helper)
        if helper_user is None or helper_user.role != "helper":
            errors["helper"] = _("请选择走访的帮扶责任人")
    # Only strings are looked up: JSON may send a list or object, which cannot be.
    kind = _text_or_none(payload.get("kind"))
    if kind not in VISIT_KINDS:
        errors["kind"] = _("请选择走访方式")
    in_person = kind == "in_person"
    satisfaction = payload.get("satisfaction") or ""
    if not isinstance(satisfaction, str) or (
        satisfaction not in SATISFACTION and (satisfaction or kind != "nobody_home")
    ):
        errors["satisfaction"] = _("请选择满意度")
    notes = _free_text(payload.get("notes"), "notes", errors)
    if len(notes) > MAX_NOTES:
        errors["notes"] = _("备注最多 %(n)d 字", n=MAX_NOTES)
    helped_clean = payload.get("helped_clean", False)
    if not isinstance(helped_clean, bool):
        errors["helped_clean"] = _("请选择")
    fields = {
        "id": visit_id,
        "household": household.id,
        "village": household.village,
        "helper": helper,
        "recorded_by": user.phone,
        "date": _parse_date(payload.get("date"), user, today, errors),
        "kind": kind,
        # A household met in person is checked in full; on the phone what was asked is kept.
        "guarantees": _parse_flags(
            payload.get("guarantees"), list(GUARANTEES), in_person, False, "guarantees", errors
        ),
        "environment": _parse_flags(
            payload.get("environment"),
            [i.key for i in checklist(store)],
            in_person,
            True,
            "environment",
            errors,
        ),
        "helped_clean": helped_clean is True,
        "needs": _parse_needs(payload.get("needs"), errors),
        "satisfaction": satisfaction,
        "notes": notes,
    }
    if "location" in payload:
        # Absent (a correction from the HTML form) keeps what was stored; null is "no fix".
        fields["location"] = geo.parse_location(payload["location"], errors)
    if errors:
        raise VisitError(errors)
    return household, fields


def _need_id(visit: Visit, need: dict[str, Any]) -> str:
    # Same visit, same need, same id: a correction that keeps a need keeps its ledger entry
    # (and its resolution).
    key = f"{visit.id}/{need['category']}/{need['description']}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def _needs_for(visit: Visit) -> list[Need]:
    unique = {_need_id(visit, n): n for n in visit.needs}
    return [
        Need(
            id=need_id,
            visit=visit.id,
            household=visit.household,
            village=visit.village,
            category=n["category"],
            description=n["description"],
            urgent=n["urgent"],
            raised_by=visit.helper,
            raised_at=visit.date,
        )
        for need_id, n in unique.items()
    ]


def needs_of(visit: Visit) -> list[Need]:
    """The ledger entries of a stored visit (for writers that change it otherwise, such as
    adding a photo)."""
    return _needs_for(visit)


_CONTENT = (
    "household",
    "helper",
    "date",
    "kind",
    "guarantees",
    "environment",
    "helped_clean",
    "needs",
    "satisfaction",
    "notes",
)


def record_visit(
    store: Store, payload: dict[str, Any], user: User, today: date | None = None
) -> tuple[Visit, bool]:
    """Store a new visit. Returns it and True, or the already stored visit with the same id
    and False (a resend: nothing changes). Raises VisitError."""
    today = today or date.today()
    household, fields = validate(store, payload, user, today)
    stamp = now_iso()
    visit = Visit(**fields, created_at=stamp, updated_at=stamp, updated_by=user.phone)
    conflict = _("这个记录编号已用于另一户")
    # Files are per village and month: an id already used in another village's file this
    # month is found here (a resend lands in its own file and is caught under that file's
    # lock), and so is one sent again with the next or previous day across a month's end
    # (a phone whose clock or time zone is a day off).
    elsewhere = store.find_visit_in_month(visit.month, visit.id)
    for month in _neighbours(visit.date) if elsewhere is None else ():
        elsewhere = store.find_visit_in_month(month, visit.id)
        if elsewhere is not None:
            break
    if elsewhere is not None and (
        elsewhere.village != visit.village or elsewhere.month != visit.month
    ):
        if elsewhere.household != visit.household:
            raise VisitError({"id": conflict}, status=409)
        return elsewhere, False  # moved village since, or a day off: still a resend

    def decide(existing: Visit | None) -> Visit | None:
        if existing is None:
            return visit
        if existing.household != visit.household:
            raise VisitError({"id": conflict}, status=409)
        return None

    stored, created = store.save_visit(visit, decide, _needs_for, audit=audit_entry)
    # The registry is rewritten only for a household that has no location yet.
    first_fix = stored.kind == "in_person" and geo.good_fix(stored.location)
    if created and first_fix and not household.location:
        place_household(store, stored.household, stored.location, user.phone, only_new=True)
    return stored, created


def _neighbours(day: str) -> list[str]:
    """The month a day off from ``day`` (YYYY-MM-DD) falls in, when that is another month:
    the previous one for the 1st, the next one for the last day."""
    this = date.fromisoformat(day)
    return [
        (this + timedelta(days=step)).isoformat()[:7]
        for step in (-1, 1)
        if (this + timedelta(days=step)).month != this.month
    ]


def place_household(
    store: Store, household_id: str, location: dict[str, float] | None, actor: str, only_new: bool
) -> bool:
    """Set a household's location (the office's, or its first in-person visit with a good
    fix when ``only_new``: a later visit never moves it). Returns whether it changed."""
    point = {"lat": location["lat"], "lng": location["lng"]} if location else None
    before: dict[str, float] | None = None

    def change(reg: Registry) -> bool:
        nonlocal before
        household = reg.households.get(household_id)
        if household is None or (only_new and household.location):
            return False
        before = household.location
        if before == point:
            return False
        household.location = point
        household.updated_at = now_iso()
        return True

    changed = store.update_registry(change)
    if changed:
        store.audit(AuditEntry(now_iso(), actor, "household.location", household_id, before, point))
    return changed


def may_correct(user: User, visit: Visit, today: date) -> bool:
    """A helper corrects their own visit within its month; the office any time."""
    if user.role == "admin":
        return True
    return (
        user.role == "helper"
        and user.phone in (visit.helper, visit.recorded_by)
        and visit.month == today.isoformat()[:7]
    )


def correct_visit(
    store: Store, original: Visit, payload: dict[str, Any], user: User, today: date | None = None
) -> Visit:
    """Replace a visit's content, keeping the earlier version in its history."""
    today = today or date.today()
    if not may_correct(user, original, today):
        raise VisitError({"id": _("只能在当月修改自己的走访记录")}, status=403)
    payload = {**payload, "id": original.id, "household": original.household}
    if user.role == "admin":
        payload.setdefault("helper", original.helper)
    _household, fields = validate(store, payload, user, today)
    if fields["date"][:7] != original.month:
        raise VisitError({"date": _("修改时日期须在原记录的同一个月内")})
    stamp = now_iso()

    def decide(existing: Visit | None) -> Visit | None:
        if existing is None:
            raise VisitError({"id": _("没有这条走访记录")}, status=404)
        before = existing.to_doc()
        before.pop("history", None)
        if all(before[k] == fields[k] for k in _CONTENT):
            return None  # nothing changed: keep the record as it is
        updated = Visit.from_doc({**existing.to_doc(), **fields})
        updated.recorded_by = existing.recorded_by
        updated.helper = existing.helper if user.role != "admin" else fields["helper"]
        updated.updated_at = stamp
        updated.updated_by = user.phone
        updated.version = existing.version + 1
        updated.history = [*existing.history, before]
        return updated

    # Needs follow the new version: open ones of the old version are replaced.
    stored, _changed = store.save_visit(Visit(**fields), decide, _needs_for, audit=audit_entry)
    return stored


def audit_entry(visit: Visit) -> AuditEntry:
    """The audit entry of a version of a visit just stored: what ``record_visit`` and
    ``correct_visit`` log, and what ``recover_audit`` writes again after a crash."""
    first = visit.version == 1
    before = None if first or not visit.history else visit.history[-1]
    action = "visit.create" if first else "visit.correct"
    return AuditEntry(visit.updated_at, _author(visit), action, visit.id, before, visit.to_doc())


def _author(visit: Visit) -> str:
    return visit.updated_by or visit.recorded_by  # records from before updated_by


# A crash is followed by a restart within minutes; a week covers a server left down.
RECOVERY_WINDOW_SECONDS = 7 * 24 * 3600


def recover_audit(store: Store, now: float | None = None) -> int:
    """Write the audit entries of visits saved just before a crash that came between the
    save and its entry (the save's journal line outlives it until the entry is written).
    Returns how many were written."""
    since = (time.time() if now is None else now) - RECOVERY_WINDOW_SECONDS
    known: dict[str, set[tuple[str, Any]]] = {}
    written = 0

    def check(saved: list[Visit]) -> None:
        nonlocal written
        for visit in saved:
            month = visit.updated_at[:7]
            if month not in known:
                known[month] = {
                    (e.target, (e.after or {}).get("version"))
                    for e in store.audit_log(month)
                    if e.action in ("visit.create", "visit.correct") and isinstance(e.after, dict)
                }
            if (visit.id, visit.version) in known[month]:
                continue  # logged (a photo's save repeats the version it was logged with)
            store.audit(audit_entry(visit))
            known[month].add((visit.id, visit.version))
            written += 1

    store.with_recent_visits(since, check)
    return written


def household_visits(store: Store, household: Household, months: list[str]) -> list[Visit]:
    """The household's visits in the given months, newest first."""
    out = [v for m in months for v in store.household_visits(m, household.village, household.id)]
    return sorted(out, key=lambda v: (v.date, v.created_at), reverse=True)


def recent_months(today: date, count: int) -> list[str]:
    """``count`` months up to and including today's, newest first."""
    year, month = today.year, today.month
    out = []
    for _i in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return out


def states_of(visits: list[Visit], household_ids: Iterable[str]) -> dict[str, str]:
    """Each household's state given a month's visits: visited (an in-person visit),
    attempted (only nobody home or phone), or not_visited. The one place that rule lives."""
    states = dict.fromkeys(household_ids, "not_visited")
    for visit in visits:
        if visit.household not in states:
            continue
        if visit.kind == "in_person":
            states[visit.household] = "visited"
        elif states[visit.household] == "not_visited":
            states[visit.household] = "attempted"
    return states


def month_states(store: Store, month: str) -> dict[str, str]:
    """Each household's state in ``month`` (see ``states_of``)."""
    return states_of(store.visits(month), store.registry().households)
