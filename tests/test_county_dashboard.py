"""The county's dashboard and completion API: figures by township, drilling down to one
township's page that stays in that township, the API's pages of households not visited,
and figures that follow every saved visit at once, in every app over the same data."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldvisit import create_app
from fieldvisit.demo.county import build_county
from fieldvisit.demo.township import ADMIN, DEMO_PASSWORD
from fieldvisit.figures import dashboard
from fieldvisit.models import Household
from fieldvisit.months import previous_month
from fieldvisit.storage import Registry, Store
from fieldvisit.visits.recording import record_visit
from tests.helpers import csrf_from, visit_payload

TOWNSHIPS = ("城关镇", "河口镇", "王集乡")
OWN, OTHER = TOWNSHIPS[0], TOWNSHIPS[1]
MONTH = date.today().strftime("%Y-%m")


def _app(folder: Path) -> Flask:
    return create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "test-secret"})


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """A county of three demo townships (2,028 households) with two months of visits.
    Built once: tests that save visits compare figures before and after, never absolutes."""
    app = _app(tmp_path_factory.mktemp("county") / "data")
    with app.app_context():
        build_county(app.extensions["fieldvisit.store"], len(TOWNSHIPS), months=2)
    yield app


def _store(app: Flask) -> Store:
    return app.extensions["fieldvisit.store"]  # type: ignore[no-any-return]


def _client(app: Flask, phone: str = ADMIN[0]) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    data = {"phone": phone, "password": DEMO_PASSWORD, "csrf_token": csrf_from(page)}
    assert client.post("/login", data=data).status_code == 302
    return client


def _township_admin(app: Flask, township: str) -> str:
    users = _store(app).registry().users.values()
    return next(u.phone for u in users if u.role == "admin" and u.township == township)


def _completion(client: FlaskClient, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/completion?month={MONTH}{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def _dashboard_links(page: str) -> list[dict[str, list[str]]]:
    """The query of every link to the dashboard on ``page``."""
    hrefs = re.findall(r'href="(/dashboard\?[^"#]*)', page.replace("&amp;", "&"))
    return [parse_qs(urlsplit(h).query) for h in hrefs]


def _not_visited(app: Flask, township: str) -> Household:
    store = _store(app)
    visited = {v.household for v in store.visits(MONTH) if v.kind == "in_person"}
    return next(
        h
        for h in sorted(store.registry().households.values(), key=lambda h: h.id)
        if h.township == township and h.id not in visited and h.helpers
    )


def _record_visit(app: Flask, household: Household) -> None:
    """An in-person visit today, entered by the county's office for the first helper."""
    client = _client(app)
    keys = [item["key"] for item in client.get("/api/v1/checklist").get_json()]
    payload = {
        "id": str(uuid.uuid4()),
        "household": household.id,
        "date": date.today().isoformat(),
        "kind": "in_person",
        "guarantees": dict.fromkeys(
            ("food", "clothing", "education", "medical", "housing", "water"), True
        ),
        "environment": dict.fromkeys(keys, True),
        "satisfaction": "satisfied",
        "helper": household.helpers[0],
        "needs": [],
    }
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    sent = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": token})
    assert sent.status_code == 201, sent.get_json()


def _row(figures: dict[str, Any], township: str) -> dict[str, Any]:
    return next(r for r in figures["by_township"] if r["township"] == township)


def test_the_county_page_shows_townships_and_no_list_of_households(county: Flask) -> None:
    client = _client(county)
    response = client.get("/dashboard")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and len(response.get_data()) < 300_000
    assert "各乡镇完成情况" in page and 'class="sortable not-visited"' not in page
    figures = _completion(client)
    for township in TOWNSHIPS:
        row = _row(figures, township)
        link = f"/dashboard?month={MONTH}&amp;township={quote(township)}"
        assert link in page  # the township's page, and its villages, helpers and gaps below
        assert f"{link}#villages" in page and f"{link}#helpers" in page
        assert f'<td class="n">{row["households"]}</td><td class="n">{row["visited"]}</td>' in page
    # The township's own page agrees with the county's row.
    one = _completion(client, f"&township={quote(OWN)}")
    assert (one["households"], one["visited"], one["attempted"]) == tuple(
        _row(figures, OWN)[k] for k in ("households", "visited", "attempted")
    )


