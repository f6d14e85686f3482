"""Working at the door without a signal: the service worker, the queue page, photos of
visits, household locations, and the small things that keep pages light on a slow line
(versioned asset URLs that never need revalidating, gzip for text)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.globals import request_ctx
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import vocab
from ..access.accounts import get_store, login_required, role_required
from ..visits import location as geo
from ..visits import photos
from ..visits import recording as visits
from .helpers import household_by_token, may_view

bp = Blueprint("offline", __name__)

# What the helper's pages (CACHEABLE_ENDPOINTS) load, precached by the service worker at
# install: the visit form works offline.
ASSETS = ("app.css", "app.js", "offline.js", "visit_form.js", "evidence.js")
# Pages a helper needs at the door; only these are kept by the service worker.
CACHEABLE_ENDPOINTS = {"field.home", "field.household", "field.visit_form", "offline.queue"}
COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/javascript"}
MIN_COMPRESS = 500  # below this gzip's header costs more than it saves


@functools.lru_cache(maxsize=64)
def _digest(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def asset_url(filename: str) -> str:
    """The URL of a static file with its content's hash: a new version is a new URL, so a
    cached copy never needs to be checked again."""
    path = Path(current_app.static_folder or "") / filename
    version = _digest(str(path), path.stat().st_mtime_ns)
    return url_for("static", filename=filename, v=version)


@bp.app_context_processor
def offline_globals() -> dict[str, Any]:
    return {
        "asset_url": asset_url,
        "distance_m": geo.distance_m,
        "far_meters": current_app.config.get("FAR_METERS", 500),
    }


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, served from the root so that its scope is the whole app."""
    source = (Path(current_app.static_folder or "") / "sw.js").read_text(encoding="utf-8")
    assets = [asset_url(name) for name in ASSETS]
    settings = {
        "version": hashlib.sha256(json.dumps(assets).encode()).hexdigest()[:10],
        "assets": assets,
        "offline": _("没有网络，这个页面还没有保存在手机上。请先在有网络时打开一次。"),
    }
    body = f"const FV = {json.dumps(settings, ensure_ascii=False)};\n{source}"
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/queue")
@login_required
def queue() -> str:
    """Records waiting on this phone. The list itself is read from the phone's storage by
    offline.js: the server has not seen these records."""
    labels = json.dumps(_queue_labels(), ensure_ascii=False, sort_keys=True)
    return render_template("queue.html", labels=labels)


def _queue_labels() -> dict[str, str]:
    """Labels for a queued record's fields, answers and errors, keyed as the API names them
    (``date``, ``guarantees.food``, ``kind.in_person``): a refused record is shown to the
    helper in words, not codes. The page is kept for offline use, so the map comes with it."""
    labels = {
        "date": _("走访日期"),
        "kind": _("走访方式"),
        "guarantees": _("两不愁三保障"),
        "environment": _("人居环境"),
        "helped_clean": _("帮助打扫整理了吗"),
        "needs": _("群众诉求"),
        "needs.category": _("需求类别"),
        "needs.description": _("需求内容"),
        "needs.urgent": _("紧急"),
        "satisfaction": _("满意度"),
        "notes": _("备注"),
        "photos": _("照片"),
        "helper": _("帮扶责任人"),
        "yes": _("是"),
        "no": _("否"),
        "na": _("不适用"),
    }
    for prefix, vocabulary in (
        ("kind", vocab.VISIT_KINDS),
        ("guarantees", vocab.GUARANTEES),
        ("satisfaction", vocab.SATISFACTION),
        ("needs.category", vocab.NEED_CATEGORIES),
    ):
        labels.update({f"{prefix}.{code}": vocab.label(vocabulary, code) for code in vocabulary})
    # The defaults too: a record made before the township changed its checklist may hold them.
    for key, text in vocab.DEFAULT_CHECKLIST:
        labels[f"environment.{key}"] = vocab.translate(text)
    for item in visits.checklist(get_store()):
        labels[f"environment.{item.key}"] = vocab.translate(item.label)
    return labels


@bp.get("/photos/<visit_id>/<photo_id>")
@login_required
def photo(visit_id: str, photo_id: str) -> Response:
    store = get_store()
    thumb = request.args.get("thumb") == "1"
    visit, path = photos.photo_file(store, visit_id, photo_id, thumb=thumb)
    if visit is None or path is None:
        abort(404)
    household = store.household(visit.household)
    if household is None or not may_view(household):
        abort(403)
    response = send_file(path, mimetype="image/jpeg", max_age=86400)
    # Photos of poor households are personal: never kept by a shared proxy.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace("，", ".").replace(",", "."))
    except ValueError:
        return None


@bp.post("/h/<token>/location")
@role_required("admin")
def set_location(token: str) -> Response:
    """The office sets (or clears) a household's location."""
    household = household_by_token(token)
    errors: dict[str, str] = {}
    location = None
    if "clear" not in request.form:
        # Each coordinate told apart: "not a number" is not "out of range".
        raw = {name: _number(request.form.get(name, "")) for name in ("lat", "lng")}
        if raw["lat"] is None:
            errors["lat"] = _("纬度要填数字，例如 33.39297")
        if raw["lng"] is None:
            errors["lng"] = _("经度要填数字，例如 113.96361")
        if not errors:
            location = geo.parse_location(raw, errors)
    if errors:
        flash(_("位置无效：%(problem)s", problem="；".join(errors.values())))
    else:
        visits.place_household(get_store(), household.id, location, g.user.phone, only_new=False)
        flash(_("户的位置已保存") if location else _("户的位置已清除"))
    return redirect(url_for("field.household", token=token) + "#location")


@bp.after_app_request
def lighten(response: Response) -> Response:
    """Mark pages the service worker may keep, let versioned assets be cached for good,
    and gzip text for clients that accept it."""
    # A page that showed a one-time message (走访已保存, 走访记录已修改…) is not kept: opened
    # from the phone's cache days later it would show the message again. request_ctx.flashes
    # holds the messages this request's page rendered (None when it read none).
    if (
        g.get("user") is not None
        and request.endpoint in CACHEABLE_ENDPOINTS
        and not request_ctx.flashes
    ):
        response.headers["X-Fieldvisit-Cache"] = g.user.phone
    if request.endpoint == "static" and request.args.get("v"):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return _gzip(response)


def _gzip(response: Response) -> Response:
    if (
        response.status_code != 200
        or response.mimetype not in COMPRESSIBLE
        or "Content-Encoding" in response.headers
        or "gzip" not in request.headers.get("Accept-Encoding", "").lower()
        or request.method == "HEAD"
    ):
        return response
    if response.is_streamed and request.endpoint != "static":
        return response  # a long download: leave it streaming
    response.direct_passthrough = False
    source = response.response
    data = response.get_data()
    close = getattr(source, "close", None)
    if close is not None:
        close()  # a static file's handle: read whole, so done with now
    if len(data) < MIN_COMPRESS:
        return response
    response.set_data(gzip.compress(data, compresslevel=6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    if response.headers.get("ETag"):
        # The compressed body is a different representation of the same file.
        response.headers["ETag"] = response.headers["ETag"].rstrip('"') + '-gz"'
    return response
