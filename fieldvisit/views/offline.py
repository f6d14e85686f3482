"""Working at the door without a signal: the service worker, the queue page of records
waiting on the phone, and the mark on the pages the service worker may keep.

Photos are served by ``views/photos.py``, household locations set in ``views/location.py``,
and versioned asset URLs and gzip live in ``views/assets.py``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Blueprint, current_app, g, render_template
from flask.globals import request_ctx
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import vocab
from ..access.permissions import login_required
from ..context import this_request
from ..storage.current import get_store
from ..visits.fields import checklist
from .assets import asset_url

bp = Blueprint("offline", __name__)

# What the helper's pages (CACHEABLE_ENDPOINTS) load, precached by the service worker at
# install: the visit form works offline.
ASSETS = ("app.css", "app.js", "offline.js", "visit_form.js", "evidence.js")
# Pages a helper needs at the door; only these are kept by the service worker.
CACHEABLE_ENDPOINTS = {"field.home", "field.household", "field.visit_form", "offline.queue"}


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
    for item in checklist(get_store()):
        labels[f"environment.{item.key}"] = vocab.translate(item.label)
    return labels


def mark_cacheable(response: Response) -> Response:
    """After each request: mark the pages the service worker may keep with the logged-in
    user's phone; sw.js keeps them for that user only."""
    # A page that showed a one-time message (走访已保存, 走访记录已修改…) is not kept: opened
    # from the phone's cache days later it would show the message again. request_ctx.flashes
    # holds the messages this request's page rendered (None when it read none).
    if (
        this_request().endpoint in CACHEABLE_ENDPOINTS  # first: no API answer is one
        and g.get("user") is not None
        and not request_ctx.flashes
    ):
        response.headers["X-Fieldvisit-Cache"] = g.user.phone
    return response
