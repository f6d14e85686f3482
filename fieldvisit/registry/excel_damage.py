"""Numbers that Excel or WPS damaged before the file reached us, found column by column.

A column of 户编号 or phone numbers typed or pasted into cells not formatted as text comes
back as 4.11721E+12 (scientific notation, the last digits gone) or without its leading
zeros, on every row at once. Checked row by row this is the same error hundreds of times,
or no error at all (a landline that lost its 0 still looks like a phone number); found for
the whole column it is one explanation saying what happened and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _

# Columns of long numbers: the ones Excel and WPS turn into numbers.
NUMBER_COLUMNS = ("户编号", "联系电话", "帮扶责任人电话", "身份证号")
# How Excel and WPS show a long number in a cell too narrow for it, and how they save it
# to CSV: the digits past the sixth are gone.
_SCIENTIFIC = re.compile(r"[0-9](?:\.[0-9]+)?[Ee]\+[0-9]+")
# A landline with its area code starts with 0 (0371 1234567): ten or eleven digits starting
# with another digit are one that lost it. Mobiles start with 1; 400 and 800 service lines
# are ten digits without a 0 of their own.
_LANDLINE_WITHOUT_ZERO = re.compile(r"(?!400|800)[2-9][0-9]{9,10}")
_DIGITS = re.compile(r"[0-9]+")
# One damaged cell is a row error like any other; from this many on, the column gets one
# explanation instead.
GROUP_AT = 2
# Rows named in a column's explanation, as ranges ("2–677"): a few are enough to find it.
_MOST_RANGES = 6


@dataclass(frozen=True)
class Damage:
    """One column's damaged numbers: the explanation, and the rows whose own errors it
    replaces (their cells cannot be read; rows that merely lost zeros read fine)."""

    column: str
    reason: str
    suppressed: tuple[int, ...]


def _ranges(rows: Iterable[int]) -> str:
    """Row numbers as the spreadsheet shows them, consecutive ones as a range: 2–5、9."""
    spans: list[list[int]] = []
    for row in sorted(set(rows)):
        if spans and row == spans[-1][1] + 1:
            spans[-1][1] = row
        else:
            spans.append([row, row])
    parts = [str(a) if a == b else f"{a}–{b}" for a, b in spans[:_MOST_RANGES]]
    return "、".join(parts) + ("…" if len(spans) > _MOST_RANGES else "")


def _explanation(problem: str, rows: Iterable[int]) -> str:
    # One message around the problem, so that each language spaces its sentences its way.
    return _(
        "%(problem)s请在原来的表格里先把这一列设为“文本”格式，再重新填写或粘贴号码，"
        "然后保存为 .xlsx 文件导入（另存为 CSV 会再次丢失）。“名册”页的空白模板里，"
        "这些列已经是文本格式。涉及第 %(rows)s 行。",
        problem=problem,
        rows=_ranges(rows),
    )


def is_scientific(text: str) -> bool:
    """Whether a cell shows a number as Excel does when it no longer has its digits."""
    return bool(_SCIENTIFIC.fullmatch(text))


def scientific_reason(value: str) -> str:
    """Why one cell in scientific notation cannot be used."""
    return _(
        "Excel 或 WPS 把这个号码变成了科学计数法（%(value)s），后面几位已经丢失；"
        "请把这一列设为“文本”格式后重新填写",
        value=value,
    )


def _scientific(column: str, cells: list[tuple[int, str]]) -> Damage | None:
    found = [(row, text) for row, text in cells if _SCIENTIFIC.fullmatch(text)]
    if len(found) < GROUP_AT:
        return None
    problem = _(
        "有 %(n)d 个号码变成了科学计数法（如“%(example)s”）：Excel 或 WPS "
        "把它们当成了数字，后面几位已经丢失，无法从这个文件还原。",
        n=len(found),
        example=found[0][1],
    )
    rows = [row for row, _text in found]
    return Damage(column, _explanation(problem, rows), tuple(rows))


def _lossy(column: str, cells: list[tuple[int, str]], lossy: set[tuple[int, str]]) -> Damage | None:
    rows = [row for row, _text in cells if (row, column) in lossy]
    if len(rows) < GROUP_AT:
        return None
    problem = _(
        "有 %(n)d 个号码被 Excel 存成了数字，超过 15 位的部分已经丢失，无法从这个文件还原。",
        n=len(rows),
    )
    return Damage(column, _explanation(problem, rows), tuple(rows))


def _household_ids_without_zeros(cells: list[tuple[int, str]]) -> Damage | None:
    """户编号 of one length that begin with 0, next to shorter ones: those lost theirs."""
    ids = [(row, text) for row, text in cells if _DIGITS.fullmatch(text)]
    if not ids:
        return None
    length = max(len(text) for _row, text in ids)
    if not any(len(text) == length and text.startswith("0") for _row, text in ids):
        return None
    short = [(row, text) for row, text in ids if len(text) < length]
    if not short:
        return None
    example = short[0][1]
    problem = _(
        "有 %(n)d 个户编号开头的 0 丢了（如“%(short)s”，应为“%(padded)s”）："
        "Excel 或 WPS 把户编号当成了数字。",
        n=len(short),
        short=example,
        padded=example.zfill(length),
    )
    return Damage("户编号", _explanation(problem, [row for row, _text in short]), ())


def _landlines_without_zero(column: str, cells: list[tuple[int, str]]) -> Damage | None:
    found = [(row, text) for row, text in cells if _LANDLINE_WITHOUT_ZERO.fullmatch(text)]
    if not found:
        return None
    problem = _(
        "有 %(n)d 个座机号码开头的 0 丢了（如“%(short)s”，应为“0%(short)s”）："
        "Excel 或 WPS 把号码当成了数字。",
        n=len(found),
        short=found[0][1],
    )
    return Damage(column, _explanation(problem, [row for row, _text in found]), ())


def damaged_columns(
    rows: list[tuple[int, dict[str, str]]], lossy: set[tuple[int, str]]
) -> list[Damage]:
    """Each column of long numbers that Excel or WPS damaged, with why and how to fix it.

    ``rows`` are the file's data rows as read (row number, column -> cell text) and
    ``lossy`` the cells read as numbers too long to be exact.
    """
    found: list[Damage] = []
    for column in NUMBER_COLUMNS:
        cells = [(row, cells[column]) for row, cells in rows if cells.get(column)]
        damage = _scientific(column, cells) or _lossy(column, cells, lossy)
        if damage is None and column == "户编号":
            damage = _household_ids_without_zeros(cells)
        if damage is None and column == "联系电话":
            damage = _landlines_without_zero(column, cells)
        if damage is not None:
            found.append(damage)
    return found
