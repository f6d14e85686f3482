"""The words people read, checked for being true: the login refusal, the date rule with its
grace, surnames read as surnames, the monthly PDF's period, job titles in the reader's
language."""

from __future__ import annotations

import re
from datetime import date, timedelta
from io import BytesIO

import pytest
from helpers import PASSWORD, PEOPLE, csrf_from, make_household
from pypdf import PdfReader

from fieldvisit.access.passwords import hash_password
from fieldvisit.access.permissions import HELPER_GRACE_DAYS
from fieldvisit.collation import name_key, name_pinyin, pinyin_key, sort_villages
from fieldvisit.documents.jobs import get_runner
from fieldvisit.documents.monthly import monthly_report_pdf
from fieldvisit.households import search
from fieldvisit.models import User
from fieldvisit.months import this_month

# --- the login ------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", [PEOPLE["owner"][0], "13911112222"])
def test_a_failed_login_says_the_same_whether_the_account_exists(client, households, phone):
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"phone": phone, "password": "wrong", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 200
    assert "手机号或密码错误" in response.get_data(as_text=True)


# --- the visit date -------------------------------------------------------------------------


def _post_visit(client, token: str, day: date):
    page = client.get(f"/h/{token}/visit").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "id": "a1b2c3d4-0000-4000-8000-00000000000" + str(day.day % 10),
        "date": day.isoformat(),
        "kind": "phone",
        "satisfaction": "satisfied",
    }
    return client.post(f"/h/{token}/visit", data=data)


def test_the_date_rule_names_the_grace_it_allows(client, auth, households):
    token = households["h1"].token
    auth.login("owner")
    refused = _post_visit(client, token, date.today() - timedelta(days=40))
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert f"只能登记本月及 {HELPER_GRACE_DAYS} 天内的走访，更早的请联系镇扶贫办补录" in text
    # What it says is true: the last day of the grace is accepted, whatever the month.
    accepted = _post_visit(client, token, date.today() - timedelta(days=HELPER_GRACE_DAYS))
    assert accepted.status_code == 302, accepted.get_data(as_text=True)


# --- surnames -------------------------------------------------------------------------------

SURNAMED = {
    "13900000011": "曾小明",
    "13900000012": "单国良",
    "13900000013": "仇方祥",
    "13900000014": "解长青",
    "13900000015": "陈建",
    "13900000016": "丁力",
    "13900000017": "黑大山",
}


@pytest.fixture()
def surnamed(store, households):
    """Helpers and household heads whose surnames read otherwise than the character."""

    def add(reg):
        digest = hash_password(PASSWORD)
        for n, (phone, name) in enumerate(SURNAMED.items()):
            reg.users[phone] = User(phone, name, "helper", password_hash=digest)
            h = make_household(id=f"41172100900{n:02d}", head=name, helpers=[phone])
            reg.households[h.id] = h

    store.update_registry(add)
    return store.registry()


def test_surnames_read_as_surnames():
    assert name_pinyin("曾小明") == ["zeng", "xiao", "ming"]
    assert name_pinyin("单国良")[0] == "shan"
    assert name_pinyin("仇方祥")[0] == "qiu"
    assert name_pinyin("解长青")[0] == "xie"
    assert name_pinyin("黑大山")[0] == "he"
    assert name_pinyin("长孙无忌")[:2] == ["zhang", "sun"]
    assert name_pinyin("长孙") == ["chang", "sun"]  # 长 with the given name 孙
    assert name_pinyin("尉迟恭")[:2] == ["yu", "chi"]


def test_only_names_are_read_as_names():
    # A village is not a surname: 单庄村 keeps dān, and sorts among the d's.
    assert pinyin_key("单庄村") < pinyin_key("丁庄村")
    assert sort_villages(["丁庄村", "单庄村", "解放村"]) == ["单庄村", "丁庄村", "解放村"]
    assert search.initials("单庄村") == "dzc"
    assert name_key("单庄") > name_key("丁庄")  # the same characters as a name


def test_helpers_are_listed_by_their_surnames_reading(client, auth, surnamed):
    auth.login("admin")
    page = client.get("/office/helpers").get_data(as_text=True)
    shown = [
        name for name in re.findall(r">([^<>]{2,3})</a></td>", page) if name in SURNAMED.values()
    ]
    # chen, ding, he, qiu, shan, xie, zeng: not ceng before chen, nor chou, dan, jie.
    assert shown == ["陈建", "丁力", "黑大山", "仇方祥", "单国良", "解长青", "曾小明"]


def test_a_name_column_sorts_by_the_surnames_reading_in_the_browser(client, auth, surnamed):
    auth.login("admin")
    page = client.get("/office/households").get_data(as_text=True)
    assert 'data-sort="zeng xiao ming"' in page
    assert 'data-sort="shan guo liang"' in page


@pytest.mark.parametrize(
    ("query", "head"),
    [("zxm", "曾小明"), ("sgl", "单国良"), ("qfx", "仇方祥"), ("xcq", "解长青"), ("hds", "黑大山")],
)
def test_a_head_is_found_by_the_initials_of_the_surnames_reading(surnamed, query, head):
    assert next(h.head for h in search.search_households(surnamed, query)) == head


def test_the_office_finds_by_surname_initials(client, auth, surnamed):
    auth.login("admin")
    page = client.get("/office/households?q=zxm").get_data(as_text=True)
    assert "曾小明" in page and "单国良" not in page


def test_other_readings_still_find_the_name(surnamed):
    # The registry does not say how a family reads its name: ceng still finds 曾小明.
    assert "曾小明" in [h.head for h in search.search_households(surnamed, "cxm")]


# --- the monthly PDF ------------------------------------------------------------------------


def _pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() or "" for page in PdfReader(BytesIO(pdf)).pages)


def test_a_finished_month_prints_its_real_last_day(app, store, households):
    with app.app_context():
        november = monthly_report_pdf(store, "2026-11", today=date(2026, 12, 5))
        february = monthly_report_pdf(store, "2026-02", today=date(2026, 12, 5))
    november_text = re.sub(r"\s+", "", _pdf_text(november))
    assert "统计期间2026年11月1日至11月30日" in november_text
    assert "统计期间2026年11月1日至月末" not in november_text
    assert "至2月28日" in re.sub(r"\s+", "", _pdf_text(february))


def test_the_month_under_way_stops_at_today(app, store, households):
    with app.app_context():
        pdf = monthly_report_pdf(store, "2026-11", today=date(2026, 11, 20))
    text = re.sub(r"\s+", "", _pdf_text(pdf))
    assert "统计截至2026年11月20日" in text and "统计期间" not in text


# --- job titles -----------------------------------------------------------------------------


def test_a_jobs_title_follows_the_readers_language(app, client, auth, households):
    auth.login("admin")
    month = this_month()
    response = client.post(
        "/reports", data={"csrf_token": auth.csrf(), "kind": "visits", "month": month}
    )
    assert response.status_code == 303
    job_url = response.headers["Location"]
    get_runner(app).wait(job_url.rsplit("/", 1)[1], timeout=30)
    chinese = f"走访记录：全镇，{month}"
    assert chinese in client.get(job_url).get_data(as_text=True)
    client.get("/lang/en")
    english = f"Visit records: All villages, {month}"
    page = client.get(job_url).get_data(as_text=True)
    assert english in page and chinese not in page
    assert english in client.get("/reports").get_data(as_text=True)  # the list of files too
