"""Load on the helping day: many helpers log in and send visits at once, against the real
production server; then the same with the server killed (``kill -9``) half-way and restarted.

The demo township (one month of history) is built in a temporary folder; ``run.py`` serves
it with waitress on 127.0.0.1 in its own process, exactly as in production. Each client is
a thread with one keep-alive connection, playing a distinct demo helper: it logs in through
the real form (GET /login for the CSRF token and cookie, POST /login), fetches the
checklist, then until the time is up repeats what the phone does at a door: GET the
household's page ``/h/<token>``, GET ``/api/v1/csrf``, POST ``/api/v1/visits`` (a fresh
client id, in person, every guarantee and checklist item met), with a random think time of
0–``--think`` ms (default 2000) before each request. Logins are spread over the first
``--ramp`` seconds (checking a scrypt password costs ~0.14 s of CPU).

Every request's latency and status is kept. An acknowledged visit is one answered 201 or
200; an error is any other status than 2xx/3xx, or a failed connection. When the run is over
the server is stopped and the data folder opened with ``Store``: every acknowledged visit id
must be stored exactly once.

In the kill phase the server process gets SIGKILL at half time and is started again on the
same port and folder. Requests that fail because the server is down (or on a connection
opened before the kill) are counted apart, as "during outage"; a visit whose answer never
came is sent again with the same id once the server is back, as the phone's queue does, and
must still be stored once.

With ``--engine postgresql`` each phase's township is copied into a fresh database (on
``--database-url``, or a throwaway cluster with PostgreSQL's durable defaults) and the server
is given its URL; the kill then ends the app process, not the database.

Run: ``.venv/bin/python bench/bench_load.py [--clients 100] [--seconds 60] [--kill|--no-kill]
[--engine postgresql]`` (default: both phases, embedded store). Exits 1 when there are
errors, lost or duplicated visits, or the 95th percentile of all requests reaches
``--max-p95`` ms (250) in a phase; the kill phase's latency is printed but only its errors
and losses count (an outage makes its own queue).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder

import engines  # noqa: E402

HOST = "127.0.0.1"  # loopback only
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
KINDS = ("login form", "login", "checklist", "page", "csrf", "visit")
CONNECTION_ERRORS = (OSError, http.client.HTTPException)


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """``run.py`` in its own process, on a fixed loopback port and data folder (or database:
    ``location`` is a folder or a PostgreSQL URL, see ``engines``)."""

    def __init__(
        self,
        location: str,
        port: int,
        threads: int,
        log: Path,
        profile: Path | None = None,
        workers: int = 1,
    ) -> None:
        self.location, self.port, self.threads, self.log = location, port, threads, log
        self.profile, self.workers = profile, workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.cpu = 0.0  # seconds of CPU used by the server processes that ended

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until it answers; returns the time it was ready (monotonic)."""
        command = [sys.executable, str(ROOT / "run.py")]
        if self.profile is not None:
            command = [sys.executable, __file__, "--serve-profiled", str(self.profile)]
        env = dict(os.environ)
        config = engines.app_config(self.location)
        if "DATABASE_URL" in config:
            env["FIELDVISIT_DATABASE_URL"] = config["DATABASE_URL"]
            env["FIELDVISIT_DATABASE_POOL"] = str(config["DATABASE_POOL"])
            data = str(self.log.with_suffix(".data"))  # the secret key's file, nothing else
        else:
            data = config["DATA_DIR"]
        command += ["--no-demo", "--data-dir", data, "--workers", str(self.workers)]
        command += ["--host", HOST, "--port", str(self.port), "--threads", str(self.threads)]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}; see {self.log}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/login")
                conn.getresponse().read()
                conn.close()
                return time.monotonic()
            except CONNECTION_ERRORS:
                time.sleep(0.05)
        self.stop()
        raise SystemExit(f"the server did not answer within {timeout:.0f} s; see {self.log}")

    def _cpu_now(self) -> float:
        # utime + stime of the running server, from /proc (Linux)
        assert self.proc is not None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        assert self.proc is not None
        self.cpu += self._cpu_now()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.cpu += self._cpu_now()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def serve_profiled(out: Path, run_args: list[str]) -> int:
    """``run.py`` with every request profiled (CPU time of its thread); the profile is
    written to ``out`` on SIGTERM. Only for finding what is slow: it makes requests slower."""
    import cProfile
    import pstats

    import waitress

    import run

    profiles: list[cProfile.Profile] = []
    local = threading.local()
    real_serve = waitress.serve

    def serve(app: Any, **kwargs: Any) -> None:
        def profiled(environ: Any, start_response: Any) -> Any:
            profiler = getattr(local, "profiler", None)
            if profiler is None:
                profiler = local.profiler = cProfile.Profile(timer=time.thread_time)
                profiles.append(profiler)
            profiler.enable()
            try:
                return list(app(environ, start_response))
            finally:
                profiler.disable()

        real_serve(profiled, **kwargs)

    def dump(*_: Any) -> None:
        if profiles:
            stats = pstats.Stats(profiles[0])
            for profiler in profiles[1:]:
                stats.add(profiler)
            stats.dump_stats(str(out))
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    waitress.serve = serve
    return run.main(run_args)


