"""The household registry as a spreadsheet: import from XLSX or CSV, export to either.

The township office already keeps its registry (花名册) in Excel, with Chinese column
headers, one row per household. Importing that file is how households, helpers and villages
get into the app, and importing a corrected file later is how they are kept up to date:

* The file is read as the office has it: a title row or two above the header, columns in any
  order, stray spaces (full-width ones too), numbers stored as text or as decimals, CSV saved
  as UTF-8 or as GBK.
* Every row is checked and every problem is reported at once, by row and column, so the
  office can fix the whole file in one pass. A file with any problem imports nothing.
* Households are matched by 户编号. A re-import updates them in place and keeps what the
  spreadsheet does not hold (the door plate's QR token, the location), so printed plates
  stay valid. An optional column that is left out of the file leaves that field as stored.
* Helpers are users, identified by phone.

The export writes the same columns in the same order, so an exported file imports back to
the same data.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path, PurePath
from typing import Any

from flask_babel import gettext as _

from .clock import now_iso
from .households import new_token
from .idcard import (
    BIRTH_DATE,
    CHARACTERS,
    CHECK_DIGIT,
    LENGTH,
    id_number_problem,
    mask_id_number,
    normalize_id_number,
)
from .models import AuditEntry, Household, User, Village
from .storage import Registry, Store, atomic_write_bytes
from .vocab import ATTRIBUTES, CAUSES, STATUSES, code_for

# The columns of the township's registry, in the order its files (and our export) have them.
COLUMNS: tuple[str, ...] = (
    "户编号", "村", "组", "户主姓名", "家庭人口", "贫困户属性", "主要致贫原因", "脱贫状态",
    "脱贫年度", "联系电话", "身份证号", "长期不在家", "帮扶责任人", "帮扶责任人电话", "帮扶单位",
)  # fmt: skip
# Without these a household cannot be created; the others may be left out of a file, and
# then the stored value of that field stays as it is.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "户编号", "村", "户主姓名", "家庭人口", "贫困户属性", "主要致贫原因", "脱贫状态",
)  # fmt: skip
# The header row is the first row that has all of these.
_HEADER_KEYS = ("户编号", "户主姓名", "村")
# Title rows above the header are a line or two; a file without a header in its first
# rows is the wrong file, and scanning further only delays saying so.
_HEADER_SEARCH_ROWS = 30
# Headers other systems use for the same columns.
_ALIASES = {
    "行政村": "村",
    "村名": "村",
    "村民组": "组",
    "户主": "户主姓名",
    "人口数": "家庭人口",
    "家庭人口数": "家庭人口",
    "身份证号码": "身份证号",
    "户主身份证号": "身份证号",
    "是否长期不在家": "长期不在家",
    "帮扶人": "帮扶责任人",
    "帮扶人电话": "帮扶责任人电话",
    "帮扶责任人联系电话": "帮扶责任人电话",
}
# Cells that hold numbers: Excel hands them back as floats ("2.0"), and people type them
# with full-width digits.
_NUMERIC = frozenset({"户编号", "家庭人口", "脱贫年度", "联系电话", "身份证号", "帮扶责任人电话"})
# Cells where a space inside is never meant: a two-character name padded to line up with
# three-character ones ("马　娟"), an ID number typed in groups.
_COMPACT = frozenset({
    "户编号", "村", "户主姓名", "家庭人口", "贫困户属性", "主要致贫原因", "脱贫状态", "脱贫年度",
    "身份证号", "长期不在家", "帮扶责任人",
})  # fmt: skip
# What separates several helpers in one cell; phones may also be separated by spaces.
_LIST_SEPARATORS = re.compile(r"[、,，;；/]")
_PHONE_SEPARATORS = re.compile(r"[、,，;；/\s]")
_EDGES = re.compile(r"^[\s\ufeff\u200b]+|[\s\ufeff\u200b]+$")
_DIGITS = re.compile(r"[0-9]+")
_ZERO_DECIMALS = re.compile(r"([0-9]+)\.0*")
_MOBILE = re.compile(r"[0-9]{11}")
YEAR_RANGE = (2000, 2100)
_SHEET_TITLE = "花名册"
_TEXT_COLUMNS = frozenset({"户编号", "联系电话", "身份证号", "帮扶责任人电话"})
FORMATS = ("xlsx", "csv")


# --- errors -------------------------------------------------------------------------------


@dataclass
class RowError:
    """One problem in an imported file. ``row`` is the spreadsheet's own row number (0 for
    the file as a whole); ``column`` the header as the file has it ("" when none)."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        if self.row and self.column:
            return _(
                "第 %(row)d 行，%(column)s：%(reason)s",
                row=self.row,
                column=self.column,
                reason=self.reason,
            )
        if self.row:
            return _("第 %(row)d 行：%(reason)s", row=self.row, reason=self.reason)
        return self.reason


