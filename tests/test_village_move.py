"""A household that changes village (an edit, a re-import after villages merged, a misspelt
village corrected) keeps its visits and needs: they are carried into the new village's files,
and a move cut short by a crash is finished on the next start."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import PEOPLE, csrf_from, visit_payload

from fieldvisit import create_app
from fieldvisit.households import lookup as households
from fieldvisit.models import Household, Village, Visit
from fieldvisit.months import previous_month, this_month
from fieldvisit.storage import Registry, Store, moves
from fieldvisit.storage.files import Files
from fieldvisit.storage.visit_files import VisitFiles
from fieldvisit.visits import needs
from fieldvisit.visits import recording as visits
from fieldvisit.visits.validation import validate

TODAY = date.today()
THIS_MONTH = this_month(TODAY)
LAST_MONTH = previous_month(THIS_MONTH)
OLD, NEW = "聂河村", "新河村"
H1 = "4117210010001"


def _visit_id(n: int) -> str:
    return f"a1b2c3d4-0000-4000-8000-00000000000{n}"


@pytest.fixture()
def visited(store: Store, households: dict[str, Household]) -> Store:
    """h1 (of 聂河村) visited this month and last month, each raising a need."""
    admin = store.user(PEOPLE["admin"][0])
    owner = store.user(PEOPLE["owner"][0])
    h1 = households["h1"]
    last = TODAY.replace(day=1).toordinal() - 1
    payload = visit_payload(h1, id=_visit_id(1), date=date.fromordinal(last).isoformat())
    visits.record_visit(store, payload, admin, TODAY)  # 补录 by the office
    visits.record_visit(store, visit_payload(h1, id=_visit_id(2)), owner, TODAY)
    return store


def move(store: Store, household_id: str, village: str) -> None:
    def change(reg: Registry) -> None:
        reg.households[household_id].village = village
        reg.villages.setdefault(village, Village(village))

    store.update_registry(change)


def ids_in(store: Store, month: str, village: str) -> tuple[set[str], set[str]]:
    return (
        {v.id for v in store.visits(month, village)},
        {n.visit for n in store.needs(month, village)},
    )


def test_its_visits_and_needs_follow_it(visited: Store) -> None:
    move(visited, H1, NEW)
    assert ids_in(visited, LAST_MONTH, NEW) == ({_visit_id(1)}, {_visit_id(1)})
    assert ids_in(visited, THIS_MONTH, NEW) == ({_visit_id(2)}, {_visit_id(2)})
    for month in (LAST_MONTH, THIS_MONTH):
        assert ids_in(visited, month, OLD) == (set(), set())
        assert {v.village for v in visited.visits(month)} == {NEW}
        assert {n.village for n in visited.needs(month)} == {NEW}
    assert visited.registry().moves == []
    h1 = visited.household(H1)
    history = visits.household_visits(visited, h1, [THIS_MONTH, LAST_MONTH])
    assert [v.id for v in history] == [_visit_id(2), _visit_id(1)]
    assert len(households.open_needs(visited, h1)) == 2


def test_the_moved_records_can_still_be_corrected_and_resolved(visited: Store) -> None:
    move(visited, H1, NEW)
    owner = visited.user(PEOPLE["owner"][0])
    original = visits.household_visits(visited, visited.household(H1), [THIS_MONTH])[0]
    payload = visit_payload(visited.household(H1), id=original.id, notes="改正")
    corrected = visits.correct_visit(visited, original, payload, owner, TODAY)
    assert corrected.version == 2 and corrected.village == NEW
    (need,) = [n for n in visited.needs(LAST_MONTH) if n.household == H1]
    resolved = needs.resolve(visited, need.id, PEOPLE["admin"][0], "已报销")
    assert resolved.status == "resolved" and resolved.village == NEW


def test_a_resend_after_the_move_is_still_stored_once(visited: Store) -> None:
    move(visited, H1, NEW)
    owner = visited.user(PEOPLE["owner"][0])
    payload = visit_payload(visited.household(H1), id=_visit_id(2))
    _stored, created = visits.record_visit(visited, payload, owner, TODAY)
    assert not created
    assert [v.id for v in visited.visits(THIS_MONTH)] == [_visit_id(2)]


def test_a_save_that_looked_the_household_up_before_the_move_lands_in_the_new_village(
    visited: Store,
) -> None:
    stale = visited.household(H1)
    move(visited, H1, NEW)
    owner = visited.user(PEOPLE["owner"][0])
    payload = visit_payload(visited.household(H1), id=_visit_id(3))
    # What a request that read the registry a moment before the move would build.
    _household, fields = validate(visited, payload, owner, TODAY)
    fields["village"] = stale.village
    record = Visit(**fields, created_at="t", updated_at="t")
    stored, created = visited.save_visit(record, lambda existing: record, visits.needs_of)
    assert created and stored.village == NEW
    assert _visit_id(3) in ids_in(visited, THIS_MONTH, NEW)[0]
    assert ids_in(visited, THIS_MONTH, OLD) == (set(), set())


def test_moving_back_and_on_again_loses_nothing(visited: Store) -> None:
    move(visited, H1, NEW)
    move(visited, H1, OLD)
    move(visited, H1, "第三村")
    assert ids_in(visited, LAST_MONTH, "第三村") == ({_visit_id(1)}, {_visit_id(1)})
    assert len(visited.visits(LAST_MONTH)) == len(visited.visits(THIS_MONTH)) == 1


def test_other_households_of_the_old_village_stay(visited: Store) -> None:
    admin = visited.user(PEOPLE["admin"][0])
    h2 = visited.household("4117210020001")  # of 王寨村
    visits.record_visit(visited, visit_payload(h2, id=_visit_id(4)), admin, TODAY)
    move(visited, "4117210020001", OLD)  # into h1's village, beside h1's records
    assert ids_in(visited, THIS_MONTH, OLD)[0] == {_visit_id(2), _visit_id(4)}
    assert visited.visits(THIS_MONTH, "王寨村") == []


def test_a_move_cut_short_by_a_crash_is_finished_on_the_next_start(
    visited: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry is written first, with the move in it; a crash before the records are
    carried over (or after they were copied and before they were removed) leaves work that
    the next start completes, without a record lost or doubled."""
    copy_once = moves._move_records

    def crash_after_copy(
        files: Files, visit_files: VisitFiles, month: str, source: str, targets: dict[str, str]
    ) -> None:
        # Copy the records into the new village, then die before removing them from the old.
        path = visit_files.path(month, source)
        data = files.read(path).data if path.exists() else {}
        with files.transaction(visit_files.path(month, NEW)) as db:
            for table in ("visits", "needs"):
                docs = [d for d in data.get(table, {}).values() if d.get("household") == H1]
                if docs:
                    db.table(table, cache_size=0).insert_multiple(
                        {**d, "village": NEW} for d in docs
                    )
        raise KeyboardInterrupt  # stands for kill -9

    monkeypatch.setattr(moves, "_move_records", crash_after_copy)
    with pytest.raises(KeyboardInterrupt):
        move(visited, H1, NEW)
    monkeypatch.setattr(moves, "_move_records", copy_once)
    assert visited.registry().moves == [{"household": H1, "from": OLD}]

    app = create_app({"TESTING": True, "DATA_DIR": str(visited.root), "SECRET_KEY": "x"})
    after: Store = app.extensions["fieldvisit.store"]
    assert after.registry().moves == []
    for month, visit_id in ((LAST_MONTH, _visit_id(1)), (THIS_MONTH, _visit_id(2))):
        assert [v.id for v in after.visits(month)] == [visit_id]
        assert [n.visit for n in after.needs(month)] == [visit_id]
        assert ids_in(after, month, NEW) == ({visit_id}, {visit_id})


def test_the_office_edits_the_village_and_the_helper_still_sees_the_history(
    client, auth, visited: Store
) -> None:
    auth.login("admin")
    page = client.get(f"/office/households/{H1}/edit").get_data(as_text=True)
    h1 = visited.household(H1)
    form = {
        "village": NEW,
        "group": h1.group,
        "head": h1.head,
        "members": str(h1.members),
        "attribute": h1.attribute,
        "cause": h1.cause,
        "status": h1.status,
        "exit_year": "",
        "phone": h1.phone,
        "id_number": "",
        "csrf_token": csrf_from(page),
    }
    assert client.post(f"/office/households/{H1}/edit", data=form).status_code == 302
    auth.login("owner")  # the same browser, now the helper's
    html = client.get(f"/h/{h1.token}").get_data(as_text=True)
    assert NEW in html
    assert html.count("慢性病用药报销") >= 2  # both months' needs, still open
