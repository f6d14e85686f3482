"""No page shows a full ID number: every role crawls every page it can reach.

The registry keeps full ID numbers (身份证号); pages, the API, the audit log and the
downloads show them masked. Only an admin who asks for them, and confirms it, downloads the
registry with full numbers (and that download is audited).
"""

from __future__ import annotations

import html
import io
import re
from datetime import date
from urllib.parse import urlsplit

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit import registry
from fieldvisit.audit import reading as audit
from fieldvisit.documents.jobs import get_runner
from fieldvisit.households import office as admin
from fieldvisit.idcard import mask_id_number
from fieldvisit.visits import needs
from fieldvisit.visits.recording import record_visit

ROLES = ("nobody", "owner", "other", "supervisor", "admin")
MONTH = date.today().isoformat()[:7]
LINK = re.compile(r'(?:href|src)="([^"]+)"')
SKIP = ("/logout", "/lang/", "/static/")
MAX_PAGES = 400
# Pages link to endless variants of themselves (the dashboard's previous month, and its
# previous month…): a few variants of each path show what that page can show.
VARIANTS_PER_PATH = 12
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture()
def township(store, households):
    """The two households with a visit each, a resolved need, an edited ID number and a
    re-import: the audit log holds ID numbers' changes too."""
    for key, who in (("h1", "owner"), ("h2", "other")):
        payload = visit_payload(households[key], id=f"a1b2c3d4-0000-4000-8000-00000000000{key[1]}")
        record_visit(store, payload, store.user(PEOPLE[who][0]))
    needs.resolve(store, store.needs(MONTH)[0].id, PEOPLE["admin"][0], "已协调")
    h2 = store.household(households["h2"].id)
    form = {n: str(getattr(h2, n) or "") for n in admin.EDITABLE}
    admin.edit_household(
        store, h2.id, {**form, "id_number": "110101199003074418", "long_absent": ""}, "cli"
    )
    data = registry.export_registry_bytes(store, "csv")
    registry.import_registry(store, data, "花名册.csv", "cli")
    return store.registry().households


def _text_of(response) -> str:
    data = response.get_data()
    if response.mimetype == XLSX or data[:2] == b"PK":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(
            str(cell)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for cell in row
            if cell is not None
        )
    if data.startswith(b"%PDF"):
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    return data.decode("utf-8", errors="replace")


def _assert_no_full_id(url: str, text: str, numbers: list[str]) -> None:
    for number in numbers:
        assert number not in text and number.lower() not in text, f"{url} shows {number}"


def _links(url: str, text: str) -> list[str]:
    out = []
    for raw in LINK.findall(text):
        parts = urlsplit(html.unescape(raw))
        if parts.netloc and parts.netloc != "fieldvisit.test":
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith("/") or path.startswith(SKIP) or parts.path.endswith(".pdf"):
            continue
        out.append(path)
    return out


def _crawl(client, starts: list[str], numbers: list[str]) -> set[str]:
    seen: set[str] = set()
    per_path: dict[str, int] = {}
    queue = list(starts)
    while queue:
        url = queue.pop(0)
        path = urlsplit(url).path
        if url in seen or (url not in starts and per_path.get(path, 0) >= VARIANTS_PER_PATH):
            continue
        seen.add(url)
        per_path[path] = per_path.get(path, 0) + 1
        assert len(seen) < MAX_PAGES, "the crawl does not end"
        response = client.get(url)
        text = _text_of(response)
        response.close()
        _assert_no_full_id(url, text, numbers)
        if response.mimetype == "text/html":
            queue.extend(_links(url, text))
    return seen


def _report(app, client, auth, **form: str) -> str:
    response = client.post("/reports", data={"csrf_token": auth.csrf(), **form})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    job_id = response.headers["Location"].rsplit("/", 1)[-1]
    assert get_runner(app).wait(job_id, timeout=30).status == "done"
    return f"/reports/jobs/{job_id}/download"


@pytest.mark.parametrize("role", ROLES)
def test_no_page_a_role_reaches_shows_a_full_id_number(app, client, auth, township, role):
    numbers = [h.id_number for h in township.values() if h.id_number]
    assert len(numbers) == 2 and all(len(n) == 18 for n in numbers)
    if role != "nobody":
        auth.login(role)
    starts = ["/", "/login", *(f"/h/{h.token}" for h in township.values())]
    api = [
        r.rule
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/") and "GET" in r.methods and not r.arguments
    ]
    starts += [f"{path}?month={MONTH}" for path in api]
    if role in ("supervisor", "admin"):
        starts += ["/needs/export.xlsx?status=all", "/office/audit"]
        starts += [_report(app, client, auth, kind="visits", month=MONTH, format=fmt)
                   for fmt in ("xlsx", "csv")]  # fmt: skip
    if role == "admin":
        starts += ["/office/export-registry.xlsx", "/office/export-registry.csv"]
        starts.append(_report(app, client, auth, kind="booklet", year=MONTH[:4]))
    seen = _crawl(client, starts, numbers)
    if role == "admin":  # the crawl really went through the office's pages
        assert {"/office/audit", "/office/export", "/office/households"} <= seen
        assert any(u.startswith("/office/households/") for u in seen)
        # …and the pages that show an ID number show it masked, so the scan was not idle.
        h1 = next(h for h in township.values() if h.id_number == numbers[0])
        assert mask_id_number(numbers[0]) in client.get(f"/h/{h1.token}").get_data(as_text=True)


def test_full_id_numbers_need_an_admin_who_confirms(client, auth, store, township):
    numbers = [h.id_number for h in township.values()]
    auth.login("admin")
    csrf = auth.csrf()
    refused = client.post(
        "/office/export-registry.xlsx", data={"full_ids": "1", "csrf_token": csrf}
    )
    assert refused.status_code == 400 and "请勾选确认" in refused.get_data(as_text=True)
    full = client.post(
        "/office/export-registry.xlsx", data={"full_ids": "1", "confirm": "1", "csrf_token": csrf}
    )
    assert full.status_code == 200
    text = _text_of(full)
    assert all(n in text for n in numbers)
    masked = _text_of(client.get("/office/export-registry.csv"))
    assert "4117****4373" in masked or "4117" in masked
    _assert_no_full_id("csv", masked, numbers)
    exports = audit.entries(store, audit.Filters(kind="registry."))
    downloads = [e.after for e in exports if e.action == "registry.export"]
    assert downloads == [{"full_ids": False}, {"full_ids": True}]
    assert all(e.who == PEOPLE["admin"][0] for e in exports if e.action == "registry.export")


@pytest.mark.parametrize("role", ["owner", "supervisor"])
def test_only_the_office_downloads_the_registry(client, auth, township, role):
    auth.login(role)
    for url in ("/office/export", "/office/export-registry.xlsx?full_ids=1&confirm=1"):
        assert client.get(url).status_code == 403


def test_the_full_download_keeps_what_the_cli_export_keeps(client, auth, store, township):
    auth.login("admin")
    form = {"full_ids": "1", "confirm": "1", "csrf_token": auth.csrf()}
    web = client.post("/office/export-registry.csv", data=form).get_data()
    assert web == registry.export_registry_bytes(store, "csv")
