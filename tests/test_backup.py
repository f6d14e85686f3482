"""Backups: a consistent snapshot while visits keep arriving, restored into an empty folder."""

from __future__ import annotations

import json
import threading
import uuid
import zipfile
from datetime import date
from pathlib import Path

import pytest
from helpers import visit_payload

from fieldvisit.demo import build_demo
from fieldvisit.storage import Store
from fieldvisit.storage.backup import (
    BackupError,
    backup_due,
    daily_name,
    rotate,
    run_daily,
    write_backup,
)
from fieldvisit.storage.restore import restore_backup
from fieldvisit.visits.recording import record_visit

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"  # how every JPEG file starts


def _saver(app, store: Store, acknowledged: list[str], stop: threading.Event) -> threading.Thread:
    """Keeps saving visits through the domain function, as helpers do on the helping day."""
    reg = store.registry()
    pairs = [(h, reg.users[h.helpers[0]]) for h in reg.households.values() if h.helpers]

    def loop() -> None:
        with app.app_context():
            for household, helper in pairs:
                if stop.is_set():
                    break
                payload = visit_payload(household, id=str(uuid.uuid4()), needs=[])
                stored, _created = record_visit(store, payload, helper)
                acknowledged.append(stored.id)

    return threading.Thread(target=loop, daemon=True)


def _everything(store: Store) -> dict[str, dict]:
    months = store.months()
    return {
        "households": {k: h.to_doc() for k, h in store.registry().households.items()},
        "users": {k: u.to_doc() for k, u in store.registry().users.items()},
        "visits": {v.id: v.to_doc() for m in months for v in store.visits(m)},
        "needs": {n.id: n.to_doc() for m in months for n in store.needs(m)},
    }


def test_a_backup_taken_while_saving_restores_whole(app, store, tmp_path):
    build_demo(store, months=2)
    acknowledged: list[str] = []
    stop = threading.Event()
    saver = _saver(app, store, acknowledged, stop)
    saver.start()
    while len(acknowledged) < 20:  # the backup starts in the middle of a busy morning
        threading.Event().wait(0.01)
    before_backup = set(acknowledged)
    out = tmp_path / "backups" / "snapshot.zip"
    info = write_backup(store, out)
    stop.set()
    saver.join(30)
    assert info.path == out and out.is_file()

    restored = Store(tmp_path / "restored")
    assert restore_backup(out, restored.root) == info.files
    source, copy = _everything(store), _everything(restored)
    assert copy["households"] == source["households"]
    assert copy["users"] == source["users"]
    assert set(copy["visits"]) >= before_backup  # every acknowledged save is there
    for visit_id, doc in copy["visits"].items():  # and every visit there is whole
        assert doc == source["visits"][visit_id]
    assert {k: source["needs"][k] for k in copy["needs"]} == copy["needs"]
    assert all(doc["household"] in copy["households"] for doc in copy["visits"].values())
    demo_needs = {k for k, n in source["needs"].items() if n["raised_by"]}
    assert demo_needs <= set(copy["needs"])
    assert restored.audit_log.months() == store.audit_log.months()


def test_the_secret_key_and_photos_go_in_only_when_asked(store, households, tmp_path):
    (store.root / "photos" / "2026-01" / "visit0001").mkdir(parents=True)
    (store.root / "photos" / "2026-01" / "visit0001" / "photo0001.jpg").write_bytes(JPEG)
    store.secret("secret_key", lambda: "s3cret")
    plain = write_backup(store, tmp_path / "plain.zip", include_photos=False).path
    full = write_backup(store, tmp_path / "full.zip", include_secret=True).path
    plain_names = zipfile.ZipFile(plain).namelist()
    full_names = zipfile.ZipFile(full).namelist()
    assert "secret_key" not in plain_names and "secret_key" in full_names
    assert not any(n.startswith("photos/") for n in plain_names)
    assert "photos/2026-01/visit0001/photo0001.jpg" in full_names
    manifest = json.loads(zipfile.ZipFile(full).read("manifest.json"))
    assert manifest["version"] == 1 and manifest["created_at"]
    assert {f["path"] for f in manifest["files"]} == set(full_names) - {"manifest.json"}
    assert not any(n.startswith(".locks") for n in full_names)


