"""The fast .xlsx reader gives exactly what openpyxl gives, and leaves to openpyxl what it
does not know."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time
from typing import Any

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference

from fieldvisit.registry import RegistryError, reading
from fieldvisit.registry.xlsx import Unsupported, sheet_grids
from tests.helpers import SAMPLE_XLSX, xlsx_bytes


def openpyxl_grids(data: bytes) -> list[list[list[Any]]]:
    """What the import read with openpyxl alone: the active sheet first."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sheets = list(book.worksheets)
    if book.active in sheets:
        sheets.remove(book.active)
        sheets.insert(0, book.active)
    grids = []
    for sheet in sheets:
        sheet.reset_dimensions()
        grids.append([list(r) for r in sheet.iter_rows(values_only=True)])
    book.close()
    return grids


def _saved(book: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _varied() -> bytes:
    """Two sheets, the second active; gaps, numbers, dates, booleans, formulas."""
    book = openpyxl.Workbook()
    first = book.active
    first.title = "说明"
    first["A1"] = "填写说明"
    second = book.create_sheet("花名册")
    second.append(["户编号", "户主姓名", "村", "家庭人口", "登记日期", "长期不在家"])
    second.append(["4117210010001", "马娟", "聂河村", 2, date(2020, 1, 3), True])
    second.append([4117210010002, " 梁刚 ", "聂河村", 2.0, datetime(2020, 1, 3, 8, 30), False])
    second["C6"] = "空了两行"
    second["G6"] = "=1+1"
    second["B7"] = time(8, 30)
    second["D7"] = 1.5e20
    second["E7"] = 43831
    second["E7"].number_format = "yyyy-mm-dd"
    book.active = 1
    return _saved(book)


def _with_phonetic_guide(data: bytes) -> bytes:
    """``data`` with its first shared string replaced by rich text carrying a phonetic guide
    (rPh), as Chinese and Japanese Excel write: the guide is not part of the text."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            payload = source.read(item.filename)
            if item.filename == "xl/sharedStrings.xml":
                text = payload.decode("utf-8")
                start = text.index("<si>")
                end = text.index("</si>", start) + len("</si>")
                rich = '<si><r><t>户</t></r><r><t xml:space="preserve">编号</t></r>'
                rich += '<rPh sb="0" eb="1"><t>hu</t></rPh></si>'
                payload = (text[:start] + rich + text[end:]).encode("utf-8")
            target.writestr(item, payload)
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE_XLSX.read_bytes(),
        _varied(),
        xlsx_bytes([["户编号", "村"], ["0001", "聂河村"]]),
        _with_phonetic_guide(xlsx_bytes([["户编号", "村"], ["0001", "聂河村"]])),
    ],
    ids=["sample", "varied", "small", "phonetic"],
)
def test_it_reads_what_openpyxl_reads(data: bytes) -> None:
    assert list(sheet_grids(data)) == openpyxl_grids(data)


def test_it_reads_our_own_export_with_inline_strings(store, households) -> None:  # type: ignore[no-untyped-def]
    from fieldvisit.registry import export_registry_bytes

    data = export_registry_bytes(store, "xlsx")
    assert list(sheet_grids(data)) == openpyxl_grids(data)


def test_a_chart_sheet_is_left_to_openpyxl() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["户编号", "户主姓名", "村"], ["4117210010001", "马娟", "聂河村"]):
        sheet.append(row)
    chart = BarChart()
    chart.add_data(Reference(sheet, min_col=1, min_row=1, max_row=2))
    book.create_chartsheet("图").add_chart(chart)
    data = _saved(book)
    with pytest.raises(Unsupported):
        list(sheet_grids(data))
    table = reading._xlsx_table(data)
    assert table is not None and table.rows == [
        (2, {"户编号": "4117210010001", "户主姓名": "马娟", "村": "聂河村"})
    ]


def test_a_damaged_file_is_said_to_be_unreadable(app_context) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistryError) as caught:
        reading._read_table(b"PK\x03\x04 not really a zip", "花名册.xlsx")
    assert "无法读取这个 Excel 文件" in str(caught.value)


def test_cells_are_cleaned_as_the_patterns_cleaned_them() -> None:
    import re
    import sys

    edges = re.compile(r"^[\s\ufeff\u200b]+|[\s\ufeff\u200b]+$")
    control = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    for ch in [*spaces, "\ufeff", "\u200b", "\x00", "\x07", "\x7f", "a", "马", "'"]:
        text = f"{ch} {ch}马{ch}娟{ch}\u3000{ch}"
        assert reading._cell_text(text) == edges.sub("", control.sub("", text)), repr(ch)
