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

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from flask import current_app, has_app_context
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
from ..storage import Store
from ..visits import location as geo
from ..vocab import GUARANTEES
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


def parse_query(store: Store, args: Mapping[str, str], today: date) -> Query:
    """The month (this month when absent), village and work unit asked for.

    Raises QueryError for a month that is not YYYY-MM, a month still to come, or a village
    the registry does not know. An unknown work unit is not an error: it just matches nobody.
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
    village = (args.get("village") or "").strip() or None
    # A closed month knows the villages of its own registry.
    if village is not None and village not in month_source(store, month).villages():
        raise QueryError("village", _("没有这个村：%(village)s", village=village))
    unit = (args.get("unit") or "").strip() or None
    township = (args.get("township") or "").strip() or None
    return Query(month, village, unit, township)


def villages(store: Store) -> set[str]:
    """Every village of the registry, including any only named by a household."""
    reg = store.registry()
    return set(reg.villages) | {h.village_key for h in reg.households.values()}


def units(store: Store) -> list[str]:
    """The helpers' work units (帮扶单位), for the filter."""
    return sorted({u.unit for u in store.registry().users.values() if is_helper(u) and u.unit})


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
    store: Store, month: str, village: str | None = None, months: int = GAP_MONTHS
) -> list[OpenGap]:
    """Households in scope whose latest answer (up to the end of ``month``) about a basic
    guarantee says it is not met; the longest-standing first.

    Each guarantee is followed on its own: a later visit that says it is met resolves it, while
    a visit that does not answer it (a short phone call) or could not check it (nobody home)
    leaves it standing. Households are those of ``month``'s registry (``month_source``).
    """
    src = month_source(store, month)
    reg = src.registry
    scope = {h.id: h for h in reg.households.values() if village is None or h.village == village}
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
    recorded = store.months()
    first = recorded[0] if recorded else figures.month
    ids = set(figures.states)
    points = []
    for m in months_back(figures.month, months):
        if m < first and m != figures.month:
            continue
        if m == figures.month:
            visited = figures.visited
        elif m == previous_month(figures.month):
            visited = figures.previous_visited
        else:
            visited = visited_count(src, m, ids, figures.village)
        points.append(TrendPoint(m, figures.households, visited))
    return points


# --- visits that do not look like real visits ----------------------------------------------

DEFAULT_FAR_METERS = 500


@dataclass
class EvidenceFlag:
    """A visit a supervisor should look at: recorded far from the household; an in-person
    visit without a location although the helper's phone gave one for another visit that
    month; an in-person visit without a photo where the township requires one."""

    visit: Visit
    household: Household
    helper: User | None
    distance: float | None  # metres from the household, when both are known
    far: bool
    no_photo: bool
    no_location: bool


@dataclass
class HelperEvidence:
    """One helper's flagged visits of the month, counted by kind: a supervisor calls the
    helper about all of them at once, so the page shows one row per helper."""

    phone: str
    helper: User | None
    flags: list[EvidenceFlag]

    @property
    def far(self) -> int:
        return sum(f.far for f in self.flags)

    @property
    def no_location(self) -> int:
        return sum(f.no_location for f in self.flags)

    @property
    def no_photo(self) -> int:
        return sum(f.no_photo for f in self.flags)


def far_meters() -> int:
    """FIELDVISIT_FAR_METERS, or the default outside a request."""
    if has_app_context():
        return int(current_app.config.get("FAR_METERS", DEFAULT_FAR_METERS))
    return DEFAULT_FAR_METERS


def evidence_flags(
    store: Store,
    month: str,
    village: str | None = None,
    limit: int | None = None,
    photo_required: bool | None = None,
) -> list[EvidenceFlag]:
    """The month's flagged visits, farthest first, then the rest by date.

    Only what is worth a call: a visit of any kind recorded far from the household; an
    in-person visit without a location when the same helper's phone gave a location for
    another visit that month (so it could, and this one's is missing — a phone that never
    gives one, or a township without household locations, flags nothing); an in-person
    visit without a photo only when the township requires photos (``targets``). Phone calls
    and "nobody home" are flagged only when far away.
    """
    limit = limit if limit is not None else far_meters()
    src = month_source(store, month)
    if photo_required is None:
        photo_required = src.targets().photo_required
    reg = src.registry
    visits = src.visits(month, village)
    # Whole-township visits, not just the village's: a helper's phone may show a location in
    # another village they help.
    located = {v.helper for v in (visits if village is None else store.visits(month)) if v.location}
    flags = []
    for visit in visits:
        household = reg.households.get(visit.household)
        if household is None:
            continue
        distance = geo.distance_m(household.location, visit.location)
        far = distance is not None and distance > limit
        in_person = visit.kind == "in_person"
        no_photo = photo_required and in_person and not visit.photos
        no_location = in_person and not visit.location and visit.helper in located
        if far or no_photo or no_location:
            flags.append(
                EvidenceFlag(
                    visit,
                    household,
                    reg.users.get(visit.helper),
                    distance,
                    far,
                    no_photo,
                    no_location,
                )
            )
    return sorted(flags, key=lambda f: (not f.far, -(f.distance or 0), f.visit.date, f.visit.id))


def evidence_by_helper(flags: list[EvidenceFlag]) -> list[HelperEvidence]:
    """``flags`` per helper, the one with the most far-away visits first, then the most
    flagged; each helper's visits keep the order of ``flags``."""
    rows: dict[str, HelperEvidence] = {}
    for flag in flags:
        phone = flag.visit.helper
        rows.setdefault(phone, HelperEvidence(phone, flag.helper, [])).flags.append(flag)
    return sorted(rows.values(), key=lambda r: (-r.far, -len(r.flags), r.phone))


# --- the whole page ------------------------------------------------------------------------


@dataclass
class Completion:
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

    def names(self, ids: list[str]) -> list[str]:
        """Heads of the not-visited households ``ids`` (a helper's row lists them by name)."""
        return [self.heads.get(hid, hid) for hid in ids]

    @property
    def under_way(self) -> bool:
        return self.as_of < month_bounds(self.month)[1]

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
    """The dashboard of ``query.month`` for the township or one village."""
    today = today or date.today()
    figures = month_figures(
        store, query.month, query.village, today, needs=False, township=query.township
    )
    ids = figures.states  # the households in scope: lists of the whole month keep only these
    helpers = figures.by_helper
    if query.unit is not None:
        helpers = [row for row in helpers if row.unit == query.unit]
    same_day = figures.previous_same_day
    rules = figures.source.targets() if figures.source is not None else targets(store)
    return Completion(
        query=query,
        figures=figures,
        gaps=[
            g for g in unresolved_gaps(store, query.month, query.village) if g.household.id in ids
        ],
        trend=completion_trend(store, figures),
        helpers=helpers,
        heads={m.household.id: m.household.head for m in figures.not_visited},
        today=today,
        previous_same_day=same_day,
        flags=[
            f
            for f in evidence_flags(
                store, query.month, query.village, photo_required=rules.photo_required
            )
            if f.household.id in ids
        ],
        far_meters=far_meters(),
        targets=rules,
    )
