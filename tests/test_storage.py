"""The storage module's promises: atomic writes, all-or-nothing transactions, no stale reads
across processes, nothing lost to ``kill -9``, to threads or to a second process.

Other processes are real ones: a small script (``CHILD``) run with ``sys.executable`` opens a
``Store`` on the same data folder, prints ``ready``, then for each number ``n`` read from its
stdin makes ``n`` records and prints the id of each once the store has acknowledged it.

To kill a writer inside a given step of a save, the child can be told to stop at its k-th
``fsync`` (print ``fsync`` and wait there): the slowest step of a write, made slower, so that
the test's ``kill -9`` lands in it every time instead of by luck.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
from helpers import PEOPLE, make_household, stored_bytes, stored_identity, visit_payload

from fieldvisit.access.tokens import create_token
from fieldvisit.models import Household, Need, Visit
from fieldvisit.storage import Registry, Store, atomic_write_bytes, village_file_name
from fieldvisit.visits.recording import record_visit
from fieldvisit.visits.validation import VisitError

ROOT = Path(__file__).resolve().parents[1]
OWNER = PEOPLE["owner"][0]
OTHER = PEOPLE["other"][0]
MONTH = date.today().isoformat()[:7]

# argv: data folder, "visits" or "households", id prefix, then for visits the helper's
# phone and the payload (JSON) that every visit copies with its own id.
CHILD = r"""
import json, os, sys, time
from fieldvisit.households.lookup import new_token
from fieldvisit.models import Household
from fieldvisit.storage import Store
from fieldvisit.visits.recording import record_visit

store = Store(sys.argv[1])
mode, prefix = sys.argv[2], sys.argv[3]
if mode == "visits":
    user = store.user(sys.argv[4])
    template = json.loads(sys.argv[5])

pause_at, calls, real_fsync = int(os.environ.get("FV_PAUSE_AT_FSYNC", "0")), [0], os.fsync

def fsync(fd):
    calls[0] += 1
    if calls[0] == pause_at:
        print("fsync", flush=True)
        time.sleep(60)
    real_fsync(fd)

os.fsync = fsync

def make(key):
    if mode == "visits":
        record_visit(store, {**template, "id": key}, user)
        return
    household = Household(
        id=key, village="聂河村", head="新户", members=1, attribute="dibao",
        cause="illness", status="not_exited", token=new_token(),
    )
    store.update_registry(lambda reg: reg.households.__setitem__(key, household))

print("ready", flush=True)
done = 0
for line in sys.stdin:
    for _ in range(int(line)):
        key = f"{prefix}-{done:06d}"
        make(key)
        print(key, flush=True)
        done += 1
"""


class Child:
    """Another process writing to the same data folder."""

    started: ClassVar[list[Child]] = []

    def __init__(
        self, root: Path, mode: str, prefix: str, *extra: str, pause_at_fsync: int = 0
    ) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FV_PAUSE_AT_FSYNC": str(pause_at_fsync)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root), mode, prefix, *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        Child.started.append(self)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.stderr = ""
        first = self.stdout.readline()
        if first != "ready\n":
            self.finish()
            pytest.fail(f"child did not start: {first!r} {self.stderr}")

    def ask(self, count: int) -> None:
        self.stdin.write(f"{count}\n")
        self.stdin.flush()

    def read_one(self) -> str:
        line = self.stdout.readline()
        assert line.endswith("\n"), f"child stopped: {self.finish()}"
        return line.strip()

    def finish(self) -> list[str]:
        """Close stdin, wait for the child to exit and return the ids it still printed."""
        out, self.stderr = self.proc.communicate(timeout=60)
        return [line for line in out.splitlines(keepends=True) if line.endswith("\n")]


@pytest.fixture(autouse=True)
def _reap_children() -> Iterator[None]:
    """A test that failed half-way leaves no child running (nor unclosed pipes)."""
    yield
    while Child.started:
        child = Child.started.pop()
        if child.proc.returncode is None:
            child.proc.kill()
            child.finish()


def visits_child(
    root: Path, prefix: str, household: Household, phone: str, pause_at_fsync: int = 0
) -> Child:
    template = visit_payload(household)
    del template["id"]
    payload = json.dumps(template, ensure_ascii=False)
    return Child(root, "visits", prefix, phone, payload, pause_at_fsync=pause_at_fsync)


def run_threads(count: int, work: Callable[[int], None], start: threading.Barrier) -> None:
    """Run ``work(i)`` in ``count`` threads that wait on ``start``; fail on any exception."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(timeout=30)
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    start.wait(timeout=30)
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


def save_visits(store: Store, household: Household, phone: str, ids: list[str]) -> None:
    user = store.user(phone)
    assert user is not None
    for visit_id in ids:
        record_visit(store, visit_payload(household, id=visit_id), user)


