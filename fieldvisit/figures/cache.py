"""Figures kept between requests, for as long as the data they were made from is unchanged.

A county's month takes a pass over 13,520 households and a year of visits; a dashboard asked
for again with nothing changed gets the answer it got before. Each entry is kept with the
store's versions of what it was made from (``Engine.registry_version`` — households,
settings, closed months — and ``Engine.visits_version`` of every month it reads), read from
the store on every request, never from this process's memory of its own writes: a visit
saved by another server process moves the version, and the next request here makes the
figures again. The versions are read *before* the figures are made, so a change landing
meanwhile leaves them filed under the older versions and the next request makes them again:
never stale, at worst made once too often.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from .. import collation
from ..models import Household
from ..storage import Registry, Store

T = TypeVar("T")

# Entries, each the latest answer for one question (a county's dashboard, a township's, a
# month's API figures). A county's twenty townships, the county itself and a few months.
CACHE_SIZE = 64

_lock = threading.Lock()
# (store location, name, args) -> (versions, value)
_entries: OrderedDict[tuple[str, str, Hashable], tuple[Hashable, Any]] = OrderedDict()


def data_version(store: Store, months: Iterable[str]) -> Hashable:
    """The store's versions of the registry, of the visits of each of ``months``, and of
    the first month with visits (a trend starts there)."""
    recorded = store.months()
    return (
        store.registry_version(),
        tuple((m, store.visits_version(m)) for m in months),
        recorded[0] if recorded else None,
    )


def cached(
    store: Store, name: str, args: Hashable, months: Iterable[str], build: Callable[[], T]
) -> T:
    """``build()``, or what it gave before for the same ``name`` and ``args`` while the
    registry and the visits of ``months`` are unchanged. The value is shared: read-only."""
    slot = (store.location, name, args)
    version = data_version(store, months)
    with _lock:
        hit = _entries.get(slot)
        if hit is not None and hit[0] == version:
            _entries.move_to_end(slot)
            return hit[1]
    value = build()
    with _lock:
        _entries[slot] = (version, value)
        _entries.move_to_end(slot)
        _forget_older_registries(slot[0], version)
        while len(_entries) > CACHE_SIZE:
            _entries.popitem(last=False)
    return value


def _forget_older_registries(location: str, version: Hashable) -> None:
    # Figures hold the households of the registry they were made from: an entry made from
    # an older registry of the same store keeps a county's whole registry alive for nothing.
    registry = version[0] if isinstance(version, tuple) else None
    old = [
        key
        for key, (seen, _value) in _entries.items()
        if key[0] == location and isinstance(seen, tuple) and seen[0] != registry
    ]
    for key in old:
        del _entries[key]


# Households visited in person in each month lately read ((location, month) -> (version,
# their 户编号)): a year's trend reads eleven months that seldom change, and a set of ids is
# small where the months' visits are not.
_visited: OrderedDict[tuple[str, str], tuple[Hashable, frozenset[str]]] = OrderedDict()
VISITED_MONTHS = 48


def visited_in(store: Store, month: str) -> frozenset[str]:
    """The households with an in-person visit dated in ``month`` (visits.recording's
    "visited"), kept while the month's visits are unchanged."""
    slot = (store.location, month)
    version = store.visits_version(month)
    with _lock:
        hit = _visited.get(slot)
        if hit is not None and hit[0] == version:
            _visited.move_to_end(slot)
            return hit[1]
    found = frozenset(v.household for v in store.visits(month) if v.kind == "in_person")
    with _lock:
        _visited[slot] = (version, found)
        _visited.move_to_end(slot)
        while len(_visited) > VISITED_MONTHS:
            _visited.popitem(last=False)
    return found


# The office's order of each registry read lately (registry -> 户编号 -> place). Registries
# are read-only and replaced whole by a change, so the object itself says which it is.
_orders: list[tuple[weakref.ref[Registry], dict[str, int]]] = []


def in_household_order(reg: Registry, households: Iterable[Household]) -> list[Household]:
    """``collation.in_household_order`` of some of ``reg``'s households. The registry's
    whole order is sorted once per registry (a county's takes a quarter of a second, and
    every visit saved would otherwise pay it again); a sort by place follows."""
    chosen = list(households)
    with _lock:
        places = next((p for ref, p in _orders if ref() is reg), None)
    if places is None:
        order = collation.in_household_order(reg.households.values())
        places = {h.id: i for i, h in enumerate(order)}
        with _lock:
            _orders[:] = [(ref, p) for ref, p in _orders if ref() is not None][-3:]
            _orders.append((weakref.ref(reg), places))
    if any(h.id not in places or reg.households[h.id] is not h for h in chosen):
        return collation.in_household_order(chosen)  # not the registry's own households
    return sorted(chosen, key=lambda h: places[h.id])


def clear() -> None:
    """Forget every entry (tests that compare a cold answer with a warm one)."""
    with _lock:
        _entries.clear()
        _orders.clear()
        _visited.clear()
