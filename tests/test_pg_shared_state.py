"""What several server processes share on PostgreSQL besides jobs: a login's changes read
and lock only its own account's rows, and expired login-limit counts are swept."""

from __future__ import annotations

import os
import time

import pytest

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
