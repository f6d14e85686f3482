"""The office's households and helpers: lists, registry edits, pairings and accounts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from helpers import PASSWORD, PEOPLE, csrf_from, make_household, visit_payload

from fieldvisit import registry
from fieldvisit.access.passwords import hash_password
from fieldvisit.models import User
from fieldvisit.visits.recording import record_visit

ROLES = ("nobody", "owner", "other", "supervisor", "admin")
LOGIN = 302
STALE = 400  # a form posted without a session fails its CSRF check first
SPARE = "13900000009"  # a third helper, paired with nobody
TODAY = date.today()


@pytest.fixture()
def office(store, households):
    """The test households plus 王建国 (a second household of the owner) and a spare helper."""

    def add(reg):
        h = make_household(id="4117210010007", head="王建国", group="5组", id_number="")
        reg.households[h.id] = h
        reg.users[SPARE] = User(SPARE, "孙备用", "helper", hash_password(PASSWORD), unit="镇农办")

    store.update_registry(add)
    return store


def audit(store, action):
    return [e for e in store.audit_log.read_entries(TODAY.isoformat()[:7]) if e.action == action]


def edit_form(household, **changes):
    form = {
        "village": household.village,
        "group": household.group,
        "head": household.head,
        "members": str(household.members),
        "attribute": household.attribute,
        "cause": household.cause,
        "status": household.status,
        "exit_year": "" if household.exit_year is None else str(household.exit_year),
        "phone": household.phone,
        "id_number": "",
    }
    if household.long_absent:
        form["long_absent"] = "1"
    form.update(changes)
    return form


# --- who may do what ----------------------------------------------------------------------

H1 = "4117210010001"
RULES = [
    ("GET", "/office/households", (LOGIN, 403, 403, 200, 200)),
    ("GET", "/office/households?q=wjg&state=not_visited", (LOGIN, 403, 403, 200, 200)),
    ("GET", f"/office/households/{H1}/edit", (LOGIN, 403, 403, 403, 200)),
    ("POST", f"/office/households/{H1}/edit", (STALE, 403, 403, 403, 302)),
    ("POST", f"/office/households/{H1}/helpers", (STALE, 403, 403, 403, 302)),
    ("GET", "/office/helpers", (LOGIN, 403, 403, 200, 200)),
    ("GET", "/office/helpers?q=zbf", (LOGIN, 403, 403, 200, 200)),
    ("GET", f"/office/helpers/{SPARE}", (LOGIN, 403, 403, 200, 200)),
    ("POST", f"/office/helpers/{PEOPLE['owner'][0]}/transfer", (STALE, 403, 403, 403, 302)),
    ("POST", f"/office/helpers/{SPARE}/deactivate", (STALE, 403, 403, 403, 302)),
    ("POST", f"/office/helpers/{SPARE}/password", (STALE, 403, 403, 403, 200)),
]


@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
@pytest.mark.parametrize(
    ("method", "path", "expected"), RULES, ids=[f"{m} {p}" for m, p, _ in RULES]
)
def test_route_answers_role(client, auth, office, method, path, expected, role_index):
    role = ROLES[role_index]
    h1 = office.household(H1)
    data = {
        **edit_form(h1, head="马秀娟"),
        "helpers": SPARE,
        "to": SPARE,
    }
    if role != "nobody":
        auth.login(role)
        data["csrf_token"] = auth.csrf()
    spare_hash = office.user(SPARE).password_hash
    response = client.get(path) if method == "GET" else client.post(path, data=data)
    assert response.status_code == expected[role_index], response.get_data(as_text=True)[:300]
    if response.status_code == LOGIN and role == "nobody":
        assert response.headers["Location"].startswith("/login")
    # What was stored: changed by the office only.
    changed = role == "admin"
    if path.endswith("/edit") and method == "POST":
        assert (office.household(H1).head == "马秀娟") == changed
    if path.endswith("/helpers") and method == "POST":
        assert (office.household(H1).helpers == [SPARE]) == changed
    if path.endswith("/transfer"):
        assert (SPARE in office.household(H1).helpers) == changed
    if path.endswith("/deactivate"):
        assert office.user(SPARE).active is not changed
    if path.endswith("/password"):
        assert (office.user(SPARE).password_hash != spare_hash) == changed


@pytest.mark.parametrize("role", ["owner", "supervisor", "admin"])
def test_activate_is_for_the_office(client, auth, office, role):
    office.update_registry(lambda reg: setattr(reg.users[SPARE], "active", False))
    auth.login(role)
    response = client.post(f"/office/helpers/{SPARE}/activate", data={"csrf_token": auth.csrf()})
    assert response.status_code == (302 if role == "admin" else 403)
    assert office.user(SPARE).active is (role == "admin")


def test_only_helpers_are_managed_here(client, auth, office):
    auth.login("admin")
    token = auth.csrf()
    for who in ("admin", "supervisor"):
        phone = PEOPLE[who][0]
        assert client.get(f"/office/helpers/{phone}").status_code == 404
        response = client.post(f"/office/helpers/{phone}/deactivate", data={"csrf_token": token})
        assert response.status_code == 404
        assert office.user(phone).active
    assert client.get("/office/households/999/edit").status_code == 404


# --- the household list -------------------------------------------------------------------


def test_the_list_finds_a_head_by_pinyin_initials(client, auth, office):
    auth.login("supervisor")
    html = client.get("/office/households?q=wjg").get_data(as_text=True)
    assert "王建国" in html and "马娟" not in html and "梁刚" not in html
    assert "共 1 户" in html
    assert "/edit" not in html  # a supervisor gets no edit links


def test_the_list_shows_what_the_office_needs_and_never_an_id_number(client, auth, office):
    auth.login("admin")
    html = client.get("/office/households").get_data(as_text=True)
    for text in ("马娟", "梁刚", "王建国", "低保贫困户", "因病", "未脱贫", "张帮扶", "未走访"):
        assert text in html
    assert 'class="sortable"' in html
    assert f"/office/households/{H1}/edit" in html
    for h in office.registry().households.values():
        if h.id_number:
            assert h.id_number not in html and h.id_number[-4:] not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("village=王寨村", {"梁刚"}),
        ("q=10007", {"王建国"}),
        ("q=聂河村", {"马娟", "王建国"}),
        ("attribute=wubao", {"王建国"}),
        ("cause=disability", {"王建国"}),
        ("status=exited", {"王建国"}),
        ("state=visited", {"马娟"}),
        ("state=not_visited", {"梁刚", "王建国"}),
        ("state=attempted", {"王建国"}),
        ("village=聂河村&state=not_visited", {"王建国"}),
    ],
)
def test_the_list_filters(client, auth, office, query, expected):
    def vary(reg):
        h = reg.households["4117210010007"]
        h.attribute, h.cause, h.status, h.exit_year = "wubao", "disability", "exited", 2019

    office.update_registry(vary)
    owner = office.user(PEOPLE["owner"][0])
    record_visit(office, visit_payload(office.household(H1)), owner)
    attempt = visit_payload(
        office.household("4117210010007"),
        id="d0000000-0000-4000-8000-000000000004",
        kind="nobody_home",
        guarantees={},
        environment={},
        satisfaction="",
        needs=[],
    )
    record_visit(office, attempt, owner)
    auth.login("admin")
    html = client.get(f"/office/households?{query}").get_data(as_text=True)
    shown = {name for name in ("马娟", "梁刚", "王建国") if f">{name}</a>" in html}
    assert shown == expected


def test_the_list_is_paged(client, auth, office):
    def many(reg):
        for i in range(60):
            h = make_household(id=f"41172100900{i:02d}", head=f"测试{i:02d}", group="9组")
            reg.households[h.id] = h

    office.update_registry(many)
    auth.login("admin")
    first = client.get("/office/households?village=聂河村").get_data(as_text=True)
    assert "第 1 / 2 页" in first and "page=2" in first and "village=" in first
    second = client.get("/office/households?village=聂河村&page=2").get_data(as_text=True)
    assert "第 2 / 2 页" in second
    assert first.count("<tr class=") + second.count("<tr class=") == 62
    # Found by a tester: a heading sorted only the page shown, which looked like the list.
    assert 'class="sortable"' not in first


# --- editing a household ------------------------------------------------------------------


def test_the_edit_form_shows_the_id_number_masked_only(client, auth, office):
    auth.login("admin")
    html = client.get(f"/office/households/{H1}/edit").get_data(as_text=True)
    h1 = office.household(H1)
    assert h1.id_number not in html
    assert "4117**********4373" in html
    assert 'value="马娟"' in html


def test_the_office_edits_a_household(client, auth, office):
    auth.login("admin")
    h1 = office.household(H1)
    form = edit_form(
        h1,
        head="马秀娟",
        members="３",  # full-width, as a Chinese keyboard may type it
        status="exited",
        exit_year="2020",
        id_number="41172119810905367X",
        long_absent="1",
        csrf_token=auth.csrf(),
    )
    response = client.post(f"/office/households/{H1}/edit", data=form)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/h/{h1.token}"
    after = office.household(H1)
    assert (after.head, after.members, after.status, after.exit_year) == (
        "马秀娟",
        3,
        "exited",
        2020,
    )
    assert after.long_absent is True and after.id_number == "41172119810905367X"
    assert after.token == h1.token and after.helpers == h1.helpers and after.updated_at
    (entry,) = audit(office, "household.edit")
    assert entry.who == PEOPLE["admin"][0] and entry.target == H1
    assert entry.before["head"] == "马娟" and entry.after["head"] == "马秀娟"
    assert entry.before["members"] == 2 and entry.after["members"] == 3
    # ID numbers stay masked in the audit log too.
    assert entry.before["id_number"] == "4117**********4373"
    assert entry.after["id_number"] == "4117**********367X"
    assert "group" not in entry.after  # unchanged fields are not listed


def test_an_empty_id_number_keeps_the_stored_one(client, auth, office):
    auth.login("admin")
    h1 = office.household(H1)
    form = edit_form(h1, phone="13812345678", csrf_token=auth.csrf())
    assert client.post(f"/office/households/{H1}/edit", data=form).status_code == 302
    after = office.household(H1)
    assert after.id_number == h1.id_number and after.phone == "13812345678"


def test_saving_without_changes_writes_nothing(client, auth, office):
    auth.login("admin")
    h1 = office.household(H1)
    response = client.post(
        f"/office/households/{H1}/edit", data=edit_form(h1, csrf_token=auth.csrf())
    )
    assert response.status_code == 302
    assert office.household(H1) == h1
    assert audit(office, "household.edit") == []


def import_errors(store, column, value):
    """What the spreadsheet import says about ``value`` in ``column`` of an otherwise valid
    row: the reasons the edit form must give too."""
    row = {
        "户编号": "4117219990001",
        "村": "聂河村",
        "户主姓名": "测试",
        "家庭人口": "2",
        "贫困户属性": "低保贫困户",
        "主要致贫原因": "因病",
        "脱贫状态": "未脱贫",
        column: value,
    }
    header = list(row)
    data = (",".join(header) + "\n" + ",".join(row[c] for c in header) + "\n").encode()
    with pytest.raises(registry.RegistryError) as caught:
        registry.import_registry(store, data, "one-row.csv", actor="test")
    return [e.reason for e in caught.value.errors]


@pytest.mark.parametrize(
    ("field", "column", "value"),
    [
        ("members", "家庭人口", "0"),
        ("members", "家庭人口", "两人"),
        ("head", "户主姓名", ""),
        ("attribute", "贫困户属性", "特困户"),
        ("status", "脱贫状态", "已脱贫"),  # without 脱贫年度
        ("exit_year", "脱贫年度", "1999"),
        ("id_number", "身份证号", "411721193701024374"),  # wrong check digit
        ("id_number", "身份证号", "4117211937"),
    ],
)
def test_edit_refuses_what_the_import_refuses(client, auth, office, field, column, value):
    expected = import_errors(office, column, value)
    auth.login("admin")
    h1 = office.household(H1)
    response = client.post(
        f"/office/households/{H1}/edit",
        data=edit_form(h1, **{field: value}, csrf_token=auth.csrf()),
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert expected and all(reason in html for reason in expected), expected
    assert office.household(H1) == h1
    if field == "id_number":
        assert value not in html  # not even a mistyped number is sent back
    assert audit(office, "household.edit") == []


def test_edit_accepts_labels_as_the_import_does(office):
    from fieldvisit.households import office as admin

    values = admin.check_household_fields(
        H1, edit_form(office.household(H1), attribute="五保贫困户")
    )
    assert values["attribute"] == "wubao"


# --- helpers of a household ---------------------------------------------------------------


def post_helpers(client, auth, helpers):
    return client.post(
        f"/office/households/{H1}/helpers", data={"csrf_token": auth.csrf(), "helpers": helpers}
    )


def test_the_office_changes_a_households_helpers(client, auth, office):
    auth.login("admin")
    response = post_helpers(client, auth, [PEOPLE["owner"][0], "", "孙备用"])  # a name will do
    assert response.status_code == 302
    assert office.household(H1).helpers == [PEOPLE["owner"][0], SPARE]
    (entry,) = audit(office, "household.helpers")
    assert entry.before == [PEOPLE["owner"][0]] and entry.after == [PEOPLE["owner"][0], SPARE]
    assert entry.who == PEOPLE["admin"][0] and entry.target == H1
    html = client.get(f"/h/{office.household(H1).token}").get_data(as_text=True)
    assert "孙备用" in html


@pytest.mark.parametrize(
    ("helpers", "message"),
    [
        ([""], "至少要有一名帮扶责任人"),
        (["13999999999"], "不是帮扶责任人"),
        ([PEOPLE["supervisor"][0]], "不是帮扶责任人"),
        (["无此人"], "没有叫"),
        ([f"孙备用、{PEOPLE['supervisor'][0]}"], "不是帮扶责任人"),
    ],
)
def test_helpers_that_cannot_be_paired(client, auth, office, helpers, message):
    auth.login("admin")
    response = post_helpers(client, auth, helpers)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert office.household(H1).helpers == [PEOPLE["owner"][0]]
    assert audit(office, "household.helpers") == []


def test_a_stopped_helper_cannot_be_newly_paired(client, auth, office):
    office.update_registry(lambda reg: setattr(reg.users[SPARE], "active", False))
    auth.login("admin")
    response = post_helpers(client, auth, [SPARE])
    assert response.status_code == 400
    assert "已停用" in response.get_data(as_text=True)


# --- helpers: transfer, deactivate, password ----------------------------------------------


def test_transfer_moves_every_household_of_a_helper(client, auth, office):
    owner = PEOPLE["owner"][0]
    mine = sorted(h.id for h in office.registry().households.values() if owner in h.helpers)
    assert len(mine) == 2
    auth.login("admin")
    response = client.post(
        f"/office/helpers/{owner}/transfer", data={"csrf_token": auth.csrf(), "to": SPARE}
    )
    assert response.status_code == 302
    for hid in mine:
        assert office.household(hid).helpers == [SPARE]
    assert office.household("4117210020001").helpers == [PEOPLE["other"][0]]  # not theirs
    (entry,) = audit(office, "helper.transfer")
    assert entry.target == owner and entry.after["to"] == SPARE
    assert sorted(entry.before["households"]) == mine
    assert entry.after["households"][H1] == [SPARE]
    assert "已将 2 户转交给 孙备用（13900000009）" in client.get(
        f"/office/helpers/{owner}"
    ).get_data(as_text=True)


def test_transfer_to_someone_already_paired_keeps_them_once(office):
    from fieldvisit.households import office as admin

    office.update_registry(
        lambda reg: setattr(reg.households[H1], "helpers", [PEOPLE["owner"][0], SPARE])
    )
    admin.transfer_households(office, PEOPLE["owner"][0], SPARE, "test")
    assert office.household(H1).helpers == [SPARE]


@pytest.mark.parametrize(
    ("to", "message"),
    [("", "请填写帮扶责任人"), ("无此人", "没有叫"), (PEOPLE["owner"][0], "不能转给本人")],
)
def test_a_transfer_that_cannot_be_made(client, auth, office, to, message):
    auth.login("admin")
    response = client.post(
        f"/office/helpers/{PEOPLE['owner'][0]}/transfer", data={"csrf_token": auth.csrf(), "to": to}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert office.household(H1).helpers == [PEOPLE["owner"][0]]


def test_a_deactivated_helper_cannot_log_in_and_their_history_stays(client, app, auth, office):
    owner = office.user(PEOPLE["owner"][0])
    visit, _created = record_visit(office, visit_payload(office.household(H1)), owner)
    helper_client = app.test_client()
    from helpers import Auth

    Auth(helper_client).login("owner")
    auth.login("admin")
    # Their households go to someone else first (stopping a paired helper is refused).
    moved = client.post(
        f"/office/helpers/{owner.phone}/transfer", data={"csrf_token": auth.csrf(), "to": SPARE}
    )
    assert moved.status_code == 302
    response = client.post(
        f"/office/helpers/{owner.phone}/deactivate", data={"csrf_token": auth.csrf()}
    )
    assert response.status_code == 302
    assert office.user(owner.phone).active is False
    # Their open session ends at once, and logging in again fails.
    assert helper_client.get("/").status_code == 302
    page = helper_client.get("/login").get_data(as_text=True)
    refused = helper_client.post(
        "/login", data={"phone": owner.phone, "password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert refused.status_code == 200 and "手机号或密码错误" in refused.get_data(as_text=True)
    # Their visits stay.
    assert any(v.id == visit.id for v in office.visits(TODAY.isoformat()[:7]))
    (entry,) = audit(office, "user.deactivate")
    assert (entry.target, entry.before, entry.after) == (
        owner.phone,
        {"active": True},
        {"active": False},
    )
    html = client.get(f"/office/helpers?q={owner.phone}").get_data(as_text=True)
    assert "已停用" in html

    response = client.post(
        f"/office/helpers/{owner.phone}/activate", data={"csrf_token": auth.csrf()}
    )
    assert response.status_code == 302
    assert office.user(owner.phone).active is True
    assert audit(office, "user.activate")[0].after == {"active": True}
    Auth(helper_client).login("owner")


def test_a_helper_still_paired_cannot_be_deactivated(client, auth, office):
    owner = PEOPLE["owner"][0]
    auth.login("admin")
    page = client.get(f"/office/helpers/{owner}").get_data(as_text=True)
    # No form to send: the button is shown disabled, with the reason.
    assert f"/office/helpers/{owner}/deactivate" not in page
    assert "还有 2 户与此人结对，停用前请先转交。" in page
    assert re.search(r"<button[^>]*disabled[^>]*>停用账号</button>", page)
    response = client.post(f"/office/helpers/{owner}/deactivate", data={"csrf_token": auth.csrf()})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "不能停用：还有 2 户与此人结对，请先把这些户转交给其他帮扶责任人" in html
    # Nothing changed.
    assert office.user(owner).active is True
    assert owner in office.household(H1).helpers
    assert audit(office, "user.deactivate") == []


def test_a_helper_without_households_keeps_the_deactivate_button(client, auth, office):
    auth.login("admin")
    page = client.get(f"/office/helpers/{SPARE}").get_data(as_text=True)
    assert f'action="/office/helpers/{SPARE}/deactivate"' in page
    assert "停用前请先转交" not in page


def test_a_password_reset_is_shown_once(client, app, auth, office):
    auth.login("admin")
    response = client.post(f"/office/helpers/{SPARE}/password", data={"csrf_token": auth.csrf()})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    password = re.search(r"<code>([a-z0-9]{10})</code>", html).group(1)
    assert password not in client.get(f"/office/helpers/{SPARE}").get_data(as_text=True)
    (entry,) = audit(office, "user.password")
    assert entry.target == SPARE and entry.who == PEOPLE["admin"][0]
    assert password not in str(entry.to_doc())
    helper = app.test_client()
    page = helper.get("/login").get_data(as_text=True)
    token = csrf_from(page)
    old = helper.post("/login", data={"phone": SPARE, "password": PASSWORD, "csrf_token": token})
    assert old.status_code == 200  # the old password no longer works
    new = helper.post("/login", data={"phone": SPARE, "password": password, "csrf_token": token})
    assert new.status_code == 302


def test_the_helper_list_counts_households(client, auth, office):
    auth.login("supervisor")
    html = client.get("/office/helpers").get_data(as_text=True)
    assert re.search(
        r"张帮扶</a></td>\s*<td>.*?</td>\s*<td>[^<]*</td>\s*<td class=\"n\">2</td>", html
    )
    assert "孙备用" in html and "镇农办" in html
    assert "王督查" not in html.split("<main>")[1]  # only helpers are listed
    detail = client.get(f"/office/helpers/{PEOPLE['owner'][0]}").get_data(as_text=True)
    assert "马娟" in detail and "王建国" in detail
    assert "/transfer" not in detail and "/deactivate" not in detail  # view only
    assert f"/office/helpers/{PEOPLE['owner'][0]}/password" not in detail


# --- the household page --------------------------------------------------------------------


def test_the_household_page_links_the_office_to_the_edit_page(client, auth, office):
    h1 = office.household(H1)
    auth.login("admin")
    assert f"/office/households/{H1}/edit" in client.get(f"/h/{h1.token}").get_data(as_text=True)
    auth.login("supervisor")
    assert "/edit" not in client.get(f"/h/{h1.token}").get_data(as_text=True)


def test_the_household_page_shows_the_whole_visit_history(client, auth, office):
    h1 = office.household(H1)
    admin_user = office.user(PEOPLE["admin"][0])
    dates = [TODAY - timedelta(days=20 * i) for i in range(11)] + [TODAY - timedelta(days=500)]
    for i, day in enumerate(dates):
        payload = visit_payload(h1, id=f"f0000000-0000-4000-8000-{i:012d}", date=day.isoformat())
        record_visit(office, {**payload, "helper": PEOPLE["owner"][0], "needs": []}, admin_user)
    auth.login("owner")
    recent = client.get(f"/h/{h1.token}").get_data(as_text=True)
    assert recent.count("<li><b>") == 10
    assert "全部走访记录" in recent
    full = client.get(f"/h/{h1.token}?all=1").get_data(as_text=True)
    shown = re.findall(r"<li><b>(\d{4}-\d{2}-\d{2})</b>", full)
    assert shown == sorted((d.isoformat() for d in dates), reverse=True)  # newest first


def test_the_masked_id_number_typed_back_keeps_the_stored_one(client, auth, office):
    auth.login("admin")
    h1 = office.household(H1)
    masked = "4117**********4373"
    form = edit_form(h1, id_number=masked, phone="13812345678", csrf_token=auth.csrf())
    assert client.post(f"/office/households/{H1}/edit", data=form).status_code == 302
    after = office.household(H1)
    assert after.id_number == h1.id_number and after.phone == "13812345678"
    wrong = edit_form(h1, id_number="4117**********0000", csrf_token=auth.csrf())
    response = client.post(f"/office/households/{H1}/edit", data=wrong)
    assert response.status_code == 400
    assert "打了星号的号码" in response.get_data(as_text=True)
    assert office.household(H1).id_number == h1.id_number
