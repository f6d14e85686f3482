"""Copying a whole store from one engine to the other (``migrate-store``): a data folder into
an empty PostgreSQL database, or a database into an empty data folder (which doubles as a
portable backup: ``backup`` zips it).

Copied: the registry (every table), visits and needs (each under the month it is filed in),
the audit log, photos, closed months' files and the generated secret key. Not copied: login
records (everyone logs in again, as after a restore), background downloads (made again on
demand). The copy is checked by counting each kind of record on both sides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from ..models import AuditEntry
from .engine import Engine
from .registry_file import Registry, registry_rows
from .store import Store

# What is counted on both sides, in the order it is printed.
KINDS = ("registry", "visits", "needs", "audit", "photos", "closed")


class MigrationError(Exception):
    """The target is not empty, or the copy does not match the source."""


def is_blank(store: Engine) -> bool:
    """No registry, no visits, no audit entries: a target a copy may fill."""
    return store.is_empty() and not store.months() and not store.audit_log.months()


def photo_items(store: Engine) -> Iterator[tuple[str, str, str, bool]]:
    """(month, visit id, photo id, thumbnail?) of every stored photo file."""
    if isinstance(store, Store):
        for path in store.photos.files():
            rel = path.relative_to(store.photos.folder).parts  # month, visit, file
            name = rel[2].removesuffix(".jpg")
            thumb = name.endswith(".thumb")
            yield rel[0], rel[1], name.removesuffix(".thumb"), thumb
        return
    from .pg.migrate import pg_photo_items

    yield from pg_photo_items(store)


def closed_items(store: Engine) -> Iterator[tuple[str, str]]:
    """(month, name) of every closed month's file."""
    if isinstance(store, Store):
        for path in store.closed.files():
            yield path.parent.name, path.name
        return
    from .pg.migrate import pg_closed_items

    yield from pg_closed_items(store)


def counts(store: Engine) -> dict[str, int]:
    """How many records of each kind ``store`` holds."""
    reg = store.registry()
    months = store.months()
    return {
        "registry": sum(len(rows) for t, rows in registry_rows(reg).items() if t != "moves"),
        "visits": sum(len(store.visits(m)) for m in months),
        "needs": sum(len(store.needs(m)) for m in months),
        "audit": sum(len(store.audit_log.read_entries(m)) for m in store.audit_log.months()),
        "photos": sum(1 for _ in photo_items(store)),
        "closed": sum(1 for _ in closed_items(store)),
    }


def _copy_registry(source: Engine, target: Engine) -> None:
    src = source.registry()

    def fill(reg: Registry) -> None:
        for f in dataclasses.fields(Registry):
            if f.name not in ("moves", "by_token"):
                setattr(reg, f.name, getattr(Registry.from_data(_raw(src)), f.name))

    target.update_registry(fill)


def _raw(reg: Registry) -> dict[str, Any]:
    return {t: dict(enumerate(rows)) for t, rows in registry_rows(reg).items()}


def _copy_audit(source: Engine, target: Engine) -> None:
    for month in source.audit_log.months():
        entries: list[AuditEntry] = source.audit_log.read_entries(month)
        if isinstance(target, Store):
            docs: list[dict[str, object]] = [e.to_doc() for e in entries]
            target.audit_log.copy(docs)
            target.audit_log.sync(docs)
        else:
            from .pg.audit import insert_audit
            from .pg.store import PgStore

            assert isinstance(target, PgStore)
            with target.db.transaction() as conn:
                insert_audit(conn, entries)


def copy_store(source: Engine, target: Engine) -> dict[str, tuple[int, int]]:
    """Copy everything of ``source`` into the blank ``target``; returns each kind's count
    in the source and the target. Raises MigrationError when the target is not blank or
    the counts differ."""
    if not is_blank(target):
        raise MigrationError("target")
    source.finish_moves()
    _copy_registry(source, target)
    for month in source.months():
        target.import_visits(source.visits(month), source.needs(month))
    _copy_audit(source, target)
    for month, visit_id, photo_id, thumb in photo_items(source):
        if thumb:
            continue  # saved with its photo
        full = source.photos.read(month, visit_id, photo_id, False)
        small = source.photos.read(month, visit_id, photo_id, True)
        if full is not None and small is not None:
            target.photos.save(month, visit_id, photo_id, full, small)
    for month, name in closed_items(source):
        target.closed.put(month, source.closed.read(month, name), name.rsplit(".", 1)[1])
    secret = source.secret("secret_key", lambda: "")
    if secret:
        target.secret("secret_key", lambda: secret)
    before, after = counts(source), counts(target)
    result = {kind: (before[kind], after[kind]) for kind in KINDS}
    if before != after:
        raise MigrationError(str(result))
    return result


def migrate_folder(folder: Engine, url: str, to_database: bool) -> tuple[str, dict[str, Any]]:
    """Copy the data folder store ``folder`` into the PostgreSQL database ``url`` (or the
    other way when not ``to_database``); returns where it went and the counts."""
    from .pg import PgStore

    if not isinstance(folder, Store):
        raise MigrationError("source")
    database = PgStore(url, pool_size=2)
    try:
        source, target = (folder, database) if to_database else (database, folder)
        if not is_blank(target):
            raise MigrationError("target")
        return target.location, copy_store(source, target)
    finally:
        database.close()
