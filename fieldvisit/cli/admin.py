"""Administrative commands: ``flask --app fieldvisit COMMAND``, acting on FIELDVISIT_DATA_DIR.

Each prints what it did and exits non-zero with a clear message when it cannot.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from .. import registry
from ..access import tokens, users
from ..access.errors import AccountError
from ..storage.current import get_store

ACTOR = "cli"


@click.command("seed-demo")
@click.option("--months", default=3, show_default=True, type=click.IntRange(1, 240))
@click.option(
    "--townships", default=1, show_default=True, type=click.IntRange(1, 99),
    help="More than one: a county of that many demo townships.",
)  # fmt: skip
@with_appcontext
def seed_demo(months: int, townships: int) -> None:
    """Build the demo township (registry, helpers, N months of visits, the past months closed)
    in an empty folder; with --townships N a county of N townships (past months left open)."""
    from ..demo import build_demo, describe
    from ..demo.county import build_county

    store = get_store()
    if not store.is_empty():
        raise click.ClickException(_("%(path)s 已有数据，请用空的数据目录", path=store.location))
    if townships > 1:
        info = build_county(store, townships, months=months)
    else:
        info = build_demo(store, months=months, close_months=True)
    click.echo(describe(info))


@click.command("import-registry")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--township", default=None,
    help="Import as that township's office: rows without 乡镇 are its own, others refused.",
)  # fmt: skip
@with_appcontext
def import_registry(file: Path, township: str | None) -> None:
    """Import the household registry from an .xlsx or .csv file (all or nothing). The
    server's operator imports any township's households unless ``--township`` confines the
    file to one (a township's own file, without the 乡镇 column, into a county's server)."""
    data = file.read_bytes()
    try:
        report = registry.import_registry(get_store(), data, file.name, ACTOR, township or None)
    except registry.RegistryError as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        message = _("%(file)s：有 %(n)d 处错误，未导入任何数据", file=file.name, n=len(exc.errors))
        raise click.ClickException(message) from None
    except ValueError as exc:
        raise click.ClickException(f"{file.name}: {exc}") from exc
    click.echo(
        _(
            "新增 %(added)d 户，更新 %(updated)d 户，未变 %(unchanged)d 户；"
            "帮扶责任人新增 %(h_added)d 人，更新 %(h_updated)d 人",
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            h_added=report.helpers_added,
            h_updated=report.helpers_updated,
        )
    )


@click.command("export-registry")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def export_registry(out: Path) -> None:
    """Write the registry to .xlsx or .csv with the import's columns (full ID numbers)."""
    try:
        count = registry.export_registry(get_store(), out)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_("已导出 %(n)d 户到 %(out)s", n=count, out=out))


@click.command("door-plates")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--village", default=None, help="Only this village's plates.")
@click.option("--household", default=None, help="Only this household's plate (户编号).")
@click.option(
    "--stale",
    is_flag=True,
    help="Only the plates naming helpers the household no longer has (after a transfer).",
)
@click.option("--township", default=None, help="Only this township of a county.")
@with_appcontext
def door_plates(
    out: Path, village: str | None, household: str | None, stale: bool, township: str | None
) -> None:
    """Print-ready A4 PDF of QR door plates."""
    from ..documents.plate_address import AddressError, require_plate_address
    from ..documents.plates import door_plates_pdf, households_for_plates
    from ..storage import atomic_write_bytes
    from .reports import place

    if out.suffix.lower() != ".pdf":
        raise click.ClickException(_("--out 须为 .pdf 文件"))
    if village is not None and household is not None:
        raise click.ClickException(_("--village 和 --household 只能选一个"))
    if stale and household is not None:
        raise click.ClickException(_("--stale 和 --household 只能选一个"))
    store = get_store()
    township, village = place(township, village)
    try:
        # The same address as the office's page: FIELDVISIT_BASE_URL, else the page's
        # setting; none, or this computer's own, prints nothing.
        base_url = require_plate_address(store)
        chosen = households_for_plates(
            store.registry(), village, household, stale=stale, township=township
        )
    except (AddressError, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    if household is not None:
        household = chosen[0].id
    with click.progressbar(length=len(chosen), label=_("户牌"), show_pos=True) as bar:
        pdf = door_plates_pdf(
            store,
            base_url,
            village,
            progress=lambda done, _total: bar.update(done - bar.pos),
            household=household,
            stale=stale,
            township=township,
        )
    atomic_write_bytes(out.resolve(), pdf)
    click.echo(_("户牌已写入 %(out)s", out=out))


@click.command("create-user")
@click.option("--role", required=True, type=click.Choice(["admin", "supervisor", "helper"]))
@click.option("--name", required=True)
@click.option("--phone", required=True)
@click.option("--password", default=None, help="Generated and printed when left out.")
@click.option("--township", default="", help="Limit an office account to one township.")
@with_appcontext
def create_user(role: str, name: str, phone: str, password: str | None, township: str) -> None:
    """Create a user who logs in with phone and password."""
    try:
        user, password = users.create_user(
            get_store(), role, name, phone, password, actor=ACTOR, township=township
        )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        _(
            "已创建账号 %(name)s（%(phone)s），角色 %(role)s；密码：%(password)s",
            name=user.name,
            phone=user.phone,
            role=user.role,
            password=password,
        )
    )


@click.command("create-token")
@click.option("--phone", required=True)
@with_appcontext
def create_token(phone: str) -> None:
    """Print a new API token for the user (last line of output)."""
    try:
        token = tokens.create_token(get_store(), phone.strip(), actor=ACTOR)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        _(
            "%(phone)s 的 API 令牌（只显示这一次；请求时带上 Authorization: Bearer <令牌>）：",
            phone=phone,
        )
    )
    click.echo(token)


@click.command("set-password")
@click.option("--phone", required=True)
@click.option("--password", default=None, help="Generated and printed when left out.")
@with_appcontext
def set_password(phone: str, password: str | None) -> None:
    """Set a user's password (generates one when none is given)."""
    try:
        password = users.set_password(get_store(), phone.strip(), password, actor=ACTOR)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_("%(phone)s 的新密码：%(password)s", phone=phone, password=password))


@click.command("revoke-tokens")
@click.option("--phone", required=True)
@with_appcontext
def revoke_tokens(phone: str) -> None:
    """Revoke every API token of the user at once (a lost phone, a client retired)."""
    try:
        count = tokens.revoke_tokens(get_store(), phone.strip(), actor=ACTOR)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_("已撤销 %(phone)s 的 %(n)d 个 API 令牌", phone=phone.strip(), n=count))


commands = [
    seed_demo,
    import_registry,
    export_registry,
    door_plates,
    create_user,
    create_token,
    set_password,
    revoke_tokens,
]
