"""GET /api/v1/completion: the month's completion figures, checked against the visits stored.

The expected figures are worked out here from ``store.visits`` and the registry, not from
``month_figures``, so that a mistake there cannot hide in both.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
from helpers import PEOPLE, make_household, visit_payload

from fieldvisit.access.tokens import create_token
from fieldvisit.models import User
from fieldvisit.storage import Registry, Store

TODAY = date.today()
MONTH = TODAY.isoformat()[:7]
LAST_MONTH_DAY = TODAY.replace(day=1) - timedelta(days=1)
LAST_MONTH = LAST_MONTH_DAY.isoformat()[:7]
TEACHER = ("13900000003", "周老师", "县教育局")
OWNER, OTHER = PEOPLE["owner"][0], PEOPLE["other"][0]


@pytest.fixture()
def bearer(store, households):
    def make(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_token(store, PEOPLE[who][0], actor='test')}"}

    return make


@pytest.fixture()
def township(client, store, households, bearer):
    """Five households in two villages; visits of this month and the last, sent through the
    API by the office: met in person, nobody home, by phone, and both on different days."""

    def add(reg: Registry) -> None:
        reg.users[TEACHER[0]] = User(TEACHER[0], TEACHER[1], "helper", unit=TEACHER[2])
        for h in (
            make_household(id="4117210010003", head="陈三", helpers=[TEACHER[0]]),
            make_household(
                id="4117210020004", village="王寨村", head="杜四", helpers=[TEACHER[0], OTHER]
            ),
            make_household(id="4117210010005", head="付五", helpers=[]),  # not paired yet
        ):
            reg.households[h.id] = h

    store.update_registry(add)
    admin = bearer("admin")
    reg = store.registry()

    def send(hid: str, kind: str, day: date, helper: str | None = None) -> None:
        household = reg.households[hid]
        payload = visit_payload(household, id=str(uuid.uuid4()), kind=kind, date=day.isoformat())
        payload["helper"] = helper or household.helpers[0]
        if kind != "in_person":
            payload.update(guarantees={}, environment={}, needs=[])
        if kind == "nobody_home":
            payload["satisfaction"] = ""
        response = client.post("/api/v1/visits", json=payload, headers=admin)
        assert response.status_code == 201, response.get_json()

    send("4117210010001", "in_person", TODAY)  # 马娟: visited
    send("4117210020001", "nobody_home", TODAY)  # 梁刚: attempted only
    send("4117210020001", "in_person", LAST_MONTH_DAY)  # … met last month, which does not count
    send("4117210010003", "phone", TODAY)  # 陈三: a call, then met: visited
    send("4117210010003", "in_person", TODAY)
    send("4117210020004", "phone", TODAY, helper=OTHER)  # 杜四: attempted only
    send("4117210010005", "in_person", LAST_MONTH_DAY, helper=OWNER)  # 付五: last month only
    return reg


def expected(store: Store, month: str, village: str | None = None) -> dict[str, Any]:
    """The completion figures worked out from the stored visits and the registry."""
    reg = store.registry()
    households = {
        h.id: h for h in reg.households.values() if village is None or h.village == village
    }
    stored = [v for v in store.visits(month) if v.household in households]
    met = {v.household for v in stored if v.kind == "in_person"}
    tried = {v.household for v in stored} - met
    villages: dict[str, dict[str, Any]] = {}
    helpers: dict[str, dict[str, Any]] = defaultdict(lambda: {"households": 0, "visited": 0})
    for h in households.values():
        row = villages.setdefault(
            h.village, {"village": h.village, "households": 0, "visited": 0, "attempted": 0}
        )
        row["households"] += 1
        row["visited"] += h.id in met
        row["attempted"] += h.id in tried
        for phone in h.helpers:
            helpers[phone]["households"] += 1
            helpers[phone]["visited"] += h.id in met
    return {
        "households": len(households),
        "visited": len(met),
        "attempted": len(tried),
        "not_visited": {
            (
                h.id,
                h.village,
                h.head,
                reg.users[h.helpers[0]].name if h.helpers else "",
            )
            for h in households.values()
            if h.id not in met
        },
        "by_village": villages,
        "by_helper": {
            (phone, reg.users[phone].name, row["households"], row["visited"])
            for phone, row in helpers.items()
        },
    }


def check(body: dict[str, Any], want: dict[str, Any]) -> None:
    for key in ("households", "visited", "attempted"):
        assert body[key] == want[key], key
    got = {(r["id"], r["village"], r["head"], r["helper"]) for r in body["not_visited"]}
    assert got == want["not_visited"]
    assert len(body["not_visited"]) == len(want["not_visited"])  # each household once
    assert body["visited"] + len(body["not_visited"]) == body["households"]
    assert {r["village"]: r for r in body["by_village"]} == want["by_village"]
    got_helpers = {
        (r["phone"], r["helper"], r["households"], r["visited"]) for r in body["by_helper"]
    }
    assert got_helpers == want["by_helper"]


def test_the_figures_match_the_visits_stored(client, bearer, store, township):
    response = client.get(f"/api/v1/completion?month={MONTH}", headers=bearer("supervisor"))
    assert response.status_code == 200
    body = response.get_json()
    want = expected(store, MONTH)
    check(body, want)
    # Spelled out for this township, so that the checker itself is checked.
    assert (body["households"], body["visited"], body["attempted"]) == (5, 2, 2)
    assert body["month"] == MONTH and body["village"] is None
    attempted = {r["id"] for r in body["not_visited"] if r["attempted"]}
    assert attempted == {"4117210020001", "4117210020004"}
    du = next(r for r in body["not_visited"] if r["id"] == "4117210020004")
    assert du["phone"] == TEACHER[0]
    assert [p["phone"] for p in du["helpers"]] == [TEACHER[0], OTHER]
    fu = next(r for r in body["not_visited"] if r["id"] == "4117210010005")
    assert (fu["helper"], fu["phone"], fu["helpers"]) == ("", "", [])


def test_helpers_behind_come_first(client, bearer, store, township):
    body = client.get("/api/v1/completion", headers=bearer("admin")).get_json()
    left = [r["households"] - r["visited"] for r in body["by_helper"]]
    assert left == sorted(left, reverse=True)
    owner = next(r for r in body["by_helper"] if r["phone"] == OWNER)
    assert (owner["unit"], owner["not_visited"]) == ("", [])
    teacher = next(r for r in body["by_helper"] if r["phone"] == TEACHER[0])
    assert teacher["not_visited"] == ["4117210020004"]


def test_last_month_and_one_village(client, bearer, store, township):
    headers = bearer("supervisor")
    last = client.get(f"/api/v1/completion?month={LAST_MONTH}", headers=headers).get_json()
    check(last, expected(store, LAST_MONTH))
    assert last["visited"] == 2  # 梁刚 and 付五

    one = client.get(f"/api/v1/completion?month={MONTH}&village=王寨村", headers=headers)
    body = one.get_json()
    check(body, expected(store, MONTH, "王寨村"))
    assert body["village"] == "王寨村"
    assert [r["village"] for r in body["by_village"]] == ["王寨村"]


def test_the_trend_and_the_other_figures_are_there_too(client, bearer, store, township):
    body = client.get("/api/v1/completion", headers=bearer("supervisor")).get_json()
    assert [p["month"] for p in body["trend"]] == [LAST_MONTH, MONTH]
    assert [p["visited"] for p in body["trend"]] == [2, 2]
    assert body["previous_visited"] == 2
    assert body["guarantee_gaps"] == []
    tidy = next(i for i in body["environment"] if i["key"] == "tidy")
    assert (tidy["passed"], tidy["failed"]) == (0, 2)  # visit_payload fails it


def test_a_guarantee_not_met_is_reported(client, bearer, store, township):
    reg = store.registry()
    payload = visit_payload(reg.households["4117210010003"], id=str(uuid.uuid4()))
    payload["guarantees"]["water"] = False
    payload["helper"] = TEACHER[0]
    assert client.post("/api/v1/visits", json=payload, headers=bearer("admin")).status_code == 201
    body = client.get("/api/v1/completion", headers=bearer("supervisor")).get_json()
    [gap] = body["guarantee_gaps"]
    assert (gap["id"], gap["guarantees"], gap["since"]) == (
        "4117210010003",
        ["water"],
        TODAY.isoformat(),
    )
    assert gap["phone"] == TEACHER[0]


@pytest.mark.parametrize(
    ("who", "status"),
    [("nobody", 401), ("owner", 403), ("other", 403), ("supervisor", 200), ("admin", 200)],
)
def test_it_answers_each_role(client, bearer, township, who, status):
    headers = {} if who == "nobody" else bearer(who)
    response = client.get("/api/v1/completion", headers=headers)
    assert response.status_code == status
    assert response.is_json
    if status != 200:
        assert set(response.get_json()) == {"error"}


def test_the_browser_session_works_too(client, auth, township):
    auth.login("supervisor")
    assert client.get("/api/v1/completion").status_code == 200
    auth.login("owner")
    assert client.get("/api/v1/completion").status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("month=2026-13", "month"),
        ("month=202611", "month"),
        ("month=2999-01", "month"),
        ("month=0001-01", "month"),  # a 500 before: its previous month does not exist
        ("month=1999-12", "month"),
        ("village=没有的村", "village"),
    ],
)
def test_a_bad_query_is_400_with_the_reason(client, bearer, township, query, field):
    response = client.get(f"/api/v1/completion?{query}", headers=bearer("supervisor"))
    assert response.status_code == 400
    body = response.get_json()
    assert set(body["errors"]) == {field}
    assert body["error"] == body["errors"][field]


def test_the_openapi_document_describes_it(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    operation = doc["paths"]["/completion"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"month", "village"}
    assert {"200", "400", "401", "403"} <= set(operation["responses"])
    schema = doc["components"]["schemas"]["Completion"]
    listed = {"households", "visited", "attempted", "not_visited", "by_village", "by_helper"}
    assert listed <= set(schema["required"])
    props = schema["properties"]
    assert {"id", "village", "head", "helper"} <= set(props["not_visited"]["items"]["required"])
    assert {"village", "households", "visited", "attempted"} <= set(
        props["by_village"]["items"]["required"]
    )
    assert {"helper", "phone", "households", "visited"} <= set(
        props["by_helper"]["items"]["required"]
    )


def test_every_field_the_api_sends_is_documented(client, bearer, township):
    doc = client.get("/api/v1/openapi.json").get_json()
    props = doc["components"]["schemas"]["Completion"]["properties"]
    body = client.get("/api/v1/completion", headers=bearer("supervisor")).get_json()
    assert set(body) == set(props)
    for name in ("not_visited", "by_village", "by_helper", "environment", "trend"):
        assert set(body[name][0]) <= set(props[name]["items"]["properties"]), name
