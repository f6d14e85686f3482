"""The demo township's members and other departments' lists, so that a newcomer finds the
reconciliation pages working: members for every household (a few not adding up to 家庭人口),
a list from each department with differences of every kind, and a warning list whose checks
are open, done and overdue.

Drawn from a generator of its own (seeded from the township's seed), so adding this did not
change the township the other modules build. The lists are made here in code and compared
through the same function as an upload.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import Sequence

from ..models import Household, Member
from ..reconcile import settle
from ..reconcile.running import run_comparison
from ..reconcile.warnings import record_check
from ..storage import Registry, Store
from .people import _id_number, _person_name
from .township import ADMIN

MISMATCHED = 3  # households whose members do not add up to 家庭人口
_DISABILITIES = ("肢体", "视力", "听力", "智力", "精神", "言语")
_GRADES = ("一级", "二级", "三级", "四级")


def _stage(born: int, today: dt.date, rng: random.Random) -> str:
    age = today.year - born
    for low, high, stage in ((3, 5, "学前"), (6, 11, "小学"), (12, 14, "初中"), (15, 17, "高中")):
        if low <= age <= high:
            return stage
    return "本科" if 18 <= age <= 21 and rng.random() < 0.3 else ""


class _Family:
    """The members of one household, with ID numbers unique in the township."""

    def __init__(self, rng: random.Random, taken: set[str], today: dt.date) -> None:
        self.rng, self.taken, self.today = rng, taken, today

    def _person(self, household: Household, relation: str, born: int, male: bool) -> Member | None:
        for _attempt in range(20):
            number = _id_number(self.rng, born, male)
            if number not in self.taken:
                self.taken.add(number)
                surname = household.head[0] if relation.startswith(("之", "孙")) else None
                return Member(
                    number, household.id, _person_name(self.rng, male, surname), relation,
                    "男" if male else "女", school_stage=_stage(born, self.today, self.rng),
                    insured=True,
                )  # fmt: skip
        return None

    def members(self, household: Household, count: int) -> list[Member]:
        number = household.id_number
        head_born = int(number[6:10])
        head = Member(
            number, household.id, household.head, "户主", "男" if int(number[16]) % 2 else "女",
            insured=True,
        )  # fmt: skip
        out = [head]
        plan = [("配偶", head_born + self.rng.randint(-3, 3), head.sex == "女")]
        for _n in range(count - 2):
            child_born = min(head_born + self.rng.randint(22, 34), self.today.year - 4)
            if child_born > self.today.year - 18 or self.rng.random() < 0.5:
                male = self.rng.random() < 0.5
                plan.append(("之子" if male else "之女", child_born, male))
            else:
                male = self.rng.random() < 0.5
                born = self.rng.randint(self.today.year - 16, self.today.year - 6)
                plan.append(("孙子" if male else "孙女", born, male))
        for relation, born, male in plan[: count - 1]:
            person = self._person(household, relation, born, male)
            if person is not None:
                out.append(person)
        if household.cause == "disability":
            disabled = self.rng.choice(out)
            disabled.disability = self.rng.choice(_DISABILITIES)
            disabled.disability_grade = self.rng.choice(_GRADES)
        return out


def _members(rng: random.Random, households: Sequence[Household], today: dt.date) -> list[Member]:
    taken = {h.id_number for h in households}
    family = _Family(rng, taken, today)
    short = set(rng.sample([h.id for h in households if h.members >= 3], MISMATCHED))
    out: list[Member] = []
    for household in households:
        count = household.members - (1 if household.id in short else 0)
        out.extend(family.members(household, count))
    return out


def _csv(rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _stranger(rng: random.Random, taken: set[str]) -> tuple[str, str]:
    """Someone of the township who is no member of a registered household."""
    while True:
        number = _id_number(rng, rng.randint(1950, 2000), rng.random() < 0.5)
        if number not in taken:
            return number, _person_name(rng, number[16] in "13579")


def _old_number(number: str) -> str:
    """The 15-digit number a person born in the 1900s had before 1999."""
    return number[:6] + number[8:17]


def _renamed(rng: random.Random, name: str) -> str:
    return name[:-1] + rng.choice([c for c in "明华军英丽" if c != name[-1]])


def _civil_roster(rng: random.Random, households: Sequence[Household], taken: set[str]) -> bytes:
    """民政's roster: one row per 低保/特困 household, by its applicant (the head)."""
    listed = [h for h in households if h.attribute in ("dibao", "wubao")]
    picked = [h.id for h in rng.sample(listed, 8)]
    omit, flip, count, rename, old = picked[:2], picked[2:4], picked[4:6], picked[6], picked[7]
    rows: list[list[object]] = [
        ["示范县民政局低保特困人员名单"],
        ["序号", "身份证号码", "申请人姓名", "保障类别", "保障人数"],
    ]
    for h in listed:
        if h.id in omit:
            continue
        category = "低保" if (h.attribute == "dibao") != (h.id in flip) else "特困"
        number = _old_number(h.id_number) if h.id == old else h.id_number
        name = _renamed(rng, h.head) if h.id == rename else h.head
        rows.append(
            [len(rows) - 1, number, name, category, h.members + (1 if h.id in count else 0)]
        )
    for _n in range(2):
        number, name = _stranger(rng, taken)
        rows.append([len(rows) - 1, number, name, "低保", 1])
    return _csv(rows)


