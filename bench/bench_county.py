"""A county on one server: the figures of the issue "From a township to a county", measured
on the demo county (``seed-demo --townships 20``: the reference township twenty times over,
13,520 households, villages repeating their names, three months of history).

Measured, in-process through Flask's test client (no network), logged in as the county's
office: the dashboard of the whole county (bytes, median time), ``GET /api/v1/completion``
(bytes, median time), one township's dashboard, both again just after a visit is saved (the
figures kept between requests made afresh, as all through a helping day), searching the
county's households (the office's list with ``q=``, and the search function alone),
importing the county's registry (13,520 rows, .xlsx) into an empty folder, and with
``--summary`` the county's monthly summary PDF and every township's report zipped
(``--all-townships``), each in a child process (pages, time, peak memory from VmHWM).

Run: ``.venv/bin/python bench/bench_county.py [--townships 20] [--summary]``. Exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder

from fieldvisit import create_app  # noqa: E402
from fieldvisit.demo.county import build_county  # noqa: E402
from fieldvisit.demo.township import ADMIN, DEMO_PASSWORD  # noqa: E402
from fieldvisit.vocab import GUARANTEES  # noqa: E402

TARGETS = {"dashboard_kb": 300, "dashboard_s": 0.5, "completion_s": 1.0, "import_s": 15.0}
SEARCH_MS = 100
# The county's summary; the zip of every township's report is held to the same memory.
SUMMARY = {"pages": 60, "seconds": 90, "peak_mb": 1024}


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


def _after_saves(app: Any, store: Any, client: Any, url: str, times: int = 5) -> float:
    """The median time of ``url`` just after a visit is saved: the figures kept between
    requests are made again (a helping day, when visits keep coming in)."""
    from fieldvisit.months import this_month
    from fieldvisit.visits.fields import checklist
    from fieldvisit.visits.recording import month_states, record_visit

    month = this_month()
    states = month_states(store, month)
    reg = store.registry()
    todo = [h for h in reg.households.values() if states[h.id] != "visited" and h.helpers]
    spent = []
    with app.test_request_context():
        keys = [item.key for item in checklist(store)]
        for household in todo[:times]:
            payload = {
                "id": str(uuid.uuid4()),
                "household": household.id,
                "date": time.strftime("%Y-%m-%d"),
                "kind": "in_person",
                "guarantees": dict.fromkeys(GUARANTEES, True),
                "environment": dict.fromkeys(keys, True),
                "satisfaction": "satisfied",
                "helper": household.helpers[0],
            }
            record_visit(store, payload, reg.users[ADMIN[0]])
            start = time.perf_counter()
            client.get(url)
            spent.append(time.perf_counter() - start)
    return statistics.median(spent)


def _edit_time(app: Any, store: Any, times: int = 3) -> float:
    """The median time of the office's edit of one household (a new phone): one registry
    write at a county's size."""
    from fieldvisit.households.office import EDITABLE, edit_household

    spent = []
    with app.test_request_context():
        for number, hid in enumerate(sorted(store.registry().households)[:times]):
            household = store.household(hid)
            form = {name: str(getattr(household, name) or "") for name in EDITABLE}
            form.update(id_number="", long_absent="1" if household.long_absent else "")
            form["phone"] = f"1390000{number:04d}"
            start = time.perf_counter()
            edit_household(store, hid, form, actor=ADMIN[0])
            spent.append(time.perf_counter() - start)
    return statistics.median(spent)


def _import_time(app: Any, store: Any, folder: Path) -> tuple[float, int]:
    from fieldvisit.registry import export_registry_bytes, import_registry
    from fieldvisit.storage import Store

    with app.app_context():
        data = export_registry_bytes(store, "xlsx")
        blank = Store(folder / "import")
        start = time.perf_counter()
        report = import_registry(blank, data, "county.xlsx", actor="bench")
        return time.perf_counter() - start, len(report.added_ids)


