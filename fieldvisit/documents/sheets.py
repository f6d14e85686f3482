"""Values for spreadsheet cells that open in Excel and WPS as they were typed.

Text from the field (notes, need descriptions) may hold control characters pasted from other
apps: openpyxl refuses to write them, and one such note would stop the whole month's export.
Text starting with "=" must stay text: a cell that Excel reads as a formula can run one.
"""

from __future__ import annotations

import re
from typing import Any

# What the XML of a worksheet cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def cell_value(value: Any) -> Any:
    """``value`` with the characters a worksheet cannot hold removed from text."""
    return _ILLEGAL.sub("", value) if isinstance(value, str) else value


def keep_text_as_text(sheet: Any, min_row: int = 1) -> None:
    """Mark every text cell of a (normal, not write-only) sheet as a string, so that text
    starting with "=" is not written as a formula."""
    for row in sheet.iter_rows(min_row=min_row):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
