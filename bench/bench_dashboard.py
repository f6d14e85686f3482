"""Does the completion dashboard slow down with years of history? Median time of
``GET /dashboard`` (this month, the whole township) with one month of visits and with ten years
(~85,000 visits), and their ratio (the target is at most 2).

Two data folders hold the demo township (676 households, 357 helpers) with the current month
about half visited, as on a helping day: one has only this month, the other the 119 months
before it too. Each is served by its own app through Flask's test client, logged in as the demo
supervisor, so a request pays for everything but the network: the session, the figures, the
charts and the HTML.

* warm: after a few unmeasured requests, ``--repeat`` requests per folder, alternating between
  the folders (and which goes first) so that a noisy machine slows both alike; medians compared.
  This is the target: a server that has been up for a while.
* first: the first request of a freshly started app (``--first`` times, each with a new app and
  so an empty read cache; the files themselves are in the OS cache by then). Printed, not judged.

Run: ``.venv/bin/python bench/bench_dashboard.py [--repeat 30] [--first 3] [--keep]``;
exits 1 when the warm ratio is above ``--max-ratio``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder

from fieldvisit import create_app  # noqa: E402
from fieldvisit.demo import DEMO_PASSWORD, SUPERVISOR, build_demo  # noqa: E402
from fieldvisit.storage import Store  # noqa: E402

FOLDERS = {"one month": 1, "ten years": 120}  # name -> months of demo history
URL = "/dashboard"


def build(parent: Path) -> dict[str, Path]:
    """The demo township in one folder per entry of FOLDERS; returns name -> folder."""
    out = {}
    for name, months in FOLDERS.items():
        folder = parent / f"months-{months}"
        if not (folder / "registry.json").exists():
            start = time.perf_counter()
            app = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "bench"})
            with app.app_context():
                info = build_demo(Store(folder), months=months, today=dt.date.today())
            took = time.perf_counter() - start
            print(f"  {name}: {info.visits:,} visits, built in {took:.0f} s")
        else:
            print(f"  {name}: reusing {folder}")
        out[name] = folder
    return out


def supervisor_client(folder: Path) -> FlaskClient:
    """A fresh app on ``folder`` (empty read cache) and a client logged in as the supervisor."""
    app = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "bench"})
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "the login page has no CSRF token"
    response = client.post(
        "/login",
        data={"phone": SUPERVISOR[0], "password": DEMO_PASSWORD, "csrf_token": match.group(1)},
    )
    assert response.status_code == 302, "the demo supervisor cannot log in"
    return client


def timed_get(client: FlaskClient) -> float:
    """Seconds taken by one GET of the dashboard (which must answer 200)."""
    start = time.perf_counter()
    response = client.get(URL)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    return elapsed


def measure_first(folders: dict[str, Path], times: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in folders}
    for _i in range(times):
        for name, folder in folders.items():
            client = supervisor_client(folder)
            gc.collect()
            out[name].append(timed_get(client))
    return out


def measure_warm(folders: dict[str, Path], repeat: int, warmup: int) -> dict[str, list[float]]:
    clients = {name: supervisor_client(folder) for name, folder in folders.items()}
    names = list(clients)
    for _i in range(warmup):
        for name in names:
            timed_get(clients[name])
    gc.collect()
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeat):
        for name in names if i % 2 == 0 else names[::-1]:
            out[name].append(timed_get(clients[name]))
    return out


def report(title: str, times: dict[str, list[float]]) -> float:
    """Print the medians and return the ratio ten years / one month."""
    one, ten = (statistics.median(times[name]) for name in FOLDERS)
    print(f"\n{title}")
    for name in FOLDERS:
        values = times[name]
        median = statistics.median(values) * 1000
        print(
            f"  {name:10} median {median:8.1f} ms   (min {min(values) * 1000:.1f}, n={len(values)})"
        )
    ratio = ten / one
    print(f"  ratio ten years / one month: {ratio:.2f}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="measured warm requests per folder")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured requests per folder")
    parser.add_argument("--first", type=int, default=3, help="fresh apps per folder, first request")
    parser.add_argument("--max-ratio", type=float, default=2.0)
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the data folders")
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="a folder kept by --keep: build only what is missing",
    )
    args = parser.parse_args(argv)
    if not (1 <= args.repeat <= 10_000 and 0 <= args.warmup <= 1_000 and 0 <= args.first <= 100):
        parser.error("--repeat must be 1..10000, --warmup 0..1000 and --first 0..100")

    parent = args.reuse or Path(tempfile.mkdtemp(prefix="fieldvisit-bench-", dir=args.dir))
    print(f"demo townships in {parent}, this month {dt.date.today().isoformat()[:7]} …")
    try:
        folders = build(parent)
        gc.collect()  # the build's garbage must not be collected during the measurements
        first = measure_first(folders, args.first) if args.first else None
        warm = measure_warm(folders, args.repeat, args.warmup)
    finally:
        if args.keep or args.reuse:
            print(f"data folders kept in {parent} (pass --reuse {parent} to measure again)")
        else:
            shutil.rmtree(parent, ignore_errors=True)

    if first:
        report(f"GET {URL}, first request of a fresh app ({args.first} each)", first)
    ratio = report(f"GET {URL}, warm ({args.repeat} each, interleaved)", warm)
    verdict = "ok" if ratio <= args.max_ratio else "TOO SLOW"
    print(f"  target ≤ {args.max_ratio}: {verdict}")
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
