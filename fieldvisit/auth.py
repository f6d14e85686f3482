"""Who is asking: users, logins, API tokens and the role checks every route uses."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_babel import gettext as _

from .clock import now_iso
from .models import ApiToken, AuditEntry, User
from .passwords import MIN_LENGTH, check_password, hash_password, random_password
from .storage import Registry, Store
from .vocab import ROLES

F = TypeVar("F", bound=Callable[..., Any])
PHONE_RE = re.compile(r"^1\d{10}$")
API_PREFIX = "/api/"
PHOTOS_PREFIX = "/photos/"


class AccountError(ValueError):
    """A user account cannot be created or changed as asked."""


def get_store() -> Store:
    return current_app.extensions["fieldvisit.store"]


def _session_stamp(user: User) -> str:
    # A fragment of the hash: changing the password ends every other session of the user.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def normalize_phone(text: str) -> str:
    """A phone number as typed: full-width digits, spaces and hyphens ("194 0765 8894")
    are how people write it, not part of it."""
    return re.sub(r"[\s-]+", "", unicodedata.normalize("NFKC", text))


def authenticate(store: Store, phone: str, password: str) -> User | None:
    user = store.user(normalize_phone(phone))
    if user is None or not user.active or not check_password(user.password_hash, password):
        return None
    return user


def log_in(user: User) -> None:
    session.clear()
    session.permanent = True  # a helper logs in once a month on their phone
    session["uid"] = user.phone
    session["stamp"] = _session_stamp(user)


def log_out() -> None:
    session.clear()


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_request() -> bool:
    """Whether the request offers a Bearer token where tokens count: the API, and reading
    the photos its visits list (their ids are in the API's answers)."""
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return False
    return request.path.startswith(API_PREFIX) or (
        request.method == "GET" and request.path.startswith(PHOTOS_PREFIX)
    )


def load_user() -> None:
    """Set ``g.user`` from a Bearer token (API and photos) or the session; check CSRF for
    browsers."""
    g.user = None
    g.token_auth = False
    store = get_store()
    header = request.headers.get("Authorization", "")
    if bearer_request():
        token = store.registry().tokens.get(_token_digest(header[7:].strip()))
        user = store.user(token.phone) if token else None
        if user is not None and user.active:
            g.user = user
            g.token_auth = True
        return  # a Bearer caller is not a browser: no cookie, no CSRF
    phone = session.get("uid")
    if phone:
        user = store.user(phone)
        if user and user.active and session.get("stamp") == _session_stamp(user):
            g.user = user
        else:
            session.clear()
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if g.user is None and request.path.startswith(API_PREFIX):
            return  # the view answers 401; there is no session to forge a request for
        from .extensions import csrf

        csrf.protect()


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
            if g.user is None:
                return _refuse_anonymous()
            if roles and g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def login_required(view: F) -> F:
    """Any logged-in user."""
    return role_required()(view)


# --- account administration (CLI and pages) ----------------------------------------------


def check_phone(phone: str) -> str:
    phone = phone.strip()
    if not PHONE_RE.match(phone):
        raise AccountError(_("手机号应为 11 位数字：%(phone)s", phone=phone))
    return phone


def check_new_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise AccountError(_("密码至少 %(n)d 位", n=MIN_LENGTH))
    return password


def create_user(
    store: Store, role: str, name: str, phone: str, password: str | None, actor: str
) -> tuple[User, str]:
    """A new user; returns it and its password (generated when none is given)."""
    if role not in ROLES:
        raise AccountError(_("未知角色：%(role)s", role=role))
    phone = check_phone(phone)
    if not name.strip():
        raise AccountError(_("请填写姓名"))
    password = check_new_password(password) if password else random_password()
    user = User(
        phone=phone,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        created_at=now_iso(),
    )

    def add(reg: Registry) -> None:
        if phone in reg.users:
            raise AccountError(_("手机号 %(phone)s 已有账号", phone=phone))
        reg.users[phone] = user

    store.update_registry(add)
    store.audit(AuditEntry(now_iso(), actor, "user.create", phone, None, _public(user)))
    return user, password


def set_password(store: Store, phone: str, password: str | None, actor: str) -> str:
    """Set (or generate) a user's password; returns it."""
    password = check_new_password(password) if password else random_password()
    hashed = hash_password(password)

    def change(reg: Registry) -> None:
        user = reg.users.get(phone)
        if user is None:
            raise AccountError(_("没有手机号为 %(phone)s 的账号", phone=phone))
        user.password_hash = hashed

    store.update_registry(change)
    store.audit(AuditEntry(now_iso(), actor, "user.password", phone))
    return password


def create_token(store: Store, phone: str, actor: str) -> str:
    """A new API token for the user; only its digest is stored."""
    token = secrets.token_urlsafe(32)

    def add(reg: Registry) -> None:
        user = reg.users.get(phone)
        if user is None or not user.active:
            raise AccountError(_("没有手机号为 %(phone)s 的账号", phone=phone))
        reg.tokens[_token_digest(token)] = ApiToken(_token_digest(token), phone, now_iso())

    store.update_registry(add)
    store.audit(AuditEntry(now_iso(), actor, "token.create", phone))
    return token


def _public(user: User) -> dict[str, Any]:
    doc = user.to_doc()
    doc.pop("password_hash", None)
    return doc