# --- what is measured ----------------------------------------------------------------------


@dataclass
class Outage:
    """When the server was down: from the kill until the new process answered."""

    killed: float = float("inf")
    ready: float = float("-inf")

    def covers(self, started: float, connected: float, failed: float) -> bool:
        # After the kill: a request sent before the new process answered, or on a
        # connection made to the old process (its socket is gone), failed because of it.
        return self.killed <= failed and (started < self.ready or connected < self.killed)


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    # kind, seconds, status, when it was sent (monotonic)
    samples: list[tuple[str, float, int, float]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: list[str] = field(default_factory=list)
    outage: Counter[str] = field(default_factory=Counter)
    acknowledged: dict[str, str] = field(default_factory=dict)  # visit id -> household
    resent: int = 0  # visits answered 200: a resend of an id already stored
    unanswered: set[str] = field(default_factory=set)  # sent, no answer yet
    clients_in: int = 0

    def add(self, kind: str, seconds: float, status: int, sent: float) -> None:
        with self.lock:
            self.samples.append((kind, seconds, status, sent))

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.error_examples) < 10:
                self.error_examples.append(f"{kind}: {what}")


@dataclass
class Helper:
    phone: str
    households: list[tuple[str, str]]  # (户编号, QR token)


class Client(threading.Thread):
    """One helper's phone: logs in, then page, CSRF token, visit, again and again."""

    def __init__(
        self,
        helper: Helper,
        password: str,
        port: int,
        start_at: float,
        stop_at: float,
        think: float,
        results: Results,
        outage: Outage,
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        self.helper, self.password, self.port = helper, password, port
        self.start_at, self.stop_at, self.think = start_at, stop_at, think
        self.results, self.outage = results, outage
        self.rng = random.Random(seed)
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None
        self.connected = 0.0
        self.keys: list[str] = []
        self.pending: dict[str, Any] | None = None  # a visit sent without an answer

    # --- plumbing

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            self.connected = time.monotonic()
        return self.conn

    def _drop_connection(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def request(
        self, kind: str, method: str, path: str, body: bytes | None = None, headers: Any = None
    ) -> tuple[int, bytes] | None:
        """One timed request; None when the connection failed (counted by the caller's rules)."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = self._connection()
        connected = self.connected
        started = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
        except CONNECTION_ERRORS as exc:
            self._drop_connection()
            if self.outage.covers(started, connected, time.monotonic()):
                with self.results.lock:
                    self.results.outage[kind] += 1
            else:
                self.results.error(kind, f"{type(exc).__name__}: {exc}")
            return None
        elapsed = time.monotonic() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
        self.results.add(kind, elapsed, response.status, started)
        if not 200 <= response.status < 400:
            self.results.error(kind, f"{response.status} {method} {path} {answer[:200]!r}")
        if response.will_close:
            self._drop_connection()
        return response.status, answer

    def pause(self) -> None:
        time.sleep(self.rng.uniform(0, self.think))

    def wait_for_server(self) -> None:
        """After a failed connection: a phone tries again a moment later."""
        time.sleep(0.2)

    # --- the helper

    def log_in(self) -> bool:
        got = self.request("login form", "GET", "/login")
        if got is None or got[0] != 200:
            return False
        match = CSRF_RE.search(got[1].decode("utf-8", "replace"))
        if match is None:
            self.results.error("login form", "no csrf_token in the login page")
            return False
        form = {
            "phone": self.helper.phone,
            "password": self.password,
            "csrf_token": match.group(1) or match.group(2),
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        got = self.request("login", "POST", "/login", urlencode(form).encode(), headers)
        if got is None:
            return False
        if got[0] != 302:
            if got[0] == 200:  # the form again: refused
                self.results.error("login", "the login form came back (refused)")
            return False
        got = self.request("checklist", "GET", "/api/v1/checklist")
        if got is None or got[0] != 200:
            return False
        self.keys = [item["key"] for item in json.loads(got[1])]
        return True

    def new_visit(self, n: int) -> dict[str, Any]:
        from fieldvisit.vocab import GUARANTEES

        household, _ = self.helper.households[n % len(self.helper.households)]
        return {
            "id": str(uuid.uuid4()),
            "household": household,
            "date": dt.date.today().isoformat(),
            "kind": "in_person",
            "guarantees": dict.fromkeys(GUARANTEES, True),
            "environment": dict.fromkeys(self.keys, True),
            "helped_clean": True,
            "needs": [],
            "satisfaction": "satisfied",
            "notes": "院子已打扫，被褥叠放整齐",
        }

    def send_visit(self, visit: dict[str, Any]) -> None:
        got = self.request("csrf", "GET", "/api/v1/csrf")
        if got is None or got[0] != 200:
            return
        token = json.loads(got[1])["csrf_token"]
        self.pause()
        headers = {"Content-Type": "application/json", "X-CSRFToken": token}
        body = json.dumps(visit, ensure_ascii=False).encode("utf-8")
        with self.results.lock:
            self.results.unanswered.add(visit["id"])
        self.pending = visit
        got = self.request("visit", "POST", "/api/v1/visits", body, headers)
        if got is None:
            return  # no answer: sent again with the same id
        self.pending = None  # answered: acknowledged, or refused and counted as an error
        with self.results.lock:
            self.results.unanswered.discard(visit["id"])
            if got[0] in (200, 201):
                self.results.acknowledged[visit["id"]] = visit["household"]
                self.results.resent += got[0] == 200

    def run(self) -> None:
        time.sleep(max(0.0, self.start_at - time.monotonic()))
        while time.monotonic() < self.stop_at and not self.log_in():
            self.wait_for_server()
        if time.monotonic() >= self.stop_at:
            return
        with self.results.lock:
            self.results.clients_in += 1
        n = 0
        while time.monotonic() < self.stop_at:
            visit = self.pending or self.new_visit(n)
            _, token = next(
                (h for h in self.helper.households if h[0] == visit["household"]),
                self.helper.households[0],
            )
            self.pause()
            if self.request("page", "GET", f"/h/{token}") is None:
                self.wait_for_server()
                continue
            self.pause()
            self.send_visit(visit)
            if self.pending is not None:
                self.wait_for_server()
            else:
                n += 1
        # The time is up; a visit still without an answer is sent until it gets one.
        for _ in range(50):
            if self.pending is None:
                break
            self.send_visit(self.pending)
            if self.pending is not None:
                self.wait_for_server()
        self._drop_connection()


# --- a phase -------------------------------------------------------------------------------


def build(parent: Path) -> tuple[Path, list[Helper]]:
    """The demo township with one month of history, and the helpers in phone order."""
    from fieldvisit.demo import build_demo
    from fieldvisit.storage import Store

    data = parent / "template"
    store = Store(data)
    build_demo(store, months=1)
    reg = store.registry()
    mine: dict[str, list[tuple[str, str]]] = {}
    for household in sorted(reg.households.values(), key=lambda h: h.id):
        for phone in household.helpers:
            mine.setdefault(phone, []).append((household.id, household.token))
    helpers = [
        Helper(user.phone, mine[user.phone])
        for user in sorted(reg.users.values(), key=lambda u: u.phone)
        if user.role == "helper" and user.active and mine.get(user.phone)
    ]
    return data, helpers


def stored_ids(location: str) -> Counter[str]:
    store = engines.open_store(location)
    try:
        return Counter(v.id for month in store.months() for v in store.visits(month))
    finally:
        store.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_phase(
    name: str, template: Path, parent: Path, helpers: list[Helper], args: argparse.Namespace
) -> dict[str, Any]:
    from fieldvisit.demo import DEMO_PASSWORD

    data = parent / name
    shutil.copytree(template, data)
    location = engines.place(data, args.pg_server)
    before = stored_ids(location)
    port = free_port()
    profile = args.profile.with_suffix(f".{name}.prof") if args.profile else None
    server = Server(location, port, args.threads, parent / f"{name}.log", profile)
    results, outage = Results(), Outage()
    kill = name == "kill"
    load_before = os.getloadavg()[0]
    try:
        server.start()
        begin = time.monotonic()
        own_cpu = time.process_time()
        stop_at = begin + args.seconds
        clients = [
            Client(
                helper,
                DEMO_PASSWORD,
                port,
                begin + args.ramp * i / len(helpers),
                stop_at,
                args.think / 1000,
                results,
                outage,
                seed=i,
            )
            for i, helper in enumerate(helpers)
        ]
        for client in clients:
            client.start()
        restart_took = None
        if kill:
            time.sleep(max(0.0, begin + args.seconds / 2 - time.monotonic()))
            outage.ready = float("inf")  # down until the new process answers
            outage.killed = time.monotonic()
            server.kill()
            outage.ready = server.start()
            restart_took = outage.ready - outage.killed
        for client in clients:
            client.join(timeout=max(1.0, stop_at - time.monotonic()) + 120)
        elapsed = time.monotonic() - begin
        own_cpu = time.process_time() - own_cpu
        stuck = sum(client.is_alive() for client in clients)
    finally:
        server.stop()

    after = stored_ids(location)
    new = after - before
    lost = [i for i in results.acknowledged if after[i] == 0]
    doubled = [i for i in results.acknowledged if after[i] > 1] + [
        i for i, n in new.items() if n > 1 and i not in results.acknowledged
    ]
    unacknowledged = [i for i in new if i not in results.acknowledged]
    return {
        "name": name,
        "results": results,
        "elapsed": elapsed,
        "lost": lost,
        "doubled": doubled,
        "stored_unacknowledged": unacknowledged,
        "restart": restart_took,
        "stuck": stuck,
        "log": server.log,
        "begin": begin,
        "load": (load_before, os.getloadavg()[0]),
        "cpu": (server.cpu, own_cpu),
    }


def report(phase: dict[str, Any], args: argparse.Namespace) -> bool:
    results: Results = phase["results"]
    samples = results.samples
    print(f"\n== {phase['name']} phase: {args.clients} clients, {args.seconds} s ==")
    if phase["restart"] is not None:
        print(
            f"server killed (SIGKILL) at {args.seconds / 2:.0f} s, answering again after "
            f"{phase['restart']:.2f} s"
        )
    total = len(samples)
    print(f"clients logged in: {results.clients_in}/{args.clients}")
    print(
        f"requests answered: {total}  ({total / phase['elapsed']:.1f} /s over "
        f"{phase['elapsed']:.1f} s)"
    )
    print(f"  {'kind':16} {'count':>7} {'median':>9} {'p95':>9} {'max':>9}")
    rows = [(k, [s for kind, s, _, _ in samples if kind == k]) for k in KINDS]
    rows.append(("all", [s for _, s, _, _ in samples]))
    # The logins (scrypt) load the first seconds; after them the load is the steady one.
    settled = phase["begin"] + args.ramp + 5
    rows.append((f"all after {args.ramp + 5:.0f} s", [s for _, s, _, t in samples if t >= settled]))
    for kind, times in rows:
        if times:
            print(
                f"  {kind:16} {len(times):7d} {statistics.median(times) * 1000:6.1f} ms "
                f"{percentile(times, 0.95) * 1000:6.1f} ms {max(times) * 1000:6.0f} ms"
            )
    server_cpu, client_cpu = phase["cpu"]
    print(
        f"CPU: server {server_cpu:.1f} s, clients {client_cpu:.1f} s, "
        f"over {phase['elapsed']:.1f} s "
        f"on {os.cpu_count()} cores; load average before/after "
        f"{phase['load'][0]:.1f}/{phase['load'][1]:.1f} (other work on the machine counts)"
    )
    statuses = Counter(status for _, _, status, _ in samples)
    print(f"statuses: {dict(sorted(statuses.items()))}")
    errors = sum(results.errors.values())
    print(f"errors: {errors} {dict(results.errors) if errors else ''}")
    for example in results.error_examples:
        print(f"  e.g. {example}")
    if results.outage:
        print(
            f"failed during the outage (not errors): {sum(results.outage.values())} "
            f"{dict(results.outage)}"
        )
    print(
        f"visits acknowledged: {len(results.acknowledged)} "
        f"(of which answered 200 as a resend: {results.resent})"
    )
    print(
        f"never answered at the end: {len(results.unanswered)}; stored without an answer: "
        f"{len(phase['stored_unacknowledged'])}"
    )
    print(f"lost: {len(phase['lost'])}  stored twice: {len(phase['doubled'])}")
    if phase["stuck"]:
        print(f"clients still running at the end: {phase['stuck']}")
    all_times = [s for _, s, _, _ in samples]
    p95 = percentile(all_times, 0.95) * 1000 if all_times else float("inf")
    failed = errors > 0 or phase["lost"] or phase["doubled"] or phase["stuck"]
    failed = failed or results.clients_in < args.clients or not results.acknowledged
    if phase["name"] == "steady" and p95 >= args.max_p95:
        print(f"p95 {p95:.0f} ms: target < {args.max_p95:.0f} ms MISSED")
        failed = True
    log = f" (server log: {phase['log']})" if args.keep else ""
    print("verdict:", "FAILED" if failed else "ok", log)
    return not failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--kill",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only the kill phase (--kill) or only the steady one (--no-kill); default both",
    )
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (run.py)")
    # 0–2 s between requests: each helper sends a visit every ~3 s, 30 visits a second in all,
    # far above a real helping day (~700 visits in a day). --think 200 finds the ceiling.
    parser.add_argument("--think", type=float, default=2000, help="max think time, ms")
    parser.add_argument("--ramp", type=float, default=10, help="logins spread over, s")
    parser.add_argument("--max-p95", type=float, default=250, help="ms")
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the data folders and logs")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="profile the server (cProfile, thread CPU time) into FILE.<phase>.prof",
    )
    parser.add_argument("--serve-profiled", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    engines.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.serve_profiled:
        return serve_profiled(Path(args.serve_profiled[0]), args.serve_profiled[1:])
    if not 1 <= args.clients <= 357 or not 1 <= args.seconds <= 3600:
        parser.error("--clients must be 1..357 and --seconds 1..3600")
    if not 0 <= args.ramp < args.seconds or not 0 <= args.think <= 10_000:
        parser.error("--ramp must be below --seconds, --think 0..10000")
    phases = {None: ["steady", "kill"], True: ["kill"], False: ["steady"]}[args.kill]

    parent = Path(tempfile.mkdtemp(prefix="fieldvisit-bench-load-", dir=args.dir))
    ok = True
    with engines.server_url(args) as args.pg_server:
        ok = run_phases(parent, phases, args, parser)
    return 0 if ok else 1


def run_phases(
    parent: Path, phases: list[str], args: argparse.Namespace, parser: argparse.ArgumentParser
) -> bool:
    ok = True
    print(f"engine: {args.engine}", flush=True)
    try:
        print(f"building the demo township in {parent} …", flush=True)
        template, helpers = build(parent)
        if len(helpers) < args.clients:
            parser.error(f"only {len(helpers)} helpers with households")
        rng = random.Random(6)
        chosen = sorted(rng.sample(helpers, args.clients), key=lambda h: h.phone)
        for name in phases:
            phase = run_phase(name, template, parent, chosen, args)
            ok = report(phase, args) and ok
    finally:
        if args.keep:
            print(f"kept {parent}")
        else:
            shutil.rmtree(parent, ignore_errors=True)
    return ok


if __name__ == "__main__":
    sys.exit(main())
