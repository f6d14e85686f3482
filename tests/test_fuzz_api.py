"""The JSON API fuzzed from its own OpenAPI document: whatever is sent, no 5xx, and every
answer (status, content type, body, headers) is one the document describes."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from flask import Flask
from helpers import PEOPLE, seed
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fieldvisit import create_app
from fieldvisit.access.tokens import create_token
from fieldvisit.extensions import limiter

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _app_with_tokens() -> tuple[Flask, dict[str, str]]:
    """A seeded app on a throwaway folder, made when the module is collected: the schema
    must exist before pytest builds the test cases (schemathesis's fixture-based loading
    does not work with pytest 9)."""
    folder = Path(tempfile.mkdtemp(prefix="fieldvisit-fuzz-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    app = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "fuzz-secret"})
    store = app.extensions["fieldvisit.store"]
    seed(store)
    tokens = {who: create_token(store, PEOPLE[who][0], actor="test") for who in ("owner", "admin")}
    return app, tokens


APP, TOKENS = _app_with_tokens()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)
FUZZ = settings(
    # Small for every run; set FUZZ_EXAMPLES=500 for a deeper search now and then.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,  # the same few examples every run: a failure here is a regression
    derandomize=True,
)


@schema.parametrize()
@FUZZ
def test_it_answers_a_helper_as_documented(case: Any) -> None:
    limiter.reset()  # the strangers' bad tokens must not lock this address out
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKENS['owner']}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_it_answers_the_office_as_documented(case: Any) -> None:
    limiter.reset()
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKENS['admin']}"}, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_it_answers_strangers_as_documented(case: Any) -> None:
    # No session; any token schemathesis makes up is refused (401, then 429).
    case.call_and_validate(checks=CHECKS)


def test_a_month_in_year_zero_is_refused_not_a_crash() -> None:
    """Found by the fuzzing above: 0000-01 has the YYYY-MM shape but no calendar date."""
    limiter.reset()
    response = APP.test_client().get(
        "/api/v1/completion?month=0000-01", headers={"Authorization": f"Bearer {TOKENS['admin']}"}
    )
    assert response.status_code == 400
    assert "month" in response.get_json()["errors"]
