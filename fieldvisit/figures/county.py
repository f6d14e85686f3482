"""The county's figures: a county of about twenty townships, each with its villages.

A village is known by its township and name (``models.village_key``); a township by its
name ("" = the deployment's one township). See docs/decisions/0016-county.md.

The county's dashboard shows counts by township and nothing household by household: its
figures (``county_board``) are made in one pass over the month's households and visits,
without the lists a township's dashboard shows (households not visited, helpers, visits to
check), which at a county's size would be most of the work and none of the page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..collation import pinyin_key
from ..months import month_bounds, previous_month
from ..storage import Registry, Store
from ..visits.recording import states_of
from .cache import cached
from .dashboard import (
    MonthView,
    TrendPoint,
    months_read,
    trend_points,
    unresolved_gaps,
)
from .frozen import month_source
from .month import MonthFigures, VillageRow, completion_rows, visited_by_day
from .shares import Reached, rate
from .targets import Targets


def county_townships(reg: Registry) -> list[str]:
    """The townships the registry's households belong to, in the order of their names'
    reading ("" = the deployment's one township)."""
    return sorted({h.township for h in reg.households.values()}, key=pinyin_key)


def is_county(reg: Registry) -> bool:
    """Whether the registry spans more than one township: its dashboard and its summary
    without a township or village are then the county's, by township."""
    return len(county_townships(reg)) > 1


def township_rows(figures: MonthFigures) -> list[VillageRow]:
    """Completion by township (each row's ``village`` holds the township's name; "" = the
    deployment's one township), in the order of their names' reading."""
    reg = figures.source.registry if figures.source is not None else None
    if reg is None:
        return []
    households = [reg.households[i] for i in figures.states if i in reg.households]
    rows = completion_rows(households, figures.states, key=lambda h: h.township)
    return sorted(rows, key=lambda r: pinyin_key(r.village))


@dataclass
class TownshipRow(Reached):
    """One township's month on the county's dashboard."""

    township: str
    households: int = 0
    visited: int = 0
    attempted: int = 0
    villages: int = 0
    gaps: int = 0  # households with a basic guarantee found not met and not yet resolved
    helpers: int = 0  # helpers paired with its households
    helpers_behind: int = 0  # of them, those with a household not visited (as by_helper)


@dataclass
class CountyBoard(MonthView, Reached):
    """Everything the county's dashboard shows for one month."""

    month: str
    today: date
    townships: list[TownshipRow]
    visited: int
    attempted: int
    previous_visited: int
    previous_same_day: int | None  # see dashboard.Completion
    gaps: int
    trend: list[TrendPoint]
    targets: Targets = field(default_factory=Targets)
    closing: dict[str, Any] | None = None  # the month's closing record, once ever closed

    @property
    def households(self) -> int:
        return sum(t.households for t in self.townships)

    @property
    def previous_rate(self) -> float:
        return rate(self.previous_visited, self.households)

    @property
    def comparison(self) -> float:
        """Completion now minus last month's (at the same day while the month is under way),
        in points of a share."""
        before = self.previous_visited if self.previous_same_day is None else self.previous_same_day
        return self.rate - rate(before, self.households)

    def below_target(self, visited: int, households: int) -> bool:
        return self.targets.below(visited, households)


def county_board(store: Store, month: str, today: date | None = None) -> CountyBoard:
    """The county's dashboard of ``month``: made once, and kept while the registry and the
    months it reads are unchanged (``cache``)."""
    today = today or date.today()
    return cached(
        store, "county", (month, today), months_read(month), lambda: _county(store, month, today)
    )


def _county(store: Store, month: str, today: date) -> CountyBoard:
    src = month_source(store, month)
    reg = src.registry
    states = states_of(src.visits(month), reg.households)
    before = states_of(src.visits(previous_month(month)), reg.households)
    previous = sum(1 for s in before.values() if s == "visited")
    if src.frozen is not None:  # as pinned when the month was closed
        previous = len(src.frozen.pins.previous_visited & states.keys())
    rows: dict[str, TownshipRow] = {}
    villages: dict[str, set[str]] = {}
    helpers: dict[str, set[str]] = {}
    behind: dict[str, set[str]] = {}
    for h in reg.households.values():
        row = rows.setdefault(h.township, TownshipRow(h.township))
        row.households += 1
        row.visited += states[h.id] == "visited"
        row.attempted += states[h.id] == "attempted"
        villages.setdefault(h.township, set()).add(h.village_key)
        helpers.setdefault(h.township, set()).update(h.helpers)
        if states[h.id] != "visited":
            behind.setdefault(h.township, set()).update(h.helpers)
    gaps = Counter(g.household.township for g in unresolved_gaps(store, month))
    for name, row in rows.items():
        row.villages, row.gaps = len(villages[name]), gaps[name]
        row.helpers, row.helpers_behind = len(helpers[name]), len(behind.get(name, ()))
    visited = sum(r.visited for r in rows.values())
    last = month_bounds(month)[1]
    as_of = min(today, last)
    same_day = None
    if as_of < last:
        same_day = visited_by_day(store, previous_month(month), as_of.day, set(states))
    known = {month: visited, previous_month(month): previous}
    return CountyBoard(
        month=month,
        today=today,
        townships=sorted(rows.values(), key=lambda r: pinyin_key(r.township)),
        visited=visited,
        attempted=sum(r.attempted for r in rows.values()),
        previous_visited=previous,
        previous_same_day=same_day,
        gaps=sum(gaps.values()),
        trend=trend_points(store, src, month, set(states), known),
        targets=src.targets(),
        closing=src.record,
    )