def test_a_township_reached_from_the_county_keeps_its_township_in_every_link(
    county: Flask,
) -> None:
    client = _client(county)
    page = client.get(f"/dashboard?month={MONTH}&township={quote(OWN)}").get_data(as_text=True)
    links = _dashboard_links(page)
    back = [q for q in links if "township" not in q]
    assert back == [{"month": [MONTH]}]  # the one way back up: to the county
    assert all(q["township"] == [OWN] for q in links if q not in back)
    villages = [q["village"][0] for q in links if "village" in q]
    assert villages and all(v.startswith(f"{OWN}/") for v in villages)
    # The departments' lists, kept to the township's own (reconcile.scope).
    assert 'id="departments"' in page
    # The filter stays in the township: its hidden field, and only its own villages.
    assert f'<input type="hidden" name="township" value="{OWN}">' in page
    options = re.findall(
        r'<option value="([^"]+)"', page.split('name="village"')[1].split("</select>")[0]
    )
    assert options and all(v.startswith(f"{OWN}/") for v in options)
    # A village's page (王庄村-like names repeat in every township) keeps both.
    village = client.get(
        f"/dashboard?month={MONTH}&township={quote(OWN)}&village={quote(villages[0])}"
    )
    assert village.status_code == 200
    deeper = _dashboard_links(village.get_data(as_text=True))
    assert [q for q in deeper if "township" not in q] == [{"month": [MONTH]}]
    assert all(q["township"] == [OWN] for q in deeper if "township" in q)


def test_a_village_of_another_township_or_an_unknown_township_is_refused(county: Flask) -> None:
    client = _client(county)
    stranger = quote(f"{OTHER}/" + _not_visited(county, OTHER).village)
    refused = client.get(f"/dashboard?township={quote(OWN)}&village={stranger}")
    assert refused.status_code == 400
    assert client.get(f"/dashboard?township={quote('无此镇')}").status_code == 400
    answer = client.get(f"/api/v1/completion?month={MONTH}&township={quote('无此镇')}")
    assert answer.status_code == 400 and "township" in answer.get_json()["errors"]


def test_a_township_office_sees_only_its_own_township(county: Flask) -> None:
    client = _client(county, _township_admin(county, OWN))
    figures = _completion(client, f"&township={quote(OTHER)}")  # asking for another: ignored
    assert [r["township"] for r in figures["by_township"]] == [OWN]
    assert {r["township"] for r in figures["by_village"]} == {OWN}
    assert figures["households"] == 676
    # A township's list of households not visited fits in the first page.
    assert figures["next"] is None
    assert len(figures["not_visited"]) == figures["not_visited_total"]
    ids = {h.id for h in _store(county).registry().households.values() if h.township == OWN}
    assert {h["id"] for h in figures["not_visited"]} <= ids
    page = client.get(f"/dashboard?township={quote(OTHER)}").get_data(as_text=True)
    assert f"· {OWN} ·" in page and "各乡镇完成情况" not in page
    assert all(q.get("township", [OWN]) == [OWN] for q in _dashboard_links(page))


