"""Finding households and helpers the way people type on phones and office keyboards.

A name matches when the query spells its characters from some character on, each character
given by itself, its full pinyin or the start of its pinyin: 王建国 is found by ``王建国``,
``wjg``, ``wangjianguo``, ``wangjg``, ``wjianguo`` and, from the given name, ``jg``. A
person's surname is read as a surname first (曾 ``zeng``, 单 ``shan``, 黑 ``he``: see
``collation.SURNAME_READINGS``), and every other reading of a character counts too (曾 is
also ``ceng``), as the registry does not say which one a family uses; ü may be typed ``v``
or ``u``. Villages and units are not names: they keep their everyday readings.
Digits find a 户编号 or a phone number; several words must all match.

Pinyin comes from pypinyin. The readings of the whole registry are worked out once per
registry object (storage caches that object until the registry changes, so one import or
edit costs one rebuild, which reuses the readings of names it has seen), and put in tries
(``name_index``): a search walks the readings the query spells instead of testing every
name, so a county's 13,520 households are searched in milliseconds.
"""

from __future__ import annotations

import dataclasses
import threading
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from ..access.permissions import is_helper, scope_households
from ..collation import in_household_order, name_key, surname_reading
from ..models import Household, User
from ..storage import Registry, Store
from ..vocab import ATTRIBUTES, CAUSES, STATUSES
from .name_index import NameIndex, Readings

R = TypeVar("R")

# Characters people leave out or add when typing a name: spaces, the dot in 阿依古丽·买买提,
# the apostrophe of xi'an.
_IGNORED = frozenset(" \t\u3000·•'’-")
_KEPT_INDEXES = 4  # registries alive at once: one per data folder, plus one being replaced


def normalize(text: str) -> str:
    """Half-width, lower-case, without spaces and the separators people may or may not type."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch not in _IGNORED and not ch.isspace())


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


@lru_cache(maxsize=16384)
def _char_readings(ch: str) -> tuple[str, ...]:
    if not _is_han(ch):
        return (ch,)
    from pypinyin import Style, pinyin  # a large dictionary: loaded on the first search

    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    readings = [ch]
    for reading in found[0] if found else []:
        # Phone keyboards type ü as v (lv), people writing it out use u (lu).
        for spelling in (reading, reading.replace("v", "u")):
            if spelling not in readings:
                readings.append(spelling)
    return tuple(readings)


def readings(text: str) -> Readings:
    """Each character of ``text`` (normalized) with the ways it may be typed."""
    return tuple(_char_readings(ch) for ch in normalize(text))


@lru_cache(maxsize=1 << 16)  # a county's heads and helpers: rebuilt indexes reuse them
def name_readings(name: str) -> Readings:
    """``readings`` of a person's name, its surname's own reading put first (the one its
    initials and its order follow) and added where pypinyin lacks it (黑 hè)."""
    chars = readings(name)
    surname, reading = surname_reading(normalize(name))
    fixed = tuple(
        (options[0], own, *(r for r in options[1:] if r != own))
        for options, own in zip(chars, reading, strict=False)
    )
    return fixed + chars[len(surname) :]


def initials(text: str) -> str:
    """The first letters of the first reading of each character: 王建国 -> wjg."""
    return "".join(r[1][0] if len(r) > 1 else r[0] for r in readings(text))


def _spelled_from(query: str, chars: Readings, start: int) -> bool:
    """Whether ``query`` spells consecutive characters from ``start``, each by a non-empty
    prefix of one of its readings."""
    positions = {0}  # how much of the query the characters so far can have consumed
    for options in chars[start:]:
        after: set[int] = set()
        for pos in positions:
            rest = query[pos:]
            for reading in options:
                common = 0
                for a, b in zip(rest, reading, strict=False):
                    if a != b:
                        break
                    common += 1
                after.update(range(pos + 1, pos + common + 1))
        if len(query) in after:
            return True
        if not after:
            return False
        positions = after
    return False


def name_rank(query: str, chars: Readings, text: str) -> int | None:
    """0: ``query`` is the whole text; 1: it spells the text from its start; 2: from a later
    character; None: no match. ``query`` must be normalized."""
    if not query:
        return 1
    if query == text:
        return 0
    for start in range(len(chars)):
        if _spelled_from(query, chars, start):
            return 1 if start == 0 else 2
    return None


def _digits_rank(query: str, digits: str) -> int | None:
    if not query.isdigit() or not digits:
        return None
    if query == digits:
        return 0
    if digits.startswith(query) or digits.endswith(query):
        return 1
    return 2 if query in digits else None


# --- the per-registry index ---------------------------------------------------------------


@dataclass(frozen=True)
class _Fields:
    """One kind of row (households, or helpers) as the search finds them: by name through a
    ``NameIndex``, by a group (village, unit: rank 3) through another over the groups' own
    names, and by digits (户编号, phones) within each row's numbers."""

    names: NameIndex
    groups: NameIndex
    members: tuple[tuple[int, ...], ...]  # each group's rows
    numbers: tuple[tuple[str, ...], ...]  # each row's numbers

    @classmethod
    def build(
        cls,
        names: Sequence[str],
        readings_of: Callable[[str], Readings],
        groups: Sequence[str],
        numbers: Sequence[tuple[str, ...]],
    ) -> _Fields:
        """``names[i]``, ``groups[i]`` and ``numbers[i]`` are those of row i; an empty group
        is none."""
        by_group: dict[str, list[int]] = {}
        for row, group in enumerate(groups):
            if group:
                by_group.setdefault(group, []).append(row)
        group_names = list(by_group)
        return cls(
            NameIndex((row, readings_of(n), normalize(n)) for row, n in enumerate(names)),
            NameIndex((i, readings(g), normalize(g)) for i, g in enumerate(group_names)),
            tuple(tuple(by_group[g]) for g in group_names),
            tuple(numbers),
        )

    def matches(self, term: str) -> dict[int, int]:
        """Each row ``term`` matches, with its best rank: a name's (``name_rank``), a
        number's (``_digits_rank``), or 3 for its group."""
        found = self.names.ranks(term)
        for group in self.groups.ranks(term):
            for row in self.members[group]:
                found.setdefault(row, 3)  # a name's rank, when there is one, is better
        if term.isdigit():
            for row, numbers in enumerate(self.numbers):
                for number in numbers:
                    if term in number:  # only then can _digits_rank match
                        rank = _digits_rank(term, number)
                        if rank is not None and found.get(row, 4) > rank:
                            found[row] = rank
        return found


