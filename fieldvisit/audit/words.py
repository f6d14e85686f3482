"""An audit entry in the office's words.

Entries keep codes (``household.edit``, ``exited``, phones); ``present`` turns one into what
the page shows: the action's label, field labels, values through the vocabularies, people
by name and phone. A bulk entry shown for one household shows that household's part only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from babel.lists import format_list
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import registry, vocab
from ..idcard import mask_id_number
from ..models import AuditEntry, Household
from ..registry.columns import COLUMN_LABELS
from ..storage import Store
from ..visits.fields import checklist
from .targets import Records, about, household_words

# Kinds the page offers as filters: the prefix of ``action``, and its label.
KINDS: dict[str, Any] = {
    "registry.": _l("名册"),
    "household.": _l("帮扶户"),
    "visit.": _l("走访记录"),
    "need.": _l("需求"),
    "helper.": _l("帮扶责任人"),
    "user.": _l("账号"),
    "token.": _l("API 令牌"),
    "settings.": _l("设置"),
    "reconcile.": _l("部门比对"),
    "month.": _l("关账"),
}
# Every action the domain modules write (tests/test_audit.py finds them in the source). An
# unknown one (written by a newer version) is shown as its code.
ACTIONS: dict[str, Any] = {
    "household.edit": _l("修改户信息"),
    "household.helpers": _l("调整帮扶责任人"),
    "household.token": _l("换新二维码"),
    "household.location": _l("设置户的位置"),
    "visit.create": _l("新增走访记录"),
    "visit.correct": _l("修改走访记录"),
    "visit.photo": _l("添加照片"),
    "visit.photo_remove": _l("删除照片"),
    "need.resolve": _l("需求销号"),
    "need.reopen": _l("重新打开需求"),
    "need.comment": _l("添加意见"),
    "helper.transfer": _l("转交全部帮扶户"),
    "user.create": _l("新建账号"),
    "user.password": _l("设置密码"),
    "user.activate": _l("启用账号"),
    "user.deactivate": _l("停用账号"),
    "token.create": _l("新建 API 令牌"),
    "token.revoke": _l("撤销 API 令牌"),
    "user.logout": _l("退出登录"),
    "user.sessions_end": _l("结束全部登录"),
    "registry.import": _l("导入名册"),
    "registry.export": _l("导出名册"),
    "settings.phone_address": _l("设置手机访问地址"),
    "settings.targets": _l("设置完成率目标和拍照要求"),
    "registry.members": _l("导入家庭成员"),
    "reconcile.compare": _l("比对部门名单"),
    "reconcile.take": _l("采用部门数据"),
    "reconcile.explain": _l("说明差异"),
    "reconcile.send": _l("交帮扶责任人核实"),
    "reconcile.answer": _l("帮扶责任人核实差异"),
    "reconcile.check": _l("预警核查反馈"),
    "reconcile.export": _l("下载比对结果"),
    "settings.check_days": _l("设置预警核查时限"),
    "month.close": _l("关账并存档月度汇总"),
    "month.reopen": _l("重新打开已关账的月份"),
}
_MAX_KEYS = 12  # every field the office can edit fits
_MAX_VALUE = 80
_MAX_LISTED = 50  # households a transfer names; more than a helper is ever paired with
_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})")
# Left out of the compact view: earlier versions and secrets, and what the entry's target
# and time say already.
_HIDDEN_KEYS = frozenset(
    {"history", "password_hash", "id", "household", "created_at", "updated_at"}
)
# Left out of one kind's entries only. A visit's or need's village is where its household
# lived when it was filed: context, not a change (a move is a household.edit or
# registry.import entry, where the village shows). A visit's version counts corrections,
# which the action says; who entered it is the entry's ``who``.
_CONTEXT_KEYS: dict[str, frozenset[str]] = {
    "visit.": frozenset({"village", "version", "recorded_by", "updated_by", "photo", "photo_id"}),
    "need.": frozenset({"village"}),
}
# Field labels: a household's as the registry's columns name them (Chinese message ids,
# translated when shown), then the other records' fields.
_FIELDS: dict[str, Any] = {
    **{name: COLUMN_LABELS[column] for column, name in registry.field_of_column().items()},
    "helpers": _l("帮扶责任人"),
    "location": _l("户的位置"),
    "helper": _l("帮扶责任人"),
    "date": _l("走访日期"),
    "kind": _l("走访方式"),
    "guarantees": _l("两不愁三保障"),
    "environment": _l("人居环境"),
    "helped_clean": _l("帮助打扫整理了吗"),
    "needs": _l("群众诉求"),
    "satisfaction": _l("满意度"),
    "notes": _l("备注"),
    "photos": _l("走访照片"),
    "resolved_by": _l("销号人"),
    "resolved_at": _l("销号时间"),
    "resolution": _l("整改情况"),
    "text": _l("意见"),
    "name": _l("姓名"),
    "role": _l("角色"),
    "unit": _l("帮扶单位"),
    "active": _l("启用"),
    "full_ids": _l("包含完整身份证号"),
    "to": _l("转给"),
    "households": _l("帮扶户"),
    "sessions": _l("结束的登录数"),
    "tokens": _l("撤销的令牌数"),
    "phone_address": _l("手机访问地址"),
    "completion_target": _l("完成率目标"),
    "photo_required": _l("本镇要求入户走访拍照"),
    # Members and other departments' lists (fieldvisit/reconcile).
    "relation": _l("与户主关系"),
    "disability": _l("残疾类别"),
    "disability_grade": _l("残疾等级"),
    "school_stage": _l("在校学段"),
    "insured": _l("参加医保"),
    "difference": _l("差异"),
    "department": _l("部门"),
    "note": _l("说明"),
    "result": _l("核查结果"),
    "action_taken": _l("采取的措施"),
    "warning": _l("预警类型"),
    "comparison": _l("比对记录"),
    "counts": _l("结果"),
    "check_days": _l("预警核查时限（天）"),
}
_KIND_FIELDS: dict[str, dict[str, Any]] = {
    "visit.": {"location": _l("走访定位")},
    "need.": {"status": _l("状态"), "reason": _l("重新打开的原因")},
    "user.": {"phone": _l("手机号")},
    # A setting of the whole township (the completion target and photo rule) names no record.
    "settings.": {"township": _l("全镇")},
    "month.": {"pdf": _l("存档汇总的 SHA-256"), "reason": _l("重新打开的原因")},
}
# Coded values, by field; a need's status is its own.
_VALUES: dict[str, dict[str, str]] = {
    "attribute": vocab.ATTRIBUTES,
    "cause": vocab.CAUSES,
    "status": vocab.STATUSES,
    "kind": vocab.VISIT_KINDS,
    "satisfaction": vocab.SATISFACTION,
    "role": vocab.ROLES,
    "category": vocab.NEED_CATEGORIES,
}
_NEED_STATUSES = {"open": "未销号", "resolved": "已销号"}
_KIND_VALUES: dict[str, dict[str, dict[str, str]]] = {"need.": {"status": _NEED_STATUSES}}
# Fields that hold users' phones: shown as the person.
_PEOPLE = frozenset({"helper", "helpers", "recorded_by", "resolved_by", "raised_by", "to"})
# Entries whose before and after are one value, not a mapping of fields: that value's field.
_WHOLE = {"household.helpers": "helpers", "household.location": "location"}


@dataclass(frozen=True)
class Change:
    key: str
    before: str
    after: str


@dataclass(frozen=True)
class Row:
    """One entry as the page shows it."""

    entry: AuditEntry
    who: str  # "name phone", or the phone (or "cli") when no user has it
    action: str
    target: str
    file: str  # the file an import read ("" for other entries)
    changes: list[Change]


@dataclass(frozen=True)
class Names:
    """What turns codes into words: users' names by phone, the environment checklist's
    labels by key, households by 户编号, and the visits and needs entries are about."""

    people: Mapping[str, str]
    checklist: Mapping[str, str]
    households: Mapping[str, Household] = field(default_factory=dict)
    records: Records = field(default_factory=Records)

    @classmethod
    def of(cls, store: Store) -> Names:
        reg = store.registry()
        return cls(
            {u.phone: u.name for u in reg.users.values()},
            {i.key: i.label for i in checklist(store)},
            dict(reg.households),
            Records(store),
        )


def kind_labels() -> list[tuple[str, str]]:
    """The kinds the page filters by, with their labels in the user's language."""
    return [(kind, str(label)) for kind, label in KINDS.items()]


