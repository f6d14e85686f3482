"""What a close writes: the month's snapshot (registry, pins, figures) and its summary PDF,
both made from the snapshot itself so that the archived PDF and every later report of the
month are drawn from the same data (docs/decisions/0013-closed-months.md)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..documents.monthly import monthly_report_pdf
from ..figures.frozen import MonthSource, Pins, read_snapshot, snapshot_payload
from ..figures.ledger import ledger_at
from ..figures.month import MonthFigures, month_figures
from ..months import month_bounds, previous_month
from ..storage import Store


@dataclass(frozen=True)
class Issue:
    """The files of one close, written and named, not yet recorded."""

    snapshot: str  # file name of the snapshot (its SHA-256 and .json)
    pdf: str  # file name of the summary PDF (its SHA-256 and .pdf)
    visits: str  # fingerprint of the month's visits they were made from


def visits_fingerprint(store: Store, month: str) -> str:
    """A digest of every visit dated in ``month`` as stored (each version, each photo): a
    save that slipped in while the files were being made changes it."""
    versions = sorted((v.id, v.version, v.updated_at, v.photos) for v in store.visits(month))
    return hashlib.sha256(json.dumps(versions).encode("utf-8")).hexdigest()


def pins_now(store: Store, month: str) -> Pins:
    """The figures of ``month`` that later changes elsewhere could alter, as they are now:
    the households visited in person the month before, and the needs ledger at its end."""
    live = MonthSource(store, month, store.registry())
    before = previous_month(month)
    ledger = ledger_at(live, month, None, set(live.registry.households), month_bounds(month)[1])
    return Pins(
        previous_visited=frozenset(
            v.household for v in store.visits(before) if v.kind == "in_person"
        ),
        previous_known=before in store.months(),
        needs_resolved=ledger.needs_resolved,
        needs_waiting=ledger.needs_waiting,
    )


def figures_doc(f: MonthFigures) -> dict[str, Any]:
    """The township's figures as the snapshot records them, for whoever checks the issued
    PDF against the data: the headline, by village, the needs, and each household's state."""
    return {
        "households": f.households,
        "people": f.people,
        "visited": f.visited,
        "attempted": f.attempted,
        "rate": round(f.rate, 4),
        "previous_visited": f.previous_visited,
        "by_village": [
            {
                "village": r.village,
                "households": r.households,
                "people": r.people,
                "visited": r.visited,
                "attempted": r.attempted,
            }
            for r in f.by_village
        ],
        "needs_raised": f.needs_raised,
        "open_needs_by_age": f.open_needs_by_age,
        "needs_resolved": f.needs_resolved,
        "satisfaction": f.satisfaction,
        "states": dict(sorted(f.states.items())),
    }


def issue(store: Store, month: str, record: dict[str, Any], today: date | None = None) -> Issue:
    """Freeze ``month`` as it stands now and write its snapshot and summary PDF (durably,
    named by their SHA-256) for the closing ``record`` about to be committed: the PDF says
    when the month was closed, as every later report of it does. Needs an application
    context."""
    fingerprint = visits_fingerprint(store, month)
    payload = snapshot_payload(store, month, pins_now(store, month))
    frozen = read_snapshot(payload)
    source = MonthSource(store, month, frozen.registry, frozen, record)
    payload["figures"] = figures_doc(month_figures(store, month, today=today, source=source))
    payload["visits"] = fingerprint
    raw = json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
    snapshot = store.closed.put(month, raw, "json")
    pdf = store.closed.put(
        month, monthly_report_pdf(store, month, today=today, source=source), "pdf"
    )
    return Issue(snapshot, pdf, fingerprint)
