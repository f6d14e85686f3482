"""The registry where a clerk looks for it: one menu entry (名册) leading to import, the
masked download and a blank template; downloads with dated Chinese names; and a file whose
numbers Excel or WPS damaged explained once, for the column, instead of on every row."""

from __future__ import annotations

import io
import re
from datetime import date
from urllib.parse import unquote

import openpyxl
import pytest
from helpers import PEOPLE, csrf_from, csv_bytes, sample_rows

from fieldvisit import registry
from fieldvisit.documents.jobs import get_runner
from fieldvisit.idcard import mask_id_number

TODAY = date.today().isoformat()
MONTH = TODAY[:7]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _names(response) -> tuple[str, str]:
    """The download's name (RFC 5987 ``filename*``) and its plain fallback."""
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment"), disposition
    encoded = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    plain = re.search(r'filename="?([^";]+)"?(?:;|$)', disposition)
    assert encoded and plain, disposition
    assert plain.group(1).isascii()
    return unquote(encoded.group(1)), plain.group(1)


def _upload(client, auth, data: bytes, name: str):
    return client.post(
        "/office/import",
        data={"file": (io.BytesIO(data), name), "csrf_token": auth.csrf()},
        content_type="multipart/form-data",
    )


def _office_nav(page: str) -> str:
    return page[
        page.index('<nav class="office">') : page.index("</nav>", page.index('class="office"'))
    ]


# --- one menu entry, one page --------------------------------------------------------------


def test_the_menu_has_one_registry_entry_leading_to_the_registry_page(client, auth, households):
    auth.login("admin")
    nav = _office_nav(client.get("/").get_data(as_text=True))
    assert nav.count('href="/office/registry"') == 1
    assert ">名册</a>" in nav
    # No separate entries for import and export any more.
    assert "/office/import" not in nav and "/office/export" not in nav
    assert "导入名册" not in nav


def test_the_registry_page_has_import_export_and_the_blank_template(client, auth, households):
    auth.login("admin")
    response = client.get("/office/registry")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    imports = page[page.index('id="registry-import"') : page.index('id="registry-export"')]
    assert 'action="/office/import"' in imports and 'enctype="multipart/form-data"' in imports
    assert 'type="file"' in imports and 'name="csrf_token"' in imports
    exports = page[page.index('id="registry-export"') : page.index('id="registry-template"')]
    assert 'action="/office/export-registry.xlsx"' in exports
    # Masked by default: neither box is ticked.
    assert 'name="full_ids" value="1">' in exports and "checked" not in exports
    assert 'href="/office/export-registry.csv"' in exports
    template = page[page.index('id="registry-template"') :]
    assert 'href="/office/registry-template.xlsx"' in template


def test_the_old_addresses_still_work(client, auth, households):
    auth.login("admin")
    for url in ("/office/import", "/office/export"):
        page = client.get(url).get_data(as_text=True)
        assert 'href="/office/registry"' in page  # and lead back to the registry page


@pytest.mark.parametrize("who", ["owner", "supervisor"])
@pytest.mark.parametrize("url", ["/office/registry", "/office/registry-template.xlsx"])
def test_only_the_office_gets_the_registry_page_and_template(client, auth, households, who, url):
    auth.login(who)
    assert client.get(url).status_code == 403
    assert 'href="/office/registry"' not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("url", ["/office/registry", "/office/export"])
def test_the_export_text_says_the_masked_file_can_be_imported_again(client, auth, households, url):
    auth.login("admin")
    page = client.get(url).get_data(as_text=True)
    assert "不能再导入" not in page  # what it used to say, wrongly
    assert "这份表格可以直接修改后再导入" in page
    assert "身份证号保留星号或留空，已登记的号码不会改变" in page


def test_the_masked_download_edited_and_imported_again_keeps_the_id_numbers(
    client, auth, store, households
):
    """What the export page promises, through the pages: download (masked), change a cell,
    upload; the change is stored and the ID numbers are the full ones still."""
    auth.login("admin")
    page = client.get("/office/registry").get_data(as_text=True)
    response = client.post("/office/export-registry.xlsx", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    h1 = households["h1"]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == h1.id)
    assert row[header.index("身份证号")].value == mask_id_number(h1.id_number)
    row[header.index("家庭人口")].value = 5
    edited = io.BytesIO()
    book.save(edited)

    result = _upload(client, auth, edited.getvalue(), "花名册-改.xlsx")

    html = result.get_data(as_text=True)
    assert result.status_code == 200, html
    assert "导入完成" in html and "更新 1 户" in html
    stored = store.household(h1.id)
    assert stored is not None and stored.members == 5
    assert stored.id_number == h1.id_number
    assert store.household(households["h2"].id).id_number == households["h2"].id_number


# --- the blank template ------------------------------------------------------------------


def _template(client):
    response = client.get("/office/registry-template.xlsx")
    assert response.status_code == 200
    assert response.mimetype == XLSX
    return response