def action_label(action: str) -> str:
    label = ACTIONS.get(action)
    return str(label) if label is not None else action


def person(phone: str, names: Names) -> str:
    """A user as "name phone"; a phone no user has (a removed user, "cli") as it is."""
    name = names.people.get(phone)
    return f"{name} {phone}" if name else phone


def present(entry: AuditEntry, names: Names, household: str = "") -> Row:
    """``entry`` as the page shows it. With ``household`` (a 户编号), a bulk entry shows
    only that household's part, or only its summary: never other households' data."""
    kind = entry.action.split(".")[0] + "."
    if entry.action == "registry.import":
        found = _import_changes(entry, names, household)
    elif entry.action == "helper.transfer":
        found = _transfer_changes(entry, names, household)
    else:
        found = changes(entry, names)
    return Row(
        entry=entry,
        who=person(entry.who, names),
        action=action_label(entry.action),
        target=_clip(_target(entry, kind, names)),
        file=_clip(entry.target) if entry.action == "registry.import" else "",
        changes=found,
    )


def _target(entry: AuditEntry, kind: str, names: Names) -> str:
    # Never a bare visit, need or photo id: nobody in the office knows a record by its id.
    words = about(entry, names.households, names.records)
    if words is not None:
        return words
    if kind in ("user.", "token.", "helper."):
        return person(entry.target, names)
    if kind == "settings.":
        return _field(kind, entry.target)
    return entry.target


