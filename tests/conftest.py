"""Fixtures: an app on a throwaway data folder, its store, a client, a CLI runner and
logins. The people, builders and helpers they use are in ``helpers.py``."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import (
    Auth,
    seed,
)
from pg_engine import (  # noqa: F401  the suite on PostgreSQL too: see pg_engine.py
    postgresql_cleanup,
    postgresql_engine,
    pytest_configure,
    skip_embedded_only,
)

from fieldvisit import create_app
from fieldvisit.models import Household
from fieldvisit.storage import Store


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_embedded_only(items)
    # schemathesis names each of its tests after its operation ("test_x[GET /visits]") but
    # gives them all their function's node id: pytest-xdist's schedulers that group tests
    # (--dist loadscope) key their work by node id and would run one of them only.
    for item in items:
        if item.parent is not None and not item.nodeid.endswith("::" + item.name):
            item._id = item.parent.id.child(item.name)  # the id pytest itself would give


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep what the imports and the collection made (a million objects) out of the cycle
    collector's full passes: the PDF code runs one after each document, and at this heap's
    size each cost a third of a second. The server does the same (serving.tune_collector)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def compile_catalogues() -> None:
    """Compile the message catalogues, as ./fv does, so pytest works on its own too."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in (Path(__file__).resolve().parents[1] / "fieldvisit" / "translations").glob(
        "*/LC_MESSAGES/messages.po"
    ):
        with po_path.open("rb") as fh:
            catalog = read_po(fh)
        with po_path.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog)


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "SECRET_KEY": "test-secret",
            "BASE_URL": "http://fieldvisit.test",
        }
    )
    yield app


@pytest.fixture()
def store(app: Flask) -> Store:
    return app.extensions["fieldvisit.store"]


@pytest.fixture()
def households(store: Store) -> dict[str, Household]:
    return seed(store)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture()
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture()
def app_context(app: Flask) -> Iterator[None]:
    # Messages go through Flask-Babel, as they do when the CLI imports a file.
    with app.app_context():
        yield


@pytest.fixture()
def blank(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The number of crash points test_crashes.py exercised (each test records its own)."""
    points = sum(
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "crash_points"
    )
    if points:
        terminalreporter.write_line(f"crash points exercised: {points}")
