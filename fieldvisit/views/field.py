"""At the door: the helper's home page, the household a plate leads to, the visit form."""

from __future__ import annotations

import uuid
from datetime import date

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..access.permissions import (
    is_helper,
    is_office,
    is_supervisor,
    login_required,
    may_correct,
    may_record,
    office_required,
)
from ..documents.plate_address import plate_url
from ..households import lookup as households_domain
from ..idcard import mask_id_number
from ..models import Household, Visit
from ..months import months_back, this_month
from ..storage import MonthClosed
from ..storage.current import get_store
from ..visits import form as visitform
from ..visits import photos as visit_photos
from ..visits import recording as visits
from ..visits import validation
from ..visits.fields import checklist
from .auth import render_login
from .helpers import household_by_token, may_view

bp = Blueprint("field", __name__)


@bp.get("/")
@login_required
def home() -> str:
    store = get_store()
    today = date.today()
    if not is_helper(g.user):
        return render_template(
            "office_home.html", overview=households_domain.overview(store, today)
        )
    rows = households_domain.helper_worklist(store, g.user.phone, today)
    return render_template("home.html", rows=rows, month=this_month(today))


@bp.get("/h/<token>")
def household(token: str) -> Response | str | tuple[str, int]:
    household = household_by_token(token)
    if g.user is None:
        # Whoever scans a plate without logging in learns nothing about the household.
        return render_login()
    if not may_view(household):
        return render_template("not_paired.html", household=household), 403
    store = get_store()
    today = date.today()
    # The last ten visits of the past year, or with ?all=1 every visit on record.
    show_all = request.args.get("all") == "1"
    months = store.months() if show_all else months_back(this_month(today), 12)
    history = visits.household_visits(store, household, months)
    users = store.registry().users
    month = this_month(today)
    this_months = [v for v in history if v.month == month]
    month_state = visits.states_of(this_months, [household.id])[household.id]
    # The visit the state rests on: the latest in person once visited, else the latest.
    shown = [v for v in this_months if v.kind == "in_person" or month_state != "visited"]
    return render_template(
        "household.html",
        household=household,
        token=token,
        masked_id=mask_id_number(household.id_number),
        helpers=[store.user(p) for p in household.helpers if store.user(p)],
        recent=history if show_all else history[:10],
        show_all=show_all,
        open_needs=households_domain.open_needs(store, household),
        may_record=may_record(g.user, household),
        # This month's state by the one rule (an in-person visit counts), and the latest
        # visit to name: once visited, the big button steps aside for a smaller one.
        month_state=month_state,
        month_visit=shown[0] if shown else None,
        day=_day,
        may_correct=lambda v: may_correct(g.user, v, today) and not store.is_closed(v.month),
        # The plate's link as printed; None while no address phones reach is set.
        plate_url=plate_url(store, token),
        # Who visited, by name: a household may have two helpers, or have changed helper.
        person=lambda phone: users[phone].name if phone in users else phone,
    )


def _day(iso: str) -> str:
    """A visit's date without the year, "11月29日" (the month is this one)."""
    day = date.fromisoformat(iso)
    return _("%(month)d月%(day)d日", month=day.month, day=day.day)


def _form_page(
    household: Household,
    token: str,
    values: dict,
    errors: dict,
    visit: Visit | None,
    photo_error: str | None = None,
) -> str:
    store = get_store()
    helpers = [u for u in (store.user(p) for p in household.helpers) if u]
    if is_office(g.user):
        helpers = helpers or [u for u in store.registry().users.values() if is_helper(u)]
    return render_template(
        "visit_form.html",
        household=household,
        token=token,
        values=values,
        errors=errors,
        checklist=checklist(store),
        helpers=helpers,
        editing=visit,
        # A correction's photos are added and removed by their own small forms (photos.py).
        photo_error=photo_error,
        photo_id=str(uuid.uuid4()),  # the next photo's id: a double tap stores it once
        max_photos=visit_photos.MAX_PHOTOS,
        today=date.today().isoformat(),
        # For the checks visit_form.js makes before saving (the same limits as the server's).
        limits={
            "notes": validation.MAX_NOTES,
            "needs": validation.MAX_NEEDS,
            "need_text": validation.MAX_NEED_TEXT,
        },
    )


