"""Extension objects, created unbound and initialised by the app factory."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
babel = Babel()
# No default limits: only the routes that guard secrets (login) are limited. The storage
# comes from RATELIMIT_STORAGE_URI (memory by default: counts are per process).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
