"""Closed months: the office closes a month once its visits are in, and from then on its
registry and figures are those it stood with, its summary PDF is archived with a SHA-256 the
county can check, and its visits take no change; the office may reopen it, with a reason,
and close it again (docs/decisions/0013-closed-months.md).

``months``: closing, reopening and the list of closed months; ``snapshot``: the files a
close writes. Reading a closed month's registry is ``figures.frozen``'s, below the reports
that use it.
"""

from .months import (
    ClosedMonth,
    ClosingError,
    archived_pdf,
    closable_months,
    close_month,
    closed_months,
    reopen_month,
)

__all__ = [
    "ClosedMonth",
    "ClosingError",
    "archived_pdf",
    "closable_months",
    "close_month",
    "closed_months",
    "reopen_month",
]
