"""Resident ID numbers (居民身份证号码, GB 11643-1999): checking and masking.

An ID number is sensitive: it is stored so that records can be matched with other
departments, but a page or a printout only ever shows it masked.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"  # indexed by the weighted sum modulo 11
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_EARLIEST_BIRTH_YEAR = 1900

# The reasons ``id_number_problem`` gives; callers turn them into messages.
LENGTH = "length"
CHARACTERS = "characters"
BIRTH_DATE = "birth_date"
CHECK_DIGIT = "check_digit"


def normalize_id_number(s: str) -> str:
    """The number as it should be stored: no spaces, half-width digits, upper-case X.

    People type ID numbers in groups ("4117 2119 …") and with full-width digits, and
    spreadsheets hand back a lower-case x as often as an upper-case one.
    """
    text = unicodedata.normalize("NFKC", s)
    return "".join(text.split()).upper()


def check_digit(first17: str) -> str:
    """The check character for the first 17 digits."""
    total = sum(int(ch) * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _birth_date_ok(digits: str, today: date) -> bool:
    try:
        born = date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return False
    return born.year >= _EARLIEST_BIRTH_YEAR and born <= today


def id_number_problem(s: str, today: date | None = None) -> str | None:
    """What is wrong with ``s`` as an 18-character ID number, or None when it is valid.

    The answer is one of ``LENGTH``, ``CHARACTERS``, ``BIRTH_DATE``, ``CHECK_DIGIT``, so that
    a message can tell the user which part to look at.
    """
    number = normalize_id_number(s)
    if len(number) != 18:
        return LENGTH
    if not _SHAPE.fullmatch(number):
        return CHARACTERS
    if not _birth_date_ok(number[6:14], today or date.today()):
        return BIRTH_DATE
    if check_digit(number[:17]) != number[17]:
        return CHECK_DIGIT
    return None


def is_valid_id_number(s: str) -> bool:
    """Whether ``s`` is an 18-character ID number with a plausible birth date and the right
    check digit (a lower-case x is accepted)."""
    return id_number_problem(s) is None


def mask_id_number(s: str) -> str:
    """The number with all but its first 4 and last 4 characters hidden.

    A value too short to keep 8 characters and still hide something is hidden entirely:
    a mistyped fragment can be as revealing as the whole number.
    """
    number = normalize_id_number(s)
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


_OLD_SHAPE = re.compile(r"[0-9]{15}")


def upgrade_id_number(s: str) -> str:
    """A 15-digit number (issued before 1999: two-digit year, no check digit) as the
    18-character number it became: "19" before the year and the check digit after; any
    other value normalized and otherwise as it is. Other departments' lists still hold old
    numbers, and matching is by the 18-character one."""
    number = normalize_id_number(s)
    if not _OLD_SHAPE.fullmatch(number):
        return number
    first17 = number[:6] + "19" + number[6:]
    return first17 + check_digit(first17)
