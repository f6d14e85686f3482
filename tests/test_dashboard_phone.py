"""The dashboard as a supervisor uses it, on a phone: how far along, which helpers are behind
and which households are not visited within two screens; wide tables that keep the name in
view; visits to check counted per helper; the township's completion target, the same on the
page and in the monthly PDF; home-page counts that lead to their lists.

The layout is measured in Debian's Chromium (one browser and one demo server for the module);
the rest goes through the test client."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from helpers import PEOPLE, chromium, make_household, visit_payload

from fieldvisit import create_app
from fieldvisit.demo import DEMO_PASSWORD, SUPERVISOR, build_demo
from fieldvisit.documents.monthly import build_monthly_report, monthly_report_html
from fieldvisit.figures.dashboard import evidence_by_helper, evidence_flags
from fieldvisit.figures.targets import Targets, set_targets, targets
from fieldvisit.models import Household
from fieldvisit.storage import Store
from fieldvisit.visits.recording import record_visit

PHONE = {"width": 360, "height": 740}
TWO_SCREENS = 2 * PHONE["height"]
TODAY = date.today()
MONTH = TODAY.isoformat()[:7]
HERE = {"lat": 31.0, "lng": 114.0}
FAR = {"lat": 31.1, "lng": 114.0}  # about 11 km north


# --- in Chromium, on a phone ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole demo township (hundreds of households and helpers) served on a free port."""
    from waitress import create_server

    app = create_app(
        {"DATA_DIR": str(tmp_path_factory.mktemp("phone") / "data"), "SECRET_KEY": "phone-test"}
    )
    with app.app_context():
        build_demo(app.extensions["fieldvisit.store"], months=1, today=TODAY)
    served = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{served.effective_port}"
    served.close()
    thread.join(5)


@pytest.fixture(scope="module")
def phone(server: str) -> Iterator[Any]:
    """A supervisor's phone, logged in, on the whole township's dashboard."""
    with chromium() as browser:
        context = browser.new_context(viewport=PHONE, service_workers="block")
        page = context.new_page()
        page.goto(f"{server}/login")
        page.fill("#phone", SUPERVISOR[0])
        page.fill("#password", DEMO_PASSWORD)
        page.click("form.card button[type=submit]")
        page.wait_for_url(f"{server}/")
        page.goto(f"{server}/dashboard")
        yield page
        context.close()


def _top(page: Any, selector: str) -> float:
    """Where ``selector`` starts, in CSS pixels from the top of the page."""
    top = page.evaluate(
        "(s) => { const e = document.querySelector(s);"
        " return e ? e.getBoundingClientRect().top + window.scrollY : null; }",
        selector,
    )
    assert top is not None, selector
    return float(top)


def test_the_three_answers_come_within_two_screens(phone: Any):
    page = phone
    page.evaluate("window.scrollTo(0, 0)")
    # The demo township has helpers behind and households not visited: the lists are long.
    assert page.locator("#helpers tr.behind").count() > 20
    assert page.locator("#not-visited tbody tr").count() > 50
    assert _top(page, "#headline") < PHONE["height"]
    assert _top(page, "#helpers tr.behind a[href^='tel:']") < TWO_SCREENS
    assert _top(page, "#not-visited h2") < TWO_SCREENS
    # Everything else is one jump away from the top of the page.
    targets_ = page.eval_on_selector_all(
        "nav.toc a[href^='#']", "links => links.map(a => a.getAttribute('href'))"
    )
    assert {"#villages", "#evidence", "#trend", "#environment"} <= set(targets_)
    for anchor in targets_:
        assert page.locator(anchor).count() == 1, anchor
    assert _top(page, "nav.toc") < PHONE["height"]


def test_the_not_visited_list_shows_village_and_group_on_a_phone(phone: Any):
    page = phone
    page.locator("#not-contacted").scroll_into_view_if_needed()
    row = page.locator("#not-visited table.not-visited tbody tr").first
    for cell in ("td.village", "td.group"):
        located = row.locator(cell)
        assert located.is_visible(), cell
        assert located.inner_text().strip(), cell
        box = located.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (cell, box)


