"""Reading the audit log: filters for the office's page and one household's history.

Entries are written by the domain modules (``store.audit``) at the moment of each change;
this module only reads them. Targets differ by kind: a household's 户编号 for
``household.*``, a visit's id for ``visit.*``, a need's id for ``need.*``, a phone for
``user.*``/``token.*``/``helper.*`` and the file name for ``registry.import``. A household's
history therefore matches its 户编号, the ids of its visits and needs, and the bulk entries
(imports, transfers) that name it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from .idcard import mask_id_number
from .models import AuditEntry, Household
from .storage import Store

# Kinds the page offers as filters: the prefix of ``action``.
KINDS = ("registry.", "household.", "visit.", "need.", "helper.", "user.", "token.")
WINDOW_MONTHS = 12  # what the page and a household's history show unless asked
_MAX_KEYS = 8
_MAX_VALUE = 80
# Every value written to the log is masked already; this is a second guard for the page.
_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Left out of the compact view: earlier versions and secrets, and what the entry's target
# and time say already.
_HIDDEN_KEYS = frozenset(
    {"history", "password_hash", "id", "household", "village", "created_at", "updated_at"}
)


@dataclass(frozen=True)
class Filters:
    who: str = ""
    kind: str = ""  # an action prefix such as "visit."
    household: str = ""  # 户编号
    date_from: str = ""  # YYYY-MM-DD
    date_to: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str], today: date | None = None) -> Filters:
        """Filters from query arguments; values that cannot be meant are dropped. Without
        a ``from`` argument the last twelve months are shown (years of history are many
        entries; an empty ``from`` asks for all of them)."""

        def day(name: str) -> str:
            value = (args.get(name) or "").strip()
            return value if _DAY.match(value) else ""

        kind = (args.get("kind") or "").strip()
        return cls(
            who=(args.get("who") or "").strip()[:20],
            kind=kind if kind in KINDS else "",
            household=(args.get("household") or "").strip()[:40],
            date_from=day("from") if "from" in args else window_start(today or date.today()),
            date_to=day("to"),
        )

    def args(self) -> dict[str, str]:
        """The filters that are set, as query arguments (for the pager's links)."""
        values = {
            "who": self.who,
            "kind": self.kind,
            "household": self.household,
            "from": self.date_from,
            "to": self.date_to,
        }
        # "from" stays even when empty: it then means "from the beginning", not the default.
        return {k: v for k, v in values.items() if v or k == "from"}


@dataclass(frozen=True)
class Change:
    key: str
    before: str
    after: str


def _months_between(store: Store, filters: Filters) -> list[str]:
    months = store.audit_months()
    if filters.date_from:
        months = [m for m in months if m >= filters.date_from[:7]]
    if filters.date_to:
        months = [m for m in months if m <= filters.date_to[:7]]
    return months


def household_keys(store: Store, household: Household, since: str = "") -> set[str]:
    """The audit targets that belong to a household: its 户编号 and the ids of its visits
    and needs (of visits dated from ``since``, a YYYY-MM-DD, on)."""
    keys = {household.id}
    for month in (m for m in store.months() if m >= since[:7]):
        keys.update(
            v.id for v in store.visits(month, household.village) if v.household == household.id
        )
        keys.update(
            n.id for n in store.needs(month, household.village) if n.household == household.id
        )
    return keys


def _names_household(entry: AuditEntry, household_id: str) -> bool:
    # Bulk entries list the households they changed in before/after["households"].
    for side in (entry.before, entry.after):
        if isinstance(side, dict):
            listed = side.get("households")
            if isinstance(listed, dict) and household_id in listed:
                return True
            if isinstance(listed, list) and household_id in listed:
                return True
    return False


def _matches(entry: AuditEntry, filters: Filters, keys: set[str] | None) -> bool:
    if filters.who and entry.who != filters.who:
        return False
    if filters.kind and not entry.action.startswith(filters.kind):
        return False
    day = entry.at[:10]
    if filters.date_from and day < filters.date_from:
        return False
    if filters.date_to and day > filters.date_to:
        return False
    if keys is not None:
        return entry.target in keys or _names_household(entry, filters.household)
    return True


def entries(store: Store, filters: Filters) -> list[AuditEntry]:
    """The entries that pass ``filters``, newest first."""
    keys: set[str] | None = None
    if filters.household:
        household = store.household(filters.household)
        keys = (
            household_keys(store, household, filters.date_from)
            if household
            else {filters.household}
        )
    out: list[AuditEntry] = []
    for month in _months_between(store, filters):
        out.extend(e for e in store.audit_log(month) if _matches(e, filters, keys))
    # Within one second the file's order is the order of events: reverse it, then sort
    # (a stable sort keeps equal times in that reversed order).
    out.reverse()
    out.sort(key=lambda e: e.at, reverse=True)
    return out


def window_start(today: date, months: int = WINDOW_MONTHS) -> str:
    """The first day of the month ``months - 1`` months before ``today``'s."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}-01"


def household_history(
    store: Store, household: Household, today: date | None = None
) -> list[AuditEntry]:
    """The entries about one household in the last twelve months, newest first."""
    since = window_start(today or date.today())
    return entries(store, Filters(household=household.id, date_from=since))


def _show(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def changes(entry: AuditEntry) -> list[Change]:
    """A compact view of what an entry changed: the keys whose values differ (at most a
    few), or the whole value when before and after are not both mappings."""
    before, after = entry.before, entry.after
    if isinstance(before, dict) or isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        new = after if isinstance(after, dict) else {}
        keys: Iterable[str] = [
            k
            for k in dict.fromkeys([*old, *new])
            if k not in _HIDDEN_KEYS and old.get(k) != new.get(k)
        ]
        out = [Change(k, _show(old.get(k)), _show(new.get(k))) for k in keys]
        if len(out) > _MAX_KEYS:
            out = [*out[:_MAX_KEYS], Change("…", "", "")]
        return out
    if before is None and after is None:
        return []
    return [Change("", _show(before), _show(after))]
