"""Warning lists (部门筛查预警): a check per person found, due within the township's time
limit, shown to the household's helper, answered at the door, overdue on the dashboard, and
read back from the feedback table; the same list sent again makes no second check."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PEOPLE, Auth, csv_bytes
from reconcile_samples import FULL_ID, H1, HEAD1, SON1, compare, stranger, with_members

from fieldvisit.models import Household
from fieldvisit.reconcile.warnings import CheckError, record_check
from fieldvisit.storage import Store

TODAY = date.today()
LONG_AGO = (TODAY - timedelta(days=40)).isoformat()
RECENT = (TODAY - timedelta(days=2)).isoformat()


def warnings_list() -> list[list[str]]:
    return [
        ["县医保局推送"],
        ["身份证号", "姓名", "预警类型", "预警内容", "推送日期"],
        [HEAD1, "马娟", "医保高额费用", "自付超过 1 万元", RECENT.replace("-", "/")],
        [SON1, "马小军", "教育高额支出", "高职学费", LONG_AGO],
        [stranger(), "路人乙", "新发大病", "外地返乡", RECENT],
    ]


@pytest.fixture()
def checked(app: Flask, store: Store, households: dict[str, Household]) -> Store:
    with app.app_context():
        with_members(store)
    return store


def pushed(app: Flask, store: Store):  # type: ignore[no-untyped-def]
    """The warning list compared (in an app context of its own: a test client's requests
    must not share one)."""
    with app.app_context():
        return compare(store, "warning", warnings_list())


def test_each_person_found_becomes_a_check_once(app_context: None, checked: Store) -> None:
    first = compare(checked, "warning", warnings_list())
    assert first.lines == [("核查任务", 2), ("名单有花名册无", 1)]
    again = compare(checked, "warning", warnings_list())
    assert again.lines == [("核查任务", 0), ("名单有花名册无", 1)]
    checks = sorted(checked.registry().checks.values(), key=lambda c: c.due)
    assert [(c.household, c.name, c.due) for c in checks] == [
        (H1, "马小军", (TODAY - timedelta(days=25)).isoformat()),
        (H1, "马娟", (TODAY + timedelta(days=13)).isoformat()),
    ]
    assert all(first.comparison.id in c.lists and again.comparison.id in c.lists for c in checks)


def test_the_time_limit_is_a_setting(client: FlaskClient, auth: Auth, checked: Store) -> None:
    auth.login("admin")
    response = client.post(
        "/office/reconcile/settings", data={"csrf_token": auth.csrf(), "days": "30"}
    )
    assert response.status_code == 303
    assert (
        client.post(
            "/office/reconcile/settings", data={"csrf_token": auth.csrf(), "days": "0"}
        ).status_code
        == 400
    )
    pushed(client.application, checked)
    due = {c.name: c.due for c in checked.registry().checks.values()}
    assert due["马娟"] == (TODAY + timedelta(days=28)).isoformat()
    entry = [e for m in checked.audit_log.months() for e in checked.audit_log.read_entries(m)][-2]
    assert (entry.action, entry.before, entry.after) == (
        "settings.check_days",
        {"check_days": 15},
        {"check_days": 30},
    )
    auth.login("supervisor")
    assert (
        client.post(
            "/office/reconcile/settings", data={"csrf_token": auth.csrf(), "days": "9"}
        ).status_code
        == 403
    )


def test_the_cli_prints_checks_and_people_not_found(runner, checked: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listed = tmp_path / "预警.csv"
    listed.write_bytes(csv_bytes(warnings_list()))
    result = runner.invoke(args=["reconcile", "--department", "warning", str(listed)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["核查任务\t2", "名单有花名册无\t1"]
    result = runner.invoke(args=["reconcile", "--department", "warning", str(listed)])
    assert result.stdout.splitlines() == ["核查任务\t0", "名单有花名册无\t1"]


def test_the_helper_sees_and_answers_checks_at_the_door(
    client: FlaskClient, auth: Auth, checked: Store, households: dict[str, Household]
) -> None:
    pushed(client.application, checked)
    token = households["h1"].token
    check = next(c for c in checked.registry().checks.values() if c.name == "马娟")
    auth.login("owner")
    home = client.get("/").get_data(as_text=True)
    assert (
        "预警核查" in home and "医保高额费用" in home and "已逾期" in home
    )  # the son's is overdue
    form = client.get(f"/h/{token}/visit").get_data(as_text=True)
    assert "自付超过 1 万元" in form and "需要联网" in form and not FULL_ID.search(form)
    url = f"/h/{token}/checks/{check.id}"
    client.post(url, data={"csrf_token": auth.csrf(), "result": "true"})  # no action written
    assert checked.registry().checks[check.id].status == "open"
    response = client.post(
        url,
        data={
            "csrf_token": auth.csrf(),
            "result": "true",
            "action": "协助申请大病救助",
            "note": "已住院",
            "back": "visit",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/visit")
    done = checked.registry().checks[check.id]
    assert (done.status, done.result, done.action, done.done_by) == (
        "done",
        "true",
        "协助申请大病救助",
        PEOPLE["owner"][0],
    )
    entry = [e for m in checked.audit_log.months() for e in checked.audit_log.read_entries(m)][-1]
    assert (entry.action, entry.target, entry.after["result"]) == ("reconcile.check", H1, "属实")
    assert "自付超过 1 万元" not in client.get(f"/h/{token}").get_data(as_text=True)


@pytest.mark.parametrize("who", ["other", "supervisor"])
def test_only_the_households_helpers_and_the_office_answer(
    client: FlaskClient, auth: Auth, checked: Store, households: dict[str, Household], who: str
) -> None:
    pushed(client.application, checked)
    check = next(iter(checked.registry().checks.values()))
    auth.login(who)
    url = f"/h/{households['h1'].token}/checks/{check.id}"
    assert client.post(url, data={"csrf_token": auth.csrf(), "result": "false"}).status_code == 403
    assert "预警核查" not in client.get("/").get_data(as_text=True)
    # A check of another household through this household's address does not exist.
    auth.login("admin")
    wrong = f"/h/{households['h2'].token}/checks/{check.id}"
    assert (
        client.post(wrong, data={"csrf_token": auth.csrf(), "result": "false"}).status_code == 404
    )


def test_an_answer_is_recorded_once(app_context: None, checked: Store) -> None:
    compare(checked, "warning", warnings_list())
    check = next(iter(checked.registry().checks.values()))
    with pytest.raises(CheckError):
        record_check(checked, check.id, "maybe", "", "", PEOPLE["owner"][0])
    record_check(checked, check.id, "false", "", "已出院，费用已报销", PEOPLE["owner"][0])
    with pytest.raises(CheckError):
        record_check(checked, check.id, "true", "x", "", PEOPLE["owner"][0])


def test_overdue_checks_are_on_the_dashboard(
    client: FlaskClient, auth: Auth, checked: Store
) -> None:
    pushed(client.application, checked)
    auth.login("supervisor")
    page = client.get("/dashboard").get_data(as_text=True)
    section = page[page.index('id="overdue-checks"') :]
    assert (
        "教育高额支出" in section and "医保高额费用" not in section[: section.index("</section>")]
    )
    overdue = client.get("/office/reconcile/checks?state=overdue").get_data(as_text=True)
    assert "教育高额支出" in overdue and "医保高额费用" not in overdue


def test_the_feedback_table_reads_back(client: FlaskClient, auth: Auth, checked: Store) -> None:
    outcome = pushed(client.application, checked)
    check = next(c for c in checked.registry().checks.values() if c.name == "马娟")
    record_check(checked, check.id, "true", "协助申请大病救助", "", PEOPLE["owner"][0])
    auth.login("admin")
    response = client.get(f"/office/reconcile/{outcome.comparison.id}/result.xlsx")
    assert response.status_code == 200
    assert (
        "%E6%A0%B8%E6%9F%A5%E5%8F%8D%E9%A6%88%E8%A1%A8" in response.headers["Content-Disposition"]
    )  # 核查反馈表
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["概况", "核查反馈表", "名单有花名册无"]
    rows = list(book["核查反馈表"].iter_rows(values_only=True))
    header = rows[0]
    table = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [(r["姓名"], r["核查状态"], r["核查结果"]) for r in table] == [
        ("马小军", "已逾期", None),
        ("马娟", "已核查", "属实"),
        ("路人乙", "花名册无此人", None),
    ]
    assert (
        table[1]["身份证号"] == "4117**********4373"
        and table[1]["采取的措施"] == "协助申请大病救助"
    )
    assert table[1]["核查人"] == "张帮扶"
    page = client.get(f"/office/reconcile/{outcome.comparison.id}").get_data(as_text=True)
    assert "路人乙" in page and "已逾期" in page
