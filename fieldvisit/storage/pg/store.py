"""PgStore: the Store's interface (``storage.engine.Engine``) over a PostgreSQL database.

Behaviour is the embedded store's (its docstrings are the reference); what differs is how
it is kept: each change and its audit entries in one transaction, committed durably
(``synchronous_commit`` on); decisions under row locks, or advisory locks where no row
exists yet; nothing another server process needs kept only in this one's memory (the
registry is cached here, but checked against its version row on every read).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ...models import AuditEntry, Household, Need, User, Visit
from .. import pins
from ..closed import SETTING as CLOSED_SETTING
from ..closed import ClosedFiles
from ..engine import ClosedMonthFiles, PhotoFiles, ReportFiles
from ..journal import StorageError
from ..paths import check_month
from ..photos import Photos
from ..registry_file import Registry
from ..reports import ReportFolder
from .audit import PgAuditLog
from .db import Database, describe
from .files import PgClosedFiles, PgPhotos, PgReports
from .jobs import PgJobBook
from .month_visits import MonthVisits
from .ratelimit import COUNT, register
from .registry import RegistryTables
from .sessions import PgLoginSessions
from .visits import VisitTables

T = TypeVar("T")


class PgStore:
    """Domain-level access to one PostgreSQL database (and schema)."""

    def __init__(self, url: str, pool_size: int = 10, shared_dir: str | None = None) -> None:
        self.url = url
        self.db = Database(url, pool_size)
        self._registry = RegistryTables(self.db)
        self._visits = VisitTables(self.db, self._registry)
        self._months = MonthVisits(self.db, self.visits_version)
        self.audit_log = PgAuditLog(self.db)
        self.sessions = PgLoginSessions(self.db)
        self.jobs = PgJobBook(self.db)
        # Flask-Limiter's counts in this database (set by storage.current).
        self.limits_uri = register(url)
        self.photos: PhotoFiles
        self.closed: ClosedMonthFiles
        self.reports: ReportFiles
        if shared_dir:
            # Files in a folder every server mounts (NFS, a cluster filesystem): the
            # database stays small and its backups quick.
            shared = Path(shared_dir)
            self.photos = Photos(shared / "photos")
            self.closed = ClosedFiles(shared / "closed")
            self.reports = ReportFolder(shared / "exports")
        else:
            self.photos = PgPhotos(self.db)
            self.closed = PgClosedFiles(self.db)
            self.reports = PgReports(self.db)

    @property
    def location(self) -> str:
        return describe(self.url) + (f" ({self.db.schema})" if self.db.schema != "public" else "")

    def close(self) -> None:
        self.db.close()

    def audit(self, entry: AuditEntry) -> None:
        self.audit_log.append(entry)

    def recover(self) -> tuple[int, int]:
        """Nothing to finish after a crash: a change and its copies are one transaction."""
        return 0, 0

    # registry ------------------------------------------------------------------------

    def registry(self) -> Registry:
        # Within a request, the registry it first read (see ``storage.pins``): each look
        # at the version is a round trip to the server.
        registry: Registry = pins.pinned(self._registry, self._read_pinned)[0]
        return registry

    def _read_pinned(self) -> tuple[Registry, Hashable]:
        # The registry of the version row read here, or a newer one: never older than the
        # version it is kept under (see figures.cache).
        with self.db.connection() as conn:
            row = conn.execute("SELECT version, xmin::text FROM registry_version").fetchone()
            return self._registry.at_version(conn, row), (tuple(row) if row else ())

    def count_and_pin(self, key: str, now: float) -> int | None:
        """A rate-limit count (``ratelimit``) read in one statement with the registry's
        version, when a request looks at a count before its first registry read, as an API
        call does (is its address blocked?): the registry is pinned for the request as
        ``registry()`` would pin it, and the request makes one round trip where it made two.
        None outside a request, or once its registry is pinned."""
        if not pins.wanted(self._registry):
            return None
        with self.db.connection() as conn:
            row = conn.execute(
                f"SELECT ({COUNT}), v.version, v.xmin::text"
                " FROM (SELECT 1) AS one LEFT JOIN registry_version v ON true",
                (key, now),
            ).fetchone()
            count, version = (row[0], row[1:]) if row else (None, None)
            version = version if version and version[0] is not None else None
            pinned = (self._registry.at_version(conn, version), tuple(version or ()))
        pins.pinned(self._registry, lambda: pinned)
        return int(count or 0)

    def update_registry(
        self,
        change: Callable[[Registry], T],
        audit: Callable[[T], list[AuditEntry]] | None = None,
        tables: Collection[str] | None = None,
    ) -> T:
        # The whole registry is loaded here whatever ``tables`` says: the rows written are
        # only those that differ, found by comparing versions.
        try:
            return self._registry.update(change, audit)
        finally:
            pins.forget(self._registry)  # the request reads its own write

    def is_empty(self) -> bool:
        reg = self.registry()
        return not reg.households and not reg.users

    def household(self, household_id: str) -> Household | None:
        return self.registry().households.get(household_id)

    def household_by_token(self, token: str) -> Household | None:
        reg = self.registry()
        hid = reg.by_token.get(token)
        return reg.households.get(hid) if hid else None

    def user(self, phone: str) -> User | None:
        return self.registry().users.get(phone)

    def setting(self, key: str, default: Any = None) -> Any:
        return self.registry().settings.get(key, default)

    def finish_moves(self) -> None:
        """Nothing pending: a move is carried out in the registry change's transaction."""

    # visits ---------------------------------------------------------------------------

    def months(self) -> list[str]:
        return self._visits.months()

    # The writing transaction's id (xmin) goes with each count: numbers alone come back
    # after a restore (the sequence and the version row restored with the data), or after a
    # schema is emptied and used again, while a transaction id is never used twice.

    def registry_version(self) -> Hashable:
        version: Hashable = pins.pinned(self._registry, self._read_pinned)[1]
        return version

    def visits_version(self, month: str) -> Hashable:
        # Every write takes the next change_seq: a row added or changed moves max and sum, a
        # row leaving the month (a date corrected into another) moves count and sum, even
        # when transactions commit out of their seq's order.
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(max(seq), 0), coalesce(sum(seq), 0),"
                " coalesce(max(xmin::text::bigint), 0) FROM visits WHERE month = %s",
                (check_month(month),),
            ).fetchone()
        return tuple(row) if row else ()

    def visits(self, month: str, village: str | None = None) -> list[Visit]:
        if village is None:  # a whole month: decoded once while unchanged (month_visits)
            return self._months.visits(month)
        return self._visits.visits(month, village)

    def needs(self, month: str, village: str | None = None) -> list[Need]:
        return self._visits.needs(month, village)

    def visit_by_id(self, visit_id: str) -> Visit | None:
        found: Visit | None = self._visits.by_id(visit_id)
        return found

    def find_visit(self, month: str, village: str, visit_id: str) -> Visit | None:
        found: Visit | None = self._visits.by_id(visit_id, month, village)
        return found

    def household_visits(
        self, months: Sequence[str], village: str, household_id: str
    ) -> list[Visit]:
        return self._visits.of_household(months, village, household_id)

    def household_needs(self, village: str, household_id: str) -> list[Need]:
        return self._visits.needs_of_household(village, household_id)

    def save_visit(
        self,
        visit: Visit,
        decide: Callable[[Visit | None], Visit | None],
        needs_for: Callable[[Visit, list[Need]], list[Need]],
        audit: Callable[[Visit], AuditEntry] | None = None,
    ) -> tuple[Visit, bool]:
        # The registry this request read, if it read one: a first save is decided on it
        # (and written only if it is still the registry's version; see VisitTables).
        read = pins.peek(self._registry)
        pinned = (read[0], int(read[1][0])) if read is not None and read[1] else None
        return self._visits.save(visit, decide, needs_for, audit, pinned)

    def update_need(
        self,
        month: str,
        village: str,
        need_id: str,
        change: Callable[[Need], AuditEntry | None],
    ) -> Need | None:
        return self._visits.update_need(month, village, need_id, change)

    def import_visits(self, visits: list[Visit], needs: list[Need]) -> None:
        self._visits.import_many(visits, needs)

    # closed months -----------------------------------------------------------------------

    def closed_months(self) -> dict[str, dict[str, Any]]:
        months = self.setting(CLOSED_SETTING) or {}
        return dict(months) if isinstance(months, dict) else {}

    def is_closed(self, month: str) -> bool:
        record = self.closed_months().get(month)
        return isinstance(record, dict) and record.get("state") == "closed"

    def set_month(
        self,
        month: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
        audit: Callable[[dict[str, Any]], list[AuditEntry]],
    ) -> dict[str, Any] | None:
        """As the embedded store's. No drain is needed: the registry change waits, on the
        registry's advisory lock, for every save that began before it."""

        def apply(reg: Registry) -> dict[str, Any] | None:
            months = dict(reg.settings.get(CLOSED_SETTING) or {})
            new = change(months.get(month))
            if new is not None:
                months[month] = new
                reg.settings[CLOSED_SETTING] = months
            return new

        return self.update_registry(apply, lambda new: audit(new) if new is not None else [])

    # small values ------------------------------------------------------------------------

    def secret(self, name: str, make: Callable[[], str]) -> str:
        """A value made once for every server (the generated secret key)."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO secrets (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (name, make()),
            )
            row = conn.execute("SELECT value FROM secrets WHERE name = %s", (name,)).fetchone()
        return str(row[0]) if row else ""

    def snapshot_files(
        self, include_secret: bool, include_photos: bool
    ) -> Iterator[tuple[str, bytes]]:
        raise StorageError("a PostgreSQL store is backed up with pg_dump or migrate-store --from")
