"""The machinery of the crash tests (``test_crashes.py``), in the manner of SQLite's: a
change is run once to learn the steps of its write (``storage.durable.step``), then once for
every step and every way of failing there, each on a fresh copy of a baseline folder, which
is then opened again as a restart does and checked.

A change is made of parts, each one commit (one journal line holding its audit entries):
after a crash a prefix of its parts is there, each whole with its audit entries exactly
once, and nothing else has changed (once the restart has finished moves and copies).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldvisit.storage import JOURNAL_SUFFIX, Store, durable
from fieldvisit.storage.journal import read_journal

# How a step fails: an error the write sees (a full disk, a failing disk), or the process
# killed just before it (a crash: what it wrote before stays, what it had not is lost).
ERRORS = {"enospc": errno.ENOSPC, "eio": errno.EIO}
# And at an append: a full disk that takes half the bytes of the write, then ENOSPC.
TORN = "torn"
COMPONENTS = ("registry", "sessions", "visits")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
_CLOSED_FILE = re.compile(r"[0-9a-f]{64}\.(?:json|pdf)")
Step = tuple[str, str]  # (kind, path relative to the folder)


@dataclass(frozen=True)
class Part:
    """One commit of a change: the parts of the folder it changes, its audit actions."""

    components: frozenset[str]
    actions: frozenset[str]


def part(components: str, actions: str = "") -> Part:
    return Part(frozenset(components.split()), frozenset(actions.split()))


@dataclass(frozen=True)
class Kind:
    """A kind of change: ``run(store, variant)`` makes change 0 (the one crashed) or 1 (the
    next one, which must succeed afterwards). ``done`` are the errors repeating change 0
    may raise when it was made already; ``repeats`` says that repeating it writes new audit
    entries (a new password)."""

    name: str
    run: Callable[[Store, int], object]
    parts: tuple[Part, ...]
    minimum: int  # crash points it must exercise: a refactor cannot drop them unseen
    done: tuple[type[BaseException], ...] = ()
    repeats: bool = False


@dataclass
class Snapshot:
    """What a folder holds, timestamps and fresh secrets normalised: ``data`` by component,
    ``audit`` as (id, action, target) in file order."""

    data: dict[str, Any]
    audit: list[tuple[str, str, str]]

    def new(self, before: Snapshot, actions: frozenset[str] | None = None) -> Counter[Any]:
        """The (action, target) of the entries ``before`` lacks (with one of ``actions``)."""
        known = {entry[0] for entry in before.audit}
        return Counter(
            (action, target)
            for entry_id, action, target in self.audit
            if entry_id not in known and (actions is None or action in actions)
        )


def _sorted(docs: Iterator[Any]) -> list[str]:
    """Documents in a set, as their canonical JSON (normalised first: see ``snapshot``)."""
    return sorted(json.dumps(d, sort_keys=True, ensure_ascii=False) for d in docs)


def _norm(value: Any, secrets: frozenset[str], key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _norm(v, secrets, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v, secrets) for v in value]
    if isinstance(value, str):
        if _TIME.fullmatch(value):
            return "<time>"
        fresh = key in ("password_hash", "token") or _CLOSED_FILE.fullmatch(value)
        if fresh and value not in secrets:
            return "<new>"  # a new password, plate token, or closed month's file
    return value


def secrets_of(store: Store) -> frozenset[str]:
    """The password hashes, plate tokens and closed months' files of ``store``: values that
    differ from one run to the next (random, or named by the hash of a time) are new."""
    reg = store.registry()
    found = {u.password_hash for u in reg.users.values()}
    found.update(h.token for h in reg.households.values())
    found.update(_CLOSED_FILE.findall(json.dumps(store.closed_months())))
    return frozenset(found)


def snapshot(store: Store, secrets: frozenset[str], cached: bool = False) -> Snapshot:
    """Everything ``store`` reads (``cached``: the audit log through its cache too)."""

    def rows(docs: Iterator[Any]) -> list[str]:
        return _sorted(_norm(doc, secrets) for doc in docs)

    reg = store.registry()
    data: dict[str, Any] = {
        "registry": {
            "villages": rows(v.to_doc() for v in reg.villages.values()),
            "households": rows(h.to_doc() for h in reg.households.values()),
            "users": rows(u.to_doc() for u in reg.users.values()),
            "tokens": rows(t.to_doc() for t in reg.tokens.values()),
            "settings": rows({"key": k, "value": v} for k, v in reg.settings.items()),
            "moves": rows(iter(reg.moves)),
        },
        "sessions": {"sessions": rows(s.to_doc() for s in store.sessions.all().values())},
        "visits": {},
    }
    for month in store.months():
        for table, docs in (("visits", store.visits(month)), ("needs", store.needs(month))):
            if docs:
                data["visits"][f"{month} {table}"] = rows(d.to_doc() for d in docs)
    read = store.audit_log.entries if cached else store.audit_log.read_entries
    audit = [(e.id, e.action, e.target) for m in store.audit_log.months() for e in read(m)]
    return Snapshot(data, audit)


def reopen(folder: Path) -> Store:
    """The folder as a restart finds it (what ``create_app`` does before serving)."""
    store = Store(folder)
    store.finish_moves()
    store.recover()
    return store


def _lines(path: Path, torn_ok: bool) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines file. Only a write cut short (``TORN``) may leave a line
    that does not parse, which readers skip; it must not take the next line with it."""
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        try:
            yield json.loads(line)
        except ValueError:
            assert torn_ok, f"{path.name} line {number} is torn: {line[:80]!r}"


