"""Households: lookups, door-plate tokens, each household's state for a month, and the
name of the township they belong to."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date

from flask import current_app

from ..access.permissions import is_helper
from ..clock import now_iso
from ..models import AuditEntry, Household, Need, Visit
from ..months import this_month
from ..storage import Registry, Store

TOKEN_BYTES = 20  # 160 bits: a door plate's link cannot be guessed


def township_name(store: Store) -> str:
    """The township's name as the pages, the plates, the PDFs and the spreadsheets show it:
    the configured one (``FIELDVISIT_TOWNSHIP``), else the one stored with the registry,
    else empty. Needs an application context."""
    return current_app.config.get("TOWNSHIP") or store.setting("township") or ""


def new_token() -> str:
    """A fresh, unguessable QR token (URL-safe)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass
class WorkItem:
    """One row of a helper's home page."""

    household: Household
    state: str  # visited | attempted | not_visited


def helper_worklist(store: Store, phone: str, today: date) -> list[WorkItem]:
    """The helper's households with this month's state, the ones still to do first."""
    from ..visits.recording import month_states

    states = month_states(store, this_month(today))
    mine = [h for h in store.registry().households.values() if phone in h.helpers]
    order = {"not_visited": 0, "attempted": 1, "visited": 2}
    items = [WorkItem(h, states.get(h.id, "not_visited")) for h in mine]
    return sorted(items, key=lambda i: (order[i.state], i.household.village, i.household.id))


@dataclass
class Overview:
    households: int
    people: int
    helpers: int
    month: str
    states: dict[str, int]


def overview(store: Store, today: date) -> Overview:
    """The office's first look at the month (the full dashboard comes with the reports)."""
    from ..visits.recording import month_states

    reg = store.registry()
    month = this_month(today)
    counts = Counter(month_states(store, month).values())
    return Overview(
        households=len(reg.households),
        people=sum(h.members for h in reg.households.values()),
        helpers=sum(1 for u in reg.users.values() if is_helper(u) and u.active),
        month=month,
        states={k: counts.get(k, 0) for k in ("visited", "attempted", "not_visited")},
    )


def open_needs(store: Store, household: Household) -> list[Need]:
    """The household's needs not yet resolved (销号), urgent and oldest first."""
    found = [
        n for n in store.household_needs(household.village_key, household.id) if n.status == "open"
    ]
    return sorted(found, key=lambda n: (not n.urgent, n.raised_at))


def find_visit(store: Store, household: Household, visit_id: str) -> Visit | None:
    for month in reversed(store.months()):
        visit = store.find_visit(month, household.village_key, visit_id)
        if visit is not None and visit.household == household.id:
            return visit
    return None


def reissue_token(store: Store, household_id: str, actor: str) -> str:
    """Give a household a new QR token; the old plate's link stops working at once."""
    token = new_token()

    def change(reg: Registry) -> None:
        household = reg.households.get(household_id)
        if household is None:
            raise LookupError(household_id)
        household.token = token

    store.update_registry(
        change,
        lambda _r: [AuditEntry(now_iso(), actor, "household.token", household_id)],
        tables=("households",),
    )
    return token