def stored_ids(root: Path, village: str) -> list[str]:
    """The visit ids in this month's file of ``village``, read by a fresh store."""
    return [v.id for v in Store(root).visits(MONTH, village)]


def temp_files(root: Path) -> list[Path]:
    return list(root.rglob("*.tmp"))


# --- one file, written atomically ------------------------------------------------------------


def test_it_replaces_a_file_in_one_step_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "f.json"
    atomic_write_bytes(path, b'{"a": 1}')
    before = path.stat().st_ino
    atomic_write_bytes(path, b'{"a": 2}')

    assert path.read_bytes() == b'{"a": 2}'
    # A new inode: the old file was swapped out by a rename, never rewritten in place.
    assert path.stat().st_ino != before
    assert os.listdir(tmp_path) == ["f.json"]


def test_it_flushes_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    # kill -9 cannot show what a power cut would lose (the page cache survives a killed
    # process), so check the order that makes the rename durable: data, rename, folder.
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        calls.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write_bytes(tmp_path / "f.json", b"{}")

    assert calls == ["fsync file", "rename", "fsync folder"]


def test_it_keeps_the_old_file_when_a_write_fails_before_the_rename(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    atomic_write_bytes(path, b'{"a": 1}')

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b'{"a": 2}')

    assert path.read_bytes() == b'{"a": 1}'
    assert os.listdir(tmp_path) == ["f.json"]


def test_it_loads_a_folder_with_temp_files_left_by_a_crash(store, households):
    user = store.user(OWNER)
    record_visit(store, visit_payload(households["h1"]), user)
    registry = store.root / "registry.json"
    # Until its first fold a village's month file may exist only as its journal.
    month_file = store.root / "visits" / MONTH / village_file_name("聂河村")
    # What a crash between creating the temp file and renaming it leaves behind.
    (store.root / ".registry.json.k3x9.tmp").write_text('{"households": {"1": {"id"')
    (month_file.parent / f".{month_file.name}.q7w2.tmp").write_text('{"visits"')

    fresh = Store(store.root)

    assert set(fresh.registry().households) == {"4117210010001", "4117210020001"}
    assert [v.id for v in fresh.visits(MONTH)] == ["a1b2c3d4-0000-4000-8000-000000000001"]
    assert fresh.months() == [MONTH]
    assert stored_bytes(registry)  # the data files themselves are untouched


# --- transactions: all or nothing ----------------------------------------------------------


def test_it_writes_nothing_when_a_registry_change_raises(store, households):
    path = store.root / "registry.json"
    raw, identity = stored_bytes(path), stored_identity(path)

    def change(reg: Registry) -> None:
        reg.households["4117210099999"] = make_household(id="4117210099999")
        del reg.households["4117210010001"]
        raise ValueError("bad row in the spreadsheet")

    with pytest.raises(ValueError, match="bad row"):
        store.update_registry(change)

    assert stored_bytes(path) == raw
    assert stored_identity(path) == identity
    assert set(store.registry().households) == {"4117210010001", "4117210020001"}
    assert set(Store(store.root).registry().households) == {"4117210010001", "4117210020001"}
    assert temp_files(store.root) == []


def village_files(store: Store, village: str) -> dict[str, bytes]:
    """The bytes of a village's month file and of its journal, as far as they exist."""
    folder = store.root / "visits" / MONTH
    name = village_file_name(village)
    return {p.name: p.read_bytes() for p in folder.glob(f"{name}*") if not p.name.startswith(".")}


def test_it_writes_nothing_when_a_visit_transaction_raises_after_the_insert(store, households):
    user = store.user(OWNER)
    first, _created = record_visit(store, visit_payload(households["h1"]), user)
    raw = village_files(store, "聂河村")
    visit = Visit.from_doc({**first.to_doc(), "id": "second-visit-0001"})

    def needs_for(_visit: Visit, _stored: list[Need]) -> list[Need]:
        # Runs after the visit was inserted into the transaction's copy of the file.
        raise RuntimeError("needs cannot be built")

    with pytest.raises(RuntimeError):
        store.save_visit(visit, lambda existing: visit, needs_for)

    assert village_files(store, "聂河村") == raw
    assert [v.id for v in store.visits(MONTH)] == [first.id]
    assert [n.visit for n in store.needs(MONTH)] == [first.id]
    assert temp_files(store.root) == []


