"""``flask --app fieldvisit migrate-store --to URL | --from URL``: move a township's data
between the embedded store (the data folder) and PostgreSQL."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from ..storage.current import get_store
from ..storage.migrate import KINDS, MigrationError, migrate_folder


@click.command("migrate-store")
@click.option("--to", "to_url", help="copy the data folder into this empty PostgreSQL database")
@click.option("--from", "from_url", help="copy this PostgreSQL database into the data folder")
@with_appcontext
def migrate_store(to_url: str | None, from_url: str | None) -> None:
    """Copy every record into an empty store of the other engine and check the counts."""
    if (to_url is None) == (from_url is None):
        raise click.UsageError(_("请给出 --to 或 --from 之一"))
    if current_app.config.get("DATABASE_URL"):
        # The app's own store must be the data folder: the other side is the URL given.
        raise click.UsageError(_("请在未设置 FIELDVISIT_DATABASE_URL 时运行 migrate-store"))
    try:
        place, result = migrate_folder(get_store(), str(to_url or from_url), from_url is None)
    except MigrationError as exc:
        if str(exc) == "target":
            raise click.ClickException(_("目标已有数据：只能复制到空的目标")) from None
        raise click.ClickException(_("复制后数量不符：%(counts)s", counts=str(exc))) from None
    for kind in KINDS:
        click.echo(f"{kind}: {result[kind][0]} -> {result[kind][1]}")
    click.echo(_("已复制到 %(place)s，数量一致", place=place))


commands = [migrate_store]
