"""Passwords are stored hashed, with scrypt unless a test asks for less."""

from __future__ import annotations

from werkzeug.security import generate_password_hash

from fieldvisit.access.passwords import check_password, random_password


def test_the_default_method_is_scrypt():
    import importlib

    import fieldvisit.access.passwords as module

    fresh = importlib.reload(module)
    try:
        assert fresh.METHOD == "scrypt"
        hashed = fresh.hash_password("correct horse")
        assert hashed.startswith("scrypt:") and "correct horse" not in hashed
        assert fresh.check_password(hashed, "correct horse")
    finally:
        fresh.METHOD = "pbkdf2:sha256:1000"  # what tests/helpers.py sets for the rest of the tests


def test_checking_uses_the_method_stored_in_the_hash():
    hashed = generate_password_hash("abc123", method="pbkdf2:sha256:1000")
    assert check_password(hashed, "abc123") and not check_password(hashed, "abc124")
    assert not check_password("", "")  # no password set: never logs in


def test_random_passwords_are_typeable_and_different():
    first, second = random_password(), random_password()
    assert first != second and len(first) == 10
    assert not set(first) & set("il1o0")


def test_the_stand_in_hash_is_made_with_the_current_method(monkeypatch):
    import fieldvisit.access.passwords as module

    cheap = module.dummy_hash()
    assert cheap.startswith("pbkdf2:sha256:1000$") and cheap == module.dummy_hash()
    monkeypatch.setattr(module, "METHOD", "scrypt")
    real = module.dummy_hash()
    assert real.startswith("scrypt:")  # as costly as the hashes it stands in for
    assert not any(check_password(h, p) for h in (cheap, real) for p in ("", "secret123"))
