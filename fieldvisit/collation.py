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
    """A text's place in pinyin order, each character read as in everyday words: for
    villages and other place names (cached: a dashboard sorts hundreds of names). People's
    names go by ``name_key``."""
    from pypinyin import lazy_pinyin  # a large dictionary, loaded only when sorting

    return tuple(natural_key(" ".join(lazy_pinyin(name))))


# Surnames read otherwise than the character's everyday reading, toneless as the keys and
# the search use them (the toned reading in the comment). pypinyin has no surname mode: it
# reads 曾小明 as "ceng xiao ming" and lists 曾 among the c's, where no one looks for him.
# Also pinned here: surnames pypinyin reads right alone but may misread within a phrase
# (万, 贾, 沈), and the compound surnames, taken as one only when a given name follows
# (a two-character 长孙 is 长 cháng with the given name 孙). A family that reads its name
# otherwise is still found by the other readings (households.search keeps them all).
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "长孙": ("zhang", "sun"),  # zhǎngsūn
    "尉迟": ("yu", "chi"),  # yùchí
    "万俟": ("mo", "qi"),  # mòqí
    "曾": ("zeng",),  # zēng, not céng
    "单": ("shan",),  # shàn, not dān
    "仇": ("qiu",),  # qiú, not chóu
    "解": ("xie",),  # xiè, not jiě
    "朴": ("piao",),  # piáo, not pǔ
    "区": ("ou",),  # ōu, not qū
    "查": ("zha",),  # zhā, not chá
    "盖": ("ge",),  # gě, not gài
    "覃": ("qin",),  # qín, not tán
    "尉": ("wei",),  # wèi (yù only in 尉迟)
    "繁": ("po",),  # pó, not fán
    "缪": ("miao",),  # miào, not móu
    "乐": ("yue",),  # yuè, not lè
    "员": ("yun",),  # yùn, not yuán
    "万": ("wan",),  # wàn (mò only in 万俟)
    "贾": ("jia",),  # jiǎ, not gǔ
    "沈": ("shen",),  # shěn, not chén
    "秘": ("bi",),  # bì, not mì
    "翟": ("zhai",),  # zhái, not dí
    "黑": ("he",),  # hè, not hēi
    "长": ("chang",),  # cháng, not zhǎng
    "召": ("shao",),  # shào, not zhào
    "种": ("chong",),  # chóng, not zhǒng
    "隗": ("wei",),  # wěi, not kuí
    "句": ("gou",),  # gōu, not jù
    "阚": ("kan",),  # kàn, not hǎn
    "薄": ("bo",),  # bó, not báo
    "卜": ("bu",),  # bǔ, not bo
}


def surname_reading(name: str) -> tuple[str, tuple[str, ...]]:
    """The surname ``name`` starts with when the table reads it specially, and its reading
    per character; ("", ()) otherwise. Compound surnames first: 长孙 before 长."""
    for length in (2, 1):
        head = name[:length]
        # A compound surname only with a given name after it (长孙 alone is 长 and 孙).
        if len(head) == length and head in SURNAME_READINGS and (length == 1 or len(name) > 2):
            return head, SURNAME_READINGS[head]
    return "", ()


def name_pinyin(name: str) -> list[str]:
    """A person's name in pinyin, its surname read as a surname: 曾小明 -> zeng xiao ming."""
    from pypinyin import lazy_pinyin

    name = name.strip()
    surname, reading = surname_reading(name)
    # The given name alone: read with the surname, a phrase could change both.
    return [*reading, *lazy_pinyin(name[len(surname) :])] if surname else lazy_pinyin(name)


@functools.lru_cache(maxsize=8192)
def name_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """A person's name's place in pinyin order: 曾 among the z's, 单 among the s's."""
    return tuple(natural_key(" ".join(name_pinyin(name))))


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
