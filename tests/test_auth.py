"""Logging in at /login, sessions that last a month, password changes."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from helpers import PASSWORD, PEOPLE, csrf_from

from fieldvisit.access import passwords
from fieldvisit.access.passwords import check_password


def test_it_logs_in_with_phone_and_password(client, households):
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"phone": PEOPLE["owner"][0], "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "马娟" in home  # the owner's household is on their home page


def test_it_refuses_a_wrong_password_in_chinese(client, households):
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"phone": PEOPLE["owner"][0], "password": "wrong", "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 200
    assert "手机号或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still not logged in


def test_it_refuses_a_login_without_csrf_token(client, households):
    response = client.post("/login", data={"phone": PEOPLE["owner"][0], "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_the_session_lasts_about_a_month(app, client, auth, households):
    auth.login("owner")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.expires is not None
    assert app.permanent_session_lifetime >= timedelta(days=28)
    assert "HttpOnly" in client.get("/").headers.get("Set-Cookie", "HttpOnly")


def test_it_redirects_only_to_paths_on_this_site(client, households):
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login?next=https://evil.example/",
        data={"phone": PEOPLE["owner"][0], "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.headers["Location"] == "/"


def _form_action(html: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', html)
    assert match, "no login form"
    return match.group(1).replace("&amp;", "&")


def test_the_login_page_leads_home_not_back_to_itself(client, households):
    """Found in a browser: the form on /login posted to /login?next=/login, so a helper who
    opened the login page and logged in saw the login form again, as if it had failed."""
    page = client.get("/login").get_data(as_text=True)
    assert _form_action(page) == "/login"
    response = client.post(
        _form_action(page),
        data={"phone": PEOPLE["owner"][0], "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.headers["Location"] == "/"


def test_a_scanned_plate_leads_back_to_its_household(client, households):
    token = households["h1"].token
    page = client.get(f"/h/{token}").get_data(as_text=True)
    assert _form_action(page) == f"/login?next=/h/{token}"
    response = client.post(
        _form_action(page),
        data={"phone": PEOPLE["owner"][0], "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.headers["Location"] == f"/h/{token}"


def test_next_never_points_at_the_login_page(client, households):
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login?next=/login",
        data={"phone": PEOPLE["owner"][0], "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.headers["Location"] == "/"


def test_a_helper_changes_their_password(client, auth, store, households):
    auth.login("owner")
    token = auth.csrf()
    response = client.post(
        "/password",
        data={"current": PASSWORD, "new": "newpass99", "confirm": "newpass99", "csrf_token": token},
    )
    assert response.status_code == 302
    user = store.user(PEOPLE["owner"][0])
    assert check_password(user.password_hash, "newpass99")
    assert not check_password(user.password_hash, PASSWORD)
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))  # hashed, never plain
    assert client.get("/").status_code == 200  # this phone stays logged in


def test_a_password_change_ends_other_sessions(app, client, auth, households):
    auth.login("owner")
    other_phone = app.test_client()
    page = other_phone.get("/login").get_data(as_text=True)
    other_phone.post(
        "/login",
        data={"phone": PEOPLE["owner"][0], "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert other_phone.get("/").status_code == 200
    client.post(
        "/password",
        data={
            "current": PASSWORD,
            "new": "newpass99",
            "confirm": "newpass99",
            "csrf_token": auth.csrf(),
        },
    )
    assert other_phone.get("/").status_code == 302


def test_a_wrong_current_password_changes_nothing(client, auth, store, households):
    auth.login("owner")
    before = store.user(PEOPLE["owner"][0]).password_hash
    response = client.post(
        "/password",
        data={
            "current": "nope",
            "new": "newpass99",
            "confirm": "newpass99",
            "csrf_token": auth.csrf(),
        },
    )
    assert "当前密码不对" in response.get_data(as_text=True)
    assert store.user(PEOPLE["owner"][0]).password_hash == before


def test_logout_ends_the_session(client, auth, households):
    auth.login("owner")
    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert client.get("/").status_code == 302


def test_english_is_chosen_with_the_language_link(client, households):
    client.get("/lang/en")
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in page
    assert "Log in" in page


def test_a_phone_typed_with_spaces_or_full_width_digits_logs_in(client, households):
    page = client.get("/login").get_data(as_text=True)
    typed = "１３９ 0000-0001"  # 13900000001 as a phone keyboard may give it
    response = client.post(
        "/login", data={"phone": typed, "password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "/%0A/evil.example",
        "/%0D%0A/evil.example",
        "%0d%0a",
        "/h/x%0D%0ASet-Cookie:%20evil=1",
        "/%09/evil.example",
        "/%5Cevil.example",
    ],
)
def test_a_next_with_a_line_break_leads_home(client, households, target):
    page = client.get(f"/login?next={target}")
    assert page.status_code == 200
    response = client.post(
        f"/login?next={target}",
        data={
            "phone": PEOPLE["owner"][0],
            "password": PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "evil" not in str(response.headers)
    assert client.get("/").status_code == 200  # and logged in
    language = client.get(f"/lang/en?next={target}")
    assert language.status_code == 302 and language.headers["Location"] == "/"


def _failed_login(client, phone: str, address: str) -> float:
    """One failed login for ``phone``, in seconds (each from its own address, so that the
    login limits stay out of the way)."""
    page = client.get("/login").get_data(as_text=True)
    started = time.perf_counter()
    response = client.post(
        "/login",
        data={"phone": phone, "password": "wrong-guess", "csrf_token": csrf_from(page)},
        environ_base={"REMOTE_ADDR": address},
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert "手机号或密码错误" in response.get_data(as_text=True)
    return elapsed


def test_a_wrong_password_takes_as_long_whether_the_account_exists(
    monkeypatch, client, store, households
):
    monkeypatch.setattr(passwords, "METHOD", "scrypt")  # the real cost, as in production
    owner, other, nobody = PEOPLE["owner"][0], PEOPLE["other"][0], "13511112222"

    def real_hashes(reg):
        reg.users[owner].password_hash = passwords.hash_password(PASSWORD)
        reg.users[other].password_hash = passwords.hash_password(PASSWORD)
        reg.users[other].active = False

    store.update_registry(real_hashes)
    _failed_login(client, nobody, "10.7.0.1")  # the first one makes the stand-in hash
    # Taken in turns and the quickest kept, so that a busy machine slows all three alike.
    times: dict[str, list[float]] = {owner: [], other: [], nobody: []}
    for n in range(7):
        for i, phone in enumerate(times):
            times[phone].append(_failed_login(client, phone, f"10.7.{i + 1}.{n}"))
    known, stopped, unknown = (min(times[p]) for p in (owner, other, nobody))
    assert known > 0.01  # scrypt really ran
    assert 0.5 < unknown / known < 2, times
    assert 0.5 < stopped / known < 2, times


def test_a_login_nobody_can_make_still_checks_a_password(monkeypatch, client, store, households):
    """An unknown phone, a stopped account and one without a password yet: each checks the
    password against a stand-in hash made with the current method."""
    from fieldvisit.access import login as auth

    checked: list[str] = []
    real = auth.check_password

    def spy(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "check_password", spy)

    def odd_accounts(reg):
        reg.users[PEOPLE["owner"][0]].password_hash = ""
        reg.users[PEOPLE["other"][0]].active = False

    store.update_registry(odd_accounts)
    for phone in ("13511112222", PEOPLE["owner"][0], PEOPLE["other"][0]):
        _failed_login(client, phone, "10.8.0.1")
    stand_in = passwords.dummy_hash()
    assert checked == [stand_in] * 3
    assert stand_in.startswith(passwords.METHOD.split(":")[0] + ":")
