"""Backups of the data folder as one zip file, taken while the server keeps serving; their
restoration into an empty folder is ``restore``'s.

A backup holds each data file as it was at one moment (with its journal: see
``Store.snapshot_files``), a ``manifest.json`` listing every file with its SHA-256, and is
itself written atomically, so a backup file that exists is a whole one. The secret key is
left out unless asked for: whoever holds it can forge logins.

The daily backup (``run.py`` starts it when ``FIELDVISIT_BACKUP_DIR`` is set) writes
``fieldvisit-YYYYMMDD.zip`` once a day and keeps the newest ``FIELDVISIT_BACKUP_KEEP``.
"""

from __future__ import annotations

import hashlib
import io
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
from typing import IO, Any

from flask_babel import gettext as _

from ..clock import now_iso
from ..months import MONTH_PATTERN
from .durable import fsync_dir, make_dirs
from .paths import ID_PATTERN
from .store import Store

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# What a backup may hold, and so all a restore will write: nothing else in the folder. Matched
# against the whole name (fullmatch): with ``$`` a name ending in a newline would pass. Months
# are the store's (YYYY-MM, 01-12); photo folders and files are visit and photo ids (as
# PHOTO_ID_RE) with the names Photos.save gives them; a visit file is named by
# village_file_name (no slash, no leading dot). Control characters are refused by
# allowed_name on top of this.
_MONTH = MONTH_PATTERN
_ID = ID_PATTERN
_ALLOWED = re.compile(
    r"registry\.json(?:\.log)?"
    rf"|visits/{_MONTH}/[^/.][^/]*\.json(?:\.log)?"
    rf"|audit/{_MONTH}\.jsonl"
    rf"|photos/{_MONTH}/{_ID}/{_ID}(?:\.thumb)?\.jpg"
    r"|secret_key"
    rf"|closed/{_MONTH}/[0-9a-f]{{64}}\.(?:json|pdf)"
)
DAILY_NAME = re.compile(r"fieldvisit-([0-9]{8})\.zip")  # used with fullmatch

# Limits of a restore, so that a crafted archive cannot fill the disk or the memory of the
# server (a zip bomb). Real data folders stay far below them: registry.json of a county's
# 15,000 households is a few tens of MB, a village's month of visits well under 1 MB, a
# month's audit log some tens of MB, a photo a few MB (uploads are capped by MAX_UPLOAD_MB
# and re-encoded); the manifest lists ~200 bytes a file, so the cap holds over a million
# files. JSON written by the app deflates some 5 to 15 times; photos are stored as they are.
# A backup that would break a limit is refused when it is written, never only on restore.
MAX_MEMBER_BYTES = 256 * 1024 * 1024
MAX_RATIO = 100  # uncompressed bytes per compressed byte ...
RATIO_FLOOR = 1024 * 1024  # ... checked above this size: tiny files may compress very well
_JPEG_MAGIC = b"\xff\xd8\xff"


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why, for the operator."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    files: int
    size: int


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def allowed_name(name: str) -> bool:
    """Whether a backup may hold a file of this name (relative to the data folder, with
    ``/``): what ``write_backup`` writes and the only names ``restore_backup`` accepts. The
    store's start-up check uses it too, to move aside files a backup could not hold."""
    return (
        name.isprintable()  # no newline, tab, other control or invisible format character
        and "\\" not in name
        and not PurePosixPath(name).is_absolute()
        and all(part not in ("", ".", "..") for part in name.split("/"))
        and _ALLOWED.fullmatch(name) is not None
    )