def check_folder(store: Store, torn_ok: bool = False) -> None:
    """Every file loads and is whole; the derived files agree with the data."""
    root = store.root
    logs = sorted((root / "audit").glob("*.jsonl"))
    ids = [doc["id"] for path in logs for doc in _lines(path, torn_ok)]
    assert len(ids) == len(set(ids)), "an audit entry is in the log twice"
    for journal in sorted(root.rglob("*.json" + JOURNAL_SUFFIX)):
        # After its last whole line a journal holds nothing, or the zeros it was grown by.
        tail = journal.read_bytes()[read_journal(journal).valid_bytes :]
        assert tail == bytes(len(tail)), f"{journal.name} ends in a torn line: {tail[:80]!r}"
    indexed = {}
    for path in sorted((root / "index" / "visits").glob("*.jsonl")):
        for doc in _lines(path, torn_ok):
            assert doc["id"] not in indexed, f"visit {doc['id']} indexed twice"
            indexed[doc["id"]] = doc["month"]
    stored = {}
    for month in store.months():
        for visit in store.visits(month):
            assert visit.id not in stored, f"visit {visit.id} stored twice"
            stored[visit.id] = month
            for photo in visit.photos:
                for thumb in (False, True):
                    assert store.photos.path(month, visit.id, photo, thumb), f"photo {photo}"
        needs = [n.id for n in store.needs(month)]
        assert len(needs) == len(set(needs)), f"a need is stored twice in {month}"
    assert indexed == stored, "the visit-id index and the visit files disagree"
    for month, record in store.closed_months().items():
        for name in _CLOSED_FILE.findall(json.dumps(record)):
            payload = store.closed.read(month, name)
            assert hashlib.sha256(payload).hexdigest() == name.split(".")[0], name


def describe(got: dict[str, Any], want: dict[str, Any]) -> str:
    """Where two snapshots' data differ, briefly: a table's rows one has and not the other."""
    for component in COMPONENTS:
        for table in sorted(set(got[component]) | set(want[component])):
            a, b = got[component].get(table, []), want[component].get(table, [])
            if a != b:
                extra = [r[:400] for r in a if r not in b] or [f"{len(a)} rows, not {len(b)}"]
                missing = [r[:400] for r in b if r not in a]
                return f"{component} {table}: has {extra[:2]}, lacks {missing[:2]}"
    return "no difference"


# --- running a change with a fault -------------------------------------------------------


