"""The registry written out as .xlsx or .csv, in the columns and order of the township's own
file, so that an exported file imports back to the same data."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from ..models import Household
from ..storage import Registry, Store, atomic_write_bytes
from ..vocab import ATTRIBUTES, CAUSES, STATUSES
from .columns import _FORMULA_START, _TEXT_COLUMNS, COLUMNS, READ_COLUMNS

_SHEET_TITLE = "花名册"
FORMATS = ("xlsx", "csv")


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


def _export_rows(reg: Registry) -> tuple[list[list[Any]], tuple[str, ...]]:
    """The rows and their columns: with 乡镇 last only for a county, so that a township's file
    is exactly the columns it always had."""
    # Numeric order of 户编号, which is also village order in the township's numbering.
    ordered = sorted(reg.households.values(), key=lambda h: (len(h.id), h.id))
    if not any(h.township for h in ordered):
        return [_export_row(h, reg) for h in ordered], COLUMNS
    return [[*_export_row(h, reg), h.township] for h in ordered], READ_COLUMNS


def _display_width(value: Any) -> int:
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _column_widths(rows: Iterable[list[Any]], columns: tuple[str, ...]) -> list[int]:
    widths = [_display_width(h) for h in columns]
    for row in rows:
        widths = [max(w, _display_width(v)) for w, v in zip(widths, row, strict=True)]
    return [min(max(w + 2, 6), 40) for w in widths]


def _xlsx_bytes(rows: list[list[Any]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_SHEET_TITLE)
    sheet.freeze_panes = "A2"
    for index, width in enumerate(_column_widths(rows, columns), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header = []
    for title in columns:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    text_columns = [c in _TEXT_COLUMNS for c in columns]
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


def _csv_bytes(rows: list[list[Any]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    # With a BOM, as Excel saves it, so that Excel opens the Chinese text correctly.
    return buffer.getvalue().encode("utf-8-sig")


class RegistrySource(Protocol):
    """Whatever hands out a registry: the store, or the web's view of it with masked IDs."""

    def registry(self) -> Registry: ...


def export_registry_bytes(store: RegistrySource, fmt: str) -> bytes:
    """The whole registry as an .xlsx or .csv file (``fmt`` "xlsx" or "csv").

    The columns are those of the township's own file, in its order, so the result can be
    edited and imported again. Prefer xlsx for Excel: a CSV opened there loses the digits of
    long numbers.
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {FORMATS}, not {fmt!r}")
    rows, columns = _export_rows(store.registry())
    return _xlsx_bytes(rows, columns) if fmt == "xlsx" else _csv_bytes(rows, columns)


def export_registry(store: Store, path: Path) -> int:
    """Write the registry to ``path`` (.xlsx or .csv, by its suffix); the number of
    households written. Raises ValueError for another suffix."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"export to a .xlsx or .csv file, not {path.name!r}")
    reg = store.registry()
    rows, columns = _export_rows(reg)
    data = _xlsx_bytes(rows, columns) if fmt == "xlsx" else _csv_bytes(rows, columns)
    atomic_write_bytes(path, data)
    return len(rows)
