"""Visit completion for supervisors and the office: the dashboard page and the completion API.

Every figure of the month comes from ``figures.month_figures``, the function the monthly PDF
uses, so the page, the API and the report cannot disagree. This module adds only what a
single month cannot tell:

* basic guarantees (两不愁三保障) found not met and not yet resolved, which may have been
  found in an earlier month;
* completion over the last twelve months;
* the query (month, village, work unit) checked once, for the page and the API alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from flask_babel import gettext as _

from ..access.permissions import is_helper
from ..models import Household, User, Visit
from ..months import (
    FIRST_MONTH,
    check_month,
    month_bounds,
    months_back,
    next_month,
    previous_month,
    this_month,
)
from ..storage import Registry, Store
from ..vocab import GUARANTEES
from .cache import cached, visited_in
from .evidence import (
    DEFAULT_FAR_METERS,
    EvidenceFlag,
    HelperEvidence,
    evidence_by_helper,
    evidence_flags,
    far_meters,
)
from .frozen import MonthSource, month_source
from .month import (
    HelperRow,
    MonthFigures,
    month_figures,
    month_shape_message,
    rate,
    too_early_message,
)
from .targets import Targets, targets

# A gap is followed back this many months (the chosen one included). Households are visited
# every month, so the latest answer about a guarantee is almost always within three months.
GAP_MONTHS = 3
TREND_MONTHS = 12


class QueryError(ValueError):
    """A dashboard or API query that cannot be answered; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Query:
    month: str
    village: str | None = None  # the village's key (models.village_key)
    unit: str | None = None
    township: str | None = None  # one township of a county (see permissions.scoped_township)


def parse_query(
    store: Store,
    args: Mapping[str, str],
    today: date,
    scope: Callable[[str | None], str | None] | None = None,
) -> Query:
    """The month (this month when absent), village, work unit and township asked for;
    ``scope(asked)`` gives the township the asker may see (``permissions.scoped_township``).

    Raises QueryError for a month that is not YYYY-MM, a month still to come, a township the
    registry does not know, or a village it does not know (or not of the township). An
    unknown work unit is not an error: it just matches nobody.
    """
    current = this_month(today)
    month = (args.get("month") or "").strip() or current
    try:
        check_month(month)
    except ValueError:
        raise QueryError("month", month_shape_message(today)) from None
    if month > current:
        raise QueryError("month", _("%(month)s 还没有到，不能查看", month=month))
    if month < FIRST_MONTH:
        raise QueryError("month", too_early_message(month))
    asked = (args.get("township") or "").strip() or None
    township = scope(asked) if scope is not None else asked
    # A closed month knows the villages and townships of its own registry. A township set
    # by the asker's scope is theirs whatever they typed: only a township asked is checked.
    src = month_source(store, month)
    if asked is not None and township == asked and township not in townships(src.registry):
        raise QueryError("township", _("名册里没有乡镇“%(name)s”", name=township))
    village = (args.get("village") or "").strip() or None
    if village is not None and (
        village not in src.villages()
        or (township is not None and _township_of(src.registry, village) != township)
    ):
        raise QueryError("village", _("没有这个村：%(village)s", village=village))
    unit = (args.get("unit") or "").strip() or None
    return Query(month, village, unit, township)


def townships(reg: Registry) -> set[str]:
    """The townships of the registry's villages and households ("" = the one township)."""
    return {v.township for v in reg.villages.values()} | {
        h.township for h in reg.households.values()
    }


def _township_of(reg: Registry, village: str) -> str | None:
    """The township of the village whose key is ``village``."""
    known = reg.villages.get(village)
    if known is not None:
        return known.township
    return next((h.township for h in reg.households.values() if h.village_key == village), None)


def villages(store: Store, township: str | None = None) -> set[str]:
    """Every village of the registry (of ``township``), including any only named by a
    household."""
    reg = store.registry()
    return {v for v, known in reg.villages.items() if township in (None, known.township)} | {
        h.village_key for h in reg.households.values() if township in (None, h.township)
    }


def units(store: Store, township: str | None = None) -> list[str]:
    """The helpers' work units (帮扶单位), for the filter; with ``township``, of the helpers
    paired with its households."""
    reg = store.registry()
    helpers = {u.phone: u for u in reg.users.values() if is_helper(u) and u.unit}
    if township is not None:
        paired = {p for h in reg.households.values() if h.township == township for p in h.helpers}
        helpers = {p: u for p, u in helpers.items() if p in paired}
    return sorted({u.unit for u in helpers.values()})


