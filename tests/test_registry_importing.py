"""Importing again: updates in place, and ID numbers sent back empty or masked."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from flask import Flask
from helpers import (
    ACTOR,
    SAMPLE_CSV,
    SAMPLE_XLSX,
    content,
    csv_bytes,
    import_errors,
    sample_rows,
    with_changes,
)

from fieldvisit import registry
from fieldvisit.idcard import check_digit
from fieldvisit.models import User
from fieldvisit.registry import (
    import_registry,
)
from fieldvisit.storage import Store

# Messages go through Flask-Babel, as they do when the CLI imports a file.
pytestmark = pytest.mark.usefixtures("app_context")


# --- importing again -----------------------------------------------------------------------


def test_a_second_import_updates_in_place_and_keeps_tokens(
    blank: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def make_admin(reg: Any) -> None:
        # 冯凤英's phone belongs to someone who already logs in (as a helper: an office
        # account is refused, see test_import_office_accounts).
        reg.users["13900000012"] = User("13900000012", "冯主任", "helper", password_hash="h")

    blank.update_registry(make_admin)
    monkeypatch.setattr(registry.importing, "now_iso", lambda: "2024-05-01T09:00:00+08:00")
    first = import_registry(blank, SAMPLE_CSV.read_bytes(), "may.csv", ACTOR)
    assert (first.helpers_added, first.helpers_updated) == (11, 1)
    tokens = {h.id: h.token for h in blank.registry().households.values()}

    def locate(reg: Any) -> None:
        reg.households["4117210010001"].location = {"lat": 32.1, "lng": 112.9}

    blank.update_registry(locate)
    rows = sample_rows()
    rows[2][4] = "4"  # 4117210010002: 3 -> 4 members
    rows[3][10] = "41172119550305162" + check_digit("41172119550305162")  # a corrected ID
    rows[1][12] = "蒋海军"  # the helper's name corrected
    new = ["4117210010025", "王寨村", "1组", "新户", "1", "一般贫困户", "因病", "未脱贫", ""]
    rows.append([*new, "", "", "否", "钱新", "13900000099", "镇政府"])
    del rows[24]  # 4117210010024 left out of this file
    monkeypatch.setattr(registry.importing, "now_iso", lambda: "2024-06-01T09:00:00+08:00")

    report = import_registry(blank, csv_bytes(rows), "june.csv", ACTOR)

    assert report.counts() == {
        "added": 1,
        "updated": 2,
        "unchanged": 21,
        "missing": 1,
        "helpers_added": 1,
        "helpers_updated": 1,
        "villages_added": 1,
    }
    assert report.updated_ids == ["4117210010002", "4117210010003"]
    reg = blank.registry()
    assert len(reg.households) == 25  # nothing is deleted
    for hid, token in tokens.items():
        assert reg.households[hid].token == token
    assert reg.households["4117210010001"].location == {"lat": 32.1, "lng": 112.9}
    assert reg.households["4117210010002"].members == 4
    assert reg.households["4117210010002"].updated_at == "2024-06-01T09:00:00+08:00"
    assert reg.households["4117210010004"].updated_at == "2024-05-01T09:00:00+08:00"
    assert reg.households["4117210010024"].head == "叶兰"
    assert reg.households["4117210010025"].helpers == ["13900000099"]
    assert reg.users["13900000001"].name == "蒋海军"
    admin = reg.users["13900000012"]
    assert (admin.role, admin.name, admin.unit, admin.password_hash) == (
        "helper",
        "冯凤英",
        "县农业农村局",
        "h",
    )
    [entry] = blank.audit_log.read_entries("2024-06")
    assert entry.target == "june.csv"
    assert entry.after["updated"] == ["4117210010002", "4117210010003"]
    assert entry.before["households"]["4117210010002"] == {"members": 3}
    assert entry.after["households"]["4117210010002"] == {"members": 4}
    # ID numbers reach the audit log masked only.
    assert entry.before["households"]["4117210010003"] == {"id_number": "4117**********1521"}
    assert entry.before["helpers"]["13900000001"] == {"name": "蒋海国"}


def test_importing_the_same_file_again_changes_nothing(blank: Store) -> None:
    import_registry(blank, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)
    before = content(blank), {h.id: h.updated_at for h in blank.registry().households.values()}

    report = import_registry(blank, SAMPLE_XLSX.read_bytes(), "registry-sample.xlsx", ACTOR)

    assert (report.added, report.updated, report.unchanged) == (0, 0, 24)
    assert (report.helpers_added, report.helpers_updated, report.villages_added) == (0, 0, 0)
    after = content(blank), {h.id: h.updated_at for h in blank.registry().households.values()}
    assert after == before


# --- ID numbers sent back empty or masked --------------------------------------------------


def _imported(store: Store) -> dict[str, str]:
    import_registry(store, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)
    return {h.id: h.id_number for h in store.registry().households.values()}


def _id_numbers(store: Store) -> dict[str, str]:
    return {h.id: h.id_number for h in store.registry().households.values()}


def test_empty_id_number_cells_keep_the_stored_numbers(blank: Store) -> None:
    """Found by a tester: clearing the column and importing again wiped every number."""
    numbers = _imported(blank)
    rows = sample_rows()
    column = rows[0].index("身份证号")
    for row in rows[1:]:
        row[column] = ""
    rows[1][rows[0].index("户主姓名")] = "马秀娟"
    report = import_registry(blank, csv_bytes(rows), "edited.csv", ACTOR)
    assert (report.updated, report.unchanged) == (1, 23)
    assert _id_numbers(blank) == numbers


def test_the_masked_download_can_be_edited_and_imported_again(app: Flask, blank: Store) -> None:
    from fieldvisit.views.office import registry_download

    numbers = _imported(blank)
    masked = registry_download(blank, "xlsx", full_ids=False, actor=ACTOR)
    book = openpyxl.load_workbook(io.BytesIO(masked))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert "*" in str(sheet.cell(2, header.index("身份证号") + 1).value)
    sheet.cell(2, header.index("户主姓名") + 1).value = "马秀娟"
    out = io.BytesIO()
    book.save(out)
    report = import_registry(blank, out.getvalue(), "edited.xlsx", ACTOR)
    assert (report.updated, report.unchanged) == (1, 23)
    assert _id_numbers(blank) == numbers


def test_a_masked_number_that_is_not_the_stored_one_is_refused(blank: Store) -> None:
    numbers = _imported(blank)
    before = content(blank)
    wrong = "4117**********0000"
    [error] = import_errors(blank, with_changes({"身份证号": wrong, "户主姓名": "马秀娟"}))
    assert (error.row, error.column) == (2, "身份证号")
    assert "星号" in error.reason
    assert content(blank) == before and _id_numbers(blank) == numbers  # nothing written


def test_a_new_household_cannot_have_a_masked_number(blank: Store) -> None:
    [error] = import_errors(blank, with_changes({"身份证号": "4117**********4373"}))
    assert (error.row, error.column) == (2, "身份证号")
    assert blank.registry().households == {}


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"脱贫年度": "2018"}, "脱贫年度", "未脱贫的户不填脱贫年度"),  # the row is 未脱贫
        ({"脱贫状态": "已脱贫", "脱贫年度": "2099"}, "脱贫年度", "不是年份"),
        ({"户主姓名": "马" * 31}, "户主姓名", "最多 30 个字"),
        ({"组": "组" * 21}, "组", "最多 20 个字"),
        ({"村": "村" * 31}, "村", "最多 30 个字"),
        ({"联系电话": "123"}, "联系电话", "不是电话号码"),
        ({"联系电话": "1539108585a"}, "联系电话", "不是电话号码"),
    ],
)
def test_it_refuses_what_no_registry_holds(
    blank: Store, changes: dict[str, str], column: str, reason: str
) -> None:
    [error] = import_errors(blank, with_changes(changes))
    assert (error.row, error.column) == (2, column)
    assert reason in error.reason


@pytest.mark.parametrize(
    "phone", ["0371-61234567", "037161234567", "61234567", "15391085858、0371-61234567", ""]
)
def test_it_takes_phones_as_people_write_them(blank: Store, phone: str) -> None:
    import_registry(blank, with_changes({"联系电话": phone}), "registry.csv", ACTOR)
    assert blank.household(sample_rows()[1][0]).phone == phone  # type: ignore[union-attr]


@pytest.mark.parametrize("none", ["无", "暂无", "-", "/"])
def test_no_phone_written_as_a_word_is_no_phone(blank: Store, none: str) -> None:
    import_registry(blank, with_changes({"联系电话": none}), "registry.csv", ACTOR)
    assert blank.household(sample_rows()[1][0]).phone == ""  # type: ignore[union-attr]


def test_a_household_cannot_be_paired_with_a_stopped_account(blank: Store) -> None:
    """A stopped helper cannot log in: a file pairing a household with one is refused."""
    import_registry(blank, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)
    rows = sample_rows()
    phone = rows[1][rows[0].index("帮扶责任人电话")]

    def stop(reg: Any) -> None:
        reg.users[phone].active = False

    blank.update_registry(stop)
    before = content(blank)
    errors = import_errors(blank, SAMPLE_CSV.read_bytes())
    named = {e.row for e in errors if phone in e.reason and "已停用" in e.reason}
    paired = {n + 1 for n, row in enumerate(rows[1:], start=1) if phone in row}
    assert named == paired and {e.column for e in errors} == {"帮扶责任人电话"}
    assert content(blank) == before
