"""Reading a registry file (XLSX, or CSV in UTF-8, GBK or UTF-16) into a table of cleaned
cell texts, found below its header row wherever that is."""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

from flask_babel import gettext as _

from .columns import _ALIASES, _COMPACT, _FORMULA_START, _HEADER_KEYS, _NUMERIC, READ_COLUMNS
from .errors import _file_error


@dataclass(frozen=True)
class Layout:
    """The columns of one kind of spreadsheet: the registry's, or another list read the same
    way (household members, other departments' lists; see fieldvisit/reconcile)."""

    columns: tuple[str, ...]
    keys: tuple[str, ...]  # the header row is the first row that has all of these
    aliases: Mapping[str, str] = field(default_factory=dict)  # other headers -> column
    numeric: frozenset[str] = frozenset()  # cells holding numbers (see _normalise)
    compact: frozenset[str] = frozenset()  # cells where a space is never meant
    # What to say when no row has the keys; None: the registry's message.
    no_header: Callable[[], str] | None = None


REGISTRY_LAYOUT = Layout(READ_COLUMNS, _HEADER_KEYS, _ALIASES, _NUMERIC, _COMPACT)

# Title rows above the header are a line or two; a file without a header in its first
# rows is the wrong file, and scanning further only delays saying so.
_HEADER_SEARCH_ROWS = 30
_ZERO_DECIMALS = re.compile(r"([0-9]+)\.0*")


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


# What a cell's text is stripped of at its edges: every character str.isspace() holds (the
# \s of a str pattern) and the invisible ones Excel and WPS leave (BOM, zero-width space).
# str.strip and str.translate do per cell what regular expressions did, without the regex
# engine: a county's 200,000 cells spent a second in it (tests/test_xlsx_reading.py holds
# the two to the same result).
_EDGE_CHARACTERS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u200b"
)


def _strip(text: str) -> str:
    return text.strip(_EDGE_CHARACTERS)


# Control characters (pasted from other systems) are invisible, mean nothing in a registry,
# and cannot be written to an .xlsx file: a household holding one could not be exported.
_CONTROL_DELETED = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


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
    text = _strip(str(value).translate(_CONTROL_DELETED))
    if text.startswith("'") and text[1:2] in _FORMULA_START:
        text = text[1:]  # the apostrophe our CSV export puts before formula-like text
    return text


def _normalise(column: str, value: Any, layout: Layout = REGISTRY_LAYOUT) -> str:
    text = _cell_text(value)
    if column in layout.numeric:
        text = unicodedata.normalize("NFKC", text)
        match = _ZERO_DECIMALS.fullmatch(text)
        if match:
            text = match.group(1)
    if column in layout.compact:
        text = "".join(text.split())
    return text


def _header_name(value: Any, layout: Layout = REGISTRY_LAYOUT) -> str:
    text = "".join(_cell_text(value).split()).strip("*＊")
    return layout.aliases.get(text, text)


def _header_index(grid: list[list[Any]], layout: Layout) -> int | None:
    for index, raw in enumerate(grid[:_HEADER_SEARCH_ROWS]):
        names = {_header_name(v, layout) for v in raw}
        if all(key in names for key in layout.keys):
            return index
    return None


def _find_table(grid: list[list[Any]], layout: Layout = REGISTRY_LAYOUT) -> _Table | None:
    """The header row and the data rows below it, or None when ``grid`` has no header."""
    index = _header_index(grid, layout)
    if index is None:
        return None
    raw = grid[index]
    names = [_header_name(v, layout) for v in raw]
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    duplicates: list[str] = []
    for pos, name in enumerate(names):
        if name not in layout.columns:
            continue  # 序号 and other columns of the office's own
        if name in positions:
            duplicates.append(name)
            continue
        positions[name] = pos
        headers[name] = _cell_text(raw[pos])
    table = _Table(index + 1, headers, duplicates, [])
    for number, line in enumerate(grid[index + 1 :], start=index + 2):
        raw_cells = {c: line[p] if p < len(line) else None for c, p in positions.items()}
        cells = {c: _normalise(c, v, layout) for c, v in raw_cells.items()}
        if not any(cells.values()):
            continue  # empty rows, and rows that only number themselves (序号)
        if all(_header_name(text, layout) == column for column, text in cells.items()):
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


def _xlsx_table(data: bytes, layout: Layout = REGISTRY_LAYOUT) -> _Table | None:
    from .xlsx import Unsupported, sheet_grids

    try:
        for grid in sheet_grids(data):
            table = _find_table(grid, layout)
            if table is not None:
                return table
        return None
    except Unsupported:
        return _openpyxl_table(data, layout)


def _openpyxl_table(data: bytes, layout: Layout) -> _Table | None:
    """The table as openpyxl reads it: for the files the fast reader leaves to it, and to
    say what is wrong with a damaged one."""
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
            table = _find_table([list(r) for r in sheet.iter_rows(values_only=True)], layout)
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


def _csv_table(data: bytes, layout: Layout = REGISTRY_LAYOUT) -> _Table | None:
    text = _decode(data)
    # The delimiter is whichever one turns up a header row: guessing from the data alone
    # is unreliable when helpers' names are themselves separated by commas.
    for delimiter in (",", "\t", ";"):
        try:
            grid = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            raise _file_error(_("无法读取这个 CSV 文件")) from exc
        table = _find_table(grid, layout)
        if table is not None:
            return table
    return None


def _read_table(data: bytes, filename: str, layout: Layout = REGISTRY_LAYOUT) -> _Table:
    kind = _file_kind(data, filename)
    table = _xlsx_table(data, layout) if kind == "xlsx" else _csv_table(data, layout)
    if table is None and layout.no_header is not None:
        raise _file_error(layout.no_header())
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
