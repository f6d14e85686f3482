"""An .xlsx file's cell values read straight from its XML: the fast way in for a county.

openpyxl builds an object per cell even when asked only for values: a county's registry
(13,520 rows, 16 columns) took some 20 seconds to read that way, most of an import. This
reads the same values with the standard library's streaming XML parser, several times
faster. It reads only what it knows — worksheets, shared and inline strings (phonetic runs
left out, as openpyxl does), numbers, booleans, errors, formulas' cached values, ISO dates,
and serial dates by their number format (judged with openpyxl's own format rules) — and
raises ``Unsupported`` for anything else (a chart sheet, an unknown cell type, a damaged
part), so that the caller reads that file with openpyxl as before. The grids it gives are
the ones openpyxl's read-only ``iter_rows(values_only=True)`` gives after
``reset_dimensions()``: rows from 1 with missing rows empty, each row as wide as its last
cell (tests/test_xlsx_reading.py holds the two against each other).
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from typing import IO, Any
from xml.etree.ElementTree import Element, iterparse

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_OFFICE_DOCUMENT = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)
_ROW, _C, _V, _IS = f"{_MAIN}row", f"{_MAIN}c", f"{_MAIN}v", f"{_MAIN}is"
_T, _R = f"{_MAIN}t", f"{_MAIN}r"


class Unsupported(Exception):
    """Something this reader does not handle: read the file with openpyxl instead."""


def _parse(archive: zipfile.ZipFile, name: str) -> Element:
    with archive.open(name) as fh:
        for _event, element in iterparse(fh, events=("end",)):
            root = element
    return root


def _rels(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """The relationships of ``part``: id -> (type, target path in the archive)."""
    folder, name = posixpath.split(part)
    path = posixpath.join(folder, "_rels", f"{name}.rels")
    found = {}
    for rel in _parse(archive, path).iter(f"{_PKG}Relationship"):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[rel.get("Id", "")] = (rel.get("Type", ""), posixpath.normpath(resolved))
    return found


def _text(node: Element) -> str:
    """A string item's text as openpyxl's ``Text.content``: the plain text and the runs'
    texts, never the phonetic guide (rPh) Chinese Excel adds."""
    # Children walked by hand: ElementPath (findtext, iterfind) costs more than the
    # parse itself at a county's 200,000 cells.
    parts = []
    for child in node:
        if child.tag == _T:
            parts.append(child.text or "")
        elif child.tag == _R:
            parts.extend(t.text or "" for t in child if t.tag == _T)
    return "".join(parts)


def _shared_strings(archive: zipfile.ZipFile, target: str | None) -> list[str]:
    if target is None:
        return []
    with archive.open(target) as fh:
        strings = []
        for _event, node in iterparse(fh):
            if node.tag == f"{_MAIN}si":
                strings.append(_text(node).replace("x005F_", ""))
                node.clear()
    return strings


def _date_styles(archive: zipfile.ZipFile, target: str | None) -> tuple[set[int], set[int]]:
    """The cell styles (indexes into cellXfs) that hold dates, and those holding durations,
    by openpyxl's rules for number formats."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format

    if target is None:
        return set(), set()
    root = _parse(archive, target)
    custom = {
        int(f.get("numFmtId", "-1")): f.get("formatCode", "")
        for f in root.iterfind(f"{_MAIN}numFmts/{_MAIN}numFmt")
    }
    dates, durations = set(), set()
    for index, xf in enumerate(root.iterfind(f"{_MAIN}cellXfs/{_MAIN}xf")):
        number = int(xf.get("numFmtId", "0"))
        fmt = custom.get(number, BUILTIN_FORMATS.get(number))
        if fmt is not None and is_date_format(fmt):
            dates.add(index)
        if fmt is not None and is_timedelta_format(fmt):
            durations.add(index)
    return dates, durations


