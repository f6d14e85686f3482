"""The office's household and helper lists, and the changes it makes by hand.

Supervisors see the lists; only the office (admin) changes anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from werkzeug.wrappers import Response

from ..access import tokens as api_tokens
from ..access.permissions import in_scope, is_helper, office_required, supervision_required
from ..audit.targets import named
from ..collation import sort_villages
from ..documents import plate_records
from ..households import office as admin
from ..households import search
from ..idcard import mask_id_number
from ..models import Household, User
from ..months import this_month
from ..storage.current import get_store

bp = Blueprint("admin", __name__, url_prefix="/office")

T = TypeVar("T")
PAGE_SIZE = 50
# How the helper page names one API token: the start of its digest (never the token).
TOKEN_ID_LENGTH = 16
_TOKEN_ID = re.compile(rf"[0-9a-f]{{{TOKEN_ID_LENGTH}}}")


@dataclass
class Page(Generic[T]):
    """One page of a long list."""

    items: list[T]
    number: int  # from 1
    pages: int
    total: int


def paginate(items: Sequence[T], args: Mapping[str, str], size: int = PAGE_SIZE) -> Page[T]:
    """The page of ``items`` that ``args["page"]`` asks for, kept within range."""
    raw = args.get("page", "1")
    pages = max(1, math.ceil(len(items) / size))
    number = min(int(raw) if raw.isdigit() and int(raw) > 0 else 1, pages)
    start = (number - 1) * size
    return Page(list(items[start : start + size]), number, pages, len(items))


def _household(hid: str) -> Household:
    household = get_store().household(hid)
    # Another township's household is not there for a township's office (not 403: its
    # existence is none of their business).
    if household is None or not in_scope(g.user, household):
        abort(404)
    return household


def _helper(phone: str) -> User:
    user = get_store().user(phone)
    if user is None or not is_helper(user):
        abort(404)
    return user


# --- households ---------------------------------------------------------------------------


@bp.get("/households")
@supervision_required
def households() -> str:
    store = get_store()
    filters = search.HouseholdFilters.from_args(request.args)
    rows = search.find_households(store, filters, this_month(), g.user)
    return render_template(
        "admin/households.html",
        filters=filters,
        page=paginate(rows, request.args),
        villages=sort_villages(set(store.registry().villages)),
    )


def _stored_values(household: Household) -> dict[str, object]:
    values = {name: getattr(household, name) for name in admin.EDITABLE}
    values["id_number"] = ""  # never sent to the page in full
    return values


def _edit_page(household: Household, values: Mapping[str, object], errors: dict[str, str]) -> str:
    store = get_store()
    return render_template(
        "admin/household_edit.html",
        household=household,
        values=values,
        errors=errors,
        masked_id=mask_id_number(household.id_number),
        villages=sort_villages(set(store.registry().villages)),
        helpers=[u for u in (store.user(p) for p in household.helpers) if u],
        choices=search.find_helpers(store.registry(), active="active"),
    )


@bp.route("/households/<hid>/edit", methods=["GET", "POST"])
@office_required
def edit_household(hid: str) -> Response | str | tuple[str, int]:
    household = _household(hid)
    if request.method == "GET":
        return _edit_page(household, _stored_values(household), {})
    try:
        changed = admin.edit_household(get_store(), hid, request.form, actor=g.user.phone)
    except admin.AdminError as exc:
        return _edit_page(household, request.form, exc.errors), 400
    flash(_("已保存修改") if changed else _("没有修改"))
    return redirect(url_for("field.household", token=household.token))


@bp.post("/households/<hid>/helpers")
@office_required
def household_helpers(hid: str) -> Response | str | tuple[str, int]:
    household = _household(hid)
    try:
        admin.set_helpers(get_store(), hid, request.form.getlist("helpers"), actor=g.user.phone)
    except admin.AdminError as exc:
        errors = {"helpers": exc.errors.get("", "")}
        return _edit_page(household, _stored_values(household), errors), 400
    flash(_with_reprint(_("帮扶责任人已更新"), [hid]))
    return redirect(url_for("field.household", token=household.token))


def _with_reprint(message: str, changed: Sequence[str]) -> str | Markup:
    """``message``, and when plates of the households ``changed`` print helpers they no
    longer have (a plate names the helpers and their phones), a link to print just those."""
    n = plate_records.stale_among(get_store().registry(), changed)
    if not n:
        return message
    return Markup('{} {} <a href="{}">{}</a>').format(
        message,
        _("%(n)d 户门上的户牌印的还是原来的帮扶责任人，需要重新打印。", n=n),
        url_for("office.plates", _anchor="stale-plates"),
        _("打印这些户牌"),
    )


# --- helpers ------------------------------------------------------------------------------


@bp.get("/helpers")
@supervision_required
def helpers() -> str:
    q = request.args.get("q", "").strip()[:100]
    active = request.args.get("active", "")
    active = active if active in search.ACTIVE_FILTERS else ""
    rows = search.find_helpers(get_store().registry(), q, active)
    return render_template(
        "admin/helpers.html", q=q, active=active, page=paginate(rows, request.args)
    )


def _helper_page(user: User, status: int = 200, **extra: object) -> tuple[str, int]:
    store = get_store()
    reg = store.registry()
    mine = [h for h in search.search_households(reg, "") if user.phone in h.helpers]
    return render_template(
        "admin/helper.html",
        helper=user,
        households=mine,
        choices=[r for r in search.find_helpers(reg, active="active") if r.user != user],
        tokens=api_tokens.tokens_of(store, user.phone),
        token_id_length=TOKEN_ID_LENGTH,
        **extra,
    ), status


@bp.get("/helpers/<phone>")
@supervision_required
def helper(phone: str) -> tuple[str, int]:
    return _helper_page(_helper(phone))


@bp.post("/helpers/<phone>/transfer")
@office_required
def transfer(phone: str) -> Response | tuple[str, int]:
    user = _helper(phone)
    store = get_store()
    to = request.form.get("to", "")
    try:
        # Resolved here first, so that the message can name the helper the clerk meant.
        to_phone = admin.helper_phone(store.registry(), to)
        moved = admin.transfer_households(store, phone, to_phone, actor=g.user.phone)
    except admin.AdminError as exc:
        # The form has this one field: what went wrong is shown there, with what was typed.
        return _helper_page(user, 400, to=to, to_error=exc.errors.get("", ""))
    receiver = store.user(to_phone)
    helper_words = named(receiver.name, to_phone) if receiver else to_phone
    message = ngettext(
        "已将 %(num)d 户转交给 %(helper)s",
        "已将 %(num)d 户转交给 %(helper)s",
        len(moved),
        helper=helper_words,
    )
    flash(_with_reprint(message, moved))
    return redirect(url_for("admin.helper", phone=phone))


def _set_active(phone: str, active: bool) -> Response | tuple[str, int]:
    user = _helper(phone)
    try:
        admin.set_active(get_store(), phone, active, actor=g.user.phone)
    except admin.AdminError as exc:
        return _helper_page(user, exc.status, problem=exc.errors.get("", ""))
    flash(_("账号已启用") if active else _("账号已停用，走访记录仍保留"))
    return redirect(url_for("admin.helper", phone=phone))


@bp.post("/helpers/<phone>/deactivate")
@office_required
def deactivate(phone: str) -> Response | tuple[str, int]:
    return _set_active(phone, False)


@bp.post("/helpers/<phone>/activate")
@office_required
def activate(phone: str) -> Response | tuple[str, int]:
    return _set_active(phone, True)


@bp.post("/helpers/<phone>/password")
@office_required
def reset_password(phone: str) -> tuple[str, int, dict[str, str]]:
    user = _helper(phone)
    password = admin.reset_password(get_store(), phone, actor=g.user.phone)
    # Shown once, in this answer only: not flashed (the session cookie is readable) and not
    # kept by the browser's cache.
    page, status = _helper_page(user, new_password=password)
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/helpers/<phone>/tokens/revoke")
@office_required
def revoke_tokens(phone: str) -> Response:
    """Revoke one API token of the helper (``token``: its id as the page shows it) or, with
    no ``token``, all of them: their clients get 401 from the next request on."""
    _helper(phone)
    token_id = request.form.get("token", "")
    if token_id and not _TOKEN_ID.fullmatch(token_id):
        abort(400)
    count = api_tokens.revoke_tokens(get_store(), phone, actor=g.user.phone, prefix=token_id)
    flash(_("已撤销 %(n)d 个 API 令牌", n=count))
    return redirect(url_for("admin.helper", phone=phone))
