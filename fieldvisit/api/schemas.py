"""The component schemas of the OpenAPI document (``openapi.document``): the shapes of what
the API takes and returns. Visit and VisitIn list the fields of ``visits.fields.VISIT``,
each with what this document says of it; patterns and limits are the server's own."""

from __future__ import annotations

from typing import Any

from ..months import MONTH_PATTERN
from ..storage.paths import DATE_PATTERN, ID_PATTERN
from ..visits.fields import VISIT, Field
from ..visits.photos import MAX_PHOTOS
from ..visits.validation import MAX_NEED_TEXT, MAX_NEEDS, MAX_NOTES
from ..vocab import GUARANTEES, NEED_CATEGORIES, SATISFACTION, VISIT_KINDS


def whole(pattern: str) -> str:
    """A pattern of the server's, for the document: in an ECMAScript pattern (JSON Schema's
    dialect) ``$`` is the very end of the string, as ``\\Z`` is in the server's."""
    return f"^(?:{pattern})$"


ID = whole(ID_PATTERN)
MONTH = whole(MONTH_PATTERN)

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

NEED = {
    "type": "object",
    "required": ["category", "description"],
    "properties": {
        "category": {"type": "string", "enum": list(NEED_CATEGORIES)},
        "description": {"type": "string", "minLength": 1, "maxLength": MAX_NEED_TEXT},
        "urgent": {"type": "boolean", "default": False},
    },
}

# What the document says of a visit's field besides its JSON type (``fields.VISIT``'s): a
# field without an entry is documented by its type alone.
_SENT_DETAILS: dict[str, dict[str, Any]] = {
    "id": {
        "pattern": ID,
        "description": "Made by the client (a UUID); a record sent twice is stored once.",
    },
    "household": {"description": "户编号"},
    "date": {
        "format": "date",
        "pattern": whole(DATE_PATTERN),
        "description": "YYYY-MM-DD, not in the future, not before 2000.",
    },
    "kind": {"enum": list(VISIT_KINDS)},
    "guarantees": {
        "description": "两不愁三保障; all six required for an in-person visit.",
        "properties": {k: {"type": "boolean"} for k in GUARANTEES},
        "additionalProperties": False,
    },
    "environment": {
        "description": "Checklist key → met (true), not met (false), not applicable (null); "
        "all keys of GET /checklist required for an in-person visit.",
        "additionalProperties": {"type": ["boolean", "null"]},
    },
    "helped_clean": {"default": False},
    "needs": {"maxItems": MAX_NEEDS, "items": NEED},
    "satisfaction": {
        "enum": [*SATISFACTION, ""],
        "description": "Required unless kind is nobody_home (then empty or left out).",
    },
    "notes": {"maxLength": MAX_NOTES},
    "helper": {"description": "Admins only: the phone of the helper who visited (补录)."},
    "location": {
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
}

# A stored visit's fields as returned, where they differ from what a client sends.
_SHOWN_DETAILS: dict[str, dict[str, Any]] = {
    **_SENT_DETAILS,
    # The limit on needs is documented for what is sent only.
    "needs": {"items": NEED},
    "photos": {
        "maxItems": MAX_PHOTOS,
        "items": {"type": "string"},
        "description": "Photo ids; each at /photos/{visit id}/{photo id} (?thumb=1 for "
        "a 240 px thumbnail), for those who may see the household.",
    },
}


def _property(field: Field, details: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``field``'s schema: its JSON type, then what ``details`` says of it."""
    json_type = field.json_type if isinstance(field.json_type, str) else list(field.json_type)
    return {"type": json_type, **details.get(field.name, {})}


VISIT_IN = {
    "type": "object",
    "required": [f.name for f in VISIT if f.sent and f.required_in],
    "properties": {f.name: _property(f, _SENT_DETAILS) for f in VISIT if f.sent},
}

VISIT_OUT = {
    "type": "object",
    "required": [f.name for f in VISIT if f.required_out],
    "properties": {f.name: _property(f, _SHOWN_DETAILS) for f in VISIT},
}

HOUSEHOLD = {
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


PERSON = {
    "type": "object",
    "required": ["name", "phone"],
    "properties": {"name": {"type": "string"}, "phone": {"type": "string"}},
}

COUNT = {"type": "integer", "minimum": 0}

COMPLETION = {
    "type": "object",
    "description": "A household is visited when it has an in-person visit dated in the month; "
    "attempted when it has only nobody-home or phone visits (still not visited).",
    "required": [
        "month",
        "households",
        "visited",
        "attempted",
        "not_visited",
        "by_township",
        "by_village",
        "by_helper",
        "closed",
    ],
    "properties": {
        "month": {"type": "string", "description": "YYYY-MM"},
        "village": {"type": ["string", "null"], "description": "null: the whole township"},
        "as_of": {"type": "string", "format": "date", "description": "Last day counted"},
        "households": COUNT,
        "visited": COUNT,
        "attempted": {**COUNT, "description": "Not visited, but with an attempt"},
        "rate": {"type": "number", "minimum": 0, "maximum": 1},
        "previous_visited": {**COUNT, "description": "Visited in the month before"},
        "previous_visited_same_day": {
            "type": ["integer", "null"],
            "description": "Visited in the month before up to the same day; "
            "null unless the month is still under way",
        },
        "closed": {
            "type": "boolean",
            "description": "The month is closed: its figures are those issued at the close, "
            "and stay so whatever changes in the registry",
        },
        "closed_at": {
            "type": ["string", "null"],
            "description": "When it was last closed; null for a month never closed",
        },
        "reopenings": {**COUNT, "description": "How many times it was reopened after a close"},
        "page": {**COUNT, "description": "The page of not_visited (from 1)"},
        "not_visited_total": {**COUNT, "description": "Households not visited, in all pages"},
        "next": {
            "type": ["string", "null"],
            "description": "The link to the next page of not_visited; null on the last page",
        },
        "by_township": {
            "type": "array",
            "description": "A county's townships ('' = the deployment's one township)",
            "items": {
                "type": "object",
                "required": ["township", "households", "visited", "attempted"],
                "properties": {
                    "township": {"type": "string"},
                    "households": COUNT,
                    "visited": COUNT,
                    "attempted": COUNT,
                },
            },
        },
        "not_visited": {
            "type": "array",
            "description": "The households without an in-person visit in the month, one page "
            "(?page=, ?limit= up to 1000; a township's list fits in the first)",
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
                    "helpers": {"type": "array", "items": PERSON},
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
                    "township": {
                        "type": "string",
                        "description": "A county's village: its township (absent for the "
                        "deployment's one township)",
                    },
                    "households": COUNT,
                    "visited": COUNT,
                    "attempted": COUNT,
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
                    "households": COUNT,
                    "visited": COUNT,
                    "attempted": COUNT,
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
                    "passed": COUNT,
                    "failed": COUNT,
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
                    "households": COUNT,
                    "visited": COUNT,
                },
            },
        },
    },
}