def test_it_acknowledges_nothing_when_the_disk_write_fails(store, households, monkeypatch):
    user = store.user(OWNER)
    payload = visit_payload(households["h1"])

    def crash(fd: Any) -> None:
        raise OSError("I/O error")

    with monkeypatch.context() as patch:
        # The write reached the page cache but could not be made durable: it must not count.
        patch.setattr(os, "fsync", crash)
        with pytest.raises(OSError):
            record_visit(store, payload, user)

    # Neither the cache nor the disk holds the failed visit; sending it again stores it.
    assert store.visits(MONTH) == []
    assert Store(store.root).visits(MONTH) == []
    assert store.audit_log.read_entries(MONTH) == []
    assert temp_files(store.root) == []
    visit, created = record_visit(store, payload, user)
    assert created
    assert stored_ids(store.root, "聂河村") == [visit.id]


def test_it_refuses_an_id_already_used_for_another_household_and_writes_nothing(store, households):
    neighbour = make_household(id="4117210010002", head="马强", helpers=[OWNER])
    store.update_registry(lambda reg: reg.households.__setitem__(neighbour.id, neighbour))
    first, _created = record_visit(store, visit_payload(households["h1"]), store.user(OWNER))
    raw = village_files(store, "聂河村")

    with pytest.raises(VisitError) as err:
        record_visit(store, visit_payload(neighbour, id=first.id), store.user(OWNER))

    assert err.value.status == 409
    assert village_files(store, "聂河村") == raw
    assert [v.household for v in store.visits(MONTH)] == [households["h1"].id]


# --- no stale reads across processes ---------------------------------------------------------


def test_it_reads_a_change_written_by_another_process(store, households):
    # Fill the cache of this process first: a stale entry is what must not be served.
    assert store.visits(MONTH, "聂河村") == []
    assert store.household("imp-000000") is None

    writer = visits_child(store.root, "p1", households["h1"], OWNER)
    try:
        for _ in range(5):
            writer.ask(1)
            written = writer.read_one()
            assert written in [v.id for v in store.visits(MONTH, "聂河村")]
    finally:
        writer.finish()

    importer = Child(store.root, "households", "imp")
    try:
        for _ in range(3):
            importer.ask(1)
            added = importer.read_one()
            assert store.household(added) is not None
    finally:
        importer.finish()
    assert len(store.visits(MONTH, "聂河村")) == 5
    assert len(store.registry().households) == 5


# --- kill -9 -------------------------------------------------------------------------------


def kill_while_saving(root: Path, household: Household, prefix: str, after: float) -> list[str]:
    """Run a child that saves visits without pause, ``kill -9`` it ``after`` seconds in, and
    return the ids it acknowledged before it died."""
    child = visits_child(root, prefix, household, OWNER)
    child.ask(1_000_000)
    # A timer, not a reaction to the child's output, so the kill lands anywhere in a save.
    timer = threading.Timer(after, os.kill, (child.proc.pid, signal.SIGKILL))
    timer.start()
    acknowledged = [line.strip() for line in child.finish()]
    timer.join()
    assert child.proc.returncode == -signal.SIGKILL, child.stderr
    assert len(acknowledged) > 3, child.stderr  # the child really was busy writing
    return acknowledged


def kill_inside_fsync(root: Path, household: Household, prefix: str, fsync: int) -> list[str]:
    """Run a child that saves visits, ``kill -9`` it while it waits in its ``fsync``-th call
    of ``os.fsync``, and return the ids it acknowledged before it died."""
    child = visits_child(root, prefix, household, OWNER, pause_at_fsync=fsync)
    child.ask(100)
    acknowledged = []
    while (line := child.read_one()) != "fsync":
        acknowledged.append(line)
    os.kill(child.proc.pid, signal.SIGKILL)
    acknowledged += [line.strip() for line in child.finish()]
    assert child.proc.returncode == -signal.SIGKILL, child.stderr
    return acknowledged


def check_after_crash(root: Path, acknowledged: set[str], kills: int) -> None:
    """Every data file parses; every acknowledged visit is stored, with its needs."""
    for path in root.rglob("*.json"):
        if not path.name.startswith("."):  # temp files are not data files
            json.loads(path.read_bytes())  # as it is on disk, without help from the store
    for path in (root / "audit").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            json.loads(line)
    fresh = Store(root)
    stored = {v.id for v in fresh.visits(MONTH, "聂河村")}
    assert acknowledged <= stored
    # Beyond those, at most the one visit per kill that was cut off before its answer.
    assert len(stored - acknowledged) <= kills
    assert len({n.visit for n in fresh.needs(MONTH, "聂河村")}) == len(stored)


def test_it_keeps_every_acknowledged_visit_after_kill_9(store, households):
    acknowledged: set[str] = set()
    for round_, after in enumerate((0.35, 0.45, 0.55)):
        acknowledged |= set(kill_while_saving(store.root, households["h1"], f"k{round_}", after))
        check_after_crash(store.root, acknowledged, kills=round_ + 1)

    # The dead children's locks went with them: a new write goes through at once.
    fresh = Store(store.root)
    record_visit(fresh, visit_payload(households["h1"], id="after-kill-0001"), fresh.user(OWNER))
    assert "after-kill-0001" in stored_ids(store.root, "聂河村")


