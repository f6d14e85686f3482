"""Shared fixtures: an app on a throwaway data folder, named people, and builders.

People (as in the access rules):
  * ``owner``    – helper paired with the household ``h1`` (13900000001)
  * ``other``    – helper paired with ``h2`` only (13900000002)
  * ``supervisor`` (13700000001), ``admin`` (13600000001), and nobody (no login).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldvisit import create_app
from fieldvisit.access import passwords
from fieldvisit.access.passwords import hash_password
from fieldvisit.households.lookup import new_token
from fieldvisit.models import Household, User, Village
from fieldvisit.storage import Registry, Store

PASSWORD = "secret123"
PEOPLE = {
    "owner": ("13900000001", "helper", "张帮扶"),
    "other": ("13900000002", "helper", "李帮扶"),
    "supervisor": ("13700000001", "supervisor", "王督查"),
    "admin": ("13600000001", "admin", "赵扶贫办"),
}
SAMPLES = Path(__file__).resolve().parent / "samples"
# scrypt costs ~50 ms a login; the tests log in hundreds of times. Hashes made during the
# tests use a cheap method (the app's own default stays scrypt, tested in test_passwords).
passwords.METHOD = "pbkdf2:sha256:1000"
_HASH = hash_password(PASSWORD)


DEMO_TODAY = date(2026, 11, 20)  # mid-month: the current month of the demo is under way


def demo_app(folder: Path, months: int = 2, today: date = DEMO_TODAY) -> tuple[Flask, Store]:
    """An app over a fresh demo township in ``folder`` (for module-scoped fixtures: the
    township takes a second or two to build)."""
    from fieldvisit.demo import build_demo

    app = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "x"})
    store = app.extensions["fieldvisit.store"]
    with app.app_context():
        build_demo(store, months=months, today=today)
    return app, store


def make_household(**overrides: Any) -> Household:
    """A valid household; override any field."""
    fields: dict[str, Any] = {
        "id": "4117210010001",
        "village": "聂河村",
        "group": "3组",
        "head": "马娟",
        "members": 2,
        "attribute": "dibao",
        "cause": "illness",
        "status": "not_exited",
        "token": new_token(),
        "phone": "15391085858",
        "id_number": "411721193701024373",
        "helpers": [PEOPLE["owner"][0]],
    }
    fields.update(overrides)
    return Household(**fields)


def seed(store: Store) -> dict[str, Household]:
    """Two households and the named people."""
    households = {
        "h1": make_household(),
        "h2": make_household(
            id="4117210020001",
            village="王寨村",
            head="梁刚",
            helpers=[PEOPLE["other"][0]],
            id_number="41172119810905367X",
        ),
    }

    def fill(reg: Registry) -> None:
        for phone, role, name in PEOPLE.values():
            reg.users[phone] = User(phone=phone, name=name, role=role, password_hash=_HASH)
        for h in households.values():
            reg.households[h.id] = h
            reg.villages.setdefault(h.village, Village(h.village))

    store.update_registry(fill)
    return households


@pytest.fixture(scope="session", autouse=True)
def compile_catalogues() -> None:
    """Compile the message catalogues, as ./fv does, so pytest works on its own too."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in (Path(__file__).resolve().parents[1] / "fieldvisit" / "translations").glob(
        "*/LC_MESSAGES/messages.po"
    ):
        with po_path.open("rb") as fh:
            catalog = read_po(fh)
        with po_path.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog)


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "SECRET_KEY": "test-secret",
            "BASE_URL": "http://fieldvisit.test",
        }
    )
    yield app


@pytest.fixture()
def store(app: Flask) -> Store:
    return app.extensions["fieldvisit.store"]


@pytest.fixture()
def households(store: Store) -> dict[str, Household]:
    return seed(store)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Auth:
    """Logs the test client in as one of the named people, through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, who: str) -> None:
        phone = PEOPLE[who][0]
        page = self.client.get("/login").get_data(as_text=True)
        response = self.client.post(
            "/login", data={"phone": phone, "password": PASSWORD, "csrf_token": csrf_from(page)}
        )
        assert response.status_code == 302, response.get_data(as_text=True)

    def csrf(self) -> str:
        """A CSRF token of the current session (from any page with a form)."""
        return csrf_from(self.client.get("/password").get_data(as_text=True))


@pytest.fixture()
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


def visit_payload(target: Household, **overrides: Any) -> dict[str, Any]:
    """A complete in-person visit as the API takes it."""
    payload: dict[str, Any] = {
        "id": "a1b2c3d4-0000-4000-8000-000000000001",
        "household": target.id,
        "date": date.today().isoformat(),
        "kind": "in_person",
        "guarantees": dict.fromkeys(
            ("food", "clothing", "education", "medical", "housing", "water"), True
        ),
        "environment": {
            "yard": True,
            "indoor": True,
            "tidy": False,
            "bedding": True,
            "kitchen": True,
            "toilet": None,
            "personal": True,
            "clutter": True,
        },
        "helped_clean": True,
        "needs": [{"category": "medical", "description": "慢性病用药报销", "urgent": True}],
        "satisfaction": "satisfied",
        "notes": "院子已打扫",
    }
    payload.update(overrides)
    return payload
