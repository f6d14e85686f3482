"""Instructions per API save, ours and the peer's of ``bench_api_save.py``, counted by
callgrind: a figure that does not move with the machine's load, for changes too small to see
in a noisy ratio of times (``docs/decisions/0020-counted-in-instructions.md``).

Each app is called through its WSGI entry, in-process (no server, no socket), with the same
saves as ``bench_api_save.py`` (its township, ``--months`` of history); callgrind counts only
the ``--requests`` saves after a warm-up (``callgrind_control`` switches counting on and off).
User-space instructions only: the kernel's work (the syncs) is not in the count.

Run: ``.venv/bin/python bench/bench_instructions.py [--requests 100] [--months 12]``; needs
Debian's ``valgrind`` package.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder
sys.path.insert(0, str(ROOT / "bench"))

import bench_api_save as api_save  # noqa: E402
import engines  # noqa: E402

WARMUP = 30


def inside(folder: Path, app_name: str, requests: int) -> None:
    """Under callgrind: build the app over a copy of ``folder`` and count the saves."""
    meta = json.loads((folder / "meta.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="fieldvisit-bench-instr-"))
    try:
        shutil.copytree(folder, work / "copy", symlinks=True)
        if app_name == "ours":
            from fieldvisit import create_app
            from fieldvisit.serving import tune_collector

            app: Any = create_app(engines.app_config(str(work / "copy" / "data")))
            tune_collector()
        else:
            digest = hashlib.sha256(meta["token"].encode()).hexdigest()
            app = api_save.reference_app(str(work / "copy" / "reference.sqlite3"), digest)
        payloads = api_save.payloads(meta["households"], meta["keys"], WARMUP + requests)
        bodies = [json.dumps(p, ensure_ascii=False).encode("utf-8") for p in payloads]
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/visits",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Bearer {meta['token']}",
            "REMOTE_ADDR": "127.0.0.1",
        }

        def save(body: bytes) -> None:
            call = dict(environ, CONTENT_LENGTH=str(len(body)))
            call["wsgi.input"] = io.BytesIO(body)
            status: list[str] = []
            b"".join(app(call, lambda s, _h, _e=None: status.append(s)))
            if not status[0].startswith("201"):
                raise SystemExit(f"{app_name}: {status[0]}")

        for body in bodies[:WARMUP]:
            save(body)
        counting = ["callgrind_control", "-i"]
        subprocess.run([*counting, "on", str(os.getpid())], check=True, capture_output=True)
        for body in bodies[WARMUP:]:
            save(body)
        subprocess.run([*counting, "off", str(os.getpid())], check=True, capture_output=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def count(folder: Path, app_name: str, requests: int) -> float:
    """Instructions per save of ``app_name``, from a callgrind run of this script."""
    with tempfile.TemporaryDirectory(prefix="fieldvisit-callgrind-") as out:
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}/callgrind.out",
                sys.executable,
                __file__,
                "--inside",
                str(folder),
                app_name,
                "--requests",
                str(requests),
            ],
            capture_output=True,
            text=True,
        )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run of {app_name} failed:\n{run.stderr[-2000:]}")
    return int(found.group(1)) / requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="saves counted per app")
    parser.add_argument("--months", type=int, default=12, help="months of history")
    parser.add_argument("--inside", nargs=2, metavar=("FOLDER", "APP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 10_000:
        parser.error("--requests must be 1..10000")
    if args.inside:
        inside(Path(args.inside[0]), args.inside[1], args.requests)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("needs valgrind (Debian: apt-get install valgrind)")
    parent = Path(tempfile.mkdtemp(prefix="fieldvisit-bench-instr-"))
    try:
        print(f"building the demo township with {args.months} months of history …")
        _data, _db, token, households, keys = api_save.build(parent, args.months)
        meta = {"token": token, "households": households, "keys": keys}
        (parent / "meta.json").write_text(json.dumps(meta))
        ours = count(parent, "ours", args.requests)
        peer = count(parent, "peer", args.requests)
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    print(f"POST /api/v1/visits, {args.requests} saves each, instructions per save (callgrind)")
    print(f"  ours (TinyDB files)        {ours:12,.0f}")
    print(f"  Flask + sqlite3 WAL FULL   {peer:12,.0f}")
    print(f"  ratio ours/sqlite: {ours / peer:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
