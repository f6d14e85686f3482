"""Password guessing is slowed down: per account, per address, and for API tokens."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PASSWORD, PEOPLE, csrf_from

from fieldvisit.access.tokens import create_token
from fieldvisit.models import Household
from fieldvisit.storage import Store

OWNER = PEOPLE["owner"][0]


def _attempt(client: FlaskClient, phone: str, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    environ = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=environ).get_data(as_text=True))
    return client.post(
        "/login",
        data={"phone": phone, "password": password, "csrf_token": token},
        environ_base=environ,
    )


def test_it_refuses_an_account_after_ten_failed_logins(
    client: FlaskClient, households: dict[str, Household]
) -> None:
    for _ in range(10):
        assert _attempt(client, OWNER, "wrong-password").status_code == 200
    response = _attempt(client, OWNER, PASSWORD)  # even the right password, for now
    assert response.status_code == 429
    assert "登录失败次数过多，请 15 分钟后再试" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "900"
    assert client.get("/", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 302
    # From another address too: the limit follows the account.
    assert _attempt(client, OWNER, PASSWORD, address="10.0.0.2").status_code == 429
    # Other accounts on the first address are not locked out by it.
    assert _attempt(client, PEOPLE["other"][0], PASSWORD).status_code == 302


def test_it_does_not_count_successful_logins(
    client: FlaskClient, households: dict[str, Household]
) -> None:
    for _ in range(12):
        assert _attempt(client, OWNER, PASSWORD).status_code == 302


def test_it_refuses_an_address_after_thirty_failed_logins(
    client: FlaskClient, households: dict[str, Household]
) -> None:
    for n in range(30):
        assert _attempt(client, f"1580000{n:04d}", "guess").status_code == 200
    assert _attempt(client, OWNER, PASSWORD).status_code == 429
    assert _attempt(client, OWNER, PASSWORD, address="10.0.0.9").status_code == 302


def test_it_can_be_switched_off(tmp_path, households: dict[str, Household]) -> None:  # type: ignore[no-untyped-def]
    from helpers import seed

    from fieldvisit import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "RATELIMIT_ENABLED": False})
    seed(app.extensions["fieldvisit.store"])
    client = app.test_client()
    for _ in range(12):
        assert _attempt(client, OWNER, "wrong-password").status_code == 200


def test_it_slows_down_guessing_api_tokens(
    app: Flask, client: FlaskClient, store: Store, households: dict[str, Household]
) -> None:
    bad = {"Authorization": "Bearer not-a-token"}
    for _ in range(20):
        assert client.get("/api/v1/households", headers=bad).status_code == 401
    response = client.get("/api/v1/households", headers=bad)
    assert response.status_code == 429
    assert response.is_json and "尝试次数过多" in response.get_json()["error"]
    good = {"Authorization": "Bearer " + create_token(store, OWNER, actor="test")}
    # Blocked from the guessing address, but a real client elsewhere carries on.
    assert client.get("/api/v1/households", headers=good).status_code == 429
    other = client.get("/api/v1/households", headers=good, environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert other.status_code == 200


def test_it_does_not_count_good_tokens(
    client: FlaskClient, store: Store, households: dict[str, Household]
) -> None:
    good = {"Authorization": "Bearer " + create_token(store, OWNER, actor="test")}
    for _ in range(25):
        assert client.get("/api/v1/households", headers=good).status_code == 200


def test_it_counts_the_phones_address_behind_a_trusted_proxy(
    tmp_path,
    households: dict[str, Household],  # type: ignore[no-untyped-def]
) -> None:
    from helpers import seed

    from fieldvisit import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "p"), "PROXIES": 1})
    seed(app.extensions["fieldvisit.store"])
    client = app.test_client()

    def attempt(address: str, phone: str, password: str) -> int:
        # Every request reaches the app from the proxy's own address (REMOTE_ADDR).
        forwarded = {"X-Forwarded-For": address}
        page = client.get("/login", headers=forwarded).get_data(as_text=True)
        return client.post(
            "/login",
            data={"phone": phone, "password": password, "csrf_token": csrf_from(page)},
            headers=forwarded,
        ).status_code

    for n in range(30):
        assert attempt("10.9.0.1", f"1580000{n:04d}", "guess") == 200
    assert attempt("10.9.0.1", OWNER, PASSWORD) == 429
    assert attempt("10.9.0.2", OWNER, PASSWORD) == 302  # another phone behind the same proxy


def _change_password(client: FlaskClient, current: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    environ = {"REMOTE_ADDR": address}
    page = client.get("/password", environ_base=environ).get_data(as_text=True)
    return client.post(
        "/password",
        data={
            "current": current,
            "new": "newpass99",
            "confirm": "newpass99",
            "csrf_token": csrf_from(page),
        },
        environ_base=environ,
    )


def test_it_refuses_guessing_the_current_password_after_ten_tries(
    app: Flask, client: FlaskClient, store: Store, households: dict[str, Household]
) -> None:
    """Someone holding a logged-in phone cannot try passwords without end on /password."""
    assert _attempt(client, OWNER, PASSWORD).status_code == 302
    before = store.user(OWNER).password_hash
    for _ in range(10):
        response = _change_password(client, "wrong-password")
        assert response.status_code == 200
        assert "当前密码不对" in response.get_data(as_text=True)
    response = _change_password(client, PASSWORD)  # even the right one, for now
    assert response.status_code == 429
    assert "尝试次数过多，请 15 分钟后再试" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "900"
    assert store.user(OWNER).password_hash == before  # nothing changed
    # The limit follows the account: the same user from another address is refused too.
    assert _change_password(client, PASSWORD, address="10.0.0.2").status_code == 429
    # Another account from the first address is not.
    other = app.test_client()
    assert _attempt(other, PEOPLE["other"][0], PASSWORD).status_code == 302
    assert _change_password(other, PASSWORD).status_code == 302


def test_mistakes_other_than_the_current_password_do_not_count(
    client: FlaskClient, store: Store, households: dict[str, Household]
) -> None:
    assert _attempt(client, OWNER, PASSWORD).status_code == 302
    page = client.get("/password").get_data(as_text=True)
    for _ in range(12):  # a confirmation that does not match, over and over
        response = client.post(
            "/password",
            data={
                "current": PASSWORD,
                "new": "newpass99",
                "confirm": "newpass98",
                "csrf_token": csrf_from(page),
            },
        )
        assert response.status_code == 200
    assert _change_password(client, PASSWORD).status_code == 302


def test_it_refuses_an_address_guessing_many_accounts_current_passwords(
    app: Flask, store: Store, households: dict[str, Household]
) -> None:
    from fieldvisit.access.users import create_user

    browsers = []
    for n in range(4):
        phone = f"1350000{n:04d}"
        create_user(store, "helper", f"帮扶{n}", phone, PASSWORD, actor="test")
        browser = app.test_client()
        assert _attempt(browser, phone, PASSWORD, address="10.3.0.1").status_code == 302
        browsers.append(browser)
    for browser in browsers[:3]:
        for _ in range(10):
            assert _change_password(browser, "guess", address="10.3.0.1").status_code == 200
    assert _change_password(browsers[3], PASSWORD, address="10.3.0.1").status_code == 429
    assert _change_password(browsers[3], PASSWORD, address="10.3.0.2").status_code == 302


def test_the_addresses_that_failed_are_asked_about_even_past_those_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An address never counted here has nothing for the limiter to find while its counts are
    # this process's; once more addresses failed than are kept, every one is asked about.
    from types import SimpleNamespace

    from limits.storage import MemoryStorage

    from fieldvisit.access import security

    monkeypatch.setattr(security, "limiter", SimpleNamespace(storage=MemoryStorage()))
    failed = security._Failed(most=2)
    failed.add("bearer-failures/10.0.0.1")
    assert failed.may_have("bearer-failures/10.0.0.1")
    assert not failed.may_have("bearer-failures/10.0.0.9")
    failed.add("bearer-failures/10.0.0.2")
    failed.add("bearer-failures/10.0.0.3")  # one too many to keep
    assert failed.may_have("bearer-failures/10.0.0.9")


def test_with_counts_shared_between_processes_every_address_is_asked_about(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PostgreSQL's table, or a RATELIMIT_STORAGE: another process may have counted it.
    from types import SimpleNamespace

    from fieldvisit.access import security

    monkeypatch.setattr(security, "limiter", SimpleNamespace(storage=object()))
    assert security._Failed().may_have("bearer-failures/10.0.0.9")
