"""A township's office reconciles its own township only (docs/decisions/0016-county.md).

A scope is a township's name, or None for the whole registry (the county's office, a single
township's deployment, the command line): ``permissions.scoped_township`` of the account, as
for imports (``registry.scope``). Within a township:

* a difference about a household is its household's township's; one about a person on a
  list only (名单有花名册无: no household) is the township's whose own comparison found it,
  as a county's list does not say which township such a person would belong to;
* a comparison the county ran is every township's to read (each its own lines of it); one a
  township's office ran is that township's alone, and only finds and closes differences of
  that township (``running``);
* a check is its household's township's.

The pages, the downloads and the writes all ask these functions; a write asks them inside
its write, on the registry read under the lock (``settle``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..models import Check, Comparison, Difference, Household
from ..registry.scope import within
from ..storage import Registry
from . import terms
from .compare import Found


def of_township(reg: Registry, township: str | None, household_id: str) -> bool:
    """Whether the household ``household_id`` lies within ``township`` (a household no longer
    registered lies in no township's)."""
    if township is None:
        return True
    household = reg.households.get(household_id)
    return household is not None and within(township, household)


def sees_comparison(township: str | None, comparison: Comparison) -> bool:
    return township is None or comparison.township in ("", township)


def sees_difference(reg: Registry, township: str | None, d: Difference) -> bool:
    if township is None:
        return True
    if d.household:
        return of_township(reg, township, d.household)
    return any(
        (c := reg.comparisons.get(cid)) is not None and c.township == township for cid in d.seen_in
    )


def sees_check(reg: Registry, township: str | None, check: Check) -> bool:
    return of_township(reg, township, check.household)


def finds(reg: Registry, township: str | None, found: Found) -> bool:
    """Whether a comparison run within ``township`` keeps ``found``: its own households'
    differences and the people of no household (a township's list may be the county's
    whole roster: other townships' people are theirs to reconcile)."""
    return not found.household or of_township(reg, township, found.household)


def households(reg: Registry, township: str | None) -> Iterator[Household]:
    for household in reg.households.values():
        if within(township, household):
            yield household


def differences(reg: Registry, township: str | None) -> Iterator[Difference]:
    for d in reg.differences.values():
        if sees_difference(reg, township, d):
            yield d


def checks(reg: Registry, township: str | None) -> Iterator[Check]:
    for check in reg.checks.values():
        if sees_check(reg, township, check):
            yield check


def comparisons(reg: Registry, township: str | None) -> list[Comparison]:
    """The comparisons ``township`` may read, the latest first."""
    shown = [c for c in reg.comparisons.values() if sees_comparison(township, c)]
    return sorted(shown, key=lambda c: c.at, reverse=True)


def counts_of(
    reg: Registry, shown: Iterable[Comparison], township: str | None
) -> dict[str, dict[str, int]]:
    """What each comparison found, by id, in the form of ``Comparison.counts``: as stored for
    the whole registry, else counted again within ``township`` (one pass for them all)."""
    shown = list(shown)
    if township is None:
        return {c.id: dict(c.counts) for c in shown}
    out: dict[str, dict[str, int]] = {}
    for c in shown:
        kinds = ("checks", terms.NOT_ON_REGISTRY) if c.department == "warning" else terms.KINDS
        out[c.id] = dict.fromkeys(kinds, 0)
    for d in differences(reg, township):
        for cid in d.seen_in:
            if cid in out and d.kind in out[cid]:
                out[cid][d.kind] += 1
    for check in checks(reg, township):
        if check.comparison in out:
            out[check.comparison]["checks"] += 1  # made by that list (not sent again)
    return out
