"""Where a visit was recorded: validation, distance from the household, the household's
location from its first good in-person visit, and the supervisors' flags."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit import config
from fieldvisit.figures import dashboard, targets
from fieldvisit.models import User
from fieldvisit.visits import location as geo
from fieldvisit.visits import recording as visits
from fieldvisit.visits.validation import VisitError

MONTH = date.today().isoformat()[:7]
HOME = {"lat": 32.9871, "lng": 112.5283}


def owner(store) -> User:
    return store.user(PEOPLE["owner"][0])


@pytest.mark.parametrize(
    ("location", "field"),
    [
        ({"lat": 91, "lng": 112}, "location.lat"),
        ({"lat": 32, "lng": -181}, "location.lng"),
        ({"lat": "32", "lng": 112}, "location.lat"),
        ({"lat": True, "lng": 112}, "location.lat"),
        ({"lat": 32, "lng": 112, "accuracy": -1}, "location.accuracy"),
        ([32, 112], "location"),
    ],
)
def test_a_location_out_of_range_is_refused(store, households, location, field):
    payload = visit_payload(households["h1"], location=location)
    with pytest.raises(VisitError) as caught:
        visits.record_visit(store, payload, owner(store))
    assert field in caught.value.errors


def test_without_a_location_the_visit_is_still_stored(client, auth, store, households):
    visit, created = visits.record_visit(
        store, visit_payload(households["h1"], location=None), owner(store)
    )
    assert created and visit.location is None
    auth.login("owner")
    html = client.get(f"/h/{households['h1'].token}").get_data(as_text=True)
    assert "无定位" in html


def test_distance_is_the_great_circle_distance():
    # One thousandth of a degree of latitude is about 111 m.
    north = {"lat": HOME["lat"] + 0.001, "lng": HOME["lng"]}
    assert geo.distance_m(HOME, north) == pytest.approx(111.2, abs=0.5)
    assert geo.distance_m(HOME, None) is None


def test_the_first_good_in_person_visit_places_the_household(store, households):
    hid = households["h1"].id
    rough = {**HOME, "accuracy": 400}
    visits.record_visit(store, visit_payload(households["h1"], location=rough), owner(store))
    assert store.household(hid).location is None  # too rough to place a house
    good = {**HOME, "accuracy": 15}
    visits.record_visit(
        store, visit_payload(households["h1"], id="visit-good-fix-1", location=good), owner(store)
    )
    assert store.household(hid).location == HOME
    later = {"lat": 33.0, "lng": 112.6, "accuracy": 5}
    visits.record_visit(
        store, visit_payload(households["h1"], id="visit-good-fix-2", location=later), owner(store)
    )
    assert store.household(hid).location == HOME  # a later visit never moves it
    assert any(e.action == "household.location" for e in store.audit_log.read_entries(MONTH))


def test_a_phone_call_does_not_place_the_household(store, households):
    payload = visit_payload(households["h1"], kind="phone", location={**HOME, "accuracy": 5})
    visits.record_visit(store, payload, owner(store))
    assert store.household(households["h1"].id).location is None


def test_a_correction_from_the_form_keeps_the_location(client, auth, store, households):
    located = {**HOME, "accuracy": 15}
    visit, _ = visits.record_visit(
        store, visit_payload(households["h1"], location=located), owner(store)
    )
    payload = visit_payload(households["h1"], notes="改过了")
    payload.pop("location", None)
    corrected = visits.correct_visit(store, visit, payload, owner(store))
    assert corrected.notes == "改过了"
    assert corrected.location == located


def test_the_office_sets_a_households_location(client, auth, store, households):
    token = households["h1"].token
    auth.login("admin")
    response = client.post(
        f"/h/{token}/location", data={"lat": "32.5", "lng": "112.25", "csrf_token": auth.csrf()}
    )
    assert response.status_code == 302
    assert store.household(households["h1"].id).location == {"lat": 32.5, "lng": 112.25}
    bad = client.post(
        f"/h/{token}/location", data={"lat": "95", "lng": "112", "csrf_token": auth.csrf()}
    )
    assert bad.status_code == 302
    assert store.household(households["h1"].id).location == {"lat": 32.5, "lng": 112.25}
    auth.login("owner")
    refused = client.post(
        f"/h/{token}/location", data={"lat": "1", "lng": "1", "csrf_token": auth.csrf()}
    )
    assert refused.status_code == 403


def test_the_office_is_told_which_coordinate_is_wrong(client, auth, store, households):
    """Found by a tester: "abc" for the latitude read as both coordinates out of range."""
    token = households["h1"].token
    auth.login("admin")
    form = {"lat": "abc", "lng": "114", "csrf_token": auth.csrf()}
    page = client.post(f"/h/{token}/location", data=form, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "纬度要填数字" in html
    assert "经度应在" not in html and "经度要填数字" not in html  # the longitude was fine
    assert store.household(households["h1"].id).location is None
    form = {"lat": "33,5", "lng": "114", "csrf_token": auth.csrf()}  # a comma, as typed
    client.post(f"/h/{token}/location", data=form)
    assert store.household(households["h1"].id).location == {"lat": 33.5, "lng": 114.0}


def test_each_visit_shows_its_distance_from_the_household(client, auth, store, households):
    visits.place_household(store, households["h1"].id, HOME, "test", only_new=False)
    far = {"lat": HOME["lat"] + 0.01, "lng": HOME["lng"], "accuracy": 10}  # ~1.1 km north
    visits.record_visit(store, visit_payload(households["h1"], location=far), owner(store))
    auth.login("owner")
    html = client.get(f"/h/{households['h1'].token}").get_data(as_text=True)
    assert "距户 1112 米" in html


def test_far_visits_and_missing_evidence_are_flagged_for_supervisors(
    client, auth, app, store, households
):
    visits.place_household(store, households["h1"].id, HOME, "test", only_new=False)
    near = {"lat": HOME["lat"] + 0.001, "lng": HOME["lng"], "accuracy": 10}  # ~111 m
    far = {"lat": HOME["lat"] + 0.01, "lng": HOME["lng"], "accuracy": 10}  # ~1.1 km
    me = owner(store)
    visits.record_visit(
        store, visit_payload(households["h1"], id="visit-near-1", location=near), me
    )
    visits.record_visit(store, visit_payload(households["h1"], id="visit-far-01", location=far), me)
    with app.app_context():
        flags = {f.visit.id: f for f in dashboard.evidence_flags(store, MONTH)}
        # Photos are not required by default: the far visit is flagged for its distance only,
        # and the near one, with its location, has nothing to check.
        assert flags["visit-far-01"].far and not flags["visit-far-01"].no_photo
        assert "visit-near-1" not in flags
        targets.set_targets(store, targets.Targets(photo_required=True), PEOPLE["admin"][0])
        flags = {f.visit.id: f for f in dashboard.evidence_flags(store, MONTH)}
        assert flags["visit-far-01"].far and flags["visit-far-01"].no_photo
        assert not flags["visit-near-1"].far and flags["visit-near-1"].no_photo
        app.config["FAR_METERS"] = 100
        assert all(f.far for f in dashboard.evidence_flags(store, MONTH))  # ~111 m is over 100
    auth.login("supervisor")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "需要核实的走访" in html
    assert "距户 1112 米" in html
    assert "无照片" in html


def test_far_meters_is_read_from_the_environment():
    assert config.from_environment({})["FAR_METERS"] == 500
    assert config.from_environment({"FIELDVISIT_FAR_METERS": "800"})["FAR_METERS"] == 800
    with pytest.raises(config.ConfigError):
        config.from_environment({"FIELDVISIT_FAR_METERS": "far"})
