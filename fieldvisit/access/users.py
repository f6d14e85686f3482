"""Account administration, for the commands and the office's pages: creating a user and
setting a password (which ends the account's sessions and tokens)."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _

from ..clock import now_iso
from ..models import AuditEntry, User
from ..storage import Registry, Store
from ..vocab import ROLES
from .errors import AccountError
from .login import end_sessions
from .passwords import MIN_LENGTH, hash_password, random_password
from .tokens import drop_tokens, revoked_entries

__all__ = [
    "PHONE_RE",
    "AccountError",
    "check_new_password",
    "check_phone",
    "create_user",
    "set_password",
]

PHONE_RE = re.compile(r"\A1[0-9]{10}\Z")  # the whole value, ASCII digits


def check_phone(phone: str) -> str:
    """The phone without surrounding spaces; AccountError unless it is 11 ASCII digits
    starting with 1."""
    phone = phone.strip()
    if not PHONE_RE.match(phone):
        raise AccountError(_("手机号应为 11 位数字：%(phone)s", phone=phone))
    return phone


def check_new_password(password: str) -> str:
    """The password as given; AccountError when it is shorter than MIN_LENGTH."""
    if len(password) < MIN_LENGTH:
        raise AccountError(_("密码至少 %(n)d 位", n=MIN_LENGTH))
    return password


def create_user(
    store: Store,
    role: str,
    name: str,
    phone: str,
    password: str | None,
    actor: str,
    township: str = "",
) -> tuple[User, str]:
    """A new user; returns it and its password (generated when none is given). ``township``
    limits an office or supervisor account to that township (see permissions.in_scope)."""
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
        township=township.strip(),
    )

    def add(reg: Registry) -> None:
        if phone in reg.users:
            raise AccountError(_("手机号 %(phone)s 已有账号", phone=phone))
        if user.township and user.township not in {h.township for h in reg.households.values()}:
            raise AccountError(_("名册里没有乡镇“%(name)s”", name=user.township))
        reg.users[phone] = user

    store.update_registry(
        add, lambda _r: [AuditEntry(now_iso(), actor, "user.create", phone, None, _public(user))]
    )
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

    def entries(revoked: int) -> list[AuditEntry]:
        entry = AuditEntry(now_iso(), actor, "user.password", phone)
        return [entry, *revoked_entries(phone, revoked, actor)]

    store.update_registry(change, entries)
    end_sessions(store, phone, actor)
    return password


def _public(user: User) -> dict[str, Any]:
    doc = user.to_doc()
    doc.pop("password_hash", None)
    return doc