def test_cli_backs_up_and_refuses_to_restore_over_data(runner, store, households, tmp_path):
    out = tmp_path / "b.zip"
    result = runner.invoke(args=["backup", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    result = runner.invoke(args=["restore", str(out)])
    assert result.exit_code != 0
    assert "不是空的" in result.output
    # The folder is as it was.
    assert set(store.registry().households) == {h.id for h in households.values()}


def test_cli_restores_into_an_empty_folder(runner, store, households, tmp_path):
    out = tmp_path / "b.zip"
    assert runner.invoke(args=["backup", "--out", str(out)]).exit_code == 0
    from fieldvisit import create_app

    empty = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "new")})
    result = empty.test_cli_runner().invoke(args=["restore", str(out)])
    assert result.exit_code == 0, result.output
    assert set(Store(tmp_path / "new").registry().households) == set(store.registry().households)


def _tamper(source: Path, target: Path, name: str, payload: bytes, listed: bool) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        manifest = json.loads(old.read("manifest.json"))
        for item in old.namelist():
            if item != "manifest.json" and item != name:
                new.writestr(item, old.read(item))
        new.writestr(name, payload)
        if listed:
            import hashlib

            sha = hashlib.sha256(payload).hexdigest()
            manifest["files"].append({"path": name, "sha256": sha, "size": len(payload)})
        new.writestr("manifest.json", json.dumps(manifest))


@pytest.mark.parametrize(
    ("name", "listed"),
    [("../escape.json", True), ("/etc/passwd", True), ("visits/../../x.json", True),
     ("registry.json", False)],
)  # fmt: skip
def test_restore_refuses_an_unsafe_or_damaged_backup(store, households, tmp_path, name, listed):
    good = write_backup(store, tmp_path / "good.zip").path
    bad = tmp_path / "bad.zip"
    _tamper(good, bad, name, b"{}", listed)
    target = tmp_path / "target"
    with pytest.raises(BackupError):
        restore_backup(bad, target)
    assert not (tmp_path / "escape.json").exists()
    assert not target.exists() or not any(target.rglob("*.json"))


