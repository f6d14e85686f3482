"""Where things live in the data folder."""

from __future__ import annotations

import hashlib
import re

# Months name folders and files here, but what a month is is the rule of months.py (a
# module below storage); the storage modules take these two names from this module.
from ..months import MONTH_RE
from ..months import check_month as check_month

REGISTRY = "registry.json"

# The shapes of identifiers: ids name folders and files, dates are compared as text (a
# month's shape is months.MONTH_PATTERN). Written once, as text, so that the API's OpenAPI
# document quotes the very patterns the server checks (wrapped in ^…$ there: in its
# ECMAScript patterns $ is the very end).
# ASCII digits only: Python's \d also takes other scripts' digits (٢٠٢٦, ２０２６).
DATE_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Visit and photo ids as they may appear in a photo's path: no dots, no slashes.
ID_PATTERN = "[A-Za-z0-9][A-Za-z0-9_-]{7,63}"
# C0 controls, DEL and C1 controls: never part of an identifier, a month or a date.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def whole(pattern: str) -> re.Pattern[str]:
    """``pattern`` matched against the whole string, whether called with ``match``,
    ``search`` or ``fullmatch``. Not ``^…$``: Python's ``$`` also matches before a final
    newline, so "abc12345\\n" would pass as "abc12345"."""
    return re.compile(rf"\A(?:{pattern})\Z")


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (a newline, a tab, NUL…)."""
    return _CONTROL_RE.search(text) is not None


_MONTH_RE = MONTH_RE
PHOTO_ID_RE = whole(ID_PATTERN)


def village_file_name(village: str) -> str:
    """A safe file name for a village: readable, yet no name can escape the folder."""
    readable = re.sub(r"[^\w\u4e00-\u9fff]+", "_", village).strip("_")[:40] or "village"
    digest = hashlib.sha1(village.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}.json"