def test_the_first_column_stays_when_a_table_scrolls_sideways(phone: Any):
    page = phone
    box = page.locator("#helpers .scroll")
    box.scroll_into_view_if_needed()
    first = page.locator("#helpers tbody tr").first.locator("td").first
    name = first.inner_text().strip()
    before = first.bounding_box()
    scrolled = box.evaluate("b => { b.scrollLeft = b.scrollWidth; return b.scrollLeft; }")
    assert scrolled > 50  # the table is wider than the phone
    after = first.bounding_box()
    assert before is not None and after is not None
    # (a behind row's left border, collapsed with the cell's, may shift it a pixel or two)
    assert abs(after["x"] - before["x"]) < 3, (before, after)
    # Nothing scrolls over the name: the cell under its middle is the name's own.
    hit = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('td')?.innerText.trim()",
        [after["x"] + min(after["width"], 40) / 2, after["y"] + after["height"] / 2],
    )
    assert hit == name
    box.evaluate("b => { b.scrollLeft = 0; }")


# --- what a supervisor should check ----------------------------------------------------------


def record(
    store: Store, household: Household, helper: str, kind: str = "in_person", **changes: Any
) -> None:
    payload = visit_payload(household, id=str(uuid.uuid4()), kind=kind, helper=helper, **changes)
    if kind != "in_person":
        payload.update(guarantees={}, environment={}, needs=[])
    record_visit(store, payload, store.user(PEOPLE["admin"][0]), TODAY)


def locate(store: Store, household: Household) -> Household:
    def change(reg: Any) -> None:
        reg.households[household.id].location = HERE

    store.update_registry(change)
    return store.registry().households[household.id]


@pytest.fixture()
def visits(store: Store, households: dict[str, Household]) -> dict[str, Household]:
    """The owner: a visit located far from the household, and one without a location; the
    other helper: one visit, without a location (their phone never gives one). No photos."""
    owner, other = PEOPLE["owner"][0], PEOPLE["other"][0]
    h1 = locate(store, households["h1"])
    h2 = locate(store, households["h2"])
    record(store, h1, owner, location=FAR)
    record(store, h1, owner)
    record(store, h2, other)
    return {"h1": h1, "h2": h2}


def test_only_what_is_worth_a_call_is_flagged(store, visits):
    flags = evidence_flags(store, MONTH, photo_required=False)
    kinds = sorted((f.visit.helper, f.far, f.no_location, f.no_photo) for f in flags)
    owner = PEOPLE["owner"][0]
    # The owner's phone gave a location once, so their visit without one is worth a look;
    # the other helper's phone never did, and no photo is asked for: nothing of theirs.
    assert kinds == [(owner, False, True, False), (owner, True, False, False)]
    # With photos required every in-person visit without one is added.
    assert sum(f.no_photo for f in evidence_flags(store, MONTH, photo_required=True)) == 3


def test_flags_are_counted_per_helper(store, visits):
    set_targets(store, Targets(photo_required=True), actor=PEOPLE["admin"][0])
    rows = evidence_by_helper(evidence_flags(store, MONTH))
    assert [r.phone for r in rows] == [PEOPLE["owner"][0], PEOPLE["other"][0]]
    owner, other = rows
    assert (owner.far, owner.no_location, owner.no_photo, len(owner.flags)) == (1, 1, 2, 2)
    assert (other.far, other.no_location, other.no_photo, len(other.flags)) == (0, 0, 1, 1)


def test_the_page_shows_one_row_per_helper_with_the_visits_folded(client, auth, store, visits):
    auth.login("supervisor")
    html = client.get("/dashboard").get_data(as_text=True)
    evidence = html[html.index('<section id="evidence"') : html.index('<section id="trend"')]
    assert evidence.count("<tr>") == 2  # the header and the owner's row
    assert evidence.count("<details>") == 1 and "2 次走访" in evidence
    assert f'href="tel:{PEOPLE["owner"][0]}"' in evidence
    assert "无照片" not in evidence  # photos are not required by default
    set_targets(store, Targets(photo_required=True), actor=PEOPLE["admin"][0])
    html = client.get("/dashboard").get_data(as_text=True)
    evidence = html[html.index('<section id="evidence"') : html.index('<section id="trend"')]
    assert evidence.count("<tr>") == 3 and "无照片" in evidence


