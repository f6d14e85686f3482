"""The demo township: a registry that reproduces DESIGN.md's tables exactly, with synthetic
people and a few months of synthetic visit history.

``python run.py`` builds it into an empty data folder so that a township office can try the
whole product before importing its own spreadsheet. Everything personal is made up (names,
phones, ID numbers), but it has the shape of the real thing: ID numbers carry a valid check
digit, five-guarantees households are mostly one old person, exited households cluster in
the villages that exited early, and the current month is only partly visited.

Everything but the QR tokens follows from ``seed``: the tokens open doors, so they always
come from ``households.new_token()``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext

from .households import new_token
from .idcard import check_digit
from .models import Household, Need, User, Village, Visit
from .passwords import hash_password
from .storage import Registry, Store
from .vocab import CAUSES, DEFAULT_CHECKLIST, GUARANTEES, ROLES, label

TOWNSHIP = "示范镇"
DEMO_PASSWORD = "demo1234"
ADMIN = ("13800000001", "刘敏")
SUPERVISOR = ("13800000002", "孙建军")
HELPERS = 357
REGION = "411721"  # the 身份证 region code and the prefix of every 户编号
HELPING_DAY = 10  # 帮扶日: most visits of a month fall on it
TZ = "+08:00"

# DESIGN.md's tables, code -> (households, people). The registry must reproduce all of them.
ATTRIBUTE_TABLE: dict[str, tuple[int, int]] = {
    "dibao": (456, 1178),
    "wubao": (81, 102),
    "general": (139, 441),
}
CAUSE_TABLE: dict[str, tuple[int, int]] = {
    "illness": (403, 1030),
    "disability": (166, 436),
    "schooling": (24, 89),
    "disaster": (2, 6),
    "labour": (23, 43),
    "skills": (29, 59),
    "funds": (23, 36),
    "drive": (6, 22),
}
STATUS_TABLE: dict[str, tuple[int, int]] = {
    "exited": (86, 306),
    "not_exited": (590, 1415),
}
TABLES: dict[str, dict[str, tuple[int, int]]] = {
    "attribute": ATTRIBUTE_TABLE,
    "cause": CAUSE_TABLE,
    "status": STATUS_TABLE,
}

# (name, poor village, exit year): the report's villages first, then placeholders to make 14.
VILLAGES: list[tuple[str, bool, int | None]] = [
    ("聂河村", True, 2016),
    ("油房张村", True, 2017),
    ("王寨村", True, 2018),
    ("赵王村", False, None),
    ("北王村", False, None),
    ("夏王村", False, None),
    ("李庄村", False, None),
    ("前营村", False, None),
    ("后刘村", False, None),
    ("陈桥村", False, None),
    ("杨店村", False, None),
    ("周楼村", False, None),
    ("孙湾村", False, None),
    ("马岗村", False, None),
]
# The west of Henan's 驻马店 (region 411721): villages sit around this point.
CENTRE = (33.38, 114.02)


def _words(text: str) -> list[str]:
    return text.split()


SURNAMES = "王张李刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
MALE_NAMES = _words(
    "建国 国强 志刚 卫东 红军 建华 振华 永强 德胜 保国 新民 金山 玉生 长海 春生 "
    "海 军 伟 磊 勇 明 杰 涛 斌 强 鹏 超 刚 平 辉"
)
FEMALE_NAMES = _words("秀英 桂兰 玉兰 淑珍 桂芳 凤英 秀兰 玉梅 丽 芳 红梅 静 敏 燕 娟 霞 艳 萍 丹")
UNITS = _words(
    "县扶贫办 县供电公司 县教育局 县卫健委 县人社局 县农业农村局 县财政局 "
    "县民政局 县住建局 县水利局 县交通运输局 县自然资源局 县农商银行 "
    "县邮政分公司 县公安局 县税务局 县市场监管局 镇政府 镇卫生院 镇中心学校"
)

NEED_TEXTS: dict[str, tuple[list[str], list[str]]] = {  # category: (descriptions, resolutions)
    "medical": (
        [
            "慢性病需办理门诊慢性病卡",
            "希望联系县医院复查",
            "药费负担重，询问大病救助",
            "需要家庭医生上门随访",
        ],
        ["已办理慢性病卡", "已联系镇卫生院上门服务", "已申请大病救助"],
    ),
    "education": (
        ["孩子上学需申请雨露计划补助", "询问教育资助政策", "孩子上学路远，想申请寄宿"],
        ["已申请雨露计划补助", "已讲解教育资助政策", "已协调学校安排寄宿"],
    ),
    "employment": (
        ["希望介绍附近务工岗位", "想申请公益性岗位", "外出务工需开具证明"],
        ["已推荐到县产业园务工", "已安排公益性岗位", "已开具证明"],
    ),
    "industry": (
        ["想发展养殖，需要技术指导", "希望申请产业奖补", "花生需要帮忙联系销路"],
        ["已请农技员上门指导", "已申报产业奖补", "已联系合作社收购"],
    ),
    "housing": (
        ["房屋漏雨，需要维修", "申请危房改造", "院墙倒塌需修缮"],
        ["已组织维修", "已列入危房改造计划", "已修缮完毕"],
    ),
    "funds": (
        ["想申请小额信贷发展生产", "询问到户增收补贴何时发放"],
        ["已办理小额信贷", "补贴已发放到户"],
    ),
    "skills": (
        ["想参加电焊技能培训", "希望参加种植技术培训", "想学习家政服务技能"],
        ["已报名县人社局培训班", "已参加培训"],
    ),
    "social_assistance": (
        ["家庭收入下降，申请纳入低保", "询问低保金调整情况", "老人需申请特困供养"],
        ["已提交低保申请并审批", "已讲解低保政策", "已纳入特困供养"],
    ),
    "water": (
        ["自来水水压小，经常停水", "水龙头损坏需维修"],
        ["已联系水厂处理", "已更换水龙头"],
    ),
    "other": (
        ["需要办理残疾证", "电线老化需检修", "希望帮助办理医保缴费"],
        ["已协助办理", "已联系供电所检修", "已代缴医保"],
    ),
}
# Which needs a household raises follows from why it is poor.
NEED_BIAS: dict[str, dict[str, int]] = {
    "illness": {"medical": 8},
    "disability": {"medical": 4, "social_assistance": 3, "other": 2},
    "schooling": {"education": 8},
    "disaster": {"housing": 8},
    "labour": {"social_assistance": 4, "employment": 2},
    "skills": {"skills": 6, "employment": 3},
    "funds": {"funds": 6, "industry": 3},
    "drive": {"employment": 4, "industry": 2},
}
NOTES_MET = [
    "户主身体状况稳定",
    "已宣讲扶贫政策",
    "帮助打扫院落",
    "提醒按时服药",
    "子女在外务工，家中老人在家",
    "家中养鸡十余只，长势良好",
    "已核对帮扶手册",
]
NOTES_NOBODY = ["家中无人，已电话联系", "大门上锁，邻居说外出赶集", "户主去医院复查未回"]
NOTES_PHONE = ["户主在外务工，电话回访", "电话联系，户主称一切正常"]


@dataclass
class DemoInfo:
    """What ``build_demo`` made, and how to log in to look at it."""

    township: str
    households: int
    people: int
    helpers: int
    visits: int
    needs: int
    logins: list[tuple[str, str, str, str]]  # (role code, name, phone, password)


@dataclass
class _Profile:
    """One household before it has a name: the cells of DESIGN.md's tables it counts in."""

    attribute: str
    cause: str
    village: str = ""
    status: str = "not_exited"
    members: int = 1


