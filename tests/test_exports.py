"""The month's visits as a spreadsheet: one row per stored visit, Chinese headers, readable
by Excel and WPS, no ID numbers, and nothing a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date

import pytest
from helpers import PEOPLE, csrf_from, demo_app, visit_payload
from openpyxl import load_workbook

from fieldvisit.documents.exports import (
    MISSING_SHEET,
    SUMMARY_SHEET,
    VISITS_SHEET,
    export_visits_bytes,
    visit_columns,
)
from fieldvisit.documents.monthly import ReportError
from fieldvisit.figures.month import month_figures
from fieldvisit.visits.recording import record_visit
from fieldvisit.vocab import GUARANTEES, VISIT_KINDS

TODAY = date(2026, 11, 20)
MONTH = "2026-11"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_app(tmp_path_factory.mktemp("demo"), today=TODAY)


@pytest.fixture(scope="module")
def workbook(demo):
    app, store = demo
    with app.app_context():
        data, count = export_visits_bytes(store, MONTH, "xlsx", today=TODAY)
    return load_workbook(io.BytesIO(data)), count


def _key(household: str, day: str, kind: str) -> tuple[str, str, str]:
    return household, day, kind


def test_it_has_one_row_per_stored_visit(workbook, demo):
    book, count = workbook
    _app, store = demo
    sheet = book[VISITS_SHEET]
    header = [c.value for c in sheet[1]]
    rows = [
        dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)
    ]
    stored = store.visits(MONTH)
    assert count == len(rows) == len(stored)
    assert Counter(
        _key(r["户编号"], r["走访日期"].date().isoformat(), r["走访方式"]) for r in rows
    ) == Counter(_key(v.household, v.date, VISIT_KINDS[v.kind]) for v in stored)
    helpers = store.registry().users
    for row in rows:
        assert row["帮扶责任人"] == helpers[row["帮扶责任人电话"]].name


def test_its_columns_are_chinese_and_cover_every_check(workbook, demo):
    book, _count = workbook
    app, store = demo
    header = [c.value for c in book[VISITS_SHEET][1]]
    with app.app_context():
        assert header == visit_columns(store)
    for label in (*GUARANTEES.values(), "院落干净整洁", "厕所卫生", "诉求", "满意度", "备注"):
        assert label in header
    assert "身份证号" not in header


def test_it_never_contains_an_id_number(workbook, demo):
    book, _count = workbook
    _app, store = demo
    numbers = {h.id_number for h in store.registry().households.values() if h.id_number}
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            assert not numbers & {str(v) for v in row}


def test_it_opens_with_a_frozen_header_and_fitted_columns(workbook):
    book, _count = workbook
    sheet = book[VISITS_SHEET]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    widths = {letter: dim.width for letter, dim in sheet.column_dimensions.items()}
    assert widths["A"] >= 15  # 户编号: 13 digits
    assert min(widths.values()) >= 6 and max(widths.values()) <= 50
    # Household numbers stay text: Excel would show 4117210010001 as 4.11721E+12.
    assert sheet["A2"].number_format == "@" and isinstance(sheet["A2"].value, str)
    assert sheet["G2"].is_date


def test_its_summary_sheets_hold_the_months_figures(workbook, demo):
    book, _count = workbook
    _app, store = demo
    figures = month_figures(store, MONTH, today=TODAY)
    rows = list(book[SUMMARY_SHEET].iter_rows(values_only=True))
    summary = {row[0]: row[1] for row in rows if len(row) > 1}
    assert summary["登记户数"] == 676 and summary["登记人数"] == 1721
    assert summary["本月已入户走访户数"] == figures.visited
    assert summary["入户走访完成率"] == pytest.approx(figures.rate)
    missing = [row[3] for row in book[MISSING_SHEET].iter_rows(min_row=2, values_only=True)]
    assert set(missing) == {m.household.id for m in figures.not_visited}


def test_csv_has_the_same_rows_with_a_bom(demo):
    app, store = demo
    with app.app_context():
        data, count = export_visits_bytes(store, MONTH, "csv", village="聂河村")
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 Chinese only with it
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["户编号", "村", "组", "户主"]
    assert len(rows) - 1 == count == len(store.visits(MONTH, "聂河村"))
    assert {r[1] for r in rows[1:]} == {"聂河村"}


def test_a_note_is_never_run_as_a_formula(app, store, households):
    owner = store.user(PEOPLE["owner"][0])
    payload = visit_payload(households["h1"], notes='=HYPERLINK("http://x.example","点这里")')
    record_visit(store, payload, owner, date.today())
    month = date.today().isoformat()[:7]
    with app.app_context():
        xlsx, _ = export_visits_bytes(store, month, "xlsx")
        text, _ = export_visits_bytes(store, month, "csv")
    sheet = load_workbook(io.BytesIO(xlsx))[VISITS_SHEET]
    notes = [c for c in sheet[2] if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert [c.data_type for c in notes] == ["s"]
    assert "'=HYPERLINK" in text.decode("utf-8-sig")


def test_it_refuses_a_bad_month_or_village(demo):
    app, store = demo
    with app.app_context():
        with pytest.raises(ReportError):
            export_visits_bytes(store, "11-2026", "xlsx")
        with pytest.raises(ReportError):
            export_visits_bytes(store, MONTH, "csv", village="东村")


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_the_command_writes_the_file(demo, tmp_path, suffix):
    app, store = demo
    out = tmp_path / f"visits{suffix}"
    result = app.test_cli_runner().invoke(
        args=["export-visits", "--month", MONTH, "--village", "王寨村", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"已导出 {len(store.visits(MONTH, '王寨村'))} 条走访记录" in result.output
    assert out.stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13", "--out", "v.xlsx"], "月份应写成 年-月"),
        (["--month", MONTH, "--out", "v.pdf"], "--out 须为 .xlsx 或 .csv 文件"),
    ],
)
def test_the_command_explains_what_is_wrong(demo, tmp_path, args, message):
    app, _store = demo
    args = [str(tmp_path / a) if a.startswith("v.") else a for a in args]
    result = app.test_cli_runner().invoke(args=["export-visits", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


# --- the registry download: full ID numbers only from the confirmation form ---------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _id_numbers_in(data: bytes) -> list[str]:
    sheet = load_workbook(io.BytesIO(data)).active
    header = [c.value for c in sheet[1]]
    column = header.index("身份证号")
    return [str(row[column]) for row in sheet.iter_rows(min_row=2, values_only=True)]


def _registry_exports(store) -> list:
    month = date.today().isoformat()[:7]
    return [e for e in store.audit_log.read_entries(month) if e.action == "registry.export"]


@pytest.mark.parametrize(
    "query",
    [
        "full_ids=1&confirm=1",
        "full_ids=1",
        "full_ids=true&confirm=on",
        "full_ids=1&confirm=1&csrf_token=anything",
    ],
)
def test_a_link_never_downloads_full_id_numbers(client, auth, store, households, query):
    auth.login("admin")
    response = client.get(f"/office/export-registry.xlsx?{query}")
    assert response.status_code == 200 and response.mimetype == XLSX
    numbers = _id_numbers_in(response.get_data())
    full = {h.id_number for h in households.values()}
    assert numbers and not full & set(numbers)
    assert sorted(numbers) == ["4117**********367X", "4117**********4373"]
    assert [e.after for e in _registry_exports(store)] == [{"full_ids": False}]


def test_the_confirmation_form_downloads_full_id_numbers(client, auth, store, households):
    auth.login("admin")
    page = client.get("/office/export").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/office/export-registry.xlsx"', page)
    form = {"full_ids": "1", "confirm": "1"}
    # Without the page's CSRF token (a form on another site): refused, nothing logged.
    refused = client.post("/office/export-registry.xlsx", data=form)
    assert refused.status_code == 400 and refused.mimetype != XLSX
    assert _registry_exports(store) == []
    # Without the confirmation: the page again, asking for it.
    unconfirmed = client.post(
        "/office/export-registry.xlsx", data={"full_ids": "1", "csrf_token": csrf_from(page)}
    )
    assert unconfirmed.status_code == 400
    assert "要导出完整身份证号，请勾选确认" in unconfirmed.get_data(as_text=True)
    assert _registry_exports(store) == []

    response = client.post(
        "/office/export-registry.xlsx", data={**form, "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 200 and response.mimetype == XLSX
    assert response.headers["Cache-Control"] == "no-store"
    full = {h.id_number for h in households.values()}
    assert set(_id_numbers_in(response.get_data())) == full
    (entry,) = _registry_exports(store)
    assert (entry.who, entry.target, entry.after) == (
        PEOPLE["admin"][0],
        "xlsx",
        {"full_ids": True},
    )


def test_the_form_without_the_full_numbers_box_downloads_them_masked(
    client, auth, store, households
):
    auth.login("admin")
    response = client.post(
        "/office/export-registry.xlsx", data={"confirm": "1", "csrf_token": auth.csrf()}
    )
    assert response.status_code == 200
    assert all("*" in n for n in _id_numbers_in(response.get_data()))
    assert [e.after for e in _registry_exports(store)] == [{"full_ids": False}]


def test_only_the_office_posts_the_confirmation_form(app, client, auth, households):
    from helpers import Auth

    for who in ("supervisor", "owner"):
        browser = app.test_client()
        Auth(browser).login(who)
        data = {"full_ids": "1", "confirm": "1", "csrf_token": Auth(browser).csrf()}
        assert browser.post("/office/export-registry.xlsx", data=data).status_code == 403
