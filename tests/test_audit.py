"""The audit log: every kind of change leaves an entry, and the office reads them back."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit import registry
from fieldvisit.access.tokens import create_token
from fieldvisit.access.users import create_user
from fieldvisit.audit import reading as audit
from fieldvisit.clock import now_iso
from fieldvisit.households import office as admin
from fieldvisit.households.lookup import reissue_token
from fieldvisit.models import AuditEntry
from fieldvisit.visits import needs
from fieldvisit.visits.recording import correct_visit, record_visit

ADMIN = PEOPLE["admin"][0]
OWNER = PEOPLE["owner"][0]
OTHER = PEOPLE["other"][0]
MONTH = date.today().isoformat()[:7]


def _all(store) -> list[AuditEntry]:
    return audit.entries(store, audit.Filters())


def _one(store, action: str) -> AuditEntry:
    found = [e for e in _all(store) if e.action == action]
    assert len(found) == 1, [e.action for e in _all(store)]
    return found[0]


def _visit(store, households, **kw):
    stored, _created = record_visit(store, visit_payload(households["h1"], **kw), store.user(OWNER))
    return stored


def _edit(store, household, **changes):
    """The office's edit form, sent with ``changes`` over the household's own values."""
    form = {n: str(getattr(household, n) or "") for n in admin.EDITABLE}
    form.update(id_number="", long_absent="1" if household.long_absent else "")
    admin.edit_household(store, household.id, {**form, **changes}, ADMIN)


def _history(page: str) -> str:
    """The household page's audit section."""
    start = page.index('id="audit"')
    return page[start : page.index("全部操作记录", start)]


def _cells(page: str) -> list[str]:
    """The audit page's 改动 cells, newest entry first."""
    return re.findall(r'<td class="changes">(.*?)</td>', page, re.S)


def test_it_records_every_kind_of_change(store, households):
    h1 = households["h1"]
    visit = _visit(store, households)
    correct_visit(store, visit, visit_payload(h1, notes="补充说明"), store.user(OWNER))
    need = store.needs(MONTH)[0]
    needs.resolve(store, need.id, ADMIN, "已协调报销")
    admin.set_helpers(store, h1.id, [OTHER], ADMIN)
    reissue_token(store, h1.id, ADMIN)
    create_user(store, "helper", "新帮扶", "13900000009", None, ADMIN)
    create_token(store, "13900000009", ADMIN)
    admin.reset_password(store, "13900000009", ADMIN)
    data = registry.export_registry_bytes(store, "csv")
    registry.import_registry(store, data, "花名册.csv", ADMIN)

    assert _one(store, "visit.create").target == visit.id
    corrected = _one(store, "visit.correct")
    assert corrected.before["notes"] == "院子已打扫" and corrected.after["notes"] == "补充说明"
    resolved = _one(store, "need.resolve")
    assert (resolved.target, resolved.before["status"], resolved.after["status"]) == (
        need.id,
        "open",
        "resolved",
    )
    helpers = _one(store, "household.helpers")
    assert (helpers.before, helpers.after) == ([OWNER], [OTHER])
    assert _one(store, "household.token").target == h1.id
    assert _one(store, "user.create").after["phone"] == "13900000009"
    assert "password_hash" not in _one(store, "user.create").after
    assert _one(store, "token.create").target == "13900000009"
    assert _one(store, "user.password").who == ADMIN
    assert _one(store, "registry.import").target == "花名册.csv"
    assert all(e.at and e.who for e in _all(store))
    assert {e.action for e in _all(store)} <= set(audit.ACTIONS)


def test_every_action_the_code_writes_has_a_label():
    root = Path(audit.__file__).parent
    kinds = "|".join(re.escape(k[:-1]) for k in audit.KINDS)
    literal = re.compile(rf'"((?:{kinds})\.[a-z_]+)"')
    files = {"html", "json", "jsonl", "csv", "xlsx", "pdf", "py"}
    written = {
        code
        for path in root.rglob("*.py")
        if path != root / "audit_words.py"  # where the labels are
        for code in literal.findall(path.read_text("utf-8"))
        if code.rsplit(".", 1)[1] not in files
    }
    assert len(written) >= 15, written  # the scan finds them
    assert written <= set(audit.ACTIONS), written - set(audit.ACTIONS)


