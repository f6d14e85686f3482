"""The audit log names what each entry is about as the office knows it: a household by 户主
and 户编号, a visit by its household and date, a need by its category and text; never by a
visit's, need's or photo's id."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from helpers import PASSWORD, PEOPLE, make_household, visit_payload

from fieldvisit.access.passwords import hash_password
from fieldvisit.access.tokens import create_token
from fieldvisit.clock import now_iso
from fieldvisit.households.lookup import reissue_token
from fieldvisit.models import AuditEntry, User
from fieldvisit.visits import needs
from fieldvisit.visits.recording import record_visit

ADMIN = PEOPLE["admin"][0]
OWNER = PEOPLE["owner"][0]
TODAY = date.today()
MONTH = TODAY.isoformat()[:7]
H1 = "4117210010001"
MA_JUAN = f"马娟（{H1}）"
VISIT_ID = "a1b2c3d4-0000-4000-8000-000000000001"
PHOTO_ID = "p1111111-0000-4000-8000-000000000001"
SPARE = "13900000009"  # a helper paired with nobody


def _targets(page: str) -> list[str]:
    """The audit page's 对象 cells, newest entry first."""
    return re.findall(r'<td class="break">(.*?)</td>', page, re.S)


def _cells(page: str) -> list[str]:
    """The audit page's 改动 cells, newest entry first."""
    return re.findall(r'<td class="changes">(.*?)</td>', page, re.S)


def _audit_page(client, auth) -> str:
    auth.login("admin")
    return client.get("/office/audit").get_data(as_text=True)


def _today() -> str:
    return f"{TODAY.month}月{TODAY.day}日"


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def test_a_household_is_named_by_its_head_and_number(client, auth, store, households):
    reissue_token(store, H1, ADMIN)
    assert [e.target for e in store.audit_log.entries(MONTH)] == [H1]  # the log keeps the id
    assert _targets(_audit_page(client, auth)) == [MA_JUAN]


def test_a_household_no_longer_registered_falls_back_to_its_number(client, auth, store, households):
    reissue_token(store, H1, ADMIN)
    store.update_registry(lambda reg: reg.households.pop(H1))
    assert _targets(_audit_page(client, auth)) == [H1]


def test_a_renamed_household_is_named_as_the_registry_has_it_now(client, auth, store, households):
    reissue_token(store, H1, ADMIN)
    store.update_registry(lambda reg: setattr(reg.households[H1], "head", "马娟娟"))
    assert _targets(_audit_page(client, auth)) == [f"马娟娟（{H1}）"]


def test_a_visit_is_named_by_its_household_and_date_never_by_its_id(
    client, auth, store, households
):
    record_visit(store, visit_payload(households["h1"]), store.user(OWNER))
    page = _audit_page(client, auth)
    assert _targets(page) == [f"{MA_JUAN}{_today()}的走访"]
    assert VISIT_ID not in page


def test_a_visit_of_another_year_shows_the_year(client, auth, store, households):
    old = date(TODAY.year - 2, 6, 1).isoformat()
    record_visit(store, visit_payload(households["h1"], date=old), store.user(ADMIN))
    assert _targets(_audit_page(client, auth)) == [f"{MA_JUAN}{TODAY.year - 2}年6月1日的走访"]


def test_a_visit_no_longer_stored_is_named_by_what_its_entry_recorded(
    client, auth, store, households
):
    doc = {"household": H1, "date": TODAY.isoformat()}
    store.audit(AuditEntry(now_iso(), OWNER, "visit.create", "gone-visit-0001", None, doc))
    store.audit(AuditEntry(now_iso(), OWNER, "visit.photo", "gone-visit-0002"))
    page = _audit_page(client, auth)
    assert _targets(page) == ["已删除的走访", f"{MA_JUAN}{_today()}的走访"]
    assert "gone-visit" not in page


