"""The PostgreSQL engine (psycopg 3 with a connection pool): the only package that imports
psycopg. See docs/decisions/0015-postgresql.md.

``db`` (pool, numbered schema files applied on start, advisory lock keys), ``registry``
(the registry's tables, version row and per-process cache), ``visits`` (visits and needs;
the save's locks), ``audit``, ``files`` (photos, closed months' files, report files as
bytea), ``sessions`` (browser logins), ``jobs`` (background downloads claimed with SKIP
LOCKED), ``ratelimit`` (Flask-Limiter's counts), ``store`` (PgStore).
"""

from .store import PgStore

__all__ = ["PgStore"]
