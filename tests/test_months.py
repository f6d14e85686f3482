"""Months: their shape, their arithmetic across year ends, and the windows built on them."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from fieldvisit.months import (
    EARLIEST_DATE,
    FIRST_MONTH,
    MONTH_RE,
    check_month,
    month_bounds,
    month_of,
    months_back,
    months_between,
    months_of_year,
    next_month,
    previous_month,
    this_month,
    window_start,
)


def test_month_of_any_day_is_its_year_and_month() -> None:
    assert month_of(date(2026, 11, 30)) == "2026-11"
    assert month_of(date(2026, 1, 1)) == "2026-01"
    assert month_of(date(999, 3, 5)) == "0999-03"  # four digits, as the folders are named


def test_this_month_is_the_month_of_today() -> None:
    assert this_month(date(2026, 12, 31)) == "2026-12"
    assert this_month() == month_of(date.today())


def test_the_first_month_is_that_of_the_earliest_date() -> None:
    assert FIRST_MONTH == "2000-01" == month_of(EARLIEST_DATE)


@pytest.mark.parametrize(
    ("month", "before", "after"),
    [
        ("2026-01", "2025-12", "2026-02"),
        ("2025-12", "2025-11", "2026-01"),
        ("2026-06", "2026-05", "2026-07"),
    ],
)
def test_previous_and_next_cross_the_year_end(month: str, before: str, after: str) -> None:
    assert previous_month(month) == before
    assert next_month(month) == after
    assert next_month(previous_month(month)) == month


def test_february_ends_on_the_29th_in_a_leap_year() -> None:
    assert month_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert month_bounds("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    # Centuries are leap years only every fourth one.
    assert month_bounds("2000-02")[1] == date(2000, 2, 29)
    assert month_bounds("2100-02")[1] == date(2100, 2, 28)
    assert next_month("2024-02") == "2024-03"


def test_months_back_crosses_the_year() -> None:
    assert months_back("2026-02", 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months_back("2026-02", 1) == ["2026-02"]
    assert months_back("2026-02", 0) == []
    assert len(months_back("2026-11", 24)) == 24


def test_months_of_a_year_stop_at_today() -> None:
    assert months_of_year(2026, date(2026, 3, 15)) == ["2026-01", "2026-02", "2026-03"]
    assert len(months_of_year(2025, date(2026, 3, 15))) == 12
    assert months_of_year(2027, date(2026, 3, 15)) == []


def test_months_between_two_days_include_both_ends() -> None:
    months = ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert months_between(months, "2026-01-31", "2026-02-01") == ["2026-01", "2026-02"]
    assert months_between(months, "2026-02-15") == ["2026-02", "2026-03"]
    assert months_between(months, date_to="2025-12-31") == ["2025-12"]
    assert months_between(months) == months


def test_a_window_starts_on_the_first_of_its_oldest_month() -> None:
    assert window_start(date(2026, 11, 20), 12) == "2025-12-01"
    assert window_start(date(2026, 1, 31), 1) == "2026-01-01"
    assert window_start(date(2026, 1, 31), 2) == "2025-12-01"


@pytest.mark.parametrize("month", ["2026-11", "2000-01", "0001-12"])
def test_check_month_returns_a_month(month: str) -> None:
    assert check_month(month) == month


@pytest.mark.parametrize(
    "value",
    [
        "2026-11\n",  # Python's $ would let it through: the check is on the whole string
        "\n2026-11",
        " 2026-11",
        "2026-13",
        "2026-00",
        "0000-01",
        "2026-1",
        "26-11",
        "2026/11",
        "２０２６-１１",  # full-width digits: \d would take them
        "2026-11-01",
        "",
    ],
)
def test_check_month_refuses_anything_else(value: str) -> None:
    with pytest.raises(ValueError):
        check_month(value)
    assert not MONTH_RE.search(value)


def test_check_month_refuses_what_is_not_text() -> None:
    with pytest.raises(ValueError):
        check_month(202611)  # type: ignore[arg-type]


def test_month_bounds_checks_the_month() -> None:
    with pytest.raises(ValueError):
        month_bounds("2026-13")


def test_months_needs_neither_flask_nor_the_rest_of_the_app() -> None:
    # Storage names its folders by months, so months must sit below it: importing it may
    # not pull in Flask (the package's __init__ is the only part that does).
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('m', 'fieldvisit/months.py')\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "assert 'flask' not in sys.modules, sorted(sys.modules)\n"
        "assert module.next_month('2026-12') == '2027-01'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