def build_demo(
    store: Store, months: int = 3, today: dt.date | None = None, seed: int = 2018
) -> DemoInfo:
    """Build the demo township into ``store``, which must hold no households yet.

    Visit history covers the last ``months`` months up to ``today``'s month, which is only
    partly visited and only up to ``today``. Same seed, same township (bar the QR tokens).
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    if store.registry().households:
        raise ValueError("the data folder already holds households; the demo needs an empty one")
    today = today or dt.date.today()
    rng = random.Random(seed)
    start = _month_starts(today, months)[0]
    stamp = f"{start.isoformat()}T08:00:00{TZ}"
    password_hash = hash_password(DEMO_PASSWORD)  # scrypt is slow: hash once, share it

    phones = _PhoneBook(rng, taken={ADMIN[0], SUPERVISOR[0], *store.registry().users})
    households = _households(rng, _profiles(rng), phones, stamp)
    helpers = _helpers(rng, households, phones, password_hash, stamp)
    users = [
        User(ADMIN[0], ADMIN[1], "admin", password_hash, "镇扶贫办", created_at=stamp),
        User(SUPERVISOR[0], SUPERVISOR[1], "supervisor", password_hash, "镇纪委", created_at=stamp),
        *helpers,
    ]
    # The registry goes first: if the history fails half-way, a second run refuses rather
    # than importing the same visits twice.
    township = _save_registry(store, households, users)
    visits, needs = _History(rng, today, households).build(months)
    store.import_visits(visits, needs)

    example = _example_helper(households, helpers)
    return DemoInfo(
        township=township,
        households=len(households),
        people=sum(h.members for h in households),
        helpers=len(helpers),
        visits=len(visits),
        needs=len(needs),
        logins=[
            ("admin", ADMIN[1], ADMIN[0], DEMO_PASSWORD),
            ("supervisor", SUPERVISOR[1], SUPERVISOR[0], DEMO_PASSWORD),
            ("helper", example.name, example.phone, DEMO_PASSWORD),
        ],
    )


def describe(info: DemoInfo) -> str:
    """What was built and how to log in as each role, for the console."""
    lines = [
        gettext(
            "演示乡镇「%(township)s」：%(households)d 户 %(people)d 人，%(helpers)d 名帮扶责任人，"
            "%(visits)d 条走访记录，%(needs)d 条诉求",
            township=info.township,
            households=info.households,
            people=info.people,
            helpers=info.helpers,
            visits=info.visits,
            needs=info.needs,
        ),
        gettext("登录（手机号 / 密码）："),
    ]
    for role, name, phone, password in info.logins:
        lines.append(f"  {label(ROLES, role)}  {name}  {phone} / {password}")
    return "\n".join(lines)


def _save_registry(store: Store, households: list[Household], users: list[User]) -> str:
    """Write villages, households, users and default settings in one atomic change; returns
    the township's name."""

    def change(reg: Registry) -> str:
        if reg.households:  # checked again under the lock: another process may have imported
            raise ValueError("the data folder already holds households")
        if clash := {u.phone for u in users} & set(reg.users):
            raise ValueError(f"demo users already exist: {sorted(clash)}")
        reg.villages.update({name: Village(name, poor, year) for name, poor, year in VILLAGES})
        reg.households.update({h.id: h for h in households})
        reg.users.update({u.phone: u for u in users})
        reg.settings.setdefault("township", TOWNSHIP)
        reg.settings.setdefault(
            "checklist", [{"key": k, "label": label} for k, label in DEFAULT_CHECKLIST]
        )
        return str(reg.settings["township"])

    return store.update_registry(change)


