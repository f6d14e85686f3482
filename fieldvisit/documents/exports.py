"""The month's visits as a spreadsheet for the township office: .xlsx or .csv.

One row per stored visit (household, village, helper, date, kind, every guarantee and
checklist item, needs, satisfaction, notes), Chinese headers, the header row frozen. The ID
number is never exported: the file is mailed around and printed.

The workbook adds the month's figures (汇总, 未入户走访户) from ``figures.month_figures``,
the same numbers the monthly PDF prints, so the office can hand either on.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from ..collation import in_household_order
from ..figures.frozen import MonthSource, month_source
from ..figures.month import MonthFigures, month_figures
from ..models import Visit
from ..storage import Store, atomic_write_bytes
from ..visits.fields import checklist
from ..vocab import GUARANTEES, NEED_CATEGORIES, SATISFACTION, VISIT_KINDS
from .monthly import check_report_month, check_village, month_label
from .naming import scope_names, scope_parts
from .plates import group_label
from .sheets import cell_value

FORMATS = ("xlsx", "csv")
VISITS_SHEET = "走访记录"
SUMMARY_SHEET = "汇总"
MISSING_SHEET = "未入户走访户"
BASE_COLUMNS = [
    "户编号",
    "村",
    "组",
    "户主",
    "帮扶责任人",
    "帮扶责任人电话",
    "走访日期",
    "走访方式",
]
TAIL_COLUMNS = ["帮助清扫", "诉求", "满意度", "备注", "录入人"]
# Kept as text: Excel would show 4117210010001 as 4.11721E+12 and drop a phone's digits.
TEXT_COLUMNS = frozenset({"户编号", "帮扶责任人电话"})
# A cell starting with one of these is a formula to Excel and WPS: never run what a helper
# typed into the notes.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
YES, NO, NOT_APPLICABLE = "是", "否", "不适用"


class Share(float):
    """A share from 0 to 1, written as a number formatted as a percentage."""


def visit_columns(store: Store, source: MonthSource | None = None) -> list[str]:
    """The header row: fixed columns, each guarantee, each checklist item (of ``source``'s
    month; today's checklist by default), then the rest."""
    items = [item.label for item in (source.checklist() if source else checklist(store))]
    return [*BASE_COLUMNS, *GUARANTEES.values(), *items, *TAIL_COLUMNS]


def _flag(value: bool | None, missing: str = "") -> str:
    if value is None:
        return missing
    return YES if value else NO


def _needs_text(visit: Visit) -> str:
    return "；".join(
        f"{NEED_CATEGORIES.get(n['category'], n['category'])}：{n['description']}"
        + ("（紧急）" if n.get("urgent") else "")
        for n in visit.needs
    )


def visit_rows(
    store: Store,
    month: str,
    village: str | None = None,
    source: MonthSource | None = None,
    township: str | None = None,
) -> list[list[Any]]:
    """One row per visit of ``month`` (optionally one village, or one township), in the columns of
    ``visit_columns``, ordered by village, group, household and date; households, helpers
    and villages as the month's registry has them (``frozen.month_source``)."""
    src = source or month_source(store, month)
    reg = src.registry
    keys = [item.key for item in src.checklist()]
    visits = [
        v
        for v in src.visits(month, village)
        if township is None
        or ((h := reg.households.get(v.household)) is not None and h.township == township)
    ]
    order = {h.id: i for i, h in enumerate(in_household_order(list(reg.households.values())))}
    visits = sorted(
        visits, key=lambda v: (order.get(v.household, len(order)), v.date, v.created_at)
    )
    rows = []
    for v in visits:
        h = reg.households.get(v.household)
        helper = reg.users.get(v.helper)
        recorder = reg.users.get(v.recorded_by)
        in_person = v.kind == "in_person"
        rows.append(
            [
                v.household,
                src.village_of(v.household, v.village),
                group_label(h.group) if h else "",
                h.head if h else "",
                helper.name if helper else "",
                v.helper,
                date.fromisoformat(v.date),
                VISIT_KINDS.get(v.kind, v.kind),
                *(_flag(v.guarantees.get(k)) for k in GUARANTEES),
                # Not applicable only means something when the helper was inside.
                *(_flag(v.environment.get(k), NOT_APPLICABLE if in_person else "") for k in keys),
                _flag(v.helped_clean) if in_person else "",
                _needs_text(v),
                SATISFACTION.get(v.satisfaction, ""),
                v.notes,
                recorder.name if recorder else v.recorded_by,
            ]
        )
    return rows


def summary_rows(figures: MonthFigures, township: str) -> list[list[Any]]:
    """The month's figures as label/value rows, then the completion table by village."""
    township, village = scope_names(township, figures.village)
    scope = village or "全镇"
    rows: list[list[Any]] = [
        [f"{township}{village}{month_label(figures.month)}帮扶走访汇总"],
        [],
        ["项目", "数值"],
        ["登记户数", figures.households],
        ["登记人数", figures.people],
        ["本月已入户走访户数", figures.visited],
        ["本月未入户走访户数", figures.households - figures.visited],
        ["其中仅尝试户数", figures.attempted],
        ["入户走访完成率", Share(figures.rate)],
        ["上月入户走访户数", figures.previous_visited],
        ["上月完成率", Share(figures.previous_rate)],
    ]
    for code, label in GUARANTEES.items():
        rows.append([f"{label}未达标户数", len(figures.guarantee_gaps[code])])
    for item in figures.environment:
        rows.append([f"人居环境：{item.label}合格率", Share(item.rate)])
    rows.append(["人居环境三项及以上不合格户数", len(figures.failing_environment)])
    for code, label in NEED_CATEGORIES.items():
        rows.append([f"本月新提诉求：{label}", figures.needs_raised[code]])
    for bucket, count in figures.open_needs_by_age.items():
        rows.append([f"未销号诉求：已等待{bucket}天", count])
    rows.append(["本月销号诉求", figures.needs_resolved])
    for code, label in SATISFACTION.items():
        rows.append([f"满意度：{label}", figures.satisfaction[code]])
    rows += [
        [],
        [f"{scope}分村完成情况"],
        ["村", "户数", "人数", "已入户走访", "仅尝试", "未入户走访", "完成率"],
    ]
    for row in sorted(figures.by_village, key=lambda r: (r.rate, r.village)):
        rows.append(
            [
                row.village,
                row.households,
                row.people,
                row.visited,
                row.attempted,
                row.not_visited,
                Share(row.rate),
            ]
        )
    return rows


def missing_rows(figures: MonthFigures) -> list[list[Any]]:
    header = ["村", "组", "户主", "户编号", "本月情况", "帮扶责任人", "联系电话"]
    rows: list[list[Any]] = [header]
    by_id = {m.household.id: m for m in figures.not_visited}
    for h in in_household_order([m.household for m in figures.not_visited]):
        m = by_id[h.id]
        last = figures.latest.get(h.id)
        state = f"仅{VISIT_KINDS[last.kind]}" if m.attempted and last else "未走访"
        rows.append(
            [
                h.village,
                group_label(h.group),
                h.head,
                h.id,
                state,
                "、".join(u.name for u in m.helpers),
                "、".join(u.phone for u in m.helpers),
            ]
        )
    return rows


# --- writing --------------------------------------------------------------------------------


def _display_width(value: Any) -> int:
    text = value.isoformat() if isinstance(value, date) else str(value if value is not None else "")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _widths(header: list[str], rows: Iterable[list[Any]]) -> list[int]:
    widths = [_display_width(h) for h in header]
    for row in rows:
        widths = [max(w, _display_width(v)) for w, v in zip(widths, row, strict=False)]
    return [min(max(w + 2, 6), 50) for w in widths]


def _sheet(
    book: Any, title: str, header: list[str] | None, rows: list[list[Any]], text: set[int]
) -> None:
    """A write-only sheet: bold frozen header, widths fitted to the content, dates as dates,
    and every string a string (a note starting with "=" is not a formula)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title)
    body = rows if header is None else [header, *rows]
    for index, width in enumerate(_widths(body[0] if body else [], body), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    if header is not None:
        sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    for number, row in enumerate(body):
        cells = []
        for column, value in enumerate(row):
            cell = WriteOnlyCell(sheet, value=cell_value(value))
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl would take "=..." for a formula
            if isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            if isinstance(value, Share):
                cell.number_format = "0.0%"
            if column in text:
                cell.number_format = "@"
            if header is not None and number == 0:
                cell.font = bold
            cells.append(cell)
        sheet.append(cells)


def _csv_safe(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Share):
        return f"{value * 100:.1f}%"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # what OWASP advises for CSV opened in a spreadsheet
    return "" if value is None else value


def export_visits_bytes(
    store: Store,
    month: str,
    fmt: str,
    village: str | None = None,
    today: date | None = None,
    township: str | None = None,
) -> tuple[bytes, int]:
    """The month's visits as .xlsx (with the summary sheets) or .csv (visits only, UTF-8 with
    a BOM so that Excel reads the Chinese), and the number of visits in it: the registry's,
    one ``township``'s or one village's (by its key).

    Needs an application context (the township's name). Raises ReportError for a bad month
    or village.
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {FORMATS}, not {fmt!r}")
    month = check_report_month(month, today)
    src = month_source(store, month)
    village = check_village(store, village, src.registry, township)
    header = visit_columns(store, src)
    rows = visit_rows(store, month, village, src, township)
    if fmt == "csv":
        text_buffer = io.StringIO(newline="")
        writer = csv.writer(text_buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([_csv_safe(v) for v in row] for row in rows)
        return text_buffer.getvalue().encode("utf-8-sig"), len(rows)

    from openpyxl import Workbook

    figures = month_figures(store, month, village, today=today, source=src, township=township)
    book = Workbook(write_only=True)
    text = {i for i, name in enumerate(header) if name in TEXT_COLUMNS}
    _sheet(book, VISITS_SHEET, header, rows, text)
    _sheet(book, SUMMARY_SHEET, None, summary_rows(figures, township or src.township()), set())
    missing = missing_rows(figures)
    _sheet(book, MISSING_SHEET, missing[0], missing[1:], {3, 6})
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), len(rows)


def export_visits(
    store: Store,
    month: str,
    path: Path,
    village: str | None = None,
    today: date | None = None,
    township: str | None = None,
) -> int:
    """Write the month's visits to ``path`` (.xlsx or .csv, by its suffix); the number of
    visits written. Raises ValueError for another suffix, ReportError for a bad month or
    village."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"export to a .xlsx or .csv file, not {path.name!r}")
    payload, count = export_visits_bytes(store, month, fmt, village, today, township)
    atomic_write_bytes(path, payload)
    return count


def export_filename(month: str, village: str | None, fmt: str, township: str = "") -> str:
    """``走访记录-2026-11.xlsx`` (``走访记录-2026-11-聂河村.xlsx`` for a village): the month in
    digits sorts the files of a year in order in any folder. A single township is not named:
    its office knows whose records they are; a county's township is
    (``走访记录-2026-11-城关镇-王庄村.xlsx``)."""
    return "-".join(["走访记录", month, *scope_parts(township, village)]) + f".{fmt}"
