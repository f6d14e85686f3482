"""Closing months from the command line: ``flask --app fieldvisit close-month --month
YYYY-MM`` and ``reopen-month --month YYYY-MM --reason TEXT``, on FIELDVISIT_DATA_DIR.

Both say what they did, in the operator's language; one that cannot exits non-zero with
the reason. Closing a month closed already says so and exits 0: a cron job may run it
again.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from ..closing import ClosingError, close_month, reopen_month
from ..storage.current import get_store

ACTOR = "cli"


@click.command("close-month")
@click.option("--month", required=True, help="YYYY-MM")
@with_appcontext
def close(month: str) -> None:
    """Close a month: freeze its registry and figures, archive its summary PDF, refuse any
    new or corrected visit dated in it."""
    try:
        done = close_month(get_store(), month, ACTOR)
    except ClosingError as exc:
        raise click.ClickException(str(exc)) from None
    if done.already:
        click.echo(_("%(month)s 已经关账，未作改动", month=done.month))
        return
    sha256 = str(done.record["pdf"]).rsplit(".", 1)[0]
    click.echo(_("%(month)s 已关账；存档的月度汇总 SHA-256：%(sha)s", month=done.month, sha=sha256))


@click.command("reopen-month")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--reason", required=True, help="Why it is reopened (kept in the audit log).")
@with_appcontext
def reopen(month: str, reason: str) -> None:
    """Reopen a closed month, with the reason: visits may be added and corrected again."""
    try:
        reopen_month(get_store(), month, ACTOR, reason)
    except ClosingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("%(month)s 已重新打开", month=month.strip()))


commands = [close, reopen]