class RegistryError(Exception):
    """The file cannot be imported; ``errors`` says every reason, in row order."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__()
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def _file_error(reason: str) -> RegistryError:
    return RegistryError([RowError(0, "", reason)])


# --- reading the file ---------------------------------------------------------------------


@dataclass
class _Table:
    header_row: int
    headers: dict[str, str]  # column -> the header text as the file has it
    duplicates: list[str]  # columns whose header appears more than once
    rows: list[tuple[int, dict[str, str]]]
    # (row, column) of cells Excel stored as a number too long for it: the digits past the
    # 15th are lost (an ID number typed into a cell not formatted as text).
    lossy: set[tuple[int, str]] = field(default_factory=set)


# Excel keeps 15 significant digits; a float at or above this has lost some.
_EXACT_FLOAT_LIMIT = 10**15


def _is_lossy(value: Any) -> bool:
    return isinstance(value, float) and abs(value) >= _EXACT_FLOAT_LIMIT


def _strip(text: str) -> str:
    return _EDGES.sub("", text)


# Control characters (pasted from other systems) are invisible, mean nothing in a registry,
# and cannot be written to an .xlsx file: a household holding one could not be exported.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# A cell starting with one of these is a formula to Excel and WPS.
_FORMULA_START = ("=", "+", "-", "@")


def _cell_text(value: Any) -> str:
    """A cell's value as the text the user sees in it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        # Excel keeps every number as a float: 4117210010001 comes back as 4117210010001.0.
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    text = _strip(_CONTROL.sub("", str(value)))
    if text.startswith("'") and text[1:2] in _FORMULA_START:
        text = text[1:]  # the apostrophe our CSV export puts before formula-like text
    return text


def _normalise(column: str, value: Any) -> str:
    text = _cell_text(value)
    if column in _NUMERIC:
        text = unicodedata.normalize("NFKC", text)
        match = _ZERO_DECIMALS.fullmatch(text)
        if match:
            text = match.group(1)
    if column in _COMPACT:
        text = "".join(text.split())
    return text


def _header_name(value: Any) -> str:
    text = "".join(_cell_text(value).split()).strip("*＊")
    return _ALIASES.get(text, text)


def _header_index(grid: list[list[Any]]) -> int | None:
    for index, raw in enumerate(grid[:_HEADER_SEARCH_ROWS]):
        names = {_header_name(v) for v in raw}
        if all(key in names for key in _HEADER_KEYS):
            return index
    return None


def _find_table(grid: list[list[Any]]) -> _Table | None:
    """The header row and the data rows below it, or None when ``grid`` has no header."""
    index = _header_index(grid)
    if index is None:
        return None
    raw = grid[index]
    names = [_header_name(v) for v in raw]
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    duplicates: list[str] = []
    for pos, name in enumerate(names):
        if name not in COLUMNS:
            continue  # 序号 and other columns of the office's own
        if name in positions:
            duplicates.append(name)
            continue
        positions[name] = pos
        headers[name] = _cell_text(raw[pos])
    table = _Table(index + 1, headers, duplicates, [])
    for number, line in enumerate(grid[index + 1 :], start=index + 2):
        raw_cells = {c: line[p] if p < len(line) else None for c, p in positions.items()}
        cells = {c: _normalise(c, v) for c, v in raw_cells.items()}
        if not any(cells.values()):
            continue  # empty rows, and rows that only number themselves (序号)
        if all(_header_name(text) == column for column, text in cells.items()):
            continue  # the header repeated, as a printed file has on each page
        table.rows.append((number, cells))
        table.lossy.update((number, c) for c, v in raw_cells.items() if _is_lossy(v))
    return table


