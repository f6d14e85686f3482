"""Logging in at /login, sessions that last a month, password changes."""

from __future__ import annotations

import re
from datetime import timedelta

from conftest import PASSWORD, PEOPLE, csrf_from

from fieldvisit.passwords import check_password


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
    assert "手机号或密码不对" in response.get_data(as_text=True)
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
