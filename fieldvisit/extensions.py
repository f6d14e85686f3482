"""Extension objects, created unbound and initialised by the app factory."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
babel = Babel()
# No default limits: only the routes that guard secrets (login) are limited. The storage
# comes from RATELIMIT_STORAGE_URI (memory by default: counts are per process).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# The blueprint whose views carry limits (tests/test_wiring.py checks no other has any).
LIMITED_BLUEPRINT = "auth"


@limiter.request_filter
def _unlimited() -> bool:
    """Every other request skips the limiter's lookup: on the API's save it cost about a
    tenth of the request for a route with no limit to find."""
    return request.blueprint != LIMITED_BLUEPRINT
