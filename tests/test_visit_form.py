"""The mobile visit form: record, errors next to fields, double taps, corrections, 补录."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from helpers import PEOPLE

GUARANTEES = ("food", "clothing", "education", "medical", "housing", "water")
CHECKLIST = ("yard", "indoor", "tidy", "bedding", "kitchen", "toilet", "personal", "clutter")


def form_data(page: str, **overrides: str) -> dict[str, str]:
    """A filled-in form as a helper would send it, taking the hidden fields from ``page``."""
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page))
    data = {
        **hidden,
        "date": date.today().isoformat(),
        "kind": "in_person",
        "helped_clean": "yes",
        "satisfaction": "basically_satisfied",
        "notes": "帮助整理了厨房",
        "needs-0-category": "housing",
        "needs-0-description": "屋顶漏雨需要维修",
        "needs-0-urgent": "yes",
    }
    data.update({f"g_{k}": "yes" for k in GUARANTEES})
    data.update({f"env_{k}": "yes" for k in CHECKLIST})
    data["env_toilet"] = "na"
    data["g_housing"] = "no"
    data.update(overrides)
    return data


def test_the_form_is_one_mobile_page(client, auth, households):
    auth.login("owner")
    page = client.get(f"/h/{households['h1'].token}/visit").get_data(as_text=True)
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    assert f'value="{date.today().isoformat()}"' in page  # today by default
    assert f'max="{date.today().isoformat()}"' in page
    for text in ("入户走访", "户不在家", "电话", "不愁吃", "院落干净整洁", "不适用", "满意度"):
        assert text in page
    assert 'name="csrf_token"' in page and 'name="id"' in page


def test_a_helper_records_a_visit(client, auth, store, households):
    h = households["h1"]
    auth.login("owner")
    page = client.get(f"/h/{h.token}/visit").get_data(as_text=True)
    data = form_data(page)
    response = client.post(f"/h/{h.token}/visit", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/h/{h.token}"
    assert "走访已保存" in client.get(f"/h/{h.token}").get_data(as_text=True)

    [visit] = store.visits(date.today().isoformat()[:7])
    assert visit.id == data["id"]
    assert visit.helper == visit.recorded_by == PEOPLE["owner"][0]
    assert visit.kind == "in_person"
    assert visit.guarantees["housing"] is False and visit.guarantees["food"] is True
    assert visit.environment["toilet"] is None and visit.environment["yard"] is True
    assert visit.needs == [
        {"category": "housing", "description": "屋顶漏雨需要维修", "urgent": True}
    ]
    [need] = store.needs(visit.month)
    assert need.status == "open" and need.household == h.id and need.urgent
    # The household page now shows the visit and the open need.
    shown = client.get(f"/h/{h.token}").get_data(as_text=True)
    assert "屋顶漏雨需要维修" in shown and "两不愁三保障未达标" in shown


def test_a_double_tap_stores_one_visit(client, auth, store, households):
    h = households["h1"]
    auth.login("owner")
    data = form_data(client.get(f"/h/{h.token}/visit").get_data(as_text=True))
    client.post(f"/h/{h.token}/visit", data=data)
    second = client.post(f"/h/{h.token}/visit", data=data, follow_redirects=True)
    assert "之前已保存" in second.get_data(as_text=True)
    assert len(store.visits(date.today().isoformat()[:7])) == 1
    assert len(store.needs(date.today().isoformat()[:7])) == 1


def test_errors_are_shown_next_to_fields_and_input_is_kept(client, auth, store, households):
    h = households["h1"]
    auth.login("owner")
    page = client.get(f"/h/{h.token}/visit").get_data(as_text=True)
    data = form_data(page, notes="这些字要保留", needs_0_category="")
    del data["g_food"]
    data["needs-0-category"] = ""
    data["date"] = (date.today() + timedelta(days=1)).isoformat()
    response = client.post(f"/h/{h.token}/visit", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "日期不能晚于今天" in html
    assert "请选择需求类别" in html
    assert "请选择" in html
    assert "这些字要保留" in html and "屋顶漏雨需要维修" in html
    assert store.visits(date.today().isoformat()[:7]) == []


def test_add_need_adds_a_row_without_saving(client, auth, store, households):
    h = households["h1"]
    auth.login("owner")
    data = form_data(client.get(f"/h/{h.token}/visit").get_data(as_text=True), add_need="1")
    html = client.post(f"/h/{h.token}/visit", data=data).get_data(as_text=True)
    assert 'name="needs-1-description"' in html
    assert "屋顶漏雨需要维修" in html
    assert store.visits(date.today().isoformat()[:7]) == []


def test_a_nobody_home_visit_needs_no_checklist(client, auth, store, households):
    h = households["h1"]
    auth.login("owner")
    page = client.get(f"/h/{h.token}/visit").get_data(as_text=True)
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page))
    data = {**hidden, "date": date.today().isoformat(), "kind": "nobody_home"}
    assert client.post(f"/h/{h.token}/visit", data=data).status_code == 302
    [visit] = store.visits(date.today().isoformat()[:7])
    assert visit.kind == "nobody_home" and visit.guarantees == {}


def test_a_helper_corrects_their_visit_and_the_old_version_is_kept(client, auth, store, households):
    h = households["h1"]
    auth.login("owner")
    data = form_data(client.get(f"/h/{h.token}/visit").get_data(as_text=True))
    client.post(f"/h/{h.token}/visit", data=data)
    edit_url = f"/h/{h.token}/visits/{data['id']}/edit"
    page = client.get(edit_url).get_data(as_text=True)
    assert "屋顶漏雨需要维修" in page and "帮助整理了厨房" in page
    response = client.post(edit_url, data={**data, "notes": "改正：厨房和院子都整理了"})
    assert response.status_code == 302
    [visit] = store.visits(date.today().isoformat()[:7])
    assert visit.notes == "改正：厨房和院子都整理了"
    assert visit.version == 2
    assert visit.history[0]["notes"] == "帮助整理了厨房"
    assert len(store.needs(visit.month)) == 1  # the unchanged need keeps its one entry


def test_another_helper_cannot_correct(client, auth, store, households):
    h = households["h1"]
    auth.login("owner")
    data = form_data(client.get(f"/h/{h.token}/visit").get_data(as_text=True))
    client.post(f"/h/{h.token}/visit", data=data)
    auth.login("other")
    edit_url = f"/h/{h.token}/visits/{data['id']}/edit"
    assert client.get(edit_url).status_code == 403
    assert (
        client.post(edit_url, data={**data, "notes": "x", "csrf_token": auth.csrf()}).status_code
        == 403
    )


def test_an_admin_enters_a_paper_record_for_a_past_month(client, auth, store, households):
    h = households["h1"]
    auth.login("admin")
    page = client.get(f"/h/{h.token}/visit").get_data(as_text=True)
    assert 'name="helper"' in page
    past = (date.today().replace(day=1) - timedelta(days=40)).replace(day=15)
    data = form_data(page, date=past.isoformat(), helper=PEOPLE["owner"][0])
    assert client.post(f"/h/{h.token}/visit", data=data).status_code == 302
    [visit] = store.visits(past.isoformat()[:7])
    assert visit.helper == PEOPLE["owner"][0]
    assert visit.recorded_by == PEOPLE["admin"][0]


def test_a_helper_cannot_backdate_to_an_old_month(client, auth, store, households):
    h = households["h1"]
    auth.login("owner")
    past = date.today() - timedelta(days=70)
    data = form_data(
        client.get(f"/h/{h.token}/visit").get_data(as_text=True), date=past.isoformat()
    )
    response = client.post(f"/h/{h.token}/visit", data=data)
    assert response.status_code == 400
    assert "镇扶贫办补录" in response.get_data(as_text=True)


def test_a_needs_error_shows_at_its_own_row(client, auth, households):
    """Found by a tester: with an empty first row, the second row's error showed under the
    first (the payload lists only rows that hold something)."""
    auth.login("owner")
    h = households["h1"]
    page = client.get(f"/h/{h.token}/visit").get_data(as_text=True)
    data = form_data(
        page,
        need_rows="2",
        **{"needs-0-category": "", "needs-0-description": "", "needs-1-description": "缺药"},
    )
    data.pop("needs-0-urgent")
    response = client.post(f"/h/{h.token}/visit", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    second = html[html.index('name="needs-1-category"') : html.index('name="needs-1-description"')]
    first = html[html.index('name="needs-0-category"') : html.index('name="needs-1-category"')]
    assert "请选择需求类别" in second and "请选择需求类别" not in first


def test_who_may_not_correct_is_told_why_and_led_back(client, auth, store, households):
    h = households["h1"]
    auth.login("owner")
    data = form_data(client.get(f"/h/{h.token}/visit").get_data(as_text=True))
    client.post(f"/h/{h.token}/visit", data=data)
    edit_url = f"/h/{h.token}/visits/{data['id']}/edit"
    for who, message in (("supervisor", "督查账号不能修改走访记录"), ("other", "只能在当月修改")):
        auth.login(who)
        response = client.get(edit_url)
        html = response.get_data(as_text=True)
        assert response.status_code == 403
        assert message in html and f'href="/h/{h.token}"' in html


def test_the_forms_script_is_its_own_and_loaded_only_with_the_form(app, client, auth, households):
    """visit_form.js drives the form (need rows, checks, saving through the queue);
    offline.js, which every page loads, keeps only the queue and the page caches."""
    h = households["h1"]
    auth.login("owner")
    script = re.compile(r'<script src="/static/visit_form\.js\?v=[0-9a-f]+" defer></script>')
    page = client.get(f"/h/{h.token}/visit").get_data(as_text=True)
    assert script.search(page) and "/static/evidence.js?v=" in page
    data = form_data(page)
    client.post(f"/h/{h.token}/visit", data=data)
    # A correction uses the need rows too, but posts as plain HTML: no photos, no queue.
    edit = client.get(f"/h/{h.token}/visits/{data['id']}/edit").get_data(as_text=True)
    assert script.search(edit) and "evidence.js" not in edit
    for path in ("/", f"/h/{h.token}", "/queue"):
        assert "visit_form.js" not in client.get(path).get_data(as_text=True), path

    static = Path(app.static_folder)
    form_code = (static / "visit_form.js").read_text(encoding="utf-8")
    form_words = ("need_rows", "add_need", "fv-drop-need", "data-fill", "fv-status", "fvPhotos")
    for name in ("offline.js", "app.js"):
        code = (static / name).read_text(encoding="utf-8")
        assert [w for w in form_words if w in code] == [], name
    assert all(w in form_code for w in form_words)
    # One place renumbers the rows' names.
    assert sum(f.read_text(encoding="utf-8").count("needs-\\d+-") for f in static.glob("*.js")) == 1