class DiskOs:
    """``os`` as ``storage.durable`` sees it in the crash tests (``disk`` below): fsync is
    left to the system, since a killed process loses nothing the system holds (the sync
    steps are still failed at), and a write can be cut short."""

    def __init__(self) -> None:
        self.short = False

    fsync = fdatasync = staticmethod(lambda fd: None)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def _cut(self, data: bytes) -> bytes:
        if not self.short:
            return data
        self.short = False
        return data[: len(data) // 2]

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, self._cut(data))

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        return os.pwrite(fd, self._cut(data), offset)


disk = DiskOs()


@contextmanager
def hooked(hook: Callable[[str, Path], None]) -> Iterator[None]:
    durable.faults.hook = hook
    try:
        yield
    finally:
        durable.faults.hook = None


@dataclass
class Baseline:
    folder: Path  # copied for every crash point
    secrets: frozenset[str]  # see secrets_of
    state: Snapshot


@dataclass
class Reference:
    """A change run without faults: the steps of its write, the folder after it (``final``)
    and after the next change of its kind (``after_next``)."""

    steps: list[Step]
    final: Snapshot
    after_next: Snapshot

    def stages(self, kind: Kind, before: Snapshot) -> list[tuple[dict[str, Any], Counter[Any]]]:
        """What a crash may leave: the first j parts done, for every j."""
        out = []
        for j in range(len(kind.parts) + 1):
            done = kind.parts[:j]
            changed = {c for p in done for c in p.components}
            # All of it: every entry the change wrote, whatever the parts say.
            actions = (
                None if j == len(kind.parts) else frozenset(a for p in done for a in p.actions)
            )
            data = {c: (self.final if c in changed else before).data[c] for c in COMPONENTS}
            out.append((data, self.final.new(before, actions)))
        return out


def learn(kind: Kind, baseline: Baseline, work: Path) -> Reference:
    folder = shutil.copytree(baseline.folder, work / "reference")
    steps: list[Step] = []
    store = Store(folder)
    with hooked(lambda step, path: steps.append((step, str(path.relative_to(store.root))))):
        kind.run(store, 0)
    final = snapshot(reopen(folder), baseline.secrets)
    kind.run(store, 1)
    after_next = snapshot(reopen(folder), baseline.secrets)
    shutil.rmtree(folder)
    return Reference(steps, final, after_next)


def _fail_at(step: int, action: Callable[[str, Path], None]) -> Callable[[str, Path], None]:
    seen = 0

    def hook(kind: str, path: Path) -> None:
        nonlocal seen
        seen += 1
        if seen == step:
            action(kind, path)

    return hook


def run_failing(kind: Kind, store: Store, step: int, mode: str) -> bool:
    """Run change 0 failing at ``step`` (an ``ERRORS`` mode, or ``TORN``); whether it was
    acknowledged."""
    code = ERRORS.get(mode, errno.ENOSPC)
    fired = []

    def fail(_kind: str, path: Path) -> None:
        fired.append(path)
        if mode == TORN:
            disk.short = True  # durable finds its write short and raises ENOSPC itself
        else:
            raise OSError(code, os.strerror(code), str(path))

    try:
        with hooked(_fail_at(step, fail)):
            kind.run(store, 0)
    except OSError as exc:
        assert exc.errno == code and fired, f"not the injected error: {exc!r}"
        return False
    finally:
        disk.short = False
    assert fired, f"step {step} was never reached"
    return True  # failed after the commit: logged, and the change stands


