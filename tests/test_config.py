"""Configuration from FIELDVISIT_* variables: typed, loud about bad values."""

from __future__ import annotations

import pytest

from fieldvisit import create_app
from fieldvisit.config import ConfigError, from_environment


def test_defaults(tmp_path):
    config = from_environment({})
    assert config["DATA_DIR"].endswith("data")
    assert config["SESSION_DAYS"] == 31
    assert "SECRET_KEY" not in config


def test_values_are_read_and_checked(tmp_path):
    config = from_environment(
        {
            "FIELDVISIT_DATA_DIR": str(tmp_path),
            "FIELDVISIT_BASE_URL": "http://192.168.1.10:5000/",
            "FIELDVISIT_SESSION_DAYS": "20",
            "FIELDVISIT_SECURE_COOKIES": "yes",
        }
    )
    assert config["DATA_DIR"] == str(tmp_path)
    assert config["BASE_URL"] == "http://192.168.1.10:5000"
    assert config["SESSION_DAYS"] == 20
    assert config["SECURE_COOKIES"] is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SESSION_DAYS", "thirty"),
        ("SESSION_DAYS", "0"),
        ("SECURE_COOKIES", "maybe"),
        ("BASE_URL", "192.168.1.10"),
        ("BASE_URL", "ftp://x"),
    ],
)
def test_bad_values_are_refused(name, value):
    with pytest.raises(ConfigError, match=f"FIELDVISIT_{name}"):
        from_environment({f"FIELDVISIT_{name}": value})


def test_a_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("FIELDVISIT_SECRET_KEY", raising=False)
    first = create_app({"DATA_DIR": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"DATA_DIR": str(tmp_path)}).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_reaches_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDVISIT_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("FIELDVISIT_SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.extensions["fieldvisit.store"].root == (tmp_path / "d").resolve()