def test_it_keeps_id_numbers_masked_in_the_log(store, households):
    h1 = households["h1"]
    admin.edit_household(
        store, h1.id, {**{n: str(getattr(h1, n) or "") for n in admin.EDITABLE},
                       "id_number": "41172119810905367X", "long_absent": ""}, ADMIN
    )  # fmt: skip
    registry.import_registry(store, registry.export_registry_bytes(store, "csv"), "r.csv", ADMIN)
    raw = "".join(p.read_text("utf-8") for p in (store.root / "audit").glob("*.jsonl"))
    assert "household.edit" in raw
    for number in ("411721193701024373", "41172119810905367X"):
        assert number not in raw


def test_it_filters_newest_first(store, households):
    _visit(store, households)
    reissue_token(store, households["h2"].id, ADMIN)
    everything = _all(store)
    assert [e.action for e in everything] == ["household.token", "visit.create"]
    assert [e.action for e in audit.entries(store, audit.Filters(kind="visit."))] == [
        "visit.create"
    ]
    assert [e.who for e in audit.entries(store, audit.Filters(who=ADMIN))] == [ADMIN]
    only_h2 = audit.entries(store, audit.Filters(household=households["h2"].id))
    assert [e.action for e in only_h2] == ["household.token"]
    assert audit.entries(store, audit.Filters(date_to="2000-01-01")) == []
    today = date.today().isoformat()
    assert len(audit.entries(store, audit.Filters(date_from=today, date_to=today))) == 2


def test_household_history_takes_its_visits_and_needs_and_bulk_changes(store, households):
    h1 = households["h1"]
    visit = _visit(store, households)
    needs.resolve(store, store.needs(MONTH)[0].id, ADMIN, "已办")
    admin.transfer_households(store, OWNER, OTHER, ADMIN)
    reissue_token(store, households["h2"].id, ADMIN)  # another household's
    history = audit.household_history(store, h1)
    assert [e.action for e in history][::-1] == ["visit.create", "need.resolve", "helper.transfer"]
    assert history[-1].target == visit.id


@pytest.mark.parametrize(("who", "status"), [("owner", 403), ("supervisor", 200), ("admin", 200)])
def test_the_audit_page_is_for_the_office_and_supervisors(client, auth, households, who, status):
    auth.login(who)
    assert client.get("/office/audit").status_code == status


def test_nobody_is_sent_to_login(client, households):
    response = client.get("/office/audit")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_page_lists_filtered_entries_with_their_changes(client, auth, store, households):
    _visit(store, households)
    admin.set_helpers(store, households["h1"].id, [OTHER], ADMIN)
    auth.login("admin")
    page = client.get("/office/audit?kind=household.").get_data(as_text=True)
    # The actions by their labels (调整帮扶责任人: household.helpers; 新增走访记录: visit.create).
    assert "<td>调整帮扶责任人</td>" in page and "新增走访记录" not in page
    assert "household.helpers" not in page
    assert OTHER in page and "操作记录" in page
    page = client.get(f"/office/audit?household={households['h1'].id}").get_data(as_text=True)
    assert "<td>新增走访记录</td>" in page and "<td>调整帮扶责任人</td>" in page


def test_the_household_page_shows_its_history_to_the_office_only(client, auth, store, households):
    h1 = households["h1"]
    _visit(store, households)
    reissue_token(store, households["h2"].id, ADMIN)
    token = store.household(h1.id).token
    auth.login("supervisor")
    page = client.get(f"/h/{token}").get_data(as_text=True)
    # 新增走访记录 is visit.create, 换新二维码 household.token (h2's).
    assert "新增走访记录" in _history(page) and "换新二维码" not in _history(page)
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login("owner")
    page = client.get(f"/h/{token}").get_data(as_text=True)
    assert 'id="audit"' not in page and "新增走访记录" not in page


def test_the_log_is_read_again_as_it_grows_and_a_torn_line_is_skipped(store, households):
    reissue_token(store, households["h1"].id, ADMIN)
    assert [e.action for e in store.audit_log.entries(MONTH)] == ["household.token"]
    path = store.root / "audit" / f"{MONTH}.jsonl"
    with path.open("ab") as fh:
        fh.write(b'{"at": "cut short')  # a crash mid-append: not yet a line
    assert len(store.audit_log.entries(MONTH)) == 1
    with path.open("ab") as fh:
        fh.write(b"\n")
    reissue_token(store, households["h2"].id, ADMIN)
    assert [e.target for e in store.audit_log.entries(MONTH)] == [
        households["h1"].id,
        households["h2"].id,
    ]
    assert store.audit_log.entries(MONTH) == store.audit_log.read_entries(MONTH)


