"""The figures of one month, for the township or one village.

The monthly PDF, the Excel export, the supervisors' dashboard and the completion API all take
their numbers from ``month_figures`` so that they can never disagree.

Definitions (docs/reference-township.md): a household is *visited* in a month when it has at
least one in-person visit dated in that month. Every other household is *not visited*; those
among them with only a "nobody home" or phone visit are *attempted* and are shown apart, but
they are still not visited.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _

from ..collation import name_key, pinyin_key
from ..models import Household, User, Visit, village_key
from ..months import FIRST_MONTH, month_bounds, previous_month, this_month
from ..storage import Store
from ..visits.fields import ChecklistItem
from ..visits.recording import states_of
from ..vocab import ATTRIBUTES, CAUSES, GUARANTEES, SATISFACTION, STATUSES
from .cache import in_household_order
from .frozen import MonthSource, month_source
from .ledger import AGE_BUCKETS as AGE_BUCKETS  # where the ledger's pages look for them
from .ledger import needs_figures
from .ledger import open_at as open_at
from .shares import Reached, rate

FAILING_ITEMS = 3  # a household failing this many checklist items is listed by name


def month_shape_message(today: date | None = None) -> str:
    """Why a month asked for in a link or query is not a month: the shape, with ``today``'s
    month as the example."""
    return _("月份应为“年-月”形式，例如 %(example)s", example=this_month(today))


def too_early_message(month: str) -> str:
    """Why ``month``, before months.FIRST_MONTH, cannot be shown."""
    return _("%(month)s 太早了：最早可以查看 %(first)s", month=month, first=FIRST_MONTH)


@dataclass
class VillageRow(Reached):
    village: str
    households: int
    people: int
    visited: int
    attempted: int
    township: str = ""  # a county's village: its township ("" = the one township)

    @property
    def key(self) -> str:
        """The village's key (models.village_key), as links and filters name it."""
        return village_key(self.township, self.village)


@dataclass
class HelperRow(Reached):
    phone: str
    name: str
    unit: str
    households: int
    visited: int
    attempted: int
    missing: list[str]  # 户编号 of the helper's households not visited


@dataclass
class MissingHousehold:
    """A household without an in-person visit this month."""

    household: Household
    helpers: list[User]
    attempted: bool  # nobody home or a phone call only


@dataclass
class GuaranteeGap:
    household: Household
    visit: Visit


@dataclass
class ChecklistRate:
    key: str
    label: str
    passed: int
    failed: int

    @property
    def rate(self) -> float:
        return rate(self.passed, self.passed + self.failed)


@dataclass
class StructureRow:
    code: str
    label: str
    households: int
    people: int


@dataclass
class HouseholdLine:
    """One household's month, for the village report's list of every household."""

    household: Household
    state: str  # visited | attempted | not_visited
    visit: Visit | None  # the last in-person visit, else the last attempt, else None
    visitor: str  # the name of that visit's helper
    environment: tuple[int, int] | None  # (passed, answered) in the in-person visit
    needs: list[str]  # need category codes raised this month, in the order raised


@dataclass
class MonthFigures:
    month: str
    village: str | None
    households: int
    people: int
    visited: int
    attempted: int
    previous_visited: int
    by_village: list[VillageRow]
    by_helper: list[HelperRow]
    not_visited: list[MissingHousehold]
    guarantee_gaps: dict[str, list[GuaranteeGap]]
    environment: list[ChecklistRate]
    failing_environment: list[tuple[Household, list[str]]]
    needs_raised: dict[str, int]
    open_needs_by_age: dict[str, int]
    needs_resolved: int
    satisfaction: dict[str, int]
    structure: dict[str, list[StructureRow]]
    states: dict[str, str] = field(default_factory=dict)  # 户编号 -> visited|attempted|not_visited
    latest: dict[str, Visit] = field(default_factory=dict)  # 户编号 -> the month's last visit
    # While the month is under way: last month's visited households up to the same day, since
    # comparing half a month with a whole one says nothing. None once the month is over.
    previous_same_day: int | None = None
    # What they were made from (``frozen.month_source``): the household lines of a village
    # report are read from the same registry.
    source: MonthSource | None = field(default=None, repr=False, compare=False)

    @property
    def rate(self) -> float:
        return rate(self.visited, self.households)

    @property
    def previous_rate(self) -> float:
        """Last month's completion, the whole month."""
        return rate(self.previous_visited, self.households)

    @property
    def compared_rate(self) -> float:
        """Last month's completion as it is compared: to the same day while under way."""
        if self.previous_same_day is None:
            return self.previous_rate
        return rate(self.previous_same_day, self.households)

    @property
    def change(self) -> float:
        """Completion now minus last month's (to the same day while the month is under way),
        in points of a share (0.05 = 5 points)."""
        return self.rate - self.compared_rate


