"""Defences every response and every start-up gets: security headers, a refusal to run in
production with a guessable secret key, and a brake on guessing API tokens.

Login attempts are limited in ``views/auth.py`` (the limits belong next to the form they
guard); the limiter object itself lives in ``extensions.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, abort
from limits.storage import MemoryStorage
from werkzeug.wrappers import Response

from ..config import ConfigError
from ..context import this_g, this_request
from ..extensions import limiter
from .login import bearer_request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Pages load only what the app serves: no inline script or style, so an injected
# ``<script>`` or ``style=`` does nothing. ``data:`` covers the empty favicon; ``blob:`` the
# photo preview the visit form draws before a photo is sent.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Household pages are addressed by their door-plate token: the URL must not travel to
    # another site in a Referer header.
    "Referrer-Policy": "same-origin",
    # The visit form asks for the phone's location and camera; nothing else may.
    "Permissions-Policy": "geolocation=(self), camera=(self), microphone=(), payment=(), usb=()",
}
# Behind HTTPS only: sent over plain HTTP it would lock phones out of a LAN server.
HSTS = "max-age=31536000"

# Secrets that appear in examples, tutorials and this project's own tests.
KNOWN_SECRETS = frozenset(
    {
        "dev",
        "development",
        "secret",
        "secret-key",
        "secret_key",
        "secretkey",
        "changeme",
        "change-me",
        "change_me",
        "default",
        "password",
        "fieldvisit",
        "test-secret",
        "your-secret-key",
        "supersecret",
    }
)
MIN_SECRET_LENGTH = 32

# Failed Bearer tokens per address: a token is 256 bits, so this is not what keeps it
# secret; it keeps a scanner from filling the log and the CPU.
TOKEN_FAILURE_LIMIT = "20 per 15 minutes"


def weak_secret(secret: object) -> bool:
    """True for a secret key someone could guess: a known default, short, or repetitive."""
    if not isinstance(secret, str | bytes):
        return True
    text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
    return (
        text.strip().lower() in KNOWN_SECRETS or len(text) < MIN_SECRET_LENGTH or len(set(text)) < 8
    )


def check_secret(app: Flask) -> None:
    """Refuse to build a production app whose session cookies anyone could forge."""
    if app.config.get("ENVIRONMENT") == "production" and weak_secret(app.config["SECRET_KEY"]):
        raise ConfigError(
            "FIELDVISIT_SECRET_KEY is a default or too short for production: set at least "
            f"{MIN_SECRET_LENGTH} random characters (python -c 'import secrets; "
            "print(secrets.token_hex(32))'), or unset it to have one generated in the data folder"
        )


class SecurityHeaders:
    """WSGI middleware: the security headers on every response the app sends (error pages
    and static files included) that did not set them itself.

    They are added to the header list on its way out, after every hook: as an after_request
    hook, putting them into the response's ``Headers`` (each value checked as it goes in)
    cost about a twentieth of the API's save, and every later look-up of a header (the
    gzip check, the session) scanned them too."""

    def __init__(self, app: WSGIApplication, headers: Iterable[tuple[str, str]]) -> None:
        self.app = app
        self.headers = [(name.lower(), (name, value)) for name, value in headers]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _value in headers}
            headers = headers + [pair for name, pair in self.headers if name not in present]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def security_headers(app: Flask) -> list[tuple[str, str]]:
    """The headers every response of ``app`` gets: HSTS only behind HTTPS."""
    wanted = list(HEADERS.items())
    if app.config.get("SECURE_COOKIES"):
        wanted.append(("Strict-Transport-Security", HSTS))
    return wanted


@functools.cache
def _token_failure_limit() -> Any:
    # Parsed once: every Bearer request asks whether its address is blocked.
    from limits import parse

    return parse(TOKEN_FAILURE_LIMIT)


def _token_limit_key() -> str:
    return f"bearer-failures/{this_request().remote_addr or 'unknown'}"


def refuse_token_guessing() -> None:
    """Before the token is looked up: an address that failed too often gets 429."""
    if not bearer_request() or not limiter.enabled:
        return
    key = _token_limit_key()
    if not _FAILED.may_have(key):
        return
    if not limiter.limiter.test(_token_failure_limit(), key):
        abort(429)


def count_token_failure(response: Response) -> Response:
    # The accepted token first: it is the API's every request, and answers alone.
    if not this_g().get("token_auth", False) and bearer_request() and limiter.enabled:
        key = _token_limit_key()
        _FAILED.add(key)
        limiter.limiter.hit(_token_failure_limit(), key)
    return response


class _Failed:
    """The addresses this process counted a failed Bearer token for. While the limiter
    keeps its counts in this process's memory (its default), an address not among them has
    no count: ``refuse_token_guessing`` then does not ask the limiter, whose look-up was
    about a thirtieth of an API save. With counts shared between processes (PostgreSQL, a
    ``RATELIMIT_STORAGE``), or past ``most`` addresses, every request asks."""

    def __init__(self, most: int = 10_000) -> None:
        self.most = most
        self.full = False
        self._keys: set[str] = set()

    def add(self, key: str) -> None:
        if len(self._keys) < self.most:
            self._keys.add(key)
        else:
            self.full = True

    def may_have(self, key: str) -> bool:
        return self.full or key in self._keys or not isinstance(limiter.storage, MemoryStorage)


_FAILED = _Failed()


def trust_proxies(app: Flask) -> None:
    """Behind ``PROXIES`` reverse proxies, take the client's address and scheme from their
    headers; with none (the default) those headers are ignored, as anyone can send them."""
    count = int(app.config.get("PROXIES") or 0)
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    """At start-up: refuse a guessable secret, send the security headers, trust the
    configured proxies. The hooks of this module (refuse_token_guessing,
    count_token_failure) are registered by ``create_app``'s ``register_hooks``, where their
    order with the others is set."""
    check_secret(app)
    # Replacing wsgi_app is how Flask documents adding middleware.
    app.wsgi_app = SecurityHeaders(app.wsgi_app, security_headers(app))  # type: ignore[method-assign]
    trust_proxies(app)
