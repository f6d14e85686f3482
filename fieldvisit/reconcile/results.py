"""A comparison's result as the office reads, files and sends it: the lines of each kind,
the workbook (a sheet per kind; for a warning list, the feedback table 核查反馈表) and the
PDF.

ID numbers are masked in everything made here unless ``full_ids`` is asked for, which only
the office's confirmed download does. The workbook and the PDF are Chinese whatever the
reader's language: they are filed and sent to the county.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..documents.sheets import cell_value, keep_text_as_text
from ..households.lookup import township_name
from ..idcard import mask_id_number
from ..models import Check, Comparison, Difference
from ..storage import Registry, Store
from . import scope, terms
from .warnings import is_overdue

STATUS_WORDS = {
    "open": "未处理",
    "sent": "待帮扶责任人核实",
    "gone": "已一致",
    "taken": "已采用部门数据",
    "explained": "已说明",
    "checked": "帮扶责任人核实：名册正确",
}
CHECK_STATES = {"open": "未核查", "overdue": "已逾期", "done": "已核查"}
DIFFERENCE_HEADERS = (
    "序号", "村", "户编号", "户主", "姓名", "身份证号", "花名册", "部门名单", "状态", "说明",
)  # fmt: skip
FEEDBACK_HEADERS = (
    "序号", "姓名", "身份证号", "户编号", "村", "户主", "预警类型", "预警内容", "推送日期",
    "核查期限", "核查状态", "核查结果", "采取的措施", "备注", "核查人", "核查日期",
)  # fmt: skip


def status_words(d: Difference) -> str:
    return STATUS_WORDS[d.settlement] if d.status == "settled" else STATUS_WORDS[d.status]


def check_state(check: Check, today: date) -> str:
    if is_overdue(check, today):
        return "overdue"
    return check.status


@dataclass(frozen=True)
class Line:
    """A difference with what the office needs to read it."""

    difference: Difference
    village: str
    head: str
    shown_id: str  # masked unless asked otherwise

    @property
    def status(self) -> str:
        return status_words(self.difference)


def _line(reg: Registry, d: Difference, full_ids: bool) -> Line:
    household = reg.households.get(d.household)
    shown = d.id_number if full_ids else mask_id_number(d.id_number)
    return Line(
        d, household.village if household else "", household.head if household else "", shown
    )


def lines_of(
    reg: Registry,
    comparison: str | None = None,
    full_ids: bool = False,
    open_only: bool = False,
    township: str | None = None,
) -> dict[str, list[Line]]:
    """The differences found by ``comparison`` (any, with None) within ``township`` (``scope``;
    None: every township's), by kind in the five kinds' order, each kind by village and
    household."""
    out: dict[str, list[Line]] = {kind: [] for kind in terms.KINDS}
    for d in scope.differences(reg, township):
        if comparison is not None and comparison not in d.seen_in:
            continue
        if open_only and d.status not in ("open", "sent"):
            continue
        out[d.kind].append(_line(reg, d, full_ids))
    for found in out.values():
        found.sort(key=lambda line: (line.village, line.difference.household, line.difference.name))
    return out


@dataclass(frozen=True)
class FeedbackLine:
    check: Check
    village: str
    head: str
    shown_id: str
    state: str  # open | overdue | done

    @property
    def state_words(self) -> str:
        return CHECK_STATES[self.state]

    @property
    def result_words(self) -> str:
        return terms.WARNING_RESULTS.get(self.check.result, "")


def feedback_of(
    reg: Registry,
    comparison: str,
    today: date,
    full_ids: bool = False,
    township: str | None = None,
) -> list[FeedbackLine]:
    """The checks of a warning list within ``township`` (``scope``), one line per warning, the
    earliest due first."""
    out = []
    for check in scope.checks(reg, township):
        if comparison not in check.lists:
            continue
        household = reg.households.get(check.household)
        shown = check.id_number if full_ids else mask_id_number(check.id_number)
        out.append(
            FeedbackLine(
                check, household.village if household else "", household.head if household else "",
                shown, check_state(check, today),
            )
        )  # fmt: skip
    return sorted(out, key=lambda line: (line.check.due, line.village, line.check.household))


def _person_name(reg: Registry, phone: str) -> str:
    user = reg.users.get(phone)
    return user.name if user else phone


def _sheet(book: Any, title: str, headers: tuple[str, ...], rows: list[list[Any]]) -> None:
    sheet = book.create_sheet(title)
    sheet.append(list(headers))
    for row in rows:
        sheet.append([cell_value(v) for v in row])
    keep_text_as_text(sheet)
    sheet.freeze_panes = "A2"


def _difference_rows(found: list[Line]) -> list[list[Any]]:
    return [
        [
            n, line.village, line.difference.household, line.head, line.difference.name,
            line.shown_id, line.difference.registry_value, line.difference.list_value,
            line.status, line.difference.note,
        ]
        for n, line in enumerate(found, start=1)
    ]  # fmt: skip


def _feedback_rows(
    reg: Registry, found: list[FeedbackLine], missing: list[Line]
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for line in found:
        c = line.check
        rows.append(
            [
                len(rows) + 1, c.name, line.shown_id, c.household, line.village, line.head,
                c.warning, c.content, c.pushed_on, c.due, line.state_words, line.result_words,
                c.action, c.note, _person_name(reg, c.done_by) if c.done_by else "", c.done_at[:10],
            ]
        )  # fmt: skip
    for missed in missing:
        d = missed.difference
        rows.append(
            [len(rows) + 1, d.name, missed.shown_id, "", "", "", "", "", "", "", "花名册无此人", "",
             "", d.note, "", ""]
        )  # fmt: skip
    return rows


def _summary_rows(reg: Registry, comparison: Comparison, township: str | None) -> list[list[Any]]:
    rows: list[list[Any]] = [
        ["部门", terms.DEPARTMENTS[comparison.department]],
        ["文件", comparison.filename],
        ["SHA-256", comparison.sha256],
        ["比对人", _person_name(reg, comparison.who)],
        ["比对时间", comparison.at[:16].replace("T", " ")],
        ["名单行数", comparison.rows],
    ]
    counts = scope.counts_of(reg, [comparison], township)[comparison.id]
    rows.extend([name, n] for name, n in counts_in_words(comparison, counts))
    return rows


def counts_in_words(
    comparison: Comparison, counts: dict[str, int] | None = None
) -> list[tuple[str, int]]:
    """The counts (``comparison``'s own unless given: ``scope.counts_of``) under their Chinese
    names, as the CLI prints them: a warning list's checks made and people not found;
    otherwise one line per kind of difference."""
    counts = comparison.counts if counts is None else counts
    if comparison.department == "warning":
        return [
            (terms.CHECKS_LINE, counts.get("checks", 0)),
            (terms.KINDS[terms.NOT_ON_REGISTRY], counts.get(terms.NOT_ON_REGISTRY, 0)),
        ]
    return [(name, counts.get(kind, 0)) for kind, name in terms.KINDS.items()]


def workbook(
    store: Store,
    comparison: Comparison,
    today: date,
    full_ids: bool = False,
    township: str | None = None,
) -> bytes:
    """The result as .xlsx, within ``township`` (``scope``; None: every township's): 概况,
    then a sheet per kind of difference; a warning list's result is its feedback table
    (核查反馈表) and the people not found."""
    import openpyxl  # only downloads need it

    reg = store.registry()
    book = openpyxl.Workbook()
    book.remove(book.active)
    _sheet(book, "概况", ("项目", "内容"), _summary_rows(reg, comparison, township))
    found = lines_of(reg, comparison.id, full_ids, township=township)
    if comparison.department == "warning":
        missing = found[terms.NOT_ON_REGISTRY]
        feedback = feedback_of(reg, comparison.id, today, full_ids, township)
        _sheet(book, "核查反馈表", FEEDBACK_HEADERS, _feedback_rows(reg, feedback, missing))
        _sheet(
            book, terms.KINDS[terms.NOT_ON_REGISTRY], DIFFERENCE_HEADERS, _difference_rows(missing)
        )
    else:
        for kind, name in terms.KINDS.items():
            _sheet(book, name, DIFFERENCE_HEADERS, _difference_rows(found[kind]))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _place(store: Store, township: str | None) -> str:
    """Whose result a file is: the township's within one, else the deployment's name."""
    return township or township_name(store)


def result_filename(
    store: Store, comparison: Comparison, suffix: str, township: str | None = None
) -> str:
    """ "示范镇-医保参保名单比对结果-2026-11-20.xlsx"; a warning list's: 核查反馈表."""
    what = "核查反馈表" if comparison.department == "warning" else "比对结果"
    parts = [
        p for p in (_place(store, township), terms.DEPARTMENTS[comparison.department] + what) if p
    ]
    return "-".join([*parts, comparison.at[:10]]) + suffix


def result_pdf(
    store: Store, comparison: Comparison, today: date, township: str | None = None
) -> bytes:
    """The result as an A4 PDF within ``township`` (``scope``), IDs masked, for the file
    (like the other reports)."""
    from ..documents import pdf

    reg = store.registry()
    return pdf.render_template_pdf(
        "pdf/reconcile.html",
        township=_place(store, township),
        comparison=comparison,
        department=terms.DEPARTMENTS[comparison.department],
        summary=_summary_rows(reg, comparison, township),
        found=lines_of(reg, comparison.id, township=township),
        feedback=feedback_of(reg, comparison.id, today, township=township)
        if comparison.department == "warning"
        else [],
        kinds=terms.KINDS,
        made=date.today().isoformat(),
    )