def test_the_page_shows_the_last_twelve_months_unless_asked():
    today = date(2026, 3, 15)
    assert audit.Filters.from_args({}, today).date_from == "2025-04-01"
    everything = audit.Filters.from_args({"from": ""}, today)
    assert everything.date_from == "" and everything.args() == {"from": ""}
    assert audit.Filters.from_args({"from": "nonsense", "kind": "rm -rf"}, today) == audit.Filters()


def test_older_entries_are_outside_the_default_window(client, auth, store, households):
    store.audit(AuditEntry("2019-05-01T10:00:00+08:00", ADMIN, "household.token", "4117210010001"))
    auth.login("admin")
    assert "2019-05-01" not in client.get("/office/audit").get_data(as_text=True)
    assert "2019-05-01" in client.get("/office/audit?from=").get_data(as_text=True)


# --- in the office's words ----------------------------------------------------------------


def test_a_household_moved_to_another_village_shows_the_move(client, auth, store, households):
    h1 = households["h1"]
    _visit(store, households)  # a visit's village is context: not shown as a change
    _edit(store, h1, village="王寨村")
    (entry,) = [e for e in _all(store) if e.action == "household.edit"]
    assert (entry.before, entry.after) == ({"village": "聂河村"}, {"village": "王寨村"})
    auth.login("admin")
    moved, visited = _cells(client.get("/office/audit").get_data(as_text=True))
    assert moved == "<div><b>村</b>: <del>聂河村</del> → 王寨村</div>"
    assert "<b>走访方式</b>" in visited and "<b>村</b>" not in visited
    page = client.get(f"/h/{store.household(h1.id).token}").get_data(as_text=True)
    assert "村: 聂河村 → 王寨村" in _history(page)


def test_actions_fields_and_values_are_labelled(client, auth, store, households):
    h1 = households["h1"]
    _visit(store, households)
    _edit(store, h1, status="exited", exit_year="2025", attribute="general", long_absent="1")
    needs.resolve(store, store.needs(MONTH)[0].id, ADMIN, "已协调报销")
    auth.login("admin")
    page = client.get("/office/audit").get_data(as_text=True)
    resolved, edited, visited = _cells(page)
    assert "<td>修改户信息</td>" in page and "<td>需求销号</td>" in page
    assert "<b>脱贫状态</b>: <del>未脱贫</del> → 已脱贫" in edited
    assert "<b>贫困户属性</b>: <del>低保贫困户</del> → 一般贫困户" in edited
    assert "<b>脱贫年度</b>: 2025" in edited
    assert "<b>长期不在家</b>: <del>否</del> → 是" in edited
    assert "<b>状态</b>: <del>未销号</del> → 已销号" in resolved
    assert "<b>整改情况</b>: 已协调报销" in resolved
    assert "<b>走访方式</b>: 入户走访" in visited and "<b>满意度</b>: 满意" in visited
    assert "<b>两不愁三保障</b>: 全部达标" in visited
    assert "<b>人居环境</b>: 未达标：物品摆放整齐" in visited
    assert "<b>群众诉求</b>: 医疗：慢性病用药报销（紧急）" in visited
    assert "<b>帮助打扫整理了吗</b>: 是" in visited
    for code in ("household.edit", "need.resolve", "visit.create", "not_exited", "in_person",
                 "general", "satisfied", ">status<", ">kind<", "true", "false"):  # fmt: skip
        assert code not in page, code
    assert (store.household(h1.id).status, _one(store, "household.edit").after["status"]) == (
        "exited",
        "exited",
    )  # the log keeps codes; only the page speaks


def test_people_are_shown_by_name_and_phone(client, auth, store, households):
    admin.set_helpers(store, households["h1"].id, [OTHER], ADMIN)
    store.audit(AuditEntry(now_iso(), "cli", "user.password", "13111111111"))  # no such user
    auth.login("admin")
    page = client.get("/office/audit").get_data(as_text=True)
    assert "<td>赵扶贫办 13600000001</td>" in page
    assert "<del>张帮扶 13900000001</del> → 李帮扶 13900000002" in page
    assert "<td>cli</td>" in page and ">13111111111</td>" in page


def test_the_kind_filter_offers_labels(client, auth, households):
    auth.login("admin")
    page = client.get("/office/audit?kind=visit.").get_data(as_text=True)
    options = dict(re.findall(r'<option value="(\w+\.)"[^>]*>([^<]*)</option>', page))
    assert options == {k: str(label) for k, label in audit.KINDS.items()}
    assert options["visit."] == "走访记录" and options["registry."] == "名册"
    assert '<option value="visit." selected>走访记录</option>' in page
    client.get("/lang/en")
    page = client.get("/office/audit").get_data(as_text=True)
    assert '<option value="visit.">Visits</option>' in page


