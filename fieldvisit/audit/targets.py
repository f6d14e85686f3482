"""What an audit entry is about, named as the office knows it.

Entries keep ids as their target: a household's 户编号, a visit's id, a need's id. Nobody in
the office knows a visit or a need by its id, so the page names a household by 户主 and
户编号, a visit by its household and date, and a need by its category and text. Names are
read from the registry and the visit files as they are now: a household deleted since
falls back to its 户编号, a visit or need no longer stored to what the entry itself says.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import gettext as _

from .. import vocab
from ..models import AuditEntry, Household, Need, Visit
from ..storage import Store

_NEED_TEXT = 12  # characters of a need's text shown with its category
_DAY_LENGTH = 10  # YYYY-MM-DD


class Records:
    """Visits and needs by id, read month by month as entries ask for them: most pages of
    the log name no visit or need, and an entry's record is nearly always in the entry's
    own month or a little before it, so years of visit files are seldom all read."""

    def __init__(self, store: Store | None = None) -> None:
        self._store = store
        self._months = store.months() if store is not None else []
        self._read: set[str] = set()
        self._visits: dict[str, Visit] = {}
        self._needs: dict[str, Need] = {}

    def _look(self, found: dict[str, Any], key: str, month: str) -> Any:
        # The entry's month first, then every month newest first, until it turns up.
        for each in [month, *reversed(self._months)]:
            if key in found:
                break
            if each in self._read or each not in self._months or self._store is None:
                continue
            self._read.add(each)
            self._visits.update((v.id, v) for v in self._store.visits(each))
            self._needs.update((n.id, n) for n in self._store.needs(each))
        return found.get(key)

    def visit(self, visit_id: str, month: str = "") -> Visit | None:
        found: Visit | None = self._look(self._visits, visit_id, month)
        return found

    def need(self, need_id: str, month: str = "") -> Need | None:
        found: Need | None = self._look(self._needs, need_id, month)
        return found


def named(name: str, number: str) -> str:
    """A person or household with the number that tells it apart: "马娟（4117210010001）"."""
    return _("%(name)s（%(number)s）", name=name, number=number)


def household_words(household_id: str, households: Mapping[str, Household]) -> str:
    """户主 and 户编号; the 户编号 alone for a household no longer in the registry."""
    household = households.get(household_id)
    return named(household.head, household_id) if household else household_id


def day_words(day: str, at: str = "") -> str:
    """A visit's date as people say it: "11月29日", with the year when it is not the year of
    ``at`` (the entry's time), as for a paper record entered years later."""
    try:
        when = date.fromisoformat(day[:_DAY_LENGTH])
    except ValueError:
        return day
    skeleton = "MMMd" if at[:4] == day[:4] else "yMMMd"
    return format_skeleton(skeleton, when, locale=str(get_locale() or "zh"))


def visit_words(entry: AuditEntry, households: Mapping[str, Household], records: Records) -> str:
    """A visit by its household and date; a visit no longer stored by what a create or a
    correction entry recorded of it."""
    household, day = _recorded(entry.after)
    visit = records.visit(entry.target, (day or entry.at)[:7])
    if visit:
        household, day = visit.household, visit.date
    if not household or not day:
        return _("已删除的走访")
    return _(
        "%(household)s%(date)s的走访",
        household=household_words(household, households),
        date=day_words(day, entry.at),
    )


def _recorded(doc: Any) -> tuple[str, str]:
    if isinstance(doc, dict):
        return str(doc.get("household") or ""), str(doc.get("date") or "")
    return "", ""


def need_words(need_id: str, records: Records, month: str = "") -> str:
    """A need by its category and the start of its text: "医疗：需要慢病药…"."""
    need = records.need(need_id, month)
    if need is None:
        return _("已不在台账中的需求")
    text = need.description
    if len(text) > _NEED_TEXT:
        text = text[: _NEED_TEXT - 1] + "…"
    return _(
        "%(category)s：%(description)s",
        category=vocab.label(vocab.NEED_CATEGORIES, need.category),
        description=text,
    )


def about(entry: AuditEntry, households: Mapping[str, Household], records: Records) -> str | None:
    """The entry's target in words for a household, visit or need; None for other kinds."""
    kind = entry.action.split(".")[0]
    if kind == "household":
        return household_words(entry.target, households)
    if kind == "visit":  # every visit action, photos and those added later alike
        return visit_words(entry, households, records)
    if kind == "need":
        return need_words(entry.target, records, entry.at[:7])
    return None
