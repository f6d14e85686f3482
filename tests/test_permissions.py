"""Who may do what: the permission functions in one table, the route decorators that use
them, and no role names compared anywhere else (templates or code)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import PEOPLE, Auth, make_household

from fieldvisit.access import permissions
from fieldvisit.models import Household, User, Visit

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 20)
OWNER, OTHER = PEOPLE["owner"][0], PEOPLE["other"][0]
WHO = ("admin", "supervisor", "owner", "other", "nobody")


def _user(who: str) -> User | None:
    """One of the named people of conftest; "nobody": not logged in."""
    if who == "nobody":
        return None
    phone, role, name = PEOPLE[who]
    return User(phone=phone, name=name, role=role)


def _household() -> Household:
    return make_household(helpers=[OWNER])  # the owner's household, not the other's


def _visit(day: str, helper: str = OWNER) -> Visit:
    return Visit(
        id="v-1",
        household=_household().id,
        village="聂河村",
        helper=helper,
        recorded_by=helper,
        date=day,
        kind="in_person",
    )


THIS_MONTH = "2026-11-05"
LAST_MONTH = "2026-10-25"
EARLY_LAST_MONTH = "2026-10-02"

# Each action, asked of the owner's household (and the owner's visits where one is needed).
ACTIONS = {
    "is_office": lambda u: permissions.is_office(u),
    "may_supervise": lambda u: permissions.may_supervise(u),
    "is_supervisor": lambda u: permissions.is_supervisor(u),
    "is_helper": lambda u: permissions.is_helper(u),
    "view household": lambda u: permissions.may_view(u, _household()),
    "record a visit": lambda u: permissions.may_record(u, _household()),
    "correct this month's visit": lambda u: permissions.may_correct(u, _visit(THIS_MONTH), TODAY),
    "correct last month's visit": lambda u: permissions.may_correct(u, _visit(LAST_MONTH), TODAY),
}

# who → the actions allowed; every other action in ACTIONS is refused.
ALLOWED = {
    "admin": {
        "is_office",
        "may_supervise",
        "view household",
        "record a visit",
        "correct this month's visit",
        "correct last month's visit",
    },
    "supervisor": {"may_supervise", "is_supervisor", "view household"},
    "owner": {"is_helper", "view household", "record a visit", "correct this month's visit"},
    "other": {"is_helper"},
    "nobody": set(),
}


@pytest.mark.parametrize(
    ("who", "action", "allowed"),
    [(who, action, action in ALLOWED[who]) for who in WHO for action in ACTIONS],
)
def test_the_permission_table(who: str, action: str, allowed: bool) -> None:
    assert ACTIONS[action](_user(who)) is allowed


@pytest.mark.parametrize(
    ("who", "day", "allowed"),
    [
        ("admin", EARLY_LAST_MONTH, True),  # the office, any time
        ("owner", THIS_MONTH, True),  # a correction within the month
        ("owner", LAST_MONTH, False),  # the month is over and the grace week too
        ("other", THIS_MONTH, False),  # not their household
        ("supervisor", THIS_MONTH, False),  # supervisors change nothing
    ],
)
def test_adding_a_photo(who: str, day: str, allowed: bool) -> None:
    user = _user(who)
    assert user is not None
    assert permissions.may_add_photo(user, _household(), _visit(day), TODAY) is allowed


def test_a_photo_may_follow_a_visit_saved_offline_at_the_months_end() -> None:
    """On the 3rd, a visit of the 30th of last month may still receive its photos."""
    owner = _user("owner")
    assert owner is not None
    late = _visit("2026-10-30")
    assert permissions.may_add_photo(owner, _household(), late, date(2026, 11, 3))
    assert not permissions.may_add_photo(owner, _household(), late, date(2026, 11, 8))


def test_the_oldest_date_one_may_record() -> None:
    office, owner = _user("admin"), _user("owner")
    assert office is not None and owner is not None
    assert permissions.earliest_date(office, TODAY) is None
    assert permissions.earliest_date(owner, TODAY) == date(2026, 11, 1)
    # Early in a month the grace week reaches back into the last one.
    assert permissions.earliest_date(owner, date(2026, 11, 3)) == date(2026, 10, 27)


@pytest.mark.parametrize("who", WHO)
def test_the_decorators_let_in_whom_the_functions_name(
    app: Flask, client: FlaskClient, auth: Auth, households: dict[str, Household], who: str
) -> None:
    """office_required lets in whom is_office names, supervision_required whom may_supervise
    names, login_required anyone logged in; nobody is sent to log in."""
    app.add_url_rule("/probe/office", "probe_office", permissions.office_required(lambda: "ok"))
    app.add_url_rule(
        "/probe/supervision", "probe_supervision", permissions.supervision_required(lambda: "ok")
    )
    app.add_url_rule("/probe/login", "probe_login", permissions.login_required(lambda: "ok"))
    if who != "nobody":
        auth.login(who)
    user = _user(who)
    expected = {
        "/probe/office": permissions.is_office(user),
        "/probe/supervision": permissions.may_supervise(user),
        "/probe/login": user is not None,
    }
    for path, allowed in expected.items():
        status = client.get(path).status_code
        if allowed:
            assert status == 200, path
        else:
            assert status == (403 if user is not None else 302), path


# A role compared by name: ``x.role == "admin"``, ``role in (...)``, ``role != ...``.
ROLE_COMPARISON = re.compile(r"\.role\s*(==|!=|\bin\b|\bnot\s+in\b)|\brole\s*(==|!=)")


def test_no_template_compares_role_names() -> None:
    """Templates ask is_office(current_user), may_supervise(current_user)…, never the role."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ROLE_COMPARISON.search(line) or "role ==" in line
    ]
    assert found == []


def test_only_the_permissions_module_compares_role_names() -> None:
    """Everywhere else asks the permission functions; the roles are named in one place."""
    allowed = {ROOT / "fieldvisit" / "access" / "permissions.py"}
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "fieldvisit").rglob("*.py"))
        if path not in allowed
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ROLE_COMPARISON.search(line) or re.search(r"role_required\(\s*['\"]", line)
    ]
    assert found == []
