"""The demo township: the reference township's registry tables exactly, and a believable
visit history."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from fieldvisit.access.passwords import check_password
from fieldvisit.demo import DEMO_PASSWORD, DemoInfo, build_demo, describe
from fieldvisit.storage import Registry, Store
from fieldvisit.vocab import DEFAULT_CHECKLIST, GUARANTEES, NEED_CATEGORIES, VISIT_KINDS

ROOT = Path(__file__).resolve().parents[1]
# The reference township's tables, read from the repository's own record of them (not
# imported from the module under test): code -> (households, people).
_SECTIONS = {"By attribute": "attribute", "By main cause": "cause", "By poverty status": "status"}
_ROW = re.compile(r"^\| [^|]+ \| ([a-z_]+) \| (\d+) \| (\d+) \|$")


def _reference_tables() -> dict[str, dict[str, tuple[int, int]]]:
    tables: dict[str, dict[str, tuple[int, int]]] = {}
    current = None
    for line in (ROOT / "docs" / "reference-township.md").read_text("utf-8").splitlines():
        if line.startswith("### "):
            current = next((v for k, v in _SECTIONS.items() if line[4:].startswith(k)), None)
        elif current and (row := _ROW.match(line)):
            tables.setdefault(current, {})[row[1]] = (int(row[2]), int(row[3]))
    return tables


DESIGN_TABLES = _reference_tables()
TODAY = dt.date(2024, 3, 12)  # a leap February before it: month ends must be right
MONTHS = ["2024-02", "2024-03"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, DemoInfo]:
    store = Store(tmp_path_factory.mktemp("demo"))
    return store, build_demo(store, months=2, today=TODAY)


@pytest.fixture
def store(built: tuple[Store, DemoInfo]) -> Store:
    return built[0]


@pytest.fixture
def info(built: tuple[Store, DemoInfo]) -> DemoInfo:
    return built[1]


@pytest.fixture
def reg(store: Store) -> Registry:
    return store.registry()


def valid_id_number(number: str) -> bool:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17]


def helper_load(reg: Registry) -> Counter[str]:
    return Counter(phone for h in reg.households.values() for phone in h.helpers)


@pytest.mark.parametrize("dimension", sorted(DESIGN_TABLES))
def test_it_reproduces_each_design_table_row(reg: Registry, dimension: str) -> None:
    households: Counter[str] = Counter()
    people: Counter[str] = Counter()
    for h in reg.households.values():
        households[getattr(h, dimension)] += 1
        people[getattr(h, dimension)] += h.members
    got = {code: (households[code], people[code]) for code in households}
    assert got == DESIGN_TABLES[dimension]


def test_it_reports_the_totals(reg: Registry, info: DemoInfo) -> None:
    assert (info.households, info.people, info.helpers) == (676, 1721, 357)
    assert sum(h.members for h in reg.households.values()) == 1721
    assert info.township == reg.settings["township"] == "示范镇"


def test_it_counts_what_it_stored(store: Store, info: DemoInfo) -> None:
    assert store.months() == MONTHS
    assert info.visits == sum(len(store.visits(m)) for m in MONTHS)
    assert info.needs == sum(len(store.needs(m)) for m in MONTHS)


def test_household_sizes_are_plausible(reg: Registry) -> None:
    sizes = [h.members for h in reg.households.values()]
    assert min(sizes) >= 1 and max(sizes) <= 7
    wubao = [h.members for h in reg.households.values() if h.attribute == "wubao"]
    assert Counter(wubao)[1] > len(wubao) / 2  # five-guarantees: mostly living alone


def test_it_builds_the_fourteen_villages(reg: Registry) -> None:
    assert len(reg.villages) == 14
    poor = {v.name: v.exit_year for v in reg.villages.values() if v.poor_village}
    assert poor == {"聂河村": 2016, "油房张村": 2017, "王寨村": 2018}
    assert {"赵王村", "北王村", "夏王村"} <= set(reg.villages)
    per_village = Counter(h.village for h in reg.households.values())
    assert set(per_village) == set(reg.villages)
    assert all(20 <= n <= 80 for n in per_village.values())


def test_exited_households_have_an_exit_year(reg: Registry) -> None:
    for h in reg.households.values():
        if h.status == "exited":
            assert h.exit_year in (2016, 2017, 2018, 2019)
        else:
            assert h.exit_year is None


def test_households_have_stable_ids_valid_id_numbers_and_unique_tokens(reg: Registry) -> None:
    households = list(reg.households.values())
    assert all(
        len(h.id) == 13 and h.id.isdigit() and h.id.startswith("41172100") for h in households
    )
    assert all(valid_id_number(h.id_number) for h in households)
    assert all(h.id_number.startswith("411721") for h in households)
    tokens = [h.token for h in households]
    assert len(set(tokens)) == len(tokens)
    assert all(len(t) >= 27 for t in tokens)
    assert reg.by_token[tokens[0]] == households[0].id
    absent = sum(h.long_absent for h in households)
    assert 0 < absent < len(households) * 0.1


def test_every_helper_has_households_and_every_pairing_exists(reg: Registry) -> None:
    helpers = {u.phone for u in reg.users.values() if u.role == "helper"}
    assert len(helpers) == 357
    load = helper_load(reg)
    assert set(load) == helpers  # every paired phone is a helper, and every helper is paired
    assert all(h.helpers for h in reg.households.values())
    assert sum(1 for n in load.values() if n <= 3) > 357 * 0.8
    assert any(len(h.helpers) == 2 for h in reg.households.values())
    assert all(len(set(h.helpers)) == len(h.helpers) for h in reg.households.values())
    assert all(reg.users[p].unit for p in helpers)


def test_it_creates_logins_for_each_role(reg: Registry, info: DemoInfo) -> None:
    roles = [login[0] for login in info.logins]
    assert roles == ["admin", "supervisor", "helper"]
    for role, name, phone, password in info.logins:
        user = reg.users[phone]
        assert (user.role, user.name, password) == (role, name, DEMO_PASSWORD)
    helper_phone = info.logins[2][2]
    assert helper_load(reg)[helper_phone] >= 2
    # One hash shared by everyone: checking it once checks them all.
    hashes = {u.password_hash for u in reg.users.values()}
    assert len(hashes) == 1
    assert check_password(hashes.pop(), DEMO_PASSWORD)


def test_it_sets_the_township_and_default_checklist(reg: Registry) -> None:
    assert reg.settings["checklist"] == [{"key": k, "label": v} for k, v in DEFAULT_CHECKLIST]


def test_visits_fall_in_the_right_months_and_never_after_today(store: Store) -> None:
    for month in MONTHS:
        for visit in store.visits(month):
            assert visit.month == month
            assert dt.date.fromisoformat(visit.date) <= TODAY


def test_visits_are_complete_records(store: Store, reg: Registry) -> None:
    keys = {k for k, _ in DEFAULT_CHECKLIST}
    visits = [v for m in MONTHS for v in store.visits(m)]
    assert len({v.id for v in visits}) == len(visits)
    for v in visits:
        household = reg.households[v.household]
        assert v.village == household.village
        assert v.helper in household.helpers
        assert v.recorded_by in (v.helper, "13800000001")
        assert v.kind in VISIT_KINDS
        # A household met in person is checked in full; on the phone the guarantees are
        # asked; when nobody is home nothing is.
        expected_guarantees = set() if v.kind == "nobody_home" else set(GUARANTEES)
        assert set(v.guarantees) == expected_guarantees
        assert set(v.environment) == (keys if v.kind == "in_person" else set())
        assert all(n["category"] in NEED_CATEGORIES for n in v.needs)
        assert v.created_at[:10] >= v.date
    assert any(v.recorded_by != v.helper for v in visits)  # some 补录 by the office


def in_person_share(store: Store, reg: Registry, month: str) -> float:
    met = {v.household for v in store.visits(month) if v.kind == "in_person"}
    return len(met) / len(reg.households)


def test_past_month_is_mostly_visited_and_current_month_partly(store: Store, reg: Registry) -> None:
    assert 0.88 <= in_person_share(store, reg, "2024-02") < 1
    assert 0.2 <= in_person_share(store, reg, "2024-03") <= 0.8
    kinds = Counter(v.kind for v in store.visits("2024-02"))
    assert kinds["nobody_home"] and kinds["phone"]  # attempts, shown apart


def test_needs_match_their_visits_and_are_both_open_and_resolved(store: Store) -> None:
    visits = {v.id: v for m in MONTHS for v in store.visits(m)}
    needs = [n for m in MONTHS for n in store.needs(m)]
    raised: dict[str, list[str]] = defaultdict(list)
    for n in needs:
        visit = visits[n.visit]
        assert (n.household, n.village, n.raised_by, n.raised_at) == (
            visit.household,
            visit.village,
            visit.helper,
            visit.date,
        )
        raised[n.visit].append(n.description)
        if n.status == "resolved":
            assert n.resolved_by and n.resolution
            assert n.raised_at <= n.resolved_at <= TODAY.isoformat()
    for visit_id, descriptions in raised.items():
        assert [d["description"] for d in visits[visit_id].needs] == descriptions
    statuses = Counter(n.status for n in needs)
    assert statuses["open"] and statuses["resolved"]


def test_building_twice_raises(tmp_path: Path) -> None:
    store = Store(tmp_path)
    build_demo(store, months=1, today=TODAY)
    with pytest.raises(ValueError):
        build_demo(store, months=1, today=TODAY)
    assert len(store.registry().households) == 676


def test_the_same_seed_gives_the_same_township(tmp_path: Path, reg: Registry) -> None:
    again = Store(tmp_path)
    build_demo(again, months=1, today=TODAY)
    heads = {h.id: (h.head, h.members, h.id_number) for h in again.registry().households.values()}
    assert heads == {h.id: (h.head, h.members, h.id_number) for h in reg.households.values()}


def test_history_on_new_years_day_spans_the_year_end(tmp_path: Path) -> None:
    store = Store(tmp_path)
    build_demo(store, months=2, today=dt.date(2024, 1, 1))
    assert store.months() == ["2023-12", "2024-01"]
    assert {v.date for v in store.visits("2024-01")} == {"2024-01-01"}
    assert max(v.date for v in store.visits("2023-12")) <= "2023-12-31"


def test_it_defaults_to_today(tmp_path: Path) -> None:
    store = Store(tmp_path)
    build_demo(store, months=1)
    today = dt.date.today()
    assert store.months() == [today.strftime("%Y-%m")]
    assert max(v.date for v in store.visits(store.months()[0])) <= today.isoformat()


def test_describe_says_how_to_log_in_as_each_role(info: DemoInfo) -> None:
    text = describe(info)
    assert "示范镇" in text and "676" in text and "1721" in text
    for _role, name, phone, password in info.logins:
        assert name in text and phone in text and password in text


def test_it_reads_every_row_of_the_reference_tables() -> None:
    # A table the parser silently skipped would make the comparisons above vacuous.
    assert {k: len(v) for k, v in DESIGN_TABLES.items()} == {
        "attribute": 3,
        "cause": 8,
        "status": 2,
    }
    for table in DESIGN_TABLES.values():
        assert sum(h for h, _ in table.values()) == 676
        assert sum(p for _, p in table.values()) == 1721
