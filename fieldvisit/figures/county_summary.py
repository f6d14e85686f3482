"""The county's monthly summary in figures: each township, then each village of it.

A county holds about twenty townships and 13,500 households, so its summary counts and
never lists households. Every rule comes from the township's figures (``month_figures``
for the whole county, once): who counts as visited, which visit decides a household's
checklist and its basic guarantees, which needs were resolved and which still wait (a
closed month's as pinned when it closed). This module only sums them by township and by
village (``models.village_key``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from ..collation import pinyin_key
from ..models import Household, village_key
from ..months import month_bounds
from ..storage import Store
from ..visits.fields import ChecklistItem
from ..vocab import GUARANTEES
from .frozen import MonthSource, month_source
from .ledger import ledger_at
from .month import MonthFigures, household_lines, month_figures
from .shares import Reached, rate


@dataclass
class AreaFigures(Reached):
    """A township's or a village's month, counted (``village`` is "" for a township)."""

    township: str
    village: str = ""
    households: int = 0
    people: int = 0
    visited: int = 0
    attempted: int = 0
    gaps: Counter[str] = field(default_factory=Counter)  # guarantee -> households not met
    gap_households: int = 0  # households with at least one basic guarantee not met
    needs_raised: int = 0
    needs_resolved: int = 0
    needs_open: int = 0  # still open at the month's end (or today, while it runs)
    # checklist item key -> [passed, failed], in each household's last in-person visit
    checked: dict[str, list[int]] = field(default_factory=dict)
    failing: int = 0  # households failing month.FAILING_ITEMS items or more
    helpers: set[str] = field(default_factory=set)
    helpers_behind: set[str] = field(default_factory=set)  # with a household not visited

    @property
    def key(self) -> str:
        """A village's key (``models.village_key``); a township's name."""
        return village_key(self.township, self.village) if self.village else self.township

    def item_rate(self, key: str) -> float | None:
        """The share of households passing checklist item ``key``; None when none was
        checked on it."""
        passed, failed = self.checked.get(key, (0, 0))
        return rate(passed, passed + failed) if passed + failed else None

    @property
    def checklist_rate(self) -> float | None:
        """Every item of every checked household together: one figure for a village."""
        passed = sum(p for p, _f in self.checked.values())
        answered = passed + sum(f for _p, f in self.checked.values())
        return rate(passed, answered) if answered else None


@dataclass
class CountySummary:
    figures: MonthFigures  # the whole county's: the headline, needs, satisfaction, structure
    checklist: list[ChecklistItem]
    total: AreaFigures
    townships: list[AreaFigures]  # in the order of their names' reading
    villages: dict[str, list[AreaFigures]]  # township -> its villages, lowest completion first


def county_summary(
    store: Store, month: str, today: date | None = None, *, source: MonthSource | None = None
) -> CountySummary:
    """The month's figures of the whole county, and of each township and village, from
    ``frozen.month_source`` (or ``source``)."""
    today = today or date.today()
    src = source or month_source(store, month)
    figures = month_figures(store, month, today=today, source=src)
    reg = src.registry
    tally = _Tally()
    for hid, state in figures.states.items():
        h = reg.households[hid]
        for area in tally.places(h):
            area.households += 1
            area.people += h.members
            area.visited += state == "visited"
            area.attempted += state == "attempted"
            area.helpers.update(h.helpers)
            if state != "visited":
                area.helpers_behind.update(h.helpers)
    items = src.checklist()
    _count_checks(store, figures, items, tally)
    _count_gaps(figures, tally)
    _count_needs(src, figures, min(today, month_bounds(month)[1]), tally)
    townships = sorted(
        (a for (t, v), a in tally.areas.items() if t and not v),
        key=lambda a: pinyin_key(a.township),
    )
    villages: dict[str, list[AreaFigures]] = {}
    for (township, village), area in tally.areas.items():
        if village:
            villages.setdefault(township, []).append(area)
    for rows in villages.values():
        rows.sort(key=lambda a: (a.rate, pinyin_key(a.village)))
    return CountySummary(
        figures=figures,
        checklist=items,
        total=tally.areas.get(("", ""), AreaFigures("")),
        townships=townships,
        villages=villages,
    )


class _Tally:
    """The county ("", ""), each township (name, "") and each village (name, key)."""

    def __init__(self) -> None:
        self.areas: dict[tuple[str, str], AreaFigures] = {}

    def places(self, h: Household) -> list[AreaFigures]:
        """The areas ``h`` counts in: the county, its township, its village."""
        found = []
        for key in (("", ""), (h.township, ""), (h.township, h.village_key)):
            area = self.areas.get(key)
            if area is None:
                area = self.areas[key] = AreaFigures(key[0], h.village if key[1] else "")
            found.append(area)
        return found


def _count_checks(
    store: Store, figures: MonthFigures, items: list[ChecklistItem], tally: _Tally
) -> None:
    """Checklist answers and needs raised, from each household's line of the month: its
    checklist is its last in-person visit's, as in the township's figures."""
    failing = {h.id for h, _labels in figures.failing_environment}
    for line in household_lines(store, figures):
        areas = tally.places(line.household)
        visit = line.visit if line.visit and line.visit.kind == "in_person" else None
        for area in areas:
            area.needs_raised += len(line.needs)
            area.failing += line.household.id in failing
            if visit is None:
                continue
            for item in items:
                answer = visit.environment.get(item.key)
                if answer is not None:
                    counts = area.checked.setdefault(item.key, [0, 0])
                    counts[0 if answer else 1] += 1


def _count_gaps(figures: MonthFigures, tally: _Tally) -> None:
    """Households found without a basic guarantee, by guarantee and in all."""
    without: dict[str, Household] = {}
    for code in GUARANTEES:
        for gap in figures.guarantee_gaps.get(code, []):
            without[gap.household.id] = gap.household
            for area in tally.places(gap.household):
                area.gaps[code] += 1
    for h in without.values():
        for area in tally.places(h):
            area.gap_households += 1


def _count_needs(src: MonthSource, figures: MonthFigures, as_of: date, tally: _Tally) -> None:
    """Needs resolved in the month and still open at its end, need by need: a closed
    month's as pinned when it closed, as ``ledger.needs_figures`` counts the county's."""
    reg = src.registry
    pins = src.frozen.pins if src.frozen is not None else None
    if pins is None:
        pins = ledger_at(src, figures.month, None, set(figures.states), as_of)
    for hid in pins.needs_resolved:
        if hid in figures.states:
            for area in tally.places(reg.households[hid]):
                area.needs_resolved += 1
    for hid, _bucket in pins.needs_waiting:
        if hid in figures.states:
            for area in tally.places(reg.households[hid]):
                area.needs_open += 1
