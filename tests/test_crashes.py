"""Crash tests, in the manner of SQLite's: every kind of change is failed at every step of
its write (each write, sync, rename, journal append and fold), by an error (a failing
disk, EIO, at a sync; a full disk, ENOSPC, at every other step; at an append also a full
disk that took half the bytes), and by killing a child process there, and the folder is
opened again as a restart does.

Then every file loads; an acknowledged change is there exactly once with its audit entry;
one that was not is there whole or not at all, never half; the store that saw the error
reads what the disk holds; and the change, tried again, and the next of its kind succeed.
The machinery is in ``crash_helpers.py``; the number of crash points is printed at the end
of the run (``conftest.pytest_terminal_summary``). For speed, fsync is left to the system
(a killed process loses nothing the system holds; the sync steps are still failed at), the
folders are copied in memory where there is /dev/shm, and a month's summary PDF is a stub.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from crash_helpers import (
    Baseline,
    Kind,
    check_folder,
    disk,
    exercise,
    learn,
    part,
    reopen,
    run_killed,
    secrets_of,
    snapshot,
)
from helpers import PEOPLE, csv_bytes, make_household, sample_rows, visit_payload
from PIL import Image

from fieldvisit import create_app
from fieldvisit.access.tokens import token_digest
from fieldvisit.clock import now_iso
from fieldvisit.closing import ClosingError, close_month, reopen_month
from fieldvisit.closing import snapshot as closing_files
from fieldvisit.households import office
from fieldvisit.models import ApiToken, LoginSession, User, Village
from fieldvisit.registry import import_registry
from fieldvisit.storage import Registry, Store, durable, files
from fieldvisit.visits import needs
from fieldvisit.visits.photos import add_photo
from fieldvisit.visits.recording import correct_visit, record_visit

TODAY = date.today()
SHM = Path("/dev/shm")


def _day(months_back: int) -> str:
    """A date ``months_back`` months before today's (today itself for 0)."""
    if not months_back:
        return TODAY.isoformat()
    year, month = divmod(TODAY.year * 12 + TODAY.month - 1 - months_back, 12)
    return date(year, month + 1, 15).isoformat()


THIS, PREV, OLDER = _day(0), _day(1), _day(2)
CLOSED = (_day(3)[:7], _day(4)[:7])
OWNER, OTHER, ADMIN = PEOPLE["owner"][0], PEOPLE["other"][0], PEOPLE["admin"][0]
# Helpers with no household: stopped, or given a new password, with their logins and tokens.
THIRD, FOURTH, FIFTH = "13900000003", "13900000004", "13900000005"
HELPERS = {THIRD: "孙帮扶", FOURTH: "周帮扶", FIFTH: "吴帮扶"}
A, B, C, D = "4117210010001", "4117210020001", "4117210030001", "4117210010002"
NEW = ("4117210040001", "4117210040002")  # households an import adds
V_THIS, V_PREV, V_DONE, V_OLD, V_B = (f"c0000000-0000-4000-8000-00000000000{n}" for n in range(5))
V_NEW = ("d0000000-0000-4000-8000-000000000000", "d0000000-0000-4000-8000-000000000001")
PHOTOS = ("p0000000-0000-4000-8000-000000000000", "p0000000-0000-4000-8000-000000000001")


def _need(category: str, description: str) -> dict[str, Any]:
    return {"category": category, "description": description, "urgent": False}


NEEDS_THIS = [_need("medical", "慢性病用药报销")]
NEEDS_PREV = [_need("housing", "屋顶漏雨"), _need("water", "水管冻裂")]
NEEDS_DONE = [_need("employment", "想找护工工作"), _need("education", "学费")]


# --- the baseline folder -----------------------------------------------------------------


def _fill(reg: Registry) -> None:
    for phone, role, name in PEOPLE.values():
        reg.users[phone] = User(phone=phone, name=name, role=role, password_hash="h-" + phone)
    for phone, name in HELPERS.items():
        reg.users[phone] = User(phone=phone, name=name, role="helper", password_hash="h-" + phone)
        reg.tokens[token_digest(phone)] = ApiToken(token_digest(phone), phone, now_iso())
    for hid, village, helper in (
        (A, "聂河村", OWNER),
        (B, "王寨村", OTHER),
        (C, "李庄村", OWNER),
        (D, "聂河村", OTHER),
    ):
        reg.households[hid] = make_household(id=hid, village=village, helpers=[helper])
        reg.villages.setdefault(village, Village(village))


def _log_in(sessions: dict[str, LoginSession]) -> None:
    for phone in (OWNER, THIRD, FOURTH):
        digest = token_digest("session-" + phone)
        sessions[digest] = LoginSession(digest, phone, now_iso(), THIS, "stamp")


