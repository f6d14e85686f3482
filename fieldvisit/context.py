"""The current request, its ``g`` and its app as themselves, for the code every request runs.

``flask.request``, ``g`` and ``current_app`` are werkzeug proxies. Reading an attribute
through one (``request.path``, ``g.user``) first fails to find it on the proxy's class,
raising an AttributeError inside, then binds a function to the object and calls it: about
0.8 µs, against 0.1 µs for asking the proxy once for its object and reading that. The hooks,
the login and the store's look-up read some thirty attributes on every request, the API's
save included (decision 21), so they ask here once and read the objects directly. Code that
runs once a page or a command keeps the proxies: they read as Flask's documentation does.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, current_app, g, request


def this_request() -> Request:
    """The request being handled (outside one, RuntimeError, as the proxy raises)."""
    found: Request = request._get_current_object()  # type: ignore[attr-defined]
    return found


def this_g() -> Any:
    """The request's ``g``: the app context's globals, typed loosely as Flask types ``g``."""
    return g._get_current_object()


def this_app() -> Flask:
    """The app handling the current request or command."""
    found: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return found
