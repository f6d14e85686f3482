"""The completion dashboard: who may see it, what it shows, and the figures only it adds
(basic guarantees still not met, completion over twelve months)."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from helpers import PEOPLE, make_household, visit_payload

from fieldvisit.figures.dashboard import (
    Query,
    QueryError,
    completion,
    completion_trend,
    parse_query,
    unresolved_gaps,
)
from fieldvisit.figures.month import month_figures
from fieldvisit.models import Household, User
from fieldvisit.months import previous_month
from fieldvisit.storage import Registry, Store
from fieldvisit.visits.recording import record_visit

TODAY = date.today()
MONTH = TODAY.isoformat()[:7]
LAST_MONTH_DAY = TODAY.replace(day=1) - timedelta(days=1)
# A past calendar for the domain tests, so that they do not depend on today's date.
FIXED_TODAY = date(2026, 11, 20)

TEACHER = ("13900000003", "周老师", "县教育局")
BANKER = ("13900000004", "吴会计", "县农商银行")


def add_helper(store: Store, phone: str, name: str, unit: str) -> None:
    def change(reg: Registry) -> None:
        reg.users[phone] = User(phone=phone, name=name, role="helper", unit=unit)

    store.update_registry(change)


def add_household(store: Store, **fields: object) -> Household:
    household = make_household(**fields)
    store.update_registry(lambda reg: reg.households.update({household.id: household}))
    return household


def record(
    store: Store,
    household: Household,
    day: date,
    kind: str = "in_person",
    today: date | None = None,
    **changes: object,
) -> None:
    """A visit entered by the office (补录), so that any past date is allowed."""
    payload = visit_payload(
        household,
        id=str(uuid.uuid4()),
        date=day.isoformat(),
        kind=kind,
        helper=household.helpers[0],
    )
    if kind != "in_person":
        payload.update(guarantees={}, environment={}, needs=[])
    if kind == "nobody_home":
        payload["satisfaction"] = ""
    guarantees = changes.pop("guarantees", None)
    if guarantees is not None:
        payload["guarantees"] = {**payload["guarantees"], **guarantees}
    payload.update(changes)
    record_visit(store, payload, store.user(PEOPLE["admin"][0]), today or TODAY)


@pytest.fixture()
def township(store, households):
    """h1 (聂河村, owner) and h2 (王寨村, other) plus three more households with helpers of
    two work units. This month: h1 visited, h3 only nobody home, h4 visited after a phone
    call, h2 and h5 nothing at all."""
    add_helper(store, *TEACHER)
    add_helper(store, *BANKER)
    h3 = add_household(store, id="4117210010003", head="陈三", helpers=[TEACHER[0]])
    h4 = add_household(store, id="4117210010004", head="杜四", helpers=[TEACHER[0]])
    h5 = add_household(
        store, id="4117210020005", village="王寨村", head="付五", helpers=[BANKER[0]]
    )
    record(store, households["h1"], TODAY)
    record(store, h3, TODAY, kind="nobody_home")
    record(store, h4, TODAY, kind="phone")
    record(store, h4, TODAY)
    return {**households, "h3": h3, "h4": h4, "h5": h5}


def page(client, url: str = "/dashboard") -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def section(html: str, name: str) -> str:
    """The HTML of one <section id=...> of the page."""
    match = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert match, name
    return match.group(0)


# --- who may see it -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("nobody", 302), ("owner", 403), ("other", 403), ("supervisor", 200), ("admin", 200)],
)
def test_it_answers_each_role(client, auth, township, who, status):
    if who != "nobody":
        auth.login(who)
    response = client.get(f"/dashboard?month={MONTH}")
    assert response.status_code == status
    if who == "nobody":
        assert response.headers["Location"].startswith("/login?next=/dashboard")
    if status == 403:
        assert "陈三" not in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_it_changes_nothing(client, auth, store, township, who):
    auth.login(who)
    before = [v.to_doc() for v in store.visits(MONTH)]
    response = client.post("/dashboard", data={"csrf_token": auth.csrf()})
    assert response.status_code == 405
    html = page(client)
    forms = re.findall(r"<form[^>]*>", html)
    # The filter form reads; the only form that posts is the header's log-out button.
    assert all('method="get"' in f or "logout" in f for f in forms), forms
    assert [v.to_doc() for v in store.visits(MONTH)] == before


@pytest.mark.parametrize(
    ("who", "shown"), [("supervisor", True), ("admin", True), ("owner", False)]
)
def test_the_office_navigation_links_to_it(client, auth, township, who, shown):
    auth.login(who)
    html = client.get("/").get_data(as_text=True)
    assert ('href="/dashboard"' in html) is shown


# --- what it shows ------------------------------------------------------------------------


def test_it_lists_the_households_not_visited_with_a_way_to_call_the_helper(client, auth, township):
    auth.login("supervisor")
    html = page(client)
    missing = section(html, "not-visited")
    # No visit at all: 梁刚 (h2) and 付五 (h5), each with the helper's phone to call.
    for head, phone in (("梁刚", PEOPLE["other"][0]), ("付五", BANKER[0])):
        assert head in missing
        assert f'href="tel:{phone}"' in missing
    # Attempts are shown apart from households nobody tried: 陈三 was not home.
    nobody_tried, attempts = missing.split("<h3", 2)[1:]
    assert "梁刚" in nobody_tried and "陈三" not in nobody_tried
    assert "陈三" in attempts and "户不在家" in attempts
    # Visited households are not listed, even after a first attempt (杜四: phone, then met).
    assert "马娟" not in missing and "杜四" not in missing


def test_the_headline_counts_visits_apart_from_attempts(client, auth, store, township):
    auth.login("supervisor")
    headline = section(page(client), "headline")
    figures = month_figures(store, MONTH)
    assert (figures.households, figures.visited, figures.attempted) == (5, 2, 1)
    assert "40.0%" in headline
    assert "2 / 5 户已入户走访" in headline
    assert "<b>1</b>户仅尝试" in headline
    assert "<b>2</b>户当月没有任何走访记录" in headline


def test_villages_come_as_a_table_and_an_inline_chart(client, auth, township):
    auth.login("admin")
    villages = section(page(client), "villages")
    rows = re.findall(r"<tr>\s*<td><a[^>]*>([^<]+)</a></td>\s*<td[^>]*>([^<]+)</td>", villages)
    # Lowest completion first: 王寨村 0 of 2, 聂河村 2 of 3.
    assert rows == [("王寨村", "0.0%"), ("聂河村", "66.7%")]
    assert "<svg" in villages and "0/2 0.0%" in villages


def test_helpers_behind_come_first_and_can_be_filtered_by_unit(client, auth, township):
    auth.login("supervisor")
    helpers = section(page(client), "helpers")
    names = re.findall(r'<tr(?: class="behind")?>\s*<td>([^<]+)</td>', helpers)
    assert names[-1] == PEOPLE["owner"][2]  # the only helper with nothing left to do
    assert set(names[:-1]) == {TEACHER[1], BANKER[1], PEOPLE["other"][2]}
    teacher_row = re.search(rf"<td>{TEACHER[1]}</td>.*?</tr>", helpers, re.S).group(0)
    assert "陈三" in teacher_row and "杜四" not in teacher_row  # names the households left

    only = section(page(client, f"/dashboard?unit={TEACHER[2]}"), "helpers")
    assert TEACHER[1] in only and BANKER[1] not in only and PEOPLE["owner"][2] not in only


def test_a_village_narrows_the_whole_page(client, auth, township):
    auth.login("supervisor")
    html = page(client, "/dashboard?village=王寨村")
    assert "梁刚" in section(html, "not-visited") and "陈三" not in section(html, "not-visited")
    assert "0 / 2 户已入户走访" in section(html, "headline")
    assert "聂河村</a>" not in section(html, "villages")
    assert '<option value="王寨村" selected>' in html


def test_unresolved_guarantees_come_first(client, auth, store, township):
    record(store, township["h5"], TODAY, guarantees={"water": False, "housing": False})
    auth.login("supervisor")
    html = page(client)
    assert html.index('id="gaps"') < html.index('id="headline"')
    gaps = section(html, "gaps")
    assert "付五" in gaps and "饮水安全有保障" in gaps and "住房安全有保障" in gaps
    assert f'href="tel:{BANKER[0]}"' in gaps
    assert "马娟" not in gaps


def test_no_gap_is_said_plainly(client, auth, township):
    auth.login("supervisor")
    assert "没有未解决的两不愁三保障问题" in section(page(client), "gaps")


def test_the_last_twelve_months_and_the_environment(client, auth, store, township):
    record(store, township["h2"], LAST_MONTH_DAY)
    auth.login("supervisor")
    html = page(client)
    trend = section(html, "trend")
    assert "<svg" in trend and "<polyline" in trend
    assert previous_month(MONTH) in trend and MONTH in trend
    environment = section(html, "environment")
    # Two in-person visits this month, both from visit_payload: 物品摆放整齐 failed in each,
    # 厕所卫生 was not applicable.
    assert re.search(r"物品摆放整齐</td><td[^>]*>0</td><td[^>]*>2</td>", environment)
    assert re.search(r"厕所卫生</td><td[^>]*>0</td><td[^>]*>0</td>", environment)


def test_tables_sort_with_a_local_script_and_no_inline_code(client, auth, township):
    auth.login("supervisor")
    html = page(client)
    assert html.count('class="sortable') >= 5
    scripts = re.findall(r"<script[^>]*>", html)
    # The script is versioned by its content, like every other one.
    assert any(
        re.fullmatch(r'<script src="/static/sort\.js\?v=[0-9a-f]{10}" defer>', s) for s in scripts
    )
    assert all("src=" in s for s in scripts)  # nothing inline
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from elsewhere
    script = client.get("/static/sort.js")
    script.close()  # a static file is streamed from an open file
    assert script.status_code == 200


def test_an_earlier_month(client, auth, store, township):
    record(store, township["h2"], LAST_MONTH_DAY)
    auth.login("supervisor")
    html = page(client, f"/dashboard?month={previous_month(MONTH)}")
    assert "1 / 5 户已入户走访" in section(html, "headline")
    assert f'href="/dashboard?month={MONTH}"' in html  # the way back to this month


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("month=2026-13", "月份应为“年-月”形式"),
        ("month=next", "月份应为“年-月”形式"),
        ("month=2999-01", "2999-01 还没有到"),
        ("month=0001-01", "0001-01 太早了"),
        ("village=没有的村", "没有这个村：没有的村"),
    ],
)
def test_a_bad_query_is_explained_not_a_crash(client, auth, township, query, message):
    auth.login("supervisor")
    response = client.get(f"/dashboard?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert 'name="month"' in html  # the form is there to put it right


def test_an_empty_registry_still_shows_a_page(client, auth, households, store):
    def empty(reg: Registry) -> None:
        reg.households.clear()

    store.update_registry(empty)
    auth.login("supervisor")
    html = page(client)
    assert "0.0%" in section(html, "headline")


# --- the query ----------------------------------------------------------------------------


def test_the_query_defaults_to_this_month_and_the_township(store, households):
    assert parse_query(store, {}, FIXED_TODAY) == Query("2026-11")
    query = parse_query(store, {"month": "2026-10", "village": "聂河村", "unit": "x"}, FIXED_TODAY)
    assert query == Query("2026-10", "聂河村", "x")
    assert parse_query(store, {"month": " ", "village": ""}, FIXED_TODAY) == Query("2026-11")
    with pytest.raises(QueryError) as bad:
        parse_query(store, {"month": "2026-12"}, FIXED_TODAY)
    assert bad.value.field == "month"


# --- basic guarantees not yet resolved -----------------------------------------------------


def gap_codes(store: Store, month: str = "2026-11", village: str | None = None):
    return {g.household.id: g.guarantees for g in unresolved_gaps(store, month, village)}


def test_a_gap_found_last_month_stands_until_a_visit_finds_it_met(store, households):
    h1, h2 = households["h1"], households["h2"]
    record(store, h1, date(2026, 10, 10), guarantees={"water": False}, today=FIXED_TODAY)
    record(store, h2, date(2026, 10, 10), guarantees={"medical": False}, today=FIXED_TODAY)
    # h1 is checked again in November and the water is now safe; h2 is not seen since.
    record(store, h1, date(2026, 11, 10), today=FIXED_TODAY)
    assert gap_codes(store) == {h2.id: ["medical"]}
    [gap] = unresolved_gaps(store, "2026-11")
    assert (gap.since, gap.visit.date) == ("2026-10-10", "2026-10-10")
    assert [u.phone for u in gap.helpers] == h2.helpers
    # Seen from October, h1's gap was still open.
    assert gap_codes(store, "2026-10") == {h1.id: ["water"], h2.id: ["medical"]}


def test_a_visit_that_does_not_answer_leaves_the_gap_standing(store, households):
    h1 = households["h1"]
    record(store, h1, date(2026, 10, 5), guarantees={"housing": False}, today=FIXED_TODAY)
    # The API accepts answers with any kind of visit; with nobody home they prove nothing.
    record(
        store,
        h1,
        date(2026, 11, 3),
        kind="nobody_home",
        guarantees={"housing": True},
        today=FIXED_TODAY,
    )
    record(
        store,
        h1,
        date(2026, 11, 4),
        kind="phone",
        guarantees={"food": True},  # asked about food only
        today=FIXED_TODAY,
    )
    assert gap_codes(store) == {h1.id: ["housing"]}


def test_each_guarantee_is_followed_on_its_own(store, households):
    h1 = households["h1"]
    record(
        store,
        h1,
        date(2026, 9, 20),
        guarantees={"water": False, "medical": False},
        today=FIXED_TODAY,
    )
    record(store, h1, date(2026, 10, 20), guarantees={"water": False}, today=FIXED_TODAY)
    record(
        store,
        h1,
        date(2026, 11, 20),
        guarantees={"housing": False, "water": False},
        today=FIXED_TODAY,
    )
    [gap] = unresolved_gaps(store, "2026-11")
    assert gap.guarantees == ["housing", "water"]  # in the vocabulary's order; medical was met
    assert gap.since == "2026-09-20"  # water: not met since September, never found met
    assert gap.visit.date == "2026-11-20"


def test_gaps_are_followed_three_months_back_and_within_the_village(store, households):
    h1, h2 = households["h1"], households["h2"]
    record(store, h1, date(2026, 8, 31), guarantees={"water": False}, today=FIXED_TODAY)
    record(store, h2, date(2026, 9, 1), guarantees={"water": False}, today=FIXED_TODAY)
    assert gap_codes(store) == {h2.id: ["water"]}  # August is four months back
    assert gap_codes(store, village="聂河村") == {}
    assert gap_codes(store, village="王寨村") == {h2.id: ["water"]}


# --- completion over twelve months ---------------------------------------------------------


def test_the_trend_agrees_with_the_month_figures(store, households):
    h1, h2 = households["h1"], households["h2"]
    for day in (date(2026, 7, 1), date(2026, 9, 30), date(2026, 10, 2), date(2026, 11, 19)):
        record(store, h1, day, today=FIXED_TODAY)
    record(store, h2, date(2026, 9, 2), today=FIXED_TODAY)
    record(store, h2, date(2026, 10, 2), kind="phone", today=FIXED_TODAY)
    figures = month_figures(store, "2026-11", today=FIXED_TODAY)
    trend = completion_trend(store, figures)
    # Months before the first recorded visit are left out rather than shown as 0%.
    assert [p.month for p in trend] == ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    for point in trend:
        same = month_figures(store, point.month, today=FIXED_TODAY)
        assert (point.visited, point.households) == (same.visited, same.households), point
    assert [p.visited for p in trend] == [1, 0, 2, 1, 1]


def test_the_trend_of_one_village(store, households):
    record(store, households["h2"], date(2026, 10, 2), today=FIXED_TODAY)
    figures = month_figures(store, "2026-11", village="王寨村", today=FIXED_TODAY)
    trend = completion_trend(store, figures)
    assert [(p.month, p.visited, p.households) for p in trend] == [
        ("2026-10", 1, 1),
        ("2026-11", 0, 1),
    ]


def test_last_month_is_compared_at_the_same_day_while_this_one_is_under_way(store, households):
    h1, h2 = households["h1"], households["h2"]
    record(store, h1, date(2026, 10, 5), today=FIXED_TODAY)
    record(store, h2, date(2026, 10, 25), today=FIXED_TODAY)
    record(store, h1, date(2026, 11, 6), today=FIXED_TODAY)
    board = completion(store, Query("2026-11"), FIXED_TODAY)
    assert board.under_way and board.previous_same_day == 1  # by 20 October: h1 only
    assert board.comparison == pytest.approx(0.5 - 0.5)
    finished = completion(store, Query("2026-10"), FIXED_TODAY)
    assert not finished.under_way and finished.previous_same_day is None
    assert finished.later == "2026-11" and board.later is None