def visited_by_day(
    store: Store, month: str, day: int, ids: set[str], village: str | None = None
) -> int:
    """Households of ``ids`` with an in-person visit in ``month`` on or before its ``day``
    (the month's last day when it is shorter)."""
    last = month_bounds(month)[1]
    until = last.replace(day=min(day, last.day)).isoformat()
    visits = store.visits(month, village)
    return len({v.household for v in visits if v.kind == "in_person" and v.date <= until} & ids)


def _latest(visits: list[Visit], in_person_only: bool) -> dict[str, Visit]:
    latest: dict[str, Visit] = {}
    for visit in sorted(visits, key=lambda v: (v.date, v.created_at)):
        if not in_person_only or visit.kind == "in_person":
            latest[visit.household] = visit
    return latest


def _structure(households: list[Household]) -> dict[str, list[StructureRow]]:
    out: dict[str, list[StructureRow]] = {}
    for name, vocabulary in (("attribute", ATTRIBUTES), ("cause", CAUSES), ("status", STATUSES)):
        count: Counter[str] = Counter()
        people: Counter[str] = Counter()
        for h in households:
            value = getattr(h, name)
            count[value] += 1
            people[value] += h.members
        out[name] = [
            StructureRow(code, label_, count[code], people[code])
            for code, label_ in vocabulary.items()
        ]
    return out


def _helper_rows(
    households: list[Household], states: dict[str, str], users: dict[str, User]
) -> list[HelperRow]:
    rows: dict[str, HelperRow] = {}
    for h in households:
        state = states[h.id]
        for phone in dict.fromkeys(h.helpers):
            if (row := rows.get(phone)) is None:  # a county has 7,000 helpers: made once each
                user = users.get(phone)
                name, unit = (user.name, user.unit) if user else ("", "")
                row = rows[phone] = HelperRow(phone, name, unit, 0, 0, 0, [])
            row.households += 1
            if state == "visited":
                row.visited += 1
            else:
                row.missing.append(h.id)
                row.attempted += state == "attempted"
    # Helpers who are behind first, the furthest behind at the top.
    return sorted(rows.values(), key=lambda r: (-len(r.missing), r.rate, name_key(r.name), r.phone))


def month_figures(
    store: Store,
    month: str,
    village: str | None = None,
    today: date | None = None,
    *,
    needs: bool = True,
    source: MonthSource | None = None,
    township: str | None = None,
) -> MonthFigures:
    """Every figure of ``month`` for the county or township (or one ``village``, by its key;
    or one ``township``), from ``frozen.month_source`` (or ``source``: see closing).

    ``needs=False`` leaves the needs figures empty: open needs by age read every month's
    needs back to the first, which a page that does not show them should not pay for.
    """
    today = today or date.today()
    src = source or month_source(store, month)
    _first, last = month_bounds(month)
    as_of = min(today, last)
    scope = _scope((reg := src.registry).households.values(), village, township)
    households = in_household_order(reg, scope.values())
    visits = [v for v in src.visits(month, village) if v.household in scope]
    states = states_of(visits, scope)
    latest_any = _latest(visits, in_person_only=False)
    in_person = _latest(visits, in_person_only=True)
    environment, failing = _environment(src.checklist(), in_person, scope)
    satisfaction = Counter(v.satisfaction for v in latest_any.values() if v.satisfaction)
    if needs:
        raised, by_age, resolved = needs_figures(src, month, village, set(scope), as_of)
    else:
        raised, by_age, resolved = {}, {}, 0
    return MonthFigures(
        month=month,
        village=village,
        households=len(households),
        people=sum(h.members for h in households),
        visited=_count(states, "visited"),
        attempted=_count(states, "attempted"),
        previous_visited=_previous_visited(src, month, village, scope),
        previous_same_day=(
            visited_by_day(store, previous_month(month), as_of.day, set(scope), village)
            if as_of < last
            else None
        ),
        by_village=_village_rows(households, states),
        by_helper=_helper_rows(households, states, reg.users),
        not_visited=_not_visited(households, states, reg.users),
        guarantee_gaps=_guarantee_gaps(visits, scope),
        environment=environment,
        failing_environment=failing,
        needs_raised=raised,
        open_needs_by_age=by_age,
        needs_resolved=resolved,
        satisfaction={code: satisfaction.get(code, 0) for code in SATISFACTION},
        structure=_structure(households),
        states=states,
        latest=latest_any,
        source=src,
    )


def _scope(
    households: Iterable[Household], village: str | None, township: str | None
) -> dict[str, Household]:
    """The households of one village (by its key: models.village_key) or one township, or
    all of them."""
    return {
        h.id: h
        for h in households
        if (village is None or h.village_key == village)
        and (township is None or h.township == township)
    }


def _previous_visited(
    src: MonthSource, month: str, village: str | None, scope: dict[str, Household]
) -> int:
    """The households of ``scope`` visited in person the month before: as pinned when the
    month was closed (that month may take 补录 since), else as recorded now."""
    if src.frozen is not None:
        return len(src.frozen.pins.previous_visited & scope.keys())
    return _count(states_of(src.visits(previous_month(month), village), scope), "visited")


