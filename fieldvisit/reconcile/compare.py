"""Comparing a department's list with the registry: every difference one of five kinds.

What each department's list is checked for:

* 民政 (``civil_affairs``): one row per household on the 低保/特困 roster, by its applicant.
  The household's attribute against 保障类别 (低保 = 低保贫困户, 特困 = 五保贫困户), its
  家庭人口 against 保障人数; a 低保 or 五保 household not on the roster is missing from it.
* 残联 (``disability``): a member's disability category and grade; a member recorded as
  disabled and not on the list is missing from it.
* 医保 (``medical_insurance``): every member should be insured: one not on the list (and
  not recorded as uninsured) is missing from it; 参保状态 against 参加医保.
* 教育 (``education``): a member's school stage against 学段; a pupil the registry records
  and the list lacks is missing from it.

Each list also says 姓名不一致 for an ID number under another name, and 名单有花名册无 for a
person of no registered household.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import Household
from ..storage import Registry
from . import terms
from .lists import ListRow
from .people import People, Person


@dataclass(frozen=True)
class Found:
    """A difference as a comparison finds it, before it is stored."""

    kind: str
    household: str
    id_number: str
    name: str
    registry_value: str
    list_value: str
    target: str = ""  # the field taking the list's value changes ("" when it cannot)
    proposed: Any = None
    subject: str = ""  # who it is about when there is no ID number


def not_found(row: ListRow) -> Found:
    why = row.problem or ("" if row.id_number else "无身份证号")
    return Found(
        terms.NOT_ON_REGISTRY,
        "",
        row.id_number,
        row.name,
        "无",
        why or row.name,
        subject=row.id_number or f"{row.household}/{row.head_id}/{row.name}/{row.shown_id}",
    )


def _name(row: ListRow, person: Person) -> list[Found]:
    if not row.id_number or not row.name or row.name == person.name:
        return []
    return [
        Found(
            terms.NAME, person.household, person.id_number, row.name, person.name, row.name,
            "name", row.name,
        )
    ]  # fmt: skip


def _civil_affairs(reg: Registry, people: People, rows: list[ListRow]) -> list[Found]:
    found: list[Found] = []
    on_roster: set[str] = set()
    for row in rows:
        person = people.match(row)
        if person is None:
            found.append(not_found(row))
            continue
        found += _name(row, person)
        household = reg.households[person.household]
        if household.id in on_roster:
            continue  # one row per household: the applicant's
        on_roster.add(household.id)
        found += _roster_row(row, person, household)
    for household in reg.households.values():
        if (
            household.attribute in terms.ROSTER_ATTRIBUTES.values()
            and household.id not in on_roster
        ):
            found.append(
                Found(
                    terms.MISSING_FROM_LIST, household.id, household.id_number, household.head,
                    terms.ATTRIBUTE_WORDS[household.attribute], "无", "attribute", "general",
                )
            )  # fmt: skip
    return found


def _roster_row(row: ListRow, person: Person, household: Household) -> list[Found]:
    found = []
    category = row.cells.get("保障类别", "")
    wanted = terms.ROSTER_ATTRIBUTES.get(category)
    if wanted != household.attribute:
        found.append(
            Found(
                terms.CATEGORY, household.id, person.id_number, row.name,
                terms.ATTRIBUTE_WORDS.get(household.attribute, household.attribute),
                category or "无", "attribute" if wanted else "", wanted,
            )
        )  # fmt: skip
    count = row.cells.get("保障人数", "")
    if count.isdigit() and int(count) != household.members:
        found.append(
            Found(
                terms.COUNT, household.id, person.id_number, row.name, str(household.members),
                count, "members", int(count),
            )
        )  # fmt: skip
    return found


def _members_missing(
    reg: Registry, listed: set[str], wanted: Any, registry_words: Any, target: str, empty: Any
) -> list[Found]:
    """Members the registry says should be on the list (``wanted(member)``) and are not."""
    return [
        Found(
            terms.MISSING_FROM_LIST, m.household, m.id_number, m.name, registry_words(m), "无",
            target, empty,
        )
        for m in reg.members.values()
        if m.id_number not in listed and wanted(m)
    ]  # fmt: skip


def _per_person(
    reg: Registry, people: People, rows: list[ListRow], differ: Any
) -> tuple[list[Found], set[str]]:
    """Each row matched and checked by ``differ(row, person)``; the ID numbers listed."""
    found: list[Found] = []
    listed: set[str] = set()
    for row in rows:
        person = people.match(row)
        if person is None:
            found.append(not_found(row))
            continue
        listed.add(person.id_number)
        found += _name(row, person)
        found += differ(row, person)
    return found, listed


def _disability(row: ListRow, person: Person) -> list[Found]:
    member = person.member
    stored = (member.disability, member.disability_grade) if member else ("", "")
    raw = (row.cells.get("残疾类别", ""), row.cells.get("残疾等级", ""))
    read = (terms.disability_of(raw[0]), terms.grade_of(raw[1]))
    listed = (read[0] or raw[0], read[1] or raw[1])
    if listed == stored:
        return []
    proposed = None
    if read[0] and read[1]:
        proposed = {"disability": read[0], "disability_grade": read[1]}
    return [
        Found(
            terms.CATEGORY, person.household, person.id_number, row.name,
            terms.disability_words(*stored), terms.disability_words(*listed),
            "disability" if proposed else "", proposed,
        )
    ]  # fmt: skip


def _insurance(row: ListRow, person: Person) -> list[Found]:
    status = row.cells.get("参保状态", "")
    insured = status in terms.INSURED_STATUSES
    member = person.member
    if member is None or member.insured is None or member.insured == insured:
        return []
    return [
        Found(
            terms.CATEGORY, person.household, person.id_number, row.name,
            "已参保" if member.insured else "未参保", status or "无", "insured", insured,
        )
    ]  # fmt: skip


def _education(row: ListRow, person: Person) -> list[Found]:
    raw = row.cells.get("学段", "")
    stage = terms.stage_of(raw)
    stored = person.member.school_stage if person.member else ""
    if stage == stored:
        return []
    return [
        Found(
            terms.CATEGORY, person.household, person.id_number, row.name, stored or "无",
            stage or raw or "无", "school_stage" if stage is not None else "", stage,
        )
    ]  # fmt: skip


def compare(department: str, reg: Registry, rows: list[ListRow]) -> list[Found]:
    """Every difference between ``rows`` (a department's list) and the registry."""
    people = People(reg)
    if department == "civil_affairs":
        return _civil_affairs(reg, people, rows)
    if department == "disability":
        found, listed = _per_person(reg, people, rows, _disability)
        return found + _members_missing(
            reg, listed, lambda m: bool(m.disability),
            lambda m: terms.disability_words(m.disability, m.disability_grade), "disability",
            {"disability": "", "disability_grade": ""},
        )  # fmt: skip
    if department == "medical_insurance":
        found, listed = _per_person(reg, people, rows, _insurance)
        return found + _members_missing(
            reg, listed, lambda m: m.insured is not False,
            lambda m: "已参保" if m.insured else "未填", "insured", False,
        )  # fmt: skip
    if department == "education":
        found, listed = _per_person(reg, people, rows, _education)
        return found + _members_missing(
            reg, listed, lambda m: bool(m.school_stage), lambda m: m.school_stage,
            "school_stage", "",
        )  # fmt: skip
    raise ValueError(department)
