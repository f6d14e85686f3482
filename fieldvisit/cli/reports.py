"""The monthly downloads as commands: ``flask --app fieldvisit monthly-report | booklet |
export-visits``, on FIELDVISIT_DATA_DIR.

Each writes its file atomically (a half-written PDF never replaces a good one) and exits
non-zero with a message in the operator's language when it cannot do what was asked.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from ..documents.monthly import ReportError, check_township
from ..models import village_key
from ..storage import atomic_write_bytes
from ..storage.current import get_store


def _check_suffix(out: Path, *suffixes: str) -> str:
    suffix = out.suffix.lower()
    if suffix not in suffixes:
        raise click.ClickException(
            _("--out 须为 %(suffixes)s 文件：%(out)s", suffixes=" 或 ".join(suffixes), out=out)
        )
    return suffix


def _year(value: str) -> int:
    if not value.strip().isdecimal() or len(value.strip()) != 4:
        raise click.ClickException(_("年度应写成四位数字，例如 2026：%(year)s", year=value))
    return int(value)


def place(township: str | None, village: str | None) -> tuple[str | None, str | None]:
    """``--township`` and ``--village`` checked: the township one the registry knows, and a
    village named without its township taken as that township's (``models.village_key``).
    Also for the door plates' command."""
    try:
        township = check_township(get_store().registry(), township)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    if township and village and "/" not in village:
        village = village_key(township, village)
    return township, village


def _townships_zip(month: str, out: Path) -> None:
    from ..documents.county import townships_zip

    _check_suffix(out, ".zip")

    def progress(done: int, total: int) -> None:
        click.echo(_("各乡镇月度汇总：%(done)d / %(total)d", done=done, total=total))

    try:
        bundle = townships_zip(get_store(), month, progress)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    atomic_write_bytes(out.resolve(), bundle)
    click.echo(_("各乡镇月度汇总已写入 %(out)s", out=out))


@click.command("monthly-report")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--village", default=None, help="Only this village.")
@click.option("--township", default=None, help="Only this township of a county.")
@click.option(
    "--all-townships",
    is_flag=True,
    help="Every township's report of a county, one PDF each, in a .zip.",
)
@with_appcontext
def monthly_report(
    month: str, out: Path, village: str | None, township: str | None, all_townships: bool
) -> None:
    """The month's summary (月度帮扶走访汇总) as an A4 PDF: the township's, one village's,
    or a county's by township (``--township NAME`` for one township's report,
    ``--all-townships`` for each township's, zipped)."""
    from ..documents.monthly import monthly_report_pdf

    if all_townships:
        if village or township:
            raise click.ClickException(_("--all-townships 不能与 --township 或 --village 同用"))
        return _townships_zip(month, out)
    _check_suffix(out, ".pdf")
    township, village = place(township, village)
    try:
        pdf = monthly_report_pdf(get_store(), month, village, township=township)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    atomic_write_bytes(out.resolve(), pdf)
    click.echo(_("月度汇总已写入 %(out)s", out=out))


@click.command("booklet")
@click.option("--year", required=True, help="YYYY")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--village", default=None, help="Only this village's households.")
@click.option("--household", default=None, help="Only this household (户编号).")
@click.option("--township", default=None, help="Only this township of a county.")
@with_appcontext
def booklet(
    year: str, out: Path, village: str | None, household: str | None, township: str | None
) -> None:
    """The household booklet (一户一册) of a year as one PDF, with a progress bar."""
    from ..documents.booklet import booklet_households, booklet_pdf, check_year

    _check_suffix(out, ".pdf")
    if village and household:
        raise click.ClickException(_("--village 和 --household 只能选一个"))
    store = get_store()
    township, village = place(township, village)
    try:
        chosen = check_year(_year(year))
        total = len(booklet_households(store, village, household, township))
        with click.progressbar(length=total, label=_("一户一册"), show_pos=True) as bar:
            shown = 0

            def progress(done: int, _total: int) -> None:
                nonlocal shown
                bar.update(done - shown)
                shown = done

            pdf = booklet_pdf(
                store, chosen, village, household, progress=progress, township=township
            )
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    atomic_write_bytes(out.resolve(), pdf)
    click.echo(_("一户一册（%(n)d 户）已写入 %(out)s", n=total, out=out))


@click.command("export-visits")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--village", default=None, help="Only this village.")
@click.option("--township", default=None, help="Only this township of a county.")
@with_appcontext
def export_visits(month: str, out: Path, village: str | None, township: str | None) -> None:
    """The month's visits, one row each, as .xlsx (with the month's figures) or .csv."""
    from ..documents.exports import export_visits as write

    _check_suffix(out, ".xlsx", ".csv")
    township, village = place(township, village)
    try:
        count = write(get_store(), month, out.resolve(), village, township=township)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("已导出 %(n)d 条走访记录到 %(out)s", n=count, out=out))


commands = [monthly_report, booklet, export_visits]
