"""Validating a visit, the same for the HTML form and the API: each field's rule, and the
household's (who may record for it is ``access.permissions``'s rule). Every problem found
is gathered, keyed by field, into one VisitError."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import gettext as _

from ..access.permissions import HELPER_GRACE_DAYS, earliest_date, is_helper, is_office, may_record
from ..models import Household, User
from ..months import EARLIEST_DATE
from ..storage import Store
from ..storage.paths import DATE_PATTERN, ID_PATTERN, whole
from ..vocab import GUARANTEES, NEED_CATEGORIES, SATISFACTION, VISIT_KINDS
from . import fields as visit_fields
from . import location as geo
from .fields import checklist

ID_RE = whole(ID_PATTERN)
DATE_RE = whole(DATE_PATTERN)
MAX_NEEDS = 20
MAX_NOTES = 2000
MAX_NEED_TEXT = 500
# Invisible characters pasted from other apps: they mean nothing in a note, and a worksheet
# cannot hold them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What an error names of the unknown keys a client sent: enough to find the mistake, never
# the whole (perhaps huge) object echoed back.
UNKNOWN_SHOWN = 3
UNKNOWN_KEY_CHARS = 40


class VisitError(ValueError):
    """The visit cannot be stored; ``errors`` maps a field to a message for the user, and
    ``message``, when given, says why as a whole (the API's ``error``)."""

    def __init__(self, errors: dict[str, str], status: int = 400, message: str = "") -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.status = status
        self.message = message


def month_closed(store: Store, month: str) -> str | None:
    """Why no visit dated in ``month`` may be added or corrected, nor its photos added or
    removed: the office closed the month (``closing``). None while it is open. The one home
    of the rule the form, the API, corrections and photos check before they begin; the
    store enforces it under the file's lock too (``MonthClosed``), for a close that comes
    in between."""
    return closed_month_message(month) if store.is_closed(month) else None


def closed_month_message(month: str) -> str:
    return _("%(month)s 已关账，不能再新增或修改走访记录", month=month)


def check_month_open(store: Store, month: str) -> None:
    """Raise VisitError (409, on the date) when ``month`` is closed (``month_closed``)."""
    message = month_closed(store, month)
    if message is not None:
        raise VisitError({"date": message}, status=409, message=message)


def validate(
    store: Store, payload: dict[str, Any], user: User, today: date
) -> tuple[Household, dict[str, Any]]:
    """Check a visit as sent by the form or the API; return its household and clean fields.

    Raises VisitError with every problem found, keyed by field (at once, without the
    others, when the household is unknown or not the user's).
    """
    errors: dict[str, str] = {}
    visit_id = _parse_id(payload.get("id"), errors)
    household = _household(store, payload.get("household"), user)
    helper = _helper(store, payload.get("helper"), user, household, errors)
    kind = _parse_kind(payload.get("kind"), errors)
    # A household met in person is checked in full; on the phone what was asked is kept.
    in_person = kind == "in_person"
    satisfaction = _parse_satisfaction(payload.get("satisfaction"), kind, errors)
    notes = _parse_notes(payload.get("notes"), errors)
    helped_clean = _parse_helped_clean(payload.get("helped_clean", False), errors)
    clean = {
        "id": visit_id,
        "household": household.id,
        "village": household.village,
        "helper": helper,
        "recorded_by": user.phone,
        "date": _parse_date(payload.get("date"), user, today, errors),
        "kind": kind,
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
        "helped_clean": helped_clean,
        "needs": _parse_needs(payload.get("needs"), errors),
        "satisfaction": satisfaction,
        "notes": notes,
    }
    if "location" in payload:
        # Absent (a correction from the HTML form) keeps what was stored; null is "no fix".
        clean["location"] = geo.parse_location(payload["location"], errors)
    if errors:
        raise VisitError(errors)
    return household, clean


def _parse_id(raw: Any, errors: dict[str, str]) -> str:
    """The visit's id (made by the client), or "" with an error when it is not one."""
    visit_id = visit_fields.typed("id", raw) or ""
    if not ID_RE.match(visit_id):
        errors["id"] = _("记录编号无效")
    return visit_id


def _household(store: Store, raw: Any, user: User) -> Household:
    """The household the visit is for. Raises VisitError (alone: nothing else is worth
    checking) when it is not text, unknown, or not one ``user`` may record for."""
    # A 户编号 is text: 4117210010001 sent as a JSON number is a client's mistake (and one
    # with a leading zero would have lost it), refused rather than converted.
    if raw is not None and not visit_fields.has_type("household", raw):
        raise VisitError({"household": _("户编号应为文字")})
    household = store.household(raw or "")
    if household is None:
        raise VisitError({"household": _("没有这个户编号")}, status=404)
    if not may_record(user, household):
        raise VisitError({"household": _("您不是这户的帮扶责任人，不能登记走访")}, status=403)
    return household


def _helper(
    store: Store, raw: Any, user: User, household: Household, errors: dict[str, str]
) -> str:
    """The phone of the helper who visited: the user, unless the office enters a visit on
    a helper's behalf (that helper, by default the household's first)."""
    if not is_office(user):
        return user.phone
    chosen = raw or (household.helpers[0] if household.helpers else "")
    # A phone is text too: a number is refused, not converted.
    helper: str = visit_fields.typed("helper", chosen) or ""
    helper_user = store.user(helper)
    if not is_helper(helper_user):
        errors["helper"] = _("请选择走访的帮扶责任人")
    return helper


def _parse_kind(raw: Any, errors: dict[str, str]) -> str | None:
    """The kind of visit (vocab.VISIT_KINDS), or None with an error."""
    # Only strings are looked up: JSON may send a list or object, which cannot be.
    kind: str | None = visit_fields.typed("kind", raw)
    if kind not in VISIT_KINDS:
        errors["kind"] = _("请选择走访方式")
    return kind


def _parse_satisfaction(raw: Any, kind: str | None, errors: dict[str, str]) -> Any:
    """The household's satisfaction: required, except after nobody was home (then "")."""
    satisfaction = raw or ""
    if not visit_fields.has_type("satisfaction", satisfaction) or (
        satisfaction not in SATISFACTION and (satisfaction or kind != "nobody_home")
    ):
        errors["satisfaction"] = _("请选择满意度")
    return satisfaction


def _parse_notes(raw: Any, errors: dict[str, str]) -> str:
    """The helper's notes, cleaned (see ``_free_text``) and at most MAX_NOTES long."""
    notes = _free_text(raw, "notes", errors)
    if len(notes) > MAX_NOTES:
        errors["notes"] = _("备注最多 %(n)d 字", n=MAX_NOTES)
    return notes


def _parse_helped_clean(raw: Any, errors: dict[str, str]) -> bool:
    """Whether the helper helped clean up; anything but true or false is refused."""
    if not visit_fields.has_type("helped_clean", raw):
        errors["helped_clean"] = _("请选择")
    return raw is True


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
    """The visit's date as YYYY-MM-DD, or "" with an error: not in the future, not before
    EARLIEST_DATE, and for a helper not before ``earliest_date``."""
    # Only YYYY-MM-DD: Python also reads "20261129" and week dates, which no form sends.
    try:
        if not visit_fields.has_type("date", raw) or not DATE_RE.match(raw):
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
        # The grace is part of the rule: "this month only" would be untrue on the 3rd,
        # when the last days of the month before are still accepted.
        errors["date"] = _(
            "只能登记本月及 %(days)d 天内的走访，更早的请联系镇扶贫办补录",
            days=HELPER_GRACE_DAYS,
        )
    return day.isoformat()


def _parse_flags(
    raw: Any, keys: list[str], required: bool, allow_none: bool, field: str, errors: dict[str, str]
) -> dict[str, Any]:
    """The answers of ``field`` (guarantees, environment): each of ``keys`` true or false
    (or null when ``allow_none``), all of them when ``required``, no other key."""
    raw = raw if visit_fields.has_type(field, raw) else {}
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
    """The needs raised: at most MAX_NEEDS, each with a category, a description and
    whether it is urgent."""
    if raw is None:
        return []
    if not visit_fields.has_type("needs", raw) or len(raw) > MAX_NEEDS:
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