def test_restore_refuses_what_is_not_a_backup(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(BackupError):
        restore_backup(junk, tmp_path / "target")


def test_daily_backup_is_written_once_a_day_and_keeps_the_newest(store, households, tmp_path):
    folder = tmp_path / "daily"
    for day in range(1, 6):
        (folder / daily_name(date(2026, 1, day))).parent.mkdir(exist_ok=True)
        (folder / daily_name(date(2026, 1, day))).write_bytes(b"old")
    (folder / "notes.txt").write_text("mine")
    today = date(2026, 2, 1)
    assert backup_due(folder, today)
    written = run_daily(store, folder, keep=3, today=today)
    assert written == folder / "fieldvisit-20260201.zip"
    assert not backup_due(folder, today)
    assert run_daily(store, folder, keep=3, today=today) is None
    left = sorted(p.name for p in folder.iterdir())
    assert left == [
        "fieldvisit-20260104.zip",
        "fieldvisit-20260105.zip",
        "fieldvisit-20260201.zip",
        "notes.txt",
    ]
    assert rotate(folder, keep=1) == [
        folder / "fieldvisit-20260104.zip",
        folder / "fieldvisit-20260105.zip",
    ]


def test_the_daily_thread_writes_todays_backup(store, households, tmp_path):
    from fieldvisit.storage.backup import start_daily

    folder = tmp_path / "daily"
    messages: list[str] = []
    stop = threading.Event()
    thread = start_daily(store, folder, 2, every_seconds=0.05, report=messages.append, stop=stop)
    target = folder / daily_name(date.today())
    for _ in range(250):
        if target.is_file() and messages:
            break
        threading.Event().wait(0.02)
    stop.set()
    thread.join(5)
    assert target.is_file(), messages
    assert messages[0].startswith("backup written"), messages


def test_the_daily_backup_is_configured_from_the_environment(tmp_path):
    from fieldvisit.config import ConfigError, from_environment

    assert from_environment({})["BACKUP_DIR"] is None
    assert from_environment({})["BACKUP_KEEP"] == 14
    config = from_environment(
        {"FIELDVISIT_BACKUP_DIR": str(tmp_path), "FIELDVISIT_BACKUP_KEEP": "3"}
    )
    assert (config["BACKUP_DIR"], config["BACKUP_KEEP"]) == (str(tmp_path), 3)
    with pytest.raises(ConfigError):
        from_environment({"FIELDVISIT_BACKUP_KEEP": "0"})


# --- names a restore would refuse are never written ---------------------------------------

# Names no app of today makes, yet one whose id patterns ended in ``$`` let through (a
# trailing newline), or a hand put there. Each is one that ``backup`` would take.
MISNAMED = [
    "photos/2026-01/visit0001\n/photo0001.jpg",  # a newline in the visit's folder
    "photos/2026-01/visit0001/photo0001\n.thumb.jpg",  # ... in the photo's name
    "photos/2026-01/visit\x070001/photo0001.jpg",  # a control character
    "photos/2026-01/visit0001/photo\u202e0001.jpg",  # an invisible right-to-left mark
    "photos/2026-01/v.1/photo0001.jpg",  # a folder that is no visit id
    "photos/misc/visit0001/photo0001.jpg",  # a folder that is no month
    "visits/2026-01/聂河村-1a2b3c4d\n.json",  # a village file with a newline in its name
]
GOOD_PHOTO = "photos/2026-01/visit0002/photo0002.jpg"


def _put(root: Path, name: str, payload: bytes) -> Path:
    path = root.joinpath(*name.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("name", MISNAMED)
def test_a_misnamed_file_stops_the_backup_until_a_start_moves_it_aside(
    app, runner, store, households, tmp_path, caplog, name
):
    from fieldvisit import create_app

    payload = b'{"visits": {}}' if name.endswith(".json") else JPEG + b"evidence"
    bad = _put(store.root, name, payload)
    _put(store.root, GOOD_PHOTO, JPEG)
    out = tmp_path / "backups" / "b.zip"

    result = runner.invoke(args=["backup", "--out", str(out)])

    assert result.exit_code != 0
    assert "无法备份" in result.output and repr(name) in result.output
    assert "quarantine" in result.output  # and what to do about it
    assert not out.exists() and list(out.parent.iterdir()) == []  # no archive, no temp file
    assert bad.read_bytes() == payload  # the backup moved nothing

    # A start moves it aside, where backups do not look, and says so.
    config = {"TESTING": True, "DATA_DIR": str(store.root), "SECRET_KEY": "x"}
    with caplog.at_level("WARNING"):
        restarted = create_app(config)
    assert repr(name) in caplog.text and "quarantine" in caplog.text
    assert not bad.exists()
    quarantine = store.root / "quarantine"
    [kept] = [p for p in quarantine.rglob("*") if p.is_file()]
    assert kept.relative_to(quarantine).as_posix().split("/", 1)[1] == name
    assert kept.read_bytes() == payload
    # Another start finds nothing more to move.
    caplog.clear()
    with caplog.at_level("WARNING"):
        create_app(config)
    assert "quarantine" not in caplog.text

    result = restarted.test_cli_runner().invoke(args=["backup", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = zipfile.ZipFile(out).namelist()
    assert GOOD_PHOTO in names and not any("quarantine" in n for n in names)
    fresh = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "new"), "SECRET_KEY": "x"})
    result = fresh.test_cli_runner().invoke(args=["restore", str(out)])
    assert result.exit_code == 0, result.output
    restored = Store(tmp_path / "new")
    assert set(restored.registry().households) == {h.id for h in households.values()}
    assert (restored.root / GOOD_PHOTO).read_bytes() == JPEG


def test_a_file_the_app_could_not_read_stops_the_backup(runner, store, households, tmp_path):
    _put(store.root, GOOD_PHOTO, b"<html>not a photo</html>")
    out = tmp_path / "b.zip"
    result = runner.invoke(args=["backup", "--out", str(out)])
    assert result.exit_code != 0
    assert f"无法备份：{GOOD_PHOTO} 不是 JPEG 照片" in result.output
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["data"]


@pytest.mark.parametrize(
    "name",
    ["registry.json\n", "secret_key\n", "audit/2026-01.jsonl\n", "visits/2026-01/a\n.json",
     f"{GOOD_PHOTO}\n", "photos/2026-01/visit0001/photo0001.jpg/", "registry.json\r"],
)  # fmt: skip
def test_restore_refuses_names_with_a_trailing_newline_or_control(
    store, households, tmp_path, name
):
    good = write_backup(store, tmp_path / "good.zip").path
    bad = tmp_path / "bad.zip"
    _tamper(good, bad, name, b"{}", listed=True)
    target = tmp_path / "target"
    with pytest.raises(BackupError, match="不允许的路径"):
        restore_backup(bad, target)
    assert not target.exists() or list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip", "data", "good.zip"]