def test_the_county_api_has_its_townships_villages_helpers_and_pages(county: Flask) -> None:
    client = _client(county)
    figures = _completion(client)
    assert [sorted(r) for r in figures["by_township"]] == [
        ["attempted", "households", "township", "visited"]
    ] * len(TOWNSHIPS)
    assert sum(r["households"] for r in figures["by_township"]) == figures["households"] == 2028
    assert sum(r["visited"] for r in figures["by_township"]) == figures["visited"]
    assert {r["township"] for r in figures["by_village"]} == set(TOWNSHIPS)
    assert sum(r["households"] for r in figures["by_helper"]) >= figures["households"]
    total = figures["not_visited_total"]
    assert total == figures["households"] - figures["visited"]
    # Pages of 100: follow ``next`` to the end, every household once.
    seen: list[str] = []
    link: str | None = f"/api/v1/completion?month={MONTH}&limit=100"
    while link is not None:
        page = client.get(link).get_json()
        assert len(page["not_visited"]) <= 100
        seen += [h["id"] for h in page["not_visited"]]
        link = page["next"]
    assert len(seen) == len(set(seen)) == total


def test_a_saved_visit_shows_at_once_on_the_page_and_in_the_api(county: Flask) -> None:
    client = _client(county)
    before = _completion(client)
    client.get("/dashboard")  # both made and kept
    _record_visit(county, _not_visited(county, OTHER))
    after = _completion(client)
    assert after["visited"] == before["visited"] + 1
    assert _row(after, OTHER)["visited"] == _row(before, OTHER)["visited"] + 1
    page = client.get("/dashboard").get_data(as_text=True)
    assert f"{after['visited']} / {after['households']} 户已入户走访" in page


def test_another_app_over_the_same_data_sees_a_visit_saved_by_the_first(county: Flask) -> None:
    other = _app(Path(county.config["DATA_DIR"]))  # as a second server process would
    first, second = _client(county), _client(other)
    before = _completion(second)
    second.get("/dashboard")
    _record_visit(county, _not_visited(county, OWN))  # through the first app
    assert _completion(second)["visited"] == before["visited"] + 1
    assert _completion(first)["visited"] == before["visited"] + 1
    page = second.get("/dashboard").get_data(as_text=True)
    assert f"{before['visited'] + 1} / {before['households']} 户已入户走访" in page


def test_figures_are_made_once_and_again_after_a_registry_change(county: Flask) -> None:
    store = _store(county)
    query = dashboard.Query(MONTH, township=OWN)
    with county.app_context():
        first = dashboard.completion(store, query)
        assert dashboard.completion(store, query) is first  # nothing changed: kept
    client = _client(county)
    token = csrf_from(client.get("/dashboard/settings").get_data(as_text=True))
    earlier = previous_month(MONTH)  # a whole month: every township above 1%, below 100%
    for target, behind in (("1", False), ("100", True)):
        saved = client.post("/dashboard/settings", data={"csrf_token": token, "target": target})
        assert saved.status_code == 303
        page = client.get(f"/dashboard?month={earlier}").get_data(as_text=True)
        assert ('<tr class="behind">' in page) is behind
    with county.app_context():
        assert dashboard.completion(store, query) is not first


def test_a_months_visits_follow_saves_corrections_and_moves_made_by_another_app(
    app: Flask, store: Store, households: dict[str, Household]
) -> None:
    """What the figures' versions stand on: each engine's reading of a month (kept between
    calls) follows every change made through another store over the same data."""
    seen = _store(_app(Path(app.config["DATA_DIR"])))
    household = households["h1"]
    helper = store.user(household.helpers[0])
    assert helper is not None and seen.visits(MONTH) == []
    version = seen.visits_version(MONTH)
    with app.test_request_context():
        visit, _created = record_visit(store, visit_payload(household, needs=[]), helper)
    assert [v.id for v in seen.visits(MONTH)] == [visit.id]
    assert seen.visits_version(MONTH) != version
    store.save_visit(
        visit,
        lambda existing: dataclasses.replace(existing, notes="补充说明") if existing else None,
        lambda _visit, stored: stored,
    )
    assert [v.notes for v in seen.visits(MONTH)] == ["补充说明"]
    registry = seen.registry_version()

    def move(reg: Registry) -> None:
        reg.households[household.id].village = "王寨村"

    store.update_registry(move)
    assert seen.registry_version() != registry
    assert [(v.id, v.village) for v in seen.visits(MONTH)] == [(visit.id, "王寨村")]
