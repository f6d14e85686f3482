"""Who may do what: the one home of every role rule.

Routes, templates and the domain modules ask these functions instead of comparing role
names, so a rule is changed in one place. Three roles exist (``vocab.ROLES``): the township
office (``admin``) runs everything; supervisors (``supervisor``) see the whole township but
change nothing; helpers (``helper``) visit and record for the households paired with them.

The functions are plain and take the user (``None``: nobody logged in) so that the CLI, the
API and the tests ask them as the pages do; templates get them as globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, redirect, request, url_for

from ..context import this_g
from ..models import Household, User, Visit
from ..months import this_month
from .login import API_PREFIX, bearer_request

F = TypeVar("F", bound=Callable[..., Any])

# The role sets, named once: ``role_required(*OFFICE)`` reads as who it lets in.
OFFICE = ("admin",)
SUPERVISION = ("admin", "supervisor")  # the office and supervisors: the whole township
HELPER = "helper"

# A visit saved offline at the end of a month may reach the server days later.
HELPER_GRACE_DAYS = 7


# --- who someone is ----------------------------------------------------------------------


def is_office(user: User | None) -> bool:
    """Whether ``user`` is the township office: it edits the registry, pairs helpers, manages
    accounts and records or corrects any visit."""
    return user is not None and user.role in OFFICE


def sets_deployment(user: User | None) -> bool:
    """Whether ``user`` may change what holds for every township the server keeps: the
    completion target and the photo rule, the warning checks' time limit, the address the
    door plates point to. The office, unless its account is one township's in a county:
    those would change the other townships' too."""
    return is_office(user) and user is not None and not user.township


def may_supervise(user: User | None) -> bool:
    """Whether ``user`` sees the whole township: every household, the figures, the lists,
    the needs ledger and the audit log (the office and supervisors)."""
    return user is not None and user.role in SUPERVISION


def is_supervisor(user: User | None) -> bool:
    """Whether ``user`` is a supervisor: sees everything, records and changes nothing."""
    return may_supervise(user) and not is_office(user)


def is_helper(user: User | None) -> bool:
    """Whether ``user`` is a helper (帮扶责任人): the accounts households are paired with."""
    return user is not None and user.role == HELPER


# --- households and visits ---------------------------------------------------------------


def in_scope(user: User | None, household: Household) -> bool:
    """Whether ``household`` lies within the township of ``user``'s account: the one home of
    the county's rule. An account without a township (the county's office, or any account of
    a single-township deployment) reaches every township; one of a township only its own.
    Helpers are scoped by their pairings, not by this."""
    return user is not None and (not user.township or user.township == household.township)


def scope_households(user: User | None, households: Iterable[Household]) -> list[Household]:
    """The households of ``households`` within ``user``'s township (see ``in_scope``)."""
    if user is None:
        return []
    if not user.township:
        return list(households)
    return [h for h in households if h.township == user.township]


def scoped_township(user: User | None, asked: str | None) -> str | None:
    """The township a query of ``user``'s covers: their own when their account has one
    (whatever was asked), else the one ``asked`` (None: every township)."""
    if user is not None and user.township:
        return user.township
    return asked


def may_view(user: User | None, household: Household) -> bool:
    """Helpers see their own households; supervisors and the office see all of their
    township (the county's: every township)."""
    if user is None:
        return False
    return (may_supervise(user) and in_scope(user, household)) or user.phone in household.helpers


def may_record(user: User | None, household: Household) -> bool:
    """Helpers record for their own households; the office may enter on anyone's behalf
    within its township. Supervisors record nothing."""
    return (is_office(user) and in_scope(user, household)) or (
        user is not None and is_helper(user) and user.phone in household.helpers
    )


def earliest_date(user: User, today: date) -> date | None:
    """The oldest date ``user`` may record a visit for; None: no limit (补录 by the office).
    Helpers reach back to the month's first day, or a week when the month has just begun."""
    if is_office(user):
        return None
    return min(today.replace(day=1), today - timedelta(days=HELPER_GRACE_DAYS))


def may_correct(user: User | None, visit: Visit, today: date) -> bool:
    """A helper corrects their own visit within its month; the office any time."""
    if is_office(user):
        return True
    return (
        user is not None
        and is_helper(user)
        and user.phone in (visit.helper, visit.recorded_by)
        and visit.month == this_month(today)
    )


def may_add_photo(user: User, household: Household, visit: Visit, today: date) -> bool:
    """Whether ``user`` may add a photo to ``visit`` today. A photo changes the visit, so it
    follows the rule for correcting one (``may_correct``: helpers their own visits within
    the visit's month, the office any time), for the household's own helpers only. A visit
    saved offline at a month's end reaches the server days later with its photos behind
    it: they may follow it as long as a visit of that date may still be recorded."""
    if not may_record(user, household):
        return False
    if may_correct(user, visit, today):
        return True
    earliest = earliest_date(user, today)
    return (
        user.phone in (visit.helper, visit.recorded_by)
        and earliest is not None
        and visit.date >= earliest.isoformat()
    )


# --- route decorators --------------------------------------------------------------------


def _refuse_anonymous() -> Any:
    if request.path.startswith(API_PREFIX) or bearer_request():
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def role_required(*roles: str) -> Callable[[F], F]:
    """Only users with one of ``roles`` (any role when none is named); anyone else logged in
    gets 403, nobody is sent to the login page (401 under the API)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = this_g().user  # every view asks: see context
            if user is None:
                return _refuse_anonymous()
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        # wraps() keeps the view's name and signature, but the checker sees a new function.
        return wrapped  # type: ignore[return-value]

    return decorate


def login_required(view: F) -> F:
    """Any logged-in user."""
    return role_required()(view)


def office_required(view: F) -> F:
    """The township office only (``is_office``)."""
    return role_required(*OFFICE)(view)


def deployment_office_required(view: F) -> F:
    """The office of the whole deployment (``sets_deployment``): a township's office in a
    county gets 403, as for any other role."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not sets_deployment(g.user):
            abort(403)
        return view(*args, **kwargs)

    # wraps() keeps the view's name and signature, but the checker sees a new function.
    return office_required(wrapped)  # type: ignore[return-value]


def supervision_required(view: F) -> F:
    """The office and supervisors (``may_supervise``)."""
    return role_required(*SUPERVISION)(view)


def template_functions() -> dict[str, Callable[..., bool]]:
    """What templates may ask, by the same names: ``{% if is_office(current_user) %}``.

    ``may_view``, ``may_record`` and ``may_correct`` are not among them: the pages that need
    them get the answer for their own household from the view under those names."""
    return {
        "is_office": is_office,
        "sets_deployment": sets_deployment,
        "may_supervise": may_supervise,
        "is_supervisor": is_supervisor,
        "is_helper": is_helper,
    }
