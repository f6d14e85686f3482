"""A throwaway PostgreSQL cluster in a temporary folder, for the test suite and benchmarks.

    python bench/pgcluster.py [--fast] [--env NAME] -- COMMAND [ARGS...]

starts a cluster (``initdb`` + ``pg_ctl start``) listening only on a unix socket in the
temporary folder, runs COMMAND with ``NAME`` (default ``FIELDVISIT_TEST_DATABASE_URL``) set
to its URL, then stops the cluster and removes the folder, also when COMMAND fails or is
interrupted; exits with COMMAND's status. As root, the cluster runs as ``nobody``
(PostgreSQL refuses to run as root). ``--fast`` turns off fsync for the suite's speed; the
benchmarks keep PostgreSQL's durable defaults, the same footing as the SQLite peer's
``synchronous=FULL``.

Debian's binaries live in /usr/lib/postgresql/<version>/bin, not on PATH: found there.
``cluster()`` is the same as a context manager, for benchmark scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if not candidates:
        sys.exit(f"pgcluster: {name} not found (apt-get install postgresql)")
    return candidates[-1]


INIT = ["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]


def _as_owner(args: list[str]) -> list[str]:
    """``args`` run as an unprivileged user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "nobody", "--", *args]
    return args


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def cluster(fast: bool = False, max_connections: int = 300) -> Iterator[str]:
    """Start a cluster; yields the URL of its ``postgres`` database; stops and removes it."""
    folder = Path(tempfile.mkdtemp(prefix="fieldvisit-pg-"))
    if os.geteuid() == 0:
        os.chown(folder, pwd.getpwnam("nobody").pw_uid, -1)
    data, port = folder / "data", _free_port()
    settings = [
        "listen_addresses=''",
        f"unix_socket_directories='{folder}'",
        f"max_connections={max_connections}",
        "shared_buffers=128MB",
    ]
    if fast:
        settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    options = " ".join(f"-c {s}" for s in settings) + f" -p {port}"
    started = False
    try:
        subprocess.run(
            _as_owner([binary("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", *INIT]),
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=folder,
        )
        pg_ctl = [binary("pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w"]
        subprocess.run(
            _as_owner([*pg_ctl, "-o", options, "start"]),
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=folder,
        )
        started = True
        yield f"postgresql://postgres@/postgres?host={folder}&port={port}"
    finally:
        if started:
            subprocess.run(
                _as_owner([binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                stdout=subprocess.DEVNULL,
                cwd=folder,
                check=False,
            )
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="fsync off (for the test suite)")
    parser.add_argument("--env", default="FIELDVISIT_TEST_DATABASE_URL")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    with cluster(fast=args.fast) as url:
        print(f"pgcluster: PostgreSQL at {url}", file=sys.stderr)
        try:
            return subprocess.run(
                command, env={**os.environ, args.env: url}, check=False
            ).returncode
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
