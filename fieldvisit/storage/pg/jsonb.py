"""Documents as JSONB. JSONB cannot hold the NUL character (``\\u0000``) that JSON text, and so
the embedded store, can: a string that holds one (a crafted request, written down in the
audit log; text pasted from a chat app) is stored without it instead of failing the whole
change, as the app already drops invisible control characters from what people type."""

from __future__ import annotations

import json
import re
from typing import Any

from psycopg.types.json import Jsonb

# \u0000 preceded by an even number of backslashes: an escape of NUL, not the text "\u0000".
_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, default=str)
    # Looked for first: running the pattern over every document was most of this function.
    return _NUL.sub(r"\1", text) if "\\u0000" in text else text


def doc(obj: Any) -> Jsonb:
    """``obj`` to be written into a JSONB column."""
    return Jsonb(obj, dumps=_dumps)