def _visit(store: Store, visit_id: str, household: str, day: str, raised: list[Any]) -> None:
    user = store.user(ADMIN if day < THIS[:7] else store.household(household).helpers[0])
    payload = visit_payload(store.household(household), id=visit_id, date=day, needs=raised)
    record_visit(store, payload, user, TODAY)


def _build(store: Store) -> None:
    store.update_registry(_fill)
    store.sessions.update(_log_in)
    _visit(store, V_THIS, A, THIS, NEEDS_THIS)
    _visit(store, V_B, B, THIS, [])
    _visit(store, V_PREV, A, PREV, NEEDS_PREV)
    _visit(store, V_DONE, B, PREV, NEEDS_DONE)
    _visit(store, V_OLD, D, OLDER, [])
    for need in store.needs(PREV[:7]):
        if need.visit == V_DONE:
            needs.resolve(store, need.id, ADMIN, "已解决")
    for month in CLOSED:
        close_month(store, month, ADMIN, TODAY)


def _summary_pdf(store: Store, month: str, *args: Any, **kwargs: Any) -> bytes:
    # Drawing the summary costs a tenth of a second a close, and is not storage: a close
    # still writes it, as a file of its own, at the same steps.
    return f"%PDF-1.4 {month}".encode()


@contextmanager
def _scratch(fallback: Path) -> Iterator[Path]:
    """A folder in memory where there is one (/dev/shm): a thousand folders are copied,
    checked and removed, which a busy disk makes several times slower."""
    if not SHM.is_dir() or not os.access(SHM, os.W_OK):
        yield fallback
        return
    with tempfile.TemporaryDirectory(prefix="fieldvisit-crashes-", dir=SHM) as folder:
        yield Path(folder)


@pytest.fixture()
def work(tmp_path: Path) -> Iterator[Path]:
    with _scratch(tmp_path) as folder:
        yield folder


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baseline]:
    """The folder every crash case starts from (copied), with an app context held for the
    messages the changes translate."""
    with _scratch(tmp_path_factory.mktemp("crashes")) as scratch:
        yield from _baseline(scratch / "data")


def _baseline(folder: Path) -> Iterator[Baseline]:
    app = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "x"})
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(closing_files, "monthly_report_pdf", _summary_pdf)
        patch.setattr(durable, "os", disk)
        _build(app.extensions["fieldvisit.store"])
        store = reopen(folder)
        secrets = secrets_of(store)
        yield Baseline(folder, secrets, snapshot(store, secrets))


# --- the kinds of change -------------------------------------------------------------------


@functools.cache
def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def _record(store: Store, variant: int) -> None:
    # The first visit of its village this month (a new file), then one into an existing one.
    household = (C, A)[variant]
    payload = visit_payload(store.household(household), id=V_NEW[variant], date=THIS)
    record_visit(store, payload, store.user(OWNER), TODAY)


def _correct(store: Store, variant: int) -> None:
    notes = ("更正一", "更正二")[variant]
    payload = visit_payload(store.household(A), id=V_THIS, needs=NEEDS_THIS, notes=notes)
    correct_visit(store, store.visit_by_id(V_THIS), payload, store.user(OWNER), TODAY)


def _photo(store: Store, variant: int) -> None:
    visit = store.visit_by_id(V_THIS)
    add_photo(store, visit, PHOTOS[variant], _jpeg(), store.user(OWNER), TODAY)


def _edit(store: Store, variant: int) -> None:
    # First a household moving village with its visits of two months, then a plain edit.
    hid, changes = ((A, {"village": "王寨村", "head": "马娟娟"}), (B, {"group": "5组"}))[variant]
    household = store.household(hid)
    form = {name: str(getattr(household, name) or "") for name in office.EDITABLE}
    form.update(id_number="", long_absent="", **changes)
    office.edit_household(store, hid, form, ADMIN)


def _import(store: Store, variant: int) -> None:
    header = sample_rows()[0]
    rows = [header]
    for hid, head in ((NEW[variant], "新户主"), (D, ("梁民民", "梁民")[variant])):
        row = dict.fromkeys(header, "")
        row.update({"户编号": hid, "村": "新村" if hid in NEW else "聂河村", "组": "3组"})
        row.update({"户主姓名": head, "家庭人口": "2", "贫困户属性": "低保贫困户"})
        row.update({"主要致贫原因": "因病", "脱贫状态": "未脱贫", "长期不在家": "否"})
        row.update({"帮扶责任人": "李帮扶", "帮扶责任人电话": OTHER})
        rows.append([row[column] for column in header])
    import_registry(store, csv_bytes(rows), f"import-{variant}.csv", ADMIN)


