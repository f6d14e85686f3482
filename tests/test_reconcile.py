"""Comparing departments' lists: every kind of difference for each department, matching by
ID number (old 15-digit ones too) and by name within a household only, the CLI's lines and
workbook, the office's page for every role, settling each way, and the PDF."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import openpyxl
import pytest
from flask.testing import FlaskClient
from helpers import PEOPLE, Auth, csv_bytes
from reconcile_samples import (
    DAUGHTER2,
    FULL_ID,
    H1,
    H2,
    HEAD1,
    HEAD2,
    SON1,
    WIFE2,
    compare,
    stranger,
    with_members,
)

from fieldvisit.documents.jobs import get_runner
from fieldvisit.models import Household
from fieldvisit.reconcile import settle
from fieldvisit.storage import Store

KINDS = ["名单有花名册无", "花名册有名单无", "类别不一致", "人数不一致", "姓名不一致"]
ROSTER = [
    ["民政低保特困名单"],
    ["身份证号码", "申请人姓名", "保障类别", "保障人数"],
    [HEAD1, "马娟", "特困", "3"],  # h1 is 低保 with 2 people
    [stranger(), "路人甲", "低保", "1"],
]


@pytest.fixture()
def members(app_context: None, store: Store, households: dict[str, Household]) -> Store:
    with_members(store)
    return store


def _found(store: Store) -> set[tuple[str, str, str, str, str]]:
    return {
        (d.kind, d.household, d.name, d.registry_value, d.list_value)
        for d in store.registry().differences.values()
        if d.status == "open"
    }


def test_civil_affairs_finds_each_kind(members: Store) -> None:
    outcome = compare(members, "civil_affairs", ROSTER)
    assert outcome.lines == list(zip(KINDS, [1, 1, 1, 1, 0], strict=True))
    assert _found(members) == {
        ("not_on_registry", "", "路人甲", "无", "路人甲"),
        ("missing_from_list", H2, "梁刚", "低保", "无"),  # h2 is 低保 and not on the roster
        ("category", H1, "马娟", "低保", "特困"),
        ("count", H1, "马娟", "2", "3"),
    }
    comparison = outcome.comparison
    assert comparison.department == "civil_affairs" and len(comparison.sha256) == 64
    assert members.registry().comparisons[comparison.id].counts["category"] == 1


def test_disability_medical_and_education(members: Store) -> None:
    compare(
        members,
        "disability",
        [["身份证号", "姓名", "残疾类别", "残疾等级"], [SON1, "马小军", "视力残疾", "4"]],
    )
    assert _found(members) == {
        ("category", H1, "马小军", "无", "视力四级"),
        ("missing_from_list", H2, "王芳", "肢体二级", "无"),
    }
    compare(
        members,
        "medical_insurance",
        [
            ["身份证号", "姓名", "参保状态"],
            [HEAD1, "马娟", "停保"],
            [SON1, "马小军", "已参保"],
            [HEAD2, "梁刚", "已参保"],
        ],
    )
    medical = {f for f in _found(members) if f[0] != "category" or f[2] == "马娟"} - {
        ("missing_from_list", H2, "王芳", "肢体二级", "无")
    }
    # The wife is insured and missing; the daughter is recorded uninsured, so not expected.
    assert ("missing_from_list", H2, "王芳", "已参保", "无") in medical
    assert ("category", H1, "马娟", "已参保", "停保") in medical
    assert not any(f[2] == "梁雪" for f in medical)
    compare(
        members,
        "education",
        [["身份证号", "学生姓名", "学段", "资助项目"], [SON1, "马小军", "小学", "营养餐"]],
    )
    found = _found(members)
    assert ("category", H1, "马小军", "初中", "小学") in found
    assert ("missing_from_list", H2, "梁雪", "高中", "无") in found


def test_names_and_old_numbers(members: Store) -> None:
    old = HEAD1[:6] + HEAD1[8:17]
    outcome = compare(
        members,
        "civil_affairs",
        [
            ["身份证号", "姓名", "保障类别", "保障人数"],
            [old, "马 娟", "低保", "2"],
            [HEAD2, "梁钢", "低保", "2"],
        ],
    )
    assert outcome.lines == list(zip(KINDS, [0, 0, 0, 0, 1], strict=True))
    (d,) = members.registry().differences.values()
    assert (d.kind, d.registry_value, d.list_value) == ("name", "梁刚", "梁钢")


def test_matching_by_name_only_within_the_household_a_row_names(members: Store) -> None:
    rows = [
        ["户编号", "户主身份证号", "身份证号", "姓名", "参保状态"],
        [H1, "", "", "马小军", "已参保"],  # found in h1 by name
        ["", HEAD2, "", "王芳", "已参保"],  # found in h2 through its head's number
        ["", "", "", "梁雪", "已参保"],  # no household named: never by name alone
    ]
    outcome = compare(members, "medical_insurance", rows)
    missing = {f[2] for f in _found(members) if f[0] == "missing_from_list"}
    assert missing == {"马娟", "梁刚"}  # 马小军 and 王芳 were found; 梁雪 is recorded uninsured
    assert dict(outcome.lines)["名单有花名册无"] == 1


def test_comparing_again_keeps_what_was_settled_and_marks_what_agrees_now(members: Store) -> None:
    compare(members, "civil_affairs", ROSTER)
    reg = members.registry()
    missing = next(d for d in reg.differences.values() if d.kind == "missing_from_list")
    settle.explain(members, missing.id, "民政审批中", PEOPLE["admin"][0])
    fixed = [ROSTER[1], [HEAD1, "马娟", "低保", "2"]]
    outcome = compare(members, "civil_affairs", fixed)
    assert outcome.lines == list(zip(KINDS, [0, 1, 0, 0, 0], strict=True))
    states = {d.kind: d.status for d in members.registry().differences.values()}
    assert states == {
        "missing_from_list": "settled",
        "category": "gone",
        "count": "gone",
        "not_on_registry": "gone",
    }
    assert members.registry().differences[missing.id].note == "民政审批中"


def test_taking_the_departments_value_edits_the_registry_with_an_audit_entry(
    members: Store,
) -> None:
    compare(members, "civil_affairs", ROSTER)
    reg = members.registry()
    by_kind = {d.kind: d for d in reg.differences.values()}
    settle.take(members, by_kind["category"].id, PEOPLE["admin"][0])
    settle.take(members, by_kind["count"].id, PEOPLE["admin"][0])
    h1 = members.household(H1)
    assert h1 is not None and (h1.attribute, h1.members) == ("wubao", 3)
    with pytest.raises(settle.SettleError):
        settle.take(members, by_kind["count"].id, PEOPLE["admin"][0])  # already settled
    with pytest.raises(settle.SettleError):
        settle.take(members, by_kind["not_on_registry"].id, PEOPLE["admin"][0])  # nothing to take
    entries = [e for m in members.audit_log.months() for e in members.audit_log.read_entries(m)]
    taken = [e for e in entries if e.action == "reconcile.take"]
    assert [
        (e.target, e.before, e.after["attribute" if "attribute" in e.after else "members"])
        for e in taken
    ] == [
        (H1, {"attribute": "dibao"}, "wubao"),
        (H1, {"members": 2}, 3),
    ]
    assert any(e.action == "reconcile.compare" and e.after["sha256"] for e in entries)
    raw = "".join(p.read_text("utf-8") for p in (members.root / "audit").glob("*.jsonl"))
    assert HEAD1 not in raw and WIFE2 not in raw


def test_a_members_value_is_checked_before_it_is_taken(members: Store) -> None:
    compare(
        members,
        "disability",
        [
            ["身份证号", "姓名", "残疾类别", "残疾等级"],
            [WIFE2, "王芳", "肢体", "三级"],
            [DAUGHTER2, "梁雪", "听力", "五级"],
        ],
    )
    reg = members.registry()
    grade = next(d for d in reg.differences.values() if d.name == "王芳")
    settle.take(members, grade.id, PEOPLE["admin"][0])
    assert members.registry().members[WIFE2].disability_grade == "三级"
    odd = next(d for d in reg.differences.values() if d.name == "梁雪")
    with pytest.raises(settle.SettleError):
        settle.take(members, odd.id, PEOPLE["admin"][0])  # 五级 is no grade


def test_the_cli_prints_one_line_per_kind_and_writes_the_workbook(
    runner, members: Store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    listed = tmp_path / "民政.csv"
    listed.write_bytes(csv_bytes(ROSTER))
    out = tmp_path / "result.xlsx"
    result = runner.invoke(
        args=["reconcile", "--department", "civil_affairs", str(listed), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "名单有花名册无\t1",
        "花名册有名单无\t1",
        "类别不一致\t1",
        "人数不一致\t1",
        "姓名不一致\t0",
    ]
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["概况", *KINDS]
    rows = list(book["类别不一致"].iter_rows(values_only=True))
    assert rows[0][:6] == ("序号", "村", "户编号", "户主", "姓名", "身份证号")
    assert rows[1][2:8] == (H1, "马娟", "马娟", "4117**********4373", "低保", "特困")
    bad = runner.invoke(
        args=["reconcile", "--department", "civil_affairs", str(tmp_path / "result.xlsx")]
    )
    assert bad.exit_code != 0


def _upload(client: FlaskClient, auth: Auth, department: str, rows: list[list[str]]):  # type: ignore[no-untyped-def]
    data = {
        "csrf_token": auth.csrf(),
        "department": department,
        "file": (io.BytesIO(csv_bytes(rows)), "名单.csv"),
    }
    return client.post("/office/reconcile", data=data, content_type="multipart/form-data")


@pytest.fixture()
def uploaded(
    client: FlaskClient, auth: Auth, households: dict[str, Household], store: Store
) -> str:
    with client.application.app_context():
        with_members(store)
    auth.login("admin")
    response = _upload(client, auth, "civil_affairs", ROSTER)
    assert response.status_code == 303
    return response.headers["Location"]


def test_the_office_reads_the_result_with_ids_masked(client: FlaskClient, uploaded: str) -> None:
    page = client.get(uploaded).get_data(as_text=True)
    for kind in KINDS:
        assert kind in page
    page = client.get(uploaded + "?kind=category").get_data(as_text=True)
    assert "4117**********4373" in page and "特困" in page and not FULL_ID.search(page)
    assert "采用部门数据" in page
    index = client.get("/office/reconcile").get_data(as_text=True)
    assert "名单.csv" in index and not FULL_ID.search(index)


def test_roles_on_the_office_pages(
    client: FlaskClient, auth: Auth, uploaded: str, store: Store
) -> None:
    did = next(iter(store.registry().differences))
    auth.login("supervisor")
    assert client.get(uploaded).status_code == 200
    assert "采用部门数据" not in client.get(uploaded + "?kind=category").get_data(as_text=True)
    assert _upload(client, auth, "civil_affairs", ROSTER).status_code == 403
    assert (
        client.post(
            f"/office/reconcile/differences/{did}/take", data={"csrf_token": auth.csrf()}
        ).status_code
        == 403
    )
    assert (
        client.get(
            uploaded.replace("/office/reconcile/", "/office/reconcile/") + "/result.xlsx"
        ).status_code
        == 403
    )
    auth.login("owner")
    for url in (
        "/office/reconcile",
        uploaded,
        "/office/reconcile/open",
        "/office/reconcile/checks",
    ):
        assert client.get(url).status_code == 403
    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert client.get("/office/reconcile").status_code == 302  # to the login page


def test_a_difference_sent_to_the_helper_is_answered_at_the_door(
    client: FlaskClient, auth: Auth, uploaded: str, store: Store, households: dict[str, Household]
) -> None:
    reg = store.registry()
    category = next(d for d in reg.differences.values() if d.kind == "category")
    response = client.post(
        f"/office/reconcile/differences/{category.id}/send",
        data={"csrf_token": auth.csrf(), "back": uploaded},
    )
    assert response.status_code == 303 and response.headers["Location"] == uploaded
    token = households["h1"].token
    auth.login("other")  # not h1's helper
    assert (
        client.post(
            f"/h/{token}/differences/{category.id}/answer",
            data={"csrf_token": auth.csrf(), "verdict": "registry"},
        ).status_code
        == 403
    )
    auth.login("owner")
    assert "需要入户核实的事项" in client.get("/h/" + token + "/visit").get_data(as_text=True)
    response = client.post(
        f"/h/{token}/differences/{category.id}/answer",
        data={
            "csrf_token": auth.csrf(),
            "verdict": "department",
            "note": "已申请特困",
            "back": "visit",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/h/{token}/visit"
    )
    d = store.registry().differences[category.id]
    assert d.status == "open" and d.note == "已申请特困"  # back to the office, to take it
    auth.login("admin")
    client.post(
        f"/office/reconcile/differences/{category.id}/send", data={"csrf_token": auth.csrf()}
    )
    auth.login("owner")
    client.post(
        f"/h/{token}/differences/{category.id}/answer",
        data={"csrf_token": auth.csrf(), "verdict": "registry"},
    )
    d = store.registry().differences[category.id]
    assert (d.status, d.settlement) == ("settled", "checked")
    assert "需要入户核实的事项" not in client.get("/h/" + token).get_data(as_text=True)
    actions = [e.action for m in store.audit_log.months() for e in store.audit_log.read_entries(m)]
    assert actions.count("reconcile.send") == 2 and actions.count("reconcile.answer") == 2


def test_explaining_needs_a_note(
    client: FlaskClient, auth: Auth, uploaded: str, store: Store
) -> None:
    did = next(d.id for d in store.registry().differences.values() if d.kind == "not_on_registry")
    client.post(
        f"/office/reconcile/differences/{did}/explain",
        data={"csrf_token": auth.csrf(), "note": " "},
    )
    assert store.registry().differences[did].status == "open"
    client.post(
        f"/office/reconcile/differences/{did}/explain",
        data={"csrf_token": auth.csrf(), "note": "外县人员"},
    )
    d = store.registry().differences[did]
    assert (d.status, d.settlement, d.note) == ("settled", "explained", "外县人员")
    page = client.get("/office/reconcile/open?kind=not_on_registry").get_data(as_text=True)
    assert "外县人员" not in page  # settled: no longer open


def test_the_dashboard_counts_open_differences_by_kind(
    client: FlaskClient, auth: Auth, uploaded: str
) -> None:
    page = client.get("/dashboard").get_data(as_text=True)
    section = page[page.index('id="departments"') :]
    assert "类别不一致</a> <b>1</b>" in section and "姓名不一致</a> <b>0</b>" in section


def test_full_id_numbers_only_with_the_confirmation(
    client: FlaskClient, auth: Auth, uploaded: str
) -> None:
    url = uploaded + "/result.xlsx"
    masked = openpyxl.load_workbook(io.BytesIO(client.get(url + "?full_ids=1").data))
    assert masked["类别不一致"]["F2"].value == "4117**********4373"
    refused = client.post(url, data={"csrf_token": auth.csrf(), "full_ids": "1"})
    assert refused.status_code == 303
    full = client.post(url, data={"csrf_token": auth.csrf(), "full_ids": "1", "confirm": "1"})
    assert openpyxl.load_workbook(io.BytesIO(full.data))["类别不一致"]["F2"].value == HEAD1


def test_the_result_prints_as_a_pdf(
    client: FlaskClient, auth: Auth, uploaded: str, tmp_path: Path
) -> None:
    response = client.post(uploaded + "/result.pdf", data={"csrf_token": auth.csrf()})
    assert response.status_code == 303
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = get_runner(client.application).wait(job_id, timeout=60)
    assert job.finished_ok, job.error
    pdf = client.get(f"/reports/jobs/{job_id}/download")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf.get_data())
    pdf.close()  # a file response keeps its file open until closed
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "民政低保特困名单比对结果" in text
    for kind in KINDS:
        assert kind in text
    assert "4117**********4373" in text and HEAD1 not in text
