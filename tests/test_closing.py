"""Closing a month: the commands and the reports page close and reopen it, with audit
entries; a closed month takes no new or corrected visit or photo; its summary is archived
with a SHA-256 anyone on the reports page can check; backups keep it; the demo closes its
past months. (Its figures standing after registry changes: test_closing_figures.py.)"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PEOPLE, Auth, csrf_from, visit_payload
from PIL import Image
from test_reports import read_pdf
from test_visit_form import form_data

from fieldvisit.audit import reading as audit
from fieldvisit.closing import close_month, snapshot
from fieldvisit.documents.monthly import monthly_report_pdf
from fieldvisit.models import Household
from fieldvisit.months import previous_month, this_month
from fieldvisit.storage import Store
from fieldvisit.storage.backup import write_backup
from fieldvisit.storage.restore import restore_backup
from fieldvisit.visits import photos
from fieldvisit.visits.recording import record_visit

TODAY = date.today()
MONTH = previous_month(this_month(TODAY))
ADMIN = PEOPLE["admin"][0]
VISIT_ID = "a1b2c3d4-0000-4000-8000-0000000000c1"
PHOTO_ID = "p1111111-0000-4000-8000-0000000000c1"
CLOSED_WORDS = f"{MONTH} 已关账"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def _close(runner: Any, month: str = MONTH) -> str:
    result = runner.invoke(args=["close-month", "--month", month])
    assert result.exit_code == 0, result.output
    return str(result.output)


@pytest.fixture()
def visited(store: Store, households: dict[str, Household]) -> Store:
    """Last month's visit of h1, entered by the office, with a photo."""
    admin = store.user(ADMIN)
    payload = visit_payload(households["h1"], id=VISIT_ID, date=f"{MONTH}-10")
    visit, _created = record_visit(store, payload, admin)
    photos.add_photo(store, visit, PHOTO_ID, _jpeg(), admin)
    return store


@pytest.fixture()
def closed(visited: Store, runner: Any, monkeypatch: pytest.MonkeyPatch) -> Store:
    """``visited`` with last month closed. Its summary is a stand-in: laying out the real one
    takes a while, and the tests that close the month themselves read it."""
    with monkeypatch.context() as patched:
        patched.setattr(snapshot, "monthly_report_pdf", lambda *a, **k: b"%PDF-1.7 stand-in")
        _close(runner)
    return visited


def _entries(store: Store, action: str) -> list[Any]:
    return [e for e in audit.entries(store, audit.Filters()) if e.action == action]


# --- the commands ------------------------------------------------------------------------


def test_the_commands_close_reopen_and_close_again_with_audit_entries(
    visited: Store, runner: Any
) -> None:
    first = _close(runner)
    record = visited.closed_months()[MONTH]
    assert visited.is_closed(MONTH) and record["closes"] == 1
    assert record["pdf"][:64] in first  # the archived summary's SHA-256 is printed
    assert visited.closed.read(MONTH, record["pdf"]).startswith(b"%PDF-")

    again = runner.invoke(args=["close-month", "--month", MONTH])
    assert again.exit_code == 0 and "已经关账" in again.output
    assert len(_entries(visited, "month.close")) == 1  # nothing written the second time

    reason = "补录两户漏登的走访"
    reopened = runner.invoke(args=["reopen-month", "--month", MONTH, "--reason", reason])
    assert reopened.exit_code == 0, reopened.output
    assert not visited.is_closed(MONTH)
    (entry,) = _entries(visited, "month.reopen")
    assert (entry.target, entry.who, entry.after) == (MONTH, "cli", {"reason": reason})

    _close(runner)
    record = visited.closed_months()[MONTH]
    assert record["closes"] == 2 and len(record["issued"]) == 2
    assert record["reopenings"][0]["reason"] == reason
    closes = _entries(visited, "month.close")  # newest first
    assert [e.after["pdf"] for e in closes] == [i["pdf"][:64] for i in record["issued"][::-1]]
    assert closes[0].before == {"pdf": record["issued"][0]["pdf"][:64]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["close-month", "--month", "2026-13"], "月份应写成"),
        (["close-month", "--month", this_month(TODAY)], "还没有结束"),
        (["reopen-month", "--month", MONTH, "--reason", "x"], "没有关账"),
        (["reopen-month", "--month", MONTH, "--reason", "  "], "请填写重新打开的原因"),
    ],
)
def test_the_commands_say_what_is_wrong(
    households: dict[str, Household], runner: Any, args: list[str], message: str
) -> None:
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output


# --- a closed month takes no change ------------------------------------------------------


def _api_csrf(client: FlaskClient) -> dict[str, str]:
    return {"X-CSRFToken": client.get("/api/v1/csrf").get_json()["csrf_token"]}


