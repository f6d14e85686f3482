"""Which helpers each household's door plate printed, to find plates gone wrong.

A plate names the household's helpers and their phones. After a transfer (a cadre's
households given to another) or a change of a household's helpers, the plate on the door
still tells the family to call someone who no longer helps them. When plates are made, the
helpers each one printed are kept with the registry's settings; a household whose helpers
now differ needs a new plate. A household never printed since this was kept has no entry
and is not listed: nothing is known about what its plate says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..collation import in_household_order
from ..models import Household
from ..storage import Registry, Store

SETTING = "printed_helpers"  # {户编号: [helper phones as printed, in order]}


def printed_helpers(household: Household) -> list[str]:
    """The helpers a plate of ``household`` shows now: each once, in pairing order."""
    return list(dict.fromkeys(household.helpers))


def record_printed(store: Store, households: Iterable[Household]) -> None:
    """Remember the helpers on the plates just made of ``households`` (as they were read
    for printing, so a transfer made while the plates were printing still shows)."""
    printed = {h.id: printed_helpers(h) for h in households}
    if not printed:
        return

    def change(reg: Registry) -> None:
        record = dict(reg.settings.get(SETTING) or {})
        record.update(printed)
        reg.settings[SETTING] = record

    store.update_registry(change)


def printed_record(registry: Registry) -> dict[str, list[str]]:
    record = registry.settings.get(SETTING)
    return dict(record) if isinstance(record, dict) else {}


def stale_households(registry: Registry) -> list[Household]:
    """The households whose plate names other helpers than they have now (any order)."""
    stale = []
    for hid, phones in printed_record(registry).items():
        household = registry.households.get(hid)
        if household is not None and printed_helpers(household) != list(phones):
            stale.append(household)
    return stale


def stale_among(registry: Registry, ids: Iterable[str]) -> int:
    """How many of the households ``ids`` (just given other helpers) need a new plate."""
    stale = {h.id for h in stale_households(registry)}
    return len(stale.intersection(ids))


@dataclass(frozen=True)
class StalePlate:
    """One plate to print again, as the door-plates page lists it."""

    household: Household
    printed: list[str]  # the helpers on the door, "name phone"
    current: list[str]  # the helpers now


def _people(registry: Registry, phones: Iterable[str]) -> list[str]:
    users = registry.users
    return [f"{users[p].name} {p}" if p in users else p for p in phones]


def stale_plates(registry: Registry) -> list[StalePlate]:
    """The plates to print again, in the order plates are handed out."""
    record = printed_record(registry)
    return [
        StalePlate(
            household=h,
            printed=_people(registry, record[h.id]),
            current=_people(registry, printed_helpers(h)),
        )
        for h in in_household_order(stale_households(registry))
    ]
