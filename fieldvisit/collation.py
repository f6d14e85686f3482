"""The order Chinese names and numbered groups are listed in, everywhere: pinyin, as the
township's spreadsheets sort Chinese text, and "2组" before "10组"; and the one order of
households built on it."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Household

_NUMBER_RE = re.compile(r"(\d+|[一二三四五六七八九十]+)")
_CN_DIGITS = "零一二三四五六七八九"


def _number(text: str) -> int | None:
    """The value of "12", "三" or "二十一"; None for anything else."""
    if text.isdecimal():
        return int(text)
    tens, ten, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1 or any(c not in _CN_DIGITS for c in tens + ones):
        return None
    if not ten:
        return _CN_DIGITS.index(tens)
    return (_CN_DIGITS.index(tens) if tens else 1) * 10 + (_CN_DIGITS.index(ones) if ones else 0)


def natural_key(text: str) -> list[tuple[int, int, str]]:
    # "2组" before "10组", and "二组" before "十组": registries write groups both ways.
    key = []
    for part in _NUMBER_RE.split(text):
        if part:
            value = _number(part) if _NUMBER_RE.fullmatch(part) else None
            key.append((1, 0, part) if value is None else (0, value, ""))
    return key


@functools.lru_cache(maxsize=8192)
def pinyin_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """A name's place in pinyin order (cached: a dashboard sorts hundreds of names)."""
    from pypinyin import lazy_pinyin  # a large dictionary, loaded only when sorting

    return tuple(natural_key(" ".join(lazy_pinyin(name))))


def sort_villages(names: Iterable[str]) -> list[str]:
    """Village names in pinyin order, as everywhere else in the office's lists."""
    return sorted(names, key=lambda name: (pinyin_key(name), name))


def in_household_order(households: Iterable[Household]) -> list[Household]:
    """Households in the office's order: village (pinyin; the name itself between two that
    read alike), then group ("2组" before "10组"), then 户编号 (numbers by value). The
    order plates are handed out in, and the one every list of households follows: the
    month's figures, the booklet, the spreadsheet, the office's search."""
    return sorted(
        households,
        key=lambda h: (pinyin_key(h.village), h.village, natural_key(h.group), natural_key(h.id)),
    )
