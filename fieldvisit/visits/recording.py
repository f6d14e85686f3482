"""Recording visits: idempotent saving, corrections that keep earlier versions, the audit
entry of each version, and each household's state for a month. What makes a visit valid
is ``validation``'s."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from flask_babel import gettext as _

from ..access.permissions import is_office, may_correct
from ..clock import now_iso
from ..models import AuditEntry, Household, Need, User, Visit
from ..storage import Registry, Store
from . import location as geo
from .fields import SENT
from .validation import VisitError, check_month_open, month_closed, validate


def _need_id(visit: Visit, need: dict[str, Any]) -> str:
    # Same visit, same need, same id: a correction that keeps a need keeps its ledger entry
    # (and its resolution).
    key = f"{visit.id}/{need['category']}/{need['description']}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def _needs_for(visit: Visit) -> list[Need]:
    unique = {_need_id(visit, n): n for n in visit.needs}
    return [
        Need(
            id=need_id,
            visit=visit.id,
            household=visit.household,
            village=visit.village,
            category=n["category"],
            description=n["description"],
            urgent=n["urgent"],
            raised_by=visit.helper,
            raised_at=visit.date,
        )
        for need_id, n in unique.items()
    ]


def needs_of(visit: Visit, stored: list[Need]) -> list[Need]:
    """The needs to store with a version of a visit, given the visit's needs already stored
    (``Store.save_visit`` asks under the file's lock): its ledger entries under the ledger's
    rule, for every writer of a visit (recording, correcting, adding a photo)."""
    from .needs import carry_over  # needs imports figures, which imports this module

    return carry_over(_needs_for(visit), stored)


# What a correction compares to tell whether anything changed: the fields a client sends,
# but the id (never changed) and the location (left out by the HTML form's corrections,
# which keep the stored one).
_CONTENT = tuple(name for name in SENT if name not in ("id", "location"))


def record_visit(
    store: Store, payload: dict[str, Any], user: User, today: date | None = None
) -> tuple[Visit, bool]:
    """Store a new visit. Returns it and True, or the already stored visit with the same id
    and False (a resend: nothing changes). Raises VisitError."""
    today = today or date.today()
    household, fields = validate(store, payload, user, today)
    stamp = now_iso()
    visit = Visit(**fields, created_at=stamp, updated_at=stamp, updated_by=user.phone)
    if month_closed(store, visit.month) is not None:
        # A phone that did not hear the answer sends a visit again: stored before the month
        # was closed, it is still answered as stored.
        resent = store.visit_by_id(visit.id)
        if resent is not None and resent.household == visit.household:
            return resent, False
        check_month_open(store, visit.month)

    # ``existing`` is the visit stored with this id, whatever its date (the store keeps an
    # index of ids): a resend, even with another date, is that visit.
    def decide(existing: Visit | None) -> Visit | None:
        if existing is None:
            return visit
        if existing.household != visit.household:
            raise VisitError({"id": _("这个记录编号已用于另一户")}, status=409)
        return None

    stored, created = store.save_visit(visit, decide, needs_of, audit=audit_entry)
    # The registry is rewritten only for a household that has no location yet.
    first_fix = stored.kind == "in_person" and geo.good_fix(stored.location)
    if created and first_fix and not household.location:
        place_household(store, stored.household, stored.location, user.phone, only_new=True)
    return stored, created


def place_household(
    store: Store, household_id: str, location: dict[str, float] | None, actor: str, only_new: bool
) -> bool:
    """Set a household's location (the office's, or its first in-person visit with a good
    fix when ``only_new``: a later visit never moves it). Returns whether it changed."""
    point = {"lat": location["lat"], "lng": location["lng"]} if location else None
    before: dict[str, float] | None = None

    def change(reg: Registry) -> bool:
        nonlocal before
        household = reg.households.get(household_id)
        if household is None or (only_new and household.location):
            return False
        before = household.location
        if before == point:
            return False
        household.location = point
        household.updated_at = now_iso()
        return True

    def entry(changed: bool) -> list[AuditEntry]:
        if not changed:
            return []
        return [AuditEntry(now_iso(), actor, "household.location", household_id, before, point)]

    return store.update_registry(change, entry, tables=("households",))


def correct_visit(
    store: Store, original: Visit, payload: dict[str, Any], user: User, today: date | None = None
) -> Visit:
    """Replace a visit's content, keeping the earlier version in its history."""
    today = today or date.today()
    if not may_correct(user, original, today):
        raise VisitError({"id": _("只能在当月修改自己的走访记录")}, status=403)
    check_month_open(store, original.month)
    payload = {**payload, "id": original.id, "household": original.household}
    if is_office(user):
        payload.setdefault("helper", original.helper)
    _household, fields = validate(store, payload, user, today)
    if fields["date"][:7] != original.month:
        raise VisitError({"date": _("修改时日期须在原记录的同一个月内")})
    stamp = now_iso()

    def decide(existing: Visit | None) -> Visit | None:
        if existing is None:
            raise VisitError({"id": _("没有这条走访记录")}, status=404)
        before = existing.to_doc()
        before.pop("history", None)
        if all(before[k] == fields[k] for k in _CONTENT):
            return None  # nothing changed: keep the record as it is
        updated = Visit.from_doc({**existing.to_doc(), **fields})
        updated.recorded_by = existing.recorded_by
        updated.helper = fields["helper"] if is_office(user) else existing.helper
        updated.updated_at = stamp
        updated.updated_by = user.phone
        updated.version = existing.version + 1
        updated.history = [*existing.history, before]
        return updated

    # Needs follow the new version: open ones of the old version are replaced.
    stored, _changed = store.save_visit(Visit(**fields), decide, needs_of, audit=audit_entry)
    return stored


def audit_entry(visit: Visit) -> AuditEntry:
    """The audit entry of a version of a visit just stored: what ``record_visit`` and
    ``correct_visit`` commit with it."""
    first = visit.version == 1
    before = None if first or not visit.history else visit.history[-1]
    action = "visit.create" if first else "visit.correct"
    # The visit's own values, not a copy: the entry is written out at once (the store
    # encodes it in the change's journal line or its row), never kept or changed.
    after = visit.doc_view()
    return AuditEntry(visit.updated_at, _author(visit), action, visit.id, before, after)


def _author(visit: Visit) -> str:
    return visit.updated_by or visit.recorded_by  # records from before updated_by


def household_visits(store: Store, household: Household, months: list[str]) -> list[Visit]:
    """The household's visits in the given months, newest first."""
    out = store.household_visits(months, household.village_key, household.id)
    return sorted(out, key=lambda v: (v.date, v.created_at), reverse=True)


def states_of(visits: list[Visit], household_ids: Iterable[str]) -> dict[str, str]:
    """Each household's state given a month's visits: visited (an in-person visit),
    attempted (only nobody home or phone), or not_visited. The one place that rule lives."""
    states = dict.fromkeys(household_ids, "not_visited")
    for visit in visits:
        if visit.household not in states:
            continue
        if visit.kind == "in_person":
            states[visit.household] = "visited"
        elif states[visit.household] == "not_visited":
            states[visit.household] = "attempted"
    return states


def month_states(store: Store, month: str) -> dict[str, str]:
    """Each household's state in ``month`` (see ``states_of``)."""
    return states_of(store.visits(month), store.registry().households)
