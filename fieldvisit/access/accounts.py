"""Who is asking: users, logins, API tokens and the role checks every route uses."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_babel import gettext as _

from ..clock import now_iso
from ..models import ApiToken, AuditEntry, LoginSession, User
from ..storage import Registry, Store
from ..vocab import ROLES
from .passwords import MIN_LENGTH, check_password, dummy_hash, hash_password, random_password

F = TypeVar("F", bound=Callable[..., Any])
PHONE_RE = re.compile(r"\A1[0-9]{10}\Z")  # the whole value, ASCII digits
API_PREFIX = "/api/"
PHOTOS_PREFIX = "/photos/"
# A token's "last used" is for the office to tell a live client from a forgotten one; to the
# hour is plenty, and writing the registry on every API call would cost the helping day.
TOKEN_USE_EVERY = timedelta(hours=1)


class AccountError(ValueError):
    """A user account cannot be created or changed as asked."""


def get_store() -> Store:
    return current_app.extensions["fieldvisit.store"]


def _session_stamp(user: User) -> str:
    # A fragment of the hash, kept with each session record: a login that raced a password
    # change (checked against the old hash, recorded after the change ended the sessions)
    # still stops working.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def normalize_phone(text: str) -> str:
    """A phone number as typed: full-width digits, spaces and hyphens ("194 0765 8894")
    are how people write it, not part of it."""
    return re.sub(r"[\s-]+", "", unicodedata.normalize("NFKC", text))


def authenticate(store: Store, phone: str, password: str) -> User | None:
    user = store.user(normalize_phone(phone))
    if user is None or not user.active or not user.password_hash:
        # The same hashing work as a wrong password of a real account: how long the answer
        # takes must not tell which phones have an account.
        check_password(dummy_hash(), password)
        return None
    if not check_password(user.password_hash, password):
        return None
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- browser sessions ----------------------------------------------------------------------
# The cookie holds the phone and a random session id; the server keeps a record of each id
# (Store.login_sessions). A copy of the cookie works only while its record is there, so
# logging out, changing the password or stopping the account ends it for good.


def _today() -> str:
    return now_iso()[:10]


def _lifetime() -> timedelta:
    return current_app.permanent_session_lifetime


def _expired(record: LoginSession, today: str) -> bool:
    seen = date.fromisoformat(record.seen_on or record.created_at[:10])
    return seen + _lifetime() < date.fromisoformat(today)


def log_in(user: User) -> None:
    """Start a session for ``user`` in this browser (a fresh id: one from before the login,
    perhaps planted by someone else, is never carried over)."""
    store = get_store()
    sid = secrets.token_urlsafe(32)
    today = _today()
    record = LoginSession(_token_digest(sid), user.phone, now_iso(), today, _session_stamp(user))

    def add(sessions: dict[str, LoginSession]) -> None:
        for digest in [d for d, s in sessions.items() if _expired(s, today)]:
            del sessions[digest]  # browsers long gone: the file does not grow forever
        sessions[record.digest] = record

    store.update_login_sessions(add)
    session.clear()
    session.permanent = True  # a helper logs in once a month on their phone
    session["uid"] = user.phone
    session["sid"] = sid


def log_out() -> None:
    """End this browser's session, on the server too."""
    store = get_store()
    sid, phone = session.get("sid"), session.get("uid")
    session.clear()
    if not isinstance(sid, str) or not isinstance(phone, str):
        return
    digest = _token_digest(sid)
    ended = store.update_login_sessions(lambda sessions: sessions.pop(digest, None))
    if ended is not None:
        store.audit(AuditEntry(now_iso(), ended.phone, "user.logout", ended.phone))


def end_sessions(store: Store, phone: str, actor: str) -> int:
    """End every session of the account (each browser must log in again); returns how many
    there were. Written to the audit log when there were any."""

    def drop(sessions: dict[str, LoginSession]) -> int:
        mine = [d for d, s in sessions.items() if s.phone == phone]
        for digest in mine:
            del sessions[digest]
        return len(mine)

    count = store.update_login_sessions(drop)
    if count:
        entry = AuditEntry(now_iso(), actor, "user.sessions_end", phone, None, {"sessions": count})
        store.audit(entry)
    return count


