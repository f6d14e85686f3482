"""Finding households and helpers as people type: characters, pinyin, initials, digits."""

from __future__ import annotations

import pytest
from helpers import PEOPLE, make_household

from fieldvisit.households import search
from fieldvisit.models import User


@pytest.fixture()
def township(store, households):
    """The two test households plus a few whose names exercise pinyin."""
    extra = [
        make_household(id="4117210010007", head="王建国", group="5组"),
        make_household(id="4117210010008", head="王建军"),
        make_household(id="4117210030001", head="曾志伟", village="油房张村"),
        make_household(id="4117210030002", head="吕秀英", village="油房张村"),
        make_household(id="4117210030003", head="单雄信", village="油房张村"),
    ]

    def add(reg):
        for h in extra:
            reg.households[h.id] = h
        reg.users["13900000009"] = User("13900000009", "曾国强", "helper", unit="镇财政所")

    store.update_registry(add)
    return store.registry()


def heads(found):
    return [h.head for h in found]


@pytest.mark.parametrize(
    "query",
    ["wjg", "WJG", "ＷＪＧ", "wangjianguo", "wangjg", "wjianguo", "王建国", "wang jian guo"],
)
def test_a_name_is_found_however_it_is_typed(township, query):
    assert heads(search.search_households(township, query))[0] == "王建国"


def test_initials_narrow_to_the_one_name(township):
    assert heads(search.search_households(township, "wjg")) == ["王建国"]
    assert heads(search.search_households(township, "wjj")) == ["王建军"]
    assert set(heads(search.search_households(township, "wj"))) == {"王建国", "王建军"}


def test_the_given_name_alone_finds_the_household(township):
    assert heads(search.search_households(township, "jg")) == ["王建国"]
    assert heads(search.search_households(township, "建国")) == ["王建国"]


def test_every_reading_of_a_surname_counts(township):
    # 曾 is read zeng as a surname and ceng otherwise; the registry does not say which.
    assert heads(search.search_households(township, "zzw")) == ["曾志伟"]
    assert heads(search.search_households(township, "czw")) == ["曾志伟"]
    assert heads(search.search_households(township, "sxx")) == ["单雄信"]
    assert heads(search.search_households(township, "shanxiongxin")) == ["单雄信"]


def test_u_umlaut_may_be_typed_v_or_u(township):
    assert heads(search.search_households(township, "lvxiuying")) == ["吕秀英"]
    assert heads(search.search_households(township, "luxiuying")) == ["吕秀英"]
    assert heads(search.search_households(township, "lxy")) == ["吕秀英"]


def test_a_household_number_whole_or_its_tail(township):
    assert heads(search.search_households(township, "4117210010007")) == ["王建国"]
    assert heads(search.search_households(township, "10007")) == ["王建国"]


def test_a_village_by_name_or_initials(township):
    in_youfang = {"曾志伟", "吕秀英", "单雄信"}
    assert set(heads(search.search_households(township, "油房张村"))) == in_youfang
    assert set(heads(search.search_households(township, "yfz"))) == in_youfang


def test_several_words_must_all_match(township):
    assert heads(search.search_households(township, "聂河 wjg")) == ["王建国"]
    assert search.search_households(township, "油房张 wjg") == []


def test_the_closest_match_comes_first(township):
    # "wang" spells two heads' surname and 梁刚's village, 王寨村: the names come first.
    found = heads(search.search_households(township, "wang"))
    assert set(found[:2]) == {"王建国", "王建军"}
    assert found[2:] == ["梁刚"]
    # Equally close matches keep the list's order: village, group, 户编号.
    assert heads(search.search_households(township, "王建")) == ["王建军", "王建国"]


def test_nothing_found_is_an_empty_list(township):
    assert search.search_households(township, "xyzxyz") == []
    assert search.search_households(township, "99999") == []


def test_an_empty_query_lists_every_household(township):
    assert len(search.search_households(township, "  ")) == len(township.households)


def test_the_index_is_built_once_per_registry(store, township, monkeypatch):
    built = []
    real = search._Index.build

    def counting(reg):
        built.append(reg)
        return real(reg)

    monkeypatch.setattr(search._Index, "build", staticmethod(counting))
    search._indexes.clear()
    search.search_households(store.registry(), "wjg")
    search.search_households(store.registry(), "zzw")
    assert len(built) == 1

    def rename(reg):
        reg.households["4117210010007"].head = "王新国"

    store.update_registry(rename)
    assert heads(search.search_households(store.registry(), "wxg")) == ["王新国"]
    assert search.search_households(store.registry(), "wjg") == []
    assert len(built) == 2


def test_helpers_by_name_pinyin_phone_or_unit(township):
    def names(query):
        return [u.name for u in search.search_helpers(township, query)]

    assert names("zgq") == ["曾国强"]
    assert names("cengguoqiang") == ["曾国强"]
    assert names("0009") == ["曾国强"]
    assert names("财政所") == ["曾国强"]
    assert names(PEOPLE["owner"][2]) == [PEOPLE["owner"][2]]
    # Only helpers: the office and supervisors are not in this list.
    assert PEOPLE["admin"][2] not in names("")


def test_helper_rows_count_households(township):
    rows = {r.user.phone: r.households for r in search.find_helpers(township)}
    owner = PEOPLE["owner"][0]
    assert rows[owner] == sum(1 for h in township.households.values() if owner in h.helpers)
    assert rows["13900000009"] == 0


def test_initials_of_a_name():
    assert search.initials("王建国") == "wjg"
    assert search.initials("马　娟") == "mj"