# --- basic guarantees not met --------------------------------------------------------------


@dataclass
class OpenGap:
    """A household whose latest answer about one or more guarantees is "not met"."""

    household: Household
    guarantees: list[str]  # vocab.GUARANTEES codes, in the vocabulary's order
    since: str  # date of the first of the not-met answers still standing
    visit: Visit  # the latest visit that found a guarantee not met
    helpers: list[User]


def _in_order(visits: list[Visit]) -> list[Visit]:
    return sorted(visits, key=lambda v: (v.date, v.created_at))


def unresolved_gaps(
    store: Store,
    month: str,
    village: str | None = None,
    months: int = GAP_MONTHS,
    township: str | None = None,
) -> list[OpenGap]:
    """Households in scope whose latest answer (up to the end of ``month``) about a basic
    guarantee says it is not met; the longest-standing first.

    Each guarantee is followed on its own: a later visit that says it is met resolves it, while
    a visit that does not answer it (a short phone call) or could not check it (nobody home)
    leaves it standing. Households are those of ``month``'s registry (``month_source``), of
    ``village`` (its key: models.village_key) and ``township`` when given.
    """
    src = month_source(store, month)
    reg = src.registry
    scope = {
        h.id: h
        for h in reg.households.values()
        if village in (None, h.village_key) and township in (None, h.township)
    }
    # Nobody at home means nothing was checked, whatever the record says.
    window = [
        v
        for m in months_back(month, months)
        for v in src.visits(m, village)
        if v.kind != "nobody_home"
    ]
    # Gaps are rare (a few households a month): only their households' visits are replayed.
    flagged = {v.household for v in window if False in v.guarantees.values()} & scope.keys()
    since: dict[tuple[str, str], str] = {}  # (户编号, guarantee) -> first not-met date
    latest: dict[str, Visit] = {}  # 户编号 -> latest visit finding a guarantee not met
    for visit in _in_order([v for v in window if v.household in flagged]):
        for code, met in visit.guarantees.items():
            key = (visit.household, code)
            if met is False:
                since.setdefault(key, visit.date)
                latest[visit.household] = visit
            elif met is True:
                since.pop(key, None)
    by_household: dict[str, list[str]] = {}
    for hid, code in since:
        by_household.setdefault(hid, []).append(code)
    gaps = []
    for hid, codes in by_household.items():
        household = scope[hid]
        gaps.append(
            OpenGap(
                household=household,
                guarantees=[c for c in GUARANTEES if c in codes],
                since=min(since[(hid, c)] for c in codes),
                visit=latest[hid],
                helpers=[reg.users[p] for p in household.helpers if p in reg.users],
            )
        )
    return sorted(gaps, key=lambda g: (g.since, g.household.village, g.household.id))


# --- completion over the months ------------------------------------------------------------


@dataclass
class TrendPoint:
    month: str
    households: int
    visited: int

    @property
    def rate(self) -> float:
        return rate(self.visited, self.households)


def visited_count(src: MonthSource, month: str, ids: set[str], village: str | None = None) -> int:
    """Households of ``ids`` with an in-person visit in ``month``: ``month_figures``' visited,
    without the rest of its work (visits placed by ``src``, the source of the figures)."""
    if village is None:  # every village's: wherever ``src`` places them, the same households
        return len(visited_in(src.store, month) & ids)
    return len({v.household for v in src.visits(month, village) if v.kind == "in_person"} & ids)


def completion_trend(
    store: Store, figures: MonthFigures, months: int = TREND_MONTHS
) -> list[TrendPoint]:
    """Completion of the ``months`` months up to the figures' month, oldest first, leaving
    out the months before the first recorded visit (a new township is not 0% behind).

    Households are those of the figures' month (today's registry, or the one frozen with the
    month when it is closed), and the monthly PDF divides by the same count.
    """
    src = figures.source or month_source(store, figures.month)
    known = {
        figures.month: figures.visited,
        previous_month(figures.month): figures.previous_visited,
    }
    ids = set(figures.states)
    return trend_points(store, src, figures.month, ids, known, figures.village, months)


