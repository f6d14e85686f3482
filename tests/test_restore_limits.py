"""A restore cannot be turned against the server: a zip bomb, a member larger than its
header says, or a file the app cannot read is refused within bounded memory, and the
target folder is left empty."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from fieldvisit import create_app
from fieldvisit.storage import Store
from fieldvisit.storage.backup import MAX_MEMBER_BYTES, BackupError, write_backup
from fieldvisit.storage.restore import restore_backup

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
BOMB_MB = 400


def _streamed_backup(path: Path, name: str, chunk: bytes, count: int) -> tuple[str, int]:
    """A backup of one member made of ``count`` times ``chunk``, with a manifest that
    matches it (SHA-256 and size computed while writing): built chunk by chunk, so the test
    itself never holds the member in memory. Returns the member's SHA-256 and size."""
    digest, size = hashlib.sha256(), 0
    # The fastest level: still some 200:1 on this data, and a few seconds for 400 MB.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(name, "w") as member:
            for _ in range(count):
                member.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        entry = {"path": name, "sha256": digest.hexdigest(), "size": size}
        manifest = {"version": 1, "created_at": "2026-01-01T00:00:00+08:00", "files": [entry]}
        archive.writestr("manifest.json", json.dumps(manifest))
    return digest.hexdigest(), size


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """registry.json of 400 MB of spaces (valid JSON whitespace, were it followed by an
    object), deflated to some 2 MB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    _streamed_backup(path, "registry.json", b" " * MB, BOMB_MB)
    assert path.stat().st_size < 4 * MB
    return path


def _empty_app(folder: Path) -> Flask:
    return create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "x"})


def _left_empty(target: Path) -> None:
    """Nothing of the backup in ``target`` (only the lock folder the app makes on start),
    and no temporary folder beside it."""
    assert not target.exists() or {p.name for p in target.iterdir()} <= {".locks"}
    assert not any(p.name.startswith(f".{target.name}.") for p in target.parent.iterdir())


def test_a_zip_bomb_is_refused_and_leaves_the_folder_empty(bomb: Path, tmp_path: Path) -> None:
    target = tmp_path / "data"
    result = _empty_app(target).test_cli_runner().invoke(args=["restore", str(bomb)])
    assert result.exit_code != 0
    limit = MAX_MEMBER_BYTES // MB
    assert f"registry.json 超过 {limit} MB，不是正常的备份，拒绝恢复" in result.output
    _left_empty(target)


_CHILD = """
import json, sys
def peak_kb():
    # The peak resident size of this process's own memory. Not getrusage's ru_maxrss: Linux
    # carries the parent's peak across fork and exec, so a child of a grown test worker
    # would report the worker's size.
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
from fieldvisit import create_app
app = create_app({"TESTING": True, "DATA_DIR": sys.argv[1], "SECRET_KEY": "x"})
result = app.test_cli_runner().invoke(args=["restore", sys.argv[2]])
peak_kb = peak_kb()  # KB on Linux
print(json.dumps({"exit": result.exit_code, "output": result.output, "peak_kb": peak_kb}))
"""


def _restore_in_child(target: Path, backup: Path) -> dict[str, Any]:
    """The restore command run in a process of its own, with that process's peak memory."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(target), str(backup)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_bomb_is_refused_in_little_memory(bomb: Path, tmp_path: Path) -> None:
    target = tmp_path / "data"
    child = _restore_in_child(target, bomb)
    assert child["exit"] != 0 and "拒绝恢复" in child["output"]
    assert child["peak_kb"] < 300 * 1024, child  # reading the member whole would take 400 MB
    _left_empty(target)


