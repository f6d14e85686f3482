"""Time stamps, in one place so that every record uses the same form."""

from __future__ import annotations

from datetime import datetime


def now_iso() -> str:
    """Local time with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")
