"""The audit log: every kind of change leaves an entry, and the office reads them back."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import PEOPLE, visit_payload

from fieldvisit import admin, audit, auth, needs, registry
from fieldvisit.households import reissue_token
from fieldvisit.models import AuditEntry
from fieldvisit.visits import correct_visit, record_visit

ADMIN = PEOPLE["admin"][0]
OWNER = PEOPLE["owner"][0]
OTHER = PEOPLE["other"][0]
MONTH = date.today().isoformat()[:7]


def _all(store) -> list[AuditEntry]:
    return audit.entries(store, audit.Filters())


def _one(store, action: str) -> AuditEntry:
    found = [e for e in _all(store) if e.action == action]
    assert len(found) == 1, [e.action for e in _all(store)]
    return found[0]


def _visit(store, households, **kw):
    stored, _created = record_visit(store, visit_payload(households["h1"], **kw), store.user(OWNER))
    return stored


def test_it_records_every_kind_of_change(store, households):
    h1 = households["h1"]
    visit = _visit(store, households)
    correct_visit(store, visit, visit_payload(h1, notes="补充说明"), store.user(OWNER))
    need = store.needs(MONTH)[0]
    needs.resolve(store, need.id, ADMIN, "已协调报销")
    admin.set_helpers(store, h1.id, [OTHER], ADMIN)
    reissue_token(store, h1.id, ADMIN)
    auth.create_user(store, "helper", "新帮扶", "13900000009", None, ADMIN)
    auth.create_token(store, "13900000009", ADMIN)
    admin.reset_password(store, "13900000009", ADMIN)
    data = registry.export_registry_bytes(store, "csv")
    registry.import_registry(store, data, "花名册.csv", ADMIN)

    assert _one(store, "visit.create").target == visit.id
    corrected = _one(store, "visit.correct")
    assert corrected.before["notes"] == "院子已打扫" and corrected.after["notes"] == "补充说明"
    resolved = _one(store, "need.resolve")
    assert (resolved.target, resolved.before["status"], resolved.after["status"]) == (
        need.id,
        "open",
        "resolved",
    )
    helpers = _one(store, "household.helpers")
    assert (helpers.before, helpers.after) == ([OWNER], [OTHER])
    assert _one(store, "household.token").target == h1.id
    assert _one(store, "user.create").after["phone"] == "13900000009"
    assert "password_hash" not in _one(store, "user.create").after
    assert _one(store, "token.create").target == "13900000009"
    assert _one(store, "user.password").who == ADMIN
    assert _one(store, "registry.import").target == "花名册.csv"
    assert all(e.at and e.who for e in _all(store))


def test_it_keeps_id_numbers_masked_in_the_log(store, households):
    h1 = households["h1"]
    admin.edit_household(
        store, h1.id, {**{n: str(getattr(h1, n) or "") for n in admin.EDITABLE},
                       "id_number": "41172119810905367X", "long_absent": ""}, ADMIN
    )  # fmt: skip
    registry.import_registry(store, registry.export_registry_bytes(store, "csv"), "r.csv", ADMIN)
    raw = "".join(p.read_text("utf-8") for p in (store.root / "audit").glob("*.jsonl"))
    assert "household.edit" in raw
    for number in ("411721193701024373", "41172119810905367X"):
        assert number not in raw


def test_it_filters_newest_first(store, households):
    _visit(store, households)
    reissue_token(store, households["h2"].id, ADMIN)
    everything = _all(store)
    assert [e.action for e in everything] == ["household.token", "visit.create"]
    assert [e.action for e in audit.entries(store, audit.Filters(kind="visit."))] == [
        "visit.create"
    ]
    assert [e.who for e in audit.entries(store, audit.Filters(who=ADMIN))] == [ADMIN]
    only_h2 = audit.entries(store, audit.Filters(household=households["h2"].id))
    assert [e.action for e in only_h2] == ["household.token"]
    assert audit.entries(store, audit.Filters(date_to="2000-01-01")) == []
    today = date.today().isoformat()
    assert len(audit.entries(store, audit.Filters(date_from=today, date_to=today))) == 2


def test_household_history_takes_its_visits_and_needs_and_bulk_changes(store, households):
    h1 = households["h1"]
    visit = _visit(store, households)
    needs.resolve(store, store.needs(MONTH)[0].id, ADMIN, "已办")
    admin.transfer_households(store, OWNER, OTHER, ADMIN)
    reissue_token(store, households["h2"].id, ADMIN)  # another household's
    history = audit.household_history(store, h1)
    assert [e.action for e in history][::-1] == ["visit.create", "need.resolve", "helper.transfer"]
    assert history[-1].target == visit.id


@pytest.mark.parametrize(("who", "status"), [("owner", 403), ("supervisor", 200), ("admin", 200)])
def test_the_audit_page_is_for_the_office_and_supervisors(client, auth, households, who, status):
    auth.login(who)
    assert client.get("/office/audit").status_code == status


def test_nobody_is_sent_to_login(client, households):
    response = client.get("/office/audit")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_page_lists_filtered_entries_with_their_changes(client, auth, store, households):
    _visit(store, households)
    admin.set_helpers(store, households["h1"].id, [OTHER], ADMIN)
    auth.login("admin")
    page = client.get("/office/audit?kind=household.").get_data(as_text=True)
    assert "household.helpers" in page and "visit.create" not in page
    assert OTHER in page and "操作记录" in page
    page = client.get(f"/office/audit?household={households['h1'].id}").get_data(as_text=True)
    assert "visit.create" in page and "household.helpers" in page


def test_the_household_page_shows_its_history_to_the_office_only(client, auth, store, households):
    h1 = households["h1"]
    _visit(store, households)
    reissue_token(store, households["h2"].id, ADMIN)
    token = store.household(h1.id).token
    auth.login("supervisor")
    page = client.get(f"/h/{token}").get_data(as_text=True)
    assert 'id="audit"' in page and "visit.create" in page and "household.token" not in page
    client.post("/logout", data={"csrf_token": auth.csrf()})
    auth.login("owner")
    page = client.get(f"/h/{token}").get_data(as_text=True)
    assert 'id="audit"' not in page and "visit.create" not in page


def test_the_log_is_read_again_as_it_grows_and_a_torn_line_is_skipped(store, households):
    reissue_token(store, households["h1"].id, ADMIN)
    assert [e.action for e in store.audit_log(MONTH)] == ["household.token"]
    path = store.root / "audit" / f"{MONTH}.jsonl"
    with path.open("ab") as fh:
        fh.write(b'{"at": "cut short')  # a crash mid-append: not yet a line
    assert len(store.audit_log(MONTH)) == 1
    with path.open("ab") as fh:
        fh.write(b"\n")
    reissue_token(store, households["h2"].id, ADMIN)
    assert [e.target for e in store.audit_log(MONTH)] == [households["h1"].id, households["h2"].id]
    assert store.audit_log(MONTH) == store.audit_entries(MONTH)


def test_the_page_shows_the_last_twelve_months_unless_asked():
    today = date(2026, 3, 15)
    assert audit.Filters.from_args({}, today).date_from == "2025-04-01"
    everything = audit.Filters.from_args({"from": ""}, today)
    assert everything.date_from == "" and everything.args() == {"from": ""}
    assert audit.Filters.from_args({"from": "nonsense", "kind": "rm -rf"}, today) == audit.Filters()


def test_older_entries_are_outside_the_default_window(client, auth, store, households):
    store.audit(AuditEntry("2019-05-01T10:00:00+08:00", ADMIN, "household.token", "4117210010001"))
    auth.login("admin")
    assert "2019-05-01" not in client.get("/office/audit").get_data(as_text=True)
    assert "2019-05-01" in client.get("/office/audit?from=").get_data(as_text=True)
