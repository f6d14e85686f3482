"""How long do the monthly PDFs take for the demo township, and where does the time go?

Prints, for the township's monthly summary (the last complete month and the current one,
half visited) the median time of ``--repeat`` builds, and for the whole township's booklet
(676 households, one build) its time; for each, the share of the time spent outside
WeasyPrint's own rendering (gathering figures, charts, templates, joining the parts) and the
peak memory of the process.

Each measurement runs in a fresh process (``--case``), so that one's memory does not count
in another's peak. WeasyPrint's time is the time spent in ``fieldvisit.pdf.render_document``,
which does nothing but lay out and write the document.

Targets (exit 1 when one is missed): summary under 8 s, booklet under 120 s, peak memory
under 1 GB, time outside WeasyPrint at most 25 %.

Run: ``.venv/bin/python bench/bench_reports.py [--months 3] [--repeat 5] [--part-size N]``.
``--months 12`` gives every household a year of visits (the booklet a December office
prints); the default is the demo township as ``seed-demo`` builds it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import resource
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

from fieldvisit.documents.booklet import PART_SIZE  # noqa: E402

SUMMARY_SECONDS = 8.0
BOOKLET_SECONDS = 120.0
PEAK_MB = 1024
MAX_OVERHEAD = 0.25


class WeasyClock:
    """Wraps ``pdf.render_document`` and adds up the time spent in it."""

    def __init__(self) -> None:
        from fieldvisit.documents import pdf

        self.seconds = 0.0
        self._real = pdf.render_document
        pdf.render_document = self._timed  # type: ignore[assignment]

    def _timed(self, html: str) -> Any:
        start = time.perf_counter()
        try:
            return self._real(html)
        finally:
            self.seconds += time.perf_counter() - start


def _pages(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement, in this process; returns its figures."""
    from fieldvisit import create_app
    from fieldvisit.documents.booklet import booklet_pdf
    from fieldvisit.documents.monthly import monthly_report_pdf
    from fieldvisit.documents.pdf import render_document
    from fieldvisit.storage.current import get_store

    app = create_app({"DATA_DIR": str(args.data), "SECRET_KEY": "bench"})
    with app.app_context():
        store = get_store()
        render_document("<p>预热</p>")  # load WeasyPrint and the font once, as a server has
        clock = WeasyClock()
        if args.case == "summary":
            times, weasy, pages, size = [], [], 0, 0
            for _ in range(args.repeat):
                clock.seconds = 0.0
                start = time.perf_counter()
                data = monthly_report_pdf(store, args.month)
                times.append(time.perf_counter() - start)
                weasy.append(clock.seconds)
                size = len(data)
            median = statistics.median(times)
            share = statistics.median((t - w) / t for t, w in zip(times, weasy, strict=True))
            pages = _pages(data)
            return {
                "seconds": median,
                "overhead": share,
                "peak_mb": _peak_mb(),
                "pages": pages,
                "bytes": size,
                "runs": [round(t, 2) for t in times],
            }
        start = time.perf_counter()
        data = booklet_pdf(store, args.year, part_size=args.part_size)
        total = time.perf_counter() - start
        return {
            "seconds": total,
            "overhead": (total - clock.seconds) / total,
            "peak_mb": _peak_mb(),
            "pages": _pages(data),
            "bytes": len(data),
        }


def _child(data: Path, case: str, **options: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--case", case, "--data", str(data)]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=3, help="months of demo history")
    parser.add_argument(
        "--repeat", type=int, default=5, help="summary builds to take the median of"
    )
    parser.add_argument("--part-size", type=int, default=PART_SIZE, help="households per part")
    parser.add_argument("--dir", type=Path, default=None, help="where to build the demo")
    parser.add_argument("--case", choices=["summary", "booklet"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--month", help=argparse.SUPPRESS)
    parser.add_argument("--year", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args)))
        return 0

    from fieldvisit import create_app
    from fieldvisit.demo import build_demo
    from fieldvisit.months import month_of, previous_month
    from fieldvisit.storage import Store

    parent = Path(tempfile.mkdtemp(prefix="fieldvisit-bench-", dir=args.dir))
    try:
        data = parent / "data"
        today = dt.date.today()
        with create_app({"DATA_DIR": str(data), "SECRET_KEY": "bench"}).app_context():
            info = build_demo(Store(data), months=args.months, today=today)
        print(
            f"demo township: {info.households} households, {info.visits} visits "
            f"in {args.months} months up to {today.isoformat()}"
        )
        this_month = month_of(today)
        results = []
        for label, month in (
            ("last month", previous_month(this_month)),
            ("this month", this_month),
        ):
            figures = _child(data, "summary", month=month, repeat=args.repeat)
            results.append((f"township summary, {label} ({month})", figures, SUMMARY_SECONDS))
        figures = _child(data, "booklet", year=today.year, part_size=args.part_size)
        results.append(
            (f"booklet {today.year}, {info.households} households", figures, BOOKLET_SECONDS)
        )
    finally:
        shutil.rmtree(parent, ignore_errors=True)

    missed = []
    for name, figures, limit in results:
        print(
            f"{name}: {figures['seconds']:.2f} s ({figures['pages']} pages, "
            f"{figures['bytes'] / 1024:.0f} KB); outside WeasyPrint "
            f"{figures['overhead'] * 100:.1f} %; peak memory {figures['peak_mb']:.0f} MB"
            + (f"; runs {figures['runs']}" if "runs" in figures else "")
        )
        if figures["seconds"] >= limit:
            missed.append(f"{name}: {figures['seconds']:.1f} s ≥ {limit:.0f} s")
        if figures["overhead"] > MAX_OVERHEAD:
            missed.append(f"{name}: {figures['overhead'] * 100:.0f} % outside WeasyPrint")
        if figures["peak_mb"] >= PEAK_MB:
            missed.append(f"{name}: peak {figures['peak_mb']:.0f} MB")
        if "summary" in name and figures["bytes"] >= 1_000_000:
            missed.append(f"{name}: {figures['bytes']} bytes ≥ 1 MB")
    for line in missed:
        print(f"MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
