"""Browser logins: sessions.json, one record per logged-in browser.

Kept out of registry.json on purpose: logins and logouts are frequent on the helping day,
and a write here neither rewrites the registry nor makes every process parse it again. Nor
is it in backups: a restored folder starts with everyone logged out, so a cookie ended
before the backup was taken cannot come back to life with it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..models import AuditEntry, LoginSession
from .files import Files, Records

SESSIONS = "sessions.json"
T = TypeVar("T")


def _sessions_of(data: dict[str, Any]) -> dict[str, LoginSession]:
    return {d["digest"]: LoginSession.from_doc(d) for d in data.get("sessions", {}).values()}


class LoginSessions:
    """The login records of one data folder (``Store.sessions``). Records are keyed by the
    digest of the session id the cookie holds; the id itself is never stored."""

    def __init__(self, files: Files, path: Path) -> None:
        self._files = files
        self.path = path  # <data>/sessions.json

    def all(self) -> dict[str, LoginSession]:
        """Every recorded login (cached; read-only)."""
        return self._files.derived(self.path, "sessions", _sessions_of)

    def get(self, digest: str) -> LoginSession | None:
        """The login whose session id has this digest, or None."""
        return self.all().get(digest)

    def update(
        self,
        change: Callable[[dict[str, LoginSession]], T],
        audit: Callable[[T], list[AuditEntry]] | None = None,
        phone: str | None = None,
    ) -> T:
        """Apply ``change`` to a private copy of the records and commit what changed with
        the audit entries ``audit(result)`` gives, in one durable write, under the file's
        lock (nothing is written when ``change`` raises or changes nothing). ``phone`` says
        the change touches only that account's records; the file is one, so ``change`` is
        handed them all (PostgreSQL hands only the account's)."""

        def rows(data: dict[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], T]:
            sessions = _sessions_of(data)
            result = change(sessions)
            return {"sessions": [s.to_doc() for s in sessions.values()]}, result

        def records(result: T) -> Records:
            return [e.to_doc() for e in audit(result)] if audit is not None else []

        return self._files.commit_tables(self.path, {"sessions": "digest"}, rows, records)
