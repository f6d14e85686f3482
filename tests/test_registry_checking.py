"""Checking a registry file: a bad file imports nothing and names every problem."""

from __future__ import annotations

import pytest
from helpers import (
    ACTOR,
    ERRORS_CSV,
    SAMPLE_CSV,
    csv_bytes,
    import_errors,
    sample_rows,
    stored_bytes,
    with_changes,
)

from fieldvisit.registry import (
    RegistryError,
    import_registry,
)
from fieldvisit.storage import Store

# Messages go through Flask-Babel, as they do when the CLI imports a file.
pytestmark = pytest.mark.usefixtures("app_context")


# --- rejected files ------------------------------------------------------------------------


def test_it_rejects_the_error_file_whole_naming_each_bad_row(blank: Store) -> None:
    errors = import_errors(blank, ERRORS_CSV.read_bytes(), "registry-errors.csv")

    assert [(e.row, e.column) for e in errors] == [
        (4, "家庭人口"),
        (6, "贫困户属性"),
        (7, "户编号"),
        (9, "户主姓名"),
    ]
    assert str(errors[0]) == "第 4 行，家庭人口：“0”不对，应为 1 到 99 之间的整数"
    assert "特困户" in errors[1].reason
    assert "与第 3 行重复" in errors[2].reason  # both rows named
    assert errors[3].reason == "不能为空"
    # Nothing at all was written: no registry, no audit entry.
    assert blank.registry().households == {}
    assert blank.registry().users == {}
    assert not stored_bytes(blank.root / "registry.json")
    assert not (blank.root / "audit").exists()


def test_a_rejected_file_leaves_the_stored_registry_as_it_was(blank: Store) -> None:
    import_registry(blank, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)
    before = blank.registry()
    registry_file = stored_bytes(blank.root / "registry.json")

    import_errors(blank, ERRORS_CSV.read_bytes(), "registry-errors.csv")

    assert stored_bytes(blank.root / "registry.json") == registry_file
    assert blank.registry() is before


def test_the_error_message_says_every_line(blank: Store) -> None:
    with pytest.raises(RegistryError) as caught:
        import_registry(blank, ERRORS_CSV.read_bytes(), "registry-errors.csv", ACTOR)
    lines = str(caught.value).splitlines()
    assert len(lines) == 4
    assert lines[3] == "第 9 行，户主姓名：不能为空"


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"户编号": "4117-0010001"}, "户编号", "只能由数字组成"),
        ({"户编号": ""}, "户编号", "不能为空"),
        ({"村": "\u3000"}, "村", "不能为空"),
        ({"家庭人口": "2.5"}, "家庭人口", "1 到 99 之间的整数"),
        ({"家庭人口": "两"}, "家庭人口", "1 到 99 之间的整数"),
        # Found by the property tests: Excel would round it on the way back.
        ({"家庭人口": "1000000000000000000"}, "家庭人口", "1 到 99 之间的整数"),
        ({"主要致贫原因": "因懒"}, "主要致贫原因", "因病、因残"),
        ({"脱贫状态": "脱贫"}, "脱贫状态", "未脱贫、已脱贫"),
        ({"脱贫状态": "已脱贫"}, "脱贫年度", "已脱贫的户必须填写脱贫年度"),
        ({"脱贫年度": "16"}, "脱贫年度", "不是年份"),
        ({"身份证号": "41172119370102437"}, "身份证号", "位数不对：应为 18 位，这里是 17 位"),
        ({"身份证号": "411721193701024374"}, "身份证号", "校验位"),
        ({"身份证号": "411721193702304373"}, "身份证号", "出生日期"),
        ({"身份证号": "41172119370102437A"}, "身份证号", "17 位数字"),
        ({"长期不在家": "不知道"}, "长期不在家", "应为“是”或“否”"),
        ({"帮扶责任人电话": "1390000001"}, "帮扶责任人电话", "不是 11 位手机号码"),
        (
            {"帮扶责任人电话": "13900000001、13900000001", "帮扶责任人": "蒋海国、蒋海国"},
            "帮扶责任人电话",
            "填了两次",
        ),
        ({"帮扶责任人": "蒋海国、郑金芝"}, "帮扶责任人", "有 2 个帮扶责任人，却有 1 个电话"),
        (
            {
                "帮扶责任人": "蒋海国、钱多",
                "帮扶责任人电话": "13900000001、13900000099",
                "帮扶单位": "甲、乙、丙",
            },
            "帮扶单位",
            "逐一填写",
        ),
    ],
)
def test_it_rejects_a_bad_cell(
    blank: Store, changes: dict[str, str], column: str, reason: str
) -> None:
    [error] = import_errors(blank, with_changes(changes))
    assert (error.row, error.column) == (2, column)
    assert reason in error.reason
    assert str(error).startswith(f"第 2 行，{column}：")
    assert blank.registry().households == {}