@dataclass(frozen=True)
class _Index:
    households: tuple[Household, ...]  # in the office's order (collation.in_household_order)
    household_fields: _Fields
    helpers: tuple[User, ...]  # in pinyin order of their names
    helper_fields: _Fields

    @classmethod
    def build(cls, reg: Registry) -> _Index:
        households = tuple(in_household_order(reg.households.values()))
        helpers = sorted(
            (u for u in reg.users.values() if is_helper(u)),
            key=lambda u: (name_key(u.name), u.phone),
        )
        return cls(
            households,
            _Fields.build(
                [h.head for h in households],
                name_readings,
                [h.village for h in households],
                [(h.id, h.phone) for h in households],
            ),
            tuple(helpers),
            _Fields.build(
                [u.name for u in helpers],
                name_readings,
                [u.unit for u in helpers],
                [(u.phone,) for u in helpers],
            ),
        )


_indexes: OrderedDict[int, tuple[Registry, _Index]] = OrderedDict()
_indexes_lock = threading.Lock()


def _index(reg: Registry) -> _Index:
    # Keyed by identity: the cache holds the registry itself, so its id cannot be reused by
    # another object while the entry lives.
    key = id(reg)
    with _indexes_lock:
        hit = _indexes.get(key)
        if hit is not None and hit[0] is reg:
            _indexes.move_to_end(key)
            return hit[1]
    built = _Index.build(reg)
    with _indexes_lock:
        _indexes[key] = (reg, built)
        while len(_indexes) > _KEPT_INDEXES:
            _indexes.popitem(last=False)
    return built


def _terms(query: str) -> list[str]:
    return [t for t in (normalize(part) for part in query.split()) if t]


def _ranked(rows: Sequence[R], fields: _Fields, query: str) -> list[R]:
    """The rows matching every word of ``query``, the closest first (the sum of each word's
    rank); ties (and an empty query) keep the rows' order."""
    terms = _terms(query)
    if not terms:
        return list(rows)
    found = sorted((fields.matches(term) for term in terms), key=len)
    scored = []
    for row, rank in found[0].items():
        total = rank
        for other in found[1:]:
            more = other.get(row)
            if more is None:
                break
            total += more
        else:
            scored.append((total, row))
    scored.sort()
    return [rows[row] for _total, row in scored]


