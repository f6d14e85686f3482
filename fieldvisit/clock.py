"""Time stamps, in one place so that every record uses the same form."""

from __future__ import annotations

import time
from datetime import datetime

# The last stamp made, with its second: a stamp is to the second, and asking the system for
# the local time zone (``astimezone``) cost about a hundredth of a visit's save.
_last: tuple[int, str] = (-1, "")


def now_iso() -> str:
    """Local time with its UTC offset, to the second."""
    global _last
    second = int(time.time())
    last = _last
    if last[0] != second:
        stamp = datetime.fromtimestamp(second).astimezone().isoformat(timespec="seconds")
        _last = last = (second, stamp)
    return last[1]
