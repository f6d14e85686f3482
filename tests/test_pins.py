"""One request, one registry (storage.pins): what a request first read of the registry is what
it reads to its end, except what it writes itself; outside a request every read is current."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from helpers import make_household

from fieldvisit import create_app
from fieldvisit.storage import Registry


def _add(household_id: str, head: str):  # type: ignore[no-untyped-def]
    def change(reg: Registry) -> None:
        reg.households[household_id] = make_household(id=household_id, head=head)

    return change


def _second_app(app: Flask) -> Flask:
    """Another server process over the same data."""
    return create_app({"TESTING": True, "DATA_DIR": app.config["DATA_DIR"], "SECRET_KEY": "x"})


def test_a_request_reads_the_registry_it_first_read_and_its_own_writes(
    app: Flask, tmp_path: Path
) -> None:
    store = app.extensions["fieldvisit.store"]
    other = _second_app(app).extensions["fieldvisit.store"]
    store.update_registry(_add("4117210010001", "马娟"))
    with app.test_request_context("/"):
        app.preprocess_request()
        first = store.registry()
        version = store.registry_version()
        assert set(first.households) == {"4117210010001"}
        # Another process changes the registry half-way through the request: not seen, and
        # the version the request reports is that of the registry it reads (figures kept
        # under a version are never made from an older registry: figures.cache).
        other.update_registry(_add("4117210010002", "梁刚"))
        assert store.registry() is first
        assert store.registry_version() == version
        assert store.household("4117210010002") is None
        # The request's own write is seen at once, with the other process's before it.
        store.update_registry(_add("4117210010003", "王建国"))
        assert set(store.registry().households) == {
            "4117210010001",
            "4117210010002",
            "4117210010003",
        }
        app.do_teardown_request()
    # Outside a request nothing is pinned.
    other.update_registry(_add("4117210010004", "李秀英"))
    assert store.household("4117210010004") is not None
    assert store.registry_version() != version


def test_each_request_starts_from_the_current_registry(app: Flask) -> None:
    store = app.extensions["fieldvisit.store"]
    other = _second_app(app).extensions["fieldvisit.store"]
    with app.test_request_context("/"):
        app.preprocess_request()
        assert store.household("4117210010001") is None
        app.do_teardown_request()
    other.update_registry(_add("4117210010001", "马娟"))
    with app.test_request_context("/"):
        app.preprocess_request()
        assert store.household("4117210010001") is not None
        app.do_teardown_request()
