"""Background jobs as data: a job is a kind and JSON parameters in its record, claimed by a
worker, beaten while it runs, claimed again when its worker stopped beating, and failed after
too many claims. On both engines, through the store's job book and the app's runner; the
cross-process cases (two apps over one database, a killed process) are in test_pg_jobs."""

from __future__ import annotations

import time

import pytest
from job_helpers import RUNS, gate

from fieldvisit.documents.jobs import JobRunner, get_runner, known_kinds
from fieldvisit.storage.job_book import ABANDONED

OWNER = "13600000001"
PDF = "application/pdf"
KINDS = {"test.echo", "test.gated", "test.broken"}


def _queued(store, job_id: str, key: str, payload: str, created: float) -> None:
    doc = {
        "id": job_id,
        "owner": OWNER,
        "key": key,
        "filename": "a.pdf",
        "mimetype": PDF,
        "kind": "test.echo",
        "params": {"payload": payload},
        "created": created,
        "status": "queued",
        "titles": {"zh": "t", "en": "t"},
    }
    assert store.jobs.add(doc, 10) == (doc, True)


def test_a_job_is_its_kind_and_parameters_in_its_record(app, store):
    runner = JobRunner(app, store, worker=False)
    job = runner.submit(OWNER, "k", "标题", "a.pdf", PDF, "test.echo", {"payload": "甲"})
    stored = store.jobs.get(job.id)
    assert stored["kind"] == "test.echo" and stored["params"] == {"payload": "甲"}
    assert stored["status"] == "queued" and stored["attempts"] in (0, None)
    assert runner.run_one() is True  # a worker anywhere: nothing but the record is needed
    done = runner.wait(job.id, timeout=5)
    assert done.status == "done" and runner.result(done) == "甲".encode()
    assert done.attempts == 1 and done.worker == runner.worker_id
    assert runner.run_one() is False


def test_an_unknown_kind_or_parameters_that_are_not_json_are_refused(app, store):
    runner = JobRunner(app, store, worker=False)
    with pytest.raises(KeyError):
        runner.submit(OWNER, "k", "t", "a.pdf", PDF, "no.such.kind", {})
    with pytest.raises(TypeError):
        runner.submit(OWNER, "k", "t", "a.pdf", PDF, "test.echo", {"payload": object()})
    assert store.jobs.of_owner(OWNER) == []
    assert {"summary", "booklet", "visits", "plates", "reconcile"} <= set(known_kinds())


def test_the_oldest_queued_job_is_claimed_first_and_once(store):
    _queued(store, "job-newer-000000000", "b", "b", created=2000.0)
    _queued(store, "job-older-000000000", "a", "a", created=1000.0)
    first = store.jobs.claim("w1", KINDS, 60, 3)
    second = store.jobs.claim("w2", KINDS, 60, 3)
    assert (first["id"], first["worker"], first["attempts"]) == ("job-older-000000000", "w1", 1)
    assert (second["id"], second["worker"]) == ("job-newer-000000000", "w2")
    assert store.jobs.claim("w3", KINDS, 60, 3) is None  # both running, both alive
    assert store.jobs.claim("w3", {"summary"}, 0, 3) is None  # a kind it does not know


def test_only_the_claiming_worker_writes_to_its_job(store):
    _queued(store, "job-one-00000000000", "a", "a", created=1000.0)
    store.jobs.claim("w1", KINDS, 60, 3)
    assert store.jobs.report("job-one-00000000000", "w2", done=5, total=9) is False
    assert store.jobs.report("job-one-00000000000", "w1", done=1, total=9) is True
    assert store.jobs.get("job-one-00000000000")["done"] == 1


def test_a_job_whose_worker_stopped_beating_is_claimed_again_then_failed(store):
    _queued(store, "job-stale-000000000", "a", "a", created=1000.0)
    store.jobs.claim("dead-1", KINDS, 60, 2)
    time.sleep(0.05)
    again = store.jobs.claim("dead-2", KINDS, 0.01, 2)
    assert (again["worker"], again["attempts"]) == ("dead-2", 2)
    # The worker taken for dead may still be alive: its writes no longer count.
    assert store.jobs.report("job-stale-000000000", "dead-1", status="done") is False
    time.sleep(0.05)
    assert store.jobs.claim("w3", KINDS, 0.01, 2) is None  # two claims were enough
    failed = store.jobs.get("job-stale-000000000")
    assert failed["status"] == "failed" and failed["error"] == ABANDONED


def test_a_worker_taken_over_stops_at_its_next_progress_and_keeps_nothing(app, store):
    runner = JobRunner(app, store, worker=False, heartbeat=0.05)
    name = f"takeover-{id(app)}"
    job = runner.submit(OWNER, "k", "t", "a.pdf", PDF, "test.gated", {"gate": name, "payload": "x"})
    # Another worker claims the job while this one is made to look dead.
    store.jobs.claim("other", KINDS, 60, 3)
    store.jobs.update(job.id, status="queued")
    claimed = store.jobs.claim(runner.worker_id, KINDS, 60, 3)
    assert claimed["worker"] == runner.worker_id
    store.jobs.update(job.id, worker="other")  # taken over while it was waiting
    gate(name).set()
    runner._run(runner.get(job.id, OWNER))  # the worker loop's one step
    after = store.jobs.get(job.id)
    assert after["worker"] == "other" and after["status"] == "running" and not after.get("result")


def test_a_running_job_beats(app, store):
    runner = JobRunner(app, store, worker=True, heartbeat=0.05)
    name = f"beat-{id(app)}"
    job = runner.submit(OWNER, "k", "t", "a.pdf", PDF, "test.gated", {"gate": name, "payload": "x"})
    deadline = time.monotonic() + 10
    while store.jobs.get(job.id)["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    first = store.jobs.get(job.id)["heartbeat"]
    time.sleep(0.3)
    later = store.jobs.get(job.id)["heartbeat"]
    gate(name).set()
    assert later > first
    assert runner.wait(job.id, timeout=10).status == "done"


def test_every_queued_job_is_made_exactly_once(app, store):
    runner = get_runner(app)
    payloads = [f"once-{id(app)}-{n}" for n in range(6)]
    jobs = [
        runner.submit(f"1360000000{n}", f"k{n}", "t", "a.pdf", PDF, "test.echo", {"payload": p})
        for n, p in enumerate(payloads)
    ]
    for job in jobs:
        assert runner.wait(job.id, timeout=20).status == "done"
    assert [RUNS[p] for p in payloads] == [1] * len(payloads)
