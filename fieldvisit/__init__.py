"""fieldvisit: monthly field visits to registered poor households, recorded at the door."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as config_module
from .extensions import babel, confine_limiter, csrf, limiter
from .flask_app import FieldvisitFlask
from .storage.current import STORE_KEY as STORE_KEY  # the app's Store in app.extensions
from .storage.current import init_app

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``FIELDVISIT_*`` environment, then ``test_config``."""
    app = FieldvisitFlask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(
        DATA_DIR=str(ROOT / "data"),
        BASE_URL=None,  # None: the address the request came in on
        TOWNSHIP=None,
        SESSION_DAYS=31,
        MAX_UPLOAD_MB=20,
        SECURE_COOKIES=False,
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).resolve().parent / "translations"),
        # CSRF is checked in a before_request hook so that Bearer-token API calls skip it.
        WTF_CSRF_CHECK_DEFAULT=False,
        # The token is bound to the session; a helper may keep a form open for hours.
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_mapping(config_module.from_environment())
    if test_config:
        app.config.from_mapping(test_config)

    _finish_config(app)
    # Extensions first: their own hooks (CSRF's default check, the limiter's) run before ours.
    register_extensions(app)
    register_hooks(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def _finish_config(app: Flask) -> None:
    """Settings that depend on others: the store, the secret key, cookie lifetimes."""
    store = init_app(app)  # finishes a move of households cut short by a crash
    store.recover()  # the audit copies and visit-id index entries a crash kept from the disk
    if not app.config.get("SECRET_KEY"):
        # Generated once and kept with the data, so sessions survive a restart.
        app.config["SECRET_KEY"] = store.secret("secret_key", lambda: secrets.token_hex(32))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=app.config["SESSION_DAYS"])
    app.config["SESSION_COOKIE_SECURE"] = app.config["SECURE_COOKIES"]
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_MB"] * 1024 * 1024


def register_extensions(app: Flask) -> None:
    """The Flask extensions, and the start-up checks of ``access.security``. Each extension
    registers its own hooks here, ahead of those of ``register_hooks``."""
    from .access import security
    from .i18n import select_locale

    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    # Said each time: the limiter keeps the last app's choice otherwise (one object, many apps).
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    confine_limiter(app)
    security.init_app(app)


# The hooks of create_app, in the order they are registered. Flask runs before_request hooks
# in this order and after_request hooks in the reverse one; tests/test_wiring.py checks both.
#
# Before each request (after the extensions' own: CSRF's default check, off here, and the
# limiter's per-route limits):
#   0. current.pin_reads: the request's registry reads give the one it first read (one
#      request, one registry; storage.pins), until current.unpin_reads at its teardown.
#   1. security.refuse_token_guessing: an address that failed too many Bearer tokens gets
#      429 before its token is looked up, so it must come before load_user.
#   2. login.load_user: g.user from the Bearer token or the session; CSRF for browsers.
#   3. identifiers.refuse_control_characters: a control character in a path parameter or a month
#      is a 400; after load_user, so a forged POST is refused as forged first and the error
#      page shows the logged-in user's menu.
#
# After each request, run in this order (registered in the reverse one). None of them reads
# what another writes; the order is the one they have always run in:
#   1. offline.mark_cacheable: mark the pages the service worker may keep.
#   2. assets.lighten: versioned assets cached for good, then gzip of the body as the view
#      made it.
#   3. security.count_token_failure: a Bearer token load_user did not accept counts against
#      the address, which refuse_token_guessing then refuses once too many.
#   then the limiter's rate-limit headers (registered by the extension, so run last).
# The security headers are not a hook: security.SecurityHeaders adds them to every response
# as it leaves the app, after all of these.


def register_hooks(app: Flask) -> None:
    """Every app-wide before_request and after_request hook, in one place and in order."""
    from .access.login import load_user
    from .access.security import count_token_failure, refuse_token_guessing
    from .storage.current import pin_reads, unpin_reads
    from .views.assets import lighten
    from .views.identifiers import refuse_control_characters
    from .views.offline import mark_cacheable

    app.before_request(pin_reads)
    app.before_request(refuse_token_guessing)
    app.before_request(load_user)
    app.before_request(refuse_control_characters)

    # Reverse order: the last registered runs first.
    app.after_request(count_token_failure)
    app.after_request(lighten)
    app.after_request(mark_cacheable)
    app.teardown_request(unpin_reads)


def register_blueprints(app: Flask) -> None:
    """The pages and the API. No blueprint registers an app-wide hook: see register_hooks."""
    from .api import routes as api
    from .views import (
        admin,
        audit,
        auth,
        closing,
        confirm,
        dashboard,
        field,
        location,
        needs,
        office,
        offline,
        photos,
        reconcile,
        reports,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(field.bp)
    app.register_blueprint(office.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(needs.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(closing.bp)
    app.register_blueprint(offline.bp)
    app.register_blueprint(photos.bp)
    app.register_blueprint(location.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(reconcile.bp)
    app.register_blueprint(confirm.bp)


def register_errorhandlers(app: Flask) -> None:
    from .views.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from .cli.admin import commands
    from .cli.backup import commands as backup_commands
    from .cli.months import commands as month_commands
    from .cli.reconcile import commands as reconcile_commands
    from .cli.reports import commands as report_commands
    from .cli.store import commands as store_commands

    for command in [
        *commands,
        *report_commands,
        *month_commands,
        *backup_commands,
        *reconcile_commands,
        *store_commands,
    ]:
        app.cli.add_command(command)


def register_template_helpers(app: Flask) -> None:
    """Every name templates get besides Flask's and the extensions' (csrf_token, gettext).
    The processors' names do not overlap, so their order only keeps today's."""
    from .views.assets import asset_globals
    from .views.audit import audit_helpers
    from .views.helpers import template_globals
    from .views.location import location_globals
    from .views.reconcile_globals import reconcile_globals

    app.context_processor(asset_globals)
    app.context_processor(location_globals)
    app.context_processor(audit_helpers)
    app.context_processor(template_globals)
    app.context_processor(reconcile_globals)
