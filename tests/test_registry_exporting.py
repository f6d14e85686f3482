"""Exporting the registry with the import's columns, and reading it back."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask import Flask
from helpers import (
    ACTOR,
    MESSY_ROWS,
    SAMPLE_CSV,
    SAMPLE_XLSX,
    content,
    people,
    xlsx_bytes,
)

from fieldvisit import registry
from fieldvisit.models import Household
from fieldvisit.registry import (
    COLUMNS,
    export_registry,
    export_registry_bytes,
    import_registry,
)
from fieldvisit.storage import Store

# Messages go through Flask-Babel, as they do when the CLI imports a file.
pytestmark = pytest.mark.usefixtures("app_context")


# --- export --------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["sample", "messy"])
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_then_import_gives_the_same_data(
    blank: Store, tmp_path: Path, source: str, fmt: str
) -> None:
    if source == "sample":
        import_registry(blank, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)
    else:
        import_registry(blank, xlsx_bytes(MESSY_ROWS), "messy.xlsx", ACTOR)
    out = tmp_path / f"export.{fmt}"

    count = export_registry(blank, out)

    assert count == len(blank.registry().households)
    fresh = Store(tmp_path / "fresh")
    import_registry(fresh, out.read_bytes(), out.name, ACTOR)
    assert content(fresh) == content(blank)
    assert people(fresh) == people(blank)
    assert set(fresh.registry().villages) == set(blank.registry().villages)
    again = import_registry(blank, out.read_bytes(), out.name, ACTOR)
    assert (again.updated, again.unchanged, again.helpers_updated) == (0, count, 0)


def test_the_csv_export_of_the_sample_is_the_sample(blank: Store) -> None:
    import_registry(blank, SAMPLE_XLSX.read_bytes(), "registry-sample.xlsx", ACTOR)
    assert export_registry_bytes(blank, "csv") == SAMPLE_CSV.read_bytes()


def test_the_workbook_keeps_numbers_as_text_under_a_frozen_bold_header(
    blank: Store, tmp_path: Path
) -> None:
    import_registry(blank, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)
    path = tmp_path / "out.xlsx"
    export_registry(blank, path)

    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == list(COLUMNS)
    assert all(c.font.b for c in sheet[1])
    first = {title: cell for title, cell in zip(COLUMNS, sheet[2], strict=True)}
    for column in ("户编号", "联系电话", "身份证号", "帮扶责任人电话"):
        assert first[column].data_type == "s"
        assert first[column].number_format == "@"
    assert first["户编号"].value == "4117210010001"
    assert first["身份证号"].value == "411721193701024373"
    assert first["家庭人口"].value == 2
    assert sheet.max_row == 25
    assert sheet.column_dimensions["K"].width >= 20  # an ID number fits
    book.close()


def test_it_exports_helpers_and_their_units_in_order(blank: Store) -> None:
    import_registry(blank, xlsx_bytes(MESSY_ROWS), "messy.xlsx", ACTOR)

    def change_unit(reg: Any) -> None:
        reg.users["13900000003"].unit = "县民政局"

    blank.update_registry(change_unit)
    text = export_registry_bytes(blank, "csv").decode("utf-8-sig")
    row = next(r for r in csv.reader(io.StringIO(text)) if r[0] == "4117210020001")
    record = dict(zip(COLUMNS, row, strict=True))
    assert record["帮扶责任人"] == "郑金芝、苏春军"
    assert record["帮扶责任人电话"] == "13900000002、13900000003"
    assert record["帮扶单位"] == "县扶贫办、县民政局"  # units differ: one per helper
    assert (record["脱贫状态"], record["脱贫年度"], record["长期不在家"]) == (
        "已脱贫",
        "2016",
        "是",
    )


@pytest.mark.parametrize("name", ["out.pdf", "out.xls", "out"])
def test_it_refuses_other_export_formats(blank: Store, tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        export_registry(blank, tmp_path / name)
    with pytest.raises(ValueError):
        export_registry_bytes(blank, "pdf")
    assert not (tmp_path / name).exists()


def test_an_empty_registry_exports_just_the_header(blank: Store, tmp_path: Path) -> None:
    assert export_registry(blank, tmp_path / "empty.csv") == 0
    data = (tmp_path / "empty.csv").read_bytes()
    assert data == ("\ufeff" + ",".join(COLUMNS) + "\r\n").encode("utf-8")


def test_household_fields_round_trip_through_the_columns() -> None:
    # Every field a spreadsheet can hold has a column; the rest are the app's own.
    columns_hold = {"id", "village", "group", "head", "members", "attribute", "cause"}
    columns_hold |= {"status", "exit_year", "phone", "id_number", "long_absent", "helpers"}
    columns_hold |= {"township"}  # 乡镇: read, and written for a county (docs/decisions/0016)
    own = {"token", "location", "updated_at"}
    assert {f.name for f in dataclasses.fields(Household)} == columns_hold | own
    assert {name for name, _parse in registry._FIELDS.values()} | {"helpers"} == columns_hold


def test_formula_like_text_is_exported_as_text_and_comes_back_unchanged(tmp_path):
    from flask_babel import Babel

    from fieldvisit.registry import export_registry, import_registry
    from fieldvisit.storage import Store

    app = Flask(__name__)
    Babel(app)
    header = "户编号,村,户主姓名,家庭人口,贫困户属性,主要致贫原因,脱贫状态,组\n"
    row = '4117210010001,聂河村,马娟,2,低保贫困户,因病,未脱贫,"=HYPERLINK(""x"")"\n'
    with app.app_context():
        store = Store(tmp_path / "a")
        import_registry(store, (header + row).encode(), "r.csv", actor="test")
        assert store.household("4117210010001").group == '=HYPERLINK("x")'
        for suffix in ("csv", "xlsx"):
            out = tmp_path / f"out.{suffix}"
            export_registry(store, out)
            if suffix == "csv":
                assert "'=HYPERLINK" in out.read_text(encoding="utf-8-sig")
            else:
                import openpyxl

                sheet = openpyxl.load_workbook(out).active
                cell = next(c for r in sheet.iter_rows() for c in r if "HYPERLINK" in str(c.value))
                assert cell.data_type == "s"
            again = Store(tmp_path / suffix)
            import_registry(again, out.read_bytes(), out.name, actor="test")
            assert again.household("4117210010001").group == '=HYPERLINK("x")'
