"""A county on one server: a township's office reaches only its own township's households,
the county's office every township; villages repeating their names stay apart."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldvisit.models import User, Village, village_key
from fieldvisit.storage import Registry, Store
from fieldvisit.storage.paths import village_file_name
from tests.helpers import PASSWORD, csrf_from, make_household, visit_payload

OWN, OTHER = "城关镇", "河口镇"
COUNTY_ADMIN = "13600000009"
TOWNSHIP_ADMIN = "13600000008"
HELPER = "13900000001"


@pytest.fixture()
def county(store: Store) -> dict[str, str]:
    """王庄村 in two townships, one household each; a county admin and a township admin."""
    from fieldvisit.access.passwords import hash_password

    own = make_household(id="4100000010001", village="王庄村", township=OWN, head="马娟")
    other = make_household(
        id="4100000020001", village="王庄村", township=OTHER, head="梁刚", helpers=[HELPER]
    )

    def fill(reg: Registry) -> None:
        digest = hash_password(PASSWORD)
        reg.users[COUNTY_ADMIN] = User(COUNTY_ADMIN, "县办", "admin", digest)
        reg.users[TOWNSHIP_ADMIN] = User(TOWNSHIP_ADMIN, "镇办", "admin", digest, township=OWN)
        reg.users[HELPER] = User(HELPER, "张帮扶", "helper", digest)
        for h in (own, other):
            reg.households[h.id] = h
            reg.villages[h.village_key] = Village(h.village, township=h.township)

    store.update_registry(fill)
    return {"own": own.id, "other": other.id, "other_token": other.token}


def _login(client: FlaskClient, phone: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"phone": phone, "password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302


def test_a_village_is_its_township_and_name_and_has_its_own_file() -> None:
    assert village_key("", "王庄村") == "王庄村"  # a single township's data stays as it was
    assert village_key(OWN, "王庄村") != village_key(OTHER, "王庄村")
    names = {village_file_name(village_key(t, "王庄村")) for t in (OWN, OTHER, "")}
    assert len(names) == 3


def test_a_township_office_cannot_read_or_change_another_township(
    client: FlaskClient, store: Store, county: dict[str, str]
) -> None:
    _login(client, TOWNSHIP_ADMIN)
    listing = client.get("/office/households").get_data(as_text=True)
    assert "马娟" in listing and "梁刚" not in listing
    assert client.get(f"/h/{county['other_token']}").status_code == 404
    assert client.get(f"/office/households/{county['other']}/edit").status_code == 404
    csrf = csrf_from(client.get(f"/office/households/{county['own']}/edit").get_data(True))
    changed = client.post(
        f"/office/households/{county['other']}/edit",
        data={"csrf_token": csrf, "head": "改名"},
    )
    assert changed.status_code == 404
    stored = store.household(county["other"])
    assert stored is not None and stored.head == "梁刚"
    export = client.get("/office/export-registry.csv").get_data(as_text=True)
    assert "马娟" in export and "梁刚" not in export
    api = client.get("/api/v1/households").get_json()
    assert [h["id"] for h in api] == [county["own"]]
    figures = client.get(f"/api/v1/completion?month={date.today():%Y-%m}").get_json()
    assert figures["households"] == 1
    assert [t["township"] for t in figures["by_township"]] == [OWN]
    assert [h["id"] for h in figures["not_visited"]] == [county["own"]]
    dashboard = client.get(f"/dashboard?township={OTHER}").get_data(as_text=True)
    assert "梁刚" not in dashboard


def test_the_county_office_sees_every_township_and_both_villages_of_one_name(
    client: FlaskClient, store: Store, county: dict[str, str]
) -> None:
    _login(client, HELPER)
    token = csrf_from(client.get(f"/h/{county['other_token']}/visit").get_data(as_text=True))
    payload = visit_payload(store.household(county["other"]), needs=[])
    sent = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": token})
    assert sent.status_code == 201, sent.get_json()
    client.get("/logout")
    _login(client, COUNTY_ADMIN)
    listing = client.get("/office/households").get_data(as_text=True)
    assert "马娟" in listing and "梁刚" in listing
    figures = client.get(f"/api/v1/completion?month={date.today():%Y-%m}").get_json()
    assert figures["households"] == 2 and figures["visited"] == 1
    assert sorted(t["township"] for t in figures["by_township"]) == sorted([OWN, OTHER])
    villages = {(v["township"], v["village"]): v["visited"] for v in figures["by_village"]}
    assert villages == {(OWN, "王庄村"): 0, (OTHER, "王庄村"): 1}
    # The visit is filed under its township's 王庄村, not the other's.
    month = date.today().strftime("%Y-%m")
    assert [v.household for v in store.visits(month, village_key(OTHER, "王庄村"))] == [
        county["other"]
    ]
    assert store.visits(month, village_key(OWN, "王庄村")) == []
    one = client.get(f"/api/v1/completion?month={month}&township={OTHER}").get_json()
    assert one["households"] == 1
    board = client.get("/dashboard").get_data(as_text=True)
    assert "各乡镇完成情况" in board and "township=%E6%B2%B3%E5%8F%A3%E9%95%87" in board
    drilled = client.get(f"/dashboard?township={OTHER}").get_data(as_text=True)
    assert "梁刚" not in drilled and "各村完成情况" in drilled  # visited: not listed


def test_create_user_takes_a_township(runner, store: Store, county: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        args=["create-user", "--role", "supervisor", "--name", "督查", "--phone", "13700000009",
              "--township", OTHER]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    user = store.user("13700000009")
    assert user is not None and user.township == OTHER
    unknown = runner.invoke(
        args=["create-user", "--role", "admin", "--name", "x", "--phone", "13700000008",
              "--township", "无此镇"]
    )  # fmt: skip
    assert unknown.exit_code != 0


def test_the_demo_county_repeats_the_township_with_distinct_ids_and_phones(blank: Store) -> None:
    from fieldvisit.demo.county import build_county

    info = build_county(blank, townships=2, months=1, today=date(2026, 11, 20))
    reg = blank.registry()
    assert info.households == len(reg.households) == 2 * 676
    assert {h.township for h in reg.households.values()} == {"城关镇", "河口镇"}
    assert len({(v.township, v.name) for v in reg.villages.values()}) == 2 * 14
    helpers = [u for u in reg.users.values() if u.role == "helper"]
    assert len(helpers) == 2 * 357
    assert info.visits > 0
    # Every visit lies in its own township's village file.
    visits = blank.visits("2026-11")
    assert all(v.village == reg.households[v.household].village_key for v in visits)


def test_monthly_report_of_one_township(runner, tmp_path, county: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "one.pdf"
    month = f"{date.today():%Y-%m}"
    args = ["monthly-report", "--month", month, "--out", str(out), "--township", OTHER]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    unknown = runner.invoke(args=[*args[:-1], "无此镇"])
    assert unknown.exit_code != 0 and "无此镇" in unknown.output


def test_a_township_office_does_not_see_another_townships_needs(
    client: FlaskClient, store: Store, county: dict[str, str]
) -> None:
    _login(client, HELPER)
    token = csrf_from(client.get(f"/h/{county['other_token']}/visit").get_data(as_text=True))
    payload = visit_payload(store.household(county["other"]))
    assert (
        client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": token}).status_code
        == 201
    )
    client.get("/logout")
    (need,) = store.needs(f"{date.today():%Y-%m}")
    _login(client, TOWNSHIP_ADMIN)
    assert "慢性病用药报销" not in client.get("/needs").get_data(as_text=True)
    assert client.get(f"/api/v1/visits?month={date.today():%Y-%m}").get_json() == []
    assert client.get(f"/needs/{need.id}").status_code == 404
    client.get("/logout")
    _login(client, COUNTY_ADMIN)
    assert "慢性病用药报销" in client.get("/needs").get_data(as_text=True)
    assert client.get(f"/needs/{need.id}").status_code == 200


def test_a_township_office_reads_only_its_own_township_in_the_audit_log(
    client: FlaskClient, store: Store, county: dict[str, str]
) -> None:
    from fieldvisit.clock import now_iso
    from fieldvisit.models import AuditEntry

    def touch(reg: Registry) -> None:
        for hid in (county["own"], county["other"]):
            reg.households[hid].long_absent = True

    def entries(_result: None) -> list[AuditEntry]:
        return [
            AuditEntry(now_iso(), COUNTY_ADMIN, "household.edit", hid, {"long_absent": "否"},
                       {"long_absent": "是"})
            for hid in (county["own"], county["other"])
        ]  # fmt: skip

    store.update_registry(touch, entries)
    _login(client, TOWNSHIP_ADMIN)
    page = client.get("/office/audit").get_data(as_text=True)
    assert county["own"] in page and county["other"] not in page and "梁刚" not in page
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/password").get_data(True))})
    _login(client, COUNTY_ADMIN)
    page = client.get("/office/audit").get_data(as_text=True)
    assert county["own"] in page and county["other"] in page


def test_a_need_names_its_village_as_people_read_it(
    client: FlaskClient, store: Store, county: dict[str, str]
) -> None:
    _login(client, HELPER)
    token = csrf_from(client.get(f"/h/{county['other_token']}/visit").get_data(as_text=True))
    need = {"category": "medical", "description": "慢性病用药报销", "urgent": False}
    payload = visit_payload(store.household(county["other"]), needs=[need])
    sent = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": token})
    assert sent.status_code == 201, sent.get_json()
    client.get("/logout")
    _login(client, COUNTY_ADMIN)
    ledger = client.get("/needs").get_data(as_text=True)
    # Shown as read; the key is only the filter's value.
    assert f"<td>{OTHER} 王庄村" in ledger
    assert ledger.count(f"{OTHER}/王庄村") == ledger.count(f'value="{OTHER}/王庄村"')
    export = client.get("/needs/export.xlsx")
    assert export.status_code == 200
    from io import BytesIO

    import openpyxl

    sheet = openpyxl.load_workbook(BytesIO(export.data)).active
    cells = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
    assert f"{OTHER} 王庄村" in cells and f"{OTHER}/王庄村" not in cells


def test_the_plates_to_reprint_are_listed_within_the_township(
    client: FlaskClient, store: Store, county: dict[str, str]
) -> None:
    from fieldvisit.documents.plate_records import SETTING

    def printed_with_another_helper(reg: Registry) -> None:
        reg.settings[SETTING] = {county["own"]: ["13900000077"], county["other"]: ["13900000077"]}

    store.update_registry(printed_with_another_helper)
    _login(client, TOWNSHIP_ADMIN)
    page = client.get("/office/plates").get_data(as_text=True)
    assert "马娟" in page and "梁刚" not in page
    client.get("/logout")
    _login(client, COUNTY_ADMIN)
    page = client.get("/office/plates").get_data(as_text=True)
    assert "马娟" in page and "梁刚" in page


# What holds for every township: only an office without a township changes it.
DEPLOYMENT_SETTINGS = [
    ("/dashboard/settings", {"target": "80"}, "/dashboard/settings"),
    ("/office/reconcile/settings", {"days": "9"}, "/office/reconcile"),
    ("/office/plates/address", {"address": "http://192.168.1.10:5000"}, "/office/plates"),
]


@pytest.fixture()
def no_base_url(app: Flask) -> None:
    """The plates' address comes from the page, not the server's configuration."""
    app.config["BASE_URL"] = None


@pytest.mark.parametrize(("url", "form", "page"), DEPLOYMENT_SETTINGS)
def test_a_township_office_cannot_change_what_holds_for_the_county(
    client: FlaskClient,
    store: Store,
    county: dict[str, str],
    no_base_url: None,
    url: str,
    form: dict,
    page: str,
) -> None:
    _login(client, TOWNSHIP_ADMIN)
    settings_before = dict(store.registry().settings)
    shown = client.get(page)
    assert shown.status_code == 200
    text = shown.get_data(as_text=True)
    assert f'action="{url}"' not in text  # no form for it on its page
    assert "这些设置全县统一，由县里的管理员修改。" in text
    refused = client.post(url, data={**form, "csrf_token": csrf_from(text)})
    assert refused.status_code == 403
    assert dict(store.registry().settings) == settings_before


@pytest.mark.parametrize(("url", "form", "page"), DEPLOYMENT_SETTINGS)
def test_the_county_office_changes_what_holds_for_the_county(
    client: FlaskClient,
    store: Store,
    county: dict[str, str],
    no_base_url: None,
    url: str,
    form: dict,
    page: str,
) -> None:
    _login(client, COUNTY_ADMIN)
    text = client.get(page).get_data(as_text=True)
    assert f'action="{url}"' in text
    done = client.post(url, data={**form, "csrf_token": csrf_from(text)})
    assert done.status_code == 303
    assert dict(store.registry().settings) != {}