def test_a_need_is_named_by_its_category_and_text(client, auth, store, households):
    long_text = "需要慢病药报销和定期复查陪同就医"
    needs_raised = [
        {"category": "medical", "description": long_text, "urgent": False},
        {"category": "housing", "description": "屋顶漏雨", "urgent": False},
    ]
    record_visit(store, visit_payload(households["h1"], needs=needs_raised), store.user(OWNER))
    by_text = {n.description: n for n in store.needs(MONTH)}
    needs.resolve(store, by_text[long_text].id, ADMIN, "已协调报销")
    needs.comment(store, by_text["屋顶漏雨"].id, ADMIN, "请尽快维修")
    page = _audit_page(client, auth)
    assert _targets(page)[:2] == ["住房：屋顶漏雨", "医疗：需要慢病药报销和定期复…"]
    for need in by_text.values():
        assert need.id not in page


def test_a_need_no_longer_in_the_ledger_is_not_shown_by_its_id(client, auth, store, households):
    store.audit(AuditEntry(now_iso(), ADMIN, "need.comment", "gone-need-0001", None, {"text": "x"}))
    page = _audit_page(client, auth)
    assert _targets(page) == ["已不在台账中的需求"] and "gone-need-0001" not in page


def test_a_photo_upload_names_the_visit_and_not_the_photo(client, auth, store, households):
    headers = {"Authorization": f"Bearer {create_token(store, OWNER, actor='test')}"}
    response = client.post("/api/v1/visits", json=visit_payload(households["h1"]), headers=headers)
    assert response.status_code == 201
    response = client.post(
        f"/api/v1/visits/{VISIT_ID}/photos",
        data={"id": PHOTO_ID, "file": (io.BytesIO(_jpeg()), "a.jpg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    (entry,) = [e for e in store.audit_log.entries(MONTH) if e.action == "visit.photo"]
    assert entry.target == VISIT_ID and entry.after == {"photos": [PHOTO_ID]}  # as stored
    page = _audit_page(client, auth)
    assert "<td>添加照片</td>" in page
    photo_row = page[page.index("<td>添加照片</td>") :]
    assert _targets(photo_row)[0] == f"{MA_JUAN}{_today()}的走访"
    assert _cells(photo_row)[0] == "<div><b>走访照片</b>: 1 张照片</div>"
    assert PHOTO_ID not in page and VISIT_ID not in page


def test_a_photo_removal_names_the_visit_and_not_the_photo(client, auth, store, households):
    visit, _created = record_visit(store, visit_payload(households["h1"]), store.user(OWNER))
    # As the removal writes it: the photos before and after, and the removed photo's id.
    before = {"photos": [PHOTO_ID], "photo": PHOTO_ID}
    store.audit(
        AuditEntry(now_iso(), OWNER, "visit.photo_remove", visit.id, before, {"photos": []})
    )
    page = _audit_page(client, auth)
    assert _targets(page)[0] == f"{MA_JUAN}{_today()}的走访"
    assert _cells(page)[0] == "<div><b>走访照片</b>: <del>1 张照片</del> → </div>"
    assert PHOTO_ID not in page and VISIT_ID not in page


@pytest.fixture()
def two_households(store, households):
    """The owner's second household (王建国) and a spare helper."""

    def add(reg):
        h = make_household(id="4117210010007", head="王建国", group="5组", id_number="")
        reg.households[h.id] = h
        reg.users[SPARE] = User(SPARE, "孙备用", "helper", hash_password(PASSWORD))

    store.update_registry(add)
    return store


def test_a_transfer_lists_the_households_it_moved(client, auth, two_households):
    auth.login("admin")
    response = client.post(
        f"/office/helpers/{OWNER}/transfer", data={"csrf_token": auth.csrf(), "to": SPARE}
    )
    assert response.status_code == 302
    (entry,) = [e for e in two_households.audit_log.entries(MONTH) if e.action == "helper.transfer"]
    assert sorted(entry.after["households"]) == [H1, "4117210010007"]
    page = client.get("/office/audit").get_data(as_text=True)
    assert _targets(page) == ["张帮扶 13900000001"]
    assert _cells(page) == [
        "<div><b>转给</b>: 孙备用 13900000009</div>"
        f"<div><b>帮扶户</b>: 2 户：{MA_JUAN}和王建国（4117210010007）</div>"
    ]
