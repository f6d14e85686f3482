"""Extension objects, created unbound and initialised by the app factory."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from .context import this_request

csrf = CSRFProtect()
babel = Babel()
# No default limits: only the routes that guard secrets (login) are limited. The storage
# comes from RATELIMIT_STORAGE_URI (memory by default: counts are per process).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# The blueprint whose views carry limits (tests/test_wiring.py checks no other has any): the
# limiter looks at its requests only (confine_limiter).
LIMITED_BLUEPRINT = "auth"


def confine_limiter(app: Flask) -> None:
    """After ``limiter.init_app``: the limiter's hooks run for the requests of
    ``LIMITED_BLUEPRINT`` only. Every other request skips them: on the API's save, finding
    that a route has no limit (even through a request filter), then the limiter's headers
    and its context, cost about a tenth of the request."""
    extension = limiter  # the hooks init_app registered are bound to it
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        functions = hooks.get(None, [])
        for i, function in enumerate(functions):
            if _of(function, extension):
                functions[i] = _confined(function)


def _of(hook: Callable[..., Any], extension: Limiter) -> bool:
    if isinstance(hook, functools.partial):
        return extension in hook.args
    return getattr(hook, "__self__", None) is extension


def _confined(hook: Callable[..., Any]) -> Callable[..., Any]:
    def confined(*args: Any) -> Any:
        if this_request().blueprint == LIMITED_BLUEPRINT:
            return hook(*args)
        return args[0] if args else None  # an after_request hook's response, unchanged

    # Still named as the limiter's own hook (tests/test_wiring.py tells theirs from ours).
    functools.update_wrapper(confined, getattr(hook, "func", hook))
    return confined
