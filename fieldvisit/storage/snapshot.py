"""What a backup takes from a data folder, and in which order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .audit_log import AuditLog
from .closed import ClosedFiles
from .files import Files
from .journal import journal_path
from .paths import REGISTRY
from .photos import Photos
from .visit_files import VisitFiles


@dataclass(frozen=True)
class Folder:
    """The parts of one data folder a snapshot reads."""

    root: Path
    files: Files
    visit_files: VisitFiles
    audit_log: AuditLog
    photos: Photos
    closed: ClosedFiles


def snapshot_files(
    folder: Folder, include_secret: bool, include_photos: bool
) -> Iterator[tuple[str, bytes]]:
    """Every data file as (path relative to the folder, content), each from one moment.

    A JSON data file and its journal are read together under the file's lock, so the pair
    is consistent; that per-file consistency is what this module promises (there is no
    moment at which the whole folder is frozen). The order keeps references whole: closed
    months' files and visit files first, then the registry, so every visit and every closed
    month in the snapshot is named by a registry that has it (households are never removed;
    closed files are written before the registry names them); photos last, so every photo a
    visit lists is there (photo files are written before the visit names them, and never
    changed). Audit logs are cut after their last complete line; entries a backup taken
    mid-change lacks are copied from the journals when the restored folder starts
    (``storage.recovery``). Lock files, temporary files, login records, the visit-id index
    (rebuilt on start) and report files (``exports/``, made again on demand) are left out.
    """
    root = folder.root
    for path in folder.closed.files():
        yield path.relative_to(root).as_posix(), path.read_bytes()
    paths: list[Path] = []
    for month in folder.visit_files.months():
        paths.extend(folder.visit_files.of_month(month))
    paths.append(root / REGISTRY)
    for path in paths:
        with folder.files.locked(path):
            pair = [path, journal_path(path)]
            found = [(p, p.read_bytes()) for p in pair if p.exists()]
        for p, payload in found:
            yield p.relative_to(root).as_posix(), payload
    for month in folder.audit_log.months():
        path = folder.audit_log.path(month)
        raw = path.read_bytes()
        yield path.relative_to(root).as_posix(), raw[: raw.rfind(b"\n") + 1]
    if include_photos:
        for photo in sorted(folder.photos.files()):
            yield photo.relative_to(root).as_posix(), photo.read_bytes()
    secret = root / "secret_key"
    if include_secret and secret.is_file():
        yield "secret_key", secret.read_bytes()


def backed_up_paths(folder: Folder) -> Iterator[Path]:
    """The files ``snapshot_files`` would take (photos included), without reading them;
    the registry and the secret key have fixed names and are left out."""
    for month in folder.visit_files.months():
        for path in folder.visit_files.of_month(month):
            yield from (p for p in (path, journal_path(path)) if p.exists())
    for month in folder.audit_log.months():
        yield folder.audit_log.path(month)
    yield from folder.photos.files()
    yield from folder.closed.files()