def _summary(
    folder: Path, month: str, *extra: str, out_name: str = "summary.pdf"
) -> dict[str, float]:
    """``monthly-report`` (the county's summary; with ``--all-townships`` every township's
    report, zipped) in a child process: pages (of the PDF, or of every PDF in the zip),
    seconds, peak MB."""
    out = folder / out_name
    code = (
        "import sys,time,os\n"
        "from click.testing import CliRunner\n"
        "from fieldvisit import create_app\n"
        f"app=create_app({{'DATA_DIR':{str(folder / 'data')!r},'SECRET_KEY':'x'}})\n"
        "t=time.perf_counter()\n"
        f"r=app.test_cli_runner().invoke(args=['monthly-report','--month','{month}','--out',"
        f"{str(out)!r},*{list(extra)!r}])\n"
        "print('seconds', time.perf_counter()-t)\n"
        "print(r.output[-300:])\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = float(re.search(r"seconds ([0-9.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", done.stdout).group(1)) / 1024  # type: ignore[union-attr]
    from pypdf import PdfReader

    files: list[bytes] = []
    if out.exists() and out.suffix == ".zip":
        with zipfile.ZipFile(out) as bundle:
            files = [bundle.read(name) for name in bundle.namelist()]
    elif out.exists():
        files = [out.read_bytes()]
    # pypdf: WeasyPrint writes its pages into compressed object streams, out of a regex's reach.
    pages = sum(len(PdfReader(io.BytesIO(data)).pages) for data in files)
    return {"pages": pages, "seconds": seconds, "peak_mb": peak, "files": len(files)}


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
    one = quote(min(h.township for h in store.registry().households.values()))
    township, _page = _timed(lambda: client.get(f"/dashboard?township={one}"), 5)
    board_saved = _after_saves(app, store, client, "/dashboard")
    api_saved = _after_saves(app, store, client, f"/api/v1/completion?month={month}")
    listing, _rows = _timed(lambda: client.get("/office/households?q=wjg"), 5)
    reg = store.registry()
    search, found = _timed(lambda: search_households(reg, "wjg"), 5)
    edited = _edit_time(app, store)
    imported, added = _import_time(app, store, folder)
    print(f"dashboard: {size:.0f} KB, {board:.3f} s warm ({first:.3f} s first)")
    print(f"completion API: {api_kb:.0f} KB, {api:.3f} s")
    print(f"one township's dashboard: {township:.3f} s")
    print(f"just after a visit is saved: dashboard {board_saved:.3f} s,"
          f" completion API {api_saved:.3f} s")  # fmt: skip
    print(f"search 'wjg': {search * 1000:.1f} ms ({len(found)} found);"
          f" /office/households?q=wjg {listing:.3f} s")  # fmt: skip
    print(f"import {added} households: {imported:.1f} s;"
          f" one household's edit (registry write): {edited:.3f} s")  # fmt: skip
    missed = [
        size > TARGETS["dashboard_kb"],
        board > TARGETS["dashboard_s"],
        api > TARGETS["completion_s"],
        board_saved > TARGETS["dashboard_s"],
        api_saved > TARGETS["completion_s"],
        imported > TARGETS["import_s"],
        search * 1000 > SEARCH_MS,
        listing * 1000 > SEARCH_MS,  # the page too: its first page of matches, 50 rows
    ]
    if args.summary:
        figures = _summary(folder, month)
        print(f"county summary: {figures['pages']} pages, {figures['seconds']:.1f} s,"
              f" peak {figures['peak_mb']:.0f} MB")  # fmt: skip
        missed.append(
            figures["pages"] >= SUMMARY["pages"]
            or figures["seconds"] >= SUMMARY["seconds"]
            or figures["peak_mb"] >= SUMMARY["peak_mb"]
        )
        parts = _summary(folder, month, "--all-townships", out_name="townships.zip")
        print(f"every township's report, zipped: {parts['files']:.0f} PDFs,"
              f" {parts['pages']} pages, {parts['seconds']:.1f} s,"
              f" peak {parts['peak_mb']:.0f} MB")  # fmt: skip
        missed.append(parts["peak_mb"] >= SUMMARY["peak_mb"])
    return 1 if any(missed) else 0


if __name__ == "__main__":
    sys.exit(main())
