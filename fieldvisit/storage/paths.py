"""Where things live in the data folder."""

from __future__ import annotations

import hashlib
import re

REGISTRY = "registry.json"
_MONTH_RE = re.compile(r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$")


def village_file_name(village: str) -> str:
    """A safe file name for a village: readable, yet no name can escape the folder."""
    readable = re.sub(r"[^\w\u4e00-\u9fff]+", "_", village).strip("_")[:40] or "village"
    digest = hashlib.sha1(village.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}.json"


def check_month(month: str) -> str:
    if not _MONTH_RE.match(month):
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return month


# Visit and photo ids as they may appear in a photo's path: no dots, no slashes.
PHOTO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$")
