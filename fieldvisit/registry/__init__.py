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

The package, in the order a file passes through it: ``columns`` (the township's columns and
their other names), ``reading`` (bytes to a table of cell texts), ``fields`` (each cell to a
Household field), ``checking`` (the rows, every problem at once), ``importing`` (the checked
file into the store) and ``exporting``; ``errors`` says what is wrong. The names below are
its interface.
"""

from __future__ import annotations

from .checking import check_row
from .columns import COLUMNS, REQUIRED_COLUMNS
from .errors import RegistryError, RowError
from .exporting import FORMATS, export_registry, export_registry_bytes
from .fields import _FIELDS as _FIELDS  # tests hold it against the Household's fields
from .fields import (
    FIRST_EXIT_YEAR,
    MAX_MEMBERS,
    MaskedIdNumberMismatch,
    field_of_column,
    is_masked_id_number,
    keep_or_replace_id_number,
)
from .importing import HouseholdChange, ImportReport, import_registry
from .reading import read_rows

__all__ = [
    "COLUMNS",
    "FIRST_EXIT_YEAR",
    "FORMATS",
    "MAX_MEMBERS",
    "REQUIRED_COLUMNS",
    "HouseholdChange",
    "ImportReport",
    "MaskedIdNumberMismatch",
    "RegistryError",
    "RowError",
    "check_row",
    "export_registry",
    "export_registry_bytes",
    "field_of_column",
    "import_registry",
    "is_masked_id_number",
    "keep_or_replace_id_number",
    "read_rows",
]
