"""The county's figures: a county of about twenty townships, each with its villages.

A village is known by its township and name (``models.village_key``); a township by its
name ("" = the deployment's one township). See docs/decisions/0016-county.md.
"""

from __future__ import annotations

from ..collation import pinyin_key
from .month import MonthFigures, VillageRow, completion_rows


def township_rows(figures: MonthFigures) -> list[VillageRow]:
    """Completion by township (each row's ``village`` holds the township's name; "" = the
    deployment's one township), in the order of their names' reading."""
    reg = figures.source.registry if figures.source is not None else None
    if reg is None:
        return []
    households = [reg.households[i] for i in figures.states if i in reg.households]
    rows = completion_rows(households, figures.states, key=lambda h: h.township)
    return sorted(rows, key=lambda r: pinyin_key(r.village))
