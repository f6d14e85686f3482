"""What ``storage.migrate`` lists of a PostgreSQL store: its photos and closed files."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine import Engine
from .store import PgStore


def _files(store: Engine, kind: str) -> list[tuple[str, str]]:
    assert isinstance(store, PgStore)
    with store.db.connection() as conn:
        rows = conn.execute(
            "SELECT month, name FROM files WHERE kind = %s ORDER BY month, name", (kind,)
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def pg_photo_items(store: Engine) -> Iterator[tuple[str, str, str, bool]]:
    for month, name in _files(store, "photo"):
        visit_id, file = name.split("/", 1)
        stem = file.removesuffix(".jpg")
        yield month, visit_id, stem.removesuffix(".thumb"), stem.endswith(".thumb")


def pg_closed_items(store: Engine) -> Iterator[tuple[str, str]]:
    yield from _files(store, "closed")
