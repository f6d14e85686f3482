"""The office's pages: registry upload and door plates."""

from __future__ import annotations

import io

from helpers import SAMPLES


def upload(client, auth, path_or_bytes, name):
    data = path_or_bytes.read_bytes() if hasattr(path_or_bytes, "read_bytes") else path_or_bytes
    return client.post(
        "/office/import",
        data={"file": (io.BytesIO(data), name), "csrf_token": auth.csrf()},
        content_type="multipart/form-data",
    )


def test_admin_imports_the_sample_workbook(client, auth, store, households):
    auth.login("admin")
    response = upload(client, auth, SAMPLES / "registry-sample.xlsx", "花名册.xlsx")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # The sample's first 户编号 is the test household h1's: it is updated, not added.
    assert "导入完成" in html and "新增 23 户，更新 1 户" in html
    assert len(store.registry().households) == 23 + len(households)
    assert store.household(households["h1"].id).token == households["h1"].token


def test_the_office_sees_which_households_and_columns_an_import_changed(
    client, auth, store, households
):
    """An import overwrites what was edited on the web since: the page says where."""
    auth.login("admin")
    upload(client, auth, SAMPLES / "registry-sample.xlsx", "花名册.xlsx")
    rows = (SAMPLES / "registry-sample.csv").read_text(encoding="utf-8-sig").splitlines()
    rows[1] = rows[1].replace(",2,低保贫困户,", ",3,低保贫困户,", 1)
    edited = ("\n".join(rows) + "\n").encode("utf-8")
    html = upload(client, auth, edited, "花名册.csv").get_data(as_text=True)
    assert "更新 1 户" in html
    changes = html[html.index('id="import-changes"') :]
    h1 = households["h1"].id
    assert f"<td>{h1}</td><td>马娟</td><td>家庭人口</td>" in changes
    assert "保持原样" in html  # the test household h2 is not in the file


def test_a_bad_file_imports_nothing_and_names_each_row(client, auth, store, households):
    auth.login("admin")
    before = store.registry().households
    response = upload(client, auth, SAMPLES / "registry-errors.csv", "errors.csv")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "没有导入任何数据" in html
    for row, column in (("4", "家庭人口"), ("6", "贫困户属性"), ("7", "户编号"), ("9", "户主姓名")):
        assert f"<td>{row}</td><td>{column}</td>" in html
    assert store.registry().households == before


def test_other_files_are_refused_with_a_message(client, auth, households):
    auth.login("admin")
    response = upload(client, auth, b"MZ\x90\x00", "virus.exe")
    assert response.status_code == 400
    assert "只能导入 .xlsx 或 .csv 文件" in response.get_data(as_text=True)
    garbage = upload(client, auth, b"\x00\x01\x02 not a sheet", "x.xlsx")
    assert garbage.status_code == 400


def test_the_plates_page_offers_each_village(client, auth, households):
    auth.login("admin")
    html = client.get("/office/plates").get_data(as_text=True)
    assert "聂河村" in html and "王寨村" in html
