"""The rectification ledger (问题整改台账): listing, 销号, reopening, comments and the export."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit.models import Need
from fieldvisit.visits import needs
from fieldvisit.visits.recording import record_visit

ROLES = ("nobody", "owner", "other", "supervisor", "admin")
LOGIN = 302
STALE = 400  # a form posted without a session fails its CSRF check first
TODAY = date.today()
OLD = TODAY - timedelta(days=75)


def _need(category, description, urgent=False):
    return {"category": category, "description": description, "urgent": urgent}


@pytest.fixture()
def raised(store, households):
    """Needs of both households: two this month, one raised 75 days ago (entered by the
    office for the owner: 补录)."""
    owner, other, admin = (store.user(PEOPLE[w][0]) for w in ("owner", "other", "admin"))
    h1, h2 = households["h1"], households["h2"]
    record_visit(
        store,
        visit_payload(
            h1,
            needs=[_need("medical", "慢性病用药报销", urgent=True), _need("housing", "屋顶漏雨")],
        ),
        owner,
    )
    record_visit(
        store,
        visit_payload(
            h2, id="b0000000-0000-4000-8000-000000000002", needs=[_need("water", "水管冻裂")]
        ),
        other,
    )
    record_visit(
        store,
        visit_payload(
            h1,
            id="c0000000-0000-4000-8000-000000000003",
            date=OLD.isoformat(),
            helper=PEOPLE["owner"][0],
            needs=[_need("employment", "想找护工工作")],
        ),
        admin,
    )
    return {n.description: n for m in store.months() for n in store.needs(m)}


def stored(store, need_id):
    return next(n for m in store.months() for n in store.needs(m) if n.id == need_id)


def audit(store, action):
    return [e for e in store.audit_log.read_entries(TODAY.isoformat()[:7]) if e.action == action]


# --- who may do what ----------------------------------------------------------------------

RULES = [
    ("GET", "/needs", (LOGIN, 403, 403, 200, 200)),
    ("GET", "/needs?status=all&age=61-90", (LOGIN, 403, 403, 200, 200)),
    ("GET", "/needs/export.xlsx", (LOGIN, 403, 403, 200, 200)),
    ("GET", "/needs/{id}", (LOGIN, 403, 403, 200, 200)),
    ("POST", "/needs/{id}/resolve", (STALE, 403, 403, 403, 302)),
    ("POST", "/needs/{id}/comment", (STALE, 403, 403, 302, 302)),
]


@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
@pytest.mark.parametrize(
    ("method", "path", "expected"), RULES, ids=[f"{m} {p}" for m, p, _ in RULES]
)
def test_route_answers_role(client, auth, store, raised, method, path, expected, role_index):
    role = ROLES[role_index]
    need = raised["屋顶漏雨"]
    data = {"note": "已联系危房改造"}
    if role != "nobody":
        auth.login(role)
        data["csrf_token"] = auth.csrf()
    url = path.format(id=need.id)
    response = client.get(url) if method == "GET" else client.post(url, data=data)
    assert response.status_code == expected[role_index], response.get_data(as_text=True)[:300]
    if response.status_code == LOGIN and role == "nobody":
        assert response.headers["Location"].startswith("/login")
    after = stored(store, need.id)
    if url.endswith("/resolve"):
        assert (after.status == "resolved") == (role == "admin")
    if url.endswith("/comment"):
        assert len(after.comments) == (1 if role in ("supervisor", "admin") else 0)


@pytest.mark.parametrize(
    ("role", "expected"), [("owner", 403), ("supervisor", 403), ("admin", 302)]
)
def test_only_the_office_reopens(client, auth, store, raised, role, expected):
    need = raised["屋顶漏雨"]
    needs.resolve(store, need.id, PEOPLE["admin"][0], "已修缮")
    auth.login(role)
    data = {"csrf_token": auth.csrf(), "note": "回访发现仍漏雨"}
    response = client.post(f"/needs/{need.id}/reopen", data=data)
    assert response.status_code == expected
    assert stored(store, need.id).status == ("open" if role == "admin" else "resolved")


def test_an_unknown_need_is_404(client, auth, raised):
    auth.login("admin")
    assert client.get("/needs/no-such-need").status_code == 404
    token = auth.csrf()
    for step in ("resolve", "reopen", "comment"):
        response = client.post(
            f"/needs/no-such-need/{step}", data={"csrf_token": token, "note": "x"}
        )
        assert response.status_code == 404


# --- the ledger ---------------------------------------------------------------------------


def test_the_ledger_lists_open_needs_urgent_then_oldest(client, auth, raised, households):
    auth.login("supervisor")
    html = client.get("/needs").get_data(as_text=True)
    order = [html.index(d) for d in ("慢性病用药报销", "想找护工工作", "屋顶漏雨", "水管冻裂")]
    assert order == sorted(order)
    assert households["h1"].head in html and "王寨村" in html and "张帮扶" in html
    assert "共 4 条" in html and 'class="sortable' in html
    assert str((TODAY - OLD).days) in html  # days open
    for h in households.values():
        assert h.id_number not in html and h.id_number[-4:] not in html


def test_entries_carry_days_open_and_names(store, raised):
    entries = needs.ledger(store, needs.Filters(), TODAY)
    by_text = {e.need.description: e for e in entries}
    assert by_text["想找护工工作"].days_open == (TODAY - OLD).days
    assert by_text["屋顶漏雨"].days_open == 0
    assert by_text["屋顶漏雨"].name(PEOPLE["owner"][0]) == "张帮扶"
    assert by_text["水管冻裂"].helpers == ["李帮扶"]


def test_days_open_ends_at_resolution():
    need = Need("n", "v", "h", "村", "other", "x", False, "p", "2026-01-01")
    assert needs.days_open(need, date(2026, 1, 31)) == 30
    need.status, need.resolved_at = "resolved", "2026-01-11T09:00:00+08:00"
    assert needs.days_open(need, date(2026, 3, 1)) == 10


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"慢性病用药报销", "屋顶漏雨", "水管冻裂", "想找护工工作"}),
        ({"category": "water"}, {"水管冻裂"}),
        ({"village": "王寨村"}, {"水管冻裂"}),
        ({"helper": PEOPLE["other"][0]}, {"水管冻裂"}),
        ({"helper": PEOPLE["owner"][0]}, {"慢性病用药报销", "想找护工工作"}),
        ({"age": "61-90"}, {"想找护工工作"}),
        ({"age": "0-30"}, {"慢性病用药报销", "水管冻裂"}),
        ({"status": "resolved"}, {"屋顶漏雨"}),
        ({"status": "all", "category": "housing"}, {"屋顶漏雨"}),
        ({"status": "bogus", "category": "bogus"}, {"慢性病用药报销", "水管冻裂", "想找护工工作"}),
    ],
)
def test_filters(store, raised, query, expected):
    if query != {}:  # one resolved need, so that the status filter has something to split
        needs.resolve(store, raised["屋顶漏雨"].id, PEOPLE["admin"][0], "已修缮")
    entries = needs.ledger(store, needs.Filters.from_args(query), TODAY)
    assert {e.need.description for e in entries} == expected


def test_filters_show_in_the_page_and_its_links(client, auth, raised):
    auth.login("admin")
    html = client.get("/needs?category=water&village=王寨村").get_data(as_text=True)
    assert "水管冻裂" in html and "屋顶漏雨" not in html
    assert "/needs/export.xlsx?status=open&amp;category=water&amp;village=" in html


# --- 销号, reopening, comments -------------------------------------------------------------


def test_the_office_resolves_with_a_note(client, auth, store, raised):
    need = raised["屋顶漏雨"]
    auth.login("admin")
    response = client.post(
        f"/needs/{need.id}/resolve", data={"csrf_token": auth.csrf(), "note": "已纳入危房改造"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/needs/{need.id}"
    after = stored(store, need.id)
    assert after.status == "resolved"
    assert after.resolved_by == PEOPLE["admin"][0]
    assert after.resolved_at[:10] == TODAY.isoformat()
    assert after.resolution == "已纳入危房改造"
    assert after.history == [
        {
            "action": "resolve",
            "who": PEOPLE["admin"][0],
            "at": after.resolved_at,
            "note": "已纳入危房改造",
        }
    ]
    (entry,) = audit(store, "need.resolve")
    assert (entry.who, entry.target) == (PEOPLE["admin"][0], need.id)
    assert entry.before["status"] == "open" and entry.after["status"] == "resolved"
    assert entry.after["resolution"] == "已纳入危房改造"
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert "已销号" in page and "已纳入危房改造" in page and "赵扶贫办" in page


def test_resolving_needs_a_note(client, auth, store, raised):
    need = raised["屋顶漏雨"]
    auth.login("admin")
    response = client.post(
        f"/needs/{need.id}/resolve", data={"csrf_token": auth.csrf(), "note": " "}
    )
    assert response.status_code == 400
    assert "请写明整改情况" in response.get_data(as_text=True)
    assert stored(store, need.id).status == "open"
    assert audit(store, "need.resolve") == []


def test_a_resolved_need_cannot_be_resolved_again(client, auth, store, raised):
    need = raised["屋顶漏雨"]
    needs.resolve(store, need.id, PEOPLE["admin"][0], "已修缮")
    auth.login("admin")
    response = client.post(
        f"/needs/{need.id}/resolve", data={"csrf_token": auth.csrf(), "note": "再次"}
    )
    assert response.status_code == 409
    assert stored(store, need.id).resolution == "已修缮"


def test_reopening_keeps_the_earlier_resolution_in_the_history(client, auth, store, raised):
    need = raised["屋顶漏雨"]
    needs.resolve(store, need.id, PEOPLE["admin"][0], "已修缮")
    auth.login("admin")
    response = client.post(
        f"/needs/{need.id}/reopen", data={"csrf_token": auth.csrf(), "note": "回访发现仍漏雨"}
    )
    assert response.status_code == 302
    after = stored(store, need.id)
    assert (after.status, after.resolved_by, after.resolved_at, after.resolution) == (
        "open",
        "",
        "",
        "",
    )
    assert [s["action"] for s in after.history] == ["resolve", "reopen"]
    assert after.history[0]["note"] == "已修缮"
    assert after.history[1]["note"] == "回访发现仍漏雨"
    (entry,) = audit(store, "need.reopen")
    assert entry.before["resolution"] == "已修缮" and entry.after["status"] == "open"
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert "回访发现仍漏雨" in page and "已修缮" in page
    # Open again, so the household's page lists it again.
    html = client.get(f"/h/{need_household_token(store, after)}").get_data(as_text=True)
    assert "屋顶漏雨" in html


def need_household_token(store, need):
    return store.household(need.household).token


def test_only_a_resolved_need_can_be_reopened(client, auth, store, raised):
    auth.login("admin")
    need = raised["屋顶漏雨"]
    response = client.post(f"/needs/{need.id}/reopen", data={"csrf_token": auth.csrf()})
    assert response.status_code == 409
    assert stored(store, need.id).history == []


def test_a_supervisor_comments_and_changes_nothing_else(client, auth, store, raised):
    need = raised["水管冻裂"]
    auth.login("supervisor")
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert "添加意见" in page
    assert f"/needs/{need.id}/resolve" not in page  # no 销号 form for a supervisor
    response = client.post(
        f"/needs/{need.id}/comment", data={"csrf_token": auth.csrf(), "note": "请本周内处理"}
    )
    assert response.status_code == 302
    after = stored(store, need.id)
    assert after.status == "open"
    assert after.comments == [
        {"who": PEOPLE["supervisor"][0], "at": after.comments[0]["at"], "text": "请本周内处理"}
    ]
    (entry,) = audit(store, "need.comment")
    assert entry.who == PEOPLE["supervisor"][0] and entry.after == {"text": "请本周内处理"}
    assert "请本周内处理" in client.get(f"/needs/{need.id}").get_data(as_text=True)


def test_an_empty_comment_is_refused(client, auth, store, raised):
    need = raised["水管冻裂"]
    auth.login("supervisor")
    response = client.post(
        f"/needs/{need.id}/comment", data={"csrf_token": auth.csrf(), "note": ""}
    )
    assert response.status_code == 400
    assert stored(store, need.id).comments == []


def test_the_helper_sees_open_needs_on_the_household_page(client, auth, store, raised, households):
    needs.resolve(store, raised["屋顶漏雨"].id, PEOPLE["admin"][0], "已修缮")
    auth.login("owner")
    html = client.get(f"/h/{households['h1'].token}").get_data(as_text=True)
    assert "慢性病用药报销" in html and "想找护工工作" in html
    assert "屋顶漏雨" not in html  # closed off


def test_needs_stored_before_the_ledger_had_history_still_load():
    doc = {
        "id": "n1",
        "visit": "v1",
        "household": "h",
        "village": "村",
        "category": "other",
        "description": "x",
        "urgent": False,
        "raised_by": "p",
        "raised_at": "2025-01-01",
        "status": "resolved",
        "resolved_by": "a",
        "resolved_at": "2025-02-01",
        "resolution": "done",
    }
    need = Need.from_doc(doc)
    assert need.history == [] and need.comments == []


# --- export -------------------------------------------------------------------------------


def test_the_export_is_a_workbook_with_chinese_headers(client, auth, store, raised, households):
    from openpyxl import load_workbook

    needs.resolve(store, raised["屋顶漏雨"].id, PEOPLE["admin"][0], "已修缮")
    needs.comment(store, raised["水管冻裂"].id, PEOPLE["supervisor"][0], "请尽快")
    auth.login("supervisor")
    response = client.get("/needs/export.xlsx?status=all")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet.title == "问题整改台账"
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == needs.EXPORT_COLUMNS
    assert len(rows) == 1 + 4
    by_text = {r[5]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    roof = by_text["屋顶漏雨"]
    assert roof["户编号"] == households["h1"].id and roof["户主姓名"] == "马娟"
    assert (
        roof["状态"] == "已销号" and roof["整改情况"] == "已修缮" and roof["销号人"] == "赵扶贫办"
    )
    assert by_text["慢性病用药报销"]["是否紧急"] == "是"
    assert by_text["想找护工工作"]["历时天数"] == (TODAY - OLD).days
    assert (
        "王督查" in by_text["水管冻裂"]["督查意见"] and "请尽快" in by_text["水管冻裂"]["督查意见"]
    )
    assert sheet.column_dimensions["F"].width >= len("慢性病用药报销") * 2
    cells = " ".join(str(v) for r in rows for v in r if v is not None)
    for h in households.values():
        assert h.id_number not in cells


def test_the_export_follows_the_filters(client, auth, raised):
    from openpyxl import load_workbook

    auth.login("admin")
    response = client.get("/needs/export.xlsx?village=王寨村")
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert [r[5] for r in rows[1:]] == ["水管冻裂"]
