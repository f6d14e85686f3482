"""Members and other departments' lists as commands: ``flask --app fieldvisit
import-members FILE`` and ``reconcile --department KIND FILE [--out RESULT.xlsx]``.

``reconcile`` prints one line per kind of difference — the kind's Chinese name, a tab, the
count — whatever the operator's language: scripts read them. A warning list prints its
checks made (核查任务) and the people not found (名单有花名册无).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from ..reconcile import terms
from ..registry.errors import RegistryError
from ..storage import atomic_write_bytes
from ..storage.current import get_store
from .admin import ACTOR


def _refuse(file: Path, exc: RegistryError) -> click.ClickException:
    for error in exc.errors:
        click.echo(str(error), err=True)
    message = _("%(file)s：有 %(n)d 处错误，未导入任何数据", file=file.name, n=len(exc.errors))
    return click.ClickException(message)


@click.command("import-members")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--township", default=None, help="Only that township's households' members.")
@with_appcontext
def import_members(file: Path, township: str | None) -> None:
    """Import household members (家庭成员) from .xlsx or .csv, all or nothing; with
    ``--township``, as that township's office would."""
    from ..reconcile.members import import_members as run

    try:
        report = run(get_store(), file.read_bytes(), file.name, ACTOR, township or None)
    except RegistryError as exc:
        raise _refuse(file, exc) from None
    click.echo(
        _(
            "家庭成员：新增 %(added)d 人，更新 %(updated)d 人，未变 %(unchanged)d 人，"
            "移出 %(removed)d 人",
            **report.counts(),
        )
    )


@click.command("reconcile")
@click.option(
    "--department",
    required=True,
    type=click.Choice(list(terms.DEPARTMENTS)),
    help="The list's kind.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", default=None, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def reconcile(department: str, file: Path, out: Path | None) -> None:
    """Compare a department's list with the registry; print each kind of difference."""
    from ..reconcile.results import workbook
    from ..reconcile.running import run_comparison

    if out is not None and out.suffix.lower() != ".xlsx":
        raise click.ClickException(_("--out 须为 .xlsx 文件"))
    store = get_store()
    try:
        outcome = run_comparison(store, department, file.read_bytes(), file.name, ACTOR)
    except RegistryError as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        raise click.ClickException(_("%(file)s：无法读取这份名单", file=file.name)) from None
    for name, count in outcome.lines:
        click.echo(f"{name}\t{count}")
    if out is not None:
        atomic_write_bytes(out.resolve(), workbook(store, outcome.comparison, date.today()))
        click.echo(_("比对结果已写入 %(out)s", out=out), err=True)


commands = [import_members, reconcile]
