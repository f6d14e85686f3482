"""Household members (家庭成员): imported from a spreadsheet read like the registry's, all
or nothing, and updated by ID number when imported again.

A file lists households' members; a household in the file has exactly the members the
file gives it afterwards (one left out has left the household), and households the file
does not mention keep theirs. Optional columns left out of the file keep what is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from ..clock import now_iso
from ..idcard import mask_id_number, upgrade_id_number
from ..models import AuditEntry, Household, Member
from ..registry.errors import RegistryError, RowError
from ..registry.excel_damage import damaged_columns
from ..registry.fields import _household_id, _id_number, _Invalid, is_masked_id_number
from ..registry.reading import Layout, _read_table, _Table
from ..storage import Registry, Store
from . import terms

COLUMNS: tuple[str, ...] = (
    "户编号", "姓名", "与户主关系", "身份证号", "性别", "残疾类别", "残疾等级", "在校学段",
    "参加医保",
)  # fmt: skip
REQUIRED: tuple[str, ...] = ("户编号", "姓名", "与户主关系", "身份证号")
# Column -> the Member field it fills (the optional ones keep what is stored when absent).
OPTIONAL: dict[str, str] = {
    "性别": "sex",
    "残疾类别": "disability",
    "残疾等级": "disability_grade",
    "在校学段": "school_stage",
    "参加医保": "insured",
}
MAX_NAME = 30
MAX_RELATION = 10
# Headers other systems use for the same columns (the department lists' share them).
ID_ALIASES = {"身份证号码": "身份证号", "公民身份号码": "身份证号", "证件号码": "身份证号"}
NAME_ALIASES = {"成员姓名": "姓名", "家庭成员姓名": "姓名"}


def _no_header() -> str:
    return _("找不到表头行：需要有一行同时含有“户编号”“姓名”“身份证号”这几列的标题")


LAYOUT = Layout(
    columns=COLUMNS,
    keys=("户编号", "姓名", "身份证号"),
    aliases={
        **ID_ALIASES,
        **NAME_ALIASES,
        "与户主的关系": "与户主关系",
        "关系": "与户主关系",
        "学段": "在校学段",
        "是否参加医保": "参加医保",
        "是否参保": "参加医保",
    },
    numeric=frozenset({"户编号", "身份证号"}),
    compact=frozenset(COLUMNS),
    no_header=_no_header,
)


@dataclass
class MembersReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    households: list[str] = field(default_factory=list)  # 户编号 whose members changed

    def counts(self) -> dict[str, int]:
        names = ("added", "updated", "unchanged", "removed")
        return {name: getattr(self, name) for name in names}


def id_number_of(text: str) -> str:
    """An ID number from a cell, 15-digit ones upgraded; raises _Invalid (a reason that
    never shows the number itself) when it is not a valid 18-character number."""
    number = _id_number(upgrade_id_number(text))
    if not number:
        raise _Invalid(_("不能为空"))
    if is_masked_id_number(number):
        raise _Invalid(_("这是打了星号的号码，请填写完整号码"))
    return number


def _text(most: int) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text:
            raise _Invalid(_("不能为空"))
        if len(text) > most:
            raise _Invalid(_("太长了：最多 %(most)d 个字，这里有 %(n)d 个", most=most, n=len(text)))
        return text

    return parse


def _sex(text: str) -> str:
    text = text.removesuffix("性")
    if text not in ("", "男", "女"):
        raise _Invalid(_("“%(value)s”不对，应为“男”或“女”", value=text))
    return text


def _choice(read: Callable[[str], str | None], choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        found = read(text)
        if found is None:
            raise _Invalid(
                _(
                    "“%(value)s”不是可选的值，应为：%(choices)s",
                    value=text,
                    choices="、".join(choices),
                )
            )
        return found

    return parse


def _insured(text: str) -> bool | None:
    if text == "":
        return None
    if text not in ("是", "否"):
        raise _Invalid(_("“%(value)s”不对，应为“是”或“否”", value=text))
    return text == "是"


# Column -> (Member field, parser).
_PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "户编号": ("household", _household_id),
    "姓名": ("name", _text(MAX_NAME)),
    "与户主关系": ("relation", _text(MAX_RELATION)),
    "身份证号": ("id_number", id_number_of),
    "性别": ("sex", _sex),
    "残疾类别": ("disability", _choice(terms.disability_of, terms.DISABILITIES)),
    "残疾等级": ("disability_grade", _choice(terms.grade_of, terms.GRADES)),
    "在校学段": ("school_stage", _choice(terms.stage_of, terms.SCHOOL_STAGES)),
    "参加医保": ("insured", _insured),
}


class _Checker:
    """Every problem of one members file, by row and column, before anything is written."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.errors: list[RowError] = []
        self.rows: list[tuple[int, dict[str, Any]]] = []
        self.explained: set[tuple[int, str]] = set()

    def error(self, row: int, column: str, reason: str) -> None:
        self.errors.append(RowError(row, self.table.headers.get(column, column), reason))

    def check_file(self) -> None:
        row = self.table.header_row
        for column in self.table.duplicates:
            self.error(row, column, _("这一列出现了不止一次"))
        for column in REQUIRED:
            if column not in self.table.headers:
                self.error(row, column, _("缺少这一列"))
        if not self.table.rows:
            self.error(row, "", _("表头下面没有数据行"))
        for damage in damaged_columns(self.table.rows, self.table.lossy):
            header = self.table.headers.get(damage.column, damage.column)
            self.errors.append(RowError(0, header, damage.reason))
            self.explained.update((r, damage.column) for r in damage.suppressed)

    def check_row(self, number: int, cells: dict[str, str]) -> None:
        values: dict[str, Any] = {}
        for column, text in cells.items():
            name, parse = _PARSERS[column]
            if (number, column) in self.explained:
                continue
            if (number, column) in self.table.lossy:
                self.error(number, column, _("Excel 把这个号码存成了数字，后面几位已经丢失"))
                continue
            try:
                values[name] = parse(text)
            except _Invalid as exc:
                self.error(number, column, str(exc.args[0]))
        pair = "残疾类别" in cells and "残疾等级" in cells
        if pair and bool(values.get("disability")) != bool(values.get("disability_grade")):
            self.error(number, "残疾等级", _("残疾类别和残疾等级要一起填写"))
        self.rows.append((number, values))


