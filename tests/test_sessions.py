"""Sessions end on the server: logging out, a password change, a stopped account and
"log out on every device" make a copied cookie worthless."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, PEOPLE, Auth, csrf_from, stored_bytes, stored_identity

from fieldvisit.access.passwords import hash_password
from fieldvisit.access.tokens import create_token, token_digest
from fieldvisit.access.users import create_user
from fieldvisit.models import AuditEntry, LoginSession
from fieldvisit.storage import Store

OWNER = PEOPLE["owner"][0]
OTHER = PEOPLE["other"][0]
ADMIN = PEOPLE["admin"][0]
SPARE = "13900000009"  # a helper paired with no household: one that can be stopped
MONTH = date.today().isoformat()[:7]


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (as a thief would)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def logged_in(client: FlaskClient) -> bool:
    response = client.get("/password")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def second_login(app: Flask, who: str) -> FlaskClient:
    browser = app.test_client()
    Auth(browser).login(who)
    return browser


def session_digest(app: Flask, client: FlaskClient) -> str:
    """The stored key of the session ``client``'s cookie names."""
    serializer = app.session_interface.get_signing_serializer(app)
    return token_digest(serializer.loads(client.get_cookie("session").value)["sid"])


def sessions_of(store: Store, phone: str) -> list:
    return [s for s in store.sessions.all().values() if s.phone == phone]


def audited(store: Store, action: str) -> list[AuditEntry]:
    return [e for e in store.audit_log.read_entries(MONTH) if e.action == action]


