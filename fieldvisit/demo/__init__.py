"""The demo township: a registry that reproduces the reference township's tables
(docs/reference-township.md) exactly, with synthetic people and a few months of synthetic
visit history.

``python run.py`` builds it into an empty data folder so that a township office can try the
whole product before importing its own spreadsheet. Everything personal is made up (names,
phones, ID numbers), but it has the shape of the real thing: ID numbers carry a valid check
digit, five-guarantees households are mostly one old person, exited households cluster in
the villages that exited early, and the current month is only partly visited.

Everything but the QR tokens follows from ``seed``: the tokens open doors, so they always
come from ``households.new_token()``.

The package, in the order a build draws on it: ``township`` (the figures: logins, villages,
the reference township's tables, name pools), ``profiles`` (each household's cells of the
tables and its size, balanced until every table matches), ``people`` (the households and
helpers made from the profiles, and their pairings), ``phrases`` and ``history`` (the
visits and needs), and ``build`` (``build_demo`` and ``describe``). They all draw from the
one generator that ``build_demo`` seeds, so the order of the draws is part of the output:
reorder two calls and the same seed builds a different township. The names below are its interface.
"""

from __future__ import annotations

from .build import DemoInfo, build_demo, describe
from .phrases import NEED_BIAS, NEED_TEXTS, NOTES_MET, NOTES_NOBODY, NOTES_PHONE
from .profiles import table_mismatches
from .township import (
    ADMIN,
    ATTRIBUTE_TABLE,
    CAUSE_TABLE,
    CENTRE,
    DEMO_PASSWORD,
    FEMALE_NAMES,
    HELPERS,
    HELPING_DAY,
    MALE_NAMES,
    REGION,
    STATUS_TABLE,
    SUPERVISOR,
    SURNAMES,
    TABLES,
    TOWNSHIP,
    TZ,
    UNITS,
    VILLAGES,
)

__all__ = [
    "ADMIN",
    "ATTRIBUTE_TABLE",
    "CAUSE_TABLE",
    "CENTRE",
    "DEMO_PASSWORD",
    "FEMALE_NAMES",
    "HELPERS",
    "HELPING_DAY",
    "MALE_NAMES",
    "NEED_BIAS",
    "NEED_TEXTS",
    "NOTES_MET",
    "NOTES_NOBODY",
    "NOTES_PHONE",
    "REGION",
    "STATUS_TABLE",
    "SUPERVISOR",
    "SURNAMES",
    "TABLES",
    "TOWNSHIP",
    "TZ",
    "UNITS",
    "VILLAGES",
    "DemoInfo",
    "build_demo",
    "describe",
    "table_mismatches",
]
