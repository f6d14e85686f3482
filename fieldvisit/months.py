"""Months, the unit the township counts its work in: every rule about them lives here.

A month is written ``YYYY-MM`` everywhere: in URLs and forms, in the data folder's names
(``visits/2026-11/``), in the API. Written so, months sort as text in calendar order, which
is why the rest of the code compares them with ``<`` and ``>``.

This module is below everything else, storage included (a month names a folder there), so
it imports nothing of the app and nothing of Flask. The messages that tell a person a month
is wrong are in the modules that show them.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, timedelta

# The shape of a month, as text, so that the API's OpenAPI document quotes the very pattern
# the server checks. ASCII digits only: Python's \d also takes other scripts' digits
# (٢٠٢٦, ２０２６). Year 0000 does not exist in the calendar ``date`` knows.
MONTH_PATTERN = "(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])"
# Matched against the whole string (as storage.paths.whole does): not ``^…$``, whose ``$``
# also matches before a final newline, so that "2026-11\n" would pass as 2026-11 and name a
# folder that is not the month's.
MONTH_RE = re.compile(rf"\A(?:{MONTH_PATTERN})\Z")

# No paper record of this work is older: a visit dated earlier is refused (a mistyped year
# such as 0001 or 1900), and earlier months are asked for only by mistake.
EARLIEST_DATE = date(2000, 1, 1)


def month_of(day: date) -> str:
    """The month ``day`` falls in, as ``YYYY-MM``."""
    return f"{day.year:04d}-{day.month:02d}"


def this_month(today: date | None = None) -> str:
    """The month of ``today`` (the server's today when not given), as ``YYYY-MM``."""
    return month_of(today or date.today())


# The first month anything can be recorded in: month arithmetic must not run off the
# calendar's start, and the office's pages refuse earlier months.
FIRST_MONTH = month_of(EARLIEST_DATE)


def check_month(month: str) -> str:
    """``month`` itself when it is a whole ``YYYY-MM`` string; raises ValueError otherwise
    (nothing is stripped: "2026-11\\n" and "2026-13" are refused alike)."""
    if not isinstance(month, str) or not MONTH_RE.match(month):
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return month


def month_bounds(month: str) -> tuple[date, date]:
    """The first and the last day of ``month``. Raises ValueError for a malformed month."""
    year, mon = (int(x) for x in check_month(month).split("-"))
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def previous_month(month: str) -> str:
    """The month before ``month`` (December of the year before for a January)."""
    first, _last = month_bounds(month)
    if first.month == 1:
        return f"{first.year - 1:04d}-12"
    return f"{first.year:04d}-{first.month - 1:02d}"


def next_month(month: str) -> str:
    """The month after ``month`` (January of the next year for a December)."""
    _first, last = month_bounds(month)
    return month_of(last + timedelta(days=1))


def months_back(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first (none for a count below 1)."""
    out: list[str] = []
    for _i in range(count):
        out.append(previous_month(out[-1]) if out else month)
    return out[::-1]


def months_of_year(year: int, today: date) -> list[str]:
    """The months of ``year`` up to ``today``'s, in order: none still to come."""
    return [f"{year:04d}-{m:02d}" for m in range(1, 13) if (year, m) <= (today.year, today.month)]


def months_between(months: Iterable[str], date_from: str = "", date_to: str = "") -> list[str]:
    """Those of ``months`` that hold a day from ``date_from`` to ``date_to`` (YYYY-MM-DD,
    both included; an empty one leaves that end open), in the order given."""
    return [
        m
        for m in months
        if (not date_from or m >= date_from[:7]) and (not date_to or m <= date_to[:7])
    ]


def window_start(today: date, count: int) -> str:
    """The first day (YYYY-MM-DD) of a window of ``count`` months that ends with ``today``'s
    month."""
    index = today.year * 12 + today.month - 1 - (count - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}-01"