@bp.route("/h/<token>/visit", methods=["GET", "POST"])
@login_required
def visit_form(token: str) -> Response | str | tuple[str, int]:
    household = household_by_token(token)
    if not may_record(g.user, household):
        # A supervisor may look at every household but records nothing: tell them so, and
        # lead them to the household's page rather than to a helper's list they lack.
        return render_template(
            "not_paired.html", household=household, token=token, may_view=may_view(household)
        ), 403
    if request.method == "GET":
        return _form_page(household, token, visitform.blank_values(date.today()), {}, None)
    if "add_need" in request.form:
        return _form_page(household, token, visitform.values_from_form(request.form), {}, None)
    payload = visitform.payload_from_form(request.form, household.id)
    try:
        _visit, created = visits.record_visit(get_store(), payload, g.user)
    except validation.VisitError as exc:
        values = visitform.values_from_form(request.form)
        errors = visitform.errors_by_row(exc.errors, request.form)
        return _form_page(household, token, values, errors, None), exc.status
    flash(_("走访已保存") if created else _("这次走访之前已保存，没有重复登记"))
    return redirect(url_for("field.household", token=token))


def correctable_visit(household: Household, visit_id: str) -> Visit:
    """The household's visit of a correction's address, or a plain 404; a visit of a closed
    month is refused (409, naming the month: ``views.errors``) before its form or photos."""
    store = get_store()
    visit = households_domain.find_visit(store, household, visit_id)
    if visit is None:
        abort(404)
    if validation.month_closed(store, visit.month) is not None:
        raise MonthClosed(visit.month)
    return visit


def refuse_correction(token: str, message: str | None = None) -> tuple[str, int]:
    """The 403 page of a correction (its fields or its photos) the user may not make: said
    plainly, who may correct what, with the way back to the household."""
    if message is None:
        message = (
            _("督查账号不能修改走访记录")
            if is_supervisor(g.user)
            else _("只能在当月修改自己的走访记录")
        )
    back = url_for("field.household", token=token)
    return render_template("error.html", code=403, message=message, back=back), 403


def correction_page(
    household: Household, token: str, visit: Visit, photo_error: str | None = None
) -> str:
    """The correction form of a stored visit as it is now."""
    values = visitform.values_from_visit(visit)
    return _form_page(household, token, values, {}, visit, photo_error)


@bp.route("/h/<token>/visits/<visit_id>/edit", methods=["GET", "POST"])
@login_required
def edit_visit(token: str, visit_id: str) -> Response | str | tuple[str, int]:
    household = household_by_token(token)
    store = get_store()
    visit = correctable_visit(household, visit_id)
    if not may_correct(g.user, visit, date.today()):
        return refuse_correction(token)
    if request.method == "GET":
        return correction_page(household, token, visit)
    values = visitform.values_from_form(request.form)
    if "add_need" in request.form:
        return _form_page(household, token, values, {}, visit)
    payload = visitform.payload_from_form(request.form, household.id)
    try:
        visits.correct_visit(store, visit, payload, g.user)
    except validation.VisitError as exc:
        errors = visitform.errors_by_row(exc.errors, request.form)
        return _form_page(household, token, values, errors, visit), exc.status
    flash(_("走访记录已修改，原记录已保留"))
    return redirect(url_for("field.household", token=token))


@bp.post("/h/<token>/token")
@office_required
def reissue_token(token: str) -> Response:
    household = household_by_token(token)
    new = households_domain.reissue_token(get_store(), household.id, actor=g.user.phone)
    # The category lets the household page offer the new plate's print button at the top.
    flash(_("已换新二维码，旧户牌的链接已失效，请打印新户牌"), "new_token")
    return redirect(url_for("field.household", token=new))
