"""Throughput with one and with two server processes over one PostgreSQL database: the
issue's target is that ``run.py --workers 2`` serves at least 1.6 times what ``--workers 1``
serves at saturation on this 2-core machine, with nothing lost or stored twice.

The demo township (one month of history) is built once and copied into a fresh database for
each run; ``run.py --workers N`` serves it on 127.0.0.1 in its own processes, as in
production. The load saturates: ``--clients`` demo helpers (24: enough to keep 2 × 8 waitress
threads busy) log in through the real form first, outside the measurement, then each sends,
with no think time, what a phone sends at a door: GET the household's page ``/h/<token>``,
then POST ``/api/v1/visits`` (a fresh client id). The generator is kept cheap, since it
shares the two cores with the servers and the database: raw ``http.client`` on keep-alive
connections, the visits' JSON made before the clock starts, one CSRF token per login.

Requests answered 2xx in the measured window (after ``--warmup`` seconds) count towards the
rate; any other answer or a failed connection is an error. After each run every acknowledged
visit id (201, or 200 for a resend) must be stored exactly once. CPU seconds of the app
processes, of the database's backends and of the generator are printed with the machine's
load average, so that a missed ratio can be read for what it is.

Run: ``.venv/bin/python bench/bench_workers.py [--clients 24] [--seconds 30]
[--database-url URL]`` (without a URL a throwaway cluster with durable defaults). Exits 1 when
the ratio is below ``--min-ratio`` (1.6), or on any error, lost or doubled visit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder

import bench_load  # noqa: E402
import engines  # noqa: E402

HOST = bench_load.HOST


@dataclass
class Tally:
    """One client's answers: (kind, sent, seconds, status), and its acknowledged visits."""

    samples: list[tuple[str, float, float, int]] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Phone(threading.Thread):
    """A logged-in helper sending page, visit, page, visit … without pause."""

    def __init__(self, port: int, cookie: str, csrf: str, pages: list[str], bodies: list[bytes]):
        super().__init__(daemon=True)
        self.port, self.pages, self.bodies = port, pages, bodies
        self.get_headers = {"Cookie": cookie}
        self.post_headers = {
            "Cookie": cookie,
            "X-CSRFToken": csrf,
            "Content-Type": "application/json",
        }
        self.start_at = self.stop_at = 0.0
        self.tally = Tally()

    def run(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        time.sleep(max(0.0, self.start_at - time.monotonic()))
        n = 0
        while time.monotonic() < self.stop_at and n < len(self.bodies):
            page = self.pages[n % len(self.pages)]
            if self._send(conn, "page", "GET", page, None, self.get_headers) is None:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
                continue
            status = self._send(conn, "visit", "POST", "/api/v1/visits", self.bodies[n], None)
            if status is None:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
                continue  # the same body again: its id makes a resend exactly-once
            if status in (200, 201):
                self.tally.acknowledged.append(json.loads(self.bodies[n])["id"])
            n += 1
        conn.close()

    def _send(
        self,
        conn: http.client.HTTPConnection,
        kind: str,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str] | None,
    ) -> int | None:
        sent = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers or self.post_headers)
            response = conn.getresponse()
            answer = response.read()
        except bench_load.CONNECTION_ERRORS as exc:
            conn.close()
            self.tally.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            return None
        self.tally.samples.append((kind, sent, time.monotonic() - sent, response.status))
        if not 200 <= response.status < 300:
            self.tally.errors.append(f"{kind}: {response.status} {answer[:200]!r}")
        return response.status


def visit_bodies(households: list[tuple[str, str]], keys: list[str], count: int) -> list[bytes]:
    from fieldvisit.vocab import GUARANTEES

    today = dt.date.today().isoformat()
    return [
        json.dumps(
            {
                "id": str(uuid.uuid4()),
                "household": households[n % len(households)][0],
                "date": today,
                "kind": "in_person",
                "guarantees": dict.fromkeys(GUARANTEES, True),
                "environment": dict.fromkeys(keys, True),
                "helped_clean": True,
                "needs": [],
                "satisfaction": "satisfied",
                "notes": "院子已打扫，被褥叠放整齐",
            },
            ensure_ascii=False,
        ).encode()
        for n in range(count)
    ]


