"""What every storage engine offers: the Store's public surface, as a Protocol.

Two engines implement it: the embedded store (``storage.store.Store``, the data folder,
the default) and PostgreSQL (``storage.pg.PgStore``, when ``DATABASE_URL`` is set; see
docs/decisions/0015-postgresql.md). Code above the storage package types its store as
``storage.Store``, which the type checker reads as ``Engine`` (see ``storage/__init__``), so
that it may use only what both engines have.

Nothing here is a path: photos, closed months' files and report files are handed over as
bytes, since on PostgreSQL they live in the database (or a folder every server shares).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from ..models import AuditEntry, Household, LoginSession, Need, User, Visit
from .registry_file import Registry

T = TypeVar("T")


class AuditLogView(Protocol):
    """The audit log (``store.audit_log``): entries by month, only ever appended."""

    def append(self, entry: AuditEntry) -> None: ...

    def months(self) -> list[str]: ...

    def entries(self, month: str) -> list[AuditEntry]: ...

    def read_entries(self, month: str) -> list[AuditEntry]: ...

    def ids(self, month: str) -> set[str]: ...


class PhotoFiles(Protocol):
    """Photos of visits (``store.photos``)."""

    def save(self, month: str, visit_id: str, photo_id: str, full: bytes, thumb: bytes) -> None: ...

    def remove(self, month: str, visit_id: str, photo_id: str) -> None: ...

    def read(self, month: str, visit_id: str, photo_id: str, thumb: bool) -> bytes | None: ...

    def months(self, visit_id: str) -> list[str]: ...


class ClosedMonthFiles(Protocol):
    """What a closed month's report was made from (``store.closed``)."""

    def put(self, month: str, payload: bytes, suffix: str) -> str: ...

    def read(self, month: str, name: str) -> bytes: ...

    def exists(self, month: str, name: str) -> bool: ...


class LoginRecords(Protocol):
    """Browser logins (``store.sessions``)."""

    def all(self) -> dict[str, LoginSession]: ...

    def get(self, digest: str) -> LoginSession | None: ...

    def update(
        self,
        change: Callable[[dict[str, LoginSession]], T],
        audit: Callable[[T], list[AuditEntry]] | None = None,
        phone: str | None = None,  # change touches only this account's (it may see more)
    ) -> T: ...


class ReportFiles(Protocol):
    """Finished background downloads (``store.reports``), by job id; every server of one
    store reaches them."""

    def put(self, name: str, payload: bytes) -> None: ...

    def read(self, name: str) -> bytes | None: ...

    def remove_older(self, cutoff: float, keep: set[str]) -> None: ...


class JobBook(Protocol):
    """Records of background downloads (``store.jobs``; see ``storage.job_book``)."""

    def add(self, doc: dict[str, Any], limit: int) -> tuple[dict[str, Any] | None, bool]: ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def of_owner(self, owner: str) -> list[dict[str, Any]]: ...

    poll_seconds: float | None  # how often a worker looks for jobs queued elsewhere

    def update(self, job_id: str, **fields: Any) -> None: ...

    def claim(
        self, worker: str, kinds: Collection[str], stale_after: float, max_attempts: int
    ) -> dict[str, Any] | None: ...

    def report(self, job_id: str, worker: str, **fields: Any) -> bool: ...

    def forget_older(self, cutoff: float) -> set[str]: ...


class Engine(Protocol):
    """The Store, whatever holds the data. See ``storage/__init__`` for what each does; the
    embedded store's docstrings are the reference for the behaviour both engines keep."""

    @property
    def audit_log(self) -> AuditLogView: ...

    @property
    def photos(self) -> PhotoFiles: ...

    @property
    def closed(self) -> ClosedMonthFiles: ...

    @property
    def sessions(self) -> LoginRecords: ...

    @property
    def reports(self) -> ReportFiles: ...

    @property
    def jobs(self) -> JobBook: ...

    @property
    def location(self) -> str:
        """Where the data is, for people (a folder, or a database without its password)."""
        ...

    def close(self) -> None: ...

    def audit(self, entry: AuditEntry) -> None: ...

    def recover(self) -> tuple[int, int]: ...

    def registry(self) -> Registry: ...

    def update_registry(
        self,
        change: Callable[[Registry], T],
        audit: Callable[[T], list[AuditEntry]] | None = None,
        tables: Collection[str] | None = None,
    ) -> T: ...

    def is_empty(self) -> bool: ...

    def household(self, household_id: str) -> Household | None: ...

    def household_by_token(self, token: str) -> Household | None: ...

    def user(self, phone: str) -> User | None: ...

    def setting(self, key: str, default: Any = None) -> Any: ...

    def finish_moves(self) -> None: ...

    def months(self) -> list[str]: ...

    # Versions, for caches of figures made from the data (``figures.cache``): cheap to ask,
    # equal while nothing they cover changed, whichever process made the change.
    def registry_version(self) -> Hashable: ...

    def visits_version(self, month: str) -> Hashable: ...

    def visits(self, month: str, village: str | None = None) -> list[Visit]: ...

    def visit_by_id(self, visit_id: str) -> Visit | None: ...

    def household_visits(
        self, months: Sequence[str], village: str, household_id: str
    ) -> list[Visit]: ...

    def needs(self, month: str, village: str | None = None) -> list[Need]: ...

    def household_needs(self, village: str, household_id: str) -> list[Need]: ...

    def find_visit(self, month: str, village: str, visit_id: str) -> Visit | None: ...

    def save_visit(
        self,
        visit: Visit,
        decide: Callable[[Visit | None], Visit | None],
        needs_for: Callable[[Visit, list[Need]], list[Need]],
        audit: Callable[[Visit], AuditEntry] | None = None,
    ) -> tuple[Visit, bool]: ...

    def update_need(
        self,
        month: str,
        village: str,
        need_id: str,
        change: Callable[[Need], AuditEntry | None],
    ) -> Need | None: ...

    def import_visits(self, visits: list[Visit], needs: list[Need]) -> None: ...

    def closed_months(self) -> dict[str, dict[str, Any]]: ...

    def is_closed(self, month: str) -> bool: ...

    def set_month(
        self,
        month: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
        audit: Callable[[dict[str, Any]], list[AuditEntry]],
    ) -> dict[str, Any] | None: ...

    def secret(self, name: str, make: Callable[[], str]) -> str: ...

    def snapshot_files(
        self, include_secret: bool, include_photos: bool
    ) -> Iterator[tuple[str, bytes]]: ...
