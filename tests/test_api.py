"""The JSON API under /api/v1."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit.access.tokens import create_token

MONTH = date.today().isoformat()[:7]


@pytest.fixture()
def bearer(store, households):
    def make(who: str) -> dict[str, str]:
        token = create_token(store, PEOPLE[who][0], actor="test")
        return {"Authorization": f"Bearer {token}"}

    return make


def test_openapi_document_describes_the_routes(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/households", "/checklist", "/visits"} <= set(doc["paths"])
    assert {"get", "post"} <= set(doc["paths"]["/visits"])


def test_without_credentials_it_answers_401_in_json(client, households):
    response = client.get("/api/v1/households")
    assert response.status_code == 401
    assert "error" in response.get_json()
    bad = client.get("/api/v1/households", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_a_helper_sees_only_their_households(client, bearer, households):
    rows = client.get("/api/v1/households", headers=bearer("owner")).get_json()
    assert rows == [
        {
            "id": households["h1"].id,
            "village": "聂河村",
            "group": "3组",
            "head": "马娟",
            "members": 2,
            "state": "not_visited",
        }
    ]
    all_rows = client.get("/api/v1/households", headers=bearer("supervisor")).get_json()
    assert {r["id"] for r in all_rows} == {h.id for h in households.values()}


def test_checklist_lists_keys_and_labels(client, bearer):
    items = client.get("/api/v1/checklist", headers=bearer("owner")).get_json()
    assert items[0] == {"key": "yard", "label": "院落干净整洁"}
    assert len(items) == 8


def test_post_stores_a_visit_once(client, bearer, store, households):
    headers = bearer("owner")
    payload = visit_payload(households["h1"])
    first = client.post("/api/v1/visits", json=payload, headers=headers)
    assert first.status_code == 201
    body = first.get_json()
    assert body["helper"] == body["recorded_by"] == PEOPLE["owner"][0]
    assert body["environment"] == payload["environment"]
    again = client.post("/api/v1/visits", json=payload, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["id"] == payload["id"]
    assert len(store.visits(MONTH)) == 1
    state = client.get("/api/v1/households", headers=headers).get_json()[0]["state"]
    assert state == "visited"


def test_an_attempt_is_not_a_visit(client, bearer, households):
    headers = bearer("owner")
    payload = visit_payload(households["h1"], kind="phone", guarantees={}, environment={})
    assert client.post("/api/v1/visits", json=payload, headers=headers).status_code == 201
    assert client.get("/api/v1/households", headers=headers).get_json()[0]["state"] == "attempted"


def test_invalid_visits_get_readable_reasons(client, bearer, store, households):
    headers = bearer("owner")
    payload = visit_payload(households["h1"], kind="walk", date="2999-01-01")
    payload["environment"]["made_up"] = True
    response = client.post("/api/v1/visits", json=payload, headers=headers)
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert {"kind", "date", "environment"} <= set(errors)
    assert store.visits(MONTH) == []
    assert client.post("/api/v1/visits", data="nope", headers=headers).status_code == 400


def test_a_helper_cannot_record_for_another_household(client, bearer, store, households):
    response = client.post(
        "/api/v1/visits", json=visit_payload(households["h2"]), headers=bearer("owner")
    )
    assert response.status_code == 403
    assert store.visits(MONTH) == []


def test_an_unknown_household_is_404(client, bearer, households):
    payload = visit_payload(households["h1"], household="999")
    assert client.post("/api/v1/visits", json=payload, headers=bearer("owner")).status_code == 404


def test_a_supervisor_cannot_record(client, bearer, households):
    response = client.post(
        "/api/v1/visits", json=visit_payload(households["h1"]), headers=bearer("supervisor")
    )
    assert response.status_code == 403


def test_an_admin_records_on_behalf_of_a_helper(client, bearer, store, households):
    payload = visit_payload(households["h2"], helper=PEOPLE["other"][0])
    response = client.post("/api/v1/visits", json=payload, headers=bearer("admin"))
    assert response.status_code == 201
    assert response.get_json()["helper"] == PEOPLE["other"][0]
    assert response.get_json()["recorded_by"] == PEOPLE["admin"][0]
    without = visit_payload(households["h1"], id="b1b2c3d4-0000-4000-8000-000000000002")
    stored = client.post("/api/v1/visits", json=without, headers=bearer("admin")).get_json()
    assert stored["helper"] == households["h1"].helpers[0]


def test_the_same_id_for_another_household_conflicts(client, bearer, store, households):
    from helpers import make_household

    neighbour = make_household(id="4117210010009", head="邻居")
    store.update_registry(lambda reg: reg.households.update({neighbour.id: neighbour}))
    admin = bearer("admin")
    client.post("/api/v1/visits", json=visit_payload(households["h1"]), headers=admin)
    response = client.post("/api/v1/visits", json=visit_payload(neighbour), headers=admin)
    assert response.status_code == 409
    [stored] = store.visits(MONTH)
    assert stored.household == households["h1"].id


def test_get_visits_filters_by_caller(client, bearer, households):
    admin = bearer("admin")
    client.post("/api/v1/visits", json=visit_payload(households["h1"]), headers=admin)
    client.post(
        "/api/v1/visits",
        json=visit_payload(households["h2"], id="c1b2c3d4-0000-4000-8000-000000000003"),
        headers=admin,
    )
    mine = client.get(f"/api/v1/visits?month={MONTH}", headers=bearer("owner")).get_json()
    assert [v["household"] for v in mine] == [households["h1"].id]
    assert {"helper", "recorded_by", "guarantees", "needs"} <= set(mine[0])
    everyone = client.get(f"/api/v1/visits?month={MONTH}", headers=bearer("supervisor")).get_json()
    assert len(everyone) == 2
    assert client.get("/api/v1/visits?month=13-2020", headers=admin).status_code == 400


def test_the_browser_session_needs_the_csrf_header(client, auth, store, households):
    auth.login("owner")
    payload = visit_payload(households["h1"])
    refused = client.post("/api/v1/visits", json=payload)
    assert refused.status_code == 400
    assert store.visits(MONTH) == []
    accepted = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": auth.csrf()})
    assert accepted.status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"notes": 12345}, "notes"),
        ({"notes": ["a", "b"]}, "notes"),
        ({"notes": "\ud800"}, "notes"),  # a lone surrogate: cannot be stored as UTF-8
        ({"id": 12345678901}, "id"),
        ({"date": "20261129"}, "date"),
        ({"date": "2026-W48-7"}, "date"),
        ({"date": 20261129}, "date"),
        ({"needs": [{"category": "medical", "description": 123}]}, "needs.0.description"),
        (
            {"needs": [{"category": "medical", "description": "药", "urgent": "yes"}]},
            "needs.0.urgent",
        ),
    ],
)
def test_wrong_types_are_refused_not_converted(client, bearer, store, households, change, field):
    """Found by a tester: numbers and lists were stored as their text, odd dates accepted."""
    response = client.post(
        "/api/v1/visits", json=visit_payload(households["h1"], **change), headers=bearer("owner")
    )
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["errors"]
    assert store.visits(MONTH) == []


def test_the_office_cannot_date_a_visit_before_2000(client, bearer, households):
    for day in ("1999-12-31", "0001-01-01"):
        response = client.post(
            "/api/v1/visits",
            json=visit_payload(households["h1"], date=day),
            headers=bearer("admin"),
        )
        assert response.status_code == 400 and "date" in response.get_json()["errors"]


def test_control_characters_are_dropped_from_what_was_typed(client, bearer, store, households):
    need = {"category": "medical", "description": "药\x0c费", "urgent": False}
    payload = visit_payload(households["h1"], notes="第一行\x0b第二行\n第三行", needs=[need])
    assert client.post("/api/v1/visits", json=payload, headers=bearer("owner")).status_code == 201
    (visit,) = store.visits(MONTH)
    assert visit.notes == "第一行第二行\n第三行"
    assert visit.needs[0]["description"] == "药费"


def test_a_nobody_home_visit_matches_the_document(client, bearer, households):
    """Its satisfaction is empty, which the document now allows."""
    payload = visit_payload(households["h1"], kind="nobody_home", satisfaction="")
    payload.pop("guarantees"), payload.pop("environment")
    assert client.post("/api/v1/visits", json=payload, headers=bearer("owner")).status_code == 201
    doc = client.get("/api/v1/openapi.json").get_json()
    allowed = doc["components"]["schemas"]["Visit"]["properties"]["satisfaction"]["enum"]
    (visit,) = client.get(f"/api/v1/visits?month={MONTH}", headers=bearer("owner")).get_json()
    assert visit["satisfaction"] in allowed


def test_a_resend_dated_a_day_off_across_the_months_end_is_stored_once(
    client, bearer, store, households
):
    """A phone whose clock or time zone is a day off sends the same record again with the
    next day's date, in another month: the id still makes it the same visit."""
    today = date.today()
    first = today.replace(day=1)
    day_before = first - timedelta(days=1)  # last month's last day
    admin = bearer("admin")
    payload = visit_payload(
        households["h1"], id="resend-across-month-1", date=day_before.isoformat()
    )
    assert client.post("/api/v1/visits", json=payload, headers=admin).status_code == 201
    again = {**payload, "date": first.isoformat()}
    response = client.post("/api/v1/visits", json=again, headers=admin)
    assert response.status_code == 200 and response.get_json()["date"] == day_before.isoformat()
    assert store.visits(first.isoformat()[:7]) == []
    other = visit_payload(households["h2"], id="resend-across-month-1", date=first.isoformat())
    assert client.post("/api/v1/visits", json=other, headers=admin).status_code == 409
