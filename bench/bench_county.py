"""A county on one server: the figures of the issue "From a township to a county", measured
on the demo county (``seed-demo --townships 20``: the reference township twenty times over,
13,520 households, villages repeating their names, three months of history).

Measured, in-process through Flask's test client (no network), logged in as the county's
office: the dashboard of the whole county (bytes, median time), ``GET /api/v1/completion``
(bytes, median time), searching the county's households (the office's list with ``q=``, and
the search function alone), importing the county's registry (13,520 rows, .xlsx) into an empty
folder, and with ``--summary`` the county's monthly summary PDF in a child process (pages,
time, peak memory from VmHWM).

Run: ``.venv/bin/python bench/bench_county.py [--townships 20] [--summary]``. Exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder

from fieldvisit import create_app  # noqa: E402
from fieldvisit.demo.county import build_county  # noqa: E402
from fieldvisit.demo.township import ADMIN, DEMO_PASSWORD  # noqa: E402

TARGETS = {"dashboard_kb": 300, "dashboard_s": 0.5, "completion_s": 1.0, "import_s": 15.0}
SEARCH_MS = 100


def _timed(call: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _login(client: Any) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token is not None
    data = {"phone": ADMIN[0], "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 302


def _import_time(app: Any, store: Any, folder: Path) -> tuple[float, int]:
    from fieldvisit.registry import export_registry_bytes, import_registry
    from fieldvisit.storage import Store

    with app.app_context():
        data = export_registry_bytes(store, "xlsx")
        blank = Store(folder / "import")
        start = time.perf_counter()
        report = import_registry(blank, data, "county.xlsx", actor="bench")
        return time.perf_counter() - start, len(report.added_ids)


def _summary(folder: Path, month: str) -> dict[str, float]:
    """The county's monthly summary in a child process: pages, seconds, peak MB."""
    out = folder / "summary.pdf"
    code = (
        "import sys,time,os\n"
        "from click.testing import CliRunner\n"
        "from fieldvisit import create_app\n"
        f"app=create_app({{'DATA_DIR':{str(folder / 'data')!r},'SECRET_KEY':'x'}})\n"
        "t=time.perf_counter()\n"
        f"r=app.test_cli_runner().invoke(args=['monthly-report','--month','{month}','--out',"
        f"{str(out)!r}])\n"
        "print('seconds', time.perf_counter()-t)\n"
        "print(r.output[-300:])\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = float(re.search(r"seconds ([0-9.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", done.stdout).group(1)) / 1024  # type: ignore[union-attr]
    pages = 0
    if out.exists():
        pages = len(re.findall(rb"/Type\s*/Page[^s]", out.read_bytes()))
    return {"pages": pages, "seconds": seconds, "peak_mb": peak}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--townships", type=int, default=20)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--summary", action="store_true", help="also the county summary PDF")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-county-", dir=args.dir))
    try:
        return _run(folder, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path, args: argparse.Namespace) -> int:
    from fieldvisit.households.search import search_households
    from fieldvisit.months import this_month

    app = create_app({"DATA_DIR": str(folder / "data"), "SECRET_KEY": "x" * 40})
    store = app.extensions["fieldvisit.store"]
    start = time.perf_counter()
    with app.app_context():
        info = build_county(store, args.townships, months=args.months)
    print(f"county: {info.households} households, {info.visits} visits,"
          f" built in {time.perf_counter() - start:.1f} s")  # fmt: skip
    month = this_month()
    client = app.test_client()
    _login(client)
    first, _page = _timed(lambda: client.get("/dashboard"), 1)
    board, page = _timed(lambda: client.get("/dashboard"), 5)
    size = len(page.get_data()) / 1024
    api, answer = _timed(lambda: client.get(f"/api/v1/completion?month={month}"), 5)
    api_kb = len(answer.get_data()) / 1024
    listing, _rows = _timed(lambda: client.get("/office/households?q=wjg"), 5)
    reg = store.registry()
    search, found = _timed(lambda: search_households(reg, "wjg"), 5)
    imported, added = _import_time(app, store, folder)
    print(f"dashboard: {size:.0f} KB, {board:.3f} s warm ({first:.3f} s first)")
    print(f"completion API: {api_kb:.0f} KB, {api:.3f} s")
    print(f"search 'wjg': {search * 1000:.1f} ms ({len(found)} found);"
          f" /office/households?q=wjg {listing:.3f} s")  # fmt: skip
    print(f"import {added} households: {imported:.1f} s")
    missed = [
        size > TARGETS["dashboard_kb"],
        board > TARGETS["dashboard_s"],
        api > TARGETS["completion_s"],
        imported > TARGETS["import_s"],
        search * 1000 > SEARCH_MS,
    ]
    if args.summary:
        figures = _summary(folder, month)
        print(f"county summary: {figures['pages']} pages, {figures['seconds']:.1f} s,"
              f" peak {figures['peak_mb']:.0f} MB")  # fmt: skip
        missed.append(figures["pages"] >= 60 or figures["seconds"] >= 90)
    return 1 if any(missed) else 0


if __name__ == "__main__":
    sys.exit(main())
