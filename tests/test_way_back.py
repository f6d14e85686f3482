"""After saving a visit: the household page says it is recorded this month, the big button
steps aside for a smaller one, and the way back to the helper's list is at the top."""

from __future__ import annotations

import re
from datetime import date, timedelta

from helpers import visit_payload

BIG = re.compile(r'class="button primary big"[^>]*>登记本次走访<')
SMALL = re.compile(r'class="button"[^>]*>再登记一次<')


def day(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.month}月{d.day}日"


def save(client, payload) -> None:
    csrf = {"X-CSRFToken": client.get("/api/v1/csrf").get_json()["csrf_token"]}
    assert client.post("/api/v1/visits", json=payload, headers=csrf).status_code == 201


def test_a_household_not_visited_this_month_keeps_the_big_button(client, auth, households):
    auth.login("owner")
    page = client.get(f"/h/{households['h1'].token}").get_data(as_text=True)
    assert BIG.search(page) and not SMALL.search(page)
    assert "本月已走访" not in page
    assert 'href="/">← 我的帮扶户</a>' in page
    assert page.index("我的帮扶户") < page.index("<h1>")  # at the top


def test_after_saving_the_page_says_visited_and_offers_a_smaller_button(client, auth, households):
    h = households["h1"]
    auth.login("owner")
    form = client.get(f"/h/{h.token}/visit").get_data(as_text=True)
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))
    today = date.today().isoformat()
    data = {
        **hidden,
        "date": today,
        "kind": "in_person",
        "helped_clean": "no",
        "satisfaction": "satisfied",
        **{
            f"g_{k}": "yes"
            for k in ("food", "clothing", "education", "medical", "housing", "water")
        },
        **{
            f"env_{k}": "yes"
            for k in (
                "yard",
                "indoor",
                "tidy",
                "bedding",
                "kitchen",
                "toilet",
                "personal",
                "clutter",
            )
        },
    }
    response = client.post(f"/h/{h.token}/visit", data=data, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.request.path == f"/h/{h.token}"
    assert "走访已保存" in page
    assert f"本月已走访（{day(today)} 入户走访）" in page
    assert SMALL.search(page) and not BIG.search(page)
    assert 'href="/">← 我的帮扶户</a>' in page
    # The other household, not visited: its helper still gets the big button.
    auth.login("other")
    other = client.get(f"/h/{households['h2'].token}").get_data(as_text=True)
    assert BIG.search(other) and "本月已走访" not in other


def test_nobody_home_is_not_a_visit_the_big_button_stays(client, auth, households):
    h = households["h1"]
    auth.login("owner")
    today = date.today().isoformat()
    payload = visit_payload(h, kind="nobody_home", satisfaction="")
    payload.pop("guarantees"), payload.pop("environment")
    save(client, payload)
    page = client.get(f"/h/{h.token}").get_data(as_text=True)
    assert f"本月还未入户走访（{day(today)} 户不在家）" in page
    assert BIG.search(page) and not SMALL.search(page)


def test_a_visit_of_last_month_is_not_this_months(client, auth, households):
    h = households["h1"]
    auth.login("admin")  # the office enters a paper record of last month
    last_month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=10)
    save(client, visit_payload(h, date=last_month.isoformat(), helper="13900000001"))
    auth.login("owner")
    page = client.get(f"/h/{h.token}").get_data(as_text=True)
    assert BIG.search(page) and "本月已走访" not in page


def test_supervisors_see_the_state_without_buttons_or_the_helpers_list(client, auth, households):
    h = households["h1"]
    auth.login("owner")
    save(client, visit_payload(h))
    auth.login("supervisor")
    page = client.get(f"/h/{h.token}").get_data(as_text=True)
    assert "本月已走访" in page
    assert not BIG.search(page) and not SMALL.search(page)
    assert "← 我的帮扶户" not in page
