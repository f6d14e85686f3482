"""Who is asking: logging in and out, the server-side record of each browser's session, and
the request hook that sets ``g.user`` from a session or an API token."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import date, timedelta
from typing import Any

from flask import current_app, session

from ..clock import now_iso
from ..context import this_g, this_request
from ..models import AuditEntry, LoginSession, User
from ..storage import Store
from ..storage.current import get_store
from .passwords import check_password, dummy_hash
from .tokens import note_token_use, token_digest

API_PREFIX = "/api/"
PHOTOS_PREFIX = "/photos/"


def normalize_phone(text: str) -> str:
    """A phone number as typed: full-width digits, spaces and hyphens ("194 0765 8894")
    are how people write it, not part of it."""
    return re.sub(r"[\s-]+", "", unicodedata.normalize("NFKC", text))


def authenticate(store: Store, phone: str, password: str) -> User | None:
    """The active account with this phone and password, or None; as slow either way."""
    user = store.user(normalize_phone(phone))
    if user is None or not user.active or not user.password_hash:
        # The same hashing work as a wrong password of a real account: how long the answer
        # takes must not tell which phones have an account.
        check_password(dummy_hash(), password)
        return None
    if not check_password(user.password_hash, password):
        return None
    return user


# --- browser sessions ----------------------------------------------------------------------
# The cookie holds the phone and a random session id; the server keeps a record of each id
# (Store.sessions). A copy of the cookie works only while its record is there, so
# logging out, changing the password or stopping the account ends it for good.


def _session_stamp(user: User) -> str:
    # A fragment of the hash, kept with each session record: a login that raced a password
    # change (checked against the old hash, recorded after the change ended the sessions)
    # still stops working.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


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
    record = LoginSession(token_digest(sid), user.phone, now_iso(), today, _session_stamp(user))

    def add(sessions: dict[str, LoginSession]) -> None:
        for digest in [d for d, s in sessions.items() if _expired(s, today)]:
            del sessions[digest]  # browsers long gone: the file does not grow forever
        sessions[record.digest] = record

    store.sessions.update(add, phone=user.phone)
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
    digest = token_digest(sid)
    store.sessions.update(
        lambda sessions: sessions.pop(digest, None),
        lambda ended: (
            [AuditEntry(now_iso(), ended.phone, "user.logout", ended.phone)]
            if ended is not None
            else []
        ),
        phone=phone,
    )


def end_sessions(store: Store, phone: str, actor: str) -> int:
    """End every session of the account (each browser must log in again); returns how many
    there were. Written to the audit log when there were any."""

    def drop(sessions: dict[str, LoginSession]) -> int:
        mine = [d for d, s in sessions.items() if s.phone == phone]
        for digest in mine:
            del sessions[digest]
        return len(mine)

    def entries(count: int) -> list[AuditEntry]:
        after = {"sessions": count}
        return (
            [AuditEntry(now_iso(), actor, "user.sessions_end", phone, None, after)] if count else []
        )

    return store.sessions.update(drop, entries, phone=phone)


def log_out_everywhere(store: Store, phone: str) -> int:
    """The user's "log out on every device": this browser's session ends with the others."""
    count = end_sessions(store, phone, actor=phone)
    session.clear()
    return count


def _session_user(store: Store, phone: str, sid: Any) -> User | None:
    """The user whose recorded, unexpired session the cookie names, or None."""
    if not isinstance(sid, str) or not isinstance(phone, str):
        return None  # a cookie from before sessions were recorded, or a made-up one
    digest = token_digest(sid)
    record = store.sessions.get(digest)
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

        store.sessions.update(touch, phone=phone)
    return user


# --- every request ---------------------------------------------------------------------------


def bearer_request() -> bool:
    """Whether the request offers a Bearer token where tokens count: the API, and reading
    the photos its visits list (their ids are in the API's answers)."""
    # Asked four times a request (the session, the token-guessing guard before and after,
    # load_user): answered once, kept in the request's environ.
    environ = this_request().environ
    known = environ.get(_BEARER)
    if known is None:
        known = environ[_BEARER] = _offers_bearer()
    return bool(known)


_BEARER = "fieldvisit.bearer"


def _offers_bearer() -> bool:
    req = this_request()
    if not req.headers.get("Authorization", "").startswith("Bearer "):
        return False
    return req.path.startswith(API_PREFIX) or (
        req.method == "GET" and req.path.startswith(PHOTOS_PREFIX)
    )


def _token_user(store: Store, header: str) -> User | None:
    """The active user whose API token the ``Authorization`` header holds, its use noted."""
    token = store.registry().tokens.get(token_digest(header[7:].strip()))
    user = store.user(token.phone) if token else None
    if token is None or user is None or not user.active:
        return None
    note_token_use(store, token)
    return user


def load_user() -> None:
    """Set ``g.user`` from a Bearer token (API and photos) or the session; check CSRF for
    browsers."""
    store, req, request_g = get_store(), this_request(), this_g()
    if bearer_request():
        user = _token_user(store, req.headers.get("Authorization", ""))
        request_g.user, request_g.token_auth = user, user is not None
        return  # a Bearer caller is not a browser: no cookie, no CSRF
    request_g.user, request_g.token_auth = None, False
    phone = session.get("uid")
    if phone:
        user = _session_user(store, phone, session.get("sid"))
        if user is not None:
            request_g.user = user
        else:
            session.clear()
    if req.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request_g.user is None and req.path.startswith(API_PREFIX):
            return  # the view answers 401; there is no session to forge a request for
        from ..extensions import csrf

        csrf.protect()
