"""Photos, closed months' files and report files kept in the database (``files``, bytea),
so that every server reaches them. With ``SHARED_DIR`` set they are kept in that folder
instead, by the embedded store's own classes (see ``PgStore``).

A photo is written once and never changed; a thumbnail is written with its photo in one
transaction, so a photo listed in a visit always has both.
"""

from __future__ import annotations

import hashlib

from ..closed import _FILE_RE as CLOSED_NAME_RE
from ..journal import StorageError
from ..paths import PHOTO_ID_RE, check_month
from ..reports import check_name
from .db import Database

UPSERT = (
    "INSERT INTO files (kind, month, name, data) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (kind, month, name) DO UPDATE SET data = EXCLUDED.data,"
    " created = EXCLUDED.created"
)


def _photo_names(visit_id: str, photo_id: str) -> tuple[str, str]:
    if not PHOTO_ID_RE.match(visit_id) or not PHOTO_ID_RE.match(photo_id):
        raise StorageError(f"bad photo or visit id {visit_id!r}/{photo_id!r}")
    return f"{visit_id}/{photo_id}.jpg", f"{visit_id}/{photo_id}.thumb.jpg"


class PgPhotos:
    """Photos of visits in the database (``store.photos``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, month: str, visit_id: str, photo_id: str, full: bytes, thumb: bytes) -> None:
        full_name, thumb_name = _photo_names(visit_id, photo_id)
        with self.db.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                UPSERT,
                [
                    ("photo", check_month(month), thumb_name, thumb),
                    ("photo", month, full_name, full),
                ],
            )

    def remove(self, month: str, visit_id: str, photo_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM files WHERE kind = 'photo' AND month = %s AND name = ANY(%s)",
                (check_month(month), list(_photo_names(visit_id, photo_id))),
            )

    def read(self, month: str, visit_id: str, photo_id: str, thumb: bool) -> bytes | None:
        if not PHOTO_ID_RE.match(photo_id) or not PHOTO_ID_RE.match(visit_id):
            return None
        full_name, thumb_name = _photo_names(visit_id, photo_id)
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT data FROM files WHERE kind = 'photo' AND month = %s AND name = %s",
                (check_month(month), thumb_name if thumb else full_name),
            ).fetchone()
        return bytes(row[0]) if row else None

    def months(self, visit_id: str) -> list[str]:
        """Months (newest first) that hold photos of this visit id."""
        if not PHOTO_ID_RE.match(visit_id):
            return []
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT month FROM files WHERE kind = 'photo' AND name LIKE %s"
                " ORDER BY month DESC",
                (visit_id + "/%",),
            ).fetchall()
        return [r[0] for r in rows]


class PgClosedFiles:
    """Closed months' files in the database (``store.closed``): named by their SHA-256."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, month: str, payload: bytes, suffix: str) -> str:
        name = f"{hashlib.sha256(payload).hexdigest()}.{suffix}"
        if not CLOSED_NAME_RE.match(name):
            raise StorageError(f"bad closed-month file suffix {suffix!r}")
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO files (kind, month, name, data) VALUES ('closed', %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (check_month(month), name, payload),
            )
        return name

    def _row(self, month: str, name: str) -> bytes | None:
        if not CLOSED_NAME_RE.match(name):
            raise StorageError(f"bad closed-month file name {name!r}")
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT data FROM files WHERE kind = 'closed' AND month = %s AND name = %s",
                (check_month(month), name),
            ).fetchone()
        return bytes(row[0]) if row else None

    def read(self, month: str, name: str) -> bytes:
        data = self._row(month, name)
        if data is None:
            raise FileNotFoundError(f"closed/{month}/{name}")
        return data

    def exists(self, month: str, name: str) -> bool:
        return CLOSED_NAME_RE.match(name) is not None and self._row(month, name) is not None


class PgReports:
    """Finished background downloads in the database (``store.reports``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, name: str, payload: bytes) -> None:
        with self.db.transaction() as conn:
            conn.execute(UPSERT, ("report", "", check_name(name), payload))

    def read(self, name: str) -> bytes | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT data FROM files WHERE kind = 'report' AND month = '' AND name = %s",
                (check_name(name),),
            ).fetchone()
        return bytes(row[0]) if row else None

    def remove_older(self, cutoff: float, keep: set[str]) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM files WHERE kind = 'report' AND created < %s AND NOT name = ANY(%s)",
                (cutoff, sorted(keep)),
            )