def _disability_list(rng: random.Random, members: list[Member], taken: set[str]) -> bytes:
    disabled = [m for m in members if m.disability]
    picked = {m.id_number for m in rng.sample(disabled, min(4, len(disabled)))}
    omit = set(list(picked)[:2])
    rows: list[list[object]] = [["身份证号", "姓名", "残疾类别", "残疾等级"]]
    for m in disabled:
        if m.id_number in omit:
            continue
        grade = m.disability_grade
        if m.id_number in picked:
            grade = next(g for g in _GRADES if g != grade)
        rows.append([m.id_number, m.name, m.disability + "残疾", grade])
    rows.append([*_stranger(rng, taken), "肢体残疾", "三级"])
    return _csv(rows)


def _insurance_list(
    rng: random.Random, members: list[Member], taken: set[str], lapsed: str
) -> bytes:
    omit = {m.id_number for m in rng.sample(members, 3)}
    rows: list[list[object]] = [["城乡居民医保参保人员"], ["姓名", "身份证号", "参保状态"]]
    for m in members:
        if m.id_number not in omit:
            rows.append([m.name, m.id_number, "停保" if m.id_number == lapsed else "已参保"])
    number, name = _stranger(rng, taken)
    rows.append([name, number, "已参保"])
    return _csv(rows)


def _education_list(rng: random.Random, members: list[Member], taken: set[str]) -> bytes:
    pupils = [m for m in members if m.school_stage]
    picked = [m.id_number for m in rng.sample(pupils, min(3, len(pupils)))]
    rows: list[list[object]] = [["学生资助名单"], ["身份证号", "学生姓名", "学段", "资助项目"]]
    for m in pupils:
        if m.id_number in picked[:2]:
            continue
        stage = m.school_stage
        if m.id_number in picked[2:]:
            stage = "初中" if stage != "初中" else "高中"
        aid = {"学前": "学前资助", "本科": "雨露计划"}.get(m.school_stage, "营养改善计划")
        rows.append([m.id_number, m.name, stage, aid])
    rows.append([*_stranger(rng, taken), "小学", "营养改善计划"])
    return _csv(rows)


_WARNINGS = (
    ("医保高额费用", "本年住院自付费用超过 1 万元"),
    ("新发大病", "新确诊慢性肾病，需长期透析"),
    ("教育高额支出", "子女就读高职，学杂费负担较重"),
    ("受灾", "暴雨致房屋部分受损"),
)
# Days before today each warning was pushed: open, overdue, and (the last two) done.
_PUSHED = (3, 25, 30, 5, 12, 12)


def _warning_list(
    rng: random.Random,
    households: Sequence[Household],
    example: str,
    taken: set[str],
    today: dt.date,
) -> bytes:
    """A warning list: two of the example helper's households first (one open, one overdue),
    then others; done ones are answered after the comparison."""
    mine = [h for h in households if example in h.helpers][:2]
    others = rng.sample([h for h in households if h not in mine], len(_PUSHED) - len(mine))
    rows: list[list[object]] = [["身份证号", "姓名", "预警类型", "预警内容", "推送日期"]]
    for h, days in zip([*mine, *others], _PUSHED, strict=True):
        kind, text = rng.choice(_WARNINGS)
        rows.append(
            [h.id_number, h.head, kind, text, (today - dt.timedelta(days=days)).isoformat()]
        )
    number, name = _stranger(rng, taken)
    rows.append([number, name, "新发大病", "外出务工人员返乡就医", today.isoformat()])
    return _csv(rows)


def _save_members(store: Store, members: list[Member]) -> None:
    def change(reg: Registry) -> None:
        reg.members.update({m.id_number: m for m in members})

    store.update_registry(change)


def _settle_examples(store: Store, example: str, today: dt.date) -> None:
    """A few differences settled each way and the oldest warnings answered, so that the
    pages show every state."""
    reg = store.registry()
    by_kind: dict[tuple[str, str], list[str]] = {}
    for d in sorted(reg.differences.values(), key=lambda d: d.id):
        by_kind.setdefault((d.department, d.kind), []).append(d.id)
    office = ADMIN[0]
    for did in by_kind.get(("civil_affairs", "missing_from_list"), [])[:1]:
        settle.explain(store, did, "该户本月已重新申请低保，民政正在审批", office)
    for did in by_kind.get(("disability", "category"), [])[:1]:
        settle.take(store, did, office)
    for d in reg.differences.values():
        household = reg.households.get(d.household)
        if d.department == "medical_insurance" and household and example in household.helpers:
            settle.send(store, d.id, office)
    answered = (today - dt.timedelta(days=_PUSHED[-1])).isoformat()
    for check in sorted(reg.checks.values(), key=lambda c: c.id):
        if check.pushed_on == answered:
            helper = reg.households[check.household].helpers[0]
            record_check(store, check.id, "true", "已联系村医上门，协助申请大病救助", "", helper)


def build_departments(
    store: Store, households: Sequence[Household], example: str, today: dt.date, seed: int
) -> None:
    """Members, the four departments' lists and a warning list, compared as uploads."""
    rng = random.Random(seed + 14)
    members = _members(rng, households, today)
    _save_members(store, members)
    taken = {m.id_number for m in members} | {h.id_number for h in households}
    example_head = next(h.id_number for h in households if example in h.helpers)
    lists = {
        "civil_affairs": _civil_roster(rng, households, taken),
        "disability": _disability_list(rng, members, taken),
        "medical_insurance": _insurance_list(rng, members, taken, example_head),
        "education": _education_list(rng, members, taken),
        "warning": _warning_list(rng, households, example, taken, today),
    }
    for department, data in lists.items():
        run_comparison(store, department, data, f"示范-{department}.csv", ADMIN[0])
    _settle_examples(store, example, today)
