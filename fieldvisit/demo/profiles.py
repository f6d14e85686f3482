"""The registry's tables: which cell of the reference township's tables
(docs/reference-township.md) each household counts in, and how many people it has, settled
before the household gets a name."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..vocab import CAUSES
from .township import ATTRIBUTE_TABLE, CAUSE_TABLE, STATUS_TABLE, TABLES, VILLAGES


@dataclass
class _Profile:
    """One household before it has a name: the cells of the reference tables it counts in."""

    attribute: str
    cause: str
    village: str = ""
    status: str = "not_exited"
    members: int = 1


def _profiles(rng: random.Random) -> list[_Profile]:
    """676 profiles whose attribute, cause and status marginals match docs/reference-township.md for
    households and people at once."""
    profiles = _with_causes(rng)
    _place_in_villages(rng, profiles)
    _mark_exited(rng, profiles)
    _draw_members(rng, profiles)
    _balance(rng, profiles)
    problems = table_mismatches(profiles)
    if problems:  # cannot happen unless the balancing below is broken
        raise RuntimeError(f"demo registry does not match the reference township: {problems}")
    return profiles


def table_mismatches(rows: Sequence[Any]) -> list[str]:
    """Where ``rows`` (anything with attribute, cause, status, members) miss the tables."""
    problems = []
    for dim, table in TABLES.items():
        for code, (want_hh, want_people) in table.items():
            hh = [r for r in rows if getattr(r, dim) == code]
            people = sum(r.members for r in hh)
            if (len(hh), people) != (want_hh, want_people):
                problems.append(f"{dim}={code}: {len(hh)}/{people}, want {want_hh}/{want_people}")
    return problems


# How likely each cause is for each attribute: five-guarantees households are old people
# living alone (illness, disability, no labour), never school costs.
_CAUSE_AFFINITY: dict[str, dict[str, float]] = {
    "wubao": {"illness": 3, "disability": 3, "labour": 5, "drive": 0.2},
    "general": {"illness": 1, "disability": 1, "schooling": 4, "disaster": 3, "skills": 4,
                "funds": 4, "drive": 3, "labour": 0.5},
    "dibao": {c: 1.0 for c in CAUSES},
}  # fmt: skip


def _with_causes(rng: random.Random) -> list[_Profile]:
    """Draw causes without replacement, so the household counts come out exact."""
    left = {code: hh for code, (hh, _) in CAUSE_TABLE.items()}
    profiles = []
    # Dibao goes last: it takes whatever causes the others did not.
    for attribute in ("wubao", "general", "dibao"):
        affinity = _CAUSE_AFFINITY[attribute]
        for _ in range(ATTRIBUTE_TABLE[attribute][0]):
            weights = [left[c] * affinity.get(c, 0.0) for c in left]
            if not any(weights):
                weights = [float(n) for n in left.values()]
            cause = rng.choices(list(left), weights)[0]
            left[cause] -= 1
            profiles.append(_Profile(attribute, cause))
    rng.shuffle(profiles)
    return profiles


def _place_in_villages(rng: random.Random, profiles: list[_Profile]) -> None:
    sizes = [rng.randint(28, 72) for _ in VILLAGES]
    while (gap := len(profiles) - sum(sizes)) != 0:
        i = rng.randrange(len(sizes))
        step = 1 if gap > 0 else -1
        if 20 <= sizes[i] + step <= 80:
            sizes[i] += step
    names = iter(
        name for (name, _, _), size in zip(VILLAGES, sizes, strict=True) for _ in range(size)
    )
    for profile, name in zip(profiles, names, strict=True):
        profile.village = name


def _mark_exited(rng: random.Random, profiles: list[_Profile]) -> None:
    """Pick the exited households: larger families with labour, mostly in the poor villages
    that got the most help and exited early."""
    village_weight = {"聂河村": 4.0, "油房张村": 3.0, "王寨村": 2.0}
    attr_weight = {"general": 4.0, "dibao": 1.0, "wubao": 0.1}
    cause_weight = {"skills": 2.0, "funds": 2.0, "schooling": 2.0, "drive": 1.5}

    def key(p: _Profile) -> float:  # weighted sampling without replacement (Efraimidis-Spirakis)
        weight = village_weight.get(p.village, 1.0) * attr_weight[p.attribute]
        return rng.random() ** (1.0 / (weight * cause_weight.get(p.cause, 1.0)))

    ranked = sorted(profiles, key=key, reverse=True)
    for profile in ranked[: STATUS_TABLE["exited"][0]]:
        profile.status = "exited"


def _limits(profile: _Profile) -> tuple[int, int]:
    """Plausible household sizes: five-guarantees people live alone or as an old couple; a
    household poor through school costs has a child at school and a parent."""
    if profile.attribute == "wubao":
        return (1, 3)
    return (2, 7) if profile.cause == "schooling" else (1, 7)


def _mean(table: dict[str, tuple[int, int]], code: str) -> float:
    hh, people = table[code]
    return people / hh


def _draw_members(rng: random.Random, profiles: list[_Profile]) -> None:
    """A first, plausible draw close to the tables; ``_balance`` makes it exact."""
    households, people = (sum(col) for col in zip(*STATUS_TABLE.values(), strict=True))
    overall = people / households
    for p in profiles:
        if p.attribute == "wubao":
            p.members = 1 if rng.random() < 0.78 else 2
            continue
        mean = (
            _mean(ATTRIBUTE_TABLE, p.attribute)
            * _mean(CAUSE_TABLE, p.cause)
            / overall
            * _mean(STATUS_TABLE, p.status)
            / overall
        )
        low, high = _limits(p)
        p.members = min(high, max(low, round(rng.gauss(mean, 0.9))))


def _balance(rng: random.Random, profiles: list[_Profile]) -> None:
    """Adjust member counts until every people total matches.

    Attributes first, by single steps (which also fixes the grand total); then causes and
    status by moving one person between two households that share their other two cells,
    so a dimension once balanced stays balanced.
    """
    for code in ATTRIBUTE_TABLE:
        _fix_attribute(rng, profiles, code)
    for dim in ("cause", "status"):
        _fix_dimension(rng, profiles, dim)


def _deficit(profiles: list[_Profile], dim: str) -> dict[str, int]:
    have: dict[str, int] = defaultdict(int)
    for p in profiles:
        have[getattr(p, dim)] += p.members
    return {code: people - have[code] for code, (_, people) in TABLES[dim].items()}


def _fix_attribute(rng: random.Random, profiles: list[_Profile], code: str) -> None:
    group = [p for p in profiles if p.attribute == code]
    for _ in range(5000):
        need = _deficit(profiles, "attribute")[code]
        if need == 0:
            return
        step = 1 if need > 0 else -1
        cause, status = _deficit(profiles, "cause"), _deficit(profiles, "status")
        movable = [p for p in group if _limits(p)[0] <= p.members + step <= _limits(p)[1]]
        # Prefer households whose cause and status want the same change: less work later.
        helpful = [p for p in movable if cause[p.cause] * step > 0 and status[p.status] * step > 0]
        rng.choice(helpful or movable).members += step
    raise RuntimeError(f"cannot balance attribute {code}")


def _fix_dimension(rng: random.Random, profiles: list[_Profile], dim: str) -> None:
    for _ in range(5000):
        deficit = _deficit(profiles, dim)
        short = sorted((c for c in deficit if deficit[c] > 0), key=lambda c: -deficit[c])
        if not short:
            return
        over = sorted((c for c in deficit if deficit[c] < 0), key=lambda c: deficit[c])
        # When no household pairs up directly, route through the biggest group: it shares
        # cells with everyone, and the next round moves the person on.
        pivots = sorted((c for c in deficit if c not in short), key=lambda c: -TABLES[dim][c][0])
        if not any(_move(rng, profiles, dim, s, o) for s in short for o in [*over, *pivots]):
            raise RuntimeError(f"cannot balance {dim}")
    raise RuntimeError(f"cannot balance {dim}")


def _move(rng: random.Random, profiles: list[_Profile], dim: str, to: str, frm: str) -> bool:
    """Move one person from a ``frm`` household to a ``to`` household that agrees with it in
    the other two dimensions; False when no such pair has room."""
    others = [d for d in TABLES if d != dim]
    ups: dict[tuple[str, ...], list[_Profile]] = defaultdict(list)
    downs: dict[tuple[str, ...], list[_Profile]] = defaultdict(list)
    for p in profiles:
        key = tuple(getattr(p, d) for d in others)
        low, high = _limits(p)
        if getattr(p, dim) == to and p.members < high:
            ups[key].append(p)
        elif getattr(p, dim) == frm and p.members > low:
            downs[key].append(p)
    candidates = [p for key, group in ups.items() if key in downs for p in group]
    if not candidates:
        return False
    # Grow small families and shrink big ones, so the counts stay plausible.
    up = min(rng.sample(candidates, min(3, len(candidates))), key=lambda p: p.members)
    pool = downs[tuple(getattr(up, d) for d in others)]
    down = max(rng.sample(pool, min(3, len(pool))), key=lambda p: p.members)
    up.members += 1
    down.members -= 1
    return True