def log_out_everywhere(store: Store, phone: str) -> int:
    """The user's "log out on every device": this browser's session ends with the others."""
    count = end_sessions(store, phone, actor=phone)
    session.clear()
    return count


def _session_user(store: Store, phone: str, sid: Any) -> User | None:
    """The user whose recorded, unexpired session the cookie names, or None."""
    if not isinstance(sid, str) or not isinstance(phone, str):
        return None  # a cookie from before sessions were recorded, or a made-up one
    digest = _token_digest(sid)
    record = store.login_session(digest)
    user = store.user(phone)
    if record is None or user is None or record.phone != phone or not user.active:
        return None
    if record.stamp != _session_stamp(user):
        return None
    today = _today()
    if _expired(record, today):
        return None
    if record.seen_on != today:
        # Once a day at most: the session lasts SESSION_DAYS from the browser's last use.
        def touch(sessions: dict[str, LoginSession]) -> None:
            if digest in sessions:
                sessions[digest].seen_on = today

        store.update_login_sessions(touch)
    return user


# --- API tokens ----------------------------------------------------------------------------


def _note_token_use(store: Store, token: ApiToken) -> None:
    now = datetime.now().astimezone()
    if token.last_used and now - datetime.fromisoformat(token.last_used) < TOKEN_USE_EVERY:
        return

    def touch(reg: Registry) -> None:
        stored = reg.tokens.get(token.digest)
        if stored is not None:
            stored.last_used = now.isoformat(timespec="seconds")

    store.update_registry(touch)


def tokens_of(store: Store, phone: str) -> list[ApiToken]:
    """The account's API tokens, oldest first (digests and times: the tokens themselves are
    not kept)."""
    found = [t for t in store.registry().tokens.values() if t.phone == phone]
    return sorted(found, key=lambda t: t.created_at)


def drop_tokens(reg: Registry, phone: str, prefix: str = "") -> int:
    """Remove the account's tokens (only the one whose digest starts with ``prefix``, when
    given) from ``reg``, inside a registry change; returns how many."""
    gone = [d for d, t in reg.tokens.items() if t.phone == phone and d.startswith(prefix)]
    for digest in gone:
        del reg.tokens[digest]
    return len(gone)


def audit_revoked_tokens(store: Store, phone: str, count: int, actor: str) -> None:
    if count:
        entry = AuditEntry(now_iso(), actor, "token.revoke", phone, None, {"tokens": count})
        store.audit(entry)


def revoke_tokens(store: Store, phone: str, actor: str, prefix: str = "") -> int:
    """Revoke the account's API tokens at once (or the one whose digest starts with
    ``prefix``); returns how many. Raises AccountError for an unknown phone."""

    def drop(reg: Registry) -> int:
        if phone not in reg.users:
            raise AccountError(_("没有手机号为 %(phone)s 的账号", phone=phone))
        return drop_tokens(reg, phone, prefix)

    count = store.update_registry(drop)
    audit_revoked_tokens(store, phone, count, actor)
    return count


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
        if token is not None and user is not None and user.active:
            g.user = user
            g.token_auth = True
            _note_token_use(store, token)
        return  # a Bearer caller is not a browser: no cookie, no CSRF
    phone = session.get("uid")
    if phone:
        user = _session_user(store, phone, session.get("sid"))
        if user is not None:
            g.user = user
        else:
            session.clear()
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if g.user is None and request.path.startswith(API_PREFIX):
            return  # the view answers 401; there is no session to forge a request for
        from ..extensions import csrf

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

        # wraps() keeps the view's name and signature, but the checker sees a new function.
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
    """Set (or generate) a user's password; returns it. Every session and API token of the
    account ends: whoever knew the old password may have used it to get them."""
    password = check_new_password(password) if password else random_password()
    hashed = hash_password(password)

    def change(reg: Registry) -> int:
        user = reg.users.get(phone)
        if user is None:
            raise AccountError(_("没有手机号为 %(phone)s 的账号", phone=phone))
        user.password_hash = hashed
        return drop_tokens(reg, phone)  # in the same write as the new password

    revoked = store.update_registry(change)
    store.audit(AuditEntry(now_iso(), actor, "user.password", phone))
    audit_revoked_tokens(store, phone, revoked, actor)
    end_sessions(store, phone, actor)
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
