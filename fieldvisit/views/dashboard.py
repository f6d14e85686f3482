"""The completion dashboard: which households were visited this month, by village and helper.

Read-only, for supervisors and the office. Helpers have their own list on the home page.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response

from .. import vocab
from ..access.permissions import (
    deployment_office_required,
    office_required,
    scoped_township,
    supervision_required,
)
from ..collation import sort_villages
from ..documents.charts import Bar, bar_chart, line_chart
from ..figures import dashboard, targets
from ..figures.county import county_board, is_county
from ..figures.month import ChecklistRate, rate
from ..months import this_month
from ..storage import Store
from ..storage.current import get_store

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
@supervision_required
def index() -> str | tuple[str, int]:
    store = get_store()
    today = date.today()
    try:
        query = dashboard.parse_query(store, request.args, today, partial(scoped_township, g.user))
    except dashboard.QueryError as exc:
        asked = scoped_township(g.user, (request.args.get("township") or "").strip() or None)
        page = _filters(store, asked)
        return render_template("dashboard.html", problem=exc.message, **page), 400
    if query.township is None and query.village is None and is_county(store.registry()):
        # A county: figures by township, each a link to that township's own dashboard.
        county = county_board(store, query.month, today)
        return render_template(
            "dashboard_county.html", board=county, trend_chart=trend_chart(county.trend)
        )
    board = dashboard.completion(store, query, today)
    return render_template(
        "dashboard.html",
        board=board,
        village_chart=village_chart(board),
        environment_chart=environment_chart(board.figures.environment),
        trend_chart=trend_chart(board.trend),
        **_filters(store, query.township),
    )


def _filters(store: Store, township: str | None) -> dict[str, Any]:
    """What the filter form offers: a township's page, its own villages and work units."""
    return {
        "args": request.args,
        "this_month": this_month(),
        "township": township,
        "villages": sort_villages(dashboard.villages(store, township)),
        "units": dashboard.units(store, township),
    }


@bp.get("/dashboard/settings")
@office_required
def settings() -> str:
    return render_template("dashboard_settings.html", rules=targets.targets(get_store()))


@bp.post("/dashboard/settings")
@deployment_office_required
def save_settings() -> Response | tuple[str, int]:
    """The completion target and whether photos are required: the office's, audited."""
    typed = request.form.get("target", "")
    photo_required = request.form.get("photo_required") == "1"
    try:
        rules = targets.Targets(targets.parse_target(typed), photo_required)
    except targets.TargetError as exc:
        page = render_template(
            "dashboard_settings.html",
            rules=targets.targets(get_store()),
            typed=typed.strip()[:10],
            photo_required=photo_required,
            problem=str(exc),
        )
        return page, 400
    targets.set_targets(get_store(), rules, actor=g.user.phone)
    flash(_("设置已保存"))
    return redirect(url_for("dashboard.settings"), code=303)


# --- charts --------------------------------------------------------------------------------

# Narrow enough to stay legible when a phone scales them down, wide enough for a laptop.
CHART_WIDTH = 420


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} {rate(part, whole) * 100:.1f}%"


def village_chart(board: dashboard.Completion) -> Markup:
    """Completion by village; villages below the township's target hatched, the same bars
    the monthly PDF hatches and the same villages both mark 未完成."""
    bars = [
        Bar(
            row.village,
            row.rate,
            _share(row.visited, row.households),
            board.below_target(row.visited, row.households),
        )
        for row in board.figures.by_village
    ]
    # charts.py escapes every text
    return Markup(bar_chart(bars, width=CHART_WIDTH, label=_("各村完成率")))


def environment_chart(items: list[ChecklistRate]) -> Markup:
    """Pass rate of each checklist item; items below the average of all items hatched."""
    answered = [i for i in items if i.passed + i.failed]
    average = sum(i.rate for i in answered) / len(answered) if answered else 0.0
    bars = [
        Bar(
            vocab.translate(i.label),
            i.rate,
            _share(i.passed, i.passed + i.failed),
            i.rate < average,
        )
        for i in items
    ]
    return Markup(bar_chart(bars, width=CHART_WIDTH, label=_("人居环境检查通过率")))


def trend_chart(trend: list[dashboard.TrendPoint]) -> Markup:
    """Completion month by month; points are labelled with the month's number, the caption
    gives the years (a full "2026-01" under each of twelve points does not fit a phone)."""
    points = [(str(int(p.month[5:])), p.rate) for p in trend]
    return Markup(line_chart(points, width=CHART_WIDTH, height=170, label=_("近 12 个月完成率")))
