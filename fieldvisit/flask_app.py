"""The Flask class of the app: Flask's, with four costs of every request taken away.

Each was measured on the API's save (``bench/bench_api_save.py``), where Flask's own work
is a large part of the request: a Bearer request reads no cookie session, the check that a
view or hook is a coroutine reads the function's flags without inspect's unwrapping, JSON
answers are not sorted by key and are encoded by orjson, and the request is given its body's
size limit as it is made.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from inspect import CO_COROUTINE
from types import FunctionType
from typing import TYPE_CHECKING, Any

import orjson
from flask import Flask, Request, Response
from flask.ctx import RequestContext
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from .access.login import bearer_request

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class _CookieSessions(SecureCookieSessionInterface):
    """The signed-cookie session, neither read nor written for a Bearer request:
    ``login.load_user`` takes such a caller from its token and never from a cookie, so the
    cookie's signature need not be checked. The request gets an empty session of its own
    (an error page may still look for messages to flash), which is never saved: a browser's
    cookie sent along is left as it is."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if bearer_request():
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if bearer_request():
            return
        super().save_session(app, session, response)


class _JSON(DefaultJSONProvider):
    # Answers keep their documents' own order: sorting every key of every answer cost the
    # API's save a little, for nothing a client reads.
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        # Every answer (``response``) asks for the compact form: orjson writes it, Chinese
        # text as UTF-8 rather than ``\uXXXX`` escapes (decision 21); what it refuses (a key
        # that is not a string), one standard encoder made once, where ``json.dumps`` with
        # arguments makes one per answer. Called without arguments (as the test client
        # encodes a request body), it is Flask's, ASCII escapes and all.
        if kwargs == _COMPACT_ARGS:
            try:
                return orjson.dumps(obj, default=_default, option=_ORJSON_OPTIONS).decode()
            except orjson.JSONEncodeError:
                return _COMPACT_ANSWER.encode(obj)
        return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # A request's body (Flask gives each request the app's provider for ``get_json``):
        # orjson, a sixth of the standard library's time on a visit, and the standard
        # library for what orjson refuses, so that such a body is answered as it always was
        # (``NaN``, a lone surrogate's escape, which validation then refuses by field;
        # nesting past orjson's depth, which the API calls too deep). One difference is
        # left: an integer past 64 bits comes out a float, and no field sent takes one. A
        # caller's own arguments (an ``object_hook``) are the standard library's to honour.
        if kwargs:
            return super().loads(s, **kwargs)
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            return super().loads(s)


_COMPACT_ARGS = {"separators": (",", ":")}
# Dates and dataclasses are written by Flask's ``default``, as every Flask answer writes them
# (a date as an HTTP date), not in orjson's own way.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_default = DefaultJSONProvider.default
_COMPACT_ANSWER = json.JSONEncoder(
    ensure_ascii=_JSON.ensure_ascii,
    sort_keys=_JSON.sort_keys,
    separators=(",", ":"),
    default=DefaultJSONProvider.default,
)


class FieldvisitFlask(Flask):
    session_interface = _CookieSessions()
    json_provider_class = _JSON

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Flask asks this for every hook and view of every request, and answers with
        # inspect's coroutine check each time. For a plain function (every hook and view
        # of ours), the flag that check reads is asked here directly.
        if type(func) is FunctionType and not func.__code__.co_flags & CO_COROUTINE:
            return func
        return super().ensure_sync(func)

    def request_context(self, environ: WSGIEnvironment) -> RequestContext:
        ctx = super().request_context(environ)
        # The body's size limit, given to the request as it is made: Flask otherwise looks it
        # up through the ``current_app`` proxy each time the body is read (twice for a JSON
        # body), about a hundredth of the API's save (``context``). A view may still set its
        # own limit on the request, as Flask allows.
        ctx.request.max_content_length = self.config["MAX_CONTENT_LENGTH"]
        return ctx
