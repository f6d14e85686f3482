"""Domain objects. Storage turns documents into these and back; nothing above storage sees
a raw document.

Each class has ``to_doc``/``from_doc`` so that a different store could stand behind the same
objects. ``from_doc`` ignores keys it does not know, so older data folders stay loadable when
a later version adds a field.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


def _copy(value: Any) -> Any:
    # Documents hold only JSON values: copying dicts and lists is a full deep copy, and much
    # cheaper than copy.deepcopy or dataclasses.asdict on the hot path of saving a visit.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# Field names per class, computed once (a plain dict: functools.cache types its key as
# Hashable, which the type checker does not grant to classes).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


class _Doc:
    """Conversion to and from plain JSON-able dicts (deep copies, so callers never share
    nested objects with the storage cache)."""

    def to_doc(self) -> dict[str, Any]:
        return {name: _copy(getattr(self, name)) for name in _field_names(type(self))}

    def doc_view(self) -> dict[str, Any]:
        """The document without the copy: its nested values are the object's own. Only for
        a document written out at once (a database row, a JSON answer), never kept or
        changed; a visit's save writes three, and copying them was a tenth of its CPU."""
        return {name: getattr(self, name) for name in _field_names(type(self))}

    @classmethod
    def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
        names = _field_names(cls)
        return cls(**{k: _copy(v) for k, v in doc.items() if k in names})


def village_key(township: str, name: str) -> str:
    """The one identity of a village: its township and name (counties repeat names, 王庄村
    in three townships). A village of the deployment's one township ("") is known by its name
    alone, so a single township's data files, file names and URLs stay as they were."""
    return f"{township}/{name}" if township else name


def village_label(key: str) -> str:
    """A village key as people read it: 城关镇 王庄村 (a single township's, its name alone)."""
    township, _slash, name = key.rpartition("/")
    return f"{township} {name}" if township else name


@dataclass
class Village(_Doc):
    name: str
    poor_village: bool = False  # 贫困村
    exit_year: int | None = None
    township: str = ""  # 乡镇; "" = the deployment's one township (the `township` setting)

    @property
    def key(self) -> str:
        return village_key(self.township, self.name)


@dataclass
class Household(_Doc):
    id: str  # 户编号, stable across imports
    village: str
    head: str  # 户主姓名
    members: int
    attribute: str  # vocab.ATTRIBUTES code
    cause: str  # vocab.CAUSES code
    status: str  # vocab.STATUSES code
    token: str  # the door plate's QR token
    group: str = ""  # 组
    exit_year: int | None = None
    phone: str = ""
    id_number: str = ""  # 身份证号: stored, only ever shown masked
    long_absent: bool = False
    helpers: list[str] = field(default_factory=list)  # helper phones, in pairing order
    location: dict[str, float] | None = None  # {"lat": .., "lng": ..}
    updated_at: str = ""
    township: str = ""  # 乡镇; "" = the deployment's one township

    @property
    def village_key(self) -> str:
        """Where the household's records are filed: its village's key (``village_key``)."""
        return village_key(self.township, self.village)


@dataclass
class User(_Doc):
    """Anyone who logs in. A helper (帮扶责任人) is a user with role ``helper``."""

    phone: str  # the login name, and how the registry identifies a helper
    name: str
    role: str  # vocab.ROLES code
    password_hash: str = ""  # empty: cannot log in until a password is set
    unit: str = ""  # 帮扶单位
    active: bool = True
    created_at: str = ""
    # The account's scope: "" = the whole county (or the one township of a single-township
    # deployment); a name = that township only. Helpers are scoped by their households.
    township: str = ""


@dataclass
class Need(_Doc):
    """A need raised in a visit; an entry of the rectification ledger (问题整改台账)."""

    id: str
    visit: str
    household: str
    village: str
    category: str  # vocab.NEED_CATEGORIES code
    description: str
    urgent: bool
    raised_by: str  # helper phone
    raised_at: str  # the visit's date
    status: str = "open"  # open | resolved
    resolved_by: str = ""
    resolved_at: str = ""
    resolution: str = ""
    # Each 销号 and reopening, oldest first: {action, who, at, note}. A reopened need keeps
    # its earlier resolutions here, since resolved_by/at/resolution hold only the latest.
    history: list[dict[str, Any]] = field(default_factory=list)
    # Remarks by the office or supervisors (督查意见): {who, at, text}, oldest first.
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Visit(_Doc):
    id: str  # made by the client, so a record sent twice is stored once
    household: str
    village: str
    helper: str  # phone of the helper who visited
    recorded_by: str  # phone of the user who entered it (an admin for 补录)
    date: str  # YYYY-MM-DD
    kind: str  # vocab.VISIT_KINDS code
    guarantees: dict[str, bool] = field(default_factory=dict)
    environment: dict[str, bool | None] = field(default_factory=dict)
    helped_clean: bool = False
    needs: list[dict[str, Any]] = field(default_factory=list)  # as sent
    satisfaction: str = ""
    notes: str = ""
    created_at: str = ""
    updated_at: str = ""
    updated_by: str = ""  # phone of who made this version (its audit entry's "who")
    version: int = 1
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier versions
    photos: list[str] = field(default_factory=list)
    location: dict[str, float] | None = None

    @property
    def month(self) -> str:
        return self.date[:7]