def changes(entry: AuditEntry, names: Names) -> list[Change]:
    """A compact view of what an entry changed: the fields whose values differ (at most a
    few), labelled, or the whole value when before and after are not mappings."""
    kind = entry.action.split(".")[0] + "."
    before, after = entry.before, entry.after
    if entry.action in _WHOLE:
        key = _WHOLE[entry.action]
        old, new = _value(kind, key, before, names), _value(kind, key, after, names)
        return [Change(_field(kind, key), old, new)]
    if isinstance(before, dict) or isinstance(after, dict):
        old_fields = before if isinstance(before, dict) else {}
        new_fields = after if isinstance(after, dict) else {}
        return _diff(kind, old_fields, new_fields, names)
    if before is None and after is None:
        return []
    return [Change("", _value(kind, "", before, names), _value(kind, "", after, names))]


def _diff(kind: str, old: Mapping[str, Any], new: Mapping[str, Any], names: Names) -> list[Change]:
    hidden = _HIDDEN_KEYS | _CONTEXT_KEYS.get(kind, frozenset())
    keys: Iterable[str] = [
        k
        for k in dict.fromkeys([*old, *new])
        if k not in hidden and _given(old.get(k)) != _given(new.get(k))
    ]
    out = [
        Change(
            _field(kind, k), _value(kind, k, old.get(k), names), _value(kind, k, new.get(k), names)
        )
        for k in keys
    ]
    if len(out) > _MAX_KEYS:
        out = [*out[:_MAX_KEYS], Change("…", "", "")]
    return out


def _given(value: Any) -> Any:
    # An empty value and a missing one say the same: a new visit's empty notes are no change.
    return None if value in (None, "", [], {}) else value