def test_the_api_refuses_visits_and_photos_of_a_closed_month(
    closed: Store, client: FlaskClient, auth: Auth, households: dict[str, Household]
) -> None:
    auth.login("admin")
    headers = _api_csrf(client)
    other = visit_payload(households["h2"], id="a1b2c3d4-0000-4000-8000-0000000000c2")
    response = client.post("/api/v1/visits", json={**other, "date": f"{MONTH}-11"}, headers=headers)
    assert response.status_code == 409
    assert CLOSED_WORDS in response.get_json()["error"]
    assert CLOSED_WORDS in response.get_json()["errors"]["date"]

    photo = client.post(
        f"/api/v1/visits/{VISIT_ID}/photos",
        data={"id": "p2222222-0000-4000-8000-0000000000c2", "file": (io.BytesIO(_jpeg()), "a.jpg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert photo.status_code == 409 and CLOSED_WORDS in photo.get_json()["error"]

    # A phone sending again a visit stored before the close is answered as stored.
    stored = visit_payload(households["h1"], id=VISIT_ID, date=f"{MONTH}-10")
    assert client.post("/api/v1/visits", json=stored, headers=headers).status_code == 200
    assert closed.visit_by_id(VISIT_ID).photos == [PHOTO_ID]
    assert [v.id for v in closed.visits(MONTH)] == [VISIT_ID]


def test_the_pages_refuse_visits_corrections_and_photos_of_a_closed_month(
    closed: Store, client: FlaskClient, auth: Auth, households: dict[str, Household]
) -> None:
    auth.login("admin")
    token = households["h2"].token
    page = client.get(f"/h/{token}/visit").get_data(as_text=True)
    response = client.post(f"/h/{token}/visit", data=form_data(page, date=f"{MONTH}-12"))
    assert response.status_code == 409 and CLOSED_WORDS in response.get_data(as_text=True)

    h1 = households["h1"].token
    edit = f"/h/{h1}/visits/{VISIT_ID}/edit"
    shown = client.get(edit)
    assert shown.status_code == 409 and CLOSED_WORDS in shown.get_data(as_text=True)
    csrf = auth.csrf()
    corrected = client.post(edit, data={**form_data(page, date=f"{MONTH}-10"), "csrf_token": csrf})
    assert corrected.status_code == 409
    removed = client.post(
        f"/h/{h1}/visits/{VISIT_ID}/photos/{PHOTO_ID}/remove", data={"csrf_token": csrf}
    )
    assert removed.status_code == 409 and CLOSED_WORDS in removed.get_data(as_text=True)
    added = client.post(
        f"/h/{h1}/visits/{VISIT_ID}/photos",
        data={
            "csrf_token": csrf,
            "id": "p3333333-0000-4000-8000-0000000000c3",
            "file": (io.BytesIO(_jpeg()), "x.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert added.status_code == 409
    # The household page offers no correction of the closed month's visit.
    assert edit not in client.get(f"/h/{h1}?all=1").get_data(as_text=True)
    assert closed.visit_by_id(VISIT_ID).version == 1
    assert closed.visit_by_id(VISIT_ID).photos == [PHOTO_ID]
    assert len(closed.visits(MONTH)) == 1


def test_a_reopened_month_takes_visits_again(
    closed: Store, runner: Any, households: dict[str, Household]
) -> None:
    runner.invoke(args=["reopen-month", "--month", MONTH, "--reason", "补录"])
    payload = visit_payload(
        households["h2"], id="a1b2c3d4-0000-4000-8000-0000000000c4", date=f"{MONTH}-12"
    )
    _visit, created = record_visit(closed, payload, closed.user(ADMIN))
    assert created


# --- the reports page --------------------------------------------------------------------


def _download(client: FlaskClient, url: str) -> Any:
    """The response with its body read; a file response keeps its file open until closed."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def _reports(client: FlaskClient) -> str:
    response = client.get("/reports")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_office_closes_a_month_on_the_reports_page_and_the_county_can_check_it(
    visited: Store, client: FlaskClient, auth: Auth
) -> None:
    auth.login("admin")
    page = _reports(client)
    assert f'<option value="{MONTH}">' in page.split('id="close-month"', 1)[1]
    forged = client.post("/reports/months/close", data={"month": MONTH})
    assert forged.status_code == 400 and not visited.is_closed(MONTH)
    done = client.post(
        "/reports/months/close", data={"month": MONTH, "csrf_token": csrf_from(page)}
    )
    assert done.status_code == 303 and visited.is_closed(MONTH)

    listed = _reports(client)
    (sha,) = re.findall(r'<code class="break sha256">([0-9a-f]{64})</code>', listed)
    link = re.search(rf'href="(/reports/months/{MONTH}/[0-9a-f]{{64}}\.pdf)"', listed)
    assert link is not None
    download = _download(client, link.group(1))
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert hashlib.sha256(download.data).hexdigest() == sha
    assert PEOPLE["admin"][2] in listed  # who closed it
    (entry,) = _entries(visited, "month.close")
    assert (entry.who, entry.after["pdf"]) == (ADMIN, sha)
    again = client.post(
        "/reports/months/close",
        data={"month": MONTH, "csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert "已经关账" in again.get_data(as_text=True)


def test_supervisors_see_the_list_and_helpers_nothing(
    closed: Store, client: FlaskClient, auth: Auth
) -> None:
    name = closed.closed_months()[MONTH]["pdf"]
    auth.login("supervisor")
    page = _reports(client)
    assert name[:64] in page
    assert "/reports/months/close" not in page and "/reopen" not in page
    assert _download(client, f"/reports/months/{MONTH}/{name}").status_code == 200
    csrf = csrf_from(page)
    assert (
        client.post("/reports/months/close", data={"month": MONTH, "csrf_token": csrf}).status_code
        == 403
    )
    reopen = client.post(
        f"/reports/months/{MONTH}/reopen", data={"reason": "x", "csrf_token": csrf}
    )
    assert reopen.status_code == 403 and closed.is_closed(MONTH)
    assert client.get(f"/reports/months/{MONTH}/{'0' * 64}.pdf").status_code == 404
    assert "本月已关账" in client.get(f"/dashboard?month={MONTH}").get_data(as_text=True)

    client.get("/logout")
    auth.login("owner")
    assert client.get(f"/reports/months/{MONTH}/{name}").status_code == 403
    assert client.get("/reports").status_code == 403


def test_a_reopened_month_says_so_on_the_page_and_in_its_report(
    app: Flask, closed: Store, client: FlaskClient, auth: Auth, tmp_path: Path
) -> None:
    auth.login("admin")
    page = _reports(client)
    missing = client.post(
        f"/reports/months/{MONTH}/reopen", data={"reason": " ", "csrf_token": csrf_from(page)}
    )
    assert missing.status_code == 400 and closed.is_closed(MONTH)
    reason = "县里要求补录"
    done = client.post(
        f"/reports/months/{MONTH}/reopen", data={"reason": reason, "csrf_token": csrf_from(page)}
    )
    assert done.status_code == 303 and not closed.is_closed(MONTH)
    listed = _reports(client)
    assert reason in listed and "已重新打开" in listed
    assert f'<option value="{MONTH}">' in listed.split('id="close-month"', 1)[1]

    with app.app_context():
        text = read_pdf(monthly_report_pdf(closed, MONTH), tmp_path / "r.pdf").text
        assert "重新打开" in text and reason in text
        again = close_month(closed, MONTH, ADMIN).record["pdf"]
    # Closed again, the summary archived then still says it was reopened, and why.
    text = read_pdf(closed.closed.read(MONTH, again), tmp_path / "r.pdf").text
    assert "关账" in text and reason in text


def test_the_audit_log_names_closing_and_reopening(
    closed: Store, runner: Any, client: FlaskClient, auth: Auth
) -> None:
    runner.invoke(args=["reopen-month", "--month", MONTH, "--reason", "补录漏登"])
    auth.login("admin")
    page = client.get("/office/audit?kind=month.").get_data(as_text=True)
    assert "关账" in page and "补录漏登" in page and MONTH in page


# --- backups and the demo ----------------------------------------------------------------


def test_a_backup_and_its_restore_keep_the_closed_months_files(
    closed: Store, tmp_path: Path
) -> None:
    out = write_backup(closed, tmp_path / "backup.zip").path
    kept = {p.relative_to(closed.root).as_posix() for p in closed.closed.files()}
    assert len(kept) == 2  # the snapshot and the PDF
    target = tmp_path / "restored"
    restore_backup(out, target)
    restored = Store(target)
    assert restored.is_closed(MONTH)
    for name in kept:
        assert (target / name).read_bytes() == (closed.root / name).read_bytes()


def test_the_demo_has_its_past_months_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fieldvisit import create_app
    from fieldvisit.demo import ADMIN as DEMO_ADMIN
    from fieldvisit.demo import build_demo

    # The township's summary takes seconds to lay out; its content is tested elsewhere.
    monkeypatch.setattr(snapshot, "monthly_report_pdf", lambda *a, **k: b"%PDF-1.7 demo")

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "demo"), "SECRET_KEY": "x"})
    store = app.extensions["fieldvisit.store"]
    today = date(2026, 11, 20)
    with app.app_context():
        build_demo(store, months=2, today=today, close_months=True)
    assert store.is_closed("2026-10") and not store.is_closed("2026-11")
    record = store.closed_months()["2026-10"]
    assert record["closed_by"] == DEMO_ADMIN[0]
    assert store.closed.read("2026-10", record["pdf"]).startswith(b"%PDF-")


def test_the_completion_api_says_whether_a_month_is_closed(
    closed: Store, runner: Any, client: FlaskClient, auth: Auth
) -> None:
    auth.login("supervisor")

    def state(month: str) -> tuple[Any, Any, Any]:
        body = client.get(f"/api/v1/completion?month={month}").get_json()
        return body["closed"], body["closed_at"], body["reopenings"]

    closed_at = closed.closed_months()[MONTH]["closed_at"]
    assert state(MONTH) == (True, closed_at, 0)
    assert state(this_month(TODAY)) == (False, None, 0)  # never closed
    reopened = runner.invoke(args=["reopen-month", "--month", MONTH, "--reason", "补录"])
    assert reopened.exit_code == 0, reopened.output
    assert state(MONTH) == (False, closed_at, 1)  # its figures may change again
