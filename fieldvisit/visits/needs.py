"""The rectification ledger (问题整改台账): every need raised in a visit, across all months.

An entry stays open until the office closes it off (销号) with a note of what was done; it
can be reopened, and the office and supervisors may comment on it. Each step is kept in the
need itself (``history``, ``comments``: who, when, what) and in the audit log.

Needs live with their visit, in the visit's month and village file; the ledger reads every
month (each file is parsed once and cached by storage) and finds a need by id the same way.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from flask_babel import gettext as _

from ..clock import now_iso
from ..documents.sheets import cell_value, keep_text_as_text
from ..figures.month import AGE_BUCKETS
from ..models import AuditEntry, Household, Need, village_label
from ..storage import Store
from ..vocab import NEED_CATEGORIES

MAX_NOTE = 1000
STATUS_FILTERS = ("open", "resolved", "all")
# The dashboard's age buckets, as query values: "0-30", "31-60", "61-90", "91-".
AGES: dict[str, tuple[str, int, int | None]] = {
    f"{low}-{'' if high is None else high}": (name, low, high) for name, low, high in AGE_BUCKETS
}


class LedgerError(ValueError):
    """The step cannot be taken; the message is for the user. ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Filters:
    """What the ledger is narrowed to. Open entries unless asked otherwise; unknown values
    are ignored rather than refused, as they come from links people edit by hand."""

    status: str = "open"
    category: str = ""
    village: str = ""
    helper: str = ""  # a phone: the needs it raised, and those of its households
    age: str = ""  # a key of AGES

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        status = args.get("status", "open")
        category = args.get("category", "")
        age = args.get("age", "")
        return cls(
            status=status if status in STATUS_FILTERS else "open",
            category=category if category in NEED_CATEGORIES else "",
            village=args.get("village", "").strip(),
            helper=args.get("helper", "").strip(),
            age=age if age in AGES else "",
        )

    def args(self) -> dict[str, str]:
        """The filters as query arguments, for links that keep them (pages, the export)."""
        values = {
            "status": self.status,
            "category": self.category,
            "village": self.village,
            "helper": self.helper,
            "age": self.age,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Entry:
    """One line of the ledger."""

    need: Need
    household: Household | None
    days_open: int
    names: Mapping[str, str]  # phone -> name, for everyone the entry mentions

    def name(self, phone: str) -> str:
        return self.names.get(phone, phone)

    @property
    def helpers(self) -> list[str]:
        """The household's helpers now (who follows the need up), by name."""
        return [self.name(p) for p in self.household.helpers] if self.household else []


def days_open(need: Need, today: date) -> int:
    """Days from being raised to today (open) or to its 销号 (resolved)."""
    end = today
    if need.status == "resolved" and need.resolved_at:
        end = date.fromisoformat(need.resolved_at[:10])
    return max((end - date.fromisoformat(need.raised_at)).days, 0)


def _wanted(filters: Filters, need: Need, household: Household | None, age: int) -> bool:
    if filters.status != "all" and need.status != filters.status:
        return False
    if filters.category and need.category != filters.category:
        return False
    if filters.helper and filters.helper != need.raised_by:
        paired = household.helpers if household else []
        if filters.helper not in paired:
            return False
    if filters.age:
        _name, low, high = AGES[filters.age]
        if age < low or (high is not None and age > high):
            return False
    return True


def ledger(store: Store, filters: Filters, today: date) -> list[Entry]:
    """The entries ``filters`` asks for: open before resolved, urgent first, oldest first."""
    reg = store.registry()
    names = {u.phone: u.name for u in reg.users.values()}
    out = []
    for month in store.months():
        for need in store.needs(month, filters.village or None):
            household = reg.households.get(need.household)
            age = days_open(need, today)
            if _wanted(filters, need, household, age):
                out.append(Entry(need, household, age, names))
    out.sort(
        key=lambda e: (e.need.status != "open", not e.need.urgent, e.need.raised_at, e.need.id)
    )
    return out


def _locate(store: Store, need_id: str) -> tuple[str, Need] | None:
    for month in reversed(store.months()):  # recent needs are the ones acted on
        for need in store.needs(month):
            if need.id == need_id:
                return month, need
    return None


def entry(store: Store, need_id: str, today: date) -> Entry | None:
    """The ledger entry of one need; None when there is no such need."""
    found = _locate(store, need_id)
    if found is None:
        return None
    reg = store.registry()
    need = found[1]
    names = {u.phone: u.name for u in reg.users.values()}
    return Entry(need, reg.households.get(need.household), days_open(need, today), names)


def carry_over(raised: list[Need], stored: list[Need]) -> list[Need]:
    """The needs to store with a new version of a visit: ``raised`` (its needs as recorded
    now, each with the id its visit, category and description give it), given ``stored``,
    the visit's needs already in the ledger. Storage writes what this returns and drops the
    visit's other open needs.

    The ledger's rule: a resolved need (销号) stays resolved, as it is, when a correction
    keeps it, and so is not written again; an open need kept keeps its ledger history and
    comments, taking the urgency, the helper and the date of the new version.
    """
    by_id = {need.id: need for need in stored}
    out = []
    for need in raised:
        old = by_id.get(need.id)
        if old is None:
            out.append(need)
        elif old.status == "open":
            out.append(
                replace(old, urgent=need.urgent, raised_by=need.raised_by, raised_at=need.raised_at)
            )
    return out


def _state(need: Need) -> dict[str, Any]:
    return {
        "status": need.status,
        "resolved_by": need.resolved_by,
        "resolved_at": need.resolved_at,
        "resolution": need.resolution,
    }


def _text(text: str, required_message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise LedgerError(required_message)
    if len(text) > MAX_NOTE:
        raise LedgerError(_("最多 %(n)d 字", n=MAX_NOTE))
    return text


def _step(store: Store, need_id: str, change: Callable[[Need], AuditEntry]) -> Need:
    """Apply ``change`` to the need and commit it with the audit entry it returns."""
    found = _locate(store, need_id)
    if found is None:
        raise LookupError(need_id)
    month, need = found
    updated = store.update_need(month, need.village, need_id, change)
    if updated is None:  # gone between the look-up and the lock
        raise LookupError(need_id)
    return updated


def resolve(store: Store, need_id: str, actor: str, note: str) -> Need:
    """Close off (销号) an open need with a note of what was done."""
    note = _text(note, _("请写明整改情况"))
    at = now_iso()

    def change(need: Need) -> AuditEntry:
        if need.status == "resolved":
            raise LedgerError(_("这条需求已经销号"), status=409)
        before = _state(need)
        need.status = "resolved"
        need.resolved_by, need.resolved_at, need.resolution = actor, at, note
        need.history.append({"action": "resolve", "who": actor, "at": at, "note": note})
        return AuditEntry(at, actor, "need.resolve", need_id, before, _state(need))

    return _step(store, need_id, change)


def reopen(store: Store, need_id: str, actor: str, reason: str) -> Need:
    """Open a resolved need again, saying why (撤销销号 undoes what someone reported done, so
    the log must say what was found); its earlier 销号 stays in the history."""
    at = now_iso()

    def change(need: Need) -> AuditEntry:
        # The status first: an open need is refused as such, whatever reason was typed.
        if need.status != "resolved":
            raise LedgerError(_("这条需求还没有销号"), status=409)
        text = _text(reason, _("请写明重新打开的原因"))
        before = _state(need)
        need.status, need.resolved_by, need.resolved_at, need.resolution = "open", "", "", ""
        need.history.append({"action": "reopen", "who": actor, "at": at, "note": text})
        after = {**_state(need), "reason": text}
        return AuditEntry(at, actor, "need.reopen", need_id, before, after)

    return _step(store, need_id, change)


def comment(store: Store, need_id: str, actor: str, text: str) -> Need:
    """Add a remark (督查意见) to a need, open or resolved; its status stays as it is."""
    text = _text(text, _("请填写意见"))
    at = now_iso()

    def change(need: Need) -> AuditEntry:
        need.comments.append({"who": actor, "at": at, "text": text})
        return AuditEntry(at, actor, "need.comment", need_id, None, {"text": text})

    return _step(store, need_id, change)


# --- export -------------------------------------------------------------------------------

# The ledger as the township files it and sends it up: Chinese headers whatever the UI's
# language, like the registry export.
EXPORT_COLUMNS: tuple[str, ...] = (
    "户编号", "村", "户主姓名", "帮扶责任人", "需求类别", "需求描述", "是否紧急", "提出人",
    "提出日期", "状态", "历时天数", "销号人", "销号时间", "整改情况", "督查意见",
)  # fmt: skip
_SHEET_TITLE = "问题整改台账"
_MAX_WIDTH = 50


def _export_row(e: Entry) -> list[Any]:
    need, household = e.need, e.household
    remarks = "\n".join(f"{e.name(c['who'])} {c['at'][:10]}：{c['text']}" for c in need.comments)
    return [
        need.household,
        village_label(need.village),
        household.head if household else "",
        "、".join(e.helpers),
        NEED_CATEGORIES.get(need.category, need.category),
        need.description,
        "是" if need.urgent else "否",
        e.name(need.raised_by),
        need.raised_at,
        "已销号" if need.status == "resolved" else "未销号",
        e.days_open,
        e.name(need.resolved_by) if need.resolved_by else "",
        need.resolved_at[:16].replace("T", " "),
        need.resolution,
        remarks,
    ]


def _width(value: Any) -> int:
    longest = max(str(value or "").split("\n"), key=len, default="")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in longest)


def export_xlsx(entries: list[Entry]) -> bytes:
    """The entries as an Excel workbook: bold frozen header, columns sized to their text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    rows = [_export_row(e) for e in entries]
    book = Workbook()
    sheet = book.active
    sheet.title = _SHEET_TITLE
    sheet.append(list(EXPORT_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([cell_value(v) for v in row])
    keep_text_as_text(sheet, min_row=2)  # a description "=…" is text, never a formula
    sheet.freeze_panes = "A2"
    for index, title in enumerate(EXPORT_COLUMNS, start=1):
        widest = max([_width(title), *(_width(row[index - 1]) for row in rows)])
        sheet.column_dimensions[get_column_letter(index)].width = min(widest + 2, _MAX_WIDTH)
    for (cell,) in sheet.iter_rows(min_row=2, max_col=1):
        cell.number_format = "@"  # 4117210010001, not 4.11721E+12
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
