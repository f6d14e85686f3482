"""The app's wiring lives in ``create_app``: every app-wide hook and template helper is
registered by its steps in ``fieldvisit/__init__.py``, in a documented order, and nowhere else.

The order matters (a blocked address is refused before its Bearer token is looked up; the
logged-in user is known before a bad identifier's error page is drawn), so it is checked here
rather than left to the order in which modules happen to be imported.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask
from flask_limiter.util import get_qualified_name

import fieldvisit
from fieldvisit.access.login import load_user
from fieldvisit.access.security import SecurityHeaders, count_token_failure, refuse_token_guessing
from fieldvisit.extensions import LIMITED_BLUEPRINT, limiter
from fieldvisit.storage.current import pin_reads, unpin_reads
from fieldvisit.views.assets import asset_globals, lighten
from fieldvisit.views.audit import audit_helpers
from fieldvisit.views.helpers import template_globals
from fieldvisit.views.identifiers import refuse_control_characters
from fieldvisit.views.location import location_globals
from fieldvisit.views.offline import mark_cacheable
from fieldvisit.views.reconcile_globals import reconcile_globals

PACKAGE = Path(fieldvisit.__file__).resolve().parent
FACTORY = PACKAGE / "__init__.py"

# Every way Flask offers to hang a function on all requests or all templates, on the app or
# on a blueprint (whose ``app_*`` forms reach the whole app), and the Jinja environment.
HOOK_NAMES = frozenset(
    {
        "before_request",
        "after_request",
        "teardown_request",
        "teardown_appcontext",
        "before_app_request",
        "after_app_request",
        "teardown_app_request",
        "context_processor",
        "app_context_processor",
        "url_value_preprocessor",
        "app_url_value_preprocessor",
        "url_defaults",
        "app_url_defaults",
        "template_global",
        "template_filter",
        "template_test",
        "app_template_global",
        "app_template_filter",
        "app_template_test",
        "add_template_global",
        "add_template_filter",
        "add_template_test",
        "add_app_template_global",
        "add_app_template_filter",
        "add_app_template_test",
        "jinja_env",
    }
)


def _ours(functions: Iterable[Callable[..., Any]]) -> list[Callable[..., Any]]:
    """The project's own hooks, without those the extensions (CSRF, the limiter) add."""
    return [f for f in functions if getattr(f, "__module__", "").startswith("fieldvisit")]


def test_before_request_hooks_run_in_the_documented_order(app: Flask) -> None:
    functions = app.before_request_funcs[None]
    assert _ours(functions) == [
        pin_reads,
        refuse_token_guessing,
        load_user,
        refuse_control_characters,
    ]
    # The extensions' own checks (the limiter's per-route limits) come before all of ours.
    first_ours = functions.index(pin_reads)
    assert _ours(functions[:first_ours]) == []
    assert len(functions[:first_ours]) >= 1


def test_after_request_hooks_run_in_the_documented_order(app: Flask) -> None:
    # Flask runs after_request hooks in the reverse order of their registration.
    run_order = list(reversed(app.after_request_funcs[None]))
    assert _ours(run_order) == [mark_cacheable, lighten, count_token_failure]
    # The limiter's headers are added last, after every hook of ours.
    assert _ours(run_order[run_order.index(count_token_failure) :]) == [count_token_failure]


def test_every_response_leaves_through_the_security_headers(app: Flask) -> None:
    # Outside Flask's own wsgi_app: after every hook, error pages and static files included.
    assert isinstance(app.wsgi_app, SecurityHeaders)


def test_the_reads_of_a_request_are_pinned_until_its_teardown(app: Flask) -> None:
    assert _ours(app.teardown_request_funcs[None]) == [unpin_reads]


def test_only_the_limited_blueprint_has_rate_limits(app: Flask) -> None:
    # The limiter looks at no request outside it (extensions.confine_limiter).
    limited = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if limiter.limit_manager.decorated_limits(get_qualified_name(view))
    }
    assert limited
    assert {endpoint.split(".")[0] for endpoint in limited} == {LIMITED_BLUEPRINT}


def test_template_helpers_come_from_create_app(app: Flask) -> None:
    processors = app.template_context_processors[None]
    ours = [asset_globals, location_globals, audit_helpers, template_globals, reconcile_globals]
    assert _ours(processors) == ours


def test_no_blueprint_has_hooks_of_its_own(app: Flask) -> None:
    for registry in (
        app.before_request_funcs,
        app.after_request_funcs,
        app.teardown_request_funcs,
        app.url_value_preprocessors,
        app.url_default_functions,
    ):
        assert set(registry) <= {None}, registry
    for name, processors in app.template_context_processors.items():
        if name is not None:
            assert _ours(processors) == [], name


def _hook_uses(path: Path) -> list[str]:
    """Where ``path`` names a hook-registering attribute, as ``file:line name``. Read from the
    syntax tree, so a comment or docstring that mentions one does not count."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in HOOK_NAMES
    ]


def test_nothing_outside_create_app_registers_hooks() -> None:
    found = [
        use for path in sorted(PACKAGE.rglob("*.py")) if path != FACTORY for use in _hook_uses(path)
    ]
    assert found == [], "register app-wide hooks in fieldvisit/__init__.py's register_* steps"


def test_the_scan_sees_the_factorys_own_hooks() -> None:
    """The scan above finds nothing because there is nothing, not because it cannot see."""
    names = {use.rsplit(" ", 1)[1] for use in _hook_uses(FACTORY)}
    assert {"before_request", "after_request", "context_processor"} <= names
