"""Language choice: Simplified Chinese unless the user picked English.

Message ids are the Chinese texts themselves, so Chinese needs no catalogue and the English
catalogue (translations/en) must cover every message.
"""

from __future__ import annotations

import os

from flask import has_request_context, request

LANGUAGES = ("zh", "en")
COOKIE = "lang"


def select_locale() -> str:
    if not has_request_context():
        # Commands speak the township's language unless the operator asks otherwise.
        chosen = os.environ.get("FIELDVISIT_LANG", "zh")
        return chosen if chosen in LANGUAGES else "zh"
    cookie = request.cookies.get(COOKIE)
    return cookie if cookie is not None and cookie in LANGUAGES else "zh"
