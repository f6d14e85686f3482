"""Odd requests get a clear 4xx, never a 500: JSON nested ten thousand deep, a 户编号 sent as
a number, unknown checklist keys by the thousand, and checklist labels holding "%" or markup,
which are shown as the text they are wherever they appear."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit import vocab
from fieldvisit.access.tokens import create_token
from fieldvisit.documents import monthly as reports

TODAY = date.today()
MONTH = TODAY.isoformat()[:7]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def bearer(store, households):
    def make(who: str) -> dict[str, str]:
        token = create_token(store, PEOPLE[who][0], actor="test")
        return {"Authorization": f"Bearer {token}"}

    return make


def _nothing_stored(store) -> None:
    assert store.visits(MONTH) == []
    assert not any(e.action.startswith("visit.") for e in store.audit_log.entries(MONTH))


# --- deeply nested JSON -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 10_000 + "]" * 10_000,
        '{"a":' * 10_000 + "1" + "}" * 10_000,
        '{"id": "a1b2c3d4-0000", "notes": ' + "[" * 10_000 + "]" * 10_000 + "}",
    ],
    ids=["arrays", "objects", "inside-a-visit"],
)
def test_deeply_nested_json_is_a_400_in_json(client, bearer, store, body):
    response = client.post(
        "/api/v1/visits", data=body, content_type="application/json", headers=bearer("owner")
    )
    assert response.status_code == 400
    assert response.get_json() == {"error": "JSON 嵌套层数过多"}
    _nothing_stored(store)


def test_a_browser_session_sending_nested_json_gets_the_same_400(client, auth, store, households):
    auth.login("owner")
    csrf = client.get("/api/v1/csrf").get_json()["csrf_token"]
    response = client.post(
        "/api/v1/visits",
        data="[" * 10_000 + "]" * 10_000,
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "JSON 嵌套层数过多"
    _nothing_stored(store)


def test_json_that_is_not_an_object_is_still_told_so(client, bearer, store):
    response = client.post("/api/v1/visits", json=[1, 2], headers=bearer("owner"))
    assert response.status_code == 400
    assert response.get_json() == {"error": "请求内容须为 JSON 对象"}
    _nothing_stored(store)


# --- types are checked ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "household",
    [4117210010001, 4117210010001.0, ["4117210010001"], {"id": "4117210010001"}, True],
    ids=["number", "float", "list", "object", "bool"],
)
def test_a_household_that_is_not_text_is_a_400_naming_the_field(
    client, bearer, store, households, household
):
    payload = visit_payload(households["h1"], household=household)
    response = client.post("/api/v1/visits", json=payload, headers=bearer("owner"))
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"household": "户编号应为文字"}
    _nothing_stored(store)


def test_the_household_as_text_is_still_stored(client, bearer, store, households):
    payload = visit_payload(households["h1"])
    response = client.post("/api/v1/visits", json=payload, headers=bearer("owner"))
    assert response.status_code == 201
    assert [v.household for v in store.visits(MONTH)] == [households["h1"].id]


def test_an_admins_helper_sent_as_a_number_is_refused(client, bearer, store, households):
    payload = visit_payload(households["h1"], helper=int(PEOPLE["owner"][0]))
    response = client.post("/api/v1/visits", json=payload, headers=bearer("admin"))
    assert response.status_code == 400
    assert "helper" in response.get_json()["errors"]
    _nothing_stored(store)


def test_unknown_checklist_keys_are_named_a_few_and_short(client, bearer, store, households):
    environment = visit_payload(households["h1"])["environment"]
    junk = {f"junk{i:04d}-" + "x" * 2000: True for i in range(500)}
    payload = visit_payload(households["h1"], environment={**environment, **junk})
    response = client.post("/api/v1/visits", json=payload, headers=bearer("owner"))
    assert response.status_code == 400
    message = response.get_json()["errors"]["environment"]
    assert message.startswith("未知项目：junk0000-xxx")
    assert "junk0002-" in message and "junk0003-" not in message
    assert len(message) < 200
    assert len(response.get_data()) < 2000
    _nothing_stored(store)


def test_one_unknown_checklist_key_is_named(client, bearer, store, households):
    environment = {**visit_payload(households["h1"])["environment"], "foo": True}
    payload = visit_payload(households["h1"], environment=environment)
    response = client.post("/api/v1/visits", json=payload, headers=bearer("owner"))
    assert response.status_code == 400
    assert response.get_json()["errors"]["environment"] == "未知项目：foo"
    client.get("/lang/en")
    response = client.post("/api/v1/visits", json=payload, headers=bearer("owner"))
    assert response.get_json()["errors"]["environment"] == "Unknown items: foo"


def test_an_unknown_key_from_the_form_is_named_without_its_control_characters(
    client, auth, store, households
):
    auth.login("owner")
    response = client.post(
        f"/h/{households['h1'].token}/visit",
        data={
            "csrf_token": auth.csrf(),
            "id": "a1b2c3d4-0000-4000-8000-000000000009",
            "date": TODAY.isoformat(),
            "kind": "phone",
            "satisfaction": "satisfied",
            "env_bad\x00key<b>": "yes",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "未知项目：badkey&lt;b&gt;" in html
    _nothing_stored(store)


# --- checklist labels are text ----------------------------------------------------------------

ODD_LABELS = {"kitchen": "厨房100%干净 <b>x</b>", "odd": "%(x)s", "pct": "100%"}
ESCAPED = ["厨房100%干净 &lt;b&gt;x&lt;/b&gt;", "%(x)s", "100%"]


@pytest.fixture()
def odd_checklist(store, households):
    """The township's own checklist: one default item and three labels full of "%" and
    markup."""
    items = [{"key": "yard", "label": "院落干净整洁"}]
    items += [{"key": k, "label": v} for k, v in ODD_LABELS.items()]
    store.update_registry(lambda reg: reg.settings.__setitem__("checklist", items))


@pytest.fixture()
def failed_visit(odd_checklist, client, bearer, store, households):
    """An in-person visit of h1 that failed every odd item."""
    environment = {"yard": True, "kitchen": False, "odd": False, "pct": False}
    payload = visit_payload(households["h1"], environment=environment)
    response = client.post("/api/v1/visits", json=payload, headers=bearer("owner"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _shows_labels_as_text(html: str) -> None:
    for text in ESCAPED:
        assert text in html
    assert "<b>x</b>" not in html


def test_the_visit_form_shows_odd_labels_as_text(client, auth, households, odd_checklist):
    auth.login("owner")
    response = client.get(f"/h/{households['h1'].token}/visit")
    assert response.status_code == 200
    _shows_labels_as_text(response.get_data(as_text=True))


def test_a_visit_with_odd_labels_is_stored_from_the_form(client, auth, store, households):
    items = [{"key": k, "label": v} for k, v in ODD_LABELS.items()]
    store.update_registry(lambda reg: reg.settings.__setitem__("checklist", items))
    auth.login("owner")
    token = households["h1"].token
    form = {
        "csrf_token": auth.csrf(),
        "id": "a1b2c3d4-0000-4000-8000-000000000010",
        "date": TODAY.isoformat(),
        "kind": "in_person",
        "satisfaction": "satisfied",
        **{f"g_{k}": "yes" for k in vocab.GUARANTEES},
        **{f"env_{k}": "no" for k in ODD_LABELS},
    }
    response = client.post(f"/h/{token}/visit", data=form)
    assert response.status_code == 302
    [stored] = store.visits(MONTH)
    assert stored.environment == dict.fromkeys(ODD_LABELS, False)
    assert client.get(f"/h/{token}").status_code == 200


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_dashboard_shows_odd_labels_as_text(client, auth, failed_visit, lang):
    auth.login("supervisor")
    client.get(f"/lang/{lang}")
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    _shows_labels_as_text(html)
    # The default item is still translated; the township's own are shown as written.
    assert ("Yard clean" if lang == "en" else "院落干净整洁") in html


def test_the_household_page_and_the_audit_log_show_odd_labels_as_text(
    client, auth, households, failed_visit
):
    auth.login("admin")
    # The household page shows the first few changes of each entry (the checklist is not
    # among them): it must still load.
    household_page = client.get(f"/h/{households['h1'].token}")
    assert household_page.status_code == 200
    assert "<b>x</b>" not in household_page.get_data(as_text=True)
    log = client.get("/office/audit")
    assert log.status_code == 200
    _shows_labels_as_text(log.get_data(as_text=True))


def test_the_offline_queue_page_carries_odd_labels_as_text(client, auth, odd_checklist):
    auth.login("owner")
    response = client.get("/queue")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "厨房100%干净 &lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html


def test_the_monthly_report_prints_odd_labels_as_text(app, store, failed_visit):
    with app.test_request_context():
        html = reports.monthly_report_html(reports.build_monthly_report(store, MONTH, None, TODAY))
    _shows_labels_as_text(html)


def test_every_vocabulary_label_has_its_translation_lookup():
    vocabularies = [
        vocab.ATTRIBUTES,
        vocab.CAUSES,
        vocab.STATUSES,
        vocab.VISIT_KINDS,
        vocab.GUARANTEES,
        vocab.NEED_CATEGORIES,
        vocab.SATISFACTION,
        vocab.ROLES,
        vocab.MONTH_STATES,
        dict(vocab.DEFAULT_CHECKLIST),
    ]
    for vocabulary in vocabularies:
        for chinese in vocabulary.values():
            assert chinese in vocab._TRANSLATIONS, chinese
    assert vocab.translate("厨房100%干净 <b>x</b>") == "厨房100%干净 <b>x</b>"


# A template's _() formats its result with % and marks it safe: it may only be given literal
# text. Its arguments start with a quote; anything else (a variable, a label) is refused.
_TEMPLATE_GETTEXT = re.compile(r"(?<![\w.])(_|gettext|ngettext|pgettext)\(\s*(?P<first>.)")


def test_templates_only_translate_literal_text():
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in _TEMPLATE_GETTEXT.finditer(line):
                if match["first"] not in "\"'":
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
