"""Password hashing. Kept apart from the views so that the CLI and the demo builder share it."""

from __future__ import annotations

import secrets

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 6
# werkzeug's default (scrypt). Tests swap in a cheap method: the method is stored in each
# hash, so checking a password always uses the method it was hashed with.
METHOD = "scrypt"


def hash_password(password: str) -> str:
    """A salted scrypt hash (werkzeug's default), safe to store."""
    return generate_password_hash(password, method=METHOD)


# Hashes of no one's password, by method: see dummy_hash.
_DUMMIES: dict[str, str] = {}


def dummy_hash() -> str:
    """A hash no password matches, made with the current METHOD, for checking a password
    when there is no account (or it cannot log in): the check then costs what a real one
    costs. Made on first use, so a test that swaps METHOD gets one of the same cost."""
    method = METHOD
    if method not in _DUMMIES:
        _DUMMIES[method] = generate_password_hash(secrets.token_urlsafe(24), method=method)
    return _DUMMIES[method]


def check_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; an empty hash (no password set yet) never matches."""
    if not password_hash:
        return False
    return check_password_hash(password_hash, password)


def random_password() -> str:
    """An initial password a helper can type on a phone: 10 letters and digits, no look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))