def trend_points(
    store: Store,
    src: MonthSource,
    month: str,
    ids: set[str],
    known: dict[str, int],
    village: str | None = None,
    months: int = TREND_MONTHS,
) -> list[TrendPoint]:
    """``completion_trend`` for the households ``ids`` of ``src``; ``known`` holds the
    visited counts of months already counted (the month itself, the month before)."""
    recorded = store.months()
    first = recorded[0] if recorded else month
    points = []
    for m in months_back(month, months):
        if m < first and m != month:
            continue
        visited = known[m] if m in known else visited_count(src, m, ids, village)
        points.append(TrendPoint(m, len(ids), visited))
    return points


# --- the whole page ------------------------------------------------------------------------


def months_read(month: str) -> list[str]:
    """The months whose visits the dashboard of ``month`` reads: the trend's (the month
    before and the guarantees' window are among them)."""
    return months_back(month, max(TREND_MONTHS, GAP_MONTHS))


class MonthView:
    """What a page of one month shows around its figures: the months before and after, the
    last day counted. Needs ``month`` and ``today``."""

    today: date

    if TYPE_CHECKING:  # a field of one page, a property of another

        @property
        def month(self) -> str: ...

    @property
    def earlier(self) -> str:
        return previous_month(self.month)

    @property
    def later(self) -> str | None:
        """The month after, unless it is still to come."""
        later = next_month(self.month)
        return later if later <= this_month(self.today) else None

    @property
    def as_of(self) -> date:
        """The last day counted: today while the month is under way."""
        return min(self.today, month_bounds(self.month)[1])

    @property
    def under_way(self) -> bool:
        return self.as_of < month_bounds(self.month)[1]


@dataclass
class Completion(MonthView):
    """Everything the dashboard shows for one month."""

    query: Query
    figures: MonthFigures
    gaps: list[OpenGap]
    trend: list[TrendPoint]
    helpers: list[HelperRow]  # figures.by_helper, of the chosen work unit
    heads: dict[str, str]  # 户编号 -> head of household, to name a helper's missing households
    today: date
    # Last month's visited households up to the same day of the month, while this month is
    # under way: comparing half a month with a whole one says nothing.
    previous_same_day: int | None
    flags: list[EvidenceFlag] = field(default_factory=list)
    far_meters: int = DEFAULT_FAR_METERS
    targets: Targets = field(default_factory=Targets)

    @property
    def evidence(self) -> list[HelperEvidence]:
        return evidence_by_helper(self.flags)

    def below_target(self, visited: int, households: int) -> bool:
        return self.targets.below(visited, households)

    @property
    def month(self) -> str:
        return self.query.month

    def names(self, ids: list[str]) -> list[str]:
        """Heads of the not-visited households ``ids`` (a helper's row lists them by name)."""
        return [self.heads.get(hid, hid) for hid in ids]

    @property
    def comparison(self) -> float:
        """Completion now minus last month's (at the same day while the month is under way),
        in points of a share."""
        f = self.figures
        before = f.previous_visited if self.previous_same_day is None else self.previous_same_day
        return f.rate - rate(before, f.households)

    @property
    def not_contacted(self) -> int:
        """Households with no visit at all this month: not even an attempt."""
        return len(self.figures.not_visited) - self.figures.attempted


def completion(store: Store, query: Query, today: date | None = None) -> Completion:
    """The dashboard of ``query.month`` for the township or one village: made once, and
    kept while the registry and the months it reads are unchanged (``cache``)."""
    today = today or date.today()
    meters = far_meters()
    return cached(
        store,
        "completion",
        (query, today, meters),
        months_read(query.month),
        lambda: _completion(store, query, today, meters),
    )


def _completion(store: Store, query: Query, today: date, meters: int) -> Completion:
    figures = month_figures(
        store, query.month, query.village, today, needs=False, township=query.township
    )
    ids = figures.states  # the households in scope: lists of the whole month keep only these
    helpers = figures.by_helper
    if query.unit is not None:
        helpers = [row for row in helpers if row.unit == query.unit]
    rules = figures.source.targets() if figures.source is not None else targets(store)
    gaps = unresolved_gaps(store, query.month, query.village, township=query.township)
    flags = evidence_flags(
        store,
        query.month,
        query.village,
        limit=meters,
        photo_required=rules.photo_required,
        township=query.township,
    )
    return Completion(
        query=query,
        figures=figures,
        gaps=[g for g in gaps if g.household.id in ids],
        trend=completion_trend(store, figures),
        helpers=helpers,
        heads={m.household.id: m.household.head for m in figures.not_visited},
        today=today,
        previous_same_day=figures.previous_same_day,
        flags=[f for f in flags if f.household.id in ids],
        far_meters=meters,
        targets=rules,
    )
