"""Configuration from the environment, read in one place.

Every variable is prefixed ``FIELDVISIT_``. Readers are typed and fail loudly: a server
started with ``FIELDVISIT_SESSION_DAYS=thirty`` should refuse to start, not guess.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "FIELDVISIT_"


class ConfigError(ValueError):
    """An environment variable holds a value that cannot be used."""


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(PREFIX + name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def read_str(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = _raw(env, name)
    return default if value is None else value


def read_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    value = _raw(env, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{PREFIX}{name} must be at least {minimum}, not {number}")
    return number


def read_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _raw(env, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{PREFIX}{name} must be true or false, not {value!r}")


def check_base_url(value: str) -> str:
    """A base URL phones can open: http(s), a host, no query; kept without trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(
            f"{PREFIX}BASE_URL must look like http://192.168.1.10:5000, not {value!r}"
        )
    return value.rstrip("/")


ENVIRONMENTS = ("development", "production")


def read_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = _raw(env, name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise ConfigError(f"{PREFIX}{name} must be one of {', '.join(choices)}, not {value!r}")
    return value.lower()


def from_environment(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Flask config keys this app reads from ``FIELDVISIT_*`` variables."""
    env = os.environ if env is None else env
    config: dict[str, Any] = {
        "DATA_DIR": str(Path(read_str(env, "DATA_DIR", "data") or "data").resolve()),
        "SESSION_DAYS": read_int(env, "SESSION_DAYS", 31, minimum=1),
        "MAX_UPLOAD_MB": read_int(env, "MAX_UPLOAD_MB", 20, minimum=1),
        "SECURE_COOKIES": read_bool(env, "SECURE_COOKIES", False),
        # Visits farther than this from their household are flagged for supervisors.
        "FAR_METERS": read_int(env, "FAR_METERS", 500, minimum=1),
        # production: refuse a guessable secret key (see security.check_secret).
        "ENVIRONMENT": read_choice(env, "ENV", ENVIRONMENTS, "development"),
        # Login attempt counts; memory is per process, several processes need a shared
        # store such as redis://host:6379 (with the redis package installed).
        "RATELIMIT_STORAGE_URI": read_str(env, "RATELIMIT_STORAGE", "memory://"),
        # Reverse proxies in front (nginx for HTTPS: 1). Their X-Forwarded-For/-Proto are
        # trusted, so login limits count the phone's address, not the proxy's.
        "PROXIES": read_int(env, "PROXIES", 0),
    }
    secret = read_str(env, "SECRET_KEY")
    if secret is not None:
        config["SECRET_KEY"] = secret
    base_url = read_str(env, "BASE_URL")
    if base_url is not None:
        config["BASE_URL"] = check_base_url(base_url)
    township = read_str(env, "TOWNSHIP")
    if township is not None:
        config["TOWNSHIP"] = township
    # The daily backup (started by run.py, not by the app): off unless a folder is given.
    backup_dir = read_str(env, "BACKUP_DIR")
    config["BACKUP_DIR"] = str(Path(backup_dir).resolve()) if backup_dir else None
    config["BACKUP_KEEP"] = read_int(env, "BACKUP_KEEP", 14, minimum=1)
    # PostgreSQL instead of the data folder (storage.current; docs/decisions/0015).
    config["DATABASE_URL"] = read_str(env, "DATABASE_URL")
    config["DATABASE_POOL"] = read_int(env, "DATABASE_POOL", 10, minimum=2)
    config["SHARED_DIR"] = read_str(env, "SHARED_DIR")
    return config