# --- the registry's tables: which cell each household counts in, and how many people ------


def _profiles(rng: random.Random) -> list[_Profile]:
    """676 profiles whose attribute, cause and status marginals match DESIGN.md for
    households and people at once."""
    profiles = _with_causes(rng)
    _place_in_villages(rng, profiles)
    _mark_exited(rng, profiles)
    _draw_members(rng, profiles)
    _balance(rng, profiles)
    problems = table_mismatches(profiles)
    if problems:  # cannot happen unless the balancing below is broken
        raise RuntimeError(f"demo registry does not match DESIGN.md: {problems}")
    return profiles


def table_mismatches(rows: Sequence[Any]) -> list[str]:
    """Where ``rows`` (anything with attribute, cause, status, members) miss the tables."""
    problems = []
    for dim, table in TABLES.items():
        for code, (want_hh, want_people) in table.items():
            hh = [r for r in rows if getattr(r, dim) == code]
            people = sum(r.members for r in hh)
            if (len(hh), people) != (want_hh, want_people):
                problems.append(f"{dim}={code}: {len(hh)}/{people}, want {want_hh}/{want_people}")
    return problems


# How likely each cause is for each attribute: five-guarantees households are old people
# living alone (illness, disability, no labour), never school costs.
_CAUSE_AFFINITY: dict[str, dict[str, float]] = {
    "wubao": {"illness": 3, "disability": 3, "labour": 5, "drive": 0.2},
    "general": {"illness": 1, "disability": 1, "schooling": 4, "disaster": 3, "skills": 4,
                "funds": 4, "drive": 3, "labour": 0.5},
    "dibao": {c: 1.0 for c in CAUSES},
}  # fmt: skip


