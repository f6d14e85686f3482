"""A month's visits decoded once for as long as the month is unchanged (``PgStore.visits``).

Decoding is the cost of reading visits from PostgreSQL: a county's month (13,500 visits)
takes over a second of JSON and ``Visit.from_doc``, and a dashboard reads a month several
times (the month, the one before, the guarantees' window). The embedded store keeps each
village file's decoded visits with the file; this keeps a whole month's, checked on every
read against ``visits_version`` (count, max and sum of ``seq``, the latest writing
transaction: one small query), so that a visit saved by any server process is read at once.

When the month moved, only the rows written since (``seq`` above the kept maximum) are read
and put in place of their older versions; the result must then add up to the version read,
else the whole month is read again: a row that left the month (a date corrected into
another), a transaction that committed after a later one (its ``seq`` below the kept
maximum) or a database restored from a backup (``seq`` used again) shows there. The
version is asked *before* the rows are read, so a save landing between the two fails that
check or is filed under the older version and read on the next call: never stale, at worst
read once too often.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from ...models import Visit
from ..paths import check_month
from .db import Database

# Months kept: this month, the one before and the basic guarantees' window of three. A
# county's month is some tens of MB decoded; older months' figures are kept by the figures'
# own cache (``figures.cache``) as counts, not as visits.
MONTHS_KEPT = 4

_Row = tuple[int, int, Visit]  # seq, xmin (the writing transaction), the visit


@dataclass
class _Month:
    version: Hashable
    rows: dict[str, _Row] = field(default_factory=dict)  # visit id -> its row

    def adds_up(self, version: Hashable) -> bool:
        """Whether the rows are those ``version`` counts: (count, max seq, sum seq, max
        xmin). The transaction ids tell a restored database's reused ``seq`` apart."""
        seqs = [row[0] for row in self.rows.values()]
        xmins = [row[1] for row in self.rows.values()]
        mine = (len(seqs), max(seqs, default=0), sum(seqs), max(xmins, default=0))
        return isinstance(version, tuple) and mine == version


class MonthVisits:
    """Whole months of visits (no village given), kept while ``version(month)`` is
    unchanged and brought up to date with the rows written since."""

    def __init__(self, db: Database, version: Callable[[str], Hashable]) -> None:
        self._db = db
        self._version = version
        self._lock = threading.Lock()
        self._months: OrderedDict[str, _Month] = OrderedDict()

    def _rows(self, month: str, after: int) -> list[_Row]:
        with self._db.connection() as conn:
            found: list[Any] = conn.execute(
                "SELECT seq, xmin::text::bigint, doc FROM visits WHERE month = %s AND seq > %s"
                " ORDER BY seq",
                (check_month(month), after),
            ).fetchall()
        return [(int(seq), int(xmin), Visit.from_doc(doc)) for seq, xmin, doc in found]

    def visits(self, month: str) -> list[Visit]:
        """The visits dated in ``month``, in the order they were written: a new list each
        time (callers may change it), of shared, read-only visits (as the embedded
        store's)."""
        version = self._version(month)
        with self._lock:
            kept = self._months.get(month)
        if kept is None or kept.version != version:
            kept = self._brought_up(month, kept, version)
            with self._lock:
                self._months[month] = kept
                while len(self._months) > MONTHS_KEPT:
                    self._months.popitem(last=False)
        with self._lock:
            self._months.move_to_end(month)
        return [row[2] for row in kept.rows.values()]

    def _brought_up(self, month: str, kept: _Month | None, version: Hashable) -> _Month:
        if kept is not None:
            rows = dict(kept.rows)  # the kept one may be read by another thread meanwhile
            for row in self._rows(month, max((r[0] for r in rows.values()), default=0)):
                rows.pop(row[2].id, None)  # in the order written: a rewritten row goes last
                rows[row[2].id] = row
            fresh = _Month(version, rows)
            if fresh.adds_up(version):
                return fresh
        return _Month(version, {row[2].id: row for row in self._rows(month, 0)})
