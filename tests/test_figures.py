"""The month's figures, shared by the PDFs, the exports and the dashboard."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import PEOPLE, demo_app, make_household, visit_payload

from fieldvisit.demo import ATTRIBUTE_TABLE, CAUSE_TABLE, STATUS_TABLE
from fieldvisit.figures.month import month_figures
from fieldvisit.months import previous_month
from fieldvisit.visits.recording import record_visit

TODAY = date(2026, 11, 20)
MONTH = "2026-11"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_app(tmp_path_factory.mktemp("demo"), today=TODAY)[1]


def test_structure_reproduces_the_design_tables(demo):
    figures = month_figures(demo, MONTH, today=TODAY)
    for name, table in (
        ("attribute", ATTRIBUTE_TABLE),
        ("cause", CAUSE_TABLE),
        ("status", STATUS_TABLE),
    ):
        got = {row.code: (row.households, row.people) for row in figures.structure[name]}
        assert got == table
    assert (figures.households, figures.people) == (676, 1721)


def test_not_visited_is_exactly_the_households_without_an_in_person_visit(demo):
    figures = month_figures(demo, MONTH, today=TODAY)
    in_person = {v.household for v in demo.visits(MONTH) if v.kind == "in_person"}
    listed = {m.household.id for m in figures.not_visited}
    assert listed == set(demo.registry().households) - in_person
    assert figures.visited == len(in_person)
    assert figures.visited + len(listed) == figures.households
    attempted = {m.household.id for m in figures.not_visited if m.attempted}
    assert len(attempted) == figures.attempted
    assert all(v.kind != "in_person" for v in demo.visits(MONTH) if v.household in attempted)


def test_village_and_helper_rows_add_up(demo):
    figures = month_figures(demo, MONTH, today=TODAY)
    assert sum(r.households for r in figures.by_village) == 676
    assert sum(r.visited for r in figures.by_village) == figures.visited
    assert len(figures.by_village) == 14
    # Helpers behind come first.
    missing = [len(r.missing) for r in figures.by_helper]
    assert missing == sorted(missing, reverse=True)
    assert len(figures.by_helper) == 357


def test_one_village(demo):
    whole = month_figures(demo, MONTH, today=TODAY)
    row = next(r for r in whole.by_village if r.village == "聂河村")
    village = month_figures(demo, MONTH, village="聂河村", today=TODAY)
    assert (village.households, village.visited, village.attempted) == (
        row.households,
        row.visited,
        row.attempted,
    )
    assert {m.household.village for m in village.not_visited} <= {"聂河村"}


def test_previous_month_and_change(demo):
    figures = month_figures(demo, MONTH, today=TODAY)
    last = month_figures(demo, previous_month(MONTH), today=TODAY)
    assert figures.previous_visited == last.visited
    # Mid-month (the 20th) is compared with last month up to its 20th, not the whole month.
    same_day = {
        v.household
        for v in demo.visits("2026-10")
        if v.kind == "in_person" and v.date <= "2026-10-20"
    }
    assert figures.previous_same_day == len(same_day)
    assert figures.change == pytest.approx(figures.rate - len(same_day) / figures.households)
    assert last.previous_same_day is None  # a month that is over compares whole months
    assert last.change == pytest.approx(last.rate - last.previous_rate)
    assert previous_month("2026-01") == "2025-12"


def test_guarantees_environment_needs_and_satisfaction(store, households):
    owner = store.user(PEOPLE["owner"][0])
    today = date.today()
    month = today.isoformat()[:7]
    payload = visit_payload(households["h1"])
    payload["guarantees"]["water"] = False
    payload["environment"].update(yard=False, indoor=False, tidy=False)
    record_visit(store, payload, owner, today)
    figures = month_figures(store, month, today=today)
    assert [g.household.id for g in figures.guarantee_gaps["water"]] == [households["h1"].id]
    assert figures.guarantee_gaps["food"] == []
    yard = next(r for r in figures.environment if r.key == "yard")
    assert (yard.passed, yard.failed) == (0, 1)
    toilet = next(r for r in figures.environment if r.key == "toilet")
    assert (toilet.passed, toilet.failed) == (0, 0)  # not applicable is not counted
    assert [h.id for h, _items in figures.failing_environment] == [households["h1"].id]
    assert figures.needs_raised["medical"] == 1
    assert figures.open_needs_by_age["≤30"] == 1
    assert figures.satisfaction["satisfied"] == 1
    # h2 (王寨村) was not visited at all.
    assert [m.household.id for m in figures.not_visited] == [households["h2"].id]


def test_a_later_visit_of_the_same_household_counts_once(store, households):
    owner = store.user(PEOPLE["owner"][0])
    today = date.today()
    extra = make_household(id="4117210010003", head="第三户")
    store.update_registry(lambda reg: reg.households.update({extra.id: extra}))
    record_visit(
        store,
        visit_payload(households["h1"], kind="phone", guarantees={}, environment={}),
        owner,
        today,
    )
    figures = month_figures(store, today.isoformat()[:7], today=today)
    assert figures.attempted == 1 and figures.visited == 0
    record_visit(store, visit_payload(households["h1"], id="x" * 20), owner, today)
    figures = month_figures(store, today.isoformat()[:7], today=today)
    assert figures.attempted == 0 and figures.visited == 1


def test_a_later_attempt_does_not_hide_a_guarantee_gap(store, households):
    owner = store.user(PEOPLE["owner"][0])
    today = date.today()
    first = visit_payload(households["h1"], date=today.replace(day=1).isoformat())
    first["guarantees"]["housing"] = False
    record_visit(store, first, owner, today)
    later = visit_payload(
        households["h1"],
        id="later-attempt-0001",
        kind="nobody_home",
        guarantees={},
        environment={},
        satisfaction="",
    )
    record_visit(store, later, owner, today)
    figures = month_figures(store, today.isoformat()[:7], today=today)
    assert [g.household.id for g in figures.guarantee_gaps["housing"]] == [households["h1"].id]


def test_villages_groups_and_names_come_in_the_offices_order(store, households):
    """Pinyin, as the township's spreadsheets and the office's lists sort: 聂 (nie) before
    王 (wang), although 王 comes first in character codes; "2组" before "10组"."""
    from fieldvisit.collation import natural_key, pinyin_key, sort_villages

    month = date.today().isoformat()[:7]
    figures = month_figures(store, month)
    assert [m.household.village for m in figures.not_visited] == ["聂河村", "王寨村"]
    assert sort_villages({"王寨村", "聂河村", "陈桥村"}) == ["陈桥村", "聂河村", "王寨村"]
    assert sorted(["10组", "2组", "十一组", "三组"], key=natural_key) == [
        "2组",
        "三组",
        "10组",
        "十一组",
    ]
    assert pinyin_key("白桂华") < pinyin_key("曹静") < pinyin_key("冯伟")
