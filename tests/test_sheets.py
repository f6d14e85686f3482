"""Workbooks open as typed: records that hold characters a worksheet cannot (stored before
input dropped them) still export, and text starting with "=" stays text."""

from __future__ import annotations

import io
from datetime import date

from helpers import PEOPLE
from openpyxl import load_workbook

from fieldvisit.documents.exports import export_visits_bytes
from fieldvisit.models import Need, Visit
from fieldvisit.storage import Store

TODAY = date.today()
MONTH = TODAY.isoformat()[:7]


def _store_odd_records(store: Store, household_id: str, village: str) -> None:
    """A visit and a need as an older version stored them, with control characters."""
    visit = Visit(
        id="odd-visit-0001",
        household=household_id,
        village=village,
        helper=PEOPLE["owner"][0],
        recorded_by=PEOPLE["owner"][0],
        date=TODAY.isoformat(),
        kind="phone",
        notes="从微信复制\x0b的文字\x00",
        satisfaction="satisfied",
        created_at="t",
        updated_at="t",
    )
    need = Need(
        id="odd-need-0001",
        visit=visit.id,
        household=household_id,
        village=village,
        category="medical",
        description='=HYPERLINK("http://example.com")\x0c',
        urgent=False,
        raised_by=PEOPLE["owner"][0],
        raised_at=TODAY.isoformat(),
    )
    store.import_visits([visit], [need])


def test_the_visits_export_drops_what_a_worksheet_cannot_hold(app, store, households):
    h1 = households["h1"]
    _store_odd_records(store, h1.id, h1.village)
    with app.test_request_context("/"):
        data, count = export_visits_bytes(store, MONTH, "xlsx", today=TODAY)
    assert count == 1
    cells = [c for row in load_workbook(io.BytesIO(data)).worksheets[0].values for c in row]
    assert "从微信复制的文字" in cells


def test_the_needs_export_keeps_formula_like_text_as_text(client, auth, store, households):
    h1 = households["h1"]
    _store_odd_records(store, h1.id, h1.village)
    auth.login("admin")
    response = client.get("/needs/export.xlsx?status=all")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    (cell,) = [c for row in sheet.iter_rows(min_row=2) for c in row if "HYPERLINK" in str(c.value)]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://example.com")'
