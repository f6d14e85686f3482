"""A closed month's figures stand as they were closed: the monthly PDF, the visits export,
the dashboard and the completion API give the same after a transfer, a village move, a
re-import and a deactivation, while a month never closed follows today's registry."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import ACTOR, PEOPLE, SAMPLE_CSV, Auth, visit_payload
from openpyxl import load_workbook
from test_reports import read_pdf

from fieldvisit.documents.exports import export_visits_bytes
from fieldvisit.documents.monthly import monthly_report_pdf
from fieldvisit.households import office
from fieldvisit.models import Household
from fieldvisit.months import previous_month, this_month
from fieldvisit.registry import import_registry
from fieldvisit.storage import Store
from fieldvisit.visits.recording import record_visit

TODAY = date.today()
MONTH = previous_month(this_month(TODAY))  # closed
EARLIER = previous_month(MONTH)  # never closed
ADMIN, OWNER, OTHER = PEOPLE["admin"][0], PEOPLE["owner"][0], PEOPLE["other"][0]
VILLAGE = "聂河村"
# The one line that may differ between two PDFs of the same month.
GENERATED = re.compile(r"生成时间 \d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def _visits(store: Store, households: dict[str, Household], month: str, tag: str) -> None:
    """h1 visited in person with a need, h2 reached by phone only: entered by the office."""
    admin = store.user(ADMIN)
    h1, h2 = households["h1"], households["h2"]
    record_visit(
        store, visit_payload(h1, id=f"{tag}-0000-4000-8000-000000000001", date=f"{month}-05"), admin
    )
    phone = visit_payload(
        h2, id=f"{tag}-0000-4000-8000-000000000002", date=f"{month}-06", kind="phone"
    )
    record_visit(store, phone, admin)


@pytest.fixture()
def township(store: Store, households: dict[str, Household], runner: Any) -> Store:
    _visits(store, households, EARLIER, "e1b2c3d4")
    _visits(store, households, MONTH, "a1b2c3d4")
    result = runner.invoke(args=["close-month", "--month", MONTH])
    assert result.exit_code == 0, result.output
    return store


def _edit(store: Store, hid: str, **changes: str) -> None:
    household = store.household(hid)
    assert household is not None
    form = {name: str(getattr(household, name) or "") for name in office.EDITABLE}
    form.update(id_number="", long_absent="", **changes)
    office.edit_household(store, hid, form, ADMIN)


def _transfer(store: Store) -> None:
    office.transfer_households(store, OWNER, OTHER, ADMIN)


def _move(store: Store) -> None:
    _edit(store, "4117210010001", village="王寨村", group="1组")


def _reimport(store: Store) -> None:
    # The sample renames h1's helper, regroups h1 and adds 23 households.
    import_registry(store, SAMPLE_CSV.read_bytes(), "registry-sample.csv", ACTOR)


def _deactivate(store: Store) -> None:
    _transfer(store)  # a helper still paired cannot be stopped
    office.set_active(store, OWNER, False, ADMIN)


# In the order the test makes them: each on top of the ones before.
CHANGES: dict[str, Callable[[Store], None]] = {
    "transfer": _transfer,
    "village move": _move,
    "re-import": _reimport,
    "deactivation": _deactivate,
}


def _pdf(app: Flask, store: Store, month: str, tmp: Path, village: str | None = None) -> str:
    with app.app_context():
        pdf = monthly_report_pdf(store, month, village)
    return GENERATED.sub("", read_pdf(pdf, tmp / "report.pdf").text)


def _cells(app: Flask, store: Store, month: str, village: str | None = None) -> list[Any]:
    with app.app_context():
        data, _count = export_visits_bytes(store, month, "xlsx", village)
    book = load_workbook(io.BytesIO(data))
    return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book]


def _dashboard(client: FlaskClient, month: str, village: str = "") -> str:
    page = client.get(f"/dashboard?month={month}&village={village}").get_data(as_text=True)
    # After the filter form, whose lists of villages and units are today's.
    return page.split("</details>", 1)[1]


def _api(client: FlaskClient, month: str, village: str = "") -> Any:
    response = client.get(f"/api/v1/completion?month={month}&village={village}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _figures(app: Flask, store: Store, client: FlaskClient, tmp: Path, village_pdf: bool) -> dict:
    """Every report of the closed month: the township's PDF (and the village's, when asked:
    each PDF takes a moment), the exports, the dashboards and the API's answers."""
    found = {
        "pdf": _pdf(app, store, MONTH, tmp),
        "export": _cells(app, store, MONTH),
        "village export": _cells(app, store, MONTH, VILLAGE),
        "dashboard": _dashboard(client, MONTH),
        "village dashboard": _dashboard(client, MONTH, VILLAGE),
        "api": _api(client, MONTH),
        "village api": _api(client, MONTH, VILLAGE),
    }
    if village_pdf:
        found["village pdf"] = _pdf(app, store, MONTH, tmp, VILLAGE)
    return found


def test_a_closed_months_figures_stand_after_registry_changes(
    app: Flask, township: Store, client: FlaskClient, auth: Auth, tmp_path: Path
) -> None:
    auth.login("supervisor")
    before = _figures(app, township, client, tmp_path, village_pdf=True)
    archived = township.closed_months()[MONTH]["pdf"]
    issued = read_pdf(township.closed.read(MONTH, archived), tmp_path / "issued.pdf").text
    # The summary issued at the close reads as every later one, bar the time it was made.
    assert GENERATED.sub("", issued) == before["pdf"]
    assert "马娟" in before["village pdf"] and "张帮扶" in before["village pdf"]

    # One after the other, each checked: the last one also makes the village's PDF again.
    for number, (change, apply) in enumerate(CHANGES.items(), start=1):
        apply(township)
        after = _figures(app, township, client, tmp_path, village_pdf=number == len(CHANGES))
        for part, value in after.items():
            assert value == before[part], f"{part} after the {change}"
    assert township.user(OWNER).active is False  # the changes did happen
    assert len(township.registry().households) == 25


def test_a_month_never_closed_follows_todays_registry(
    app: Flask, township: Store, client: FlaskClient, auth: Auth, tmp_path: Path
) -> None:
    auth.login("supervisor")
    assert not township.is_closed(EARLIER)
    open_before = _api(client, EARLIER, VILLAGE)
    closed_before = _api(client, MONTH, VILLAGE)
    _move(township)
    # The open month counts h1 in its new village; the closed one where it was.
    assert _api(client, EARLIER, VILLAGE)["households"] == open_before["households"] - 1
    assert _api(client, MONTH, VILLAGE) == closed_before
    assert "4117210010001" in _pdf(app, township, EARLIER, tmp_path, "王寨村")
    assert (
        client.get(f"/api/v1/completion?month={MONTH}&village=王寨村").get_json()["households"] == 1
    )


def test_the_export_places_visits_in_the_village_of_the_closed_month(
    app: Flask, township: Store
) -> None:
    _move(township)
    rows = _cells(app, township, MONTH)[0]
    village = rows[0].index("村")
    assert {row[0]: row[village] for row in rows[1:]} == {
        "4117210010001": VILLAGE,
        "4117210020001": "王寨村",
    }
    open_rows = _cells(app, township, EARLIER)[0]
    assert {row[0]: row[village] for row in open_rows[1:]}["4117210010001"] == "王寨村"
