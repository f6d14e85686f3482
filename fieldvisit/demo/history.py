"""The visit history: synthetic visits and needs for every household, month by month, up
to today."""

from __future__ import annotations

import calendar
import datetime as dt
import random
import uuid

from ..models import Household, Need, Visit
from ..months import month_bounds, month_of, months_back
from ..vocab import CAUSES, DEFAULT_CHECKLIST, GUARANTEES
from .phrases import NEED_BIAS, NEED_TEXTS, NOTES_MET, NOTES_NOBODY, NOTES_PHONE
from .township import ADMIN, HELPING_DAY, TZ


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    """The first days of the last ``months`` months, oldest first, ending with today's."""
    return [month_bounds(m)[0] for m in months_back(month_of(today), months)]


class _History:
    """Synthetic visits and needs for every household, month by month."""

    def __init__(self, rng: random.Random, today: dt.date, households: list[Household]):
        self.rng = rng
        self.today = today
        self.households = households
        self.visits: list[Visit] = []
        self.needs: list[Need] = []
        # Some households are tidier than others, month after month.
        self.tidiness = {h.id: rng.uniform(0.55, 0.97) for h in households}
        self.need_weights = {
            cause: [NEED_BIAS[cause].get(c, 1) for c in NEED_TEXTS] for cause in CAUSES
        }

    def build(self, months: int) -> tuple[list[Visit], list[Need]]:
        for start in _month_starts(self.today, months):
            current = (start.year, start.month) == (self.today.year, self.today.month)
            last = self.today.day if current else calendar.monthrange(start.year, start.month)[1]
            for household in self.households:
                self._month(household, start, last, current)
        return self.visits, self.needs

    def _uuid(self) -> str:
        # From the seeded generator: os.urandom per visit is slow and not reproducible.
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _plan(self, household: Household, current: bool) -> list[str]:
        """The kinds of visit a household gets in one month, in date order."""
        r = self.rng.random()
        if current:  # today's month is under way: about half done so far
            return ["in_person"] if r < 0.5 else ["nobody_home"] if r < 0.54 else []
        if household.long_absent:  # away working: reached by phone, met when home
            return ["in_person"] if r < 0.35 else ["phone"] if r < 0.88 else []
        if r < 0.08:
            return ["nobody_home", "in_person"]  # came back another day
        if r < 0.935:
            return ["in_person"]
        if r < 0.96:
            return ["nobody_home"]
        return ["phone"] if r < 0.98 else []

    def _month(self, household: Household, start: dt.date, last: int, current: bool) -> None:
        plan = self._plan(household, current)
        if len(plan) == 2 and last < 2:
            plan = plan[1:]
        day = 0
        for i, kind in enumerate(plan):
            remaining = len(plan) - i - 1
            day = self._day(day + 1, last - remaining)
            self._visit(household, start.replace(day=day), kind)

    def _day(self, first: int, last: int) -> int:
        if first <= HELPING_DAY <= last and self.rng.random() < 0.6:
            return HELPING_DAY
        return self.rng.randint(first, last)

    def _visit(self, household: Household, date: dt.date, kind: str) -> None:
        rng = self.rng
        helpers = household.helpers
        helper = helpers[0] if len(helpers) == 1 or rng.random() < 0.7 else helpers[1]
        late = rng.random() < 0.03  # 补录: the office enters a paper record later
        created = min(date + dt.timedelta(days=rng.randint(1, 5)), self.today) if late else date
        stamp = f"{created.isoformat()}T{rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}:00{TZ}"
        met = kind == "in_person"
        # Only a household met in person is checked; nobody home means nothing was asked.
        environment = self._environment(household) if met else {}
        visit = Visit(
            id=self._uuid(),
            household=household.id,
            village=household.village_key,
            helper=helper,
            recorded_by=ADMIN[0] if late else helper,
            date=date.isoformat(),
            kind=kind,
            guarantees=self._guarantees() if kind != "nobody_home" else {},
            environment=environment,
            helped_clean=met and (False in environment.values() or rng.random() < 0.3),
            satisfaction=self._satisfaction() if kind != "nobody_home" else "",
            notes=self._notes(kind),
            created_at=stamp,
            updated_at=stamp,
            location=self._near(household) if kind != "phone" and rng.random() < 0.85 else None,
        )
        if kind != "nobody_home" and rng.random() < 0.15:
            self._raise_needs(household, visit, date)
        self.visits.append(visit)

    def _guarantees(self) -> dict[str, bool]:
        guarantees = dict.fromkeys(GUARANTEES, True)
        if self.rng.random() < 0.004:  # rare, and exactly what supervisors must see first
            guarantees[self.rng.choice(["medical", "housing", "water"])] = False
        return guarantees

    def _environment(self, household: Household) -> dict[str, bool | None]:
        rng = self.rng
        if rng.random() < self.tidiness[household.id]:
            return dict.fromkeys(_CHECK_KEYS, True)
        return {k: rng.choices([True, False, None], [6, 3, 1])[0] for k in _CHECK_KEYS}

    def _satisfaction(self) -> str:
        return self.rng.choices(_SATISFACTION, [86, 12, 2])[0]

    def _notes(self, kind: str) -> str:
        rng = self.rng
        if kind == "nobody_home":
            return rng.choice(NOTES_NOBODY)
        if kind == "phone":
            return rng.choice(NOTES_PHONE)
        return rng.choice(NOTES_MET) if rng.random() < 0.25 else ""

    def _near(self, household: Household) -> dict[str, float] | None:
        if household.location is None:
            return None
        jitter = self.rng.uniform
        return {
            "lat": round(household.location["lat"] + jitter(-0.0003, 0.0003), 6),
            "lng": round(household.location["lng"] + jitter(-0.0003, 0.0003), 6),
        }

    def _raise_needs(self, household: Household, visit: Visit, date: dt.date) -> None:
        rng = self.rng
        count = 2 if rng.random() < 0.15 else 1
        categories = rng.choices(list(NEED_TEXTS), self.need_weights[household.cause], k=count)
        for category in dict.fromkeys(categories):
            description = rng.choice(NEED_TEXTS[category][0])
            urgent = rng.random() < 0.1
            visit.needs.append({"category": category, "description": description, "urgent": urgent})
            need = Need(
                id=self._uuid(),
                visit=visit.id,
                household=household.id,
                village=household.village_key,
                category=category,
                description=description,
                urgent=urgent,
                raised_by=visit.helper,
                raised_at=visit.date,
            )
            self._maybe_resolve(need, category, date, urgent)
            self.needs.append(need)

    def _maybe_resolve(self, need: Need, category: str, raised: dt.date, urgent: bool) -> None:
        """Old needs are mostly closed off (销号); this month's mostly still open."""
        rng = self.rng
        age = (self.today.year - raised.year) * 12 + self.today.month - raised.month
        if rng.random() >= {0: 0.2, 1: 0.6}.get(age, 0.93):
            return
        days = rng.randint(1, 10) if urgent else rng.randint(3, 45)
        need.status = "resolved"
        need.resolved_by = ADMIN[0]
        need.resolved_at = min(raised + dt.timedelta(days=days), self.today).isoformat()
        need.resolution = rng.choice(NEED_TEXTS[category][1])


_CHECK_KEYS = [key for key, _ in DEFAULT_CHECKLIST]
_SATISFACTION = ["satisfied", "basically_satisfied", "dissatisfied"]
