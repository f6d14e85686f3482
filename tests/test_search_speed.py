"""Searching a county: the index finds exactly what testing every name by the search's rule
finds, without testing names one by one; the office's list keeps to the account's township
and tells a county's villages of the same name apart. (Timings are in bench/bench_county.py:
this machine's load makes them no test.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldvisit import create_app
from fieldvisit.collation import in_household_order, name_key
from fieldvisit.demo.township import ADMIN, DEMO_PASSWORD
from fieldvisit.households import search
from fieldvisit.models import Household, User
from fieldvisit.storage import Registry, Store
from tests.helpers import csrf_from


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Store]]:
    """Two demo townships (1,352 households, the same villages in each)."""
    from fieldvisit.demo.county import build_county

    folder: Path = tmp_path_factory.mktemp("county")
    app = create_app({"TESTING": True, "DATA_DIR": str(folder / "data"), "SECRET_KEY": "x"})
    store = app.extensions["fieldvisit.store"]
    with app.app_context():
        build_county(store, 2, months=1)
    yield app, store
    store.close()


def _best(*ranks: int | None) -> int | None:
    found = [r for r in ranks if r is not None]
    return min(found) if found else None


def _one_by_one(rows: list[Any], query: str, rank: Any) -> list[Any]:
    """The search's rule applied to every row in turn, as it was before the index."""
    terms = search._terms(query)
    scored = []
    for order, row in enumerate(rows):
        ranks = [rank(term, row) for term in terms]
        if all(r is not None for r in ranks):
            scored.append((sum(r for r in ranks if r is not None), order, row))
    scored.sort(key=lambda item: item[:2])
    return [row for *_key, row in scored] if terms else rows


def _household_rank(term: str, h: Household) -> int | None:
    name = search.name_rank(term, search.name_readings(h.head), search.normalize(h.head))
    where = search.name_rank(term, search.readings(h.village), search.normalize(h.village))
    digits = (search._digits_rank(term, h.id), search._digits_rank(term, h.phone))
    return _best(name, *digits, None if where is None else 3)


def _helper_rank(term: str, u: User) -> int | None:
    unit = search.normalize(u.unit)
    where = search.name_rank(term, search.readings(u.unit), unit) if unit else None
    name = search.name_rank(term, search.name_readings(u.name), search.normalize(u.name))
    return _best(name, search._digits_rank(term, u.phone), None if where is None else 3)


def _queries(reg: Registry) -> list[str]:
    queries = ["w", "wjg", "王", "zh", "zhang", "lv", "lu", "zeng", "cun", "4117", "0001"]
    queries += ["wang jg", "王 聂河", "nhc", "shan", "x y", "13", "ü"]
    for h in list(reg.households.values())[::193]:  # seven households, across both townships
        initials = search.initials(h.head)
        queries += [initials, initials[1:], h.head, h.head[1:], h.id[-4:], h.phone[3:7]]
        queries.append(f"{search.initials(h.village)} {initials[:2]}")
    return queries


def test_the_index_finds_what_testing_every_name_finds(county: tuple[Flask, Store]) -> None:
    reg = county[1].registry()
    households = in_household_order(reg.households.values())
    helpers = sorted(
        (u for u in reg.users.values() if u.role == "helper"),
        key=lambda u: (name_key(u.name), u.phone),
    )
    for query in _queries(reg):
        expected = _one_by_one(households, query, _household_rank)
        assert search.search_households(reg, query) == expected, query
        assert search.search_helpers(reg, query) == _one_by_one(helpers, query, _helper_rank)


def test_a_search_tests_no_name_one_by_one(
    county: tuple[Flask, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = county[1].registry()

    def refuse(*_args: Any) -> None:
        raise AssertionError("a name tested one by one")

    monkeypatch.setattr(search, "name_rank", refuse)
    monkeypatch.setattr(search, "_spelled_from", refuse)
    found = search.search_households(reg, "wjg")
    assert found and all(search.initials(h.head).find("wjg") >= 0 for h in found[:3])


def _login(client: FlaskClient, phone: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    data = {"phone": phone, "password": DEMO_PASSWORD, "csrf_token": csrf_from(page)}
    assert client.post("/login", data=data).status_code == 302


def _total(page: str) -> int:
    found = re.search(r"共 (\d+) 户", page)
    assert found is not None
    return int(found.group(1))


def test_the_list_keeps_to_the_township_and_tells_villages_apart(
    county: tuple[Flask, Store],
) -> None:
    app, store = county
    reg = store.registry()
    first = min(h.township for h in reg.households.values())
    office = next(u for u in reg.users.values() if u.role == "admin" and u.township == first)
    some = next(h for h in reg.households.values() if h.township == first)
    client = app.test_client()
    _login(client, ADMIN[0])
    village = client.get("/office/households", query_string={"village": some.village_key})
    same = [h for h in reg.households.values() if h.village_key == some.village_key]
    assert _total(village.get_data(as_text=True)) == len(same)
    everywhere = client.get("/office/households", query_string={"q": search.initials(some.head)})
    found = search.search_households(reg, search.initials(some.head))
    assert _total(everywhere.get_data(as_text=True)) == len(found)
    own = app.test_client()
    _login(own, office.phone)
    mine = own.get("/office/households", query_string={"q": search.initials(some.head)})
    expected = [h for h in found if h.township == first]
    assert _total(mine.get_data(as_text=True)) == len(expected) < len(found)