def _import(store, replace: dict[str, str], extra: str = "") -> None:
    text = registry.export_registry_bytes(store, "csv").decode("utf-8-sig")
    for old, new in replace.items():
        text = text.replace(old, new)
    registry.import_registry(store, (text + extra).encode("utf-8"), "花名册.csv", ADMIN)


def test_an_import_shows_counts_and_on_a_household_page_only_its_own_part(
    client, auth, store, households
):
    new_row = "4117210030001,新村,1组,周平,3,一般贫困户,因学,未脱贫,,,,否,张帮扶,13900000001,\n"
    _import(store, {",马娟,": ",马娟娟,", ",梁刚,": ",梁强,"}, new_row)
    auth.login("admin")
    page = client.get("/office/audit").get_data(as_text=True)
    (cell,) = _cells(page)
    assert "帮扶户：新增 1，更新 2，未变 0" in cell and "<b>新增的村</b>: 新村" in cell
    assert "花名册.csv" in page
    for data in ("马娟娟", "梁强", "周平", "{"):
        assert data not in cell, data
    # h1's page: its own change, nothing of h2's or of the added household.
    page = client.get(f"/h/{store.household(households['h1'].id).token}").get_data(as_text=True)
    history = _history(page)
    assert "导入名册" in history and "花名册.csv" in history
    assert "户主姓名: 马娟 → 马娟娟" in history
    for data in ("梁强", "梁刚", "周平", "新村", "4117210020001", "4117210030001", "{"):
        assert data not in history, data
    # The added household: that the import added it, and nothing of the others.
    page = client.get(f"/h/{store.household('4117210030001').token}").get_data(as_text=True)
    history = _history(page)
    assert "这次导入新增了这一户" in history
    for data in ("马娟娟", "梁强", "4117210010001", "{"):
        assert data not in history, data
    # The office's page filtered by a household shows that household's part too.
    page = client.get(f"/office/audit?household={households['h2'].id}").get_data(as_text=True)
    assert _cells(page) == ["<div><b>户主姓名</b>: <del>梁刚</del> → 梁强</div>"]


def test_a_transfer_on_a_household_page_shows_that_households_helpers(
    client, auth, store, households
):
    admin.transfer_households(store, OWNER, OTHER, ADMIN)
    auth.login("admin")
    page = client.get(f"/h/{store.household(households['h1'].id).token}").get_data(as_text=True)
    assert "帮扶责任人: 张帮扶 13900000001 → 李帮扶 13900000002" in _history(page)
    (cell,) = _cells(client.get("/office/audit").get_data(as_text=True))
    assert cell == (
        "<div><b>转给</b>: 李帮扶 13900000002</div>"
        "<div><b>帮扶户</b>: 1 户：马娟（4117210010001）</div>"
    )


def test_the_table_scrolls_inside_its_own_box(client, auth, store, households):
    reissue_token(store, households["h1"].id, ADMIN)
    auth.login("admin")
    page = client.get("/office/audit").get_data(as_text=True)
    box = re.search(
        r'<div class="scroll"([^>]*)><table class="audit">.*?</table></div>', page, re.S
    )
    assert box, page
    # The keyboard reaches the box too, to scroll it; a screen reader names it.
    assert 'tabindex="0"' in box.group(1) and 'role="region"' in box.group(1)
    assert 'aria-label="操作记录"' in box.group(1)
    assert page.count("<table") == 1


def test_the_count_and_the_labels_in_english(client, auth, store, households):
    client.get("/lang/en")
    auth.login("admin")
    reissue_token(store, households["h1"].id, ADMIN)
    page = client.get("/office/audit").get_data(as_text=True)
    assert "1 entry, newest first" in page and "Issue a new QR code" in page
    _visit(store, households)
    _edit(store, households["h1"], village="王寨村", status="exited", exit_year="2025")
    admin.transfer_households(store, OWNER, OTHER, ADMIN)
    _import(store, {",梁刚,": ",梁强,"})
    page = client.get("/office/audit").get_data(as_text=True)
    assert "5 entries, newest first" in page
    assert "<b>Village</b>: <del>聂河村</del> → 王寨村" in page
    assert "<b>Poverty status</b>: <del>Not yet exited</del> → Exited poverty" in page
    assert "Households: 0 added, 1 updated, 1 unchanged" in page
    # Nothing Chinese but the data: names, villages, the file, what the helper wrote.
    data = ["院子已打扫", "慢性病用药报销", "花名册.csv", "聂河村", "王寨村", "马娟", "梁强"]
    data += [name for _phone, _role, name in PEOPLE.values()]
    for text in data:
        page = page.replace(text, "")
    assert re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", page) == ["中文"]