def log_in(helper: bench_load.Helper, port: int) -> tuple[str, str, list[str]]:
    """A session cookie, its CSRF token and the checklist's keys, through the real form."""
    from fieldvisit.demo import DEMO_PASSWORD

    results, outage = bench_load.Results(), bench_load.Outage()
    phone = bench_load.Client(helper, DEMO_PASSWORD, port, 0, 0, 0, results, outage, 0)
    if not phone.log_in():
        raise SystemExit(f"{helper.phone} could not log in: {results.error_examples}")
    got = phone.request("csrf", "GET", "/api/v1/csrf")
    assert got is not None and got[0] == 200
    phone._drop_connection()
    cookie = "; ".join(f"{k}={v}" for k, v in phone.cookies.items())
    return cookie, json.loads(got[1])["csrf_token"], phone.keys


def cpu_seconds(match: Any) -> float:
    """utime + stime of the processes whose (pid, ppid, cmdline) ``match`` accepts."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if match(int(entry.name), int(stat[1]), cmdline):
            total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return total


def machine_seconds() -> tuple[float, float]:
    """The whole machine's idle and stolen CPU seconds so far (``/proc/stat``: steal is time
    the hypervisor gave this VM's cores to others while they had work): a VM given less than
    its cores cannot show two processes serving twice what one does."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    idle = int(fields[4]) + int(fields[5])  # idle + iowait
    steal = int(fields[8]) if len(fields) > 8 else 0
    return idle / tick, steal / tick