def _import_changes(entry: AuditEntry, names: Names, household: str) -> list[Change]:
    """An import in counts; for one household, its own fields' changes, or that this import
    added it, or (when the entry does not say) the counts."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    if household:
        old = (before.get("households") or {}).get(household)
        new = (after.get("households") or {}).get(household)
        if isinstance(old, dict) or isinstance(new, dict):
            return _diff("household.", old or {}, new or {}, names)
        if household in (after.get("added") or []):
            return [Change("", "", _("这次导入新增了这一户"))]
    counts = after.get("counts")
    if not isinstance(counts, dict):  # an entry older than the counts: count the lists
        counts = {k: len(v) for k, v in after.items() if isinstance(v, list)}
    out = [
        Change(
            "",
            "",
            _(
                "帮扶户：新增 %(added)d，更新 %(updated)d，未变 %(unchanged)d",
                added=counts.get("added", 0),
                updated=counts.get("updated", 0),
                unchanged=counts.get("unchanged", 0),
            ),
        )
    ]
    if counts.get("missing"):
        # The import page's own words for households the file left out.
        text = ngettext(
            "已登记但不在这个文件里的 %(num)d 户保持原样。",
            "已登记但不在这个文件里的 %(num)d 户保持原样。",
            counts["missing"],
        )
        out.append(Change("", "", text))
    if counts.get("helpers_added") or counts.get("helpers_updated"):
        text = _(
            "帮扶责任人：新增 %(added)d，更新 %(updated)d",
            added=counts.get("helpers_added", 0),
            updated=counts.get("helpers_updated", 0),
        )
        out.append(Change("", "", text))
    villages = after.get("villages_added")
    if isinstance(villages, list) and villages:
        out.append(Change(_("新增的村"), "", _clip(_join(map(str, villages)))))
    return out


def _transfer_changes(entry: AuditEntry, names: Names, household: str) -> list[Change]:
    """A helper's households given to another: for one household, its helpers before and
    after; otherwise to whom, and which households (by 户主 and 户编号)."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    old, new = before.get("households") or {}, after.get("households") or {}
    if household and (household in old or household in new):
        return [
            Change(
                _field("household.", "helpers"),
                _value("household.", "helpers", old.get(household), names),
                _value("household.", "helpers", new.get(household), names),
            )
        ]
    out = [Change(_field("helper.", "to"), "", _value("helper.", "to", after.get("to"), names))]
    moved = sorted(new or old)
    listed = [household_words(hid, names.households) for hid in moved[:_MAX_LISTED]]
    if len(moved) > _MAX_LISTED:
        listed.append("…")
    text = ngettext(
        "%(num)d 户：%(households)s",
        "%(num)d 户：%(households)s",
        len(moved),
        households=_join(listed),
    )
    out.append(Change(_field("helper.", "households"), "", text))
    return out


def _field(kind: str, key: str) -> str:
    label = _KIND_FIELDS.get(kind, {}).get(key, _FIELDS.get(key))
    if label is None:
        return key
    return str(label)


def _value(kind: str, key: str, value: Any, names: Names) -> str:
    return _clip(_words(kind, key, value, names))


def _words(kind: str, key: str, value: Any, names: Names) -> str:
    if _given(value) is None:
        return ""
    if key in _PEOPLE:
        phones = value if isinstance(value, list) else [value]
        return _join(person(str(p), names) for p in phones)
    if isinstance(value, bool):
        return _("是") if value else _("否")
    vocabulary = _KIND_VALUES.get(kind, {}).get(key, _VALUES.get(key))
    if vocabulary and isinstance(value, str):
        return vocab.label(vocabulary, value)
    if key == "guarantees" and isinstance(value, dict):
        return _met(value, vocab.GUARANTEES)
    if key == "environment" and isinstance(value, dict):
        return _met(value, names.checklist)
    if key == "needs" and isinstance(value, list):
        return _join(_need(n) for n in value if isinstance(n, dict))
    if key == "photos" and isinstance(value, list):
        return ngettext("%(num)d 张照片", "%(num)d 张照片", len(value))
    if key == "location" and isinstance(value, dict):
        lat, lng = value.get("lat"), value.get("lng")
        if isinstance(lat, int | float) and isinstance(lng, int | float):
            return f"{lat:.5f}, {lng:.5f}"
    if isinstance(value, str):
        time = _TIME.match(value)
        return f"{time.group(1)} {time.group(2)}" if key.endswith("_at") and time else value
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return _join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _met(answers: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """A visit's checks in a few words: all met, or which were not."""
    failed = [vocab.translate(labels.get(k, k)) for k, v in answers.items() if v is False]
    if not failed:
        return _("全部达标")
    return _("未达标：%(items)s", items=_join(failed))


def _need(need: Mapping[str, Any]) -> str:
    text = _(
        "%(category)s：%(description)s",
        category=vocab.label(vocab.NEED_CATEGORIES, str(need.get("category") or "")),
        description=str(need.get("description") or ""),
    )
    return _("%(need)s（紧急）", need=text) if need.get("urgent") else text


def _join(items: Iterable[str]) -> str:
    listed = [i for i in items if i]
    return format_list(listed, locale=str(get_locale() or "zh")) if listed else ""


def _clip(text: str) -> str:
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"
