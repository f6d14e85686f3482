"""Does saving a visit cost more after ten years of history? Median time of one save with no
history and with ``--history`` past visits, and their ratio (the target is at most 1.5).

Two fresh data folders hold the same registry (the demo township: 676 households, 357
helpers) and the same current month, about half visited, as on a helping day: one has
nothing before it, the other the demo township's history of the months before (~85,000
visits for 120 months). Each then takes new visits for this month, spread over the
households, through ``record_visit`` (validation, the locked write of the month and village
file, the audit entry): the full cost of a save below HTTP.

The saves alternate between the two folders (and which goes first), after a warm-up, so
that a noisy machine slows both alike; medians, not means, are compared. Each folder is
opened by a fresh ``Store``, as after a restart: nothing about the history is cached.

Run: ``.venv/bin/python bench/bench_save_visit.py [--history 85000] [--repeat 200]``;
``--warm`` first reads every month into the stores' caches, as a server that has served every
report would have. Exits 1 when the ratio is above ``--max-ratio``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder

from fieldvisit.demo import build_demo  # noqa: E402
from fieldvisit.models import Household, User  # noqa: E402
from fieldvisit.storage import JOURNAL_SUFFIX, REGISTRY, Store  # noqa: E402
from fieldvisit.visits.fields import checklist  # noqa: E402
from fieldvisit.visits.recording import record_visit  # noqa: E402
from fieldvisit.vocab import GUARANTEES  # noqa: E402

# The demo township's history averages this many visits a month (84,793 in 120 months).
VISITS_PER_MONTH = 706.6
# Coprime with 676 households: consecutive saves go to households all over the township.
STRIDE = 37


def build_folders(parent: Path, history: int) -> tuple[Path, Path, int]:
    """Two data folders with the demo registry and the same half-done current month: one
    with nothing before it, one with ``history`` past visits (approx.) before it. Returns
    them and the exact number of past visits."""
    with_history = parent / "history"
    store = Store(with_history)
    past_months = round(history / VISITS_PER_MONTH)
    # The demo's current month is about half visited (a helping day under way): that is
    # what a save meets in both folders; they differ only in the years behind it.
    info = build_demo(store, months=past_months + 1, today=dt.date.today())
    month = dt.date.today().isoformat()[:7]
    past = info.visits - len(store.visits(month))
    without = parent / "none"
    (without / "visits").mkdir(parents=True)
    # The registry may exist only as its journal until its first fold: copy what there is.
    for name in (REGISTRY, REGISTRY + JOURNAL_SUFFIX):
        if (with_history / name).exists():
            shutil.copy2(with_history / name, without / name)
    shutil.copytree(with_history / "visits" / month, without / "visits" / month)
    return without, with_history, past


class Saver:
    """New visits for this month, the same sequence for every folder."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.households: list[Household] = sorted(
            store.registry().households.values(), key=lambda h: h.id
        )
        self.keys = [i.key for i in checklist(store)]
        self.today = dt.date.today()

    def payload(self, n: int) -> tuple[dict[str, Any], User]:
        household = self.households[(n * STRIDE) % len(self.households)]
        user = self.store.user(household.helpers[0])
        assert user is not None
        needs = [{"category": "medical", "description": "慢性病用药报销", "urgent": False}]
        payload = {
            "id": str(uuid.uuid4()),
            "household": household.id,
            "date": self.today.isoformat(),
            "kind": "in_person",
            "guarantees": dict.fromkeys(GUARANTEES, True),
            "environment": {k: n % 3 != 0 for k in self.keys},
            "helped_clean": n % 3 == 0,
            "needs": needs if n % 5 == 0 else [],  # about as often as in the demo history
            "satisfaction": "satisfied",
            "notes": "院子已打扫，被褥叠放整齐",
        }
        return payload, user

    def save(self, n: int) -> float:
        """Seconds taken by one ``record_visit``."""
        payload, user = self.payload(n)
        start = time.perf_counter()
        _visit, created = record_visit(self.store, payload, user, self.today)
        elapsed = time.perf_counter() - start
        assert created
        return elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    folders: dict[str, Path], repeat: int, warmup: int, warm: bool
) -> dict[str, list[float]]:
    savers = {name: Saver(Store(path)) for name, path in folders.items()}
    if warm:  # a server that has served every report since it started: all history cached
        for saver in savers.values():
            for month in saver.store.months():
                saver.store.visits(month)
                saver.store.needs(month)
    names = list(savers)
    times: dict[str, list[float]] = {name: [] for name in names}
    for n in range(warmup):
        for name in names:
            savers[name].save(n)
    for i in range(repeat):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(savers[name].save(warmup + i))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=85_000, help="past visits (approx.)")
    parser.add_argument("--repeat", type=int, default=200, help="measured saves per folder")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured saves per folder")
    parser.add_argument("--max-ratio", type=float, default=1.5)
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the data folders")
    parser.add_argument("--warm", action="store_true", help="read all history before saving")
    args = parser.parse_args(argv)
    if not (1 <= args.repeat <= 100_000 and 0 <= args.warmup <= 10_000):
        parser.error("--repeat must be 1..100000 and --warmup 0..10000")
    if not 0 <= args.history <= 10_000_000:
        parser.error("--history must be 0..10000000")

    parent = Path(tempfile.mkdtemp(prefix="fieldvisit-bench-", dir=args.dir))
    try:
        print(f"building the demo township with ~{args.history:,} past visits in {parent} …")
        start = time.perf_counter()
        without, with_history, visits = build_folders(parent, args.history)
        print(f"  {visits:,} past visits in {time.perf_counter() - start:.0f} s")
        # The build's garbage must not be collected during the measured saves.
        gc.collect()
        folders = {"none": without, "history": with_history}
        times = measure(folders, args.repeat, args.warmup, args.warm)
    finally:
        if args.keep:
            print(f"data folders kept in {parent}")
        else:
            shutil.rmtree(parent, ignore_errors=True)

    none, hist = times["none"], times["history"]
    ratio = statistics.median(hist) / statistics.median(none)
    cache = "all history cached" if args.warm else "fresh stores"
    print(f"\nsaving one visit (record_visit), {args.repeat} saves each, interleaved, {cache}")
    print(f"  {'':24} {'median':>9} {'p95':>9}")
    for label, values in (("no history", none), (f"{visits:,} past visits", hist)):
        median, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
        print(f"  {label:24} {median:6.2f} ms {p95:6.2f} ms")
    verdict = "ok" if ratio <= args.max_ratio else "TOO SLOW"
    print(f"  ratio history/none: {ratio:.2f} (target ≤ {args.max_ratio}) {verdict}")
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
