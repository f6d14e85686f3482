"""The monthly summary (月度帮扶走访汇总): a PDF for the township, or for one village.

Every number comes from ``figures.month_figures``, the function behind the Excel export and
the dashboard too, so the printed summary and the spreadsheet cannot disagree. This module
only chooses what to show and in which order; ``templates/pdf/monthly.html`` lays it out.

The PDF is always Chinese, whatever language the person asking for it reads: it is filed
and sent up to the county. So the template takes the vocabularies' Chinese labels directly
and never goes through the message catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup

from ..collation import in_household_order, sort_villages
from ..figures.county import county_townships, is_county
from ..figures.frozen import MonthSource, month_source
from ..figures.month import (
    HelperRow,
    HouseholdLine,
    MissingHousehold,
    MonthFigures,
    VillageRow,
    completion_rows,
    household_lines,
    month_figures,
    rate,
    too_early_message,
)
from ..figures.targets import Targets
from ..models import Household, Village
from ..months import FIRST_MONTH, check_month, month_bounds, previous_month, this_month
from ..storage import Registry, Store
from ..vocab import (
    ATTRIBUTES,
    CAUSES,
    GUARANTEES,
    MONTH_STATES,
    NEED_CATEGORIES,
    SATISFACTION,
    STATUSES,
    VISIT_KINDS,
)
from . import pdf
from .charts import Bar, bar_chart
from .naming import scope_parts
from .plates import group_label

TEMPLATE = "pdf/monthly.html"


class ReportError(ValueError):
    """A report cannot be made as asked; the message is for the person who asked."""


def not_a_month_message(written: str) -> str:
    """Why ``written``, a month as someone wrote it in a form or a command, is not one."""
    return _("月份应写成 年-月，例如 2026-11：%(month)s", month=written)


def check_report_month(month: str, today: date | None = None) -> str:
    """``month`` as YYYY-MM, not after ``today``'s month (a report of a month to come would
    only be a page of zeros)."""
    try:
        month = check_month(month.strip())
    except ValueError:
        raise ReportError(not_a_month_message(month)) from None
    if month > this_month(today):
        raise ReportError(_("%(month)s 还没有到，没有可统计的走访", month=month))
    if month < FIRST_MONTH:
        raise ReportError(too_early_message(month))
    return month


def check_village(
    store: Store, village: str | None, reg: Registry | None = None, township: str | None = None
) -> str | None:
    """``village`` (a key: ``models.village_key``) if the registry (``reg``: the month's,
    ``frozen.registry_for``; today's by default) has households there, in ``township`` when
    one is given (None stays None: the township, or the county)."""
    reg = reg or store.registry()
    if not village:
        if not reg.households:
            raise ReportError(_("还没有登记任何户"))
        return None
    if not any(
        h.village_key == village and township in (None, h.township) for h in reg.households.values()
    ):
        raise ReportError(_("没有名为“%(village)s”的村，或该村没有登记户", village=village))
    return village


def check_township(reg: Registry, township: str | None) -> str | None:
    """``township`` if the registry has households there; None for none asked (every
    township)."""
    if not township:
        return None
    if township not in county_townships(reg):
        raise ReportError(_("名册里没有乡镇“%(name)s”", name=township))
    return township


# --- formatting, shared by the PDFs and the workbook ------------------------------------


def number(value: int) -> str:
    """1178 -> "1,178", as the township's own tables write counts."""
    return f"{value:,}"


def percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def change_text(change: float, short: bool = False) -> str:
    """A change of completion in percentage points, in words: a sign or a colour would not
    survive a photocopy. ``short`` leaves out the unit."""
    points = round(change * 100, 1)
    unit = "" if short else " 个百分点"
    if points > 0:
        return f"上升 {points:.1f}{unit}"
    if points < 0:
        return f"下降 {-points:.1f}{unit}"
    return "持平"


def month_label(month: str) -> str:
    year, mon = month.split("-")
    return f"{year}年{int(mon)}月"


def time_label(at: str) -> str:
    """An ISO time stamp as "2026年12月2日 10:30"."""
    return f"{date_label(at[:10])} {at[11:16]}".strip()


def closing_notes(record: dict[str, Any] | None) -> list[str]:
    """What a report says of its month's closing (``closing``): closed, and when; or
    reopened; and every reopening with its reason. Chinese, like the rest of the PDF."""
    if not record:
        return []
    notes = []
    if record.get("state") == "closed":
        notes.append(
            f"本月已于 {time_label(str(record.get('closed_at', '')))} 关账，按关账时的名册统计"
        )
    else:
        notes.append("本月关账后已重新打开，按当前名册统计")
    for again in record.get("reopenings", []):
        at, reason = time_label(str(again.get("at", ""))), again.get("reason", "")
        notes.append(f"本月曾于 {at} 重新打开：原因 {reason}")
    return notes


def date_label(day: date | str) -> str:
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{day.year}年{day.month}月{day.day}日"


def day_label(day: str) -> str:
    """ "2026-09-03" -> "9月3日", where the year is printed elsewhere on the page."""
    return f"{int(day[5:7])}月{int(day[8:10])}日"


def chinese_labels() -> dict[str, dict[str, str]]:
    """The vocabularies by name, in Chinese, for templates that must not be translated."""
    return {
        "attributes": ATTRIBUTES,
        "causes": CAUSES,
        "statuses": STATUSES,
        "guarantees": GUARANTEES,
        "needs": NEED_CATEGORIES,
        "satisfaction": SATISFACTION,
        "kinds": VISIT_KINDS,
        "states": MONTH_STATES,
    }


def formatting() -> dict[str, object]:
    return {
        "number": number,
        "percent": percent,
        "change_text": change_text,
        "month_label": month_label,
        "date_label": date_label,
        "day_label": day_label,
        "group_label": group_label,
        "zh": chinese_labels(),
    }


# --- the report -------------------------------------------------------------------------


@dataclass
class MonthlyReport:
    """Everything the monthly template shows."""

    figures: MonthFigures
    township: str
    as_of: date | None  # the day the figures stop at, while the month is under way
    previous_known: bool  # last month has visits, so "the change" means something
    completion: list[VillageRow]  # by village, or by group (组) in a village's report
    chart: Markup
    not_visited: list[MissingHousehold]
    helpers_behind: list[HelperRow]
    helpers_done: list[HelperRow]
    heads: dict[str, Household]  # 户编号 -> household, for names in the helper table
    names: dict[str, str]  # helper phone -> name
    villages: dict[str, Village]
    lines: list[HouseholdLine] = field(default_factory=list)  # a village's report only
    generated: str = ""
    # The township's completion target: 未完成 and the hatched bars mean "below it", as on
    # the dashboard.
    targets: Targets = field(default_factory=Targets)
    notes: list[str] = field(default_factory=list)  # the month's closing (closing_notes)

    @property
    def last_day(self) -> date:
        """The month's last day, printed as the end of a finished month's period: "至月末"
        leaves the reader to count whether November has 30 days."""
        return month_bounds(self.figures.month)[1]


def completion_chart(rows: Iterable[tuple[str, int, int]], rules: Targets) -> Markup:
    """A bar per (label, visited, households): a township's villages, a county's
    townships. Hatched: below the completion target (``rules``)."""
    bars = [
        Bar(
            label=label,
            value=rate(visited, households),
            text=f"{visited}/{households}  {percent(rate(visited, households))}",
            below_target=rules.below(visited, households),
        )
        for label, visited, households in rows
    ]
    # charts.py builds the SVG from numbers and escaped text only.
    return Markup(bar_chart(bars, width=640))


def build_monthly_report(
    store: Store,
    month: str,
    village: str | None = None,
    today: date | None = None,
    *,
    source: MonthSource | None = None,
    township: str | None = None,
) -> MonthlyReport:
    """The month's figures for the township (or one village, or one ``township`` of a county)
    in the report's order, from ``frozen.month_source`` (or ``source``). ReportError: bad
    month or village."""
    today = today or date.today()
    month = check_report_month(month, today)
    reg = (src := source or month_source(store, month)).registry
    village = check_village(store, village, reg)
    figures = month_figures(store, month, village, today=today, source=src, township=township)
    rules = src.targets()
    _first, last = month_bounds(month)

    if village is None:
        order = {
            name: i for i, name in enumerate(sort_villages({r.village for r in figures.by_village}))
        }
        completion = sorted(figures.by_village, key=lambda r: (r.rate, order[r.village]))
    else:
        scoped = in_household_order(
            [h for h in reg.households.values() if h.village_key == village]
        )
        completion = completion_rows(scoped, figures.states, lambda h: group_label(h.group) or "—")
    missing = {m.household.id: m for m in figures.not_visited}
    lines: list[HouseholdLine] = []
    if village is not None:
        lines = household_lines(store, figures)
        order = {h.id: i for i, h in enumerate(in_household_order([x.household for x in lines]))}
        lines.sort(key=lambda line: order[line.household.id])
    return MonthlyReport(
        figures=figures,
        township=township or src.township(),
        as_of=today if today < last else None,
        previous_known=(
            src.frozen.pins.previous_known
            if src.frozen is not None
            else previous_month(month) in store.months()
        ),
        completion=completion,
        chart=completion_chart([(r.village, r.visited, r.households) for r in completion], rules),
        not_visited=[
            missing[h.id] for h in in_household_order([m.household for m in missing.values()])
        ],
        helpers_behind=[r for r in figures.by_helper if r.missing],
        helpers_done=[r for r in figures.by_helper if not r.missing],
        heads={hid: reg.households[hid] for r in figures.by_helper for hid in r.missing},
        names={phone: user.name for phone, user in reg.users.items()},
        villages=reg.villages,
        lines=lines,
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
        targets=rules,
        notes=closing_notes(src.record),
    )


def monthly_report_html(report: MonthlyReport) -> str:
    """The report as HTML for WeasyPrint. Needs an application context."""
    return render_template(
        TEMPLATE, report=report, f=report.figures, **formatting(), **pdf.pdf_context()
    )


def monthly_report_pdf(
    store: Store,
    month: str,
    village: str | None = None,
    today: date | None = None,
    *,
    source: MonthSource | None = None,
    township: str | None = None,
) -> bytes:
    """The monthly summary as an A4 PDF: a village's, one township's, or (neither asked) the
    whole registry's: the township's, or a county's summary (``documents.county``) when the
    registry spans several townships. Needs an application context; raises ReportError."""
    if village is None and township is None:
        src = source or month_source(store, check_report_month(month, today))
        if is_county(src.registry):
            from .county import county_report_pdf  # it builds on this module

            return county_report_pdf(store, month, today, source=src)
        source = src
    report = build_monthly_report(store, month, village, today, source=source, township=township)
    return pdf.render_pdf(monthly_report_html(report))


def report_filename(township: str, month: str, village: str | None) -> str:
    """What the office's file is called: 示范镇-聂河村-2026年11月帮扶走访汇总.pdf."""
    return "-".join([*scope_parts(township, village), f"{month_label(month)}帮扶走访汇总"]) + ".pdf"