# A save today fsyncs the new file, its folder, then the audit log; the 4th save's calls are
# 10-12, and 13 is inside the 5th. Which step each number hits may change with the code: any
# of them is a moment at which a crash must lose nothing acknowledged.
@pytest.mark.parametrize("fsync", [10, 11, 12, 13])
def test_it_keeps_every_acknowledged_visit_after_kill_9_inside_a_write(store, households, fsync):
    acknowledged = kill_inside_fsync(store.root, households["h1"], "s", fsync)

    check_after_crash(store.root, set(acknowledged), kills=1)
    fresh = Store(store.root)
    record_visit(fresh, visit_payload(households["h1"], id="after-kill-0001"), fresh.user(OWNER))
    assert "after-kill-0001" in stored_ids(store.root, "聂河村")


# --- threads and processes at once -----------------------------------------------------------


def test_it_loses_no_visit_saved_by_threads_and_processes_at_once(store, households):
    h1 = households["h1"]
    children = [visits_child(store.root, f"p{i}", h1, OWNER) for i in range(2)]
    per_writer = 25
    start = threading.Barrier(5)
    expected = {f"t{i}-{n:06d}" for i in range(4) for n in range(per_writer)}
    expected |= {f"p{i}-{n:06d}" for i in range(2) for n in range(per_writer)}

    def work(i: int) -> None:
        save_visits(store, h1, OWNER, [f"t{i}-{n:06d}" for n in range(per_writer)])

    for child in children:
        child.ask(per_writer)
    run_threads(4, work, start)
    printed = [line.strip() for child in children for line in child.finish()]

    assert [c.proc.returncode for c in children] == [0, 0], [c.stderr for c in children]
    assert len(printed) == 2 * per_writer
    ids = stored_ids(store.root, "聂河村")
    assert sorted(ids) == sorted(expected)  # all there, none twice
    assert sorted(v.id for v in store.visits(MONTH, "聂河村")) == sorted(expected)
    created = [e.target for e in store.audit_log.read_entries(MONTH) if e.action == "visit.create"]
    assert sorted(created) == sorted(expected)


def test_it_loses_nothing_when_an_import_runs_while_the_server_saves(store, households):
    importer = Child(store.root, "households", "imp")
    per_thread = 15
    imported: list[str] = []
    tokens: list[str] = []
    import_done = threading.Event()

    def work(i: int) -> None:
        if i == 0:  # the import: one registry transaction per household, in another process
            importer.ask(30)
            imported.extend(importer.read_one() for _ in range(30))
            import_done.set()
        elif i == 1:  # the office creates API tokens: registry writes racing the import
            while not import_done.is_set() and len(tokens) < 200:
                tokens.append(create_token(store, OWNER, PEOPLE["admin"][0]))
        elif i == 2:
            save_visits(store, households["h1"], OWNER, [f"h1-{n:06d}" for n in range(per_thread)])
        else:
            save_visits(store, households["h2"], OTHER, [f"h2-{n:06d}" for n in range(per_thread)])

    run_threads(4, work, threading.Barrier(5))
    importer.finish()

    assert importer.proc.returncode == 0, importer.stderr
    assert tokens  # at least one registry write raced the import
    fresh = Store(store.root)
    reg = fresh.registry()
    assert set(reg.households) == set(imported) | {"4117210010001", "4117210020001"}
    assert len(imported) == 30
    assert set(reg.tokens) == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    assert len(fresh.visits(MONTH, "聂河村")) == per_thread
    assert len(fresh.visits(MONTH, "王寨村")) == per_thread


def send_twice_at_once(store: Store, payload: dict[str, Any]) -> list[bool]:
    """Record the same payload from two threads released together; their ``created``."""
    user = store.user(OWNER)
    results: list[bool] = []

    def work(_i: int) -> None:
        results.append(record_visit(store, payload, user)[1])

    run_threads(2, work, threading.Barrier(3))
    return results


def test_it_stores_a_visit_resent_by_two_threads_at_once_once(store, households):
    for round_ in range(5):
        payload = visit_payload(households["h1"], id=f"resend-{round_:04d}")
        # One creates it, the other finds it stored.
        assert sorted(send_twice_at_once(store, payload)) == [False, True]

    ids = stored_ids(store.root, "聂河村")
    assert sorted(ids) == [f"resend-{r:04d}" for r in range(5)]
    created = [e.target for e in store.audit_log.read_entries(MONTH) if e.action == "visit.create"]
    assert sorted(created) == sorted(ids)
    assert len(store.needs(MONTH)) == 5
