"""fieldvisit: monthly field visits to registered poor households, recorded at the door."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as config_module
from .extensions import babel, csrf, limiter
from .storage import Store

ROOT = Path(__file__).resolve().parent.parent
STORE_KEY = "fieldvisit.store"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``FIELDVISIT_*`` environment, then ``test_config``."""
    app = Flask(
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
        JSON_SORT_KEYS=False,
    )
    app.config.from_mapping(config_module.from_environment())
    if test_config:
        app.config.from_mapping(test_config)

    _finish_config(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def _finish_config(app: Flask) -> None:
    """Settings that depend on others: the store, the secret key, cookie lifetimes."""
    store = Store(app.config["DATA_DIR"])
    store.finish_moves()  # a move of households between villages cut short by a crash
    from .visits.recording import recover_audit

    recover_audit(store)  # audit lines of visits saved just before a crash
    app.extensions[STORE_KEY] = store
    if not app.config.get("SECRET_KEY"):
        # Generated once and kept with the data, so sessions survive a restart.
        app.config["SECRET_KEY"] = store.secret("secret_key", lambda: secrets.token_hex(32))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=app.config["SESSION_DAYS"])
    app.config["SESSION_COOKIE_SECURE"] = app.config["SECURE_COOKIES"]
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_MB"] * 1024 * 1024


def register_extensions(app: Flask) -> None:
    from .access import security
    from .i18n import select_locale

    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    # Said each time: the limiter keeps the last app's choice otherwise (one object, many apps).
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    security.init_app(app)


def register_blueprints(app: Flask) -> None:
    from .access.accounts import load_user
    from .api import routes as api
    from .views import admin, audit, auth, dashboard, field, needs, office, offline, reports

    app.before_request(load_user)
    app.register_blueprint(auth.bp)
    app.register_blueprint(field.bp)
    app.register_blueprint(office.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(needs.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(offline.bp)
    app.register_blueprint(audit.bp)


def register_errorhandlers(app: Flask) -> None:
    from .views.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from .cli.admin import commands
    from .cli.backup import commands as backup_commands
    from .cli.reports import commands as report_commands

    for command in [*commands, *report_commands, *backup_commands]:
        app.cli.add_command(command)


def register_template_helpers(app: Flask) -> None:
    from .views.helpers import template_globals

    app.context_processor(template_globals)