def test_it_never_shows_the_id_number_in_an_error(blank: Store) -> None:
    [error] = import_errors(blank, with_changes({"身份证号": "411721193701024374"}))
    assert "411721193701024374" not in str(error)


def test_it_collects_every_error_of_a_row(blank: Store) -> None:
    data = with_changes({"户主姓名": "", "家庭人口": "0", "长期不在家": "x"}, row=3)
    errors = import_errors(blank, data)
    assert [(e.row, e.column) for e in errors] == [
        (4, "户主姓名"),
        (4, "家庭人口"),
        (4, "长期不在家"),
    ]


def test_it_rejects_one_phone_with_two_names(blank: Store) -> None:
    errors = import_errors(blank, with_changes({"帮扶责任人": "蒋海军"}, row=5))
    # Rows 5, 6 and 7 of the file all name 13900000004; row 6 now says someone else.
    assert [(e.row, e.column) for e in errors] == [(6, "帮扶责任人")]
    assert "第 5 行是“沈文东”" in errors[0].reason


def test_it_rejects_one_helper_with_two_units(blank: Store) -> None:
    errors = import_errors(blank, with_changes({"帮扶单位": "县教育局"}, row=6))
    assert [(e.row, e.column) for e in errors] == [(7, "帮扶单位")]
    assert "第 5 行是“县人社局”" in errors[0].reason


def test_it_names_a_missing_column_at_the_header_row(blank: Store) -> None:
    rows = [["花名册"]] + [r[:4] + r[5:] for r in sample_rows()]  # no 家庭人口
    errors = import_errors(blank, csv_bytes(rows))
    assert [(e.row, e.column, e.reason) for e in errors] == [(2, "家庭人口", "缺少这一列")]


def test_it_needs_the_helpers_phones_with_their_names(blank: Store) -> None:
    rows = [r[:13] + r[14:] for r in sample_rows()]  # no 帮扶责任人电话
    errors = import_errors(blank, csv_bytes(rows))
    assert [(e.row, e.column) for e in errors] == [(1, "帮扶责任人电话")]


def test_it_refuses_a_file_without_a_header_row(blank: Store) -> None:
    errors = import_errors(blank, csv_bytes([["姓名", "电话"], ["马娟", "15391085858"]]))
    assert [e.row for e in errors] == [0]
    assert str(errors[0]) == errors[0].reason
    assert "找不到表头行" in errors[0].reason


def test_it_refuses_a_file_with_only_a_header(blank: Store) -> None:
    errors = import_errors(blank, csv_bytes(sample_rows()[:1]))
    assert [(e.row, e.reason) for e in errors] == [(1, "表头下面没有数据行")]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("registry.pdf", b"%PDF-1.4", "请上传 .xlsx 或 .csv 文件"),
        ("registry.xls", b"\xd0\xcf\x11\xe0", "另存为 .xlsx"),
        ("registry.xlsx", b"not a zip file", "无法读取这个 Excel 文件"),
    ],
)
def test_it_refuses_files_it_cannot_read(blank: Store, name: str, data: bytes, reason: str) -> None:
    [error] = import_errors(blank, data, name)
    assert reason in error.reason
    assert not (blank.root / "registry.json").exists()