def search_households(reg: Registry, query: str) -> list[Household]:
    """Households whose head, 户编号, phone or village matches every word of ``query``; the
    closest matches first, otherwise in village, group and 户编号 order."""
    index = _index(reg)
    return _ranked(index.households, index.household_fields, query)


def search_helpers(reg: Registry, query: str) -> list[User]:
    """Helpers whose name, phone or unit matches every word of ``query``; closest first,
    otherwise in pinyin order of their names."""
    index = _index(reg)
    return _ranked(index.helpers, index.helper_fields, query)


def households_per_helper(reg: Registry) -> Counter[str]:
    """How many households each phone is paired with."""
    return Counter(p for h in reg.households.values() for p in dict.fromkeys(h.helpers))


# --- the office's lists -------------------------------------------------------------------

# "not_visited" is every household without an in-person visit this month, the attempted ones
# included: a "nobody home" or phone visit is an attempt, not a visit
# (docs/reference-township.md).
STATE_FILTERS = ("visited", "not_visited", "attempted")
ACTIVE_FILTERS = ("active", "inactive")


def _pick(args: Mapping[str, str], name: str, allowed: Container[str]) -> str:
    value = args.get(name, "").strip()
    return value if value in allowed else ""


@dataclass(frozen=True)
class HouseholdFilters:
    """What the office's household list is narrowed to; unknown values are ignored."""

    q: str = ""
    village: str = ""
    attribute: str = ""
    cause: str = ""
    status: str = ""
    state: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> HouseholdFilters:
        return cls(
            q=args.get("q", "").strip()[:100],
            village=args.get("village", "").strip(),
            attribute=_pick(args, "attribute", ATTRIBUTES),
            cause=_pick(args, "cause", CAUSES),
            status=_pick(args, "status", STATUSES),
            state=_pick(args, "state", STATE_FILTERS),
        )

    def args(self) -> dict[str, str]:
        """The filters that are set, as query arguments (for links to other pages)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v}


@dataclass(frozen=True)
class HouseholdRow:
    household: Household
    state: str  # this month: visited | attempted | not_visited
    users: Mapping[str, User]  # the registry's accounts, to name the helpers

    @property
    def helpers(self) -> list[User]:
        # Looked up when shown: a county's list is 13,520 rows, of which a page shows 50.
        return [self.users[p] for p in self.household.helpers if p in self.users]


def _state_wanted(wanted: str, state: str) -> bool:
    if wanted == "not_visited":
        return state != "visited"
    return not wanted or state == wanted


def find_households(
    store: Store, filters: HouseholdFilters, month: str, user: User | None = None
) -> list[HouseholdRow]:
    """The households matching ``filters``, with their state in ``month``; with ``user``,
    only those within the user's township (``permissions.in_scope``)."""
    from ..visits.recording import month_states

    reg = store.registry()
    found = search_households(reg, filters.q)
    if user is not None:
        found = scope_households(user, found)
    wanted = {
        name: value
        for name, value in (
            ("attribute", filters.attribute),
            ("cause", filters.cause),
            ("status", filters.status),
        )
        if value
    }
    if filters.village:
        # The list's village choices are the registry's village keys (a county's two
        # 王庄村 are two choices); a single township's key is the village's name.
        found = [h for h in found if h.village_key == filters.village]
    if wanted:
        found = [h for h in found if all(getattr(h, k) == v for k, v in wanted.items())]
    states = month_states(store, month)
    rows = []
    for h in found:
        state = states.get(h.id, "not_visited")
        if _state_wanted(filters.state, state):
            rows.append(HouseholdRow(h, state, reg.users))
    return rows


@dataclass(frozen=True)
class HelperRow:
    user: User
    households: int


def find_helpers(reg: Registry, query: str = "", active: str = "") -> list[HelperRow]:
    """Helpers matching ``query`` (all of them when empty), with how many households each is
    paired with; ``active`` narrows to "active" or "inactive" accounts."""
    counts = households_per_helper(reg)
    return [
        HelperRow(user, counts.get(user.phone, 0))
        for user in search_helpers(reg, query)
        if not active or user.active == (active == "active")
    ]
