"""What pages show of members, differences and checks: a household's members and the items
its helper is to confirm, a helper's checks, the dashboard's counts.

The registry is cached per process and read-only; the indexes built over it here (members
and items by household) are kept with the registry object they were built from, so a page
of a county with 40,000 members does not scan them all for one household.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from ..collation import in_household_order
from ..models import Check, Difference, Household, Member
from ..storage import Registry, Store
from . import scope, terms
from .warnings import check_days, is_overdue

OVERDUE_SHOWN = 50  # the dashboard's list; the reconcile page has them all


@dataclass
class _Index:
    members: dict[str, list[Member]] = field(default_factory=dict)
    checks: dict[str, list[Check]] = field(default_factory=dict)  # open, by household
    sent: dict[str, list[Difference]] = field(default_factory=dict)  # by household


_lock = threading.Lock()
_cached: tuple[Registry, _Index] | None = None


def _index(reg: Registry) -> _Index:
    global _cached
    with _lock:
        if _cached is not None and _cached[0] is reg:
            return _cached[1]
    index = _Index()
    for member in reg.members.values():
        index.members.setdefault(member.household, []).append(member)
    for check in reg.checks.values():
        if check.status == "open":
            index.checks.setdefault(check.household, []).append(check)
    for d in reg.differences.values():
        if d.status == "sent":
            index.sent.setdefault(d.household, []).append(d)
    with _lock:
        _cached = (reg, index)
    return index


def members_of(reg: Registry, household_id: str) -> list[Member]:
    """A household's members, the head first, then by ID number (oldest first)."""
    found = _index(reg).members.get(household_id, [])
    return sorted(found, key=lambda m: (m.relation not in terms.HEAD_RELATIONS, m.id_number[6:14]))


def count_mismatch(reg: Registry, household: Household) -> int | None:
    """The number of members recorded when it differs from 家庭人口; None when it agrees or
    no member is recorded yet (the township has not imported them)."""
    count = len(_index(reg).members.get(household.id, []))
    return count if count and count != household.members else None


def mismatched_households(reg: Registry, township: str | None = None) -> list[Household]:
    index = _index(reg)
    return in_household_order(
        h
        for h in scope.households(reg, township)
        if len(index.members.get(h.id, [])) not in (0, h.members)
    )


@dataclass(frozen=True)
class Items:
    """What a household's helper is to confirm at the door."""

    checks: list[Check]
    differences: list[Difference]

    def __bool__(self) -> bool:
        return bool(self.checks or self.differences)


def items_of(reg: Registry, household_id: str) -> Items:
    index = _index(reg)
    checks = sorted(index.checks.get(household_id, []), key=lambda c: c.due)
    return Items(checks, list(index.sent.get(household_id, [])))


@dataclass(frozen=True)
class HelperCheck:
    household: Household
    check: Check
    overdue: bool


def helper_checks(store: Store, phone: str, today: date) -> list[HelperCheck]:
    """Open checks of the helper's households, the earliest due first."""
    reg = store.registry()
    index = _index(reg)
    out = [
        HelperCheck(h, c, is_overdue(c, today))
        for h in reg.households.values()
        if phone in h.helpers
        for c in index.checks.get(h.id, [])
    ]
    return sorted(out, key=lambda r: r.check.due)


@dataclass
class Summary:
    """The dashboard's section: open differences by kind, overdue checks, households whose
    members do not add up."""

    open_by_kind: dict[str, int]
    overdue: list[HelperCheck]
    overdue_total: int
    mismatched: int
    check_days: int

    @property
    def open_total(self) -> int:
        return sum(self.open_by_kind.values())


def overdue_checks(
    reg: Registry, today: date, village: str | None = None, township: str | None = None
) -> list[HelperCheck]:
    """The overdue checks of ``village`` (its key, ``models.village_key``) or of ``township``
    (``scope``; None: every township's), the earliest due first."""
    out = []
    for check in scope.checks(reg, township):
        household = reg.households.get(check.household)
        if household is None or not is_overdue(check, today):
            continue
        if village is None or household.village_key == village:
            out.append(HelperCheck(household, check, True))
    return sorted(out, key=lambda r: r.check.due)


def summary(
    store: Store, today: date, village: str | None = None, township: str | None = None
) -> Summary:
    """The open differences, overdue checks and households whose members do not add up,
    within ``township`` (``scope``; None: the whole registry)."""
    reg = store.registry()
    counts: Counter[str] = Counter(
        d.kind for d in scope.differences(reg, township) if d.status in ("open", "sent")
    )
    overdue = overdue_checks(reg, today, village, township)
    return Summary(
        {kind: counts[kind] for kind in terms.KINDS},
        overdue[:OVERDUE_SHOWN],
        len(overdue),
        len(mismatched_households(reg, township)),
        check_days(reg),
    )
