"""Reading the audit log: filters for the office's page and one household's history.

Entries are written by the domain modules (``store.audit``) at the moment of each change;
this module only reads them. Targets differ by kind: a household's 户编号 for
``household.*``, a visit's id for ``visit.*``, a need's id for ``need.*``, a phone for
``user.*``/``token.*``/``helper.*`` and the file name for ``registry.import``. A household's
history therefore matches its 户编号, the ids of its visits and needs, and the bulk entries
(imports, transfers) that name it. How an entry reads on the page: ``words``, which names
targets as the office knows them (``targets``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from ..models import AuditEntry, Household
from ..months import months_between, window_start
from ..storage import Store
from ..storage.paths import DATE_PATTERN, whole
from .words import (  # the page's words, used through this module
    ACTIONS,
    KINDS,
    Change,
    Names,
    Row,
    kind_labels,
    present,
)

__all__ = ["ACTIONS", "Change", "Names", "Row", "kind_labels", "present"]

WINDOW_MONTHS = 12  # what the page and a household's history show unless asked
_DAY = whole(DATE_PATTERN)  # the whole value, ASCII digits


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
        last_months = window_start(today or date.today(), WINDOW_MONTHS)
        return cls(
            who=(args.get("who") or "").strip()[:20],
            kind=kind if kind in KINDS else "",
            household=(args.get("household") or "").strip()[:40],
            date_from=day("from") if "from" in args else last_months,
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


def household_keys(store: Store, household: Household, since: str = "") -> set[str]:
    """The audit targets that belong to a household: its 户编号 and the ids of its visits
    and needs (of visits dated from ``since``, a YYYY-MM-DD, on)."""
    months = months_between(store.months(), since)
    visits = {v.id for v in store.household_visits(months, household.village_key, household.id)}
    # A need is kept with the visit that raised it: those of the visits above.
    needs = store.household_needs(household.village_key, household.id)
    return {household.id, *visits, *(n.id for n in needs if n.visit in visits)}


def _names_household(entry: AuditEntry, household_id: str) -> bool:
    # Bulk entries list the households they changed in before/after["households"]; an
    # import lists those it added in after["added"].
    for side in (entry.before, entry.after):
        if isinstance(side, dict):
            for listed in (side.get("households"), side.get("added")):
                if isinstance(listed, dict | list) and household_id in listed:
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
        # Every month's records: an entry of this year can be about a visit of an earlier
        # one (the office's 补录, a need raised long ago and resolved now).
        keys = household_keys(store, household) if household else {filters.household}
    out: list[AuditEntry] = []
    for month in months_between(store.audit_log.months(), filters.date_from, filters.date_to):
        out.extend(e for e in store.audit_log.entries(month) if _matches(e, filters, keys))
    # Within one second the file's order is the order of events: reverse it, then sort
    # (a stable sort keeps equal times in that reversed order).
    out.reverse()
    out.sort(key=lambda e: e.at, reverse=True)
    return out


def household_history(
    store: Store, household: Household, today: date | None = None
) -> list[AuditEntry]:
    """The entries about one household in the last twelve months, newest first."""
    since = window_start(today or date.today(), WINDOW_MONTHS)
    return entries(store, Filters(household=household.id, date_from=since))


def in_township(store: Store, entry: AuditEntry, township: str) -> bool:
    """Whether a township's office may read ``entry``: only an entry about one of the
    township's households, visits or helpers. An entry that cannot be placed (an import of
    the county's file, a setting, a need) is the county office's alone: a township's account
    never sees another township's records by way of the log."""
    kind = entry.action.split(".", 1)[0]
    household = None
    if kind == "household":
        household = store.household(entry.target)
    elif kind == "visit":
        visit = store.visit_by_id(entry.target)
        household = store.household(visit.household) if visit is not None else None
    elif kind in ("user", "token", "helper"):
        user = store.user(entry.target)
        return user is not None and user.township == township
    return household is not None and household.township == township
