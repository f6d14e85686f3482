"""Recording visits with no connection: the service worker, the CSRF endpoint, the queue
sent days later, compressed assets, and the issue's test in a real headless Chromium."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers import PASSWORD, PEOPLE, Auth, chromium, seed, visit_payload

from fieldvisit import create_app
from fieldvisit.models import Household
from fieldvisit.storage import Store
from fieldvisit.vocab import DEFAULT_CHECKLIST

MONTH = date.today().isoformat()[:7]


# --- the service worker and the pages it may keep -------------------------------------------


def test_service_worker_is_served_from_the_root_with_scope_and_no_cache(client: FlaskClient):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    # The precache list names versioned URLs of the assets every page loads.
    assert re.search(r'"/static/offline\.js\?v=[0-9a-f]{10}"', body)
    assert "/static/app.css?v=" in body


def test_pages_load_versioned_assets_that_are_cached_for_good(client, auth, households):
    auth.login("owner")
    html = client.get(f"/h/{households['h1'].token}/visit").get_data(as_text=True)
    url = re.search(r'src="(/static/offline\.js\?v=[0-9a-f]+)"', html).group(1)
    assert 'src="/static/evidence.js?v=' in html
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"
    original = (Path(client.application.static_folder) / "offline.js").read_bytes()
    assert gzip.decompress(response.get_data()) == original


# <script src=…> and <link href=…> of the app's own files, in the order the page names them.
STATIC_ASSET = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="(/static/[^"]*)"')
VERSIONED = re.compile(r"/static/[\w.-]+\?v=[0-9a-f]{10}")


def _tags_load_versioned_assets(html: str) -> list[str]:
    scripts = re.findall(r"<script\b[^>]*>", html)
    sheets = re.findall(r"<link\b[^>]*\brel=\"stylesheet\"[^>]*>", html)
    for tag in scripts + sheets:
        url = re.search(r'\b(?:src|href)="([^"]*)"', tag)
        assert url and VERSIONED.fullmatch(url.group(1)), tag
    return STATIC_ASSET.findall(html)


def test_every_page_loads_its_scripts_and_styles_by_versioned_urls(client, auth, households):
    """A changed file gets a new URL: no page runs a copy a phone or proxy kept of an
    older version (sort.js and jobs.js included, not only what base.html loads)."""
    from test_visit_form import form_data

    h = households["h1"]
    seen: set[str] = set()
    seen.update(_tags_load_versioned_assets(client.get("/login").get_data(as_text=True)))
    auth.login("owner")
    data = form_data(client.get(f"/h/{h.token}/visit").get_data(as_text=True))
    assert client.post(f"/h/{h.token}/visit", data=data).status_code == 302
    owner_pages = [
        "/",
        f"/h/{h.token}",
        f"/h/{h.token}/visit",
        "/queue",
        f"/h/{h.token}/visits/{data['id']}/edit",
    ]
    for path in owner_pages:
        response = client.get(path)
        assert response.status_code == 200, path
        seen.update(_tags_load_versioned_assets(response.get_data(as_text=True)))
    auth.login("supervisor")
    job = client.post(
        "/reports",
        data={"csrf_token": auth.csrf(), "kind": "summary", "month": MONTH, "village": ""},
    )
    assert job.status_code == 303
    office_pages = [
        "/",
        "/dashboard",
        "/needs",
        "/office/households",
        "/office/helpers",
        "/reports",
        job.headers["Location"],
    ]
    for path in office_pages:
        response = client.get(path)
        assert response.status_code == 200, path
        seen.update(_tags_load_versioned_assets(response.get_data(as_text=True)))
    names = {url.split("?")[0].rsplit("/", 1)[1] for url in seen}
    assert {
        "app.css",
        "app.js",
        "offline.js",
        "visit_form.js",
        "evidence.js",
        "sort.js",
        "jobs.js",
    } <= names
    # And no template names a static file without its version.
    templates = Path(client.application.template_folder or "")
    for template in templates.rglob("*.html"):
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", template.read_text(encoding="utf-8")):
            assert "url_for('static'" not in tag, (template.name, tag)


def test_the_service_worker_precaches_exactly_what_the_helpers_pages_load(client, auth, households):
    """The visit form opens offline only if every file it loads is in the precache list; a
    file no page loads any more is not fetched at install for nothing."""
    first_line = client.get("/sw.js").get_data(as_text=True).split("\n", 1)[0]
    settings = json.loads(first_line.removeprefix("const FV = ").removesuffix(";"))
    h = households["h1"]
    auth.login("owner")
    loaded: set[str] = set()
    for path in ("/", f"/h/{h.token}", f"/h/{h.token}/visit", "/queue"):
        response = client.get(path)
        assert response.headers.get("X-Fieldvisit-Cache"), path  # one the worker keeps
        loaded.update(STATIC_ASSET.findall(response.get_data(as_text=True)))
    assert loaded == set(settings["assets"])


def test_text_is_sent_uncompressed_to_clients_that_do_not_ask(client, auth, households):
    auth.login("owner")
    response = client.get(f"/h/{households['h1'].token}")
    assert "Content-Encoding" not in response.headers
    assert "马娟" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("who", "path", "kept"),
    [
        ("owner", "/", True),
        ("owner", "/h/{token}", True),
        ("owner", "/h/{token}/visit", True),
        ("owner", "/queue", True),
        ("owner", "/password", False),
        ("supervisor", "/dashboard", False),
        (None, "/h/{token}", False),
    ],
)
def test_only_the_helpers_own_pages_are_marked_for_the_phones_cache(
    client, auth, households, who, path, kept
):
    if who:
        auth.login(who)
    response = client.get(path.format(token=households["h1"].token))
    assert response.status_code == 200
    marked = response.headers.get("X-Fieldvisit-Cache")
    assert marked == (PEOPLE[who][0] if kept else None)


def test_the_queue_page_needs_a_login(client, auth, households):
    assert client.get("/queue").status_code == 302
    auth.login("owner")
    html = client.get("/queue").get_data(as_text=True)
    assert 'id="fv-queue-list"' in html
    # Labels for a refused record's content and reason, in a data attribute (no inline code).
    raw = re.search(r'data-labels="([^"]+)"', html).group(1)
    labels = json.loads(unescape(raw))
    assert labels["date"] == "走访日期" and labels["environment.yard"] == "院落干净整洁"
    assert labels["kind.in_person"] == "入户走访" and labels["needs.category.water"] == "饮水"


def test_a_page_showing_a_one_time_message_is_not_kept_for_offline_use(client, auth, households):
    from test_visit_form import form_data

    h = households["h1"]
    auth.login("owner")
    data = form_data(client.get(f"/h/{h.token}/visit").get_data(as_text=True))
    client.post(f"/h/{h.token}/visit", data=data)
    message = '<p class="flash" role="status">走访已保存</p>'
    shown = client.get(f"/h/{h.token}")
    assert message in shown.get_data(as_text=True)
    assert "X-Fieldvisit-Cache" not in shown.headers  # offline it would say so again
    again = client.get(f"/h/{h.token}")
    assert message not in again.get_data(as_text=True)
    assert again.headers["X-Fieldvisit-Cache"] == PEOPLE["owner"][0]


def test_every_page_carries_the_waiting_badge_texts(client, auth, households):
    auth.login("owner")
    html = client.get("/").get_data(as_text=True)
    assert 'data-waiting="待上传 {n} 条"' in html
    assert 'id="fv-upload"' in html
    assert f'data-user="{PEOPLE["owner"][0]}"' in html


# --- CSRF for records sent days later --------------------------------------------------------


def test_csrf_endpoint_needs_a_session(client, households):
    response = client.get("/api/v1/csrf")
    assert response.status_code == 401


def test_a_record_queued_days_ago_goes_up_with_a_fresh_token_exactly_once(
    client: FlaskClient, auth: Auth, households: dict[str, Household], store: Store
):
    auth.login("owner")
    old_token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    # Days pass; the phone logs in again (a new session: the old token is now worthless).
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login("owner")
    three_days_ago = (date.today() - timedelta(days=3)).isoformat()
    payload = visit_payload(households["h1"], date=three_days_ago)
    refused = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": old_token})
    assert refused.status_code == 400
    assert "errors" not in refused.get_json()  # how offline.js tells a CSRF refusal apart

    fresh = client.get("/api/v1/csrf")
    assert fresh.headers["Cache-Control"] == "no-store"
    headers = {"X-CSRFToken": fresh.get_json()["csrf_token"]}
    first = client.post("/api/v1/visits", json=payload, headers=headers)
    again = client.post("/api/v1/visits", json=payload, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    stored = [v for v in store.visits(three_days_ago[:7]) if v.id == payload["id"]]
    assert len(stored) == 1


def test_a_refused_record_says_why(client, auth, households):
    auth.login("other")
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    response = client.post(
        "/api/v1/visits", json=visit_payload(households["h1"]), headers={"X-CSRFToken": token}
    )
    assert response.status_code == 403
    assert response.get_json()["errors"]["household"]


# --- the test, in headless Chromium ---------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The real app served by waitress on a free port, on a fresh data folder."""
    from waitress import create_server

    app = create_app(
        {"DATA_DIR": str(tmp_path_factory.mktemp("live") / "data"), "SECRET_KEY": "live-test"}
    )
    store = app.extensions["fieldvisit.store"]
    households = seed(store)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield {
        "url": f"http://127.0.0.1:{server.effective_port}",
        "app": app,
        "store": store,
        "households": households,
    }
    server.close()
    thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Playwright turns the back-forward cache off; phones have it on (back after saving).
    with chromium(ignore_default_args=["--disable-back-forward-cache"]) as launched:
        yield launched


