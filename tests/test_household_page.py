"""What a door plate's link shows, to whom."""

from __future__ import annotations


def test_anonymous_scan_shows_only_a_login_page(client, households):
    h = households["h1"]
    response = client.get(f"/h/{h.token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="password"' in page
    for secret in (h.head, "低保", "因病", h.id_number, h.id_number[-4:], h.phone, h.id):
        assert secret not in page


def test_a_made_up_token_is_a_plain_404(client, auth, households):
    assert client.get("/h/not-a-real-token-at-all").status_code == 404
    auth.login("owner")
    assert client.get("/h/not-a-real-token-at-all").status_code == 404


def test_the_paired_helper_sees_the_household(client, auth, households):
    h = households["h1"]
    auth.login("owner")
    page = client.get(f"/h/{h.token}").get_data(as_text=True)
    for text in (h.head, h.village, "低保贫困户", "因病", "未脱贫", "张帮扶", "登记本次走访"):
        assert text in page
    assert h.id_number not in page
    assert "4117**********4373" in page  # masked


def test_a_helper_not_paired_is_told_so(client, auth, households):
    auth.login("other")
    response = client.get(f"/h/{households['h1'].token}")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "不是您的帮扶户" in page
    assert "低保" not in page
    response = client.get(f"/h/{households['h1'].token}/visit")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "没有与您结对" in page and "回到我的帮扶户" in page
    assert "督查" not in page


def test_supervisors_view_but_cannot_record(client, auth, households):
    h = households["h1"]
    auth.login("supervisor")
    page = client.get(f"/h/{h.token}").get_data(as_text=True)
    assert h.head in page
    assert "登记本次走访" not in page
    response = client.get(f"/h/{h.token}/visit")
    assert response.status_code == 403
    # Told what a supervisor may do, and led back to the household, not to a helper's list.
    page = response.get_data(as_text=True)
    assert "督查人员可以查看这户（聂河村 马娟）的情况和走访记录，但不能登记走访" in page
    assert f'href="/h/{h.token}"' in page
    assert "没有与您结对" not in page and "回到我的帮扶户" not in page


def test_the_office_records_for_any_household_on_the_visit_form(client, auth, store, households):
    h = households["h1"]  # paired with the owner, not with the office
    auth.login("admin")
    response = client.get(f"/h/{h.token}/visit")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="kind"' in page and "不能登记走访" not in page and "没有与您结对" not in page


def test_an_admin_issues_a_new_token_and_the_old_link_dies(client, auth, store, households):
    h = households["h1"]
    auth.login("admin")
    response = client.post(f"/h/{h.token}/token", data={"csrf_token": auth.csrf()})
    assert response.status_code == 302
    new_token = store.household(h.id).token
    assert new_token != h.token and len(new_token) >= 22
    assert response.headers["Location"] == f"/h/{new_token}"
    assert client.get(f"/h/{h.token}").status_code == 404
    assert client.get(f"/h/{new_token}").status_code == 200
    assert any(
        e.action == "household.token"
        for m in _months(store)
        for e in store.audit_log.read_entries(m)
    )


def test_the_office_prints_one_households_plate_from_its_page(client, auth, store, households):
    h = households["h1"]
    auth.login("admin")
    page = client.get(f"/h/{h.token}").get_data(as_text=True)
    form = page.split('id="print-plate"')[0].rsplit("<form", 1)[1]
    assert 'method="post" action="/office/plates"' in form
    after = page.split('id="print-plate"')[1].split("</form>")[0]
    assert f'name="household" value="{h.id}"' in after and 'name="csrf_token"' in after
    assert "打印这户的户牌" in after
    # Right after a new QR code, the button also stands under the message at the top.
    assert 'form="print-plate"' not in page
    response = client.post(
        f"/h/{h.token}/token", data={"csrf_token": auth.csrf()}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "请打印新户牌" in page
    assert page.count("打印这户的户牌") == 2 and 'form="print-plate"' in page
    assert f'value="{store.household(h.id).token}"' not in page  # the id is sent, not the token
    # Only once: the message is gone on the next visit.
    again = client.get(f"/h/{store.household(h.id).token}").get_data(as_text=True)
    assert 'form="print-plate"' not in again


def test_only_the_office_gets_the_plate_button(client, auth, households):
    h = households["h1"]
    for who in ("owner", "supervisor"):
        auth.login(who)
        page = client.get(f"/h/{h.token}").get_data(as_text=True)
        assert "打印这户的户牌" not in page and "/office/plates" not in page


def test_only_admins_issue_tokens(client, auth, store, households):
    h = households["h1"]
    for who in ("owner", "supervisor"):
        auth.login(who)
        assert (
            client.post(f"/h/{h.token}/token", data={"csrf_token": auth.csrf()}).status_code == 403
        )
    assert store.household(h.id).token == h.token


def test_helper_home_lists_households_to_do_first(client, auth, store, households):
    from helpers import make_household

    def add(reg):
        reg.households["4117210010002"] = make_household(id="4117210010002", head="第二户")

    store.update_registry(add)
    auth.login("owner")
    page = client.get("/").get_data(as_text=True)
    assert "马娟" in page and "第二户" in page
    assert "未走访" in page
    assert households["h2"].head not in page  # not theirs


def _months(store):
    from datetime import date

    return [date.today().isoformat()[:7]]


def test_each_visit_says_who_made_it_and_who_entered_it(client, auth, store, households):
    from helpers import PEOPLE, visit_payload

    from fieldvisit.visits.recording import record_visit

    h1 = households["h1"]
    record_visit(store, visit_payload(h1), store.user(PEOPLE["owner"][0]))
    paper = visit_payload(h1, id="paper-record-0001", notes="纸质记录")
    record_visit(store, paper, store.user(PEOPLE["admin"][0]))
    auth.login("supervisor")
    html = client.get(f"/h/{h1.token}").get_data(as_text=True)
    start = html.index('<ul class="visits">')
    visits = html[start : html.index("</ul>", start)]
    assert visits.count("张帮扶") == 2  # the helper who visited, both times
    assert visits.count("赵扶贫办 补录") == 1  # the office's entry of the paper record
