"""What several server processes share on PostgreSQL besides jobs: a login's changes read
and lock only its own account's rows, expired login-limit counts are swept, and an API call's
first read (its address's count with the registry's version) is one statement that still sees
what another server changed, and a first save is one more; a household page's reads do not
grow with the months of its history."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
from helpers import PEOPLE, visit_payload

from fieldvisit.access.tokens import create_token, revoke_tokens
from fieldvisit.models import LoginSession

pytestmark = pytest.mark.skipif(
    not os.environ.get("FIELDVISIT_TEST_DATABASE_URL"), reason="PostgreSQL's own tables"
)


def _login(digest: str, phone: str) -> LoginSession:
    return LoginSession(digest, phone, "2026-12-01T08:00:00+08:00", "2026-12-01", "stamp")


def test_a_change_for_one_account_sees_and_writes_only_its_rows(store):
    def add(sessions):
        for digest, phone in (("a1", "13900000001"), ("a2", "13900000001"), ("b1", "139b")):
            sessions[digest] = _login(digest, phone)

    store.sessions.update(add)
    seen = store.sessions.update(lambda sessions: sorted(sessions), phone="13900000001")
    assert seen == ["a1", "a2"]

    def drop_all(sessions):
        sessions.clear()  # "every record it was given": the account's only

    store.sessions.update(drop_all, phone="13900000001")
    assert sorted(store.sessions.all()) == ["b1"]
    assert store.sessions.get("b1").phone == "139b"


def test_expired_login_limit_counts_are_swept(app, store, monkeypatch):
    from fieldvisit.storage.pg import ratelimit

    limits = ratelimit.PgLimitStorage(store.limits_uri)
    with store.db.transaction() as conn:
        conn.execute(
            "INSERT INTO rate_limits (key, count, expires) VALUES ('old', 3, %s), ('live', 1, %s)",
            (time.time() - 10, time.time() + 600),
        )
    monkeypatch.setattr(ratelimit, "SWEEP_EVERY", 1)  # this write sweeps
    assert limits.incr("new", 60) == 1
    with store.db.connection() as conn:
        keys = sorted(r[0] for r in conn.execute("SELECT key FROM rate_limits"))
    assert keys == ["live", "new"]
    assert limits.get("live") == 1


def test_a_forked_server_process_opens_its_own_pool_for_the_counts(store):
    """Found by ``run.py --workers 2``: the children used the parent's connection for the
    counts, all at once, and logins failed with "prepared statement already exists"."""
    from fieldvisit.storage.pg import ratelimit

    name = store.limits_uri.split("://", 1)[1]
    parents = ratelimit._database(name)
    saved = dict(ratelimit._pools)
    try:
        ratelimit._forget_after_fork()  # what a forked child runs first
        own = ratelimit._database(name)
        assert own is not parents
        assert ratelimit.PgLimitStorage(store.limits_uri).db is own
        own.close()
    finally:
        ratelimit._pools.clear()
        ratelimit._pools.update(saved)


def _statements(monkeypatch) -> list[str]:
    """The text of every statement sent from now on, by any connection."""
    sent: list[str] = []
    original = psycopg.Connection.execute

    def execute(self, query, *args, **kwargs):
        sent.append(str(query))
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", execute)
    return sent


def test_an_api_call_reads_its_address_count_and_the_registry_in_one_statement(
    client, store, households, monkeypatch
):
    headers = {"Authorization": "Bearer " + create_token(store, PEOPLE["owner"][0], "test")}
    assert client.get("/api/v1/households", headers=headers).status_code == 200  # use noted
    sent = _statements(monkeypatch)
    assert client.get("/api/v1/households", headers=headers).status_code == 200
    first = [q for q in sent if "rate_limits" in q or "registry_version" in q]
    assert len(first) == 1, first
    assert "rate_limits" in first[0] and "registry_version" in first[0]


def test_that_first_read_sees_a_token_revoked_by_another_server(app, client, store, households):
    from fieldvisit.storage.pg import PgStore

    owner = PEOPLE["owner"][0]
    headers = {"Authorization": "Bearer " + create_token(store, owner, "test")}
    assert client.get("/api/v1/households", headers=headers).status_code == 200
    other = PgStore(app.config["DATABASE_URL"], pool_size=2)  # another server's process
    try:
        assert revoke_tokens(other, owner, actor="test") == 1
    finally:
        other.close()
    assert client.get("/api/v1/households", headers=headers).status_code == 401


def test_a_first_save_is_one_statement_after_the_first_read(client, store, households, monkeypatch):
    """The address's count with the registry; then the visit with its needs and audit
    entry, in one statement that is its own transaction. Each statement is a wake-up of the
    database's process, on a helping day when the cores are busy."""
    headers = {"Authorization": "Bearer " + create_token(store, PEOPLE["owner"][0], "test")}
    assert client.get("/api/v1/households", headers=headers).status_code == 200  # use noted
    sent = _statements(monkeypatch)
    payload = visit_payload(households["h1"])
    assert client.post("/api/v1/visits", json=payload, headers=headers).status_code == 201
    assert len(sent) == 2, sent
    assert "INSERT INTO visits" in sent[1] and "INSERT INTO audit" in sent[1]
    saved = store.visit_by_id(payload["id"])
    assert saved is not None
    assert [e.target for e in store.audit_log.entries(saved.month)].count(payload["id"]) == 1
    # Sent again: the id is taken, so the first try writes nothing and the save decides
    # on the stored visit (a resend: answered with it, nothing written).
    again = client.post("/api/v1/visits", json=payload, headers=headers)
    assert again.status_code == 200
    assert [e.target for e in store.audit_log.entries(saved.month)].count(payload["id"]) == 1
    assert store.visit_by_id(payload["id"]) == saved


