"""Reopening a need (撤销销号) asks why: the reason is required, kept on the need's history
step and in the audit entry, and shown on the need's page and in the audit log."""

from __future__ import annotations

import re
from datetime import date

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit.visits import needs
from fieldvisit.visits.recording import record_visit

ADMIN = PEOPLE["admin"][0]
MONTH = date.today().isoformat()[:7]
REASON = "回访发现仍漏雨"


@pytest.fixture()
def need(store, households):
    """A resolved need of 马娟's household (屋顶漏雨)."""
    leak = {"category": "housing", "description": "屋顶漏雨", "urgent": False}
    record_visit(
        store, visit_payload(households["h1"], needs=[leak]), store.user(PEOPLE["owner"][0])
    )
    (raised,) = store.needs(MONTH)
    return needs.resolve(store, raised.id, ADMIN, "已修缮")


def _stored(store, need_id):
    return next(n for n in store.needs(MONTH) if n.id == need_id)


def _reopen_entries(store):
    return [e for e in store.audit_log.entries(MONTH) if e.action == "need.reopen"]


def _reopen_form(page: str) -> str:
    start = page.index('action="/needs/')
    start = page.rindex("<form", 0, page.index("/reopen", start))
    return page[start : page.index("</form>", start)]


def test_the_form_asks_for_a_reason(client, auth, need):
    auth.login("admin")
    form = _reopen_form(client.get(f"/needs/{need.id}").get_data(as_text=True))
    assert "重新打开的原因（必填）" in form and "可不填" not in form
    assert re.search(r'<textarea id="reopen-note" name="note"[^>]* required', form)


@pytest.mark.parametrize("reason", ["", "  \u3000 "], ids=["empty", "blank"])
def test_without_a_reason_it_is_refused_at_the_field_and_nothing_changes(
    client, auth, store, need, reason
):
    auth.login("admin")
    response = client.post(
        f"/needs/{need.id}/reopen", data={"csrf_token": auth.csrf(), "note": reason}
    )
    assert response.status_code == 400
    form = _reopen_form(response.get_data(as_text=True))
    assert '<p class="error" id="reopen-note-error" role="alert">请写明重新打开的原因</p>' in form
    assert 'aria-invalid="true" aria-describedby="reopen-note-error"' in form
    after = _stored(store, need.id)
    assert after.status == "resolved" and after.resolution == "已修缮"
    assert [s["action"] for s in after.history] == ["resolve"]
    assert _reopen_entries(store) == []


def test_a_reason_too_long_is_refused_and_kept_in_the_field(client, auth, store, need):
    auth.login("admin")
    text = "漏" * (needs.MAX_NOTE + 1)
    response = client.post(
        f"/needs/{need.id}/reopen", data={"csrf_token": auth.csrf(), "note": text}
    )
    assert response.status_code == 400
    form = _reopen_form(response.get_data(as_text=True))
    assert f">{text}</textarea>" in form and "最多 1000 字" in form
    assert _stored(store, need.id).status == "resolved"


def test_the_reason_is_kept_and_shown_on_the_need_and_in_the_log(client, auth, store, need):
    auth.login("admin")
    response = client.post(
        f"/needs/{need.id}/reopen", data={"csrf_token": auth.csrf(), "note": f"  {REASON} "}
    )
    assert response.status_code == 302
    after = _stored(store, need.id)
    assert after.status == "open"
    step = after.history[-1]
    assert (step["action"], step["who"], step["note"]) == ("reopen", ADMIN, REASON)
    (entry,) = _reopen_entries(store)
    assert entry.after["reason"] == REASON and entry.before["resolution"] == "已修缮"
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert f"原因：{REASON}" in page
    log = client.get("/office/audit").get_data(as_text=True)
    row = log[log.index("<td>重新打开需求</td>") :]
    row = row[: row.index("</tr>")]
    assert '<td class="break">住房：屋顶漏雨</td>' in row
    assert f"<b>重新打开的原因</b>: {REASON}" in row
    assert need.id not in log


def test_an_open_need_is_refused_as_open_whatever_the_reason(client, auth, store, need):
    auth.login("admin")
    client.post(f"/needs/{need.id}/reopen", data={"csrf_token": auth.csrf(), "note": REASON})
    response = client.post(f"/needs/{need.id}/reopen", data={"csrf_token": auth.csrf()})
    assert response.status_code == 409
    assert "这条需求还没有销号" in response.get_data(as_text=True)
    assert len(_reopen_entries(store)) == 1
