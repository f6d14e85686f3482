"""Error pages: HTML for people, JSON for the API, always in the user's language."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..storage import MonthClosed
from ..visits.validation import closed_month_message


def _message(code: int) -> str:
    messages = {
        400: _("请求有误"),
        401: _("请先登录"),
        403: _("您没有权限查看或修改这里"),
        404: _("找不到这个页面"),
        405: _("不支持这种请求"),
        409: _("与已有记录冲突"),
        413: _("文件太大"),
        429: _("尝试次数过多，请稍后再试"),
        500: _("服务器出错了，请稍后再试"),
    }
    return messages.get(code, _("请求有误"))


def _respond(code: int, message: str, back: str | None = None) -> tuple[Any, int]:
    if request.path.startswith("/api/"):
        return jsonify(error=message), code
    return render_template("error.html", code=code, message=message, back=back), code


def _our_hosts() -> set[str]:
    hosts = {request.host}
    base = current_app.config.get("BASE_URL")
    if base:
        hosts.add(urlsplit(base).netloc)
    return hosts


def referring_page() -> str | None:
    """The path (and query) of the page the request came from, when it is one of ours;
    None for another site's page, a missing Referer or anything odd, so that an error page's
    "back" link never leads off the site."""
    referer = request.headers.get("Referer", "")
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.netloc not in _our_hosts():
        return None
    path = parts.path or "/"
    # "//host" and "/\\host" are read by browsers as another site.
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return f"{path}?{parts.query}" if parts.query else path


def _too_large() -> tuple[Any, int]:
    # The limit counts the whole request, so a file a little under it may still be refused;
    # stating it lets the office judge how much to cut.
    message = _("文件太大：最大 %(mb)d MB", mb=current_app.config["MAX_UPLOAD_MB"])
    return _respond(413, message, back=referring_page())


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[Any, int]:
        return _respond(400, _("页面已过期，请刷新后重试"))

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded) -> tuple[Any, int, dict[str, str]]:
        minutes = max(1, exc.limit.limit.get_expiry() // 60)
        if request.endpoint == "auth.login":
            from .auth import LoginForm, render_login

            form = LoginForm()
            form.password.errors = [_("登录失败次数过多，请 %(n)d 分钟后再试", n=minutes)]
            response = render_login(form, 429)
        else:
            response = _respond(429, _("尝试次数过多，请 %(n)d 分钟后再试", n=minutes))
        body, code = response
        return body, code, {"Retry-After": str(minutes * 60)}

    @app.errorhandler(MonthClosed)
    def month_closed(exc: MonthClosed) -> tuple[Any, int]:
        # The office closed the month between the request's own check and its save.
        return _respond(409, closed_month_message(exc.month), back=referring_page())

    @app.errorhandler(OSError)
    def write_failed(exc: OSError) -> tuple[Any, int, dict[str, str]]:
        # The disk refused a write (full, failing): the change was not committed, so nothing
        # of it is stored, and trying again later is the right thing to do.
        current_app.logger.error("storage failed: %s", exc, exc_info=exc)
        message = _(
            "没有保存：服务器写入数据失败（磁盘可能已满或出错），请稍后再试。已保存的记录不受影响。"
        )
        body, code = _respond(503, message, back=referring_page())
        return body, code, {"Retry-After": "60"}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Any, int]:
        if exc.code == 413:
            return _too_large()  # the page or the API's JSON, with the limit
        return _respond(exc.code or 500, _message(exc.code or 500))
