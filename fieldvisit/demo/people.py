"""Households and helpers: each profile given a head, an ID number, a phone and a place,
and each household paired with its helpers (帮扶责任人)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from ..households.lookup import new_token
from ..idcard import check_digit
from ..models import Household, User
from .profiles import _Profile
from .township import (
    CENTRE,
    FEMALE_NAMES,
    HELPERS,
    MALE_NAMES,
    REGION,
    SURNAMES,
    UNITS,
    VILLAGES,
)


def _id_number(rng: random.Random, born: int, male: bool) -> str:
    birth = dt.date(born, 1, 1) + dt.timedelta(days=rng.randrange(365))
    serial = rng.randrange(0, 500) * 2 + (1 if male else 0)  # odd 17th digit: male
    first17 = f"{REGION}{birth:%Y%m%d}{serial:03d}"
    return first17 + check_digit(first17)


def _person_name(rng: random.Random, male: bool, surname: str | None = None) -> str:
    surname = surname or rng.choice(SURNAMES)
    return surname + rng.choice(MALE_NAMES if male else FEMALE_NAMES)


def _village_surname(rng: random.Random, village: str) -> str | None:
    """Villages are named after their big families: 聂河村 is full of 聂."""
    common = [ch for ch in village[:-1] if ch in SURNAMES + "聂夏"]
    if common and rng.random() < 0.45:
        return rng.choice(common)
    return None


class _PhoneBook:
    """Unique synthetic mobile numbers."""

    def __init__(self, rng: random.Random, taken: set[str]) -> None:
        self.rng = rng
        self.taken = set(taken)

    def new(self) -> str:
        while True:
            phone = self.rng.choice(("13", "15", "17", "18", "19")) + "".join(
                self.rng.choices("0123456789", k=9)
            )
            if phone not in self.taken:
                self.taken.add(phone)
                return phone


def _households(
    rng: random.Random, profiles: list[_Profile], phones: _PhoneBook, stamp: str
) -> list[Household]:
    by_village: dict[str, list[_Profile]] = defaultdict(list)
    for p in profiles:
        by_village[p.village].append(p)
    out = []
    for index, (village, _, exit_year) in enumerate(VILLAGES, start=1):
        members = by_village[village]
        groups = max(3, len(members) // 9)
        centre = (CENTRE[0] + rng.uniform(-0.06, 0.06), CENTRE[1] + rng.uniform(-0.06, 0.06))
        for serial, p in enumerate(members, start=1):
            old = p.attribute == "wubao"
            male = rng.random() < (0.6 if old else 0.8)
            born = rng.randint(1932, 1955) if old else rng.randint(1945, 1990)
            has_phone = rng.random() < (0.6 if old else 0.95)
            loc = {
                "lat": round(centre[0] + rng.uniform(-0.004, 0.004), 6),
                "lng": round(centre[1] + rng.uniform(-0.004, 0.004), 6),
            }
            out.append(
                Household(
                    id=f"{REGION}00{index:02d}{serial:03d}",
                    village=village,
                    head=_person_name(rng, male, _village_surname(rng, village)),
                    members=p.members,
                    attribute=p.attribute,
                    cause=p.cause,
                    status=p.status,
                    token=new_token(),
                    group=f"{rng.randint(1, groups)}组",
                    exit_year=_exit_year(rng, exit_year) if p.status == "exited" else None,
                    phone=phones.new() if has_phone else "",
                    id_number=_id_number(rng, born, male),
                    long_absent=not old and rng.random() < 0.06,
                    location=loc,
                    updated_at=stamp,
                )
            )
    return out


def _exit_year(rng: random.Random, village_exit: int | None) -> int:
    """A household mostly exits with its poor village; elsewhere any year of the campaign."""
    years = [2016, 2017, 2018, 2019]
    if village_exit is None:
        return rng.choices(years, [2, 3, 3, 2])[0]
    weights = [5 if y == village_exit else 2 if y < village_exit else 1 for y in years]
    return rng.choices(years, weights)[0]


def _helpers(
    rng: random.Random,
    households: list[Household],
    phones: _PhoneBook,
    password_hash: str,
    stamp: str,
) -> list[User]:
    """357 helpers, each paired with a run of neighbouring households (a cadre usually helps
    in one village), and a second helper for a few households."""
    quotas = _quotas(rng, len(households), HELPERS)
    helpers = []
    position = 0
    for quota in quotas:
        male = rng.random() < 0.65
        helper = User(
            phone=phones.new(),
            name=_person_name(rng, male),
            role="helper",
            password_hash=password_hash,
            unit=rng.choice(UNITS),
            created_at=stamp,
        )
        helpers.append(helper)
        for household in households[position : position + quota]:
            household.helpers.append(helper.phone)
        position += quota
    by_village: dict[str, list[str]] = defaultdict(list)
    for h in households:
        by_village[h.village].extend(p for p in h.helpers if p not in by_village[h.village])
    for household in rng.sample(households, 24):
        others = [p for p in by_village[household.village] if p not in household.helpers]
        if others:
            household.helpers.append(rng.choice(others))
    return helpers


def _quotas(rng: random.Random, households: int, helpers: int) -> list[int]:
    """How many households each helper takes: at least one, mostly one to three."""
    quotas = rng.choices([1, 2, 3, 4], [30, 45, 20, 5], k=helpers)
    while (gap := households - sum(quotas)) != 0:
        i = rng.randrange(helpers)
        step = 1 if gap > 0 else -1
        if 1 <= quotas[i] + step <= 5:
            quotas[i] += step
    return quotas


def _example_helper(households: list[Household], helpers: list[User]) -> User:
    count: dict[str, int] = defaultdict(int)
    for h in households:
        for phone in h.helpers:
            count[phone] += 1
    return next(u for u in helpers if count[u.phone] >= 2)
