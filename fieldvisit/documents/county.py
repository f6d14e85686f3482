"""A county's monthly summary (全县月度帮扶走访汇总), and every township's report in a zip.

A county holds about twenty townships and 13,500 households: its summary counts, by
township and then by village, and never lists a household or a helper (that made 251
pages). Each township's detailed report is the township summary of ``documents.monthly``,
made one township at a time (``townships_zip``) so that memory stays that of one township.
The numbers come from ``figures.county_summary``; the headline, needs, satisfaction and
structure tables are the township summary's own (``templates/pdf/_summary.html``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import render_template
from markupsafe import Markup

from ..figures.county import county_townships
from ..figures.county_summary import AreaFigures, CountySummary, county_summary
from ..figures.frozen import MonthSource, month_source
from ..figures.month import MonthFigures
from ..figures.targets import Targets
from ..models import Village
from ..months import month_bounds, previous_month
from ..storage import Store
from . import pdf
from .monthly import (
    check_report_month,
    closing_notes,
    completion_chart,
    formatting,
    month_label,
    monthly_report_pdf,
    report_filename,
)
from .naming import scope_parts

TEMPLATE = "pdf/county.html"
ZIP_MIMETYPE = "application/zip"

Progress = Callable[[int, int], None]  # (townships done, townships in all)


@dataclass
class CountyReport:
    """Everything the county template shows."""

    summary: CountySummary
    county: str  # the deployment's name (the ``township`` setting: the county's)
    as_of: date | None  # the day the figures stop at, while the month is under way
    previous_known: bool
    chart: Markup  # completion by township
    villages: dict[str, Village]  # by key, for 贫困村
    targets: Targets = field(default_factory=Targets)
    generated: str = ""
    notes: list[str] = field(default_factory=list)  # the month's closing

    @property
    def figures(self) -> MonthFigures:
        return self.summary.figures

    @property
    def last_day(self) -> date:
        return month_bounds(self.summary.figures.month)[1]

    @property
    def village_count(self) -> int:
        return sum(len(rows) for rows in self.summary.villages.values())


def build_county_report(
    store: Store, month: str, today: date | None = None, *, source: MonthSource | None = None
) -> CountyReport:
    """The county's month, from ``frozen.month_source`` (or ``source``). ReportError: bad
    month."""
    today = today or date.today()
    month = check_report_month(month, today)
    src = source or month_source(store, month)
    summary = county_summary(store, month, today, source=src)
    rules = src.targets()
    return CountyReport(
        summary=summary,
        county=src.township(),
        as_of=today if today < month_bounds(month)[1] else None,
        previous_known=(
            src.frozen.pins.previous_known
            if src.frozen is not None
            else previous_month(month) in store.months()
        ),
        chart=completion_chart(
            [(t.township, t.visited, t.households) for t in summary.townships], rules
        ),
        villages=src.registry.villages,
        targets=rules,
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
        notes=closing_notes(src.record),
    )


def county_report_html(report: CountyReport) -> str:
    """The county's summary as HTML for WeasyPrint. Needs an application context."""
    return render_template(
        TEMPLATE,
        report=report,
        f=report.figures,
        s=report.summary,
        township_label=township_label,
        **formatting(),
        **pdf.pdf_context(),
    )


def county_report_pdf(
    store: Store, month: str, today: date | None = None, *, source: MonthSource | None = None
) -> bytes:
    """The county's summary as an A4 PDF. Needs an application context; raises
    ReportError."""
    report = build_county_report(store, month, today, source=source)
    return pdf.render_pdf(county_report_html(report))


def township_label(area: AreaFigures) -> str:
    """A township's name as a row shows it ("" = households without one)."""
    return area.township or "（未填乡镇）"


def townships_zip(
    store: Store, month: str, progress: Progress | None = None, today: date | None = None
) -> bytes:
    """Every township's detailed monthly report (``monthly_report_pdf(township=...)``), one
    PDF each named as its own download, in a zip. Made one township at a time: each is
    laid out, compressed into the zip and let go before the next, so memory stays that of
    one township. ``progress(done, total)`` counts townships. Needs an application context;
    raises ReportError."""
    month = check_report_month(month, today)
    src = month_source(store, month)  # one registry for every part, even if it changes
    townships = county_townships(src.registry)
    report = progress or (lambda _done, _total: None)
    report(0, len(townships))
    buffer = io.BytesIO()
    # Stored, not deflated: WeasyPrint's PDFs are compressed already.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as bundle:
        for done, township in enumerate(townships, start=1):
            name = report_filename(township or src.township(), month, None)
            part = monthly_report_pdf(store, month, None, today, source=src, township=township)
            bundle.writestr(name, part)
            del part
            report(done, len(townships))
    return buffer.getvalue()


def townships_zip_filename(county: str, month: str) -> str:
    """The zip's name: 示范县-2026年11月各乡镇帮扶走访汇总.zip."""
    return "-".join([*scope_parts(county), f"{month_label(month)}各乡镇帮扶走访汇总"]) + ".zip"
