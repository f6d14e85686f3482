"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from ..storage.paths import DATE_PATTERN, ID_PATTERN, MONTH_PATTERN
from ..vocab import GUARANTEES, NEED_CATEGORIES, SATISFACTION, VISIT_KINDS


def _whole(pattern: str) -> str:
    """A pattern of the server's, for the document: in an ECMAScript pattern (JSON Schema's
    dialect) ``$`` is the very end of the string, as ``\\Z`` is in the server's."""
    return f"^(?:{pattern})$"


_ID = _whole(ID_PATTERN)
_MONTH = _whole(MONTH_PATTERN)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

_NEED = {
    "type": "object",
    "required": ["category", "description"],
    "properties": {
        "category": {"type": "string", "enum": list(NEED_CATEGORIES)},
        "description": {"type": "string", "minLength": 1, "maxLength": 500},
        "urgent": {"type": "boolean", "default": False},
    },
}

_VISIT_IN = {
    "type": "object",
    "required": ["id", "household", "date", "kind"],
    "properties": {
        "id": {
            "type": "string",
            "pattern": _ID,
            "description": "Made by the client (a UUID); a record sent twice is stored once.",
        },
        "household": {"type": "string", "description": "户编号"},
        "date": {
            "type": "string",
            "format": "date",
            "pattern": _whole(DATE_PATTERN),
            "description": "YYYY-MM-DD, not in the future, not before 2000.",
        },
        "kind": {"type": "string", "enum": list(VISIT_KINDS)},
        "guarantees": {
            "type": "object",
            "description": "两不愁三保障; all six required for an in-person visit.",
            "properties": {k: {"type": "boolean"} for k in GUARANTEES},
            "additionalProperties": False,
        },
        "environment": {
            "type": "object",
            "description": "Checklist key → met (true), not met (false), not applicable (null); "
            "all keys of GET /checklist required for an in-person visit.",
            "additionalProperties": {"type": ["boolean", "null"]},
        },
        "helped_clean": {"type": "boolean", "default": False},
        "needs": {"type": "array", "maxItems": 20, "items": _NEED},
        "satisfaction": {
            "type": "string",
            "enum": [*SATISFACTION, ""],
            "description": "Required unless kind is nobody_home (then empty or left out).",
        },
        "notes": {"type": "string", "maxLength": 2000},
        "helper": {
            "type": "string",
            "description": "Admins only: the phone of the helper who visited (补录).",
        },
        "location": {
            "type": ["object", "null"],
            "description": "Where the phone was; null or absent: no location (the visit is "
            "still stored). The first in-person visit with accuracy ≤ 100 m places a household "
            "that has no location.",
            "required": ["lat", "lng"],
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lng": {"type": "number", "minimum": -180, "maximum": 180},
                "accuracy": {"type": "number", "minimum": 0, "description": "Metres"},
            },
        },
    },
}

_VISIT_OUT = {
    "type": "object",
    "required": ["id", "household", "village", "date", "kind", "helper", "recorded_by"],
    "properties": {
        # The literal document is typed as a loose dict of objects; this entry is a dict.
        **_VISIT_IN["properties"],  # type: ignore[dict-item]
        "village": {"type": "string"},
        "recorded_by": {"type": "string"},
        "version": {"type": "integer"},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "updated_by": {"type": "string", "description": "Phone of who made this version"},
        "needs": {"type": "array", "items": _NEED},
        "photos": {
            "type": "array",
            "maxItems": 3,
            "items": {"type": "string"},
            "description": "Photo ids; each at /photos/{visit id}/{photo id} (?thumb=1 for "
            "a 240 px thumbnail), for those who may see the household.",
        },
    },
}

_HOUSEHOLD = {
    "type": "object",
    "required": ["id", "village", "head", "members", "state"],
    "properties": {
        "id": {"type": "string", "description": "户编号"},
        "village": {"type": "string"},
        "group": {"type": "string"},
        "head": {"type": "string"},
        "members": {"type": "integer", "minimum": 1},
        "state": {"type": "string", "enum": ["visited", "attempted", "not_visited"]},
    },
}


_PERSON = {
    "type": "object",
    "required": ["name", "phone"],
    "properties": {"name": {"type": "string"}, "phone": {"type": "string"}},
}

_COUNT = {"type": "integer", "minimum": 0}