class _Book:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900

        root_rels = _rels(archive, "")
        workbook = next((t for k, t in root_rels.values() if k == _OFFICE_DOCUMENT), None)
        if workbook is None:
            raise Unsupported("no workbook")
        rels = _rels(archive, workbook)
        by_type = {kind.rsplit("/", 1)[-1]: target for kind, target in rels.values()}
        root = _parse(archive, workbook)
        self.sheets: list[str] = []
        for sheet in root.iterfind(f"{_MAIN}sheets/{_MAIN}sheet"):
            kind, target = rels.get(sheet.get(f"{_REL}id", ""), ("", ""))
            if kind != _WORKSHEET:
                raise Unsupported(f"sheet of type {kind}")
            self.sheets.append(target)
        view = root.find(f"{_MAIN}bookViews/{_MAIN}workbookView")
        self.active = int(view.get("activeTab", "0")) if view is not None else 0
        pr = root.find(f"{_MAIN}workbookPr")
        mac = pr is not None and pr.get("date1904", "").lower() in ("1", "true")
        self.epoch = CALENDAR_MAC_1904 if mac else CALENDAR_WINDOWS_1900
        self.strings = _shared_strings(archive, by_type.get("sharedStrings"))
        self.dates, self.durations = _date_styles(archive, by_type.get("styles"))


def _number(text: str) -> int | float:
    return float(text) if "." in text or "E" in text or "e" in text else int(text)


def _column(reference: str) -> int:
    number = 0
    for ch in reference:
        if "A" <= ch <= "Z":
            number = number * 26 + ord(ch) - 64
        elif ch.isdigit():
            break
        else:
            raise Unsupported(f"cell reference {reference}")
    return number


def _value(book: _Book, cell: Element) -> Any:
    kind = cell.get("t", "n")
    value = None
    for child in cell:
        if kind == "inlineStr" and child.tag == _IS:
            return _text(child)
        if child.tag == _V:
            value = child.text or None
    if value is None or kind == "inlineStr":
        return None
    if kind == "n":
        number = _number(value)
        style = int(cell.get("s") or 0)
        if style not in book.dates:
            return number
        from openpyxl.utils.datetime import from_excel

        try:
            return from_excel(number, book.epoch, timedelta=style in book.durations)
        except (OverflowError, ValueError):
            return "#VALUE!"  # what openpyxl makes of a date out of range
    if kind == "s":
        return book.strings[int(value)]
    if kind == "b":
        return bool(int(value))
    if kind in ("str", "e"):
        return value
    if kind == "d":
        from openpyxl.utils.datetime import from_ISO8601

        return from_ISO8601(value)
    raise Unsupported(f"cell type {kind}")


def _row(book: _Book, element: Element) -> list[Any]:
    cells: list[tuple[int, Any]] = []
    column = 0
    for cell in element:
        if cell.tag != _C:
            continue
        reference = cell.get("r")
        column = _column(reference) if reference else column + 1
        cells.append((column, _value(book, cell)))
    if not cells:
        return []
    values: list[Any] = [None] * cells[-1][0]  # as wide as its last cell, as openpyxl's
    for at, value in cells:
        if at <= len(values):
            values[at - 1] = value
    return values


def _grid(archive: zipfile.ZipFile, book: _Book, target: str) -> list[list[Any]]:
    grid: list[list[Any]] = []
    number = 0
    fh: IO[bytes]
    with archive.open(target) as fh:
        for _event, element in iterparse(fh):
            if element.tag != _ROW:
                continue
            given = element.get("r")
            number = int(float(given)) if given else number + 1
            if number > len(grid):  # a row out of order or repeated is skipped, as openpyxl does
                grid.extend([] for _ in range(number - 1 - len(grid)))
                grid.append(_row(book, element))
            element.clear()
    return grid


def sheet_grids(data: bytes) -> Iterator[list[list[Any]]]:
    """The cell values of each worksheet, the active one first then the others in order.
    Raises ``Unsupported`` (possibly after some grids) for a file it cannot read in full."""
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        with archive:
            book = _Book(archive)
            order = list(range(len(book.sheets)))
            if 0 <= book.active < len(order):
                order.insert(0, order.pop(book.active))
            for index in order:
                yield _grid(archive, book, book.sheets[index])
    except Unsupported:
        raise
    except Exception as exc:  # a damaged or unusual file: openpyxl says what is wrong
        raise Unsupported(str(exc)) from exc