def _with_causes(rng: random.Random) -> list[_Profile]:
    """Draw causes without replacement, so the household counts come out exact."""
    left = {code: hh for code, (hh, _) in CAUSE_TABLE.items()}
    profiles = []
    # Dibao goes last: it takes whatever causes the others did not.
    for attribute in ("wubao", "general", "dibao"):
        affinity = _CAUSE_AFFINITY[attribute]
        for _ in range(ATTRIBUTE_TABLE[attribute][0]):
            weights = [left[c] * affinity.get(c, 0.0) for c in left]
            if not any(weights):
                weights = [float(n) for n in left.values()]
            cause = rng.choices(list(left), weights)[0]
            left[cause] -= 1
            profiles.append(_Profile(attribute, cause))
    rng.shuffle(profiles)
    return profiles


def _place_in_villages(rng: random.Random, profiles: list[_Profile]) -> None:
    sizes = [rng.randint(28, 72) for _ in VILLAGES]
    while (gap := len(profiles) - sum(sizes)) != 0:
        i = rng.randrange(len(sizes))
        step = 1 if gap > 0 else -1
        if 20 <= sizes[i] + step <= 80:
            sizes[i] += step
    names = iter(
        name for (name, _, _), size in zip(VILLAGES, sizes, strict=True) for _ in range(size)
    )
    for profile, name in zip(profiles, names, strict=True):
        profile.village = name


def _mark_exited(rng: random.Random, profiles: list[_Profile]) -> None:
    """Pick the exited households: larger families with labour, mostly in the poor villages
    that got the most help and exited early."""
    village_weight = {"聂河村": 4.0, "油房张村": 3.0, "王寨村": 2.0}
    attr_weight = {"general": 4.0, "dibao": 1.0, "wubao": 0.1}
    cause_weight = {"skills": 2.0, "funds": 2.0, "schooling": 2.0, "drive": 1.5}

    def key(p: _Profile) -> float:  # weighted sampling without replacement (Efraimidis-Spirakis)
        weight = village_weight.get(p.village, 1.0) * attr_weight[p.attribute]
        return rng.random() ** (1.0 / (weight * cause_weight.get(p.cause, 1.0)))

    ranked = sorted(profiles, key=key, reverse=True)
    for profile in ranked[: STATUS_TABLE["exited"][0]]:
        profile.status = "exited"


def _limits(profile: _Profile) -> tuple[int, int]:
    """Plausible household sizes: five-guarantees people live alone or as an old couple; a
    household poor through school costs has a child at school and a parent."""
    if profile.attribute == "wubao":
        return (1, 3)
    return (2, 7) if profile.cause == "schooling" else (1, 7)


def _mean(table: dict[str, tuple[int, int]], code: str) -> float:
    hh, people = table[code]
    return people / hh


def _draw_members(rng: random.Random, profiles: list[_Profile]) -> None:
    """A first, plausible draw close to the tables; ``_balance`` makes it exact."""
    households, people = (sum(col) for col in zip(*STATUS_TABLE.values(), strict=True))
    overall = people / households
    for p in profiles:
        if p.attribute == "wubao":
            p.members = 1 if rng.random() < 0.78 else 2
            continue
        mean = (
            _mean(ATTRIBUTE_TABLE, p.attribute)
            * _mean(CAUSE_TABLE, p.cause)
            / overall
            * _mean(STATUS_TABLE, p.status)
            / overall
        )
        low, high = _limits(p)
        p.members = min(high, max(low, round(rng.gauss(mean, 0.9))))


