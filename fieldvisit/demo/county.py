"""The demo county (``seed-demo --townships N``): the reference township N times over.

Each township is the demo township built again with its own seed: the same villages under
the same names (so 王庄村-like repeats are everywhere, as in a real county), its own
households (户编号 numbered per township), its own helpers (distinct phones) and history.
The county's office (admin, supervisor) has no township and sees all; each township has an
admin of its own. Past months are left open and the departments' lists out: closing twenty
townships' months renders their summaries, which a benchmark measures on its own.
"""

from __future__ import annotations

import datetime as dt
import random

from ..access.passwords import hash_password
from ..access.permissions import is_helper
from ..models import Household, User, Village
from ..storage import Registry, Store
from ..vocab import DEFAULT_CHECKLIST
from .build import DemoInfo
from .history import _History, _month_starts
from .people import _helpers, _households, _PhoneBook
from .profiles import _profiles
from .township import ADMIN, DEMO_PASSWORD, REGION, SUPERVISOR, TZ, VILLAGES

# Township names of the demo county, in order; a county has about twenty.
TOWNSHIP_NAMES = (
    "城关镇", "河口镇", "王集乡", "柳林镇", "石桥镇", "新店乡", "东湖镇", "西岗乡", "南坡镇",
    "北山乡", "杨庄镇", "李河乡", "马庙镇", "高庄乡", "白沙镇", "青石乡", "桃园镇", "黄村乡",
    "长岭镇", "双河乡",
)  # fmt: skip
COUNTY = "示范县"


def township_names(count: int) -> list[str]:
    """The names of ``count`` demo townships (numbered beyond the list)."""
    return [
        TOWNSHIP_NAMES[i] if i < len(TOWNSHIP_NAMES) else f"第{i + 1}乡镇" for i in range(count)
    ]


def _township_households(
    rng: random.Random, phones: _PhoneBook, stamp: str, number: int, name: str
) -> list[Household]:
    households = _households(rng, _profiles(rng), phones, stamp)
    for h in households:
        # 户编号 REGION + 00 + village + serial: the township's number takes the 00.
        h.id = f"{REGION}{number:02d}{h.id[len(REGION) + 2 :]}"
        h.township = name
    return households


def build_county(
    store: Store, townships: int, months: int = 3, today: dt.date | None = None, seed: int = 2018
) -> DemoInfo:
    """Build a county of ``townships`` demo townships into an empty ``store``."""
    if store.registry().households:
        raise ValueError("the data folder already holds households; the demo needs an empty one")
    today = today or dt.date.today()
    stamp = f"{_month_starts(today, months)[0].isoformat()}T08:00:00{TZ}"
    password_hash = hash_password(DEMO_PASSWORD)
    phones = _PhoneBook(random.Random(seed), taken={ADMIN[0], SUPERVISOR[0]})
    users = [
        User(ADMIN[0], ADMIN[1], "admin", password_hash, "县扶贫办", created_at=stamp),
        User(SUPERVISOR[0], SUPERVISOR[1], "supervisor", password_hash, "县纪委", created_at=stamp),
    ]
    everyone: list[Household] = []
    visits, needs = [], []
    for number, name in enumerate(township_names(townships), start=1):
        rng = random.Random(seed + number)
        households = _township_households(rng, phones, stamp, number, name)
        users += _helpers(rng, households, phones, password_hash, stamp)
        users.append(User(phones.new(), f"{name}扶贫办", "admin", password_hash, name, True,
                          stamp, township=name))  # fmt: skip
        made = _History(rng, today, households).build(months)
        visits += made[0]
        needs += made[1]
        everyone += households
    _save(store, everyone, users, townships)
    store.import_visits(visits, needs)
    helpers = sum(1 for u in users if is_helper(u))
    return DemoInfo(
        township=COUNTY,
        households=len(everyone),
        people=sum(h.members for h in everyone),
        helpers=helpers,
        visits=len(visits),
        needs=len(needs),
        logins=[
            ("admin", ADMIN[1], ADMIN[0], DEMO_PASSWORD),
            ("supervisor", SUPERVISOR[1], SUPERVISOR[0], DEMO_PASSWORD),
        ],
    )


def _save(store: Store, households: list[Household], users: list[User], townships: int) -> None:
    def change(reg: Registry) -> None:
        if reg.households:
            raise ValueError("the data folder already holds households")
        for name in township_names(townships):
            for village, poor, year in VILLAGES:
                place = Village(village, poor, year, township=name)
                reg.villages[place.key] = place
        reg.households.update({h.id: h for h in households})
        reg.users.update({u.phone: u for u in users})
        reg.settings.setdefault("township", COUNTY)
        reg.settings.setdefault(
            "checklist", [{"key": k, "label": label} for k, label in DEFAULT_CHECKLIST]
        )

    store.update_registry(change)