_COMPLETION = {
    "type": "object",
    "description": "A household is visited when it has an in-person visit dated in the month; "
    "attempted when it has only nobody-home or phone visits (still not visited).",
    "required": [
        "month",
        "households",
        "visited",
        "attempted",
        "not_visited",
        "by_village",
        "by_helper",
    ],
    "properties": {
        "month": {"type": "string", "description": "YYYY-MM"},
        "village": {"type": ["string", "null"], "description": "null: the whole township"},
        "as_of": {"type": "string", "format": "date", "description": "Last day counted"},
        "households": _COUNT,
        "visited": _COUNT,
        "attempted": {**_COUNT, "description": "Not visited, but with an attempt"},
        "rate": {"type": "number", "minimum": 0, "maximum": 1},
        "previous_visited": {**_COUNT, "description": "Visited in the month before"},
        "previous_visited_same_day": {
            "type": ["integer", "null"],
            "description": "Visited in the month before up to the same day; "
            "null unless the month is still under way",
        },
        "not_visited": {
            "type": "array",
            "description": "Every household without an in-person visit in the month",
            "items": {
                "type": "object",
                "required": ["id", "village", "head", "helper"],
                "properties": {
                    "id": {"type": "string", "description": "户编号"},
                    "village": {"type": "string"},
                    "group": {"type": "string"},
                    "head": {"type": "string"},
                    "helper": {"type": "string", "description": "Name of the first helper"},
                    "phone": {"type": "string", "description": "Phone of the first helper"},
                    "helpers": {"type": "array", "items": _PERSON},
                    "attempted": {"type": "boolean"},
                },
            },
        },
        "by_village": {
            "type": "array",
            "description": "Lowest completion first",
            "items": {
                "type": "object",
                "required": ["village", "households", "visited", "attempted"],
                "properties": {
                    "village": {"type": "string"},
                    "households": _COUNT,
                    "visited": _COUNT,
                    "attempted": _COUNT,
                },
            },
        },
        "by_helper": {
            "type": "array",
            "description": "Helpers behind first (most households not visited at the top)",
            "items": {
                "type": "object",
                "required": ["helper", "phone", "households", "visited"],
                "properties": {
                    "helper": {"type": "string", "description": "Name"},
                    "phone": {"type": "string"},
                    "unit": {"type": "string", "description": "帮扶单位"},
                    "households": _COUNT,
                    "visited": _COUNT,
                    "attempted": _COUNT,
                    "not_visited": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "guarantee_gaps": {
            "type": "array",
            "description": "Households whose latest answer (in the last three months) about a "
            "basic guarantee is not met; the longest-standing first",
            "items": {
                "type": "object",
                "required": ["id", "village", "head", "guarantees", "since", "last_found"],
                "properties": {
                    "id": {"type": "string"},
                    "village": {"type": "string"},
                    "head": {"type": "string"},
                    "guarantees": {
                        "type": "array",
                        "items": {"type": "string", "enum": list(GUARANTEES)},
                    },
                    "since": {"type": "string", "format": "date"},
                    "last_found": {"type": "string", "format": "date"},
                    "helper": {"type": "string"},
                    "phone": {"type": "string"},
                },
            },
        },
        "environment": {
            "type": "array",
            "description": "Checklist answers of each household's last in-person visit",
            "items": {
                "type": "object",
                "required": ["key", "label", "passed", "failed"],
                "properties": {
                    "key": {"type": "string"},
                    "label": {"type": "string"},
                    "passed": _COUNT,
                    "failed": _COUNT,
                },
            },
        },
        "trend": {
            "type": "array",
            "description": "Up to 12 months ending with this one, oldest first",
            "items": {
                "type": "object",
                "required": ["month", "households", "visited"],
                "properties": {
                    "month": {"type": "string"},
                    "households": _COUNT,
                    "visited": _COUNT,
                },
            },
        },
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "401": _json(_ERROR, "Not logged in / no valid token"),
    "429": _json(_ERROR, "Too many invalid tokens from this address: wait 15 minutes"),
}


def document() -> dict[str, Any]:
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
                "Error": _ERROR,
                "Household": _HOUSEHOLD,
                "VisitIn": _VISIT_IN,
                "Visit": _VISIT_OUT,
                "Completion": _COMPLETION,
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/households": {
                "get": {
                    "summary": "Households the caller may see, with this month's state",
                    "responses": {
                        "200": _json({"type": "array", "items": _HOUSEHOLD}, "Households"),
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
                            "schema": {"type": "string", "pattern": _MONTH},
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
                            "name": "unit",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "Only the helpers of this work unit in by_helper",
                        },
                    ],
                    "responses": {
                        "200": _json(_COMPLETION, "Completion"),
                        "400": _json(_ERROR, "Bad month (or one still to come), unknown village"),
                        "403": _json(_ERROR, "Helpers may not see the township's figures"),
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
                        "400": _json(_ERROR, "Called with a Bearer token (no CSRF needed)"),
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
                            "schema": {"type": "string", "pattern": _ID},
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
                                            "pattern": _ID,
                                            "description": "Made by the client",
                                        },
                                        "file": {"type": "string", "format": "binary"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json(_VISIT_OUT, "Stored; the visit with its photos"),
                        "200": _json(_VISIT_OUT, "This photo id was already stored"),
                        "400": _json(
                            _ERROR,
                            "Not an image, a bad photo id, or a control character in the visit id",
                        ),
                        "403": _json(_ERROR, "Not the household's helper"),
                        "404": _json(_ERROR, "No such visit"),
                        "409": _json(_ERROR, "The visit already has 3 photos"),
                        "413": _json(_ERROR, "Larger than 2 MB"),
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
                            "schema": {"type": "string", "pattern": _MONTH},
                            "description": "YYYY-MM; this month when left out",
                        }
                    ],
                    "responses": {
                        "200": _json({"type": "array", "items": _VISIT_OUT}, "Visits"),
                        "400": _json(_ERROR, "Bad month"),
                        **_ERRORS,
                    },
                },
                "post": {
                    "summary": "Record a visit (idempotent by id)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _VISIT_IN}},
                    },
                    "responses": {
                        "201": _json(_VISIT_OUT, "Stored"),
                        "200": _json(_VISIT_OUT, "Already stored under this id; unchanged"),
                        "400": _json(_ERROR, "Invalid; `errors` names each field"),
                        "403": _json(_ERROR, "Not the household's helper"),
                        "404": _json(_ERROR, "No such household"),
                        "409": _json(_ERROR, "The id is used by another household's visit"),
                        "413": _json(_ERROR, "Larger than FIELDVISIT_MAX_UPLOAD_MB"),
                        **_ERRORS,
                    },
                },
            },
        },
    }