def test_a_first_save_is_decided_again_when_another_server_changed_the_registry(
    app, client, store, households, monkeypatch
):
    """The first try is decided on the registry the request read; another server closes
    the month before it is written: nothing is written, and the save, decided again on the
    registry under its locks, is refused."""
    from fieldvisit.storage.pg import PgStore
    from fieldvisit.storage.pg.visits import VisitTables

    headers = {"Authorization": "Bearer " + create_token(store, PEOPLE["owner"][0], "test")}
    payload = visit_payload(households["h1"])
    first_try = VisitTables._save_new

    def meanwhile(self, *args):
        other = PgStore(app.config["DATABASE_URL"], pool_size=2)
        try:
            other.set_month(payload["date"][:7], lambda _old: {"state": "closed"}, lambda _new: [])
        finally:
            other.close()
        return first_try(self, *args)

    monkeypatch.setattr(VisitTables, "_save_new", meanwhile)
    answer = client.post("/api/v1/visits", json=payload, headers=headers)
    assert answer.status_code == 409
    assert store.visit_by_id(payload["id"]) is None


def test_a_first_save_waits_for_a_registry_change_in_flight_and_then_sees_it(
    app, client, store, households
):
    """A registry change holds the version row; a first save decided on the version before
    it waits, then writes nothing (the version moved), and is decided again under locks."""
    import dataclasses
    import threading

    headers = {"Authorization": "Bearer " + create_token(store, PEOPLE["owner"][0], "test")}
    payload = visit_payload(households["h1"])
    assert client.post("/api/v1/visits", json=payload, headers=headers).status_code == 201
    visit = dataclasses.replace(store.visit_by_id(payload["id"]), id="b" + payload["id"][1:])
    registry, (version, _xmin) = store._read_pinned()
    change = psycopg.connect(app.config["DATABASE_URL"])  # another server's registry change
    answer: dict[str, object] = {}
    try:
        change.execute("SELECT version FROM registry_version FOR UPDATE")
        change.execute("UPDATE registry_version SET version = version + 1")
        first = threading.Thread(
            target=lambda: answer.update(
                saved=store._visits._save_new(
                    visit, lambda _e: visit, lambda _r, _s: [], None, registry, version
                )
            )
        )
        first.start()
        first.join(0.5)
        assert first.is_alive()  # waiting for the change
        change.commit()
        first.join(10)
    finally:
        change.close()
    assert answer == {"saved": None}
    assert store.visit_by_id(visit.id) is None


def test_a_household_pages_statements_do_not_grow_with_its_history(
    auth, client, store, households, monkeypatch
):
    """Ten years are 120 months: a statement a month was 120 round trips for the open
    needs alone, on the page a helper opens at every door."""
    import dataclasses
    import datetime as dt

    household = households["h1"]
    headers = {"Authorization": "Bearer " + create_token(store, PEOPLE["owner"][0], "test")}
    payload = visit_payload(household, needs=[{"category": "medical", "description": "复查"}])
    assert client.post("/api/v1/visits", json=payload, headers=headers).status_code == 201
    auth.login("owner")
    page = f"/h/{household.token}"
    assert client.get(page).status_code == 200
    sent = _statements(monkeypatch)
    assert client.get(page).status_code == 200
    few = len(sent)
    stored = store.visit_by_id(payload["id"])
    first = dt.date.fromisoformat(stored.date).replace(day=1)
    past = [first - dt.timedelta(days=31 * n) for n in range(1, 25)]
    store.import_visits(
        [dataclasses.replace(stored, id=f"old-{d:%Y-%m}", date=d.isoformat()) for d in past], []
    )
    sent.clear()
    answer = client.get(page + "?all=1")
    assert answer.status_code == 200
    assert len(sent) <= few + 1, sent  # ?all=1 asks which months there are
    assert answer.get_data(as_text=True).count("复查") >= 1
