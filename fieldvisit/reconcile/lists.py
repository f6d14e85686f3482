"""Reading a department's list: the same messy files as the registry (title rows, columns
in any order, other header names, GBK), read by the registry's reader with each list's
columns.

A list is not the township's to correct, so a row that cannot be matched (an ID number with
a wrong check digit, no ID number and no household to look in) is not an error: it is kept,
with why, and shows as 名单有花名册无. Only a file that cannot be read at all — no header,
a required column missing, a column of numbers Excel destroyed — is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from ..idcard import id_number_problem, mask_id_number, upgrade_id_number
from ..registry.errors import RegistryError, RowError
from ..registry.excel_damage import damaged_columns
from ..registry.reading import Layout, _read_table
from .members import ID_ALIASES

COMMON = ("身份证号", "姓名", "户编号", "户主身份证号")
# Each department's own columns; the first is the one that tells its header row.
OWN: dict[str, tuple[str, ...]] = {
    "civil_affairs": ("保障类别", "保障人数"),
    "disability": ("残疾类别", "残疾等级"),
    "medical_insurance": ("参保状态",),
    "education": ("学段", "资助项目"),
    "warning": ("预警类型", "预警内容", "推送日期"),
}
_ALIASES = {
    **ID_ALIASES,
    "身份证": "身份证号",
    "申请人姓名": "姓名",
    "申请人": "姓名",
    "残疾人姓名": "姓名",
    "学生姓名": "姓名",
    "参保人姓名": "姓名",
    "户号": "户编号",
    "户主身份证号码": "户主身份证号",
    "救助类别": "保障类别",
    "保障类型": "保障类别",
    "类别": "保障类别",
    "保障人口": "保障人数",
    "享受人数": "保障人数",
    "救助人数": "保障人数",
    "残疾类型": "残疾类别",
    "参保情况": "参保状态",
    "在校学段": "学段",
    "就读学段": "学段",
    "资助类型": "资助项目",
    "预警日期": "推送日期",
}
_NUMERIC = frozenset({"身份证号", "户编号", "户主身份证号", "保障人数"})
_COMPACT = frozenset(
    {"身份证号", "户编号", "户主身份证号", "姓名", "保障类别", "保障人数", "残疾类别"}
    | {"残疾等级", "参保状态", "学段", "推送日期"}
)
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def layout(department: str) -> Layout:
    own = OWN[department]
    aliases = {k: v for k, v in _ALIASES.items() if v in COMMON or v in own}

    def no_header() -> str:
        return _("找不到表头行：需要有一行同时含有“姓名”“%(column)s”这几列的标题", column=own[0])

    return Layout((*COMMON, *own), ("姓名", own[0]), aliases, _NUMERIC, _COMPACT, no_header)


@dataclass
class ListRow:
    """One row of a department's list, its ID number checked."""

    row: int
    id_number: str  # 18 characters and valid, or ""
    shown_id: str  # the number as the list has it, masked (for the result)
    problem: str  # why the ID number cannot be used ("" when it can, or there is none)
    name: str
    household: str  # 户编号, when the list has one
    head_id: str  # 户主身份证号, when the list has one (valid, or "")
    cells: dict[str, str]


def _valid(text: str) -> str:
    number = upgrade_id_number(text)
    return number if number and id_number_problem(number) is None else ""


def _problem(text: str) -> str:
    if not text:
        return ""
    if id_number_problem(upgrade_id_number(text)) is None:
        return ""
    return _("身份证号不对（位数或校验位），无法按身份证号匹配")


def push_date(text: str) -> str:
    """推送日期 as YYYY-MM-DD ("" when it is not a date)."""
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if not match:
        return ""
    try:
        return date(*(int(g) for g in match.groups()[:3])).isoformat()
    except ValueError:
        return ""


def read_list(department: str, data: bytes, filename: str) -> list[ListRow]:
    """The rows of a department's list. Raises ``RegistryError`` when the file cannot be
    read: no header row, no 姓名, neither an ID number nor a household column, or a column
    of numbers Excel destroyed."""
    table = _read_table(data, filename, layout(department))
    errors: list[RowError] = []
    present = table.headers
    if not ({"身份证号", "户编号", "户主身份证号"} & set(present)):
        reason = _("缺少“身份证号”列（没有身份证号时，须有“户编号”或“户主身份证号”列）")
        errors.append(RowError(table.header_row, "身份证号", reason))
    for damage in damaged_columns(table.rows, table.lossy):
        if damage.column in ("身份证号", "户编号"):
            errors.append(RowError(0, present.get(damage.column, damage.column), damage.reason))
    if errors:
        raise RegistryError(errors)
    out = []
    for number, cells in table.rows:
        raw = cells.get("身份证号", "")
        out.append(
            ListRow(
                row=number,
                id_number=_valid(raw),
                shown_id=mask_id_number(upgrade_id_number(raw)) if raw else "",
                problem=_problem(raw),
                name=cells.get("姓名", ""),
                household=cells.get("户编号", ""),
                head_id=_valid(cells.get("户主身份证号", "")),
                cells=cells,
            )
        )
    return out
