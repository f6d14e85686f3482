"""What a month's figures are made from: today's registry, or the one frozen when the
month was closed (``closing``; docs/decisions/0013-closed-months.md).

``month_source`` is the one place that decides, and every month report (the figures, the
dashboard and the completion API, the monthly PDF, the visits export) takes its registry
and its visits through the ``MonthSource`` it returns:

* A month never closed reads today's registry and today's files, as it always did.
* A closed month reads the snapshot written when it was closed: households (village,
  group, attributes, pairings), villages, helpers' names and units, the township's name,
  checklist and targets. Its visits, of any month, are grouped through the snapshot's
  household -> village: a household that moves village has its visits carried into the new
  village's file with ``visit.village`` rewritten, so neither the file nor the field says
  where it lived then. What later changes elsewhere could alter is pinned in the snapshot:
  the households visited the month before, and the needs ledger at the month's end (needs
  resolved in it, needs still open by age). The month's own visits need no copy: a closed
  month takes no new or corrected visit (``Store.save_visit`` refuses it).
* A reopened month reads today's registry again, until it is closed again (a new snapshot).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..households.lookup import township_name
from ..models import Household, Need, User, Village, Visit
from ..storage import Registry, StorageError, Store
from ..visits.fields import ChecklistItem, checklist
from .targets import PHOTO_SETTING, TARGET_SETTING, Targets, targets_of

SNAPSHOT_FORMAT = 1
_log = logging.getLogger(__name__)
T = TypeVar("T", Visit, Need)


@dataclass(frozen=True)
class Pins:
    """Figures of a closed month that later changes outside it could alter, kept as they
    stood, household by household so that any village's share can be counted."""

    previous_visited: frozenset[str] = frozenset()  # visited in person the month before
    previous_known: bool = False  # the month before has visits at all
    needs_resolved: tuple[str, ...] = ()  # the household of each need resolved in the month
    needs_waiting: tuple[tuple[str, str], ...] = ()  # (household, age bucket) open at its end

    def to_doc(self) -> dict[str, Any]:
        return {
            "previous_visited": sorted(self.previous_visited),
            "previous_known": self.previous_known,
            "needs_resolved": list(self.needs_resolved),
            "needs_waiting": [list(pair) for pair in self.needs_waiting],
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Pins:
        return cls(
            frozenset(doc.get("previous_visited", [])),
            bool(doc.get("previous_known")),
            tuple(doc.get("needs_resolved", [])),
            tuple((str(h), str(b)) for h, b in doc.get("needs_waiting", [])),
        )


@dataclass(frozen=True)
class Frozen:
    """A closed month's snapshot, read back."""

    month: str
    registry: Registry
    township: str
    checklist: list[ChecklistItem]
    targets: Targets
    pins: Pins
    figures: dict[str, Any] = field(default_factory=dict)  # the township's, as issued


def frozen_registry(reg: Registry) -> dict[str, Any]:
    """What a snapshot keeps of ``reg``: villages, households as the registry holds them
    (ID numbers too: the file lives in the data folder like registry.json), and users
    without what logs them in (password hashes, and the door plates' tokens)."""
    households = {}
    for h in reg.households.values():
        doc = h.to_doc()
        doc["token"] = ""
        households[h.id] = doc
    users = {}
    for u in reg.users.values():
        doc = u.to_doc()
        doc["password_hash"] = ""
        users[u.phone] = doc
    return {
        "villages": {v.name: v.to_doc() for v in reg.villages.values()},
        "households": households,
        "users": users,
    }


def snapshot_payload(store: Store, month: str, pins: Pins) -> dict[str, Any]:
    """The snapshot of ``month`` as it stands now (without its figures, which are made from
    it: see ``closing``). Needs an application context (the township's configured name)."""
    reg = store.registry()
    rules = targets_of(reg)
    return {
        "format": SNAPSHOT_FORMAT,
        "month": month,
        "township": township_name(store),
        "registry": frozen_registry(reg),
        "checklist": [{"key": i.key, "label": i.label} for i in checklist(store)],
        "targets": {TARGET_SETTING: rules.target, PHOTO_SETTING: rules.photo_required},
        "pins": pins.to_doc(),
    }


def read_snapshot(data: dict[str, Any]) -> Frozen:
    """A snapshot's content (as ``snapshot_payload`` made it) as a Frozen."""
    tables = data["registry"]
    reg = Registry(
        villages={k: Village.from_doc(d) for k, d in tables.get("villages", {}).items()},
        households={k: Household.from_doc(d) for k, d in tables.get("households", {}).items()},
        users={k: User.from_doc(d) for k, d in tables.get("users", {}).items()},
    )
    rules = data.get("targets", {})
    return Frozen(
        month=data["month"],
        registry=reg,
        township=str(data.get("township", "")),
        checklist=[ChecklistItem(i["key"], i["label"]) for i in data.get("checklist", [])],
        targets=Targets(rules.get(TARGET_SETTING, 100), rules.get(PHOTO_SETTING) is True),
        pins=Pins.from_doc(data.get("pins", {})),
        figures=data.get("figures", {}),
    )


# Snapshots are never rewritten (a new close writes a new file), so a read one is kept. A
# township's is a few hundred kB of JSON: a few dozen months fit easily.
_CACHE_SIZE = 36
_cache: dict[tuple[str, str, str], Frozen] = {}
_cache_lock = threading.Lock()


def load_frozen(store: Store, month: str, name: str) -> Frozen:
    """The snapshot ``name`` of ``month``; raises StorageError when it cannot be read."""
    key = (store.location, month, name)
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    try:
        found = read_snapshot(json.loads(store.closed.read(month, name)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"closed month {month}: snapshot {name} unreadable: {exc}") from exc
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = found
    return found


@dataclass(frozen=True)
class MonthSource:
    """Where the figures and documents of ``month`` come from (see the module's notes)."""

    store: Store
    month: str
    registry: Registry
    frozen: Frozen | None = None  # set while the month is closed
    record: dict[str, Any] | None = None  # its closing record, once it was ever closed

    def visits(self, month: str, village: str | None = None) -> list[Visit]:
        """The visits dated in ``month`` (any month: the one before, a trend's), of
        ``village`` as this source's registry places households."""
        if self.frozen is None:
            return self.store.visits(month, village)
        return self._of_village(self.store.visits(month), village)

    def needs(self, month: str, village: str | None = None) -> list[Need]:
        """The needs raised in visits dated in ``month``, placed as ``visits`` places them."""
        if self.frozen is None:
            return self.store.needs(month, village)
        return self._of_village(self.store.needs(month), village)

    def _of_village(self, records: Iterable[T], village: str | None) -> list[T]:
        if village is None:
            return list(records)
        households = self.registry.households
        return [
            r
            for r in records
            if (h := households.get(r.household)) is not None and h.village_key == village
        ]

    def village_of(self, household_id: str, filed: str) -> str:
        """The village a record of ``household_id`` (``filed`` under one) belongs to: the
        snapshot's for a closed month, else where it is filed, as it always was."""
        if self.frozen is None:
            return filed
        household = self.registry.households.get(household_id)
        return household.village if household is not None else filed

    def villages(self) -> set[str]:
        """Every village of the registry, including any only named by a household."""
        reg = self.registry
        return set(reg.villages) | {h.village_key for h in reg.households.values()}

    def township(self) -> str:
        """The township's name. Needs an application context for an open month."""
        return self.frozen.township if self.frozen is not None else township_name(self.store)

    def checklist(self) -> list[ChecklistItem]:
        return self.frozen.checklist if self.frozen is not None else checklist(self.store)

    def targets(self) -> Targets:
        return self.frozen.targets if self.frozen is not None else targets_of(self.registry)


def month_source(store: Store, month: str) -> MonthSource:
    """Where ``month``'s figures come from: its snapshot while it is closed, else today's
    registry. A snapshot that cannot be read (a folder restored without its ``closed/``
    files) is logged and today's registry used: the pages keep working, with today's
    households."""
    record = store.closed_months().get(month)
    if record is None or record.get("state") != "closed":
        return MonthSource(store, month, store.registry(), None, record)
    try:
        frozen = load_frozen(store, month, str(record.get("snapshot", "")))
    except StorageError:
        _log.exception("closed month %s: reading today's registry instead", month)
        return MonthSource(store, month, store.registry(), None, record)
    return MonthSource(store, month, frozen.registry, frozen, record)


def registry_for(store: Store, month: str) -> Registry:
    """The registry ``month``'s figures are made from: the one frozen with it while it is
    closed; today's for a month never closed, and for a reopened one until it is closed
    again."""
    return month_source(store, month).registry
