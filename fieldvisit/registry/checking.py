"""Checking a file's rows: every problem collected, by row and column, before anything is
written; what passes becomes the plan the import applies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from .columns import REQUIRED_COLUMNS
from .errors import RegistryError, RowError
from .excel_damage import NUMBER_COLUMNS, damaged_columns, is_scientific, scientific_reason
from .fields import _FIELDS, _Invalid
from .reading import _normalise, _read_table, _Table

# What separates several helpers in one cell; phones may also be separated by spaces.
_LIST_SEPARATORS = re.compile(r"[、,，;；/]")
_PHONE_SEPARATORS = re.compile(r"[、,，;；/\s]")
_MOBILE = re.compile(r"[0-9]{11}")


@dataclass
class _Helper:
    name: str
    unit: str | None  # None: the file does not say; the stored unit stays
    row: int  # where the file first names this helper
    unit_row: int = 0


@dataclass
class _Plan:
    """A checked file: what to write."""

    households: list[dict[str, Any]] = field(default_factory=list)  # Household fields
    helpers: dict[str, _Helper] = field(default_factory=dict)  # by phone
    rows: dict[str, int] = field(default_factory=dict)  # 户编号 -> its row, for later errors
    # Column -> its header as the file has it, so that errors found later (against the
    # stored registry) name the column the office sees.
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, column: str) -> str:
        return self.headers.get(column, column)


class _Checker:
    """Checks the rows of one file, collecting every problem before giving up."""

    def __init__(self, table: _Table, from_file: bool = True) -> None:
        self.table = table
        # Whether the cells come from a spreadsheet (what Excel did to them can be said) or
        # from the office's form.
        self.from_file = from_file
        self.errors: list[RowError] = []
        self.plan = _Plan()
        self.first_row_of: dict[str, int] = self.plan.rows  # 户编号 -> row
        self.plan.headers = dict(table.headers)
        # (row, column) of cells a file-level error already explains (numbers Excel turned
        # into 4.11721E+12): one explanation instead of the same error on every row.
        self.explained: set[tuple[int, str]] = set()

    def check_damage(self) -> None:
        """One file-level error per column whose numbers Excel or WPS damaged."""
        for damage in damaged_columns(self.table.rows, self.table.lossy):
            header = self.table.headers.get(damage.column, damage.column)
            self.errors.append(RowError(0, header, damage.reason))
            self.explained.update((row, damage.column) for row in damage.suppressed)

    def error(self, row: int, column: str, reason: str) -> None:
        self.errors.append(RowError(row, self.table.headers.get(column, column), reason))

    def check_header(self) -> None:
        row, present = self.table.header_row, self.table.headers
        for column in self.table.duplicates:
            self.error(row, column, _("这一列出现了不止一次"))
        for column in REQUIRED_COLUMNS:
            if column not in present:
                self.error(row, column, _("缺少这一列"))
        pair = ("帮扶责任人", "帮扶责任人电话")
        for column, other in (pair, pair[::-1]):
            if other in present and column not in present:
                self.error(row, column, _("有“%(other)s”列时必须有这一列", other=other))
        if not self.table.rows:
            self.error(row, "", _("表头下面没有数据行"))

    def check_row(self, number: int, cells: dict[str, str]) -> None:
        values: dict[str, Any] = {}
        for column, text in cells.items():
            if column not in _FIELDS:
                continue
            name, parse = _FIELDS[column]
            if (number, column) in self.explained:
                continue
            if (number, column) in self.table.lossy:
                self.error(number, column, _lossy_reason())
                continue
            if self.from_file and column in NUMBER_COLUMNS and is_scientific(text):
                self.error(number, column, scientific_reason(text))
                continue
            try:
                values[name] = parse(text)
            except _Invalid as exc:
                self.error(number, column, str(exc.args[0]))
        self._check_exit_year(number, cells, values)
        self._check_repeat(number, values.get("id"))
        if (number, "帮扶责任人电话") in self.explained:
            values["helpers"] = []
        elif "帮扶责任人" in cells and "帮扶责任人电话" in cells:
            values["helpers"] = self._check_helpers(number, cells)
        self.plan.households.append(values)

    def _check_exit_year(self, number: int, cells: dict[str, str], values: dict[str, Any]) -> None:
        if values.get("status") == "exited" and not cells.get("脱贫年度"):
            self.error(number, "脱贫年度", _("已脱贫的户必须填写脱贫年度"))
        if values.get("status") == "not_exited" and values.get("exit_year") is not None:
            self.error(number, "脱贫年度", _("未脱贫的户不填脱贫年度"))

    def _check_repeat(self, number: int, household_id: str | None) -> None:
        if not household_id:
            return
        first = self.first_row_of.setdefault(household_id, number)
        if first != number:
            self.error(
                number,
                "户编号",
                _("户编号 %(id)s 与第 %(other)d 行重复", id=household_id, other=first),
            )

    def _check_helpers(self, number: int, cells: dict[str, str]) -> list[str]:
        """The row's helper phones; each helper is remembered for the whole file."""
        names = [n for n in _LIST_SEPARATORS.split(cells["帮扶责任人"]) if n]
        phones = [p for p in _PHONE_SEPARATORS.split(cells["帮扶责任人电话"]) if p]
        units = _split_units(cells.get("帮扶单位", ""), len(phones))
        phones_ok = self._check_phones(number, phones)
        if len(names) != len(phones):
            reason = _(
                "有 %(names)d 个帮扶责任人，却有 %(phones)d 个电话；"
                "多人请用“、”分隔，姓名和电话一一对应",
                names=len(names),
                phones=len(phones),
            )
            self.error(number, "帮扶责任人", reason)
        if units is None:
            reason = _("帮扶单位应填一个（共用）或按帮扶责任人逐一填写，用“、”分隔")
            self.error(number, "帮扶单位", reason)
        if phones_ok and units is not None and len(names) == len(phones):
            for phone, name, unit in zip(phones, names, units, strict=True):
                self._remember_helper(number, phone, name, unit)
        return phones

    def _check_phones(self, number: int, phones: list[str]) -> bool:
        ok = True
        for phone in phones:
            if not _MOBILE.fullmatch(phone):
                ok = False
                reason = _("“%(value)s”不是 11 位手机号码", value=phone)
                if self.from_file and is_scientific(phone):
                    reason = scientific_reason(phone)
                self.error(number, "帮扶责任人电话", reason)
        for phone in sorted({p for p in phones if phones.count(p) > 1}):
            ok = False
            self.error(number, "帮扶责任人电话", _("电话 %(phone)s 填了两次", phone=phone))
        return ok

    def _remember_helper(self, number: int, phone: str, name: str, unit: str | None) -> None:
        known = self.plan.helpers.setdefault(phone, _Helper(name, unit, number, number))
        if known.name != name:
            self.error(
                number,
                "帮扶责任人",
                _(
                    "电话 %(phone)s 在第 %(other)d 行是“%(name)s”，这里是“%(this)s”；"
                    "同一个电话只能是同一个人",
                    phone=phone,
                    other=known.row,
                    name=known.name,
                    this=name,
                ),
            )
        if unit is None:
            return
        if known.unit is None:
            known.unit, known.unit_row = unit, number
        elif known.unit != unit:
            self.error(
                number,
                "帮扶单位",
                _(
                    "电话 %(phone)s 的帮扶单位在第 %(other)d 行是“%(unit)s”，这里是“%(this)s”",
                    phone=phone,
                    other=known.unit_row,
                    unit=known.unit,
                    this=unit,
                ),
            )


