"""The app's Store: made once by ``create_app`` (``init_app``), found by every request and
command (``get_store``).

A module of its own so that the rest of storage never imports Flask: a Store works without
an app (the tests, the benchmarks, a script over a copy of the data folder).
"""

from __future__ import annotations

from flask import Flask, current_app

from .store import Store

# Where the app keeps its Store (app.extensions); tests reach it there too.
STORE_KEY = "fieldvisit.store"


def init_app(app: Flask) -> Store:
    """Open the data folder ``DATA_DIR`` as the app's Store and return it. A move of
    households between villages cut short by a crash is finished first."""
    store = Store(app.config["DATA_DIR"])
    store.finish_moves()
    app.extensions[STORE_KEY] = store
    return store


def get_store() -> Store:
    """The Store of the app handling the current request or command."""
    store: Store = current_app.extensions[STORE_KEY]
    return store