def _balance(rng: random.Random, profiles: list[_Profile]) -> None:
    """Adjust member counts until every people total matches.

    Attributes first, by single steps (which also fixes the grand total); then causes and
    status by moving one person between two households that share their other two cells,
    so a dimension once balanced stays balanced.
    """
    for code in ATTRIBUTE_TABLE:
        _fix_attribute(rng, profiles, code)
    for dim in ("cause", "status"):
        _fix_dimension(rng, profiles, dim)


def _deficit(profiles: list[_Profile], dim: str) -> dict[str, int]:
    have: dict[str, int] = defaultdict(int)
    for p in profiles:
        have[getattr(p, dim)] += p.members
    return {code: people - have[code] for code, (_, people) in TABLES[dim].items()}


def _fix_attribute(rng: random.Random, profiles: list[_Profile], code: str) -> None:
    group = [p for p in profiles if p.attribute == code]
    for _ in range(5000):
        need = _deficit(profiles, "attribute")[code]
        if need == 0:
            return
        step = 1 if need > 0 else -1
        cause, status = _deficit(profiles, "cause"), _deficit(profiles, "status")
        movable = [p for p in group if _limits(p)[0] <= p.members + step <= _limits(p)[1]]
        # Prefer households whose cause and status want the same change: less work later.
        helpful = [p for p in movable if cause[p.cause] * step > 0 and status[p.status] * step > 0]
        rng.choice(helpful or movable).members += step
    raise RuntimeError(f"cannot balance attribute {code}")


def _fix_dimension(rng: random.Random, profiles: list[_Profile], dim: str) -> None:
    for _ in range(5000):
        deficit = _deficit(profiles, dim)
        short = sorted((c for c in deficit if deficit[c] > 0), key=lambda c: -deficit[c])
        if not short:
            return
        over = sorted((c for c in deficit if deficit[c] < 0), key=lambda c: deficit[c])
        # When no household pairs up directly, route through the biggest group: it shares
        # cells with everyone, and the next round moves the person on.
        pivots = sorted((c for c in deficit if c not in short), key=lambda c: -TABLES[dim][c][0])
        if not any(_move(rng, profiles, dim, s, o) for s in short for o in [*over, *pivots]):
            raise RuntimeError(f"cannot balance {dim}")
    raise RuntimeError(f"cannot balance {dim}")


def _move(rng: random.Random, profiles: list[_Profile], dim: str, to: str, frm: str) -> bool:
    """Move one person from a ``frm`` household to a ``to`` household that agrees with it in
    the other two dimensions; False when no such pair has room."""
    others = [d for d in TABLES if d != dim]
    ups: dict[tuple[str, ...], list[_Profile]] = defaultdict(list)
    downs: dict[tuple[str, ...], list[_Profile]] = defaultdict(list)
    for p in profiles:
        key = tuple(getattr(p, d) for d in others)
        low, high = _limits(p)
        if getattr(p, dim) == to and p.members < high:
            ups[key].append(p)
        elif getattr(p, dim) == frm and p.members > low:
            downs[key].append(p)
    candidates = [p for key, group in ups.items() if key in downs for p in group]
    if not candidates:
        return False
    # Grow small families and shrink big ones, so the counts stay plausible.
    up = min(rng.sample(candidates, min(3, len(candidates))), key=lambda p: p.members)
    pool = downs[tuple(getattr(up, d) for d in others)]
    down = max(rng.sample(pool, min(3, len(pool))), key=lambda p: p.members)
    up.members += 1
    down.members -= 1
    return True


# --- households and helpers -----------------------------------------------------------------