def _understate(path: Path, name: str, claimed: int) -> None:
    """Rewrite the sizes that ``name``'s local and central headers declare to ``claimed``."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = bytearray(path.read_bytes())
    local = info.header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, claimed)
    central = data.find(b"PK\x01\x02" + data[local + 4 : local + 10])
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, claimed)
    path.write_bytes(bytes(data))


def test_a_member_larger_than_its_header_says_is_refused(tmp_path: Path) -> None:
    """The header's size is not trusted: a member whose headers and manifest claim 1 KB
    but that inflates to 400 MB is cut off at the claimed size and refused, still in
    little memory, and nothing of it is left on the disk."""
    backup = tmp_path / "liar.zip"
    entry = {"path": "registry.json", "sha256": "0" * 64, "size": 1024}
    with zipfile.ZipFile(backup, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        manifest = {"version": 1, "created_at": "2026-01-01T00:00:00+08:00", "files": [entry]}
        archive.writestr("manifest.json", json.dumps(manifest))
        with archive.open("registry.json", "w") as member:
            for _ in range(BOMB_MB):
                member.write(b" " * MB)
    _understate(backup, "registry.json", 1024)
    target = tmp_path / "data"
    child = _restore_in_child(target, backup)
    assert child["exit"] != 0
    assert "liar.zip 不是完整的备份文件" in child["output"]
    assert child["peak_kb"] < 300 * 1024, child
    _left_empty(target)


def test_a_member_that_compresses_too_well_is_refused(tmp_path: Path) -> None:
    """Under the size cap, yet 1000:1: no file the app writes deflates like that."""
    backup = tmp_path / "ratio.zip"
    _streamed_backup(backup, "audit/2026-01.jsonl", b"\n" * MB, 20)
    target = tmp_path / "data"
    with pytest.raises(BackupError, match="压缩比超过 100:1"):
        restore_backup(backup, target)
    _left_empty(target)


def _replace(source: Path, target: Path, name: str, payload: bytes) -> None:
    """A copy of ``source`` with ``name`` holding ``payload`` and a manifest to match."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        manifest = json.loads(old.read("manifest.json"))
        for item in old.namelist():
            if item not in ("manifest.json", name):
                new.writestr(item, old.read(item))
        new.writestr(name, payload)
        entry = {"path": name, "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
        manifest["files"] = [e for e in manifest["files"] if e["path"] != name] + [entry]
        new.writestr("manifest.json", json.dumps(manifest))


@pytest.mark.parametrize(
    ("name", "payload", "said"),
    [
        ("registry.json", b'{"users": {', "registry.json 不是有效的 JSON 数据"),
        ("registry.json", b"[1, 2, 3]", "registry.json 不是有效的 JSON 数据"),
        ("registry.json", b"\xff\xfe garbage", "registry.json 不是有效的 JSON 数据"),
        ("photos/2026-01/visit0001/photo0001.jpg", b"<script>", "不是 JPEG 照片"),
        ("audit/2026-01.jsonl", b'{"at": "x"}\n[1]\n', "audit/2026-01.jsonl 第 2 行不是有效的记录"),
        (
            "visits/2026-01/village-00000000.json.log",
            b'{"journal": "j1"}\n{"ops": [{"op": "rm -rf"}]}\n',
            "第 2 行不是有效的记录",
        ),
    ],
)
def test_a_file_the_app_cannot_read_is_refused_and_leaves_the_folder_empty(
    store: Store, households: Any, tmp_path: Path, name: str, payload: bytes, said: str
) -> None:
    """The manifest matches (right SHA-256 and size): the content itself is checked, after
    the other files were already unpacked, and all of them are removed again."""
    (store.root / "photos" / "2026-01" / "visit0001").mkdir(parents=True)
    photo = store.root / "photos" / "2026-01" / "visit0001" / "photo0001.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 a photo")
    store.secret("secret_key", lambda: "s3cret")
    good = write_backup(store, tmp_path / "good.zip", include_secret=True).path
    bad = tmp_path / "bad.zip"
    _replace(good, bad, name, payload)
    target = tmp_path / "restored"
    app = _empty_app(target)

    result = app.test_cli_runner().invoke(args=["restore", str(bad)])

    assert result.exit_code != 0
    assert said in result.output
    _left_empty(target)
    assert Store(target).registry().households == {}


def test_a_refused_restore_keeps_the_secret_key_the_app_made(tmp_path: Path, bomb: Path) -> None:
    """The folder is "empty" with the key the app made on its first start; a refused
    restore leaves that key as it was."""
    target = tmp_path / "data"
    app = create_app({"TESTING": True, "DATA_DIR": str(target)})
    key = (target / "secret_key").read_bytes()
    result = app.test_cli_runner().invoke(args=["restore", str(bomb)])
    assert result.exit_code != 0
    assert (target / "secret_key").read_bytes() == key
    assert {p.name for p in target.iterdir()} == {".locks", "secret_key"}


def test_a_good_backup_still_restores_whole(store: Store, households: Any, tmp_path: Path) -> None:
    store.secret("secret_key", lambda: "s3cret")
    good = write_backup(store, tmp_path / "good.zip", include_secret=True).path
    target = tmp_path / "restored"
    result = _empty_app(target).test_cli_runner().invoke(args=["restore", str(good)])
    assert result.exit_code == 0, result.output
    assert Store(target).registry().households.keys() == store.registry().households.keys()
    assert (target / "secret_key").stat().st_mode & 0o777 == 0o600
    assert not any(p.name.startswith(".restored.") for p in tmp_path.iterdir())


def test_overlapping_and_repeated_members_are_refused(tmp_path: Path) -> None:
    backup = tmp_path / "twice.zip"
    with zipfile.ZipFile(backup, "w") as archive, pytest.warns(UserWarning):
        archive.writestr("registry.json", b"{}")
        archive.writestr("registry.json", b"{}")
    with pytest.raises(BackupError, match="不止一次"):
        restore_backup(backup, tmp_path / "data")
    _left_empty(tmp_path / "data")
