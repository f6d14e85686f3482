"""Running a comparison: read the list, compare it under the registry's lock, keep the
comparison and its differences (or a warning list's checks) with one audit entry.

A difference is identified by what it is about, so the same disagreement found again by
next month's list is the same record: one the office explained stays explained, one sent to
a helper stays with the helper. One no longer found (the lists now agree) is marked gone;
one whose department value was taken and that is found again is opened again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass

from ..clock import now_iso
from ..models import AuditEntry, Comparison, Difference
from ..storage import Registry, Store
from . import terms
from .compare import Found, compare
from .lists import read_list
from .results import counts_in_words
from .scope import finds, sees_difference
from .warnings import check_days, make_checks

SEEN_KEPT = 24  # comparisons a difference remembers having been found in


@dataclass
class Outcome:
    comparison: Comparison
    lines: list[tuple[str, int]]  # what the CLI prints: (kind's Chinese name, count)


def difference_id(department: str, found: Found) -> str:
    subject = found.id_number or found.subject
    parts = (department, found.kind, found.household, subject)
    key = "|".join((*parts, found.registry_value, found.list_value))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def _note(d: Difference, action: str, who: str, at: str, note: str = "") -> None:
    d.history.append({"action": action, "who": who, "at": at, "note": note})
    d.updated_at = at


def record(
    reg: Registry,
    department: str,
    found: list[Found],
    cid: str,
    who: str,
    at: str,
    township: str | None = None,
) -> Counter[str]:
    """Store what a comparison within ``township`` (None: the whole registry) found (see the
    module's note); returns the count by kind."""
    kept: set[str] = set()
    counts: Counter[str] = Counter()
    for f in found:
        if not finds(reg, township, f):
            continue
        did = difference_id(department, f)
        if did in kept:
            continue  # the same row twice in the list
        kept.add(did)
        counts[f.kind] += 1
        d = reg.differences.get(did)
        if d is None:
            reg.differences[did] = Difference(
                did, department, f.kind, f.household, f.id_number, f.name, f.registry_value,
                f.list_value, f.target, f.proposed, seen_in=[cid], updated_at=at,
            )  # fmt: skip
            continue
        d.seen_in = [*d.seen_in[-(SEEN_KEPT - 1) :], cid]
        if d.status == "gone" or (d.status == "settled" and d.settlement == "taken"):
            d.status, d.settlement = "open", ""
            _note(d, "reopen", who, at)
    for d in reg.differences.values():
        if (
            d.department == department
            and d.status in ("open", "sent")
            and d.id not in kept
            and sees_difference(reg, township, d)  # another township's list says nothing of it
        ):
            d.status = "gone"
            _note(d, "gone", who, at)
    return counts


def run_comparison(
    store: Store,
    department: str,
    data: bytes,
    filename: str,
    actor: str,
    township: str | None = None,
) -> Outcome:
    """Compare a department's list (``department``: a ``terms.DEPARTMENTS`` code) with the
    registry and keep the result. ``township`` (a township's office) confines it to that
    township's households (``scope``); None: the whole registry. Raises ``RegistryError``
    when the file cannot be read."""
    if department not in terms.DEPARTMENTS:
        raise ValueError(department)
    rows = read_list(department, data, filename)
    at = now_iso()
    comparison = Comparison(
        uuid.uuid4().hex[:16], department, filename, hashlib.sha256(data).hexdigest(), actor, at,
        len(rows), township=township or "",
    )  # fmt: skip

    def change(reg: Registry) -> Comparison:
        if department == "warning":
            made, missing = make_checks(reg, rows, comparison.id, at, check_days(reg), township)
            counts = record(reg, department, missing, comparison.id, actor, at, township)
            comparison.counts = {
                "checks": made,
                terms.NOT_ON_REGISTRY: counts[terms.NOT_ON_REGISTRY],
            }
        else:
            found = compare(department, reg, rows)
            counts = record(reg, department, found, comparison.id, actor, at, township)
            comparison.counts = {kind: counts[kind] for kind in terms.KINDS}
        reg.comparisons[comparison.id] = comparison
        return comparison

    def entries(done: Comparison) -> list[AuditEntry]:
        after = {
            "department": terms.DEPARTMENTS[department],
            "comparison": done.id,
            "sha256": done.sha256,
            "counts": "，".join(f"{name} {n}" for name, n in counts_in_words(done)),
        }
        return [AuditEntry(at, actor, "reconcile.compare", filename, None, after)]

    done = store.update_registry(change, entries)
    return Outcome(done, counts_in_words(done))
