"""The entry point: build the demo township into an empty store, and tell the console how
to log in to it."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from flask_babel import gettext

from ..access.passwords import hash_password
from ..models import Household, User, Village
from ..months import month_of, months_back
from ..storage import Registry, Store
from ..vocab import DEFAULT_CHECKLIST, ROLES, label
from .departments import build_departments
from .history import _History, _month_starts
from .people import _example_helper, _helpers, _households, _PhoneBook
from .profiles import _profiles
from .township import ADMIN, DEMO_PASSWORD, SUPERVISOR, TOWNSHIP, TZ, VILLAGES


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


def build_demo(
    store: Store,
    months: int = 3,
    today: dt.date | None = None,
    seed: int = 2018,
    *,
    close_months: bool = False,
) -> DemoInfo:
    """Build the demo township into ``store``, which must hold no households yet.

    Visit history covers the last ``months`` months up to ``today``'s month, which is only
    partly visited and only up to ``today``. Same seed, same township (bar the QR tokens).
    With ``close_months`` (``seed-demo`` and ``run.py``: the demo a township tries) the
    months before today's are closed by the demo's office, as a township closes each month
    once its visits are in; that renders a summary PDF for each, so it needs an application
    context.
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
    build_departments(store, households, example.phone, today, seed)  # members, lists, checks
    if close_months:  # last: each past month is closed with the registry as built
        close_history(store, today, months)
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


def close_history(store: Store, today: dt.date, months: int) -> list[str]:
    """Close the demo's months before ``today``'s, oldest first, as its office; returns them."""
    from ..closing import close_month  # renders PDFs: only a build that closes loads it

    past = months_back(month_of(today), months)[:-1]
    for month in past:
        close_month(store, month, ADMIN[0], today)
    return past


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
