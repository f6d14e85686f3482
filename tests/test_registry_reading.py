"""Reading the township's registry files: the samples, messy workbooks and CSVs."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    ACTOR,
    MESSY_ROWS,
    SAMPLE_CSV,
    SAMPLE_XLSX,
    content,
    csv_bytes,
    import_errors,
    people,
    xlsx_bytes,
)

from fieldvisit.registry import (
    import_registry,
    read_rows,
)
from fieldvisit.storage import Store

# Messages go through Flask-Babel, as they do when the CLI imports a file.
pytestmark = pytest.mark.usefixtures("app_context")


# --- the sample files ----------------------------------------------------------------------


def test_it_imports_the_sample_csv(blank: Store) -> None:
    report = import_registry(blank, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)

    assert (report.added, report.updated, report.unchanged) == (24, 0, 0)
    assert (report.helpers_added, report.helpers_updated, report.villages_added) == (12, 0, 1)
    reg = blank.registry()
    assert len(reg.households) == 24
    assert list(reg.villages) == ["聂河村"]
    h = reg.households["4117210010002"]
    assert (h.village, h.group, h.head, h.members) == ("聂河村", "7组", "梁刚", 3)
    # Codes, not labels, are stored.
    assert (h.attribute, h.cause, h.status, h.exit_year) == (
        "general",
        "illness",
        "not_exited",
        None,
    )
    assert (h.phone, h.id_number, h.long_absent) == ("15779608502", "41172119810905367X", False)
    assert h.helpers == ["13900000002"]
    assert h.updated_at
    exited = reg.households["4117210010007"]
    assert (exited.status, exited.exit_year) == ("exited", 2015)
    assert reg.households["4117210010016"].long_absent is True
    assert reg.households["4117210010006"].helpers == ["13900000004"]
    assert len({h.token for h in reg.households.values()}) == 24
    assert all(len(h.token) >= 20 for h in reg.households.values())
    helper = reg.users["13900000004"]
    assert (helper.name, helper.role, helper.unit, helper.password_hash) == (
        "沈文东",
        "helper",
        "县人社局",
        "",
    )


def test_it_records_the_import_in_the_audit_log(blank: Store) -> None:
    report = import_registry(blank, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)

    month = blank.registry().households["4117210010001"].updated_at[:7]
    [entry] = blank.audit_log.read_entries(month)
    assert (entry.action, entry.who, entry.target) == (
        "registry.import",
        ACTOR,
        "registry-sample.csv",
    )
    assert entry.after["counts"] == report.counts()
    assert entry.after["added"] == [f"41172100100{n:02d}" for n in range(1, 25)]
    assert entry.after["helpers_added"][0] == "13900000001"
    assert entry.after["villages_added"] == ["聂河村"]


def test_it_reads_the_sample_workbook_below_its_title_row(blank: Store, tmp_path: Path) -> None:
    rows = read_rows(SAMPLE_XLSX.read_bytes(), "registry-sample.xlsx")
    assert [number for number, _ in rows] == list(range(3, 27))
    assert rows[0][1]["户编号"] == "4117210010001"
    assert rows[0][1]["家庭人口"] == "2"  # a number cell in the workbook
    assert rows[6][1]["脱贫年度"] == "2015"

    report = import_registry(blank, SAMPLE_XLSX.read_bytes(), "registry-sample.xlsx", ACTOR)
    assert report.added == 24
    from_csv = Store(tmp_path / "from-csv")
    import_registry(from_csv, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)
    assert content(blank) == content(from_csv)
    assert people(blank) == people(from_csv)


def test_it_reads_a_csv_saved_as_gbk(blank: Store, tmp_path: Path) -> None:
    text = SAMPLE_CSV.read_text(encoding="utf-8-sig")
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the file really is not UTF-8

    report = import_registry(blank, data, "花名册.csv", ACTOR)

    assert report.added == 24
    assert blank.registry().households["4117210010001"].head == "马娟"
    from_utf8 = Store(tmp_path / "utf8")
    import_registry(from_utf8, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)
    assert content(blank) == content(from_utf8)
    assert people(blank) == people(from_utf8)


# --- messy files ---------------------------------------------------------------------------


def test_it_reads_a_messy_workbook(blank: Store) -> None:
    data = xlsx_bytes(MESSY_ROWS)
    assert [number for number, _ in read_rows(data, "messy.xlsx")] == [4, 5]

    report = import_registry(blank, data, "messy.xlsx", ACTOR)

    assert (report.added, report.helpers_added, report.villages_added) == (2, 3, 2)
    reg = blank.registry()
    first = reg.households["4117210010001"]
    assert (first.village, first.head, first.members, first.group) == ("聂河村", "马娟", 2, "9组")
    assert first.id_number == "41172119810905367X"
    assert (first.attribute, first.phone, first.long_absent) == ("dibao", "15391085858", False)
    assert first.helpers == ["13900000001"]
    second = reg.households["4117210020001"]
    assert (second.members, second.status, second.exit_year) == (3, "exited", 2016)
    assert second.id_number == "411721193701024373"
    assert second.long_absent is True
    assert second.helpers == ["13900000002", "13900000003"]  # the file's order
    assert reg.users["13900000003"].name == "苏春军"
    assert reg.users["13900000003"].unit == "县扶贫办"  # one unit shared by the row's helpers
    assert reg.users["13900000001"].name == "蒋海国"


def test_it_rejects_an_id_number_excel_stored_as_a_number(blank: Store) -> None:
    rows = [list(r) for r in MESSY_ROWS]
    rows[3][5] = 411721193701024373.0  # Excel keeps 15 digits: this reads back as ...024000

    [error] = import_errors(blank, xlsx_bytes(rows), "messy.xlsx")

    assert (error.row, error.column) == (4, "身份证号")
    assert "超过 15 位的部分已经丢失" in error.reason


def test_it_reads_a_messy_csv_with_other_header_names(blank: Store) -> None:
    cells = {
        "户编号": "4117210010001",
        "行政村": "聂河村",
        "户主": "马娟",
        "人口数": "2",
        "贫困户属性": "低保贫困户",
        "主要致贫原因": "因病",
        "脱贫状态": "未脱贫",
        "身份证号码": "4117 2119 3701 0243 73",
        "帮扶责任人": "蒋海国;郑金芝",
        "帮扶责任人电话": "13900000001 13900000002",
        "帮扶单位": "县供电公司、县扶贫办",
    }
    rows = [["2018年建档立卡户"], list(cells), list(cells.values()), [], [""] * len(cells)]

    import_registry(blank, csv_bytes(rows), "registry.csv", ACTOR)

    reg = blank.registry()
    h = reg.households["4117210010001"]
    assert (h.village, h.head, h.members, h.id_number) == (
        "聂河村",
        "马娟",
        2,
        "411721193701024373",
    )
    assert h.helpers == ["13900000001", "13900000002"]
    assert reg.users["13900000002"].unit == "县扶贫办"  # units paired with helpers in order
    # Columns the file leaves out keep their defaults.
    assert (h.group, h.phone, h.long_absent, h.exit_year) == ("", "", False, None)


def test_it_reads_a_tab_separated_file(blank: Store) -> None:
    text = SAMPLE_CSV.read_text(encoding="utf-8-sig").replace(",", "\t")
    report = import_registry(blank, text.encode("utf-16"), "registry.txt", ACTOR)
    assert report.added == 24