def _check_file(data: bytes, filename: str) -> tuple[list[tuple[int, dict[str, Any]]], _Checker]:
    table = _read_table(data, filename, LAYOUT)
    checker = _Checker(table)
    checker.check_file()
    for number, cells in table.rows:
        checker.check_row(number, cells)
    return checker.rows, checker


def _check_against(
    reg: Registry,
    rows: list[tuple[int, dict[str, Any]]],
    checker: _Checker,
    township: str | None = None,
) -> None:
    """What only the registry can tell: unknown households, one person in two households,
    a head whose ID number is not the registry's; with ``township`` (a township's office),
    households and people of other townships (see ``_check_scope``)."""
    heads = {h.id_number: h.id for h in reg.households.values() if h.id_number}
    seen: dict[str, tuple[int, str]] = {}  # ID number -> (row, 户编号)
    head_rows: dict[str, int] = {}
    for number, values in rows:
        hid, person = values.get("household"), values.get("id_number")
        household = reg.households.get(hid) if hid else None
        if hid and household is None:
            checker.error(number, "户编号", _("户编号 %(id)s 不在花名册里", id=hid))
        elif township is not None and household is not None:
            _check_scope(reg, number, values, household, checker, township)
        if not person:
            continue
        first = seen.setdefault(person, (number, hid or ""))
        if first[0] != number and first[1] != hid:
            reason = _(
                "同一人不能在两户：第 %(other)d 行把这个身份证号列在户 %(id)s",
                other=first[0],
                id=first[1],
            )
            checker.error(number, "身份证号", reason)
        elif first[0] != number:
            checker.error(number, "身份证号", _("与第 %(other)d 行重复", other=first[0]))
        other = heads.get(person)
        if other and other != hid:
            checker.error(
                number, "身份证号", _("这是户 %(id)s 户主的身份证号：同一人不能在两户", id=other)
            )
        if hid is None or household is None or values.get("relation") not in terms.HEAD_RELATIONS:
            continue
        if hid in head_rows:
            checker.error(
                number, "与户主关系", _("第 %(other)d 行已是这一户的户主", other=head_rows[hid])
            )
        head_rows.setdefault(hid, number)
        if household.id_number and household.id_number != person:
            reason = _(
                "户主的身份证号与花名册的（%(masked)s）不一致",
                masked=mask_id_number(household.id_number),
            )
            checker.error(number, "身份证号", reason)


def _check_scope(
    reg: Registry,
    number: int,
    values: dict[str, Any],
    household: Household,
    checker: _Checker,
    township: str,
) -> None:
    """A township's office lists only its own township's households' members, and cannot
    take in a person recorded in another township's household (that moves them out of it)."""
    if household.township != township:
        reason = _(
            "户编号 %(id)s 不是%(township)s的帮扶户，本账号只能导入本乡镇的家庭成员",
            id=household.id,
            township=township,
        )
        checker.error(number, "户编号", reason)
        return
    stored = reg.members.get(values.get("id_number") or "")
    home = reg.households.get(stored.household) if stored is not None else None
    if home is not None and home.township != township:
        reason = _("此人已登记在其他乡镇的户里，请由县里处理")
        checker.error(number, "身份证号", reason)


def _apply(reg: Registry, rows: list[tuple[int, dict[str, Any]]], at: str) -> MembersReport:
    report, changed = MembersReport(), set()
    in_file = {values["household"] for _number, values in rows}
    listed = {values["id_number"] for _number, values in rows}
    for person, member in list(reg.members.items()):
        if member.household in in_file and person not in listed:
            del reg.members[person]  # left the household
            report.removed += 1
            changed.add(member.household)
    for _number, values in rows:
        stored = reg.members.get(values["id_number"])
        if stored is None:
            reg.members[values["id_number"]] = Member(**values, updated_at=at)
            report.added += 1
            changed.add(values["household"])
            continue
        new = Member.from_doc({**stored.to_doc(), **values})
        if new == stored:
            report.unchanged += 1
            continue
        new.updated_at = at
        reg.members[new.id_number] = new
        report.updated += 1
        changed.update((stored.household, new.household))
    report.households = sorted(changed)
    return report


def import_members(
    store: Store, data: bytes, filename: str, actor: str, township: str | None = None
) -> MembersReport:
    """Import a members file: all of it or nothing. Raises ``RegistryError`` listing every
    problem by row and column; otherwise one write with one audit entry. ``township``
    confines the file to that township's households (a township's office); None: any."""
    rows, checker = _check_file(data, filename)
    at = now_iso()

    def change(reg: Registry) -> MembersReport:
        _check_against(reg, rows, checker, township)
        if checker.errors:
            raise RegistryError(sorted(checker.errors, key=lambda e: e.row))
        return _apply(reg, rows, at)

    def entries(report: MembersReport) -> list[AuditEntry]:
        after = {"counts": report.counts(), "households": report.households}
        return [AuditEntry(at, actor, "registry.members", filename, None, after)]

    return store.update_registry(change, entries)
