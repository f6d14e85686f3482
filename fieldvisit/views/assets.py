"""What keeps pages light on a slow line: static files addressed by their content's hash, so a
cached copy never needs revalidating, and gzip for text. Not a blueprint: ``create_app``
registers ``asset_globals`` for the templates and ``lighten`` after every request."""

from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path
from typing import Any

from flask import Request, current_app, url_for
from werkzeug.wrappers import Response

from ..context import this_request

COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/javascript"}
MIN_COMPRESS = 500  # below this gzip's header costs more than it saves


@functools.lru_cache(maxsize=64)
def _digest(path: str, mtime_ns: int) -> str:
    # The modification time is part of the key: an edited file gets a new digest.
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def asset_url(filename: str) -> str:
    """The URL of a static file with its content's hash: a new version is a new URL, so a
    cached copy never needs to be checked again."""
    path = Path(current_app.static_folder or "") / filename
    version = _digest(str(path), path.stat().st_mtime_ns)
    return url_for("static", filename=filename, v=version)


def asset_globals() -> dict[str, Any]:
    """For every template: ``asset_url``, the only way a page names a script or style."""
    return {"asset_url": asset_url}


def lighten(response: Response) -> Response:
    """Let versioned assets be cached for good, and gzip text for clients that accept it."""
    req = this_request()  # every request passes here: see context
    if req.endpoint == "static" and req.args.get("v"):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return _gzip(req, response)


def _gzip(req: Request, response: Response) -> Response:
    if (
        response.status_code != 200
        or response.mimetype not in COMPRESSIBLE
        or "Content-Encoding" in response.headers
        or "gzip" not in req.headers.get("Accept-Encoding", "").lower()
        or req.method == "HEAD"
    ):
        return response
    if response.is_streamed and req.endpoint != "static":
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