def _id_number(rng: random.Random, born: int, male: bool) -> str:
    birth = dt.date(born, 1, 1) + dt.timedelta(days=rng.randrange(365))
    serial = rng.randrange(0, 500) * 2 + (1 if male else 0)  # odd 17th digit: male
    first17 = f"{REGION}{birth:%Y%m%d}{serial:03d}"
    return first17 + check_digit(first17)


def _person_name(rng: random.Random, male: bool, surname: str | None = None) -> str:
    surname = surname or rng.choice(SURNAMES)
    return surname + rng.choice(MALE_NAMES if male else FEMALE_NAMES)


def _village_surname(rng: random.Random, village: str) -> str | None:
    """Villages are named after their big families: 聂河村 is full of 聂."""
    common = [ch for ch in village[:-1] if ch in SURNAMES + "聂夏"]
    if common and rng.random() < 0.45:
        return rng.choice(common)
    return None


class _PhoneBook:
    """Unique synthetic mobile numbers."""

    def __init__(self, rng: random.Random, taken: set[str]) -> None:
        self.rng = rng
        self.taken = set(taken)

    def new(self) -> str:
        while True:
            phone = self.rng.choice(("13", "15", "17", "18", "19")) + "".join(
                self.rng.choices("0123456789", k=9)
            )
            if phone not in self.taken:
                self.taken.add(phone)
                return phone


