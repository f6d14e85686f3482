"""API tokens: made, listed and revoked by the office, recognised on each API call.

Only a token's digest is kept: whoever reads the registry file cannot call the API with it.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from datetime import datetime, timedelta

from flask_babel import gettext as _

from ..clock import now_iso
from ..models import ApiToken, AuditEntry
from ..storage import Registry, Store
from .errors import AccountError

# A token's "last used" is for the office to tell a live client from a forgotten one; to the
# hour is plenty, and writing the registry on every API call would cost the helping day.
TOKEN_USE_EVERY = timedelta(hours=1)
_EVERY_SECONDS = TOKEN_USE_EVERY.total_seconds()


def token_digest(token: str) -> str:
    """What is stored for a token (or a login session's id): its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@functools.lru_cache(maxsize=1024)
def _moment(stamp: str) -> float:
    """A stored time stamp (with its offset) as seconds since the epoch: parsed once, as
    every API call compares its token's with now."""
    return datetime.fromisoformat(stamp).timestamp()


def note_token_use(store: Store, token: ApiToken) -> None:
    """Record that ``token`` was used now, at most once an hour (TOKEN_USE_EVERY)."""
    if token.last_used and time.time() - _moment(token.last_used) < _EVERY_SECONDS:
        return
    now = datetime.now().astimezone()

    def touch(reg: Registry) -> None:
        stored = reg.tokens.get(token.digest)
        if stored is not None:
            stored.last_used = now.isoformat(timespec="seconds")

    store.update_registry(touch, tables=("tokens",))


def create_token(store: Store, phone: str, actor: str) -> str:
    """A new API token for the user; only its digest is stored. Raises AccountError for an
    unknown or stopped account."""
    token = secrets.token_urlsafe(32)

    def add(reg: Registry) -> None:
        user = reg.users.get(phone)
        if user is None or not user.active:
            raise AccountError(_("没有手机号为 %(phone)s 的账号", phone=phone))
        reg.tokens[token_digest(token)] = ApiToken(token_digest(token), phone, now_iso())

    store.update_registry(add, lambda _r: [AuditEntry(now_iso(), actor, "token.create", phone)])
    return token


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


def revoked_entries(phone: str, count: int, actor: str) -> list[AuditEntry]:
    """The audit entry of revoking ``count`` tokens (none when none were), for the registry
    change that revoked them."""
    if not count:
        return []
    return [AuditEntry(now_iso(), actor, "token.revoke", phone, None, {"tokens": count})]


def revoke_tokens(store: Store, phone: str, actor: str, prefix: str = "") -> int:
    """Revoke the account's API tokens at once (or the one whose digest starts with
    ``prefix``); returns how many. Raises AccountError for an unknown phone."""

    def drop(reg: Registry) -> int:
        if phone not in reg.users:
            raise AccountError(_("没有手机号为 %(phone)s 的账号", phone=phone))
        return drop_tokens(reg, phone, prefix)

    return store.update_registry(drop, lambda count: revoked_entries(phone, count, actor))
