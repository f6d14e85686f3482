"""Security headers, session cookie flags, and the refusal to run production on a weak key."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from helpers import PEOPLE, Auth
from test_offline import browser, live  # noqa: F401  (fixtures: a served app, Chromium)

from fieldvisit import create_app
from fieldvisit.access.security import CONTENT_SECURITY_POLICY, weak_secret
from fieldvisit.config import ConfigError, from_environment
from fieldvisit.models import Household

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", ["/login", "/api/v1/openapi.json", "/static/app.css", "/nope"])
def test_it_sends_security_headers_on_every_response(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    response.close()  # a static file is streamed from an open handle
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "geolocation=(self)" in response.headers["Permissions-Policy"]
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP on a LAN


def test_a_response_keeps_a_security_header_it_set_itself(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x"})

    @app.get("/framed")
    def framed() -> tuple[str, int, dict[str, str]]:
        return "ok", 200, {"x-frame-options": "SAMEORIGIN"}

    response = app.test_client().get("/framed")
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_an_error_the_app_did_not_expect_gets_the_headers_too(tmp_path: Path) -> None:
    app = create_app({"TESTING": False, "DATA_DIR": str(tmp_path), "SECRET_KEY": "x"})

    @app.get("/broken")
    def broken() -> str:
        raise RuntimeError("a bug")

    response = app.test_client().get("/broken")
    assert response.status_code == 500
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_it_allows_no_inline_script_or_style() -> None:
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


# Templates rendered as web pages (the PDF templates are read by WeasyPrint only).
PAGE_TEMPLATES = [p for p in (ROOT / "templates").rglob("*.html") if "pdf" not in p.parts]
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.I)


@pytest.mark.parametrize("template", PAGE_TEMPLATES, ids=lambda p: p.name)
def test_it_keeps_pages_free_of_what_the_policy_blocks(template: Path) -> None:
    assert not INLINE.findall(template.read_text(encoding="utf-8"))


def test_it_pages_render_without_inline_code(
    client: FlaskClient, auth: Auth, households: dict[str, Household]
) -> None:
    auth.login("admin")
    for path in ("/dashboard", f"/h/{households['h1'].token}", "/office/import", "/needs"):
        html = client.get(path).get_data(as_text=True)
        assert not INLINE.findall(html), path


def test_it_marks_the_session_cookie_httponly_and_samesite(
    auth: Auth, client: FlaskClient, households: dict[str, Household]
) -> None:
    auth.login("owner")
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert not cookie.secure


def test_it_marks_cookies_secure_and_sends_hsts_behind_https(tmp_path: Path) -> None:
    app = create_app(
        {"TESTING": True, "DATA_DIR": str(tmp_path), "SECURE_COOKIES": True, "SECRET_KEY": "x"}
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = app.test_client().get("/login", base_url="https://fieldvisit.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    "secret", ["dev", "secret", "changeme", "test-secret", "short-but-random-9f8e", "a" * 40]
)
def test_it_refuses_to_start_production_with_a_weak_secret(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATA_DIR": str(tmp_path), "ENVIRONMENT": "production", "SECRET_KEY": secret})


def test_it_starts_production_with_a_generated_or_strong_secret(tmp_path: Path) -> None:
    generated = create_app({"DATA_DIR": str(tmp_path / "a"), "ENVIRONMENT": "production"})
    assert not weak_secret(generated.config["SECRET_KEY"])
    strong = "3f1c9a7be0d24b5e8f6a1c2d3e4f5a6b7c8d9e0f"
    app = create_app(
        {"DATA_DIR": str(tmp_path / "b"), "ENVIRONMENT": "production", "SECRET_KEY": strong}
    )
    assert app.config["SECRET_KEY"] == strong


def test_it_lets_development_run_with_a_weak_secret(tmp_path: Path) -> None:
    assert (
        create_app({"DATA_DIR": str(tmp_path), "SECRET_KEY": "dev"}).config["SECRET_KEY"] == "dev"
    )


def test_it_reads_the_environment_name() -> None:
    assert from_environment({})["ENVIRONMENT"] == "development"
    assert from_environment({"FIELDVISIT_ENV": "Production"})["ENVIRONMENT"] == "production"
    with pytest.raises(ConfigError, match="FIELDVISIT_ENV"):
        from_environment({"FIELDVISIT_ENV": "prod"})


def test_it_reads_the_limit_store_and_the_proxies() -> None:
    defaults = from_environment({})
    assert defaults["RATELIMIT_STORAGE_URI"] == "memory://"
    assert defaults["PROXIES"] == 0
    env = {"FIELDVISIT_RATELIMIT_STORAGE": "redis://cache:6379", "FIELDVISIT_PROXIES": "1"}
    assert from_environment(env)["RATELIMIT_STORAGE_URI"] == "redis://cache:6379"
    assert from_environment(env)["PROXIES"] == 1
    with pytest.raises(ConfigError, match="FIELDVISIT_PROXIES"):
        from_environment({"FIELDVISIT_PROXIES": "nginx"})


# --- in a real browser: the policy must not break the pages' own scripts ----------------------


def test_it_pages_run_under_the_policy_in_chromium(  # type: ignore[no-untyped-def]
    live,  # noqa: F811
    browser,  # noqa: F811
    tmp_path,
) -> None:
    from test_offline import _log_in, big_photo

    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    # Counted by the page itself: every blocked script, style or image fires this event.
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    url = live["url"]
    token = live["households"]["h1"].token
    _log_in(page, url, "owner")
    page.goto(f"{url}/h/{token}/visit")
    # The photo is shrunk through a canvas and previewed from a blob: URL.
    page.set_input_files(".fv-photos input[type=file]", str(big_photo(tmp_path)))
    page.wait_for_selector(".fv-photos .thumbs img")
    violations = page.evaluate("window.__csp")
    page.goto(f"{url}/h/{token}")
    violations += page.evaluate("window.__csp")
    page.context.clear_cookies()
    _log_in(page, url, "supervisor")
    page.goto(f"{url}/dashboard")
    page.wait_for_selector("svg")
    violations += page.evaluate("window.__csp")
    console = [p for p in problems if "Content Security Policy" in p]
    # The control: an inline style is blocked and counted, so an empty list means something.
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    # Asked from here: wait_for_function's polling needs eval, which the policy forbids.
    deadline = time.monotonic() + 10
    while not page.evaluate("window.__csp.length") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert page.evaluate("window.__csp.length") > 0
    page.close()
    assert violations == []
    assert console == []


def test_a_report_shows_its_download_only_once_it_is_made_in_chromium(  # type: ignore[no-untyped-def]
    live,  # noqa: F811
    browser,  # noqa: F811
) -> None:
    """Found in a browser: the button's own display rule undid the hidden attribute, so the
    download showed (and led nowhere) while the file was still being made."""
    from job_helpers import gate
    from test_offline import _log_in

    from fieldvisit.documents.jobs import get_runner

    release = gate(f"chromium-{id(live['app'])}")
    work = {"gate": f"chromium-{id(live['app'])}", "payload": "%PDF-1.7 made"}
    job = get_runner(live["app"]).submit(
        PEOPLE["supervisor"][0],
        "test/slow",
        "慢的文件",
        "slow.pdf",
        "application/pdf",
        "test.gated",
        work,
    )
    page = browser.new_page(accept_downloads=True)
    try:
        _log_in(page, live["url"], "supervisor")
        page.goto(f"{live['url']}/reports/jobs/{job.id}")
        assert page.locator("#job-progress").is_visible()
        assert not page.locator("#job-download").is_visible()
        release.set()
        page.locator("#job-download").wait_for(state="visible", timeout=15000)
        assert not page.locator("#job-progress").is_visible()
        with page.expect_download() as download:
            page.click("#job-download")
        assert Path(download.value.path()).read_bytes() == b"%PDF-1.7 made"
    finally:
        release.set()
        page.close()
