"""Restoring a backup (see ``backup``) into an empty data folder, within limits that keep a
crafted archive from filling the disk or the memory of the server."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from flask_babel import gettext as _

from .backup import FORMAT_VERSION, MANIFEST, BackupError, allowed_name, check_member, over_limits
from .durable import fsync_dir, make_dirs

# Files the app itself makes in a fresh folder; a folder with only these counts as empty.
_HOUSEKEEPING = {".locks", "secret_key", "exports"}
_CHUNK = 1024 * 1024  # a restore holds one chunk of a member in memory at a time


def is_empty_folder(root: Path) -> bool:
    """Whether ``root`` holds no data: nothing but what the app makes on start."""
    if not root.exists():
        return True
    return all(p.name in _HOUSEKEEPING for p in root.iterdir())


def _safe_name(name: Any) -> str:
    if not isinstance(name, str) or not allowed_name(name):
        raise BackupError(_("备份中有不允许的路径：%(name)s", name=repr(name)))
    return name


class _Sink:
    """Where a member is copied to (shutil.copyfileobj writes each chunk here): counts the
    bytes as they come and hashes them, refusing the member as soon as it is over a limit
    or over its declared size, whatever its header said."""

    def __init__(self, out: IO[bytes], info: zipfile.ZipInfo, source: str) -> None:
        self.out, self.info, self.source = out, info, source
        self.count = 0
        self.hash = hashlib.sha256()

    def write(self, chunk: bytes) -> int:
        self.count += len(chunk)
        reason = over_limits(self.count, self.info.compress_size)
        if reason is not None:
            raise _refused(self.source, self.info.filename, reason)
        if self.count > self.info.file_size:
            raise _size_mismatch(self.source, self.info.filename)
        self.hash.update(chunk)
        return self.out.write(chunk)


def _refused(source: str, name: str, reason: str) -> BackupError:
    return BackupError(
        _(
            "%(file)s：%(name)s %(reason)s，不是正常的备份，拒绝恢复",
            file=source,
            name=name,
            reason=reason,
        )
    )


def _size_mismatch(source: str, name: str) -> BackupError:
    return BackupError(_("%(file)s：%(name)s 的大小与清单不符，备份已损坏", file=source, name=name))


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: IO[bytes], source: str) -> _Sink:
    sink = _Sink(out, info, source)
    with archive.open(info) as member:
        shutil.copyfileobj(member, sink, _CHUNK)
    if sink.count != info.file_size:
        raise _size_mismatch(source, info.filename)
    return sink


def _check_archive(source: Path, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by name, refused from their headers alone (before anything is
    decompressed) when over a limit, duplicated, or overlapping."""
    infos = archive.infolist()
    by_name = {info.filename: info for info in infos}
    if len(by_name) != len(infos):
        raise BackupError(_("%(file)s：同一个文件出现了不止一次，不是正常的备份", file=source.name))
    # Members of a real archive lie one after another; compressed data used by several
    # members (an "overlapping" zip bomb) adds up to more than the file.
    if sum(info.compress_size for info in infos) > source.stat().st_size:
        raise BackupError(_("%(file)s：压缩数据相互重叠，不是正常的备份", file=source.name))
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BackupError(_("%(file)s 不是完整的备份文件", file=source.name))
        reason = over_limits(info.file_size, info.compress_size)
        if reason is not None:
            raise _refused(source.name, info.filename, reason)
    return by_name


def _read_manifest(source: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> Any:
    if info is None:
        raise BackupError(_("%(file)s 不是 fieldvisit 备份：缺少清单", file=source.name))
    buffer = io.BytesIO()
    _copy(archive, info, buffer, source.name)
    manifest = json.loads(buffer.getvalue())
    if not isinstance(manifest, dict) or manifest.get("version") != FORMAT_VERSION:
        raise BackupError(_("%(file)s：不认识的备份版本", file=source.name))
    return manifest


def _unpack(source: Path, staging: Path) -> int:
    """Check the backup and write its files under ``staging``; the number of files."""
    with zipfile.ZipFile(source) as archive:
        by_name = _check_archive(source, archive)
        manifest = _read_manifest(source, archive, by_name.pop(MANIFEST, None))
        listed: dict[str, dict[str, Any]] = {}
        for entry in manifest["files"]:
            name = _safe_name(entry["path"])
            if name in listed or not isinstance(entry["sha256"], str):
                raise BackupError(_("%(file)s 不是完整的备份文件", file=source.name))
            listed[name] = entry
        if set(by_name) != set(listed):
            raise BackupError(_("%(file)s：文件与清单不符，备份可能不完整", file=source.name))
        for name, entry in listed.items():
            if entry["size"] != by_name[name].file_size:
                raise _size_mismatch(source.name, name)
        # Each member is at most its declared size (counted while copying), so this is
        # enough room for all of them.
        needed = sum(info.file_size for info in by_name.values())
        free = shutil.disk_usage(staging).free
        if needed > free:
            mb = 1024 * 1024
            raise BackupError(
                _(
                    "%(file)s：恢复需要 %(size)d MB，磁盘只剩 %(free)d MB",
                    file=source.name,
                    size=needed // mb + 1,
                    free=free // mb,
                )
            )
        for name, entry in listed.items():
            target = staging.joinpath(*name.split("/"))
            if staging not in target.resolve().parents:  # checked by name; the disk decides
                raise BackupError(_("备份中有不允许的路径：%(name)s", name=repr(name)))
            make_dirs(target.parent)
            with target.open("xb") as out:
                sink = _copy(archive, by_name[name], out, source.name)
                out.flush()
                os.fsync(out.fileno())
            if sink.hash.hexdigest() != entry["sha256"]:
                raise BackupError(
                    _("%(file)s：%(name)s 校验失败，备份已损坏", file=source.name, name=name)
                )
            with target.open("rb") as fh:
                check_member(name, fh)
            if name == "secret_key":
                os.chmod(target, 0o600)
    return len(listed)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(FileNotFoundError):
            path.unlink()


def restore_backup(source: Path, root: Path) -> int:
    """Rebuild the empty data folder ``root`` from a backup; returns the number of files.

    The backup is unpacked into a temporary folder beside ``root`` (so on the same disk),
    every member streamed to disk within the limits above, checked against the manifest's
    size and SHA-256 and parsed; only then is it moved into ``root``. A restore that fails
    at any point leaves ``root`` as empty as it was. Files are fsynced before the move and
    the folder after it.
    """
    root = root.resolve()
    if not is_empty_folder(root):
        raise BackupError(
            _("数据目录 %(path)s 不是空的：恢复只能在空目录中进行，请换一个空目录", path=root)
        )
    make_dirs(root.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.restore-", dir=root.parent))
    moved: list[Path] = []
    try:
        try:
            count = _unpack(source, staging)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
            raise BackupError(_("%(file)s 不是完整的备份文件", file=source.name)) from exc
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            # A manifest of the wrong shape, an encrypted member, text that is not JSON.
            raise BackupError(_("%(file)s 不是完整的备份文件", file=source.name)) from exc
        make_dirs(root)
        # The secret key last: it may replace one the app made on start, and everything
        # before it can still be undone by removing it.
        for entry in sorted(staging.iterdir(), key=lambda p: p.name == "secret_key"):
            target = root / entry.name
            moved.append(target)
            os.replace(entry, target)
        fsync_dir(root)
    except BaseException:
        for path in moved:
            _remove(path)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count
