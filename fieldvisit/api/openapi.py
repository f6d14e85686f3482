"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json: its paths here,
its component schemas in ``schemas``."""

from __future__ import annotations

from typing import Any

from .schemas import COMPLETION, ERROR, HOUSEHOLD, ID, MONTH, VISIT_IN, VISIT_OUT


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A response of JSON in ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "401": _json(ERROR, "Not logged in / no valid token"),
    "429": _json(ERROR, "Too many invalid tokens from this address: wait 15 minutes"),
}


def document() -> dict[str, Any]:
    """The document, written out path by path; its schemas are ``schemas``'."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fieldvisit API",
            "version": "1",
            "description": "Households, the environment checklist and monthly visits. "
            "Authenticate with `Authorization: Bearer <token>` (see `flask create-token`) or "
            "the browser session plus an `X-CSRFToken` header on writes.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": ERROR,
                "Household": HOUSEHOLD,
                "VisitIn": VISIT_IN,
                "Visit": VISIT_OUT,
                "Completion": COMPLETION,
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/households": {
                "get": {
                    "summary": "Households the caller may see, with this month's state",
                    "responses": {
                        "200": _json({"type": "array", "items": HOUSEHOLD}, "Households"),
                        **_ERRORS,
                    },
                }
            },
            "/checklist": {
                "get": {
                    "summary": "The environment checklist's item keys and labels",
                    "responses": {
                        "200": _json(
                            {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["key", "label"],
                                    "properties": {
                                        "key": {"type": "string"},
                                        "label": {"type": "string"},
                                    },
                                },
                            },
                            "Checklist items",
                        ),
                        **_ERRORS,
                    },
                }
            },
            "/completion": {
                "get": {
                    "summary": "Visit completion of a month (supervisors and the office)",
                    "description": "The figures of the completion dashboard and the monthly "
                    "PDF, for the township or one village.",
                    "parameters": [
                        {
                            "name": "month",
                            "in": "query",
                            "schema": {"type": "string", "pattern": MONTH},
                            "description": "YYYY-MM, not after this month; this month when left "
                            "out",
                        },
                        {
                            "name": "village",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "One village's figures; the township when left out",
                        },
                        {
                            "name": "township",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "One township of a county (an account of a township "
                            "always gets its own); one the registry does not know is refused",
                        },
                        {
                            "name": "page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1},
                            "description": "The page of not_visited (see next)",
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                            "description": "Households per page of not_visited (default 1000)",
                        },
                        {
                            "name": "unit",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "Only the helpers of this work unit in by_helper",
                        },
                    ],
                    "responses": {
                        "200": _json(COMPLETION, "Completion"),
                        "400": _json(
                            ERROR,
                            "Bad month (or one still to come), unknown township, unknown village "
                            "(or one of another township)",
                        ),
                        "403": _json(ERROR, "Helpers may not see the township's figures"),
                        **_ERRORS,
                    },
                }
            },
            "/csrf": {
                "get": {
                    "summary": "A fresh CSRF token for the browser session",
                    "description": "The offline queue asks for one just before sending, so a "
                    "record saved days earlier goes up with a valid token. Session only.",
                    "security": [],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["csrf_token"],
                                "properties": {"csrf_token": {"type": "string"}},
                            },
                            "Send it as the X-CSRFToken header",
                        ),
                        "400": _json(ERROR, "Called with a Bearer token (no CSRF needed)"),
                        **_ERRORS,
                    },
                }
            },
            "/visits/{visit_id}/photos": {
                "post": {
                    "summary": "Add one photo to a stored visit (idempotent by photo id)",
                    "description": "The server decodes and re-encodes the image as JPEG "
                    "(max side 1600 px) without any metadata, and keeps a 240 px thumbnail. "
                    "At most 3 photos a visit.",
                    "parameters": [
                        {
                            "name": "visit_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": ID},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["id", "file"],
                                    "properties": {
                                        "id": {
                                            "type": "string",
                                            "pattern": ID,
                                            "description": "Made by the client",
                                        },
                                        "file": {"type": "string", "format": "binary"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json(VISIT_OUT, "Stored; the visit with its photos"),
                        "200": _json(VISIT_OUT, "This photo id was already stored"),
                        "400": _json(
                            ERROR,
                            "Not an image, a bad photo id, or a control character in the visit id",
                        ),
                        "403": _json(ERROR, "Not the household's helper"),
                        "404": _json(ERROR, "No such visit"),
                        "409": _json(
                            ERROR, "The visit already has 3 photos, or its month is closed"
                        ),
                        "413": _json(ERROR, "Larger than 2 MB"),
                        **_ERRORS,
                    },
                }
            },
            "/visits": {
                "get": {
                    "summary": "Visits of a month the caller may see",
                    "parameters": [
                        {
                            "name": "month",
                            "in": "query",
                            "schema": {"type": "string", "pattern": MONTH},
                            "description": "YYYY-MM; this month when left out",
                        }
                    ],
                    "responses": {
                        "200": _json({"type": "array", "items": VISIT_OUT}, "Visits"),
                        "400": _json(ERROR, "Bad month"),
                        **_ERRORS,
                    },
                },
                "post": {
                    "summary": "Record a visit (idempotent by id)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": VISIT_IN}},
                    },
                    "responses": {
                        "201": _json(VISIT_OUT, "Stored"),
                        "200": _json(VISIT_OUT, "Already stored under this id; unchanged"),
                        "400": _json(ERROR, "Invalid; `errors` names each field"),
                        "403": _json(ERROR, "Not the household's helper"),
                        "404": _json(ERROR, "No such household"),
                        "409": _json(
                            ERROR,
                            "The id is used by another household's visit, or the office closed "
                            "the visit's month (`error` names it)",
                        ),
                        "413": _json(ERROR, "Larger than FIELDVISIT_MAX_UPLOAD_MB"),
                        **_ERRORS,
                    },
                },
            },
        },
    }
