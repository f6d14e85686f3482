"""Running the suite on PostgreSQL: with ``FIELDVISIT_TEST_DATABASE_URL`` set (``./fv test``
sets it for its throwaway cluster), every app the tests make keeps its data in a schema of
its own on that server instead of its data folder.

Each data folder gets a schema of its own, so a test that makes a second app over the same
folder (a restart) finds the same data, as it would in the folder. Making a schema (its
tables and indexes) costs far more than emptying one, so the schemas a test used are emptied
after it and given to the next tests; those of module-scoped apps are kept to the end.

Tests of what only the data folder has (its files, journals, zip backups, the crash suite)
are marked ``@pytest.mark.embedded`` and skipped on PostgreSQL. A store built directly
with ``Store(folder)`` is the embedded one on both runs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TEST_URL = os.environ.get("FIELDVISIT_TEST_DATABASE_URL", "")

# Tests of the data folder's own files, kept here rather than as marks in each file while
# those files are being changed by others: whole modules, then single tests (by the start
# of their node id). Journals, crash and fault injection on files, zip backups, files a
# test looks at on disk.
EMBEDDED_MODULES = {
    "test_backup.py",
    "test_crashes.py",
    "test_journal.py",
    "test_restore_limits.py",
    "test_storage.py",
    "test_write_failures.py",
}
EMBEDDED_TESTS = (
    "tests/test_audit.py::test_the_log_is_read_again_as_it_grows_and_a_torn_line_is_skipped",
    "tests/test_audit.py::test_a_visit_saved_just_before_a_crash",
    "tests/test_audit.py::test_a_correction_cut_short_by_a_crash",
    "tests/test_audit.py::test_it_keeps_id_numbers_masked_in_the_log",
    "tests/test_closing.py::test_a_backup_and_its_restore",
    "tests/test_config.py::test_a_secret_key_is_generated_once_and_kept",
    "tests/test_config.py::test_environment_reaches_the_app",
    "tests/test_correction_photos.py::",
    "tests/test_photo_limits.py::",
    "tests/test_reconcile.py::test_taking_the_departments_value_edits_the_registry",
    "tests/test_offline.py::test_offline_visits_are_stored_exactly_once_when_the_connection",
    "tests/test_photos.py::test_a_photo_is_stored_with_the_visit_under_the_data_folder",
    "tests/test_photos.py::test_a_file_that_is_not_an_image_is_refused",
    "tests/test_sessions.py::",
    "tests/test_tokens.py::test_using_a_token_writes_the_registry_at_most_once_an_hour",
    "tests/test_uploads.py::test_it_never_uses_the_client_file_name",
    "tests/test_village_move.py::test_a_move_cut_short_by_a_crash",
    "tests/test_whole_strings.py::test_a_photo_id_with_a_control_character",
)
_opened: list[tuple[Any, str]] = []  # (store, schema), in the order they were opened


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "embedded: checks the data folder's own files; skipped on PostgreSQL"
    )


def skip_embedded_only(items: list[pytest.Item]) -> None:
    """On PostgreSQL, skip the tests of the data folder's own files."""
    if not TEST_URL:
        return
    skip = pytest.mark.skip(reason="the data folder's own files: embedded store only")
    for item in items:
        if (
            "embedded" in item.keywords
            or item.path.name in EMBEDDED_MODULES
            or item.nodeid.startswith(EMBEDDED_TESTS)
        ):
            item.add_marker(skip)


_admin_conn: list[Any] = []  # one connection for the session's schema work


def _admin() -> Any:
    """The session's connection for making and emptying schemas (opened once: a connection
    is a new server process, about 10 ms a test)."""
    import psycopg

    if not _admin_conn or _admin_conn[0].closed:
        _admin_conn[:] = [psycopg.connect(TEST_URL, autocommit=True)]
    return _admin_conn[0]


_schemas: dict[str, str] = {}  # data folder -> its schema, while in use
_free: list[str] = []  # emptied schemas, ready for another folder
_made: list[str] = []  # every schema made, dropped at the end
_tables: list[str] = []  # the tables a schema's rows are in (every schema has the same)


def schema_for(data_dir: str) -> str:
    """The schema of ``data_dir``: the one it had, an emptied one, or a new one."""
    key = str(Path(data_dir).resolve())
    if key not in _schemas:
        if _free:
            _schemas[key] = _free.pop()
        else:
            name = "t_" + hashlib.sha1(key.encode()).hexdigest()[:24]
            _admin().execute(f"CREATE SCHEMA IF NOT EXISTS {name}")
            _made.append(name)
            _schemas[key] = name
    return _schemas[key]


def _empty(schemas: list[str]) -> None:
    """Empty the tables of ``schemas`` (the tables the migrations made) for reuse."""
    if not schemas:
        return
    conn = _admin()
    if not _tables:
        _tables.extend(
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s"
                " AND tablename NOT IN ('schema_migrations', 'registry_version')",
                (schemas[0],),
            )
        )
    # DELETE, not TRUNCATE: a few rows each, and TRUNCATE makes new files for every table
    # (each synced on a server with fsync on). All in one message, one round trip: several
    # statements sent as one are one transaction.
    statements = [
        *(f"DELETE FROM {schema}.{table}" for schema in schemas for table in _tables),
        *(f"UPDATE {schema}.registry_version SET version = 0" for schema in schemas),
    ]
    conn.execute("; ".join(statements).encode())
    for key in [k for k, v in _schemas.items() if v in schemas]:
        del _schemas[key]
    _free.extend(schemas)


def _drop(schemas: list[str]) -> None:
    if schemas:
        conn = _admin()
        for schema in schemas:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    for conn in _admin_conn:
        conn.close()
    _admin_conn.clear()


@pytest.fixture(scope="session", autouse=True)
def postgresql_engine() -> Iterator[None]:
    """On PostgreSQL, open every app's store in a schema named after its data folder."""
    if not TEST_URL:
        yield
        return
    from psycopg.conninfo import make_conninfo

    from fieldvisit.storage import current
    from fieldvisit.storage.pg import PgStore

    original = current.open_store

    def open_store(app: Any) -> Any:
        if app.config.get("DATABASE_URL"):
            return original(app)
        schema = schema_for(app.config["DATA_DIR"])
        url = make_conninfo(TEST_URL, options=f"-c search_path={schema}")
        app.config["DATABASE_URL"] = url
        app.config["DATABASE_POOL"] = 3
        store = original(app)
        assert isinstance(store, PgStore)
        _opened.append((store, schema))
        return store

    current.open_store = open_store  # type: ignore[assignment]
    try:
        yield
    finally:
        current.open_store = original
        for store, _schema in _opened:
            store.close()
        _opened.clear()
        _drop(_made)


@pytest.fixture(autouse=True)
def postgresql_cleanup(postgresql_engine: None) -> Iterator[None]:
    """Close the stores a test opened and drop their schemas after it."""
    start = len(_opened)
    yield
    if not TEST_URL:
        return
    mine = _opened[start:]
    del _opened[start:]
    for store, _schema in mine:
        store.close()
    _empty(sorted({schema for _store, schema in mine} - {s for _st, s in _opened}))
