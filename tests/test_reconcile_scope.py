"""Departments' lists in a county: a township's office reads, runs and settles its own
township's differences and checks only (another township's are not there for it: 404), in
the pages, the workbook and the PDF; the county's office reads and settles every township's;
the dashboard's section on the lists shows a township's own figures."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from flask.testing import FlaskClient
from helpers import PASSWORD, csrf_from, csv_bytes, make_household
from reconcile_samples import FULL_ID, pid
from test_reports import read_pdf

from fieldvisit.access.passwords import hash_password
from fieldvisit.documents.jobs import get_runner
from fieldvisit.models import Difference, User, Village
from fieldvisit.storage import Registry, Store

OWN, OTHER = "城关镇", "河口镇"
COUNTY_ADMIN, OWN_ADMIN, OTHER_ADMIN = "13600000009", "13600000008", "13600000007"
OWN_SUPERVISOR = "13700000008"
OWN_HELPER, OTHER_HELPER = "13900000001", "13900000002"
OWN_ID, OTHER_ID = "4100000010001", "4100000020001"
OWN_HEAD, OTHER_HEAD = pid("19370102", 437), pid("19810905", 367)
STRANGER = pid("19900101", 99)
ROSTER = [  # the county's 低保/特困 roster: a household of each township and a stranger
    ["身份证号", "姓名", "保障类别", "保障人数"],
    [OWN_HEAD, "马娟", "特困", "3"],
    [OTHER_HEAD, "梁刚", "特困", "3"],
    [STRANGER, "路人甲", "低保", "1"],
]
WARNINGS = [  # pushed long ago: both checks are overdue
    ["身份证号", "姓名", "预警类型", "预警内容", "推送日期"],
    [OWN_HEAD, "马娟", "大病", "住院自付较高", "2020-01-02"],
    [OTHER_HEAD, "梁刚", "大病", "住院自付较高", "2020-01-02"],
]


@pytest.fixture()
def county(store: Store) -> None:
    """王庄村 in two townships, a 低保 household of two in each, their helpers, the county's
    office, each township's office and a supervisor of 城关镇."""
    own = make_household(
        id=OWN_ID, village="王庄村", township=OWN, head="马娟", id_number=OWN_HEAD,
        helpers=[OWN_HELPER],
    )  # fmt: skip
    other = make_household(
        id=OTHER_ID, village="王庄村", township=OTHER, head="梁刚", id_number=OTHER_HEAD,
        helpers=[OTHER_HELPER],
    )  # fmt: skip

    def fill(reg: Registry) -> None:
        digest = hash_password(PASSWORD)
        for phone, name, role, township in (
            (COUNTY_ADMIN, "县办", "admin", ""),
            (OWN_ADMIN, "城关镇办", "admin", OWN),
            (OTHER_ADMIN, "河口镇办", "admin", OTHER),
            (OWN_SUPERVISOR, "城关镇督查", "supervisor", OWN),
            (OWN_HELPER, "张帮扶", "helper", ""),
            (OTHER_HELPER, "李帮扶", "helper", ""),
        ):
            reg.users[phone] = User(phone, name, role, digest, township=township)
        for h in (own, other):
            reg.households[h.id] = h
            reg.villages[h.village_key] = Village(h.village, township=h.township)

    store.update_registry(fill)


def _login(client: FlaskClient, phone: str) -> None:
    client.get("/logout")
    page = client.get("/login").get_data(as_text=True)
    data = {"phone": phone, "password": PASSWORD, "csrf_token": csrf_from(page)}
    assert client.post("/login", data=data).status_code == 302


def _csrf(client: FlaskClient) -> str:
    return csrf_from(client.get("/password").get_data(as_text=True))


