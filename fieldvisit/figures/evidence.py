"""Visits a supervisor should look at: recorded far from the household, without a location
the helper's phone could have given, or without a photo the township requires. Shown on the
dashboard, one row per helper."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, has_app_context

from ..models import Household, User, Visit
from ..storage import Store
from ..visits import location as geo
from .frozen import month_source

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
    township: str | None = None,
) -> list[EvidenceFlag]:
    """The month's flagged visits, farthest first, then the rest by date.

    Only what is worth a call: a visit of any kind recorded far from the household; an
    in-person visit without a location when the same helper's phone gave a location for
    another visit that month (so it could, and this one's is missing — a phone that never
    gives one, or a township without household locations, flags nothing); an in-person
    visit without a photo only when the township requires photos (``targets``). Phone calls
    and "nobody home" are flagged only when far away. With ``township``, only its
    households' visits (a county's township: the others' are not measured at all).
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
        if household is None or (township is not None and household.township != township):
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