def test_a_household_history_has_the_offices_entry_for_an_old_visit(
    client, auth, store, households
):
    """Found by a tester: a 补录 dated two years back was missing from the household's
    history although it was entered today (history was matched by the visit's month)."""
    admin_user = store.user(PEOPLE["admin"][0])
    h1 = households["h1"]
    old = date(date.today().year - 2, 6, 1).isoformat()
    record_visit(store, visit_payload(h1, id="old-paper-record-01", date=old), admin_user)
    found = audit.household_history(store, h1)
    assert [e.target for e in found if e.action == "visit.create"] == ["old-paper-record-01"]
    auth.login("admin")
    page = client.get(f"/office/audit?household={h1.id}").get_data(as_text=True)
    # Named by its household and date (with the year: not this year's), never by its id.
    year = date.today().year - 2
    assert f'<td class="break">马娟（{h1.id}）{year}年6月1日的走访</td>' in page
    assert "old-paper-record-01" not in page


# --- a crash between a visit's save and its audit line -----------------------------------------


def _visit_entries(store, visit_id):
    return [e for e in _all(store) if e.target == visit_id and e.action.startswith("visit.")]


def test_a_visit_saved_just_before_a_crash_gets_its_audit_line_on_the_next_start(
    app, store, households, monkeypatch
):
    """The visit's journal line holds its audit entry; the copy in the audit log follows.
    A crash in between leaves the visit with its entry in the journal, and the next start
    copies it into the log, once."""
    from fieldvisit import create_app

    owner = store.user(PEOPLE["owner"][0])
    h1 = households["h1"]
    record_visit(store, visit_payload(h1, id="before-crash-0001"), owner)

    def crash(records, lines):  # stands for kill -9 between the commit and the audit log's copy
        raise KeyboardInterrupt

    monkeypatch.setattr(store._files, "on_commit", crash)
    with pytest.raises(KeyboardInterrupt):
        record_visit(store, visit_payload(h1, id="at-the-crash-0001"), owner)
    visit = store.visits(date.today().isoformat()[:7])
    assert "at-the-crash-0001" in {v.id for v in visit}  # stored, but not logged
    monkeypatch.undo()
    assert _visit_entries(store, "at-the-crash-0001") == []

    for _start in range(2):  # and only once, however often the server starts
        create_app({"TESTING": True, "DATA_DIR": str(store.root), "SECRET_KEY": "x"})
    (entry,) = _visit_entries(store, "at-the-crash-0001")
    stored = next(v for v in visit if v.id == "at-the-crash-0001")
    assert (entry.action, entry.who, entry.at) == ("visit.create", owner.phone, stored.created_at)
    assert entry.after["notes"] == stored.notes
    assert len(_visit_entries(store, "before-crash-0001")) == 1


def test_a_correction_cut_short_by_a_crash_is_logged_with_its_author(
    app, store, households, monkeypatch
):
    from fieldvisit import create_app

    owner, admin_user = store.user(PEOPLE["owner"][0]), store.user(PEOPLE["admin"][0])
    h1 = households["h1"]
    original, _ = record_visit(store, visit_payload(h1, id="to-be-corrected-01"), owner)

    def crash(records, lines):  # stands for kill -9 between the commit and the audit log's copy
        raise KeyboardInterrupt

    monkeypatch.setattr(store._files, "on_commit", crash)
    with pytest.raises(KeyboardInterrupt):
        correct_visit(store, original, visit_payload(h1, notes="改过"), admin_user)
    monkeypatch.undo()
    create_app({"TESTING": True, "DATA_DIR": str(store.root), "SECRET_KEY": "x"})
    entries = {e.action: e for e in _visit_entries(store, "to-be-corrected-01")}
    create, correct = entries["visit.create"], entries["visit.correct"]
    assert len(_visit_entries(store, "to-be-corrected-01")) == 2
    assert create.who == owner.phone
    assert (correct.action, correct.who) == ("visit.correct", admin_user.phone)
    assert correct.before["notes"] != "改过" and correct.after["notes"] == "改过"
