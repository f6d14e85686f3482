"""A guard every request passes: identifiers are whole strings.

A path parameter (a door plate's token, a visit or photo id, a job id) or a month or date
parameter holding a newline or another control character is refused here, for every route
at once, with 400. Left to the code that reads it, such a value would be stripped
("2026-11\\n" read as 2026-11) or dropped (no date: the whole log), or be a 404 that hides
what was wrong. Registered in ``create_app`` after ``load_user``, so that the error page
shows the logged-in user's menu.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template
from flask_babel import gettext as _

from ..context import this_request
from ..figures.month import month_shape_message
from ..storage.paths import has_control

# Query parameters that are months or dates, wherever they are read (the dashboard and the
# completion API, the visit list, the audit log's from/to).
WHOLE_STRING_ARGS = ("month", "from", "to")


def _whole_string_message(name: str) -> str:
    if name == "month":
        return month_shape_message()
    if name in WHOLE_STRING_ARGS:
        return _("请填写日期（年-月-日）")
    return _("链接中含有无效字符")


def refuse_control_characters() -> tuple[Any, int] | None:
    """400 for a control character in a path parameter or a month/from/to value; None
    lets the request through."""
    req = this_request()  # every request passes here: see context
    bad = [name for name, value in (req.view_args or {}).items() if _holds_control(value)]
    if req.environ.get("QUERY_STRING"):  # most requests have none: nothing to parse
        args = req.args
        bad += [
            name
            for name in WHOLE_STRING_ARGS
            if any(has_control(value) for value in args.getlist(name))
        ]
    if not bad:
        return None
    message = _whole_string_message(bad[0])
    if req.path.startswith("/api/"):
        return jsonify(error=message, errors={bad[0]: message}), 400
    return render_template("error.html", code=400, message=message), 400


def _holds_control(value: object) -> bool:
    return isinstance(value, str) and has_control(value)
