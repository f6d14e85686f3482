"""Serve fieldvisit with a production WSGI server (waitress).

    python run.py [--host H] [--port P] [--data-dir D] [--base-url URL] [--no-demo]
                  [--threads N] [--workers N]

On an empty data folder it first builds the demo township (unless --no-demo) and prints how
to log in as each role.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

from fieldvisit import create_app
from fieldvisit.config import ConfigError, check_base_url


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (for phones on the same network)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos if not str(info[4][0]).startswith("127.")})


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve fieldvisit.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--data-dir", help="data folder (default: FIELDVISIT_DATA_DIR or ./data)")
    parser.add_argument("--base-url", help="the address phones open; QR codes encode it")
    parser.add_argument("--no-demo", action="store_true", help="do not build the demo township")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (see serving)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    overrides: dict[str, Any] = {}
    try:
        if args.data_dir:
            overrides["DATA_DIR"] = args.data_dir
        if args.base_url:
            overrides["BASE_URL"] = check_base_url(args.base_url)
        app = create_app(overrides)
    except ConfigError as exc:
        print(f"fieldvisit: {exc}", file=sys.stderr)
        return 2

    store = app.extensions["fieldvisit.store"]
    if store.is_empty() and not args.no_demo:
        from fieldvisit.demo import build_demo, describe

        print("Empty data folder: building the demo township …", flush=True)
        with app.app_context():
            print(describe(build_demo(store, close_months=True)), flush=True)

    print(f"Serving on http://{args.host}:{args.port}/  (data: {store.location})")
    if args.host in ("0.0.0.0", "::"):
        for address in lan_addresses():
            print(f"Phones on the same network open: http://{address}:{args.port}/")
    else:
        print("Only this computer can reach it; for phones use --host 0.0.0.0 and --base-url.")
    if not app.config.get("BASE_URL"):
        print("Door plates need the address phones open: set --base-url, or 手机访问地址")
        print("(the address for phones) on /office/plates.")

    if app.config.get("BACKUP_DIR"):
        from pathlib import Path

        from fieldvisit.storage.backup import start_daily

        folder, keep = Path(app.config["BACKUP_DIR"]), app.config["BACKUP_KEEP"]
        start_daily(store, folder, keep)
        print(f"Daily backup into {folder}, keeping the newest {keep}.")

    if args.workers > 1:
        from fieldvisit.serving import serve_processes

        # Each process makes its own app after the fork; nothing opened here is carried over.
        store.close()
        print(f"{args.workers} server processes.", flush=True)
        return serve_processes(
            lambda: create_app(overrides), args.host, args.port, args.threads, args.workers
        )

    from waitress import serve

    from fieldvisit.documents.jobs import start_worker
    from fieldvisit.serving import tune_collector

    start_worker(app)  # on PostgreSQL it also makes the jobs other servers queued
    tune_collector()
    # waitress serves at most connection_limit sockets at once (its own two among them): on a
    # helping day every helper's phone keeps a connection open.
    serve(
        app,
        host=args.host,
        port=args.port,
        threads=args.threads,
        connection_limit=1000,
        ident="fieldvisit",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
