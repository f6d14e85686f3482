"""Identifiers are whole strings: a visit id, photo id, month or date that ends in a newline
or holds another control character is refused with 400, through the API, the pages and the
CLI, and nothing is stored. Python's ``$`` matches before a final newline, so each pattern
is matched to the very end (``\\Z``), and only ASCII digits count as digits."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit.access.tokens import create_token
from fieldvisit.access.users import PHONE_RE
from fieldvisit.audit import reading as audit
from fieldvisit.months import check_month
from fieldvisit.storage.paths import PHOTO_ID_RE
from fieldvisit.visits.validation import DATE_RE, ID_RE

TODAY = date.today()
MONTH = TODAY.isoformat()[:7]
VISIT_ID = "a1b2c3d4-0000-4000-8000-000000000001"
PHOTO_ID = "p1111111-0000-4000-8000-000000000001"
# What an attacker appends or slips in: a newline (the one Python's $ lets through), the
# others for good measure.
ODD_ENDS = ["\n", "\r", "\t", "\x00", "\x0b", "\x1f", "\x7f", "\x85"]


@pytest.fixture()
def bearer(store, households):
    def make(who: str) -> dict[str, str]:
        token = create_token(store, PEOPLE[who][0], actor="test")
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture()
def stored_visit(client, bearer, households, store):
    """An in-person visit of h1 with one photo, stored through the API by its helper."""
    headers = bearer("owner")
    response = client.post("/api/v1/visits", json=visit_payload(households["h1"]), headers=headers)
    assert response.status_code == 201
    response = client.post(
        f"/api/v1/visits/{VISIT_ID}/photos",
        data={"id": PHOTO_ID, "file": (io.BytesIO(_jpeg()), "a.jpg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    return response.get_json()


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def _stored_ids(store) -> list[str]:
    return [v.id for v in store.visits(MONTH)]


# --- the patterns themselves ----------------------------------------------------------------


@pytest.mark.parametrize("end", ODD_ENDS)
def test_no_pattern_takes_a_value_with_a_control_character(end):
    assert ID_RE.match(VISIT_ID) and not ID_RE.match(VISIT_ID + end)
    assert PHOTO_ID_RE.match(PHOTO_ID) and not PHOTO_ID_RE.match(PHOTO_ID + end)
    assert not PHOTO_ID_RE.match("abc" + end + "12345")
    assert DATE_RE.match("2026-11-02") and not DATE_RE.match("2026-11-02" + end)
    assert audit._DAY.match("2026-11-02") and not audit._DAY.match("2026-11-02" + end)
    assert PHONE_RE.match("13900000001") and not PHONE_RE.match("13900000001" + end)
    assert check_month("2026-11") == "2026-11"
    with pytest.raises(ValueError):
        check_month("2026-11" + end)


@pytest.mark.parametrize(
    "value", ["２０２６-11", "٢٠٢٦-11", "2026-１1"], ids=["fullwidth", "arabic-indic", "mixed"]
)
def test_only_ascii_digits_make_a_month_a_date_or_a_phone(value):
    with pytest.raises(ValueError):
        check_month(value)
    assert not DATE_RE.match(value + "-02")
    assert not audit._DAY.match(value + "-02")
    assert not PHONE_RE.match("１３９００００００01")


# --- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["\n", "\t", "\x00"])
def test_a_visit_id_with_a_control_character_is_refused_and_nothing_stored(
    client, bearer, households, store, end
):
    payload = visit_payload(households["h1"], id=VISIT_ID + end)
    response = client.post("/api/v1/visits", json=payload, headers=bearer("owner"))
    assert response.status_code == 400
    assert response.get_json()["errors"]["id"] == "记录编号无效"
    assert _stored_ids(store) == []
    assert not any(e.action == "visit.create" for e in store.audit_log.entries(MONTH))


def test_a_date_with_a_trailing_newline_is_refused_and_nothing_stored(
    client, bearer, households, store
):
    payload = visit_payload(households["h1"], date=TODAY.isoformat() + "\n")
    response = client.post("/api/v1/visits", json=payload, headers=bearer("owner"))
    assert response.status_code == 400
    assert response.get_json()["errors"]["date"] == "请填写日期（年-月-日）"
    assert _stored_ids(store) == []


@pytest.mark.parametrize("path", ["/api/v1/visits", "/api/v1/completion"])
@pytest.mark.parametrize("month", [MONTH + "\n", "\t" + MONTH, MONTH + "\x00", "２０２６-01"])
def test_a_month_query_with_a_control_character_or_odd_digits_is_a_400(client, bearer, path, month):
    response = client.get(path, query_string={"month": month}, headers=bearer("admin"))
    assert response.status_code == 400
    assert response.get_json()["error"]
    assert (
        client.get(path, query_string={"month": MONTH}, headers=bearer("admin")).status_code == 200
    )


def test_a_month_query_error_is_in_the_users_language(client, bearer):
    client.get("/lang/en")
    response = client.get(f"/api/v1/visits?month={MONTH}%0A", headers=bearer("admin"))
    assert response.status_code == 400
    assert response.get_json()["errors"]["month"].startswith("The month must be written")


def test_a_photo_upload_to_a_visit_id_with_a_newline_is_a_400(client, bearer, stored_visit, store):
    response = client.post(
        f"/api/v1/visits/{VISIT_ID}%0A/photos",
        data={"id": "p2222222-0000", "file": (io.BytesIO(_jpeg()), "a.jpg")},
        headers=bearer("owner"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "visit_id" in response.get_json()["errors"]
    assert store.find_visit(MONTH, "聂河村", VISIT_ID).photos == [PHOTO_ID]


@pytest.mark.parametrize("end", ["\n", "\x00"])
def test_a_photo_id_with_a_control_character_is_refused_and_nothing_stored(
    client, bearer, stored_visit, store, end
):
    response = client.post(
        f"/api/v1/visits/{VISIT_ID}/photos",
        data={"id": "p2222222-0000" + end, "file": (io.BytesIO(_jpeg()), "a.jpg")},
        headers=bearer("owner"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert store.find_visit(MONTH, "聂河村", VISIT_ID).photos == [PHOTO_ID]
    folder = store.root / "photos" / MONTH / VISIT_ID
    assert sorted(p.name for p in folder.iterdir() if "p2222222" in p.name) == []


# --- the pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_a_photo_address_with_a_newline_is_a_400(client, auth, stored_visit, who):
    auth.login(who)
    with client.get(f"/photos/{VISIT_ID}/{PHOTO_ID}") as shown:
        assert shown.status_code == 200
    for path in (
        f"/photos/{VISIT_ID}%0A/{PHOTO_ID}",
        f"/photos/{VISIT_ID}/{PHOTO_ID}%0A",
        f"/photos/{VISIT_ID}/{PHOTO_ID}%0A?thumb=1",
        f"/photos/{VISIT_ID}%00/{PHOTO_ID}",
    ):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "链接中含有无效字符" in response.get_data(as_text=True)


def test_the_edit_page_of_a_visit_id_with_a_newline_is_a_400_and_changes_nothing(
    client, auth, households, stored_visit, store
):
    auth.login("owner")
    token = households["h1"].token
    assert client.get(f"/h/{token}/visits/{VISIT_ID}/edit").status_code == 200
    response = client.get(f"/h/{token}/visits/{VISIT_ID}%0A/edit")
    assert response.status_code == 400
    posted = client.post(
        f"/h/{token}/visits/{VISIT_ID}%0A/edit",
        data={"csrf_token": auth.csrf(), "kind": "phone", "date": TODAY.isoformat()},
    )
    assert posted.status_code == 400
    assert store.find_visit(MONTH, "聂河村", VISIT_ID).version == 1
    assert client.get(f"/h/{token}%0A").status_code == 400


def test_a_visit_form_date_with_a_newline_is_refused_on_the_form(client, auth, households, store):
    auth.login("owner")
    token = households["h1"].token
    response = client.post(
        f"/h/{token}/visit",
        data={
            "csrf_token": auth.csrf(),
            "id": VISIT_ID,
            "date": TODAY.isoformat() + "\n",
            "kind": "phone",
            "satisfaction": "satisfied",
        },
    )
    assert response.status_code == 400
    assert "请填写日期（年-月-日）" in response.get_data(as_text=True)
    assert _stored_ids(store) == []


@pytest.mark.parametrize("path", ["/dashboard", "/reports", "/needs", "/api/v1/households"])
@pytest.mark.parametrize("month", [f"{MONTH}%0A", f"{MONTH}%09", f"%0D{MONTH}"])
def test_a_month_parameter_with_a_control_character_is_a_400_on_every_page(
    client, auth, households, path, month
):
    auth.login("admin")
    response = client.get(f"{path}?month={month}")
    assert response.status_code == 400
    if path.startswith("/api/"):
        text = response.get_json()["errors"]["month"]
    else:
        text = response.get_data(as_text=True)
    assert "月份应为“年-月”形式" in text
    assert client.get(f"{path}?month={MONTH}").status_code == 200


def test_the_dashboard_says_so_in_english_too(client, auth, households):
    auth.login("supervisor")
    client.get("/lang/en")
    response = client.get(f"/dashboard?month={MONTH}%0A")
    assert response.status_code == 400
    assert "The month must be written as year-month" in response.get_data(as_text=True)


def test_a_month_with_other_digits_is_refused_on_the_dashboard(client, auth, households):
    auth.login("supervisor")
    response = client.get("/dashboard?month=２０２６-01")
    assert response.status_code == 400


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("end", ["%0A", "%00", "%09"])
def test_an_audit_log_date_with_a_control_character_is_a_400(
    client, auth, households, store, name, end
):
    auth.login("admin")
    day = TODAY.isoformat()
    assert client.get(f"/office/audit?{name}={day}").status_code == 200
    response = client.get(f"/office/audit?{name}={day}{end}")
    # Not read as no date at all, which would show the whole log.
    assert response.status_code == 400
    assert "请填写日期（年-月-日）" in response.get_data(as_text=True)


def test_a_report_month_with_a_newline_is_refused_and_nothing_queued(client, auth, households):
    auth.login("admin")
    csrf = auth.csrf()
    for data in (
        {"kind": "summary", "month": MONTH + "\n"},
        {"kind": "visits", "month": MONTH + "\n", "format": "csv"},
        {"kind": "booklet", "year": f"{TODAY.year}\n"},
    ):
        response = client.post("/reports", data={**data, "csrf_token": csrf})
        assert response.status_code == 400, data
        assert 'role="alert"' in response.get_data(as_text=True)
    page = client.get("/reports").get_data(as_text=True)
    assert "/reports/jobs/" not in page


# --- the CLI ----------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["１３９１２３４５６７８", "1391234567８"])
def test_the_cli_refuses_a_phone_in_other_digits(runner, store, phone):
    result = runner.invoke(
        args=["create-user", "--role", "helper", "--name", "某人", "--phone", phone]
    )
    assert result.exit_code != 0
    assert "手机号应为 11 位数字" in result.output
    assert store.registry().users == {}


# --- the document and the server agree ------------------------------------------------------


def _document_accepts(pattern: str, value: str) -> bool:
    """How an ECMAScript engine reads a JSON Schema pattern: ``$`` is the end of the input
    (no newline before it), ``\\d`` is an ASCII digit."""
    return re.search(pattern.replace("$", r"\Z"), value, flags=re.ASCII) is not None


SAMPLES = [
    VISIT_ID,
    VISIT_ID + "\n",
    "abc1234",
    "abc12345",
    "abc12345\n",
    "abc.12345",
    "-abc12345",
    MONTH,
    MONTH + "\n",
    "0000-01",
    "2026-13",
    "2026-00",
    "２０２６-01",
    "2026-11-02",
    "2026-11-02\n",
    "2026-1-02",
    "",
]


def test_the_openapi_patterns_accept_what_the_server_accepts(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    visit_in = doc["components"]["schemas"]["VisitIn"]["properties"]
    upload = doc["paths"]["/visits/{visit_id}/photos"]["post"]
    [visit_id] = upload["parameters"]
    photo_id = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["id"]
    months = [
        p["schema"]["pattern"]
        for path in ("/visits", "/completion")
        for p in doc["paths"][path]["get"]["parameters"]
        if p["name"] == "month"
    ]
    assert len(months) == 2
    checks = [
        (visit_in["id"]["pattern"], ID_RE.match),
        (visit_in["date"]["pattern"], DATE_RE.match),
        (visit_id["schema"]["pattern"], ID_RE.match),
        (photo_id["pattern"], PHOTO_ID_RE.match),
        *((pattern, _month_ok) for pattern in months),
    ]
    for pattern, server in checks:
        for value in SAMPLES:
            assert _document_accepts(pattern, value) == bool(server(value)), (pattern, value)


def _month_ok(value: str) -> bool:
    try:
        check_month(value)
    except ValueError:
        return False
    return True