@dataclass
class ApiToken(_Doc):
    digest: str  # sha256 of the token; the token itself is never stored
    phone: str
    created_at: str = ""
    last_used: str = ""  # written at most once an hour (auth.TOKEN_USE_EVERY)


@dataclass
class LoginSession(_Doc):
    """A logged-in browser. Its cookie holds a random session id; logging out, a password
    change or a stopped account deletes the record, and the cookie stops working."""

    digest: str  # sha256 of the session id; the id itself is never stored
    phone: str
    created_at: str
    # The day of the latest request (YYYY-MM-DD), written at most once a day: a login lasts
    # SESSION_DAYS after the browser was last used, as the cookie does.
    seen_on: str = ""
    # A fragment of the password hash at login: a login made with the old password while
    # the password was being changed does not outlive the change.
    stamp: str = ""


@dataclass
class AuditEntry(_Doc):
    at: str
    who: str
    action: str
    target: str
    before: Any = None
    after: Any = None
    # Unique per entry: a change's entry is written with the change, then copied into the
    # audit log, and after a crash copied again only if the log lacks this id.
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


# --- other departments' lists (see fieldvisit/reconcile) ----------------------------------


@dataclass
class Member(_Doc):
    """A person of a registered household (家庭成员), identified by their ID number."""

    id_number: str  # 身份证号, 18 characters: how other departments know the person
    household: str  # 户编号
    name: str
    relation: str  # 与户主关系, as the office writes it (户主, 配偶, 之子 …)
    sex: str = ""  # 男 | 女 | ""
    disability: str = ""  # reconcile.terms.DISABILITIES code, "" when none
    disability_grade: str = ""  # 一级 … 四级, "" when none
    school_stage: str = ""  # reconcile.terms.SCHOOL_STAGES code, "" when not at school
    insured: bool | None = None  # 参加医保; None: the file did not say
    updated_at: str = ""

    # Every field holds a plain value (text, a bool, None), so there is nothing nested to
    # copy: a county's 40,000 members are decoded and encoded on every registry write, and
    # the generic conversions cost three times as much.
    def to_doc(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Member:
        try:
            return cls(**doc)
        except TypeError:  # a key a later version added: keep the known ones
            names = _field_names(cls)
            return cls(**{k: v for k, v in doc.items() if k in names})


@dataclass
class Comparison(_Doc):
    """One department's list compared with the registry: who, when, which file."""

    id: str
    department: str  # reconcile.terms.DEPARTMENTS code
    filename: str
    sha256: str  # of the file as uploaded
    who: str
    at: str
    rows: int  # data rows read from the file
    counts: dict[str, int] = field(default_factory=dict)  # difference kind (or "checks") -> n
    township: str = ""  # the township whose office ran it; "" = the whole registry's


@dataclass
class Difference(_Doc):
    """One disagreement between a department's list and the registry.

    Its id is made from what it is about (department, kind, person, both values), so the
    same disagreement found by next month's list is the same record and keeps its state.
    """

    id: str
    department: str
    kind: str  # reconcile.terms.KINDS code
    household: str = ""  # 户编号; "" for a person on the list only
    id_number: str = ""
    name: str = ""  # as the department's list has it
    registry_value: str = ""  # in words, as stored
    list_value: str = ""  # in words, as the list has it
    target: str = ""  # what taking the list's value changes: "attribute", "members", …
    proposed: Any = None  # the value taking it writes
    status: str = "open"  # open | sent (to the helper) | settled | gone (lists now agree)
    settlement: str = ""  # taken | explained | checked
    note: str = ""
    seen_in: list[str] = field(default_factory=list)  # comparison ids, oldest first
    history: list[dict[str, Any]] = field(default_factory=list)  # {action, who, at, note}
    updated_at: str = ""


@dataclass
class Check(_Doc):
    """A warning (部门筛查预警) to be checked at the household's door before ``due``."""

    id: str  # made from the warning itself: the same list sent again makes no second one
    comparison: str
    household: str
    id_number: str
    name: str
    warning: str  # 预警类型
    content: str  # 预警内容
    pushed_on: str  # 推送日期, YYYY-MM-DD
    due: str  # YYYY-MM-DD
    created_at: str = ""
    lists: list[str] = field(default_factory=list)  # comparisons whose list had it
    status: str = "open"  # open | done
    result: str = ""  # true (属实) | false (不属实)
    action: str = ""  # what was done
    note: str = ""
    done_by: str = ""
    done_at: str = ""
