"""Backups of the data folder as one zip file, taken while the server keeps serving, and
their restoration into an empty folder.

A backup holds each data file as it was at one moment (with its journal: see
``Store.snapshot_files``), a ``manifest.json`` listing every file with its SHA-256, and is
itself written atomically, so a backup file that exists is a whole one. The secret key is
left out unless asked for: whoever holds it can forge logins.

The daily backup (``run.py`` starts it when ``FIELDVISIT_BACKUP_DIR`` is set) writes
``fieldvisit-YYYYMMDD.zip`` once a day and keeps the newest ``FIELDVISIT_BACKUP_KEEP``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import zipfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

from flask_babel import gettext as _

from .clock import now_iso
from .storage import Store, atomic_write_bytes, make_dirs

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# What a backup may hold, and so all a restore will write: nothing else in the folder.
_ALLOWED = re.compile(
    r"^(registry\.json(\.log)?"
    r"|visits/\d{4}-\d{2}/[^/]+\.json(\.log)?"
    r"|audit/\d{4}-\d{2}\.jsonl"
    r"|photos/\d{4}-\d{2}/[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9_.-]*\.jpg"
    r"|secret_key)$"
)
DAILY_NAME = re.compile(r"^fieldvisit-(\d{8})\.zip$")
# Files the app itself makes in a fresh folder; a folder with only these counts as empty.
_HOUSEKEEPING = {".locks", "secret_key", "exports"}


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why, for the operator."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    files: int
    size: int


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_backup(
    store: Store, out: Path, include_secret: bool = False, include_photos: bool = True
) -> BackupInfo:
    """Write a backup of ``store`` to ``out``: a temporary file in the same folder,
    fsynced, then renamed, so ``out`` is either the old file or a complete new one."""
    out = out.resolve()
    make_dirs(out.parent)
    entries: list[dict[str, Any]] = []
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, payload in store.snapshot_files(include_secret, include_photos):
                    # JPEGs are compressed already: store them as they are.
                    kind = zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
                    archive.writestr(name, payload, compress_type=kind)
                    entries.append({"path": name, "sha256": _sha256(payload), "size": len(payload)})
                manifest = {"version": FORMAT_VERSION, "created_at": now_iso(), "files": entries}
                archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return BackupInfo(out, len(entries), out.stat().st_size)


def is_empty_folder(root: Path) -> bool:
    """Whether ``root`` holds no data: nothing but what the app makes on start."""
    if not root.exists():
        return True
    return all(p.name in _HOUSEKEEPING for p in root.iterdir())


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if (
        path.is_absolute()
        or "\\" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
        or not _ALLOWED.match(name)
    ):
        raise BackupError(_("备份中有不允许的路径：%(name)s", name=repr(name)))
    return name


def read_backup(source: Path) -> dict[str, bytes]:
    """The files of a backup, checked against its manifest. Raises BackupError."""
    try:
        with zipfile.ZipFile(source) as archive:
            try:
                manifest = json.loads(archive.read(MANIFEST))
            except KeyError:
                raise BackupError(
                    _("%(file)s 不是 fieldvisit 备份：缺少清单", file=source.name)
                ) from None
            if manifest.get("version") != FORMAT_VERSION:
                raise BackupError(_("%(file)s：不认识的备份版本", file=source.name))
            listed = {_safe_name(e["path"]): e for e in manifest["files"]}
            names = {n for n in archive.namelist() if n != MANIFEST}
            if names != set(listed):
                raise BackupError(_("%(file)s：文件与清单不符，备份可能不完整", file=source.name))
            files: dict[str, bytes] = {}
            for name, entry in listed.items():
                payload = archive.read(name)
                if _sha256(payload) != entry["sha256"]:
                    raise BackupError(
                        _("%(file)s：%(name)s 校验失败，备份已损坏", file=source.name, name=name)
                    )
                files[name] = payload
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError) as exc:
        raise BackupError(_("%(file)s 不是完整的备份文件", file=source.name)) from exc
    return files


def restore_backup(source: Path, root: Path) -> int:
    """Rebuild the empty data folder ``root`` from a backup; returns the number of files.

    Everything is checked before anything is written. Each file is written durably
    (temporary file, fsync, rename, fsync of its folder).
    """
    root = root.resolve()
    if not is_empty_folder(root):
        raise BackupError(
            _("数据目录 %(path)s 不是空的：恢复只能在空目录中进行，请换一个空目录", path=root)
        )
    files = read_backup(source)
    for name, payload in files.items():
        target = (root / name).resolve()
        if root not in target.parents:  # checked by name already; the file system decides
            raise BackupError(_("备份中有不允许的路径：%(name)s", name=repr(name)))
        atomic_write_bytes(target, payload)
        if name == "secret_key":
            os.chmod(target, 0o600)
    return len(files)


# --- the daily backup -------------------------------------------------------------------


def daily_name(today: date) -> str:
    return f"fieldvisit-{today:%Y%m%d}.zip"


def backup_due(folder: Path, today: date) -> bool:
    """Whether today's daily backup is still to be written."""
    return not (folder / daily_name(today)).is_file()


def rotate(folder: Path, keep: int) -> list[Path]:
    """Delete the oldest daily backups beyond ``keep``; returns those deleted. Other files
    in the folder are left alone."""
    if not folder.is_dir():
        return []
    daily = sorted(p for p in folder.iterdir() if DAILY_NAME.match(p.name))
    doomed = daily[: max(0, len(daily) - keep)]
    for path in doomed:
        with suppress(FileNotFoundError):
            path.unlink()
    return doomed


def run_daily(store: Store, folder: Path, keep: int, today: date | None = None) -> Path | None:
    """Write today's backup if it is due, then rotate; the new file, or None."""
    today = today or date.today()
    written = None
    if backup_due(folder, today):
        written = write_backup(store, folder / daily_name(today)).path
    rotate(folder, keep)
    return written


def start_daily(
    store: Store,
    folder: Path,
    keep: int,
    every_seconds: float = 600,
    report: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> threading.Thread:
    """A daemon thread that checks every ``every_seconds`` whether today's backup is due.

    Checking often (rather than sleeping until midnight) means a server started late, or
    a machine woken from sleep, still gets its backup the same day. A failed backup is
    reported and tried again at the next check. Setting ``stop`` ends the thread.
    """
    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                written = run_daily(store, folder, keep)
                if written is not None:
                    report(f"backup written: {written}")
            except Exception as exc:  # a full disk must not stop the server
                report(f"backup failed: {exc}")
            stop.wait(every_seconds)

    thread = threading.Thread(target=loop, name="fieldvisit-daily-backup", daemon=True)
    thread.start()
    return thread
