"""Readable by everyone: axe-core's WCAG 2 A/AA rules find nothing on the helper's pages and
the office's main pages, and the helper's pages stay usable on a phone with the largest text.

One demo township, one server and one headless Chromium for the whole module; a logged-in
browser context per person. The pages keep their strict Content-Security-Policy; only the
test's browser is told to ignore it, so that axe (and the larger text) can be put in."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from helpers import chromium, csrf_from, visit_payload

from fieldvisit import create_app
from fieldvisit.demo import ADMIN, DEMO_PASSWORD, SUPERVISOR, build_demo

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 800}


@dataclass
class Township:
    url: str
    helper: str  # a helper's phone
    token: str  # a household of theirs
    visit_id: str  # their visit of this month, which they may correct
    need_id: str
    village: str  # the smallest village: the dashboard's own page for it stays short


@pytest.fixture(scope="module")
def township(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Township]:
    """A small demo township (one month of visits) served by waitress on a free port."""
    from waitress import create_server

    today = date.today()
    app = create_app(
        {"DATA_DIR": str(tmp_path_factory.mktemp("a11y") / "data"), "SECRET_KEY": "a11y-test"}
    )
    store = app.extensions["fieldvisit.store"]
    with app.app_context():
        info = build_demo(store, months=1, today=today)
    helper = next(phone for role, _name, phone, _pw in info.logins if role == "helper")
    household = next(h for h in store.registry().households.values() if helper in h.helpers)
    # A visit of this month that the helper may correct, recorded as their phone would.
    client = app.test_client()
    login = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"phone": helper, "password": DEMO_PASSWORD, "csrf_token": login})
    csrf = csrf_from(client.get("/password").get_data(as_text=True))
    payload = visit_payload(household, id="a11a0000-0000-4000-8000-000000000001")
    payload["date"] = today.isoformat()
    response = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": csrf})
    assert response.status_code == 201, response.get_data(as_text=True)
    need = store.needs(today.isoformat()[:7])[0]
    sizes: dict[str, int] = {}
    for h in store.registry().households.values():
        sizes[h.village] = sizes.get(h.village, 0) + 1
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield Township(
        url=f"http://127.0.0.1:{server.effective_port}",
        helper=helper,
        token=household.token,
        visit_id=payload["id"],
        need_id=need.id,
        village=min(sizes, key=lambda v: (sizes[v], v)),
    )
    server.close()
    thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _phone_of(township: Township, who: str) -> str:
    return {"helper": township.helper, "admin": ADMIN[0], "supervisor": SUPERVISOR[0]}[who]


def _context(browser: Any, township: Township, who: str | None, **options: Any) -> tuple[Any, Any]:
    """A browser context (logged in as ``who`` unless None) that lets axe be injected, and
    its tab: the one that logged in, kept for the pages to check (a new tab costs a new
    renderer and axe compiled into it again, about 0.4 s)."""
    context = browser.new_context(bypass_csp=True, service_workers="block", **options)
    # axe-core comes with every page of the context, compiled once by the browser, rather
    # than sent to each page after it loaded.
    context.add_init_script(_axe().axe_script)
    page = context.new_page()
    if who is not None:
        page.goto(f"{township.url}/login")
        page.fill("#phone", _phone_of(township, who))
        page.fill("#password", DEMO_PASSWORD)
        page.click("form.card button[type=submit]")
        page.wait_for_url(f"{township.url}/")
    return context, page


@pytest.fixture(scope="module")
def contexts(browser: Any, township: Township) -> Iterator[dict[str, Any]]:
    made: dict[str, Any] = {}
    pages: dict[str, Any] = {}

    def get(who: str) -> Any:
        if who not in made:
            # Helpers and supervisors use phones; the township office a desk.
            viewport = DESK if who == "admin" else PHONE
            made[who], pages[who] = _context(
                browser, township, None if who == "nobody" else who, viewport=viewport
            )
        return made[who]

    def page(who: str) -> Any:
        # One tab per role, taken from page to page: each page is a fresh document anyway.
        context = get(who)
        if pages[who].is_closed():
            pages[who] = context.new_page()
        return pages[who]

    yield {"get": get, "page": page}
    for context in made.values():
        context.close()


@functools.cache
def _axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def _violations(page: Any) -> list[dict[str, Any]]:
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    args = _axe()._format_script_args(context=None, options=options)
    return list(page.evaluate(f"axe.run({args})")["violations"])


def _report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {', '.join(map(str, node['target']))}")
            lines.append(f"        {node.get('failureSummary', '').replace(chr(10), ' / ')}")
    return "\n".join(lines)


# (who, path): {token}, {visit}, {need}, {helper} and {village} are filled in from the
# township. Long lists are checked for one village: the same pages as the whole township's,
# with tens of rows instead of hundreds (axe's time grows with the rows; it takes minutes
# over ten thousand).
PAGES = [
    ("nobody", "/login"),
    ("helper", "/"),
    ("helper", "/h/{token}"),
    ("helper", "/h/{token}/visit"),
    ("helper", "/h/{token}/visits/{visit}/edit"),
    ("helper", "/queue"),
    ("helper", "/password"),
    ("admin", "/"),
    ("admin", "/office/households?village={village}"),
    ("admin", "/office/helpers"),
    ("admin", "/office/helpers/{helper}"),
    ("admin", "/dashboard?village={village}"),
    ("admin", "/needs?village={village}"),
    ("admin", "/needs/{need}"),
    ("admin", "/reports"),
    ("admin", "/office/registry"),
    ("admin", "/office/import"),
    ("admin", "/office/export"),
    ("admin", "/dashboard/settings"),
    ("admin", "/office/plates"),
    ("admin", "/office/audit"),
    ("admin", "/h/{token}"),
    ("admin", "/h/{token}/visit"),
    ("supervisor", "/"),
    ("supervisor", "/dashboard?village={village}"),
    ("supervisor", "/h/{token}"),
    ("supervisor", "/needs?village={village}"),
    ("supervisor", "/office/audit"),
    ("supervisor", "/reports"),
]


def _url(township: Township, path: str) -> str:
    return township.url + path.format(
        token=township.token,
        visit=township.visit_id,
        need=township.need_id,
        helper=township.helper,
        village=township.village,
    )


@pytest.mark.parametrize(("who", "path"), PAGES, ids=[f"{w}:{p}" for w, p in PAGES])
def test_axe_finds_nothing(contexts: dict[str, Any], township: Township, who: str, path: str):
    page = contexts["page"](who)
    response = page.goto(_url(township, path))
    assert response is not None and response.status == 200, path
    page.wait_for_load_state("load")
    violations = _violations(page)
    assert not violations, f"{path} as {who}:\n{_report(violations)}"


def test_axe_finds_nothing_in_english(browser: Any, township: Township):
    context, page = _context(browser, township, "helper", viewport=PHONE)
    page.goto(f"{township.url}/lang/en?next=/h/{township.token}/visit")
    page.wait_for_url(f"**/h/{township.token}/visit")
    assert page.get_attribute("html", "lang") == "en"
    violations = _violations(page)
    context.close()
    assert not violations, _report(violations)


# --- the charts' text alternative ---------------------------------------------------------------


def test_each_chart_is_one_picture_named_by_what_it_shows():
    import xml.etree.ElementTree as ET

    from fieldvisit.documents.charts import Bar, bar_chart, line_chart

    svg = "{http://www.w3.org/2000/svg}"
    bars = [
        Bar("聂河村", 0.5, "24/48 50.0%", below_target=True),
        Bar("王寨<村>", 1.0, "40/40 100%"),
    ]
    for root, summary in [
        (
            bar_chart(bars, label="各村完成率"),
            "各村完成率: 聂河村 24/48 50.0%; 王寨<村> 40/40 100%",
        ),
        (bar_chart(bars[:1], title="标题"), "标题: 聂河村 24/48 50.0%"),
        (line_chart([("11", 0.9), ("12", 0.25)], label="近 12 个月"), "近 12 个月: 11 90%; 12 25%"),
    ]:
        tree = ET.fromstring(root)
        assert tree.get("role") == "img"
        assert tree.get("aria-label") == summary
        assert tree[0].tag == f"{svg}title" and tree[0].text == summary
    # Nothing to say, nothing said: no empty name.
    assert "aria-label" not in line_chart([]) and "<title>" not in line_chart([])


# --- the largest text on a phone -------------------------------------------------------------

# A phone's largest font setting doubles the text: the root size that the app's rem-based
# sizes follow (the way the browser's own font-size setting reaches a page).
LARGEST_TEXT = "html { font-size: 200% !important; }"
HELPER_PAGES = [
    "/",
    "/h/{token}",
    "/h/{token}/visit",
    "/h/{token}/visits/{visit}/edit",
    "/queue",
    "/password",
]
NO_OVERFLOW = "document.scrollingElement.scrollWidth <= window.innerWidth + 1"


def test_the_helpers_pages_stay_usable_with_the_largest_text(browser: Any, township: Township):
    context, page = _context(browser, township, "helper", viewport=PHONE)
    body_size = None
    for path in HELPER_PAGES:
        page.goto(_url(township, path))
        body_size = body_size or page.evaluate(
            "parseFloat(getComputedStyle(document.body).fontSize)"
        )
        page.add_style_tag(content=LARGEST_TEXT)
        # The text did grow: the page's sizes follow the reader's font size, not fixed pixels.
        grown = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert grown >= 2 * body_size - 0.5, (path, body_size, grown)
        assert page.evaluate(NO_OVERFLOW), (
            path,
            page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]"),
        )
    # The visit form can still be filled in and saved: its save button is on the screen,
    # whole, and nothing covers it.
    page.goto(_url(township, "/h/{token}/visit"))
    page.add_style_tag(content=LARGEST_TEXT)
    save = page.locator("form.visit button[data-once]")
    save.scroll_into_view_if_needed()
    box = save.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"] + 1, box
    on_top = page.evaluate(
        """([x, y]) => {
            const hit = document.elementFromPoint(x, y);
            return !!hit && !!hit.closest('form.visit button[data-once]');
        }""",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert on_top
    save.focus()
    assert page.evaluate("document.activeElement.matches('form.visit button[data-once]')")
    context.close()
