"""An import never touches an office account: a row whose helper phone is an admin's or a
supervisor's is refused, by row and column, and nothing of the file is stored."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PEOPLE, Auth
from test_uploads import _multipart

from fieldvisit.models import Household
from fieldvisit.storage import Store

SAMPLE_CSV = Path(__file__).resolve().parent / "samples" / "registry-sample.csv"


def _rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(SAMPLE_CSV.read_text(encoding="utf-8-sig"))))


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _pairing_with(phone: str, header: str = "帮扶责任人电话") -> bytes:
    """The sample registry with its second household (spreadsheet row 3) paired with
    ``phone`` under another name: what would rename that account if it were let in."""
    rows = _rows()
    at = rows[0].index("帮扶责任人电话")
    rows[0][at] = header
    rows[2][rows[0].index("帮扶责任人")] = "冒名者"
    rows[2][at] = phone
    return _csv(rows)


def _stored(store: Store) -> dict[str, Any]:
    reg = store.registry()
    return {
        "households": {k: h.to_doc() for k, h in reg.households.items()},
        "users": {k: u.to_doc() for k, u in reg.users.items()},
        "villages": sorted(reg.villages),
        "audit": [
            e.action for m in store.audit_log.months() for e in store.audit_log.read_entries(m)
        ],
    }


@pytest.mark.parametrize("who", ["admin", "supervisor"])
def test_the_cli_refuses_a_row_naming_an_office_account(
    runner: Any, store: Store, households: dict[str, Household], tmp_path: Path, who: str
) -> None:
    phone, role, name = PEOPLE[who]
    before = _stored(store)
    file = tmp_path / "registry.csv"
    file.write_bytes(_pairing_with(phone))

    result = runner.invoke(args=["import-registry", str(file)])

    assert result.exit_code != 0
    said = f"第 3 行，帮扶责任人电话：{phone} 是扶贫办或督查人员的账号，不能作为帮扶责任人"
    assert said in result.output
    assert "有 1 处错误，未导入任何数据" in result.output
    assert _stored(store) == before  # nothing of the file, no audit entry
    user = store.registry().users[phone]
    assert (user.name, user.role) == (name, role)


def test_every_row_naming_the_account_is_listed_under_the_files_own_header(
    runner: Any, store: Store, households: dict[str, Household], tmp_path: Path
) -> None:
    phone = PEOPLE["admin"][0]
    rows = _rows()
    at = rows[0].index("帮扶责任人电话")
    rows[0][at] = "帮扶人电话"  # another system's name for the column
    for row in (rows[2], rows[5]):  # spreadsheet rows 3 and 6
        row[rows[0].index("帮扶责任人")] = "冒名者"
        row[rows[0].index("帮扶单位")] = "县扶贫办"
        row[at] = phone
    file = tmp_path / "registry.csv"
    file.write_bytes(_csv(rows))
    before = _stored(store)

    result = runner.invoke(args=["import-registry", str(file)])

    assert result.exit_code != 0
    reason = f"{phone} 是扶贫办或督查人员的账号，不能作为帮扶责任人"
    assert f"第 3 行，帮扶人电话：{reason}" in result.output
    assert f"第 6 行，帮扶人电话：{reason}" in result.output
    assert _stored(store) == before


def test_the_import_page_refuses_it_and_names_the_row_and_column(
    app: Flask,
    client: FlaskClient,
    auth: Auth,
    store: Store,
    households: dict[str, Household],
) -> None:
    phone, role, name = PEOPLE["admin"]
    before = _stored(store)
    auth.login("admin")
    fields = {"file": ("registry.csv", _pairing_with(phone)), "csrf_token": auth.csrf()}

    response = client.post("/office/import", **_multipart(fields))  # type: ignore[arg-type]

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "表格有 1 处错误，没有导入任何数据" in html
    reason = f"{phone} 是扶贫办或督查人员的账号，不能作为帮扶责任人"
    assert f"<td>3</td><td>帮扶责任人电话</td><td>{reason}</td>" in html
    assert _stored(store) == before
    user = store.registry().users[phone]
    assert (user.name, user.role) == (name, role)
    # The admin still logs in as the admin, under the same name.
    assert client.get("/office/import").status_code == 200


def test_a_helper_account_is_still_updated_by_an_import(
    runner: Any, store: Store, households: dict[str, Household], tmp_path: Path
) -> None:
    """The refusal is for office accounts only: a helper's name is corrected as before."""
    phone = PEOPLE["other"][0]  # in the sample, on row 3 only
    file = tmp_path / "registry.csv"
    file.write_bytes(_pairing_with(phone))

    result = runner.invoke(args=["import-registry", str(file)])

    assert result.exit_code == 0, result.output
    user = store.registry().users[phone]
    assert (user.name, user.role) == ("冒名者", "helper")
    assert store.registry().households["4117210010002"].helpers == [phone]