def run(
    workers: int, template: Path, parent: Path, helpers: list[Any], args: Any
) -> dict[str, Any]:
    """One run against ``run.py --workers N``: requests a second, latency, CPU, and checks."""
    data = parent / f"w{workers}"
    shutil.copytree(template, data)
    location = engines.place(data, args.pg_server)
    database = location.rsplit("dbname=", 1)[-1].split()[0]
    before = bench_load.stored_ids(location)
    port = bench_load.free_port()
    server = bench_load.Server(
        location, port, args.threads, parent / f"w{workers}.log", None, workers
    )
    server.start()
    try:
        phones = []
        for helper in helpers:
            cookie, csrf, keys = log_in(helper, port)
            pages = [f"/h/{token}" for _id, token in helper.households]
            bodies = visit_bodies(helper.households, keys, 20_000 // len(helpers))
            phones.append(Phone(port, cookie, csrf, pages, bodies))
        assert server.proc is not None
        pid = server.proc.pid

        def app(p: int, ppid: int, _cmd: str) -> bool:
            return p == pid or ppid == pid

        def db(_p: int, _ppid: int, cmd: str) -> bool:
            return cmd.startswith("postgres:") and f" {database} " in cmd

        begin = time.monotonic() + 0.5
        window = (begin + args.warmup, begin + args.warmup + args.seconds)
        for phone in phones:
            phone.start_at, phone.stop_at = begin, window[1]
            phone.start()
        time.sleep(max(0.0, window[0] - time.monotonic()))
        cpu0 = (
            cpu_seconds(app),
            cpu_seconds(db),
            time.process_time(),
            os.getloadavg()[0],
            *machine_seconds(),
        )
        time.sleep(max(0.0, window[1] - time.monotonic()))
        cpu1 = (
            cpu_seconds(app),
            cpu_seconds(db),
            time.process_time(),
            os.getloadavg()[0],
            *machine_seconds(),
        )
        for phone in phones:
            phone.join(timeout=120)
    except BaseException:
        print(f"server log (--workers {workers}), its end:", file=sys.stderr)
        print(server.log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        server.stop()
    after = bench_load.stored_ids(location)
    return summarise(workers, phones, window, before, after, cpu0, cpu1)


def summarise(
    workers: int,
    phones: list[Phone],
    window: tuple[float, float],
    before: Counter[str],
    after: Counter[str],
    cpu0: tuple[float, ...],
    cpu1: tuple[float, ...],
) -> dict[str, Any]:
    samples = [s for p in phones for s in p.tally.samples if window[0] <= s[1] < window[1]]
    ok = [s for s in samples if 200 <= s[3] < 300]
    acknowledged = [i for p in phones for i in p.tally.acknowledged]
    new = after - before
    return {
        "workers": workers,
        "rate": len(ok) / (window[1] - window[0]),
        "visits": sum(1 for s in ok if s[0] == "visit") / (window[1] - window[0]),
        "median": statistics.median(s[2] for s in ok) * 1000 if ok else float("nan"),
        "p95": bench_load.percentile([s[2] for s in ok], 0.95) * 1000 if ok else float("nan"),
        "errors": [e for p in phones for e in p.tally.errors],
        "lost": [i for i in acknowledged if after[i] == 0],
        "doubled": [i for i, n in new.items() if n > 1] + [i for i in acknowledged if after[i] > 1],
        "acknowledged": len(acknowledged),
        "stuck": sum(p.is_alive() for p in phones),
        "cpu": [b - a for a, b in zip(cpu0[:3], cpu1[:3], strict=True)],
        "load": (cpu0[3], cpu1[3]),
        "idle": cpu1[4] - cpu0[4],
        "steal": cpu1[5] - cpu0[5],
        "seconds": window[1] - window[0],
    }


def per_core(result: dict[str, Any]) -> float:
    """Requests a second per core the app processes were given: what the processes make of
    the CPU they get, whatever else the machine runs."""
    app_cores = result["cpu"][0] / result["seconds"]
    return result["rate"] / app_cores if app_cores else 0.0


def show(result: dict[str, Any]) -> None:
    app, db, generator = result["cpu"]
    seconds = result["seconds"]
    print(
        f"--workers {result['workers']}: {result['rate']:7.1f} requests/s"
        f" ({result['visits']:.1f} visits/s), median {result['median']:.1f} ms,"
        f" p95 {result['p95']:.1f} ms"
    )
    print(
        f"    CPU in the window (cores): app {app / seconds:.2f}, PostgreSQL {db / seconds:.2f},"
        f" generator {generator / seconds:.2f}; load average {result['load'][0]:.1f}"
        f" → {result['load'][1]:.1f}; {per_core(result):.0f} requests per app core-second"
    )
    print(
        f"    the machine (cores): idle {result['idle'] / seconds:.2f},"
        f" taken by the hypervisor (steal) {result['steal'] / seconds:.2f}"
    )
    print(
        f"    acknowledged {result['acknowledged']}, lost {len(result['lost'])},"
        f" stored twice {len(result['doubled'])}, errors {len(result['errors'])}"
        + (f" e.g. {result['errors'][:3]}" if result["errors"] else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=30, help="measured, per run")
    parser.add_argument("--warmup", type=float, default=5, help="unmeasured, per run")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per process")
    parser.add_argument("--min-ratio", type=float, default=1.6)
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: temp)")
    engines.add_arguments(parser)
    parser.set_defaults(engine="postgresql")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 357 or not 1 <= args.seconds <= 3600:
        parser.error("--clients must be 1..357 and --seconds 1..3600")
    parent = Path(tempfile.mkdtemp(prefix="fieldvisit-bench-workers-", dir=args.dir))
    try:
        with engines.server_url(args) as args.pg_server:
            print(f"building the demo township in {parent} …", flush=True)
            template, helpers = bench_load.build(parent)
            chosen = helpers[: args.clients]
            results = [run(n, template, parent, chosen, args) for n in (1, 2)]
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    for result in results:
        show(result)
    ratio = results[1]["rate"] / results[0]["rate"] if results[0]["rate"] else 0.0
    clean = all(
        not r["errors"] and not r["lost"] and not r["doubled"] and not r["stuck"] for r in results
    )
    verdict = "ok" if ratio >= args.min_ratio and clean else "MISSED"
    print(f"ratio 2 processes / 1: {ratio:.2f} (target ≥ {args.min_ratio}) {verdict}")
    # When the machine is shared, two processes may get little more CPU than one: the
    # throughput per core they were given tells whether they got in each other's way.
    cores = [r["cpu"][0] / r["seconds"] for r in results]
    print(
        f"app cores given: {cores[0]:.2f} → {cores[1]:.2f}; requests per app core-second"
        f" {per_core(results[0]):.0f} → {per_core(results[1]):.0f}"
    )
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