def _upload(client: FlaskClient, department: str, rows: list[list[str]]) -> str:
    data = {
        "csrf_token": _csrf(client),
        "department": department,
        "file": (io.BytesIO(csv_bytes(rows)), "名单.csv"),
    }
    response = client.post("/office/reconcile", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    return str(response.headers["Location"])


@pytest.fixture()
def listed(client: FlaskClient, county: None) -> str:
    """The county's office compared the county's roster: the result page's address."""
    _login(client, COUNTY_ADMIN)
    return _upload(client, "civil_affairs", ROSTER)


def _difference(store: Store, kind: str, household: str = "") -> Difference:
    return next(
        d
        for d in store.registry().differences.values()
        if d.kind == kind and d.household == household
    )


def _actions(store: Store) -> list[tuple[str, str]]:
    log = store.audit_log
    return [(e.action, e.target) for m in log.months() for e in log.read_entries(m)]


def _settle(client: FlaskClient, did: str, how: str) -> int:
    data = {"csrf_token": _csrf(client), "note": "已核实"}
    return client.post(f"/office/reconcile/differences/{did}/{how}", data=data).status_code


def test_a_township_office_cannot_settle_another_townships_difference(
    client: FlaskClient, store: Store, listed: str
) -> None:
    theirs = _difference(store, "category", OTHER_ID)
    stranger = _difference(store, "not_on_registry")  # the county's list: no township's
    before = _actions(store)
    _login(client, OWN_ADMIN)
    for did in (theirs.id, stranger.id):
        for how in ("take", "explain", "send"):
            assert _settle(client, did, how) == 404, (did, how)
    other = store.household(OTHER_ID)
    assert other is not None and (other.attribute, other.members) == ("dibao", 2)
    reg = store.registry()
    assert reg.differences[theirs.id].status == "open" and not reg.differences[theirs.id].history
    assert reg.differences[stranger.id].status == "open"
    assert _actions(store) == before
    # Its own, the same way, is settled and logged.
    mine = _difference(store, "category", OWN_ID)
    assert _settle(client, mine.id, "take") == 303
    own = store.household(OWN_ID)
    assert own is not None and own.attribute == "wubao"
    assert _actions(store) == [*before, ("reconcile.take", OWN_ID)]


def test_the_county_office_settles_any_township(
    client: FlaskClient, store: Store, listed: str
) -> None:
    assert _settle(client, _difference(store, "count", OTHER_ID).id, "take") == 303
    assert _settle(client, _difference(store, "category", OTHER_ID).id, "send") == 303
    assert _settle(client, _difference(store, "not_on_registry").id, "explain") == 303
    other = store.household(OTHER_ID)
    assert other is not None and other.members == 3
    assert [a for a, _t in _actions(store)][-3:] == [
        "reconcile.take",
        "reconcile.send",
        "reconcile.explain",
    ]


def _page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def _every_kind(client: FlaskClient, url: str) -> str:
    sep = "&" if "?" in url else "?"
    kinds = ("not_on_registry", "missing_from_list", "category", "count", "name")
    return "".join(_page(client, f"{url}{sep}kind={kind}") for kind in kinds)


def _pdf_text(client: FlaskClient, result: str, tmp_path: Path) -> str:
    response = client.post(result + "/result.pdf", data={"csrf_token": _csrf(client)})
    assert response.status_code == 303
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = get_runner(client.application).wait(job_id, timeout=60)
    assert job.finished_ok, job.error
    download = client.get(f"/reports/jobs/{job_id}/download")
    data = download.get_data()
    download.close()  # a file response keeps its file open until closed
    return read_pdf(data, tmp_path / "r.pdf").text


def _workbook(client: FlaskClient, result: str) -> tuple[str, dict[str, list[Any]]]:
    response = client.get(result + "/result.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheets = {s.title: list(s.iter_rows(min_row=2, values_only=True)) for s in book.worksheets}
    return response.headers["Content-Disposition"], sheets


def test_a_township_reads_only_its_own_lines_of_the_countys_list(
    client: FlaskClient, listed: str, tmp_path: Path
) -> None:
    _login(client, OWN_ADMIN)
    index = _page(client, "/office/reconcile")
    assert "名单.csv" in index and "类别不一致 1；人数不一致 1" in index  # not the county's 2
    for page in (_every_kind(client, listed), _every_kind(client, "/office/reconcile/open")):
        assert "马娟" in page and OWN_ID in page
        assert "梁刚" not in page and OTHER_ID not in page and "路人甲" not in page
    counts = _page(client, listed).split('class="counts"')[1].split("</table>")[0]
    assert re.findall(r'class="n">(\d+)<', counts) == ["0", "0", "1", "1", "0"]
    disposition, sheets = _workbook(client, listed)
    assert f"filename*=UTF-8''{quote(OWN)}-" in disposition
    assert ["名单行数", 3] in [list(r) for r in sheets["概况"]]
    assert ["类别不一致", 1] in [list(r) for r in sheets["概况"]]
    lines = [r for title, rows in sheets.items() if title != "概况" for r in rows]
    assert {r[2] for r in lines} == {OWN_ID} and len(lines) == 2
    text = _pdf_text(client, listed, tmp_path)
    assert f"{OWN}民政" in text and "马娟" in text
    assert "梁刚" not in text and "路人甲" not in text
    assert not FULL_ID.search(text)
    _login(client, OWN_SUPERVISOR)  # a township's supervisor reads the same
    page = _every_kind(client, listed)
    assert "马娟" in page and "梁刚" not in page


def test_the_county_office_reads_every_township(
    client: FlaskClient, listed: str, tmp_path: Path
) -> None:
    page = _every_kind(client, listed)
    assert all(name in page for name in ("马娟", "梁刚", "路人甲"))
    assert "类别不一致 2；人数不一致 2" in _page(client, "/office/reconcile")
    _disposition, sheets = _workbook(client, listed)
    lines = [r for title, rows in sheets.items() if title != "概况" for r in rows]
    assert {r[2] or "" for r in lines} == {OWN_ID, OTHER_ID, ""}  # "": the stranger's line
    text = _pdf_text(client, listed, tmp_path)
    assert all(name in text for name in ("马娟", "梁刚", "路人甲"))
    open_page = _every_kind(client, f"/office/reconcile/open?township={OWN}")
    assert "马娟" in open_page and "梁刚" not in open_page  # as the dashboard links to it


def test_a_townships_own_list_is_its_own(client: FlaskClient, store: Store, listed: str) -> None:
    """A township's office may upload the county's whole roster: it finds and closes its own
    township's differences only; its comparison is not the other township's to read."""
    _login(client, OWN_ADMIN)
    fixed = [ROSTER[0], [OWN_HEAD, "马娟", "低保", "2"], ROSTER[2], ["", "无名氏", "低保", "1"]]
    mine = _upload(client, "civil_affairs", fixed)
    reg = store.registry()
    cid = mine.rsplit("/", 1)[1]
    assert reg.comparisons[cid].township == OWN
    found = {(d.kind, d.household, d.name) for d in reg.differences.values() if cid in d.seen_in}
    assert found == {("not_on_registry", "", "无名氏")}  # 梁刚's rows are 河口镇's
    states = {(d.kind, d.household): d.status for d in reg.differences.values() if d.household}
    assert states[("category", OWN_ID)] == "gone"  # its own list agrees now
    assert states[("category", OTHER_ID)] == states[("count", OTHER_ID)] == "open"
    assert reg.differences[_difference(store, "not_on_registry").id].status == "open"
    nobody = next(d for d in reg.differences.values() if d.name == "无名氏")
    assert "无名氏" in _every_kind(client, mine)
    _login(client, OTHER_ADMIN)
    assert client.get(mine).status_code == 404
    assert client.get(mine + "/result.xlsx").status_code == 404
    assert client.post(mine + "/result.pdf", data={"csrf_token": _csrf(client)}).status_code == 404
    assert _settle(client, nobody.id, "explain") == 404
    assert "无名氏" not in _every_kind(client, "/office/reconcile/open")
    assert "名单.csv" in _page(client, "/office/reconcile")  # the county's, not 城关镇's
    assert _page(client, "/office/reconcile").count("名单.csv") == 1
    _login(client, COUNTY_ADMIN)
    assert "无名氏" in _every_kind(client, mine)


def test_a_township_follows_only_its_own_checks(
    client: FlaskClient, store: Store, listed: str
) -> None:
    result = _upload(client, "warning", WARNINGS)
    _login(client, OWN_ADMIN)
    for state in ("open", "overdue", "all"):
        page = _page(client, f"/office/reconcile/checks?state={state}")
        assert "马娟" in page and "梁刚" not in page
    feedback = _page(client, result)
    assert "马娟" in feedback and "梁刚" not in feedback
    _disposition, sheets = _workbook(client, result)
    assert [r[3] for r in sheets["核查反馈表"]] == [OWN_ID]
    assert ["核查任务", 1] in [list(r) for r in sheets["概况"]]
    _login(client, COUNTY_ADMIN)
    page = _page(client, "/office/reconcile/checks?state=overdue")
    assert "马娟" in page and "梁刚" in page


def _section(page: str) -> str:
    assert 'id="departments"' in page
    return page[page.index('id="departments"') :].split("</section>")[0]


def test_the_dashboard_shows_a_townships_own_lists(
    client: FlaskClient, store: Store, listed: str
) -> None:
    _upload(client, "warning", WARNINGS)
    _login(client, OWN_ADMIN)
    section = _section(_page(client, f"/dashboard?township={OTHER}"))  # asking: ignored
    assert "类别不一致</a> <b>1</b>" in section and "名单有花名册无</a> <b>0</b>" in section
    assert "马娟" in section and "梁刚" not in section  # the overdue checks
    assert _section(_page(client, "/dashboard")) == section
    _login(client, COUNTY_ADMIN)
    drilled = _section(_page(client, f"/dashboard?township={OTHER}"))
    assert "类别不一致</a> <b>1</b>" in drilled and "梁刚" in drilled and "马娟" not in drilled
    assert f"township={quote(OTHER)}" in drilled
    village = _section(_page(client, f"/dashboard?township={OWN}&village={OWN}/王庄村"))
    assert "马娟" in village and "梁刚" not in village