def run_killed(kind: Kind, folder: Path, step: int) -> bool:
    """Run change 0 in a child process killed at ``step``; whether it was acknowledged."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns of fork() in a process with threads (pytest-xdist's); the child
        # takes no lock another thread may hold: it runs the change and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            store = Store(folder)
            kill = _fail_at(step, lambda _k, _p: os.kill(os.getpid(), signal.SIGKILL))
            with hooked(kill):
                kind.run(store, 0)
            os.write(write, b"ack")
            code = 0
        except BaseException as exc:  # told to the parent, which fails the test
            os.write(write, repr(exc).encode("utf-8", "replace")[:2000])
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read()
    _pid, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL and not said
        return False
    assert said == b"ack", said.decode("utf-8", "replace")
    raise AssertionError(f"step {step} was never reached")


# --- checking what a crash left ----------------------------------------------------------


def check_crashed(kind: Kind, ref: Reference, base: Baseline, got: Snapshot, acked: bool) -> None:
    """A prefix of the change's parts is there, each with its audit entries exactly once;
    all of it when the change was acknowledged."""
    stages = ref.stages(kind, base.state)
    matching = [j for j, (data, _entries) in enumerate(stages) if data == got.data]
    assert matching, "half there: " + describe(got.data, stages[-1][0])
    if acked:
        assert matching[-1] == len(kind.parts), "acknowledged but not there: " + describe(
            got.data, stages[-1][0]
        )
        matching = [matching[-1]]
    entries = got.new(base.state)
    assert any(entries == stages[j][1] for j in matching), (
        f"audit entries {dict(entries)} for a change {matching} parts there"
    )


def check_afterwards(kind: Kind, ref: Reference, base: Baseline, got: Snapshot) -> None:
    """The change tried again, then the next of its kind: both are there, once."""
    want = ref.after_next
    assert got.data == want.data, "tried again, then the next: " + describe(got.data, want.data)
    entries, wanted = got.new(base.state), want.new(base.state)
    if kind.repeats:  # trying again wrote its entries again
        assert entries & wanted == wanted, f"audit entries {dict(entries)}, want {dict(wanted)}"
    else:
        assert entries == wanted, f"audit entries {dict(entries)}, want {dict(wanted)}"


def run_case(kind: Kind, base: Baseline, ref: Reference, step: int, mode: str, work: Path) -> None:
    """One crash point: fail, restart and check; then try again and make the next change."""
    folder = shutil.copytree(base.folder, work / f"{step}-{mode}")
    live = None
    if mode == "kill":
        acked = run_killed(kind, folder, step)
    else:
        live = Store(folder)
        acked = run_failing(kind, live, step, mode)
    store = reopen(folder)
    check_folder(store, torn_ok=mode == TORN)
    got = snapshot(store, base.secrets)
    check_crashed(kind, ref, base, got, acked)
    if live is not None:
        # The store that saw the failure reads what the disk holds: nothing cached ahead of
        # it, and what the restart finished since is seen at once.
        seen = snapshot(live, base.secrets, cached=True)
        assert seen.data == got.data, "stale after a failure: " + describe(seen.data, got.data)
        assert seen.audit == got.audit, "stale audit log after a failure"
        store = live
    try:
        kind.run(store, 0)  # the user tries again
    except kind.done:
        assert got.data == ref.final.data, "refused as done, but not there"
    kind.run(store, 1)
    store = reopen(folder)
    check_folder(store, torn_ok=mode == TORN)
    check_afterwards(kind, ref, base, snapshot(store, base.secrets))
    shutil.rmtree(folder)


def exercise(kind: Kind, base: Baseline, work: Path, seen: list[Step] | None = None) -> int:
    """Every crash point of ``kind``'s change, in every mode; returns how many. ``seen``:
    the steps of a run whose crash points were exercised already: a kill at a step this run
    shares with it, from the start, leaves the same folder, and is not run again (an error
    is: the process goes on, and differently)."""
    ref = learn(kind, base, work)
    shared = 0
    while seen and shared < min(len(seen), len(ref.steps)) and seen[shared] == ref.steps[shared]:
        shared += 1
    points = 0
    for step in range(1, len(ref.steps) + 1):
        # The error a disk gives at each step: EIO where a sync reports a failing disk,
        # ENOSPC where a write or a new entry needs room (both reach every code path that
        # handles an OSError; trying both at every step doubled the suite's time).
        error = "eio" if ref.steps[step - 1][0] == "sync" else "enospc"
        modes = [error, "kill"] if step > shared else [error]
        if ref.steps[step - 1][0] == "append":
            modes.append(TORN)
        for mode in modes:
            try:
                run_case(kind, base, ref, step, mode, work)
            except AssertionError as exc:
                at = ref.steps[step - 1]
                raise AssertionError(
                    f"{kind.name}: {mode} at step {step}/{len(ref.steps)} ({at[0]} {at[1]}): "
                    f"{exc}\nsteps: {ref.steps}"
                ) from exc
            points += 1
    return points
