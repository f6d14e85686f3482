"""One list of a visit's fields (``visits.fields.VISIT``): the OpenAPI document's VisitIn
and Visit schemas list exactly its fields with their types, and the API returns exactly the
documented fields."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit.access.tokens import create_token
from fieldvisit.api.openapi import document
from fieldvisit.visits import fields


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document()["components"]["schemas"][name]
    return schema


def test_visit_in_documents_the_fields_a_client_sends() -> None:
    visit_in = _schema("VisitIn")
    assert list(visit_in["properties"]) == list(fields.SENT)
    assert visit_in["required"] == [f.name for f in fields.VISIT if f.sent and f.required_in]
    assert set(visit_in["required"]) <= set(fields.SENT)


def test_visit_documents_every_field_the_api_returns() -> None:
    visit = _schema("Visit")
    assert list(visit["properties"]) == list(fields.SHOWN)
    assert set(visit["required"]) <= set(fields.SHOWN)


@pytest.mark.parametrize("schema", ["VisitIn", "Visit"])
def test_each_field_is_documented_with_its_json_type(schema: str) -> None:
    for name, prop in _schema(schema)["properties"].items():
        json_type = fields.BY_NAME[name].json_type
        assert prop["type"] == (json_type if isinstance(json_type, str) else list(json_type))


def test_the_api_returns_the_documented_fields(client, store, households) -> None:
    headers = {"Authorization": f"Bearer {create_token(store, PEOPLE['owner'][0], 'test')}"}
    documented = _schema("Visit")
    created = client.post("/api/v1/visits", json=visit_payload(households["h1"]), headers=headers)
    assert created.status_code == 201
    listed = client.get("/api/v1/visits", headers=headers).get_json()
    assert len(listed) == 1
    for body in (created.get_json(), listed[0]):
        assert set(body) == set(documented["properties"])
        assert all(body[name] not in (None, "") for name in documented["required"])


def test_a_value_has_a_fields_type_as_json_has_it() -> None:
    assert fields.has_type("helped_clean", False)
    assert not fields.has_type("helped_clean", 0)  # JSON's false is no number
    assert fields.has_type("version", 2) and not fields.has_type("version", True)
    assert fields.has_type("location", None) and fields.has_type("location", {"lat": 1})
    assert not fields.has_type("location", [])
    assert not fields.has_type("household", 4117210010001)  # a 户编号 is text
    assert fields.typed("kind", ["in_person"]) is None