def _transfer(store: Store, variant: int) -> None:
    office.transfer_households(store, (OTHER, OWNER)[variant], FIFTH, ADMIN)


def _deactivate(store: Store, variant: int) -> None:
    office.set_active(store, (THIRD, FOURTH)[variant], False, ADMIN)


def _password(store: Store, variant: int) -> None:
    office.reset_password(store, (THIRD, FOURTH)[variant], ADMIN)


def _need_id(store: Store, month: str, visit: str, variant: int) -> str:
    return sorted(n.id for n in store.needs(month) if n.visit == visit)[variant]


def _resolve(store: Store, variant: int) -> None:
    needs.resolve(store, _need_id(store, PREV[:7], V_PREV, variant), ADMIN, "已解决")


def _reopen_need(store: Store, variant: int) -> None:
    needs.reopen(store, _need_id(store, PREV[:7], V_DONE, variant), ADMIN, "复查未解决")


def _close_month(store: Store, variant: int) -> None:
    close_month(store, (OLDER, PREV)[variant][:7], ADMIN, TODAY)


def _reopen_month(store: Store, variant: int) -> None:
    reopen_month(store, CLOSED[variant], ADMIN, "数字有误")


ONE_VISIT = (part("visits"),)
ONE_REGISTRY = (part("registry"),)
# A helper's account, then their logins: two commits, each whole.
ACCOUNT = (part("registry", "user.password user.deactivate token.revoke"),
           part("sessions", "user.sessions_end"))  # fmt: skip
# Crash points a fold adds to a change, at least: the audit log synced, the file written,
# synced and renamed, the folder synced, the journal removed, the folder synced, in 3 modes.
FOLD_POINTS = 20
KINDS = [
    Kind("visit saved", _record, ONE_VISIT, 15),
    Kind("visit corrected", _correct, ONE_VISIT, 8),
    Kind("photo added", _photo, ONE_VISIT, 36),
    Kind("registry edit", _edit, (part("registry visits"),), 88),
    # An import that changes nothing is still recorded.
    Kind("registry import", _import, ONE_REGISTRY, 8, repeats=True),
    Kind("transfer", _transfer, ONE_REGISTRY, 8, done=(office.AdminError,)),
    Kind("deactivation", _deactivate, ACCOUNT, 16),
    Kind("password reset", _password, ACCOUNT, 16, repeats=True),
    Kind("need resolved", _resolve, ONE_VISIT, 8, done=(needs.LedgerError,)),
    Kind("need reopened", _reopen_need, ONE_VISIT, 8, done=(needs.LedgerError,)),
    Kind("month closed", _close_month, ONE_REGISTRY, 28),
    Kind("month reopened", _reopen_month, ONE_REGISTRY, 8, done=(ClosingError,)),
]


@pytest.mark.parametrize("fold", [False, True], ids=["journal", "fold"])
@pytest.mark.parametrize("kind", KINDS, ids=[k.name.replace(" ", "-") for k in KINDS])
def test_a_crash_at_any_step_leaves_a_change_whole_or_absent(
    kind: Kind,
    fold: bool,
    base: Baseline,
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Any,
) -> None:
    seen = []
    if fold:
        # Every commit folds its journal into its file, so that the fold's steps (the audit
        # log synced, the file rewritten, the journal removed) are crossed too. Kills before
        # the first fold are the journal run's: exercised there.
        seen = learn(kind, base, work).steps
        monkeypatch.setattr(files, "COMPACT_AFTER", 1)
    points = exercise(kind, base, work, seen)
    record_property("crash_points", points)
    assert points >= (FOLD_POINTS if fold else kind.minimum)


def test_the_app_starts_on_a_folder_a_crash_left(base: Baseline, work: Path) -> None:
    # A household moved by an edit killed between its commit and its audit copy: the app's
    # start finishes the move (which folds the registry's journal) before it recovers the
    # audit copies, and the edit is there once with its entry.
    kind = next(k for k in KINDS if k.name == "registry edit")
    commit = learn(kind, base, work).steps.index(("sync", "registry.json.log")) + 1
    folder = shutil.copytree(base.folder, work / "app")
    assert not run_killed(kind, folder, commit)
    app = create_app({"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "x"})
    store = app.extensions["fieldvisit.store"]
    check_folder(store)
    assert store.household(A).village == "王寨村"
    moved = [v for m in store.months() for v in store.visits(m) if v.household == A]
    assert {v.village for v in moved} == {"王寨村"} and len(moved) == 2
    log = [e for m in store.audit_log.months() for e in store.audit_log.read_entries(m)]
    assert [e.target for e in log if e.action == "household.edit"] == [A]
