"""What only the embedded store can do: a zip backup of its folder, a restore into it.

On PostgreSQL a backup is the database's own (pg_dump, base backups with WAL archiving:
docs/deploy-province.md), or an embedded copy made by ``migrate-store --from``.
"""

from __future__ import annotations

from flask_babel import gettext as _

from .backup import BackupError
from .engine import Engine
from .store import Store


def folder_store(store: Engine) -> Store:
    """``store`` as the data folder's Store; BackupError when it is another engine."""
    if not isinstance(store, Store):
        raise BackupError(
            _(
                "数据保存在 PostgreSQL 中：请用 pg_dump 备份数据库，"
                "或用 migrate-store --from 导出一份数据目录"
            )
        )
    return store