# --- the township's rules, changed by the office ------------------------------------------------


def test_the_office_sets_the_target_and_photos_and_it_is_audited(client, auth, store, households):
    assert targets(store) == Targets(100, False)
    auth.login("supervisor")
    assert client.get("/dashboard/settings").status_code == 403
    auth.login("admin")
    assert "/dashboard/settings" in client.get("/dashboard").get_data(as_text=True)
    page = client.get("/dashboard/settings")
    assert page.status_code == 200 and 'value="100"' in page.get_data(as_text=True)
    bad = client.post("/dashboard/settings", data={"target": "120", "csrf_token": auth.csrf()})
    assert bad.status_code == 400 and "1 到 100" in bad.get_data(as_text=True)
    saved = client.post(
        "/dashboard/settings",
        data={"target": "90", "photo_required": "1", "csrf_token": auth.csrf()},
    )
    assert saved.status_code == 303
    assert targets(store) == Targets(90, True)
    (entry,) = [e for e in store.audit_log.read_entries(MONTH) if e.action == "settings.targets"]
    assert entry.who == PEOPLE["admin"][0]
    assert entry.before == {"completion_target": 100, "photo_required": False}
    assert entry.after == {"completion_target": 90, "photo_required": True}
    # The office reads it in words, under its own kind.
    log = client.get("/office/audit?kind=settings.").get_data(as_text=True)
    assert "设置完成率目标和拍照要求" in log and "完成率目标" in log and "全镇" in log
    assert "settings.targets" not in log and "completion_target" not in log


def _add(store: Store, **fields: Any) -> Household:
    household = make_household(**fields)
    store.update_registry(lambda reg: reg.households.update({household.id: household}))
    return household


def test_unfinished_means_below_the_target_on_the_page_and_in_the_pdf(
    app, client, auth, store, households
):
    # 聂河村: 2 of 3 visited (66.7%); 王寨村: 0 of 1.
    _add(store, id="4117210010003", head="陈三", helpers=[PEOPLE["owner"][0]])
    record(store, households["h1"], PEOPLE["owner"][0])
    record(store, store.registry().households["4117210010003"], PEOPLE["owner"][0])
    set_targets(store, Targets(60), actor=PEOPLE["admin"][0])
    auth.login("supervisor")
    html = client.get("/dashboard").get_data(as_text=True)
    villages = html[html.index('<section id="villages"') : html.index('<section id="evidence"')]
    assert villages.count('urgent">▲') == 1 and villages.count('fill="url(#hatch)"') == 1
    row = villages[villages.index(">王寨村<") :]
    assert row.index("▲") < row.index("</tr>")
    assert "完成率低于目标 60%" in villages
    with app.app_context():
        report = build_monthly_report(store, MONTH, today=TODAY)
        marks = {
            r.village: report.targets.below(r.visited, r.households) for r in report.completion
        }
        assert marks == {"王寨村": True, "聂河村": False}
        assert str(report.chart).count('fill="url(#hatch)"') == 1
        text = monthly_report_html(report)
    assert text.count("▲未完成") == 2  # 王寨村, and the legend
    assert "完成率未达目标 60%" in text


# --- the home page ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_the_home_counts_lead_to_their_lists(client, auth, households, who):
    auth.login(who)
    html = client.get("/").get_data(as_text=True)
    counts = html[html.index('class="figures counts"') :]
    for href in (
        'href="/office/households"',
        'href="/office/helpers?active=active"',
        'href="/office/households?state=visited"',
        'href="/office/households?state=attempted"',
        'href="/dashboard#not-contacted"',
    ):
        assert href in counts, href
        assert client.get(href[6:-1].split("#")[0]).status_code == 200
    assert 'id="not-contacted"' in client.get("/dashboard").get_data(as_text=True)
