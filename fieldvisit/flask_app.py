"""The Flask class of the app: Flask's, with two costs of every request taken away.

Both were measured on the API's save (``bench/bench_api_save.py``), where Flask's own work
is a large part of the request: a Bearer request reads no cookie session, and the check that
a view or hook is a coroutine is made once per function, not once per call.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any
from weakref import WeakKeyDictionary

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin


class _CookieSessions(SecureCookieSessionInterface):
    """The signed-cookie session, neither read nor written for a Bearer request:
    ``login.load_user`` takes such a caller from its token and never from a cookie, so the
    cookie's signature need not be checked. The request gets an empty session of its own
    (an error page may still look for messages to flash), which is never saved: a browser's
    cookie sent along is left as it is."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if _bearer():
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if _bearer():
            return
        super().save_session(app, session, response)


def _bearer() -> bool:
    from .access.login import bearer_request  # access imports the app's extensions

    return bearer_request()


class FieldvisitFlask(Flask):
    session_interface = _CookieSessions()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Weak keys, and no reference back to them: a function made for one request
        # (``after_this_request``) is not kept.
        self._coroutine: WeakKeyDictionary[Callable[..., Any], bool] = WeakKeyDictionary()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Flask asks this for every hook and view of every request, and answers with
        # inspect's coroutine check each time; views and hooks are made once, so the answer
        # is kept (a callable that cannot be weakly referenced is asked every time).
        try:
            coroutine = self._coroutine.get(func)
            if coroutine is None:
                coroutine = self._coroutine[func] = iscoroutinefunction(func)
        except TypeError:
            return super().ensure_sync(func)
        return super().ensure_sync(func) if coroutine else func
