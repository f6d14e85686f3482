"""Logging in and out, changing one's password, choosing the language."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..access.login import authenticate, log_in, log_out, log_out_everywhere, normalize_phone
from ..access.passwords import MIN_LENGTH
from ..access.permissions import login_required
from ..access.users import set_password
from ..extensions import limiter
from ..i18n import COOKIE, LANGUAGES
from ..storage.current import get_store

bp = Blueprint("auth", __name__)

# Guessing a password: per account (someone trying one phone from many addresses) and per
# address (one address trying many phones). Only failed attempts count, because on the
# helping day hundreds of helpers log in from behind the same mobile carrier's addresses.
PER_PHONE = "10 per 15 minutes"
PER_ADDRESS = "30 per 15 minutes"


def _phone_key() -> str:
    return "login-phone/" + normalize_phone(request.form.get("phone") or "")[:32]


def _failed(response: Response) -> bool:
    return response.status_code != 302  # a successful login redirects


def _account_key() -> str:
    # /password is for logged-in users only (the limit is checked after login_required).
    return "password-phone/" + (g.user.phone if g.get("user") else "")


def _wrong_current(response: Response) -> bool:
    # Only a wrong current password counts: a mistyped confirmation is no guess.
    return bool(g.get("wrong_current_password"))


class LoginForm(FlaskForm):
    phone = StringField(_l("手机号"), validators=[DataRequired(_l("请填写手机号"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码"))])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请填写当前密码"))])
    new = PasswordField(
        _l("新密码"),
        validators=[
            DataRequired(_l("请填写新密码")),
            Length(min=MIN_LENGTH, message=_l("密码至少 %(min)d 位")),
        ],
    )
    confirm = PasswordField(
        _l("再输一遍新密码"), validators=[EqualTo("new", message=_l("两次输入的新密码不一致"))]
    )


def safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not send anyone elsewhere."""
    if not target:
        return url_for("field.home")
    # Control characters first: a line break would split the Location header (werkzeug
    # refuses it with a 500; a laxer server would let a header in), and urlsplit silently
    # drops tabs and line breaks, so the checks below would not see them. A backslash too:
    # browsers read "/\\evil.example" as "//evil.example".
    if any(c < " " or c == "\x7f" or c == "\\" for c in target):
        return url_for("field.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("field.home")
    if parts.path in (url_for("auth.login"), url_for("auth.logout")):
        return url_for("field.home")  # back to the login form would look like a failed login
    return target


def render_login(form: LoginForm | None = None, status: int = 200) -> tuple[str, int]:
    form = form or LoginForm()
    # Where to go once logged in: what was asked for, or the page that shows this form in
    # its place (a scanned door plate) — never the login page itself.
    target = request.args.get("next") or ("" if request.endpoint == "auth.login" else request.path)
    return render_template("login.html", form=form, next=target), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(PER_PHONE, key_func=_phone_key, methods=["POST"], deduct_when=_failed)
@limiter.limit(PER_ADDRESS, methods=["POST"], deduct_when=_failed)
def login() -> Response | tuple[str, int]:
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(get_store(), form.phone.data or "", form.password.data or "")
        if user is not None:
            log_in(user)
            return redirect(safe_next(request.args.get("next")))
        form.password.errors = [_("手机号或密码错误")]
        return render_login(form, 200)
    return render_login(form)


@bp.post("/logout")
def logout() -> Response:
    log_out()
    return redirect(url_for("auth.login"))


@bp.post("/logout/all")
@login_required
def logout_all() -> Response:
    """退出所有设备: a phone lost or lent, a password seen — every session ends, this one too."""
    log_out_everywhere(get_store(), g.user.phone)
    flash(_("已在所有设备上退出登录，请重新登录"))
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
# Someone holding an unlocked phone could otherwise guess the password here, unlimited.
@limiter.limit(PER_PHONE, key_func=_account_key, methods=["POST"], deduct_when=_wrong_current)
@limiter.limit(PER_ADDRESS, methods=["POST"], deduct_when=_wrong_current)
def password() -> Response | str:
    form = PasswordForm()
    if form.validate_on_submit():
        store = get_store()
        if authenticate(store, g.user.phone, form.current.data or "") is None:
            g.wrong_current_password = True
            form.current.errors = [_("当前密码不对")]
        else:
            set_password(store, g.user.phone, form.new.data, actor=g.user.phone)
            # set_password ended every session of the account, this one too; this phone logs
            # in afresh, with a new session id, rather than having its old one spared: then
            # "a password change ends every session" holds without exception.
            user = store.user(g.user.phone)
            if user is not None:  # deleted meanwhile: then there is nothing to log in to
                log_in(user)
            flash(_("密码已修改"))
            return redirect(url_for("field.home"))
    return render_template("password.html", form=form)


@bp.get("/lang/<code>")
def language(code: str) -> Response:
    if code not in LANGUAGES:
        code = "zh"
    response = redirect(safe_next(request.args.get("next")))
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
