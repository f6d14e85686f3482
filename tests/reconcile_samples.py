"""What the reconciliation tests share: valid ID numbers, the seeded households' members
and department lists made in the test (nothing read from outside the repository)."""

from __future__ import annotations

import re
from typing import Any

from helpers import ACTOR, csv_bytes, xlsx_bytes

from fieldvisit.idcard import check_digit
from fieldvisit.reconcile.members import import_members
from fieldvisit.reconcile.running import Outcome, run_comparison
from fieldvisit.storage import Store

H1, H2 = "4117210010001", "4117210020001"
HEAD1, HEAD2 = "411721193701024373", "41172119810905367X"  # the seeded heads (helpers.seed)
MEMBER_HEADER = [
    "户编号", "姓名", "与户主关系", "身份证号", "性别",
    "残疾类别", "残疾等级", "在校学段", "参加医保",
]  # fmt: skip
FULL_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")


def pid(born: str, serial: int) -> str:
    """A valid ID number of someone born on ``born`` (YYYYMMDD)."""
    first17 = f"411721{born}{serial:03d}"
    return first17 + check_digit(first17)


SON1 = pid("20120305", 11)  # a pupil of h1
WIFE2 = pid("19830101", 22)  # h2's disabled spouse
DAUGHTER2 = pid("20080909", 24)


def member_rows() -> list[list[Any]]:
    """The seeded households' members: h1 has two (its 家庭人口), h2 three (one too many)."""
    return [
        ["示范镇家庭成员表"],
        MEMBER_HEADER,
        [H1, "马娟", "户主", HEAD1, "女", "", "", "", "是"],
        [H1, "马小军", "之子", SON1, "男", "", "", "初中", "是"],
        [H2, "梁刚", "户主", HEAD2, "男", "", "", "", "是"],
        [H2, "王芳", "配偶", WIFE2, "女", "肢体", "二级", "", "是"],
        [H2, "梁雪", "之女", DAUGHTER2, "女", "", "", "高中", "否"],
    ]


def with_members(store: Store) -> None:
    import_members(store, xlsx_bytes(member_rows()), "成员.xlsx", ACTOR)


def compare(
    store: Store, department: str, rows: list[list[Any]], name: str = "list.csv"
) -> Outcome:
    return run_comparison(store, department, csv_bytes(rows), name, ACTOR)


def stranger() -> str:
    return pid("19900101", 99)
