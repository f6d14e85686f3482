"""A write the disk refuses (full, failing) answers with a clear error, in the user's
language, and leaves nothing of the change behind; the same change goes through once the
disk is back."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit.access.tokens import create_token
from fieldvisit.storage import Store, durable
from fieldvisit.visits.recording import record_visit

MONTH = date.today().isoformat()[:7]


@pytest.fixture()
def failing_disk() -> Iterator[dict[str, int]]:
    """While ``state["on"]`` is set, every append to a journal fails as a full disk does."""
    state = {"on": 0, "failed": 0}

    def hook(kind: str, path: Path) -> None:
        if state["on"] and kind == "append" and path.name.endswith(".log"):
            state["failed"] += 1
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

    durable.faults.hook = hook
    yield state
    durable.faults.hook = None


def _entries(store: Store) -> list[str]:
    return [e.action for m in store.audit_log.months() for e in store.audit_log.read_entries(m)]


def test_the_api_answers_503_and_stores_nothing(client, store, households, failing_disk):
    token = create_token(store, PEOPLE["owner"][0], actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    payload = visit_payload(households["h1"], id="disk-full-visit-0001")
    before = _entries(store)
    failing_disk["on"] = 1
    response = client.post("/api/v1/visits", json=payload, headers=headers)
    assert response.status_code == 503 and failing_disk["failed"] == 1
    assert "磁盘" in response.get_json()["error"] and response.headers["Retry-After"]
    for reader in (store, Store(store.root)):  # the running store and a restart agree
        assert reader.visits(MONTH) == [] and reader.visit_by_id(payload["id"]) is None
    assert _entries(store) == before  # no entry without its change

    failing_disk["on"] = 0
    assert client.post("/api/v1/visits", json=payload, headers=headers).status_code == 201
    assert [v.id for v in Store(store.root).visits(MONTH)] == [payload["id"]]
    assert _entries(Store(store.root)).count("visit.create") == 1


def test_the_office_page_says_so_and_the_need_stays_open(
    client, auth, store, households, failing_disk
):
    visit, _ = record_visit(store, visit_payload(households["h1"]), store.user(PEOPLE["owner"][0]))
    [need] = store.needs(MONTH)
    auth.login("admin")
    data = {"csrf_token": auth.csrf(), "note": "已协调报销"}
    failing_disk["on"] = 1
    response = client.post(f"/needs/{need.id}/resolve", data=data)
    assert response.status_code == 503
    assert "没有保存" in response.get_data(as_text=True)
    assert [n.status for n in Store(store.root).needs(MONTH)] == ["open"]
    assert "need.resolve" not in _entries(store)

    failing_disk["on"] = 0
    assert client.post(f"/needs/{need.id}/resolve", data=data).status_code == 302
    assert [n.status for n in Store(store.root).needs(MONTH)] == ["resolved"]
    assert _entries(Store(store.root)).count("need.resolve") == 1
    assert visit.id


def test_a_registry_change_that_fails_leaves_registry_and_log_as_they_were(
    client, auth, store, households, failing_disk
):
    from fieldvisit.households import office

    h1 = households["h1"]
    failing_disk["on"] = 1
    with pytest.raises(OSError):
        office.set_helpers(store, h1.id, [PEOPLE["other"][0]], PEOPLE["admin"][0])
    for reader in (store, Store(store.root)):
        assert reader.household(h1.id).helpers == h1.helpers
    assert "household.helpers" not in _entries(store)