def _households(
    rng: random.Random, profiles: list[_Profile], phones: _PhoneBook, stamp: str
) -> list[Household]:
    by_village: dict[str, list[_Profile]] = defaultdict(list)
    for p in profiles:
        by_village[p.village].append(p)
    out = []
    for index, (village, _, exit_year) in enumerate(VILLAGES, start=1):
        members = by_village[village]
        groups = max(3, len(members) // 9)
        centre = (CENTRE[0] + rng.uniform(-0.06, 0.06), CENTRE[1] + rng.uniform(-0.06, 0.06))
        for serial, p in enumerate(members, start=1):
            old = p.attribute == "wubao"
            male = rng.random() < (0.6 if old else 0.8)
            born = rng.randint(1932, 1955) if old else rng.randint(1945, 1990)
            has_phone = rng.random() < (0.6 if old else 0.95)
            loc = {
                "lat": round(centre[0] + rng.uniform(-0.004, 0.004), 6),
                "lng": round(centre[1] + rng.uniform(-0.004, 0.004), 6),
            }
            out.append(
                Household(
                    id=f"{REGION}00{index:02d}{serial:03d}",
                    village=village,
                    head=_person_name(rng, male, _village_surname(rng, village)),
                    members=p.members,
                    attribute=p.attribute,
                    cause=p.cause,
                    status=p.status,
                    token=new_token(),
                    group=f"{rng.randint(1, groups)}组",
                    exit_year=_exit_year(rng, exit_year) if p.status == "exited" else None,
                    phone=phones.new() if has_phone else "",
                    id_number=_id_number(rng, born, male),
                    long_absent=not old and rng.random() < 0.06,
                    location=loc,
                    updated_at=stamp,
                )
            )
    return out


def _exit_year(rng: random.Random, village_exit: int | None) -> int:
    """A household mostly exits with its poor village; elsewhere any year of the campaign."""
    years = [2016, 2017, 2018, 2019]
    if village_exit is None:
        return rng.choices(years, [2, 3, 3, 2])[0]
    weights = [5 if y == village_exit else 2 if y < village_exit else 1 for y in years]
    return rng.choices(years, weights)[0]


def _helpers(
    rng: random.Random,
    households: list[Household],
    phones: _PhoneBook,
    password_hash: str,
    stamp: str,
) -> list[User]:
    """357 helpers, each paired with a run of neighbouring households (a cadre usually helps
    in one village), and a second helper for a few households."""
    quotas = _quotas(rng, len(households), HELPERS)
    helpers = []
    position = 0
    for quota in quotas:
        male = rng.random() < 0.65
        helper = User(
            phone=phones.new(),
            name=_person_name(rng, male),
            role="helper",
            password_hash=password_hash,
            unit=rng.choice(UNITS),
            created_at=stamp,
        )
        helpers.append(helper)
        for household in households[position : position + quota]:
            household.helpers.append(helper.phone)
        position += quota
    by_village: dict[str, list[str]] = defaultdict(list)
    for h in households:
        by_village[h.village].extend(p for p in h.helpers if p not in by_village[h.village])
    for household in rng.sample(households, 24):
        others = [p for p in by_village[household.village] if p not in household.helpers]
        if others:
            household.helpers.append(rng.choice(others))
    return helpers


def _quotas(rng: random.Random, households: int, helpers: int) -> list[int]:
    """How many households each helper takes: at least one, mostly one to three."""
    quotas = rng.choices([1, 2, 3, 4], [30, 45, 20, 5], k=helpers)
    while (gap := households - sum(quotas)) != 0:
        i = rng.randrange(helpers)
        step = 1 if gap > 0 else -1
        if 1 <= quotas[i] + step <= 5:
            quotas[i] += step
    return quotas


def _example_helper(households: list[Household], helpers: list[User]) -> User:
    count: dict[str, int] = defaultdict(int)
    for h in households:
        for phone in h.helpers:
            count[phone] += 1
    return next(u for u in helpers if count[u.phone] >= 2)


# --- visit history --------------------------------------------------------------------------


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    """The first days of the last ``months`` months, oldest first, ending with today's."""
    index = today.year * 12 + today.month - 1
    return [dt.date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


class _History:
    """Synthetic visits and needs for every household, month by month."""

    def __init__(self, rng: random.Random, today: dt.date, households: list[Household]):
        self.rng = rng
        self.today = today
        self.households = households
        self.visits: list[Visit] = []
        self.needs: list[Need] = []
        # Some households are tidier than others, month after month.
        self.tidiness = {h.id: rng.uniform(0.55, 0.97) for h in households}
        self.need_weights = {
            cause: [NEED_BIAS[cause].get(c, 1) for c in NEED_TEXTS] for cause in CAUSES
        }

    def build(self, months: int) -> tuple[list[Visit], list[Need]]:
        for start in _month_starts(self.today, months):
            current = (start.year, start.month) == (self.today.year, self.today.month)
            last = self.today.day if current else calendar.monthrange(start.year, start.month)[1]
            for household in self.households:
                self._month(household, start, last, current)
        return self.visits, self.needs

    def _uuid(self) -> str:
        # From the seeded generator: os.urandom per visit is slow and not reproducible.
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _plan(self, household: Household, current: bool) -> list[str]:
        """The kinds of visit a household gets in one month, in date order."""
        r = self.rng.random()
        if current:  # today's month is under way: about half done so far
            return ["in_person"] if r < 0.5 else ["nobody_home"] if r < 0.54 else []
        if household.long_absent:  # away working: reached by phone, met when home
            return ["in_person"] if r < 0.35 else ["phone"] if r < 0.88 else []
        if r < 0.08:
            return ["nobody_home", "in_person"]  # came back another day
        if r < 0.935:
            return ["in_person"]
        if r < 0.96:
            return ["nobody_home"]
        return ["phone"] if r < 0.98 else []

    def _month(self, household: Household, start: dt.date, last: int, current: bool) -> None:
        plan = self._plan(household, current)
        if len(plan) == 2 and last < 2:
            plan = plan[1:]
        day = 0
        for i, kind in enumerate(plan):
            remaining = len(plan) - i - 1
            day = self._day(day + 1, last - remaining)
            self._visit(household, start.replace(day=day), kind)

    def _day(self, first: int, last: int) -> int:
        if first <= HELPING_DAY <= last and self.rng.random() < 0.6:
            return HELPING_DAY
        return self.rng.randint(first, last)

    def _visit(self, household: Household, date: dt.date, kind: str) -> None:
        rng = self.rng
        helpers = household.helpers
        helper = helpers[0] if len(helpers) == 1 or rng.random() < 0.7 else helpers[1]
        late = rng.random() < 0.03  # 补录: the office enters a paper record later
        created = min(date + dt.timedelta(days=rng.randint(1, 5)), self.today) if late else date
        stamp = f"{created.isoformat()}T{rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}:00{TZ}"
        met = kind == "in_person"
        # Only a household met in person is checked; nobody home means nothing was asked.
        environment = self._environment(household) if met else {}
        visit = Visit(
            id=self._uuid(),
            household=household.id,
            village=household.village,
            helper=helper,
            recorded_by=ADMIN[0] if late else helper,
            date=date.isoformat(),
            kind=kind,
            guarantees=self._guarantees() if kind != "nobody_home" else {},
            environment=environment,
            helped_clean=met and (False in environment.values() or rng.random() < 0.3),
            satisfaction=self._satisfaction() if kind != "nobody_home" else "",
            notes=self._notes(kind),
            created_at=stamp,
            updated_at=stamp,
            location=self._near(household) if kind != "phone" and rng.random() < 0.85 else None,
        )
        if kind != "nobody_home" and rng.random() < 0.15:
            self._raise_needs(household, visit, date)
        self.visits.append(visit)

    def _guarantees(self) -> dict[str, bool]:
        guarantees = dict.fromkeys(GUARANTEES, True)
        if self.rng.random() < 0.004:  # rare, and exactly what supervisors must see first
            guarantees[self.rng.choice(["medical", "housing", "water"])] = False
        return guarantees

    def _environment(self, household: Household) -> dict[str, bool | None]:
        rng = self.rng
        if rng.random() < self.tidiness[household.id]:
            return dict.fromkeys(_CHECK_KEYS, True)
        return {k: rng.choices([True, False, None], [6, 3, 1])[0] for k in _CHECK_KEYS}

    def _satisfaction(self) -> str:
        return self.rng.choices(_SATISFACTION, [86, 12, 2])[0]

    def _notes(self, kind: str) -> str:
        rng = self.rng
        if kind == "nobody_home":
            return rng.choice(NOTES_NOBODY)
        if kind == "phone":
            return rng.choice(NOTES_PHONE)
        return rng.choice(NOTES_MET) if rng.random() < 0.25 else ""

    def _near(self, household: Household) -> dict[str, float] | None:
        if household.location is None:
            return None
        jitter = self.rng.uniform
        return {
            "lat": round(household.location["lat"] + jitter(-0.0003, 0.0003), 6),
            "lng": round(household.location["lng"] + jitter(-0.0003, 0.0003), 6),
        }

    def _raise_needs(self, household: Household, visit: Visit, date: dt.date) -> None:
        rng = self.rng
        count = 2 if rng.random() < 0.15 else 1
        categories = rng.choices(list(NEED_TEXTS), self.need_weights[household.cause], k=count)
        for category in dict.fromkeys(categories):
            description = rng.choice(NEED_TEXTS[category][0])
            urgent = rng.random() < 0.1
            visit.needs.append({"category": category, "description": description, "urgent": urgent})
            need = Need(
                id=self._uuid(),
                visit=visit.id,
                household=household.id,
                village=household.village,
                category=category,
                description=description,
                urgent=urgent,
                raised_by=visit.helper,
                raised_at=visit.date,
            )
            self._maybe_resolve(need, category, date, urgent)
            self.needs.append(need)

    def _maybe_resolve(self, need: Need, category: str, raised: dt.date, urgent: bool) -> None:
        """Old needs are mostly closed off (销号); this month's mostly still open."""
        rng = self.rng
        age = (self.today.year - raised.year) * 12 + self.today.month - raised.month
        if rng.random() >= {0: 0.2, 1: 0.6}.get(age, 0.93):
            return
        days = rng.randint(1, 10) if urgent else rng.randint(3, 45)
        need.status = "resolved"
        need.resolved_by = ADMIN[0]
        need.resolved_at = min(raised + dt.timedelta(days=days), self.today).isoformat()
        need.resolution = rng.choice(NEED_TEXTS[category][1])


_CHECK_KEYS = [key for key, _ in DEFAULT_CHECKLIST]
_SATISFACTION = ["satisfied", "basically_satisfied", "dissatisfied"]