def api_status(client: FlaskClient, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return client.get("/api/v1/households", headers=headers).status_code


def test_a_copied_cookie_stops_working_after_logout(app, client, auth, store, households):
    auth.login("owner")
    thief = copy_of(app, client)
    assert logged_in(thief)  # the copy works while the session lasts…
    (record,) = sessions_of(store, OWNER)
    client.post("/logout", data={"csrf_token": auth.csrf()})
    assert not logged_in(client)
    assert not logged_in(thief)  # …and not after the logout
    assert thief.get("/").status_code == 302
    assert sessions_of(store, OWNER) == []
    (entry,) = audited(store, "user.logout")
    assert (entry.who, entry.target) == (OWNER, OWNER)
    assert Store(store.root).sessions.get(record.digest) is None  # ended on the disk too


def test_only_a_digest_of_the_session_id_is_stored(app, client, auth, store, households):
    auth.login("owner")
    serializer = app.session_interface.get_signing_serializer(app)
    content = serializer.loads(client.get_cookie("session").value)
    assert set(content) >= {"uid", "sid"} and "stamp" not in content
    stored = stored_bytes(store.root / "sessions.json")
    assert content["sid"].encode() not in stored
    (record,) = sessions_of(store, OWNER)
    assert record.digest == session_digest(app, client)
    assert record.created_at[:10] == record.seen_on == date.today().isoformat()


@pytest.mark.parametrize(
    "content",
    [
        {"uid": OWNER, "sid": "made-up-session-id"},
        {"uid": OWNER},  # a cookie of the version before recorded sessions
        {"uid": OWNER, "stamp": "0123456789abcdef"},
    ],
)
def test_a_signed_cookie_without_a_recorded_session_is_refused(app, store, households, content):
    # Even with the secret key (a leaked backup), no session can be made up.
    forged = app.session_interface.get_signing_serializer(app).dumps(content)
    browser = app.test_client()
    browser.set_cookie("session", forged)
    assert not logged_in(browser)


def test_a_session_of_another_phone_does_not_log_in_as_this_one(app, client, auth, households):
    auth.login("other")
    serializer = app.session_interface.get_signing_serializer(app)
    content = serializer.loads(client.get_cookie("session").value)
    browser = app.test_client()
    browser.set_cookie("session", serializer.dumps({**content, "uid": OWNER}))
    assert not logged_in(browser)


def test_log_out_on_every_device(app, client, auth, store, households):
    auth.login("owner")
    phone = second_login(app, "owner")
    thief = copy_of(app, client)
    other = second_login(app, "other")
    page = client.get("/password").get_data(as_text=True)
    assert "退出所有设备" in page and 'action="/logout/all"' in page
    # A forged form (no CSRF token) ends nothing.
    assert client.post("/logout/all").status_code == 400
    assert len(sessions_of(store, OWNER)) == 2

    response = client.post("/logout/all", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    login_page = client.get("/login").get_data(as_text=True)
    assert "已在所有设备上退出登录，请重新登录" in login_page
    assert not any(logged_in(b) for b in (client, phone, thief))
    assert logged_in(other)  # other accounts keep theirs
    assert sessions_of(store, OWNER) == [] and len(sessions_of(store, OTHER)) == 1
    (entry,) = audited(store, "user.sessions_end")
    assert (entry.who, entry.target, entry.after) == (OWNER, OWNER, {"sessions": 2})


def test_logging_out_everywhere_needs_a_login(client, households):
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/logout/all", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_changing_ones_password_ends_every_other_session_and_token(
    app, client, auth, store, households
):
    auth.login("owner")
    phone = second_login(app, "owner")
    thief = copy_of(app, client)  # a copy of this very browser's cookie
    token = create_token(store, OWNER, actor="test")
    others_token = create_token(store, OTHER, actor="test")
    before = session_digest(app, client)
    assert logged_in(thief) and before in store.sessions.all()
    response = client.post(
        "/password",
        data={
            "current": PASSWORD,
            "new": "newpass99",
            "confirm": "newpass99",
            "csrf_token": auth.csrf(),
        },
    )
    assert response.status_code == 302
    assert logged_in(client)  # this browser is logged in afresh…
    assert not logged_in(phone) and not logged_in(thief)  # …the others are out
    (now,) = sessions_of(store, OWNER)
    assert now.digest == session_digest(app, client) != before  # with a new session id
    assert api_status(client, token) == 401 and api_status(client, others_token) == 200
    assert [t.phone for t in store.registry().tokens.values()] == [OTHER]
    assert audited(store, "user.sessions_end")[0].after == {"sessions": 2}
    assert audited(store, "token.revoke")[0].after == {"tokens": 1}


def test_an_admins_reset_ends_the_helpers_sessions_and_tokens(app, client, auth, store, households):
    helper = second_login(app, "owner")
    token = create_token(store, OWNER, actor="test")
    auth.login("admin")
    response = client.post(f"/office/helpers/{OWNER}/password", data={"csrf_token": auth.csrf()})
    assert response.status_code == 200
    assert not logged_in(helper)
    assert api_status(helper, token) == 401
    assert sessions_of(store, OWNER) == [] and store.registry().tokens == {}
    assert logged_in(client)  # the admin's own session is not touched
    ended = audited(store, "user.sessions_end")
    assert [(e.who, e.target) for e in ended] == [(ADMIN, OWNER)]
    assert [(e.who, e.after) for e in audited(store, "token.revoke")] == [(ADMIN, {"tokens": 1})]
    log = client.get("/office/audit").get_data(as_text=True)
    assert "结束全部登录" in log and "结束的登录数" in log and "撤销的令牌数" in log


def test_set_password_on_the_command_line_ends_sessions_and_tokens(app, runner, store, households):
    helper = second_login(app, "owner")
    token = create_token(store, OWNER, actor="test")
    result = runner.invoke(args=["set-password", "--phone", OWNER, "--password", "newpass99"])
    assert result.exit_code == 0, result.output
    assert not logged_in(helper)
    assert api_status(helper, token) == 401
    assert sessions_of(store, OWNER) == [] and store.registry().tokens == {}
    assert audited(store, "user.sessions_end")[0].who == "cli"


def test_stopping_an_account_ends_its_sessions_and_tokens_for_good(
    app, client, auth, store, households
):
    create_user(store, "helper", "孙备用", SPARE, PASSWORD, actor="test")
    helper = app.test_client()
    page = helper.get("/login").get_data(as_text=True)
    helper.post(
        "/login", data={"phone": SPARE, "password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert logged_in(helper)
    token = create_token(store, SPARE, actor="test")
    assert api_status(helper, token) == 200
    auth.login("admin")
    response = client.post(f"/office/helpers/{SPARE}/deactivate", data={"csrf_token": auth.csrf()})
    assert response.status_code == 302
    assert not logged_in(helper) and api_status(helper, token) == 401
    assert sessions_of(store, SPARE) == [] and store.registry().tokens == {}
    assert audited(store, "user.sessions_end")[0].target == SPARE
    assert audited(store, "token.revoke")[0].after == {"tokens": 1}
    # Started again, the account logs in afresh: the old cookie and token stay dead.
    client.post(f"/office/helpers/{SPARE}/activate", data={"csrf_token": auth.csrf()})
    assert store.user(SPARE).active
    assert not logged_in(helper) and api_status(helper, token) == 401


def test_a_login_made_with_the_old_password_does_not_outlive_the_change(
    client, auth, store, households
):
    """A login that raced a password change: recorded after the change ended the sessions,
    its record carries the old password's stamp."""
    auth.login("owner")

    def change(reg):
        reg.users[OWNER].password_hash = hash_password("changed-elsewhere")

    store.update_registry(change)
    assert not logged_in(client)


def test_a_session_ends_a_month_after_the_browser_was_last_used(client, auth, store, households):
    auth.login("owner")
    (record,) = sessions_of(store, OWNER)
    long_ago = (date.today() - timedelta(days=32)).isoformat()

    def age(sessions):
        sessions[record.digest].seen_on = long_ago

    store.sessions.update(age)
    assert not logged_in(client)


def test_a_session_in_use_is_kept_alive_once_a_day(client, auth, store, households):
    auth.login("owner")
    (record,) = sessions_of(store, OWNER)
    yesterday = (date.today() - timedelta(days=30)).isoformat()

    def age(sessions):
        sessions[record.digest].seen_on = yesterday

    store.sessions.update(age)
    assert logged_in(client)
    (touched,) = sessions_of(store, OWNER)
    assert touched.seen_on == date.today().isoformat()


def test_requests_do_not_write_the_sessions_or_the_registry(client, auth, store, households):
    auth.login("owner")
    files = [store.root / "sessions.json", store.root / "registry.json"]

    def identity():
        return [stored_identity(p) for p in files]

    before = identity()
    for path in ("/", "/password", f"/h/{households['h1'].token}", "/"):
        assert client.get(path).status_code == 200
    assert identity() == before


def test_old_sessions_are_cleared_away_at_the_next_login(app, store, households):
    long_ago = (date.today() - timedelta(days=60)).isoformat()
    stale = LoginSession("0" * 64, OWNER, long_ago + "T08:00:00+08:00", long_ago)
    store.sessions.update(lambda sessions: sessions.update({stale.digest: stale}))
    second_login(app, "other")
    assert stale.digest not in store.sessions.all()
    assert len(Store(store.root).sessions.all()) == 1  # the stale one is gone from the disk