def _log_in(page: Any, url: str, who: str) -> None:
    page.goto(f"{url}/")  # redirected to the login form, then back home
    page.fill("#phone", PEOPLE[who][0])
    page.fill("#password", PASSWORD)
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{url}/")


def _fill_visit(page: Any, notes: str, photo: Path | None = None) -> None:
    if photo is not None:
        page.set_input_files(".fv-photos input[type=file]", str(photo))
        page.wait_for_selector(".fv-photos .thumbs img")
    page.check("input[name=kind][value=in_person]", force=True)
    page.click("button[data-fill='g_']")
    page.click("button[data-fill='env_']")
    page.check("input[name=helped_clean][value=yes]", force=True)
    page.check("input[name=satisfaction][value=satisfied]", force=True)
    page.fill("textarea[name=notes]", notes)
    page.click("button[data-once]")


def _wait_until(check: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def _stored(live: dict[str, Any], household: Household) -> list[Any]:
    return [v for v in live["store"].visits(MONTH) if v.household == household.id]


def big_photo(folder: Path) -> Path:
    """A camera-sized JPEG (~2.5 MB: over the server's limit unless the phone shrinks it)."""
    from PIL import Image

    image = Image.effect_noise((3000, 2250), 60).convert("RGB")
    path = folder / "camera.jpg"
    image.save(path, "JPEG", quality=97)
    return path


def test_offline_visits_are_stored_exactly_once_when_the_connection_returns(
    live, browser, tmp_path
):
    h2 = live["households"]["h2"]  # helper "other"; the no-worker test below uses h1
    photo = big_photo(tmp_path)
    assert photo.stat().st_size > 2 * 1024 * 1024
    url = live["url"]
    context = browser.new_context(
        permissions=["geolocation"],
        geolocation={"latitude": 32.9871, "longitude": 112.5283, "accuracy": 12},
    )
    page = context.new_page()
    _log_in(page, url, "other")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # The home page asks the worker to keep the helper's household and its form.
    kept = "caches.open('fv-pages').then(c => c.keys()).then(k => k.length)"
    _wait_until(lambda: page.evaluate(kept) >= 4)

    context.set_offline(True)
    for notes in ("第一次", "第二次"):
        page.goto(f"{url}/h/{h2.token}")  # the household page, from the phone's cache
        page.click("a.button.primary")  # its visit form, from the cache too
        page.wait_for_selector("form[data-offline]")
        page.wait_for_selector(".fv-where:has-text('12')")
        _fill_visit(page, notes, photo if notes == "第一次" else None)
        page.wait_for_selector(".fv-status:has-text('已保存在手机上，待上传')")
    page.goto(f"{url}/")
    page.wait_for_selector("#fv-queue-count:has-text('待上传 2 条')")
    assert _stored(live, h2) == []
    sizes = page.evaluate(
        "fvQueue.all().then(rs => rs.flatMap(r => r.photos.map(p => p.blob.size)))"
    )
    assert len(sizes) == 1 and 0 < sizes[0] <= 300 * 1024  # shrunk on the phone

    context.set_offline(False)
    _wait_until(lambda: len(_stored(live, h2)) == 2)
    page.wait_for_selector("#fv-queue", state="hidden")
    stored = _stored(live, h2)
    assert sorted(v.notes for v in stored) == ["第一次", "第二次"]
    assert len({v.id for v in stored}) == 2
    assert all(v.location == {"lat": 32.9871, "lng": 112.5283, "accuracy": 12} for v in stored)
    # The photo was shrunk on the phone, kept with the queued visit, and sent after it.
    first = next(v for v in stored if v.notes == "第一次")
    _wait_until(lambda: len(live["store"].find_visit(MONTH, h2.village, first.id).photos) == 1)
    photo_id = live["store"].find_visit(MONTH, h2.village, first.id).photos[0]
    assert live["store"].photos.path(MONTH, first.id, photo_id, thumb=True) is not None
    # The first in-person visit with a good fix placed the household.
    assert live["store"].household(h2.id).location == {"lat": 32.9871, "lng": 112.5283}
    # Flushing again (another tap on 上传) sends nothing twice.
    page.evaluate("window.fvQueue.flush()")
    assert len(_stored(live, h2)) == 2
    context.close()


def test_without_a_service_worker_the_page_keeps_and_sends_the_queue(live, browser):
    h1 = live["households"]["h1"]
    url = live["url"]
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    _log_in(page, url, "owner")
    before = {v.id for v in _stored(live, h1)}
    page.goto(f"{url}/h/{h1.token}/visit")  # WeChat on iPhone: the form needs a connection
    context.set_offline(True)
    # A selector, not wait_for_function: its polling needs eval, which the CSP forbids.
    page.wait_for_selector(".fv-where:not(:empty)")
    _fill_visit(page, "无服务工作线程")
    page.wait_for_selector(".fv-status:has-text('已保存在手机上，待上传')")
    page.wait_for_selector("#fv-queue-count:has-text('待上传 1 条')")
    context.set_offline(False)
    _wait_until(lambda: len(_stored(live, h1)) == len(before) + 1)
    (visit,) = [v for v in _stored(live, h1) if v.id not in before]
    assert visit.notes == "无服务工作线程"
    assert visit.location is None  # no permission: saved, marked "no location"
    # Reopening the app flushes nothing more.
    page.goto(f"{url}/")
    page.wait_for_selector("#fv-queue", state="hidden")
    assert len(_stored(live, h1)) == len(before) + 1
    context.close()


def test_the_new_endpoints_are_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/csrf"]
    assert "413" in paths["/visits/{visit_id}/photos"]["post"]["responses"]


def test_a_record_refused_after_waiting_shows_its_content_and_reason_on_the_phone(live, browser):
    h1 = live["households"]["h1"]
    store = live["store"]
    url = live["url"]
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    _log_in(page, url, "owner")
    page.goto(f"{url}/h/{h1.token}/visit")
    context.set_offline(True)
    page.fill("textarea[name='needs-0-description']", "自来水管冻裂")
    page.select_option("select[name='needs-0-category']", "water")
    _fill_visit(page, "办公室改了清单")
    page.wait_for_selector(".fv-status:has-text('已保存在手机上，待上传')")

    def checklist(items: list[dict[str, str]] | None) -> None:
        def change(reg: Any) -> None:
            if items is None:
                reg.settings.pop("checklist", None)
            else:
                reg.settings["checklist"] = items

        store.update_registry(change)

    # Meanwhile the office added an item the phone's form did not have.
    items = [{"key": k, "label": label} for k, label in DEFAULT_CHECKLIST]
    checklist([*items, {"key": "pens", "label": "圈舍整洁"}])
    try:
        context.set_offline(False)
        page.wait_for_selector("#fv-queue-count:has-text('被退回 1 条')")
        assert page.locator("#fv-upload").is_hidden()  # nothing it could send
        page.click("#fv-queue-count")
        page.wait_for_selector("#fv-queue-list li")
        shown = page.inner_text("#fv-queue-list")
        # The reason in the form's words, not the API's keys.
        assert "走访记录无法保存；圈舍整洁：请选择" in shown
        assert "environment" not in shown
        # What the helper recorded, to read out or hand to the office for 补录.
        for text in ("马娟", "入户走访", "不愁吃 是", "院落干净整洁 是", "厕所卫生 是", "满意"):
            assert text in shown
        assert "饮水：自来水管冻裂" in shown and "办公室改了清单" in shown
        assert all(v.notes != "办公室改了清单" for v in _stored(live, h1))
        # Reopening the app does not drop it; only the helper's confirmed delete does.
        page.reload()
        page.wait_for_selector("#fv-queue-list li")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#fv-queue-list li button")
        page.wait_for_selector("#fv-queue-empty", state="visible")
        page.wait_for_selector("#fv-queue", state="hidden")
    finally:
        checklist(None)
        context.close()


def test_a_record_for_a_household_reassigned_meanwhile_stays_on_the_phone(live, browser):
    """The issue's example of a refusal: the office gave the household to another helper
    while the visit waited offline."""
    h1 = live["households"]["h1"]
    store = live["store"]
    url = live["url"]
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    _log_in(page, url, "owner")
    page.goto(f"{url}/h/{h1.token}/visit")
    context.set_offline(True)
    _fill_visit(page, "换了帮扶责任人")
    page.wait_for_selector(".fv-status:has-text('已保存在手机上，待上传')")

    def pair(phone: str) -> None:
        def change(reg: Any) -> None:
            reg.households[h1.id].helpers = [phone]

        store.update_registry(change)

    pair(PEOPLE["other"][0])  # the office reassigned the household meanwhile
    try:
        context.set_offline(False)
        page.wait_for_selector("#fv-queue-count:has-text('被退回 1 条')")
        page.click("#fv-queue-count")
        page.wait_for_selector("#fv-queue-list li")
        shown = page.inner_text("#fv-queue-list")
        assert "您不是这户的帮扶责任人" in shown and "换了帮扶责任人" in shown  # its content too
        assert all(v.notes != "换了帮扶责任人" for v in _stored(live, h1))
        # Reopening the app does not drop it; only the helper's confirmed delete does.
        page.reload()
        page.wait_for_selector("#fv-queue-list li")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#fv-queue-list li button")
        page.wait_for_selector("#fv-queue-empty", state="visible")
        page.wait_for_selector("#fv-queue", state="hidden")
    finally:
        pair(PEOPLE["owner"][0])
        context.close()


def test_a_visit_refused_online_stays_on_the_form_and_back_after_saving_starts_anew(
    live, browser, tmp_path
):
    from PIL import Image

    h1 = live["households"]["h1"]
    url = live["url"]
    # The narrowest phones: nothing may be wider than the screen.
    context = browser.new_context(service_workers="block", viewport={"width": 320, "height": 640})
    page = context.new_page()
    _log_in(page, url, "owner")
    page.goto(f"{url}/h/{h1.token}/visit")
    assert page.get_attribute("form.visit", "autocomplete") == "off"
    # Not a photo: said, and not erased by the previews being drawn again.
    (tmp_path / "list.txt").write_text("不是照片")
    page.set_input_files(".fv-photos input[type=file]", str(tmp_path / "list.txt"))
    page.wait_for_selector(".fv-photo-note:has-text('这个文件不是照片')")
    Image.new("RGB", (320, 240), "green").save(tmp_path / "door.jpg")
    page.set_input_files(".fv-photos input[type=file]", str(tmp_path / "door.jpg"))
    page.wait_for_selector(".fv-photos .thumbs img")
    # A need row taken out again: the next one moves up.
    page.fill("textarea[name='needs-0-description']", "写错了")
    page.click("button[name=add_need]")
    page.select_option("select[name='needs-1-category']", "medical")
    page.fill("textarea[name='needs-1-description']", "慢性病用药报销")
    page.locator(".need .fv-drop-need").first.click()
    assert page.locator(".need").count() == 1
    assert page.input_value("textarea[name='needs-0-description']") == "慢性病用药报销"
    # Incomplete and too long: told on the page, with the server's words, photo kept.
    page.fill("textarea[name=notes]", "长" * 2001)
    page.click("button[data-once]")
    page.wait_for_selector("p.error:has-text('请选择走访方式')")
    page.wait_for_selector("p.error:has-text('备注最多 2000 字')")
    assert page.locator(".fv-photos .thumbs img").count() == 1
    # Complete, but a date a helper may not record: refused by the server, kept on the form.
    page.fill("input[name=date]", (date.today() - timedelta(days=40)).isoformat())
    _fill_visit(page, "被退回也不丢")
    page.wait_for_selector(".fv-status:has-text('走访日期：只能登记本月及 7 天内的走访')")
    page.wait_for_selector("input[name=date] + p.error:has-text('镇扶贫办补录')")
    assert page.input_value("textarea[name=notes]") == "被退回也不丢"
    assert page.locator(".fv-photos .thumbs img").count() == 1
    assert page.is_checked("input[name=kind][value=in_person]")
    assert page.evaluate("fvQueue.all().then(rs => rs.length)") == 0  # fixed here, not queued
    assert all(v.notes != "被退回也不丢" for v in _stored(live, h1))
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    # Fixed and saved: stored once, with its photo and need.
    page.fill("input[name=date]", date.today().isoformat())
    page.click("button[data-once]")
    page.wait_for_url(f"{url}/h/{h1.token}")
    (visit,) = [v for v in _stored(live, h1) if v.notes == "被退回也不丢"]
    assert len(visit.photos) == 1 and visit.needs[0]["description"] == "慢性病用药报销"
    # The household's card holds its long values (the masked ID number) at 320 px.
    card = "[...document.querySelectorAll('.facts')].map(f => f.scrollWidth - f.clientWidth)"
    assert page.evaluate(card) == [0]
    # Back: the saved answers are not offered again; a new visit starts with a new id.
    page.go_back(wait_until="commit")  # from the back-forward cache: no load event
    page.wait_for_selector("form[data-offline]")
    _wait_until(lambda: page.input_value("textarea[name=notes]") == "", timeout=5)
    assert not page.is_checked("input[name=kind][value=in_person]")
    assert page.locator(".fv-photos .thumbs img").count() == 0
    assert page.input_value("input[name=id]") != visit.id
    assert len([v for v in _stored(live, h1) if v.notes == "被退回也不丢"]) == 1
    context.close()


def test_online_the_form_saves_through_the_api_like_the_html_form(live, browser):
    h1 = live["households"]["h1"]
    url = live["url"]
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    _log_in(page, url, "owner")
    page.goto(f"{url}/h/{h1.token}/visit")
    # Incomplete while online: each problem named on the page, in the server's words.
    page.click("button[data-once]")
    page.wait_for_selector("p.error:has-text('请选择走访方式')")
    assert page.locator("form[data-offline]").count() == 1
    before = {v.id for v in _stored(live, h1)}
    # Two needs: the second row is added on the phone, without a round trip.
    page.fill("textarea[name='needs-0-description']", "慢性病用药报销")
    page.select_option("select[name='needs-0-category']", "medical")
    page.click("button[name=add_need]")
    page.select_option("select[name='needs-1-category']", "water")
    page.fill("textarea[name='needs-1-description']", "自来水管冻裂")
    page.check("input[name='needs-1-urgent']")
    _fill_visit(page, "在线保存")
    page.wait_for_url(f"{url}/h/{h1.token}")
    page.wait_for_selector("p.flash:has-text('走访已保存')")
    new = [v for v in _stored(live, h1) if v.id not in before]
    assert len(new) == 1
    assert new[0].needs == [
        {"category": "medical", "description": "慢性病用药报销", "urgent": False},
        {"category": "water", "description": "自来水管冻裂", "urgent": True},
    ]
    assert new[0].helped_clean is True and new[0].satisfaction == "satisfied"
    context.close()


def test_a_form_opened_days_after_it_was_kept_says_todays_date(live, browser):
    """The service worker's copy of the form carries the day it was made; the phone's own
    date replaces it, or a visit would be saved with a stale date unnoticed."""
    h1 = live["households"]["h1"]
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    try:
        _log_in(page, live["url"], "owner")
        later = date.today() + timedelta(days=3)  # as if the page were opened 3 days on
        page.clock.install(time=f"{later.isoformat()}T10:00:00")
        page.goto(f"{live['url']}/h/{h1.token}/visit")
        assert page.input_value("input[name=date]") == later.isoformat()
        assert page.get_attribute("input[name=date]", "max") == later.isoformat()
    finally:
        context.close()


# Each need row's field names, row by row.
NEED_NAMES = (
    "[...document.querySelectorAll('.need')]"
    ".map(r => [...r.querySelectorAll('[name]')].map(e => e.name))"
)


def _need_rows(count: int) -> list[list[str]]:
    return [
        [f"needs-{i}-category", f"needs-{i}-description", f"needs-{i}-urgent"] for i in range(count)
    ]


def test_need_rows_are_numbered_in_order_after_every_add_and_remove(live, browser):
    """The server reads a need by its row number and need_rows: after rows are added and
    taken out on the phone, on a new visit and on a correction, the numbers still run
    0, 1, 2… and each need keeps its own category and urgency."""
    h1 = live["households"]["h1"]
    url = live["url"]
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    try:
        _log_in(page, url, "owner")
        page.goto(f"{url}/h/{h1.token}/visit")
        needs = [("medical", "一"), ("housing", "二"), ("water", "三")]
        for i, (category, text) in enumerate(needs):
            if i:
                page.click("button[name=add_need]")
            page.select_option(f"select[name='needs-{i}-category']", category)
            page.fill(f"textarea[name='needs-{i}-description']", text)
        page.check("input[name='needs-2-urgent']")
        assert page.evaluate(NEED_NAMES) == _need_rows(3)
        assert page.input_value("input[name=need_rows]") == "3"
        # The middle row taken out: the last moves up, with what was typed in it.
        page.locator(".need .fv-drop-need").nth(1).click()
        assert page.evaluate(NEED_NAMES) == _need_rows(2)
        assert page.input_value("input[name=need_rows]") == "2"
        assert page.input_value("textarea[name='needs-1-description']") == "三"
        assert page.input_value("select[name='needs-1-category']") == "water"
        assert page.is_checked("input[name='needs-1-urgent']")
        # A row added after that one is the next number, and empty.
        page.click("button[name=add_need]")
        assert page.evaluate(NEED_NAMES) == _need_rows(3)
        assert page.input_value("textarea[name='needs-2-description']") == ""
        assert not page.is_checked("input[name='needs-2-urgent']")

        context.set_offline(True)
        _fill_visit(page, "需求行号")
        page.wait_for_selector(".fv-status:has-text('已保存在手机上，待上传')")
        # The form for the next visit: one empty row again.
        assert page.evaluate(NEED_NAMES) == _need_rows(1)
        assert page.input_value("input[name=need_rows]") == "1"
        assert page.input_value("textarea[name='needs-0-description']") == ""
        context.set_offline(False)
        _wait_until(lambda: any(v.notes == "需求行号" for v in _stored(live, h1)))
        (visit,) = [v for v in _stored(live, h1) if v.notes == "需求行号"]
        assert visit.needs == [
            {"category": "medical", "description": "一", "urgent": False},
            {"category": "water", "description": "三", "urgent": True},
        ]

        # The correction form posts as plain HTML: a row taken out there renumbers too.
        page.goto(f"{url}/h/{h1.token}/visits/{visit.id}/edit")
        assert page.evaluate(NEED_NAMES) == _need_rows(2)
        page.locator(".need .fv-drop-need").first.click()
        assert page.evaluate(NEED_NAMES) == _need_rows(1)
        assert page.input_value("input[name=need_rows]") == "1"
        page.click("button[data-once]")
        page.wait_for_url(f"{url}/h/{h1.token}")
        corrected = live["store"].find_visit(MONTH, h1.village, visit.id)
        assert corrected.needs == [{"category": "water", "description": "三", "urgent": True}]
    finally:
        context.close()
