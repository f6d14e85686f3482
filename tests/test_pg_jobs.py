"""Several server processes over one PostgreSQL database: a background job queued by one is
made by another, a job whose process died is taken over, nothing is made twice, and a login
made on one server counts (and ends) on the others. Two apps over one schema stand for two
processes; the last test runs a real second process and kills it with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from helpers import PEOPLE, Auth, seed
from job_helpers import RUNS, gate

from fieldvisit import STORE_KEY, create_app
from fieldvisit.documents.jobs import EXTENSION_KEY, JobRunner, get_runner, start_worker

pytestmark = pytest.mark.skipif(
    not os.environ.get("FIELDVISIT_TEST_DATABASE_URL"), reason="several processes: PostgreSQL"
)
MONTH = date.today().isoformat()[:7]
OWNER = PEOPLE["admin"][0]
PDF = "application/pdf"
TESTS = Path(__file__).resolve().parent


def _server(folder: Path, worker: bool) -> tuple[Flask, JobRunner]:
    """An app over the database of ``folder`` (one schema per folder in the test run), as a
    server process would make it; ``worker=False``: it queues jobs but makes none."""
    app = create_app(
        {"TESTING": True, "DATA_DIR": str(folder), "SECRET_KEY": "test-secret"}
        | {"BASE_URL": "http://fieldvisit.test"}
    )
    runner = JobRunner(app, app.extensions[STORE_KEY], worker=worker, stale_after=0.5)
    app.extensions[EXTENSION_KEY] = runner
    return app, runner


@pytest.fixture()
def two(tmp_path: Path) -> tuple[tuple[Flask, JobRunner], tuple[Flask, JobRunner]]:
    first = _server(tmp_path / "data", worker=False)
    seed(first[0].extensions[STORE_KEY])
    return first, _server(tmp_path / "data", worker=True)


def test_a_job_queued_on_one_server_is_made_and_served_by_another(two):
    (app_a, _runner_a), (app_b, runner_b) = two
    client_a, client_b = app_a.test_client(), app_b.test_client()
    Auth(client_a).login("admin")
    asked = client_a.post(
        "/reports", data={"kind": "summary", "month": MONTH, "csrf_token": Auth(client_a).csrf()}
    )
    assert asked.status_code == 303
    job_id = asked.headers["Location"].rsplit("/", 1)[1]
    runner_b.start()
    job = runner_b.wait(job_id, timeout=60)
    assert job.status == "done", job.error
    assert job.worker == runner_b.worker_id and job.attempts == 1
    # The login made on A counts on B (the cookie alone: the record is in the database).
    client_b.set_cookie("session", client_a.get_cookie("session").value)
    got = client_b.get(f"/reports/jobs/{job_id}/download")
    assert got.status_code == 200 and got.data.startswith(b"%PDF")
    assert client_a.get(f"/reports/jobs/{job_id}.json").get_json()["status"] == "done"
    # Someone else does not see it on either server.
    other = app_b.test_client()
    Auth(other).login("supervisor")
    assert other.get(f"/reports/jobs/{job_id}/download").status_code == 404
    # Logging out on B ends the login on A too.
    client_b.post("/logout", data={"csrf_token": Auth(client_b).csrf()})
    assert client_a.get(f"/reports/jobs/{job_id}.json").status_code == 302


def test_a_job_whose_worker_died_is_taken_over(two):
    (_app_a, runner_a), (_app_b, runner_b) = two
    job = runner_a.submit(OWNER, "k", "t", "a.pdf", PDF, "test.echo", {"payload": "taken over"})
    # A process claimed it, then died without a word: its heartbeat stops.
    dead = runner_a.store.jobs.claim("gone:1:dead", {"test.echo"}, 60, 3)
    assert dead["id"] == job.id and dead["worker"] == "gone:1:dead"
    runner_b.start()
    done = runner_b.wait(job.id, timeout=30)
    assert done.status == "done" and done.worker == runner_b.worker_id and done.attempts == 2
    assert runner_a.result(done) == b"taken over"


def test_two_workers_make_every_job_once(two):
    (app_a, runner_a), (app_b, runner_b) = two
    runner_a.runs_worker = True
    payloads = [f"both-{id(app_a)}-{n}" for n in range(10)]
    jobs = [
        (runner_a if n % 2 else runner_b).submit(
            f"1360000{n:04d}", f"k{n}", "t", "a.pdf", PDF, "test.echo", {"payload": p}
        )
        for n, p in enumerate(payloads)
    ]
    made = [runner_a.wait(j.id, timeout=30) for j in jobs]
    assert all(j.status == "done" and j.attempts == 1 for j in made)
    assert [RUNS[p] for p in payloads] == [1] * len(payloads)
    assert {j.worker for j in made} <= {runner_a.worker_id, runner_b.worker_id}
    assert get_runner(app_b) is runner_b


def test_a_killed_server_process_leaves_its_job_to_another(two, tmp_path):
    (app_a, runner_a), _b = two
    url = app_a.config["DATABASE_URL"]
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(TESTS)!r})
        import job_helpers
        from fieldvisit import create_app
        from fieldvisit.documents.jobs import start_worker
        app = create_app({{"DATABASE_URL": {url!r}, "DATABASE_POOL": 3,
                          "SECRET_KEY": "x", "DATA_DIR": {str(tmp_path / "other")!r}}})
        start_worker(app)
        print("ready", flush=True)
        time.sleep(120)
        """
    )
    other = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "ready"
        first = runner_a.submit(OWNER, "a", "t", "a.pdf", PDF, "test.echo", {"payload": "there"})
        made = runner_a.wait(first.id, timeout=30)
        assert made.status == "done" and f":{other.pid}:" in made.worker
        name = f"killed-{id(app_a)}"
        params = {"gate": name, "payload": "here", "timeout": 120}
        second = runner_a.submit(OWNER, "b", "t", "b.pdf", PDF, "test.gated", params)
        deadline = time.monotonic() + 30
        while runner_a.get(second.id, OWNER).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(other.pid, signal.SIGKILL)
        other.wait(10)
    finally:
        other.kill()
        other.wait(10)
        if other.stdout:
            other.stdout.close()
    gate(name).set()
    start_worker(app_a)
    done = runner_a.wait(second.id, timeout=30)
    assert done.status == "done" and done.attempts == 2 and done.worker == runner_a.worker_id
    assert runner_a.result(done) == b"here"
