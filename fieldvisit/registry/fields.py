"""One cell to one Household field: the parser of each column, with the reason shown to the
user when a cell's value cannot be used."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from flask_babel import gettext as _

from ..idcard import (
    BIRTH_DATE,
    CHARACTERS,
    CHECK_DIGIT,
    LENGTH,
    id_number_problem,
    mask_id_number,
    normalize_id_number,
)
from ..vocab import ATTRIBUTES, CAUSES, STATUSES, code_for

_DIGITS = re.compile(r"[0-9]+")
FIRST_EXIT_YEAR = 2000
# Longest text a cell may hold: a name or place longer than this is a pasted paragraph.
MAX_TEXT = {"village": 30, "group": 20, "head": 30, "township": 30}
# A phone number as people write it: mobile, or landline with or without its area code.
_PHONE_DIGITS = re.compile(r"[0-9]{7,12}")
_PHONE_SEPARATORS = re.compile(r"[、,，;；/\s]+")
# What the masked registry download shows instead of an ID number (mask_id_number).
_MASKED_ID = re.compile(r"[0-9]{4}\*{10}[0-9X]{4}")


class _Invalid(Exception):
    """A cell's value cannot be used; the argument is the reason shown to the user."""


class MaskedIdNumberMismatch(_Invalid):
    """A masked ID number (from the masked download) that is not the stored number's."""


def _required_text(text: str) -> str:
    if not text:
        raise _Invalid(_("不能为空"))
    return text


def _bounded(name: str, required: bool) -> Callable[[str], str]:
    most = MAX_TEXT[name]

    def parse(text: str) -> str:
        if required:
            _required_text(text)
        if len(text) > most:
            raise _Invalid(_("太长了：最多 %(most)d 个字，这里有 %(n)d 个", most=most, n=len(text)))
        return text

    return parse


# How registries say a household has no phone: kept as no phone, not refused.
_NO_PHONE = frozenset({"无", "暂无", "没有", "-", "—", "/", "／"})


def _phone(text: str) -> str:
    if text in _NO_PHONE:
        return ""
    for number in _PHONE_SEPARATORS.split(text):
        if number and not _PHONE_DIGITS.fullmatch(number.replace("-", "")):
            raise _Invalid(_("“%(value)s”不是电话号码（手机 11 位，座机可带区号）", value=number))
    return text


def _household_id(text: str) -> str:
    if not _DIGITS.fullmatch(_required_text(text)):
        raise _Invalid(_("“%(value)s”不对，户编号只能由数字组成", value=text))
    return text


# No household has more; a bound also keeps the number exact in Excel, where the export
# writes it as a number (a 19-digit "family size" came back from Excel rounded).
MAX_MEMBERS = 99


def _members(text: str) -> int:
    if not _DIGITS.fullmatch(_required_text(text)) or not 1 <= int(text) <= MAX_MEMBERS:
        raise _Invalid(
            _("“%(value)s”不对，应为 1 到 %(most)s 之间的整数", value=text, most=MAX_MEMBERS)
        )
    return int(text)


def _choice(vocabulary: dict[str, str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        code = code_for(vocabulary, _required_text(text))
        if code is None:
            raise _Invalid(
                _(
                    "“%(value)s”不是可选的值，应为：%(choices)s",
                    value=text,
                    choices="、".join(vocabulary.values()),
                )
            )
        return code

    return parse


def _year(text: str) -> int | None:
    if not text:
        return None
    # A household cannot have left poverty in a year still to come.
    low, high = FIRST_EXIT_YEAR, date.today().year
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise _Invalid(_("“%(value)s”不是年份（%(low)d–%(high)d）", value=text, low=low, high=high))
    return int(text)


def is_masked_id_number(value: str) -> bool:
    """Whether ``value`` is an ID number as the masked download shows it."""
    return bool(_MASKED_ID.fullmatch(value))


def keep_or_replace_id_number(new: str, stored: str) -> str:
    """The ID number to store when a file or form gives ``new`` for a household that has
    ``stored``: empty or masked (the masked download sent back) keeps the stored number.
    Raises MaskedIdNumberMismatch when a masked value is not the stored number's."""
    if not new:
        return stored
    if is_masked_id_number(new):
        if not stored or mask_id_number(stored) != new:
            raise MaskedIdNumberMismatch(
                _("这是打了星号的号码，与已登记的不一致；请填写完整号码，或留空不改")
            )
        return stored
    return new


def _id_number(text: str) -> str:
    if not text:
        return ""
    number = normalize_id_number(text)
    if is_masked_id_number(number):
        return number  # stands for the stored number: see keep_or_replace_id_number
    problem = id_number_problem(number)
    # The number itself stays out of the message: it is shown only masked, even here.
    if problem == LENGTH:
        raise _Invalid(_("位数不对：应为 18 位，这里是 %(length)d 位", length=len(number)))
    if problem == CHARACTERS:
        raise _Invalid(_("应为 17 位数字加一位数字或 X"))
    if problem == BIRTH_DATE:
        raise _Invalid(_("第 7–14 位的出生日期不是有效日期"))
    if problem == CHECK_DIGIT:
        raise _Invalid(_("校验位（最后一位）不对，请核对号码"))
    return number


def _yes_no(text: str) -> bool:
    if text in ("", "否"):
        return False
    if text == "是":
        return True
    raise _Invalid(_("“%(value)s”不对，应为“是”或“否”", value=text))


# Column -> (Household field, parser). 脱贫年度 depends on 脱贫状态 and the helper columns on
# one another, so those are checked again afterwards.
_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "户编号": ("id", _household_id),
    "村": ("village", _bounded("village", required=True)),
    "组": ("group", _bounded("group", required=False)),
    "户主姓名": ("head", _bounded("head", required=True)),
    "家庭人口": ("members", _members),
    "贫困户属性": ("attribute", _choice(ATTRIBUTES)),
    "主要致贫原因": ("cause", _choice(CAUSES)),
    "脱贫状态": ("status", _choice(STATUSES)),
    "脱贫年度": ("exit_year", _year),
    "联系电话": ("phone", _phone),
    "身份证号": ("id_number", _id_number),
    "长期不在家": ("long_absent", _yes_no),
    "乡镇": ("township", _bounded("township", required=False)),
}


def field_of_column() -> dict[str, str]:
    """Spreadsheet column -> Household field, for the columns the import reads."""
    return {column: name for column, (name, _parse) in _FIELDS.items()}