def test_the_blank_template_has_the_headers_formatted_and_no_data(client, auth, households):
    auth.login("admin")
    response = _template(client)
    assert _names(response) == ("花名册模板.xlsx", "registry-template.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    assert book.active is sheet and sheet.title == "花名册"
    assert sheet.max_row == 1  # the header and nothing else
    header = [c.value for c in sheet[1]]
    assert tuple(header) == registry.COLUMNS
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    for index, column in enumerate(registry.COLUMNS, start=1):
        letter = openpyxl.utils.get_column_letter(index)
        text = sheet.column_dimensions[letter].number_format == "@"
        assert text == (column in ("户编号", "联系电话", "身份证号", "帮扶责任人电话")), column
    # How to fill each column, with a made-up example in grey, on a sheet of its own.
    notes = book.worksheets[1]
    assert notes.title == "填写说明"
    assert [r[0] for r in notes.iter_rows(min_row=2, values_only=True)] == list(registry.COLUMNS)
    assert notes["C2"].value and notes["C2"].font.color.rgb.endswith("808080")
    # No real data: none of the stored households' numbers or names.
    cells = {str(v) for s in book.worksheets for r in s.iter_rows(values_only=True) for v in r}
    for h in households.values():
        assert not {h.id, h.head, h.phone, h.id_number} & cells


def test_the_blank_template_imports_nothing_as_it_is_and_a_filled_one_imports(
    client, auth, store, households
):
    auth.login("admin")
    data = _template(client).data
    before = store.registry().households

    untouched = _upload(client, auth, data, "花名册模板.xlsx")

    assert untouched.status_code == 400
    assert "表头下面没有数据行" in untouched.get_data(as_text=True)
    assert store.registry().households == before
    # Filled in, and saved with the instructions sheet showing: the registry sheet is read,
    # the instructions are never taken for households.
    book = openpyxl.load_workbook(io.BytesIO(data))
    book.worksheets[0].append(
        ["0123456789", "示例村", "1组", "张三", 3, "一般贫困户", "因病", "未脱贫", None,
         "037112345678", "", "否", PEOPLE["other"][2], PEOPLE["other"][0], "县扶贫办"]
    )  # fmt: skip
    book.active = 1
    filled = io.BytesIO()
    book.save(filled)

    response = _upload(client, auth, filled.getvalue(), "花名册.xlsx")

    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "新增 1 户" in html
    added = store.household("0123456789")
    assert added is not None and added.head == "张三" and added.phone == "037112345678"


# --- download names ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_registry_download_is_named_by_the_day(client, auth, households, fmt):
    auth.login("admin")
    masked = client.get(f"/office/export-registry.{fmt}")
    assert _names(masked) == (f"花名册-{TODAY}.{fmt}", f"registry-{TODAY}.{fmt}")
    page = client.get("/office/registry").get_data(as_text=True)
    form = {"full_ids": "1", "confirm": "1", "csrf_token": csrf_from(page)}
    full = client.post(f"/office/export-registry.{fmt}", data=form)
    assert _names(full)[0] == f"花名册-{TODAY}.{fmt}"
    assert full.headers["Cache-Control"] == "no-store"


def _job_download(app, client, response):
    assert response.status_code == 303, response.get_data(as_text=True)
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = get_runner(app).wait(job_id, timeout=60)
    assert job.status == "done", job.error
    download = client.get(f"/reports/jobs/{job_id}/download")
    download.get_data()
    download.close()
    assert download.status_code == 200
    return download


def test_every_report_download_has_a_clear_chinese_name(app, client, auth, households):
    auth.login("admin")
    year, mon = MONTH.split("-")
    label = f"{year}年{int(mon)}月"

    def queued(**form: str):
        response = client.post("/reports", data={"csrf_token": auth.csrf(), **form})
        return _names(_job_download(app, client, response))[0]

    assert queued(kind="summary", month=MONTH, village="") == f"{label}帮扶走访汇总.pdf"
    assert (
        queued(kind="summary", month=MONTH, village="聂河村") == f"聂河村-{label}帮扶走访汇总.pdf"
    )
    assert queued(kind="visits", month=MONTH, format="xlsx") == f"走访记录-{MONTH}.xlsx"
    visits = queued(kind="visits", month=MONTH, village="聂河村", format="csv")
    assert visits == f"走访记录-{MONTH}-聂河村.csv"
    booklet = queued(kind="booklet", year=year, village="聂河村")
    assert booklet == f"聂河村-{year}年度一户一册.pdf"
    plates = client.post("/office/plates", data={"csrf_token": auth.csrf(), "village": "王寨村"})
    assert _names(_job_download(app, client, plates))[0] == "王寨村-户牌.pdf"


def test_the_needs_export_is_named_by_the_day(client, auth, households):
    auth.login("supervisor")
    response = client.get("/needs/export.xlsx")
    assert response.status_code == 200
    assert _names(response)[0] == f"问题整改台账-{TODAY}.xlsx"


# --- numbers Excel or WPS damaged --------------------------------------------------------


def _scientific(number: str) -> str:
    """How Excel shows and saves a long number in a General cell: 4.11721E+12, 1.39E+10.
    An ID number ending in X stays text."""
    if not number.isdigit():
        return number
    mantissa, exponent = f"{float(number):.5E}".split("E")
    return f"{mantissa.rstrip('0').rstrip('.')}E+{int(exponent)}"


def _damaged(column: str, change) -> bytes:  # type: ignore[no-untyped-def]
    rows = sample_rows()
    index = rows[0].index(column)
    for row in rows[1:]:
        row[index] = change(row[index])
    return csv_bytes(rows)


def _refused(client, auth, store, data: bytes) -> str:
    before = store.registry().households
    response = _upload(client, auth, data, "花名册.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert "没有导入任何数据" in html
    assert store.registry().households == before  # all or nothing: nothing stored
    return html


def _file_errors(html: str) -> list[str]:
    return re.findall(r'<p class="error file-error">(.*?)</p>', html, re.S)


@pytest.mark.parametrize("column", ["户编号", "联系电话", "帮扶责任人电话", "身份证号"])
def test_a_column_in_scientific_notation_is_explained_once(client, auth, store, households, column):
    auth.login("admin")
    data = _damaged(column, _scientific)
    index = sample_rows()[0].index(column)
    damaged = [n for n, row in enumerate(sample_rows()[1:], start=2) if row[index].isdigit()]
    assert len(damaged) > 12 and "E+" in data.decode("utf-8-sig")

    html = _refused(client, auth, store, data)

    [error] = _file_errors(html)
    assert error.startswith(f"{column} 列：")
    assert f"有 {len(damaged)} 个号码变成了科学计数法（如“" in error
    assert "“文本”格式" in error and ".xlsx" in error and "CSV" in error
    assert f"涉及第 {damaged[0]}" in error
    assert "表格有 1 处错误" in html
    assert f"<td>{column}</td>" not in html  # not 24 identical row errors
    # The explanation comes first, at the top of the result.
    assert html.index("file-error") < html.index('id="registry-file"')


def test_one_cell_in_scientific_notation_is_a_row_error_that_says_why(
    client, auth, store, households
):
    auth.login("admin")
    rows = sample_rows()
    rows[3][rows[0].index("户编号")] = "4.11721E+12"

    html = _refused(client, auth, store, csv_bytes(rows))

    assert not _file_errors(html)
    assert re.search(r"<td>4</td><td>户编号</td><td>Excel 或 WPS 把这个号码变成了科学计数法", html)


def test_household_numbers_that_lost_their_leading_zeros_are_explained_once(
    client, auth, store, households
):
    auth.login("admin")
    rows = sample_rows()
    index = rows[0].index("户编号")
    for number, row in enumerate(rows[1:]):
        # Numbered 00… as text in the first rows; pasted as numbers below, the zeros gone.
        row[index] = f"00{number + 1:05d}" if number < 3 else str(number + 1)

    html = _refused(client, auth, store, csv_bytes(rows))

    [error] = _file_errors(html)
    assert error.startswith("户编号 列：")
    assert "有 21 个户编号开头的 0 丢了（如“4”，应为“0000004”）" in error
    assert "涉及第 5–25 行" in error


def test_landlines_that_lost_their_zero_are_explained_once(client, auth, store, households):
    auth.login("admin")
    data = _damaged("联系电话", lambda _phone: "3716123456")

    html = _refused(client, auth, store, data)

    [error] = _file_errors(html)
    assert error.startswith("联系电话 列：")
    assert "座机号码开头的 0 丢了（如“3716123456”，应为“03716123456”）" in error


def test_id_numbers_excel_stored_as_numbers_are_explained_once(client, auth, store, households):
    auth.login("admin")
    rows: list[list[object]] = [list(r) for r in sample_rows()]
    index = rows[0].index("身份证号")
    for row in rows[1:]:
        number = str(row[index])
        row[index] = float(number) if number.isdigit() else number
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    before = store.registry().households

    response = _upload(client, auth, data.getvalue(), "花名册.xlsx")

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    [error] = _file_errors(html)
    assert error.startswith("身份证号 列：") and "超过 15 位的部分已经丢失" in error
    assert "<td>身份证号</td>" not in html
    assert store.registry().households == before


def test_the_command_line_names_the_damaged_column_too(app, store, households, tmp_path, runner):
    path = tmp_path / "花名册.csv"
    path.write_bytes(_damaged("户编号", _scientific))
    result = runner.invoke(args=["import-registry", str(path)])
    assert result.exit_code != 0
    assert "户编号 列：有 24 个号码变成了科学计数法" in result.output
    assert store.registry().households.keys() == {h.id for h in households.values()}
