"""Any input to the registry import and to visit recording ends in a stored, valid record or
in a clear error for the user, never in another exception."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from flask import Flask
from helpers import PEOPLE, SAMPLES, visit_payload
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fieldvisit import registry
from fieldvisit.models import Household
from fieldvisit.storage import Store
from fieldvisit.visits import recording as visits
from fieldvisit.visits import validation

PROPERTY = settings(
    # Small and the same examples on every run, so that the suite passes or fails for a
    # change in the code, never by luck; FUZZ_EXAMPLES=500 runs a deeper, random search.
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@pytest.fixture()
def ctx(app: Flask) -> Iterator[None]:
    """Messages are translated, so the code under test needs a request to speak to."""
    with app.test_request_context("/"):
        yield


# --- the registry import ----------------------------------------------------------------------

with (SAMPLES / "registry-sample.csv").open(encoding="utf-8-sig") as _fh:
    SAMPLE_ROWS = list(csv.DictReader(_fh))[:20]

# What a spreadsheet cell may hold, from the plausible to the hostile.
ODD_TEXT = st.sampled_from(
    ["", " ", "=1+1", "-2", "@SUM(A1)", "\ufeff", "\u200b", "是", "否", "0", "1e5", "2016.0",
     "已脱贫", "未脱贫", "低保贫困户", "因病", "13900000001", "13900000001、13900000002", "NaN"]
)  # fmt: skip
CELL_TEXT = st.one_of(ODD_TEXT, st.text(max_size=20), st.integers().map(str))
CELL_VALUE = st.one_of(
    CELL_TEXT,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=False),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
)


@st.composite
def registry_rows(draw: st.DrawFn, cell: st.SearchStrategy[Any]) -> list[dict[str, Any]]:
    """Rows of the sample file with some cells replaced: mostly near-valid, so that both
    outcomes (stored, refused) are reached."""
    rows = []
    for base in draw(st.lists(st.sampled_from(SAMPLE_ROWS), min_size=1, max_size=4)):
        row: dict[str, Any] = dict(base)
        for column in draw(st.lists(st.sampled_from(registry.COLUMNS), max_size=3)):
            row[column] = draw(cell)
        rows.append(row)
    return rows


def _csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(registry.COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in registry.COLUMNS])
    return out.getvalue().encode("utf-8")


def _printable(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _xlsx_bytes(rows: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(registry.COLUMNS))
    for row in rows:
        # A worksheet cannot hold control characters at all: no real file has them.
        sheet.append([_printable(row[c]) for c in registry.COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def assert_imports_cleanly_or_explains(store: Store, data: bytes, filename: str) -> None:
    try:
        report = registry.import_registry(store, data, filename, actor="test")
    except registry.RegistryError as exc:
        event("refused")  # --hypothesis-show-statistics shows that both outcomes are reached
        assert exc.errors
        assert all(str(error).strip() for error in exc.errors)  # each a sentence to show
        return
    event("stored")
    reg = store.registry()
    for household_id in report.added_ids + report.updated_ids:
        assert household_id in reg.households
    # What was stored is valid by the import's own rules: exported, it imports unchanged.
    for fmt in registry.FORMATS:
        again = registry.import_registry(
            store, registry.export_registry_bytes(store, fmt), "again." + fmt, actor="test"
        )
        assert again.added == again.updated == 0


@PROPERTY
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".xlsx", ".txt"]))
def test_any_bytes_are_imported_or_refused(
    ctx: None, store: Store, data: bytes, suffix: str
) -> None:
    assert_imports_cleanly_or_explains(store, data, "file" + suffix)


@PROPERTY
@given(rows=registry_rows(CELL_TEXT))
def test_any_csv_cells_are_imported_or_refused(
    ctx: None, store: Store, rows: list[dict[str, Any]]
) -> None:
    assert_imports_cleanly_or_explains(store, _csv_bytes(rows), "registry.csv")


@PROPERTY
@given(rows=registry_rows(CELL_VALUE))
def test_any_xlsx_cells_are_imported_or_refused(
    ctx: None, store: Store, rows: list[dict[str, Any]]
) -> None:
    assert_imports_cleanly_or_explains(store, _xlsx_bytes(rows), "registry.xlsx")


def test_control_characters_are_dropped_so_the_registry_still_exports(
    ctx: None, store: Store
) -> None:
    """Found by the property above: a CSV cell with a control character was stored as is,
    and the Excel export then failed (openpyxl refuses such characters)."""
    row = dict(SAMPLE_ROWS[0], 户主姓名="马\x1f娟\x00")
    registry.import_registry(store, _csv_bytes([row]), "registry.csv", actor="test")
    assert store.household(row["户编号"]).head == "马娟"  # type: ignore[union-attr]
    assert registry.export_registry_bytes(store, "xlsx")


# --- recording a visit ------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "id", "household", "date", "kind", "guarantees", "environment", "helped_clean", "needs",
    "satisfaction", "notes", "location", "helper",
]  # fmt: skip


@st.composite
def visit_payloads(draw: st.DrawFn, households: dict[str, Household]) -> dict[str, Any]:
    """A valid visit with some fields replaced or removed, or any JSON object at all."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), JSON))
    payload = visit_payload(
        households[draw(st.sampled_from(["h1", "h2"]))],
        id=draw(st.sampled_from(["a1b2c3d4-0000-4000-8000-00000000000", "v2b2c3d4-x"]))
        + str(draw(st.integers(0, 3))),
        date=draw(st.sampled_from([date.today().isoformat(), "2001-01-01", "9999-12-31"])),
    )
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            payload.pop(name, None)
        else:
            payload[name] = draw(JSON)
    return payload


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_any_visit_payload_is_stored_or_refused(
    app: Flask, store: Store, households: dict[str, Household], who: str
) -> None:
    user = store.user(PEOPLE[who][0])
    assert user is not None

    @PROPERTY
    @given(payload=visit_payloads(households))
    def check(payload: dict[str, Any]) -> None:
        try:
            visit, _created = visits.record_visit(store, payload, user)
        except validation.VisitError as exc:
            event(f"refused {exc.status}")
            assert exc.errors and exc.status in (400, 403, 404, 409)
            assert all(isinstance(m, str) and m for m in exc.errors.values())
            return
        event("stored")
        stored = [
            v
            for v in store.visits(visit.month)
            if v.id == visit.id and v.household == visit.household
        ]
        assert stored == [visit]
        # What was stored passes the same validation again.
        doc = visit.to_doc()
        validation.validate(store, doc, user, date.today())

    with app.test_request_context("/"):
        check()


def test_a_visit_with_a_list_for_its_kind_is_refused_not_a_crash(
    ctx: None, store: Store, households: dict[str, Household]
) -> None:
    """Found by the property above: ``kind``, ``satisfaction`` and a need's ``category``
    were looked up in dicts as sent, and a JSON list or object raised TypeError (a 500)."""
    user = store.user(PEOPLE["owner"][0])
    assert user is not None
    payload = visit_payload(households["h1"], kind=["in_person"], satisfaction={"a": 1})
    payload["needs"] = [{"category": [], "description": "x"}]
    with pytest.raises(validation.VisitError) as caught:
        visits.record_visit(store, payload, user)
    assert {"kind", "satisfaction", "needs.0.category"} <= set(caught.value.errors)


def test_a_visit_id_used_in_another_village_is_refused(
    ctx: None, store: Store, households: dict[str, Household]
) -> None:
    admin = store.user(PEOPLE["admin"][0])
    assert admin is not None
    same = "a1b2c3d4-0000-4000-8000-0000000000aa"
    visits.record_visit(store, visit_payload(households["h2"], id=same), admin)
    with pytest.raises(validation.VisitError) as caught:
        visits.record_visit(store, visit_payload(households["h1"], id=same), admin)
    assert caught.value.status == 409