def _count(states: dict[str, str], state: str) -> int:
    """How many households are in ``state`` (visited, attempted, not_visited)."""
    return sum(1 for s in states.values() if s == state)


def _village_rows(households: list[Household], states: dict[str, str]) -> list[VillageRow]:
    """Completion by village, the lowest first (then by name in pinyin)."""
    # Grouped by the village's key: a county repeats names (王庄村 in three townships).
    rows = completion_rows(households, states, key=lambda h: h.village_key)
    places = {h.village_key: (h.township, h.village) for h in households}
    for row in rows:
        row.township, row.village = places[row.village]
    return sorted(rows, key=lambda r: (r.rate, pinyin_key(r.village), r.township))


def _not_visited(
    households: list[Household], states: dict[str, str], users: dict[str, User]
) -> list[MissingHousehold]:
    """The households without an in-person visit, in ``households``' order, each with its
    helpers (those with an account)."""
    return [
        MissingHousehold(
            h,
            [users[p] for p in h.helpers if p in users],
            states[h.id] == "attempted",
        )
        for h in households
        if states[h.id] != "visited"
    ]


def _guarantee_gaps(
    visits: list[Visit], scope: dict[str, Household]
) -> dict[str, list[GuaranteeGap]]:
    """For each basic guarantee, the households whose last answer to it this month is "not
    met", by 户编号."""
    # Each guarantee by the month's last visit that answered it: a later nobody-home visit,
    # or a phone call that did not ask, must not hide a gap found earlier in the month. Only
    # households found "not met" at least once can have a gap: only theirs are replayed.
    flagged = {v.household for v in visits if False in v.guarantees.values()}
    visits = [v for v in visits if v.household in flagged]
    answered: dict[tuple[str, str], Visit] = {}
    for visit in sorted(visits, key=lambda v: (v.date, v.created_at)):
        for code in visit.guarantees:
            answered[(visit.household, code)] = visit
    gaps: dict[str, list[GuaranteeGap]] = {code: [] for code in GUARANTEES}
    for (hid, code), visit in sorted(answered.items(), key=lambda item: item[0]):
        if code in gaps and visit.guarantees[code] is False:
            gaps[code].append(GuaranteeGap(scope[hid], visit))
    return gaps


def _environment(
    items: list[ChecklistItem], in_person: dict[str, Visit], scope: dict[str, Household]
) -> tuple[list[ChecklistRate], list[tuple[Household, list[str]]]]:
    """Each checklist item's answers in each household's last in-person visit, and the
    households failing FAILING_ITEMS items or more (by 户编号) with the labels they fail."""
    environment = [ChecklistRate(i.key, i.label, 0, 0) for i in items]
    failing: list[tuple[Household, list[str]]] = []
    for hid, visit in sorted(in_person.items()):
        failed = []
        for item in environment:
            answer = visit.environment.get(item.key)
            if answer is True:
                item.passed += 1
            elif answer is False:
                item.failed += 1
                failed.append(item.label)
        if len(failed) >= FAILING_ITEMS:
            failing.append((scope[hid], failed))
    return environment, failing


def completion_rows(
    households: list[Household], states: dict[str, str], key: Callable[[Household], str]
) -> list[VillageRow]:
    """Completion grouped by ``key`` (a village's groups, say), in first-seen order."""
    rows: dict[str, VillageRow] = {}
    for h in households:
        if (row := rows.get(group := key(h))) is None:
            row = rows[group] = VillageRow(group, 0, 0, 0, 0)
        row.households += 1
        row.people += h.members
        row.visited += states.get(h.id) == "visited"
        row.attempted += states.get(h.id) == "attempted"
    return list(rows.values())


def household_lines(store: Store, figures: MonthFigures) -> list[HouseholdLine]:
    """One line per household in the figures' scope (callers choose the order). The visit
    shown is the one that decided the household's state: its last in-person visit, else its
    last attempt."""
    src = figures.source or month_source(store, figures.month)
    reg = src.registry
    visits = [
        v for v in src.visits(figures.month, figures.village) if v.household in figures.states
    ]
    in_person = _latest(visits, in_person_only=True)
    needs: dict[str, list[str]] = {}
    for need in sorted(src.needs(figures.month, figures.village), key=lambda n: n.raised_at):
        needs.setdefault(need.household, []).append(need.category)
    lines = []
    for hid, state in figures.states.items():
        visit = in_person.get(hid) or figures.latest.get(hid)
        helper = reg.users.get(visit.helper) if visit else None
        answers = [a for a in visit.environment.values() if a is not None] if visit else []
        lines.append(
            HouseholdLine(
                household=reg.households[hid],
                state=state,
                visit=visit,
                visitor=helper.name if helper else (visit.helper if visit else ""),
                environment=(sum(answers), len(answers))
                if visit and visit.kind == "in_person"
                else None,
                needs=needs.get(hid, []),
            )
        )
    return lines