def _file_kind(data: bytes, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm") or (not suffix and data.startswith(b"PK\x03\x04")):
        return "xlsx"
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix == ".xls":
        raise _file_error(_("这是旧版 Excel 文件（.xls），请在 Excel 中另存为 .xlsx 后再导入"))
    raise _file_error(_("不支持这种文件（%(name)s），请上传 .xlsx 或 .csv 文件", name=filename))


def _xlsx_table(data: bytes) -> _Table | None:
    import openpyxl  # only the office's import pages need it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _file_error(_("无法读取这个 Excel 文件，请确认它是 .xlsx 格式")) from exc
    try:
        sheets = list(book.worksheets)
        if book.active in sheets:  # the sheet the office last looked at comes first
            sheets.remove(book.active)
            sheets.insert(0, book.active)
        for sheet in sheets:
            # Some programs write a wrong size into the file; read every row regardless.
            sheet.reset_dimensions()
            table = _find_table([list(r) for r in sheet.iter_rows(values_only=True)])
            if table is not None:
                return table
        return None
    finally:
        book.close()


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")  # Excel's "Unicode text"
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Excel on a Chinese Windows saves CSV as GBK; GB18030 is its superset.
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise _file_error(_("无法识别这个 CSV 文件的编码，请另存为 UTF-8 编码")) from exc


def _csv_table(data: bytes) -> _Table | None:
    text = _decode(data)
    # The delimiter is whichever one turns up a header row: guessing from the data alone
    # is unreliable when helpers' names are themselves separated by commas.
    for delimiter in (",", "\t", ";"):
        try:
            grid = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            raise _file_error(_("无法读取这个 CSV 文件")) from exc
        table = _find_table(grid)
        if table is not None:
            return table
    return None


def _read_table(data: bytes, filename: str) -> _Table:
    kind = _file_kind(data, filename)
    table = _xlsx_table(data) if kind == "xlsx" else _csv_table(data)
    if table is None:
        raise _file_error(_("找不到表头行：需要有一行同时含有“户编号”“户主姓名”“村”这几列的标题"))
    return table


def read_rows(data: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a registry file (XLSX or CSV, told apart by ``filename``).

    Each row comes with its number as the spreadsheet shows it and a dict from column (the
    standard Chinese header) to the cell's cleaned text; columns the file does not have are
    absent. Empty rows are left out. Raises ``RegistryError`` when the file cannot be read
    or has no header row.
    """
    return _read_table(data, filename).rows


# --- checking the rows --------------------------------------------------------------------


class _Invalid(Exception):
    """A cell's value cannot be used; the argument is the reason shown to the user."""


def _required_text(text: str) -> str:
    if not text:
        raise _Invalid(_("不能为空"))
    return text


def _optional_text(text: str) -> str:
    return text


def _household_id(text: str) -> str:
    if not _DIGITS.fullmatch(_required_text(text)):
        raise _Invalid(_("“%(value)s”不对，户编号只能由数字组成", value=text))
    return text


# No household has more; a bound also keeps the number exact in Excel, where the export
# writes it as a number (a 19-digit "family size" came back from Excel rounded).
MAX_MEMBERS = 99


def _members(text: str) -> int:
    if not _DIGITS.fullmatch(_required_text(text)) or not 1 <= int(text) <= MAX_MEMBERS:
        raise _Invalid(
            _("“%(value)s”不对，应为 1 到 %(most)s 之间的整数", value=text, most=MAX_MEMBERS)
        )
    return int(text)


def _choice(vocabulary: dict[str, str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        code = code_for(vocabulary, _required_text(text))
        if code is None:
            raise _Invalid(
                _(
                    "“%(value)s”不是可选的值，应为：%(choices)s",
                    value=text,
                    choices="、".join(vocabulary.values()),
                )
            )
        return code

    return parse


def _year(text: str) -> int | None:
    if not text:
        return None
    low, high = YEAR_RANGE
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise _Invalid(_("“%(value)s”不是年份（%(low)d–%(high)d）", value=text, low=low, high=high))
    return int(text)


def _id_number(text: str) -> str:
    if not text:
        return ""
    number = normalize_id_number(text)
    problem = id_number_problem(number)
    # The number itself stays out of the message: it is shown only masked, even here.
    if problem == LENGTH:
        raise _Invalid(_("位数不对：应为 18 位，这里是 %(length)d 位", length=len(number)))
    if problem == CHARACTERS:
        raise _Invalid(_("应为 17 位数字加一位数字或 X"))
    if problem == BIRTH_DATE:
        raise _Invalid(_("第 7–14 位的出生日期不是有效日期"))
    if problem == CHECK_DIGIT:
        raise _Invalid(_("校验位（最后一位）不对，请核对号码"))
    return number


def _yes_no(text: str) -> bool:
    if text in ("", "否"):
        return False
    if text == "是":
        return True
    raise _Invalid(_("“%(value)s”不对，应为“是”或“否”", value=text))


# Column -> (Household field, parser). 脱贫年度 depends on 脱贫状态 and the helper columns on
# one another, so those are checked again afterwards.
_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "户编号": ("id", _household_id),
    "村": ("village", _required_text),
    "组": ("group", _optional_text),
    "户主姓名": ("head", _required_text),
    "家庭人口": ("members", _members),
    "贫困户属性": ("attribute", _choice(ATTRIBUTES)),
    "主要致贫原因": ("cause", _choice(CAUSES)),
    "脱贫状态": ("status", _choice(STATUSES)),
    "脱贫年度": ("exit_year", _year),
    "联系电话": ("phone", _optional_text),
    "身份证号": ("id_number", _id_number),
    "长期不在家": ("long_absent", _yes_no),
}


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


class _Checker:
    """Checks the rows of one file, collecting every problem before giving up."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.errors: list[RowError] = []
        self.plan = _Plan()
        self.first_row_of: dict[str, int] = {}  # 户编号 -> row

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
            if (number, column) in self.table.lossy:
                self.error(number, column, _lossy_reason())
                continue
            try:
                values[name] = parse(text)
            except _Invalid as exc:
                self.error(number, column, str(exc.args[0]))
        self._check_exit_year(number, cells, values)
        self._check_repeat(number, values.get("id"))
        if "帮扶责任人" in cells and "帮扶责任人电话" in cells:
            values["helpers"] = self._check_helpers(number, cells)
        self.plan.households.append(values)

    def _check_exit_year(self, number: int, cells: dict[str, str], values: dict[str, Any]) -> None:
        if values.get("status") == "exited" and not cells.get("脱贫年度"):
            self.error(number, "脱贫年度", _("已脱贫的户必须填写脱贫年度"))

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


def field_of_column() -> dict[str, str]:
    """Spreadsheet column -> Household field, for the columns the import reads."""
    return {column: name for column, (name, _parse) in _FIELDS.items()}


def check_row(cells: dict[str, Any]) -> tuple[dict[str, Any], list[RowError]]:
    """One household's cells (by Chinese column) checked exactly as the import checks a row:
    the same cleaning, per-column parsers and rules across columns. Returns the household's
    fields and the errors (row numbers are 1)."""
    normalised = {column: _normalise(column, value) for column, value in cells.items()}
    checker = _Checker(_Table(0, {}, [], []))
    checker.check_row(1, normalised)
    fields = dict(checker.plan.households[0]) if checker.plan.households else {}
    return fields, list(checker.errors)


def _check(data: bytes, filename: str) -> _Plan:
    table = _read_table(data, filename)
    checker = _Checker(table)
    checker.check_header()
    for number, cells in table.rows:
        checker.check_row(number, cells)
    if checker.errors:
        raise RegistryError(sorted(checker.errors, key=lambda e: e.row))
    return checker.plan


# --- writing to the store ----------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did. The counts are properties over the lists of ids."""

    added_ids: list[str] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)
    unchanged_ids: list[str] = field(default_factory=list)
    # Households stored but absent from the file: left as they were, never deleted, since a
    # file often covers only some villages.
    missing_ids: list[str] = field(default_factory=list)
    helpers_added_phones: list[str] = field(default_factory=list)
    helpers_updated_phones: list[str] = field(default_factory=list)
    villages_added_names: list[str] = field(default_factory=list)

    @property
    def added(self) -> int:
        return len(self.added_ids)

    @property
    def updated(self) -> int:
        return len(self.updated_ids)

    @property
    def unchanged(self) -> int:
        return len(self.unchanged_ids)

    @property
    def missing(self) -> int:
        return len(self.missing_ids)

    @property
    def helpers_added(self) -> int:
        return len(self.helpers_added_phones)

    @property
    def helpers_updated(self) -> int:
        return len(self.helpers_updated_phones)

    @property
    def villages_added(self) -> int:
        return len(self.villages_added_names)

    def counts(self) -> dict[str, int]:
        names = ("added", "updated", "unchanged", "missing")
        names += ("helpers_added", "helpers_updated", "villages_added")
        return {name: getattr(self, name) for name in names}


@dataclass
class _Diff:
    """Changed fields, old and new, for the audit entry."""

    before: dict[str, dict[str, Any]] = field(default_factory=dict)
    after: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, key: str, name: str, old: Any, new: Any) -> None:
        if name == "id_number":  # the audit log is read by more people than the registry
            old, new = mask_id_number(old), mask_id_number(new)
        self.before.setdefault(key, {})[name] = old
        self.after.setdefault(key, {})[name] = new


def _upsert_helper(
    reg: Registry, phone: str, helper: _Helper, at: str, report: ImportReport, diff: _Diff
) -> None:
    user = reg.users.get(phone)
    if user is None:
        unit = helper.unit or ""
        reg.users[phone] = User(
            phone=phone, name=helper.name, role="helper", unit=unit, created_at=at
        )
        report.helpers_added_phones.append(phone)
        return
    # The role is left alone: an admin or supervisor who also pairs with households stays
    # what they are. The password is never touched by an import.
    wanted = {"name": helper.name}
    if helper.unit is not None:
        wanted["unit"] = helper.unit
    changed = False
    for name, new in wanted.items():
        if getattr(user, name) != new:
            diff.record(phone, name, getattr(user, name), new)
            setattr(user, name, new)
            changed = True
    if changed:
        report.helpers_updated_phones.append(phone)


def _upsert_household(
    reg: Registry, values: dict[str, Any], at: str, report: ImportReport, diff: _Diff
) -> None:
    village = values["village"]
    if village not in reg.villages:
        reg.villages[village] = Village(village)
        report.villages_added_names.append(village)
    existing = reg.households.get(values["id"])
    if existing is None:
        household = Household(**values, token=new_token(), updated_at=at)
        reg.households[household.id] = household
        reg.by_token[household.token] = household.id
        report.added_ids.append(household.id)
        return
    changed = False
    for name, new in values.items():
        old = getattr(existing, name)
        if old != new:
            diff.record(existing.id, name, old, new)
            setattr(existing, name, new)
            changed = True
    if changed:
        existing.updated_at = at
        report.updated_ids.append(existing.id)
    else:
        report.unchanged_ids.append(existing.id)


def _apply(reg: Registry, plan: _Plan, at: str) -> tuple[ImportReport, _Diff, _Diff]:
    report, households, helpers = ImportReport(), _Diff(), _Diff()
    in_file = {values["id"] for values in plan.households}
    report.missing_ids = [hid for hid in reg.households if hid not in in_file]
    for phone, helper in plan.helpers.items():
        _upsert_helper(reg, phone, helper, at, report, helpers)
    for values in plan.households:
        _upsert_household(reg, values, at, report, households)
    return report, households, helpers


def import_registry(store: Store, data: bytes, filename: str, actor: str) -> ImportReport:
    """Import a registry file: all of it, or nothing.

    Raises ``RegistryError`` listing every problem when any row is wrong; then nothing is
    written. Otherwise households, helpers and villages are added or updated in one atomic
    write, and one audit entry (``registry.import``) records what changed.
    """
    plan = _check(data, filename)
    at = now_iso()
    report, households, helpers = store.update_registry(lambda reg: _apply(reg, plan, at))
    after: dict[str, Any] = {
        "counts": report.counts(),
        "added": report.added_ids,
        "updated": report.updated_ids,
        "helpers_added": report.helpers_added_phones,
        "helpers_updated": report.helpers_updated_phones,
        "villages_added": report.villages_added_names,
        "households": households.after,
        "helpers": helpers.after,
    }
    before = {"households": households.before, "helpers": helpers.before}
    store.audit(
        AuditEntry(
            at=at, who=actor, action="registry.import", target=filename, before=before, after=after
        )
    )
    return report


# --- export -------------------------------------------------------------------------------


def _export_row(household: Household, reg: Registry) -> list[Any]:
    users = [reg.users.get(phone) for phone in household.helpers]
    # A pairing with no user behind it still round-trips: the phone stands in for the name.
    names = [u.name if u else p for u, p in zip(users, household.helpers, strict=True)]
    units = [u.unit if u else "" for u in users]
    shared = len(set(units)) == 1
    return [
        household.id,
        household.village,
        household.group,
        household.head,
        household.members,
        ATTRIBUTES.get(household.attribute, household.attribute),
        CAUSES.get(household.cause, household.cause),
        STATUSES.get(household.status, household.status),
        household.exit_year,
        household.phone,
        household.id_number,
        "是" if household.long_absent else "否",
        "、".join(names),
        "、".join(household.helpers),
        units[0] if shared else "、".join(units),
    ]


def _export_rows(reg: Registry) -> list[list[Any]]:
    # Numeric order of 户编号, which is also village order in the township's numbering.
    ordered = sorted(reg.households.values(), key=lambda h: (len(h.id), h.id))
    return [_export_row(h, reg) for h in ordered]


def _display_width(value: Any) -> int:
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _column_widths(rows: Iterable[list[Any]]) -> list[int]:
    widths = [_display_width(h) for h in COLUMNS]
    for row in rows:
        widths = [max(w, _display_width(v)) for w, v in zip(widths, row, strict=True)]
    return [min(max(w + 2, 6), 40) for w in widths]


def _xlsx_bytes(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_SHEET_TITLE)
    sheet.freeze_panes = "A2"
    for index, width in enumerate(_column_widths(rows), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header = []
    for title in COLUMNS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    text_columns = [c in _TEXT_COLUMNS for c in COLUMNS]
    for row in rows:
        cells = []
        for value, is_text in zip(row, text_columns, strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str) and value.startswith(_FORMULA_START):
                cell.data_type = "s"  # a name typed as "=..." is text, never a formula
            if is_text:
                # Kept as text so that Excel shows 4117210010001, not 4.11721E+12, and
                # keeps all 18 characters of an ID number.
                cell.number_format = "@"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # Excel would run "=..." as a formula; a leading apostrophe keeps it text, and the
        # importer takes the apostrophe off again.
        return "'" + value
    return value


def _csv_bytes(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    # With a BOM, as Excel saves it, so that Excel opens the Chinese text correctly.
    return buffer.getvalue().encode("utf-8-sig")


def export_registry_bytes(store: Store, fmt: str) -> bytes:
    """The whole registry as an .xlsx or .csv file (``fmt`` "xlsx" or "csv").

    The columns are those of the township's own file, in its order, so the result can be
    edited and imported again. Prefer xlsx for Excel: a CSV opened there loses the digits of
    long numbers.
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {FORMATS}, not {fmt!r}")
    rows = _export_rows(store.registry())
    return _xlsx_bytes(rows) if fmt == "xlsx" else _csv_bytes(rows)


def export_registry(store: Store, path: Path) -> int:
    """Write the registry to ``path`` (.xlsx or .csv, by its suffix); the number of
    households written. Raises ValueError for another suffix."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"export to a .xlsx or .csv file, not {path.name!r}")
    reg = store.registry()
    rows = _export_rows(reg)
    atomic_write_bytes(path, _xlsx_bytes(rows) if fmt == "xlsx" else _csv_bytes(rows))
    return len(rows)
