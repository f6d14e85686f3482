"""The app's Store: made once by ``create_app`` (``init_app``), found by every request and
command (``get_store``).

A module of its own so that the rest of storage never imports Flask: a Store works without
an app (the tests, the benchmarks, a script over a copy of the data folder).

The engine is chosen here and nowhere else: PostgreSQL when ``DATABASE_URL`` is set
(``FIELDVISIT_DATABASE_URL``), the data folder ``DATA_DIR`` otherwise. Callers see the
engine interface (``storage.engine.Engine``) and never which one it is.
"""

from __future__ import annotations

from flask import Flask

from ..context import this_app, this_g
from . import pins
from .engine import Engine

# Where the app keeps its Store (app.extensions); tests reach it there too.
STORE_KEY = "fieldvisit.store"


def open_store(app: Flask) -> Engine:
    """The store the app's configuration names, opened (a PostgreSQL schema is brought up to
    date first)."""
    url = app.config.get("DATABASE_URL")
    if url:
        # Imported only here: psycopg is needed only by a server that uses PostgreSQL.
        from .pg import PgStore

        store = PgStore(
            url,
            pool_size=int(app.config.get("DATABASE_POOL") or 10),
            shared_dir=app.config.get("SHARED_DIR") or None,
        )
        # Login limits count for every server process, unless another store is named.
        if app.config.get("RATELIMIT_STORAGE_URI", "memory://") == "memory://":
            app.config["RATELIMIT_STORAGE_URI"] = store.limits_uri
        return store
    from .store import Store

    return Store(app.config["DATA_DIR"])


def init_app(app: Flask) -> Engine:
    """Open the app's Store and return it. A move of households between villages cut short
    by a crash is finished first."""
    store = open_store(app)
    store.finish_moves()
    app.extensions[STORE_KEY] = store
    return store


def get_store() -> Engine:
    """The Store of the app handling the current request or command."""
    store: Engine = this_app().extensions[STORE_KEY]
    return store


def pin_reads() -> None:
    """Before a request: its registry reads give the registry it first read (``pins``)."""
    this_g().fieldvisit_pins = pins.begin()


def unpin_reads(_exc: BaseException | None = None) -> None:
    """When the request ends, whatever happened in it."""
    token = this_g().pop("fieldvisit_pins", None)
    if token is not None:
        pins.end(token)