def _lossy_reason() -> str:
    return _(
        "Excel 把这个号码存成了数字，超过 15 位的部分已经丢失；请把这一列设为“文本”格式后重新填写"
    )


def _split_units(text: str, helpers: int) -> list[str | None] | None:
    """Each helper's unit from the 帮扶单位 cell; None when the count does not fit.

    One unit serves every helper of the row. Only several helpers split the cell, since a
    single helper's unit may itself contain a 、. Empty parts mean "not given".
    """
    if not text or helpers == 0:
        return [None] * helpers
    if helpers == 1:
        return [text]
    parts = [p.strip() or None for p in _LIST_SEPARATORS.split(text)]
    if len(parts) == 1:
        return parts * helpers
    return parts if len(parts) == helpers else None


def check_row(cells: dict[str, Any]) -> tuple[dict[str, Any], list[RowError]]:
    """One household's cells (by Chinese column) checked exactly as the import checks a row:
    the same cleaning, per-column parsers and rules across columns. Returns the household's
    fields and the errors (row numbers are 1)."""
    normalised = {column: _normalise(column, value) for column, value in cells.items()}
    checker = _Checker(_Table(0, {}, [], []), from_file=False)
    checker.check_row(1, normalised)
    fields = dict(checker.plan.households[0]) if checker.plan.households else {}
    return fields, list(checker.errors)


def _check(data: bytes, filename: str) -> _Plan:
    table = _read_table(data, filename)
    checker = _Checker(table)
    checker.check_header()
    checker.check_damage()
    for number, cells in table.rows:
        checker.check_row(number, cells)
    if checker.errors:
        raise RegistryError(sorted(checker.errors, key=lambda e: e.row))
    return checker.plan
