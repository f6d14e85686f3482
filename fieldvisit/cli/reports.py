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

from ..documents.monthly import ReportError
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


@click.command("monthly-report")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--village", default=None, help="Only this village.")
@click.option("--township", default=None, help="Only this township of a county.")
@with_appcontext
def monthly_report(month: str, out: Path, village: str | None, township: str | None) -> None:
    """The month's summary (月度帮扶走访汇总) as an A4 PDF, for the township or one village
    (a county: ``--township NAME`` for one township's report)."""
    from ..documents.monthly import monthly_report_pdf

    _check_suffix(out, ".pdf")
    store = get_store()
    if township and township not in {h.township for h in store.registry().households.values()}:
        raise click.ClickException(_("名册里没有乡镇“%(name)s”", name=township))
    if township and village and "/" not in village:
        village = village_key(township, village)  # a village of that township, by its name
    try:
        pdf = monthly_report_pdf(store, month, village, township=township)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    atomic_write_bytes(out.resolve(), pdf)
    click.echo(_("月度汇总已写入 %(out)s", out=out))


@click.command("booklet")
@click.option("--year", required=True, help="YYYY")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--village", default=None, help="Only this village's households.")
@click.option("--household", default=None, help="Only this household (户编号).")
@with_appcontext
def booklet(year: str, out: Path, village: str | None, household: str | None) -> None:
    """The household booklet (一户一册) of a year as one PDF, with a progress bar."""
    from ..documents.booklet import booklet_households, booklet_pdf, check_year

    _check_suffix(out, ".pdf")
    if village and household:
        raise click.ClickException(_("--village 和 --household 只能选一个"))
    store = get_store()
    try:
        chosen = check_year(_year(year))
        total = len(booklet_households(store, village, household))
        with click.progressbar(length=total, label=_("一户一册"), show_pos=True) as bar:
            shown = 0

            def progress(done: int, _total: int) -> None:
                nonlocal shown
                bar.update(done - shown)
                shown = done

            pdf = booklet_pdf(store, chosen, village, household, progress=progress)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    atomic_write_bytes(out.resolve(), pdf)
    click.echo(_("一户一册（%(n)d 户）已写入 %(out)s", n=total, out=out))


@click.command("export-visits")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--village", default=None, help="Only this village.")
@with_appcontext
def export_visits(month: str, out: Path, village: str | None) -> None:
    """The month's visits, one row each, as .xlsx (with the month's figures) or .csv."""
    from ..documents.exports import export_visits as write

    _check_suffix(out, ".xlsx", ".csv")
    try:
        count = write(get_store(), month, out.resolve(), village)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_("已导出 %(n)d 条走访记录到 %(out)s", n=count, out=out))


commands = [monthly_report, booklet, export_visits]
