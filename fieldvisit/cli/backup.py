"""Backup commands: ``flask --app fieldvisit backup --out FILE`` and ``restore FILE``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from ..storage.backup import BackupError, write_backup
from ..storage.current import get_store
from ..storage.folder_only import folder_store
from ..storage.restore import restore_backup


@click.command("backup")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--include-secret", is_flag=True, help="also the secret key (signs logins)")
@click.option("--no-photos", is_flag=True, help="leave the visits' photos out")
@with_appcontext
def backup(out: Path, include_secret: bool, no_photos: bool) -> None:
    """Write a consistent snapshot of the data folder to a zip file (the server may run)."""
    try:
        info = write_backup(
            folder_store(get_store()), out, include_secret, include_photos=not no_photos
        )
    except BackupError as exc:  # a file the backup cannot hold: said, and nothing written
        raise click.ClickException(str(exc)) from None
    click.echo(_("已备份 %(n)d 个文件到 %(path)s", n=info.files, path=info.path))


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore(file: Path) -> None:
    """Rebuild an empty data folder from a backup made by ``backup``."""
    try:
        store = folder_store(get_store())
        count = restore_backup(file, store.root)
    except (BackupError, OSError) as exc:  # OSError: a full or failing disk, said plainly
        raise click.ClickException(str(exc)) from None
    click.echo(
        _("已从 %(file)s 恢复 %(n)d 个文件到 %(path)s", file=file.name, n=count, path=store.root)
    )


commands = [backup, restore]
