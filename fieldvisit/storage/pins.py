"""One registry for one request: the first read of a request is kept for the rest of it.

A save through the API asks for the registry six to eight times (the token, the user, the
household, a setting, whether the month is closed…). Each ask checks the disk (two ``stat``
calls and a lock) or, on PostgreSQL, the database (a round trip): together more than the
save's own write. Within a request they are now answered by the registry the request first
read, which is also the consistent answer — one request sees one registry, not a registry
that changed half-way through it.

What a writer decides under its lock never comes from a pin: the engines read the registry
afresh there. A registry written by this process drops the pin, so a request reads its own
writes. Outside a request (commands, background jobs) nothing is pinned.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

T = TypeVar("T")

_pins: ContextVar[dict[Hashable, Any] | None] = ContextVar("fieldvisit_pins", default=None)


def begin() -> Token[dict[Hashable, Any] | None]:
    """Start pinning reads (at the start of a request); give the token to ``end``."""
    return _pins.set({})


def end(token: Token[dict[Hashable, Any] | None]) -> None:
    """Stop pinning reads (at the end of the request that began them)."""
    _pins.reset(token)


def pinned(key: Hashable, read: Callable[[], T]) -> T:
    """``read()``, or what it gave first in this request."""
    pins = _pins.get()
    if pins is None:
        return read()
    if key not in pins:
        pins[key] = read()
    value: T = pins[key]
    return value


def wanted(key: Hashable) -> bool:
    """True when a request is pinning reads and has not yet read ``key``: a read it makes now
    may be given to ``pinned`` for the rest of the request."""
    pins = _pins.get()
    return pins is not None and key not in pins


def peek(key: Hashable) -> Any:
    """What ``key`` is pinned to in this request, or None (nothing read yet, or no request)."""
    pins = _pins.get()
    return pins.get(key) if pins is not None else None


def forget(key: Hashable) -> None:
    """Drop the pin of ``key``: this process has just written what it holds."""
    pins = _pins.get()
    if pins is not None:
        pins.pop(key, None)
