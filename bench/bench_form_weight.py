"""What a phone downloads to open a household page and its visit form, and what it
downloads the second time.

The demo township is served for real (waitress on 127.0.0.1, a free port) and opened by
headless Chromium (Debian's ``chromium`` package, driven by Playwright). A helper of the
demo logs in (through a request, so that the login page's own downloads do not count),
then:

1. cold: a fresh browser profile opens the household page and taps "登记本次走访". The
   bytes are Chromium's own count of what crossed the network for each response (headers
   plus the gzip-compressed body: ``encodedDataLength``), for the HTML, CSS and JS. Service
   workers are blocked here, so that this is also the weight for a phone without one
   (WeChat on an iPhone).
2. warm: in a profile where the service worker has installed, both pages are opened again.
   A middleware counts what the server is asked for: the CSS and JS must not be requested
   at all (the worker serves them from its cache); the two HTML pages are asked for because
   pages are network-first while online (their data changes), and come from the phone's
   cache with no connection.

Run: ``.venv/bin/python bench/bench_form_weight.py [--budget-kb 40]``. Exits 1 when the cold
load is over budget or the warm load requests an asset.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder

from fieldvisit import create_app  # noqa: E402
from fieldvisit.demo import build_demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Counter:
    """WSGI middleware: the paths the server was asked for."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.paths.append(environ.get("PATH_INFO", ""))
        return self.app(environ, start_response)


def serve(data_dir: Path) -> tuple[str, Counter, Any, dict[str, str]]:
    from waitress import create_server

    app = create_app({"DATA_DIR": str(data_dir), "SECRET_KEY": "bench"})
    store = app.extensions["fieldvisit.store"]
    info = build_demo(store, months=3)
    helper = next(login for login in info.logins if login[0] == "helper")
    phone, password = helper[2], helper[3]
    household = next(h for h in store.registry().households.values() if phone in h.helpers)
    counter = Counter(app.wsgi_app)
    app.wsgi_app = counter  # type: ignore[method-assign]
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    return url, counter, server, {"phone": phone, "password": password, "token": household.token}


def log_in(context: Any, url: str, who: dict[str, str]) -> None:
    import re

    page = context.request.get(f"{url}/login").text()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = context.request.post(
        f"{url}/login",
        form={"phone": who["phone"], "password": who["password"], "csrf_token": csrf},
    )
    assert response.ok, response.status


def open_both(page: Any, url: str, token: str) -> None:
    page.goto(f"{url}/h/{token}", wait_until="load")
    page.click("a.button.primary")
    page.wait_for_url(f"{url}/h/{token}/visit")
    page.wait_for_load_state("load")


def cold(browser: Any, url: str, who: dict[str, str]) -> list[tuple[str, str, int]]:
    context = browser.new_context(service_workers="block")
    log_in(context, url, who)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    seen: dict[str, dict[str, Any]] = {}
    cdp.on(
        "Network.responseReceived",
        lambda e: seen.setdefault(e["requestId"], {}).update(
            url=e["response"]["url"],
            type=e["type"],
            encoding=e["response"]["headers"].get(
                "content-encoding", e["response"]["headers"].get("Content-Encoding", "")
            ),
        ),
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: seen.setdefault(e["requestId"], {}).update(bytes=int(e["encodedDataLength"])),
    )
    open_both(page, url, who["token"])
    time.sleep(0.5)
    context.close()
    return [
        (r["url"].replace(url, ""), r.get("encoding", ""), r.get("bytes", 0))
        for r in seen.values()
        if "url" in r and not r["url"].startswith("data:")  # drawn by the browser itself
    ]


def warm(browser: Any, url: str, who: dict[str, str], counter: Counter) -> list[str]:
    context = browser.new_context()
    log_in(context, url, who)
    page = context.new_page()
    open_both(page, url, who["token"])
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    time.sleep(1.0)  # let the worker keep the helper's pages
    del counter.paths[:]
    open_both(page, url, who["token"])
    time.sleep(0.5)
    asked = list(counter.paths)
    context.set_offline(True)
    open_both(page, url, who["token"])  # and with no connection at all
    context.close()
    return asked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget-kb", type=float, default=40.0)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: install Debian's chromium package")
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="fv-weight-") as tmp:
        url, counter, server, who = serve(Path(tmp) / "data")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                rows = cold(browser, url, who)
                asked = warm(browser, url, who, counter)
                browser.close()
        finally:
            server.close()

    total = sum(b for _u, _e, b in rows)
    print("cold load of a household page and its visit form (bytes on the wire):")
    for path, encoding, size in rows:
        print(f"  {size:7,d}  {encoding or '-':5}  {path}")
    print(f"  {total:7,d}  total = {total / 1024:.1f} KB (budget {args.budget_kb:.0f} KB)")
    assets = [p for p in asked if p.startswith("/static/")]
    print("second load with the service worker, requests reaching the server:")
    for path in asked:
        print(f"  {path}")
    print(f"  {len(assets)} requests for CSS/JS (must be 0); with no connection both pages open")
    ok = total <= args.budget_kb * 1024 and not assets
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