def over_limits(size: int, compressed: int) -> str | None:
    """Why a member of ``size`` bytes, ``compressed`` in the archive, is refused, or None."""
    if size > MAX_MEMBER_BYTES:
        return _("超过 %(limit)d MB", limit=MAX_MEMBER_BYTES // (1024 * 1024))
    if size > RATIO_FLOOR and size > MAX_RATIO * max(compressed, 1):
        return _("压缩比超过 %(ratio)d:1", ratio=MAX_RATIO)
    return None


# --- what each file must hold -----------------------------------------------------------
# The checks read a file as the app's own readers do, and are as lenient as they are (a
# journal's or audit log's line torn by a crash is skipped by them, so it is accepted here):
# a backup of a working folder always passes, and a restored folder is one the app can read.


def _check_journal(name: str, fh: IO[bytes]) -> None:
    """A journal as storage.journal reads it: a header line naming it, then changes. The
    reader stops at the first line that is not JSON (a torn write), so this does too."""
    header = True
    for number, line in enumerate(fh, start=1):
        if not line.endswith(b"\n"):
            break  # a torn tail: cut off by the next writer
        try:
            item = json.loads(line)
        except ValueError:
            break
        if header:
            if not (isinstance(item, dict) and isinstance(item.get("journal"), str)):
                break  # no usable journal: the reader ignores all of it
            header = False
            continue
        ops = item.get("ops") if isinstance(item, dict) else None
        if (
            not isinstance(ops, list)
            or not all(
                isinstance(op, dict)
                and isinstance(op.get("table"), str)
                and (
                    (
                        op.get("op") == "put"
                        and isinstance(op.get("doc"), dict)
                        and isinstance(op.get("key", "id"), str)
                        and op.get("key", "id") in op["doc"]
                    )
                    or (op.get("op") == "drop" and isinstance(op.get("where"), dict))
                )
                for op in ops
            )
            or not isinstance(item.get("audit", []), list)
        ):
            raise BackupError(_("%(name)s 第 %(line)d 行不是有效的记录", name=name, line=number))


def _check_audit(name: str, fh: IO[bytes]) -> None:
    """An audit log: the reader skips a line that is not JSON (cut short by a crash), but
    one that is must be an entry."""
    for number, line in enumerate(fh, start=1):
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            raise BackupError(_("%(name)s 第 %(line)d 行不是有效的记录", name=name, line=number))


def check_member(name: str, fh: IO[bytes]) -> None:
    """Raise BackupError unless the content of the data file ``name`` (an allowed name)
    is what the app can read: JSON files an object, journals and audit logs lines of
    records, photos JPEG files, the secret key not empty."""
    if name.endswith(".json"):
        raw = fh.read()
        try:
            data = json.loads(raw) if raw else {}  # an empty file reads as no data
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise BackupError(_("%(name)s 不是有效的 JSON 数据", name=name))
    elif name.endswith(".json.log"):
        _check_journal(name, fh)
    elif name.endswith(".jsonl"):
        _check_audit(name, fh)
    elif name.endswith(".pdf"):
        if fh.read(5) != b"%PDF-":
            raise BackupError(_("%(name)s 不是 PDF 文件", name=name))
    elif name.endswith(".jpg"):
        if fh.read(len(_JPEG_MAGIC)) != _JPEG_MAGIC:
            raise BackupError(_("%(name)s 不是 JPEG 照片", name=name))
    elif name == "secret_key" and not fh.read(4096).strip():
        raise BackupError(_("%(name)s 是空的", name=name))


# --- writing ----------------------------------------------------------------------------


def write_backup(
    store: Store, out: Path, include_secret: bool = False, include_photos: bool = True
) -> BackupInfo:
    """Write a backup of ``store`` to ``out``: a temporary file in the same folder,
    fsynced, then renamed, so ``out`` is either the old file or a complete new one.

    Each file is held to exactly what ``restore_backup`` accepts (its name, its content,
    the limits); one that is not stops the backup with a BackupError naming it, and no
    archive is left: a backup that cannot be restored is worse than none, since it is
    found out only when it is needed.
    """
    out = out.resolve()
    make_dirs(out.parent)
    entries: list[dict[str, Any]] = []
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, payload in store.snapshot_files(include_secret, include_photos):
                    if not allowed_name(name):
                        raise BackupError(
                            _(
                                "无法备份：数据目录中的 %(name)s 文件名不合规，恢复时会被拒绝；"
                                "重新启动程序会把它移到数据目录的 quarantine 文件夹",
                                name=repr(name),
                            )
                        )
                    try:
                        check_member(name, io.BytesIO(payload))
                    except BackupError as exc:
                        raise BackupError(_("无法备份：%(reason)s", reason=exc)) from None
                    # JPEGs are compressed already: store them as they are.
                    kind = zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
                    archive.writestr(name, payload, compress_type=kind)
                    _check_written(archive, name)
                    entries.append({"path": name, "sha256": _sha256(payload), "size": len(payload)})
                manifest = {"version": FORMAT_VERSION, "created_at": now_iso(), "files": entries}
                archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
                _check_written(archive, MANIFEST)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(out.parent)
    return BackupInfo(out, len(entries), out.stat().st_size)


def _check_written(archive: zipfile.ZipFile, name: str) -> None:
    info = archive.getinfo(name)
    reason = over_limits(info.file_size, info.compress_size)
    if reason is not None:
        raise BackupError(_("无法备份：%(name)s %(reason)s", name=name, reason=reason))


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
    daily = sorted(p for p in folder.iterdir() if DAILY_NAME.fullmatch(p.name))
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
