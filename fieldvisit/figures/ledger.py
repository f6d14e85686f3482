"""The needs ledger's figures of a month: needs raised in it, resolved (销号) in it, and
those still open at its end by how long they have waited.

The ledger keeps changing after a month is over (a need resolved in November may be
reopened in December), so a closed month keeps its resolved and waiting needs need by
need (``frozen.Pins``) and counts them from there; an open month reads the ledger as it is.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from ..models import Need
from ..vocab import NEED_CATEGORIES
from .frozen import MonthSource, Pins

AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("≤30", 0, 30),
    ("31–60", 31, 60),
    ("61–90", 61, 90),
    (">90", 91, None),
)


def open_at(need: Need, as_of: date) -> bool:
    """Whether ``need`` was raised by ``as_of`` and not yet resolved (销号) on that day."""
    if need.raised_at > as_of.isoformat():
        return False
    return need.status == "open" or need.resolved_at[:10] > as_of.isoformat()


def _bucket(need: Need, as_of: date) -> str:
    age = (as_of - date.fromisoformat(need.raised_at)).days
    for name, low, high in AGE_BUCKETS:
        if age >= low and (high is None or age <= high):
            return name
    return AGE_BUCKETS[-1][0]


def ledger_at(
    src: MonthSource, month: str, village: str | None, ids: set[str], as_of: date
) -> Pins:
    """The ledger of the households ``ids`` as it is now: the needs resolved in ``month``
    and those open on ``as_of``, read from every month up to ``month`` (returned as the
    Pins a close keeps; the month before is not looked at)."""
    resolved: list[str] = []
    waiting: list[tuple[str, str]] = []
    for m in src.store.months():
        if m > month:
            break
        for need in src.needs(m, village):
            if need.household not in ids:
                continue
            if need.status == "resolved" and need.resolved_at[:7] == month:
                resolved.append(need.household)
            if open_at(need, as_of):
                waiting.append((need.household, _bucket(need, as_of)))
    return Pins(needs_resolved=tuple(resolved), needs_waiting=tuple(waiting))


def needs_figures(
    src: MonthSource, month: str, village: str | None, ids: set[str], as_of: date
) -> tuple[dict[str, int], dict[str, int], int]:
    """Needs raised in ``month`` by category, needs open on ``as_of`` by age, and needs
    resolved in the month, of the households ``ids``."""
    raised = Counter(n.category for n in src.needs(month, village) if n.household in ids)
    ledger = (
        src.frozen.pins if src.frozen is not None else ledger_at(src, month, village, ids, as_of)
    )
    by_age = dict.fromkeys((b[0] for b in AGE_BUCKETS), 0)
    for household, bucket in ledger.needs_waiting:
        if household in ids and bucket in by_age:
            by_age[bucket] += 1
    resolved = sum(1 for household in ledger.needs_resolved if household in ids)
    return {c: raised.get(c, 0) for c in NEED_CATEGORIES}, by_age, resolved
