"""The fixed vocabularies of poverty-relief work.

Codes are what storage and the API use; labels are the Chinese terms the township's own
spreadsheets and reports use. Labels are Chinese message ids, so the English UI translates
them through the catalogue and the spreadsheet importer can match them verbatim.
"""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

# 贫困户属性, in the order the township's tables list them.
ATTRIBUTES: dict[str, str] = {
    "dibao": "低保贫困户",
    "wubao": "五保贫困户",
    "general": "一般贫困户",
}

# 主要致贫原因
CAUSES: dict[str, str] = {
    "illness": "因病",
    "disability": "因残",
    "schooling": "因学",
    "disaster": "因灾",
    "labour": "缺劳力",
    "skills": "缺技术",
    "funds": "缺资金",
    "drive": "自身发展动力不足",
}

# 脱贫状态
STATUSES: dict[str, str] = {
    "not_exited": "未脱贫",
    "exited": "已脱贫",
}

VISIT_KINDS: dict[str, str] = {
    "in_person": "入户走访",
    "nobody_home": "户不在家",
    "phone": "电话",
}

# 两不愁三保障: the basic guarantees every visit checks first.
GUARANTEES: dict[str, str] = {
    "food": "不愁吃",
    "clothing": "不愁穿",
    "education": "义务教育有保障",
    "medical": "基本医疗有保障",
    "housing": "住房安全有保障",
    "water": "饮水安全有保障",
}

# The environment checklist a township starts with; it can change it (stored in settings).
DEFAULT_CHECKLIST: list[tuple[str, str]] = [
    ("yard", "院落干净整洁"),
    ("indoor", "室内干净整洁"),
    ("tidy", "物品摆放整齐"),
    ("bedding", "被褥叠放整齐"),
    ("kitchen", "厨房卫生"),
    ("toilet", "厕所卫生"),
    ("personal", "个人卫生"),
    ("clutter", "无乱堆乱放"),
]

NEED_CATEGORIES: dict[str, str] = {
    "medical": "医疗",
    "education": "教育",
    "employment": "就业",
    "industry": "产业",
    "housing": "住房",
    "funds": "资金",
    "skills": "技能培训",
    "social_assistance": "低保兜底",
    "water": "饮水",
    "other": "其他",
}

SATISFACTION: dict[str, str] = {
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
}

ROLES: dict[str, str] = {
    "admin": "镇扶贫办",
    "supervisor": "督查",
    "helper": "帮扶责任人",
}

MONTH_STATES: dict[str, str] = {
    "visited": "已走访",
    "attempted": "仅尝试",
    "not_visited": "未走访",
}


# Every label above, Chinese → its translation (lazy: made in the language of the request
# that shows it). gettext is only ever given these literals: text from elsewhere, such as a
# township's own checklist item, is no message id; a "%" or "<b>" in it would be read as a
# format or, through a template's _(), as markup.
_TRANSLATIONS: dict[str, LazyString] = {
    "低保贫困户": _l("低保贫困户"),
    "五保贫困户": _l("五保贫困户"),
    "一般贫困户": _l("一般贫困户"),
    "因病": _l("因病"),
    "因残": _l("因残"),
    "因学": _l("因学"),
    "因灾": _l("因灾"),
    "缺劳力": _l("缺劳力"),
    "缺技术": _l("缺技术"),
    "缺资金": _l("缺资金"),
    "自身发展动力不足": _l("自身发展动力不足"),
    "未脱贫": _l("未脱贫"),
    "已脱贫": _l("已脱贫"),
    "入户走访": _l("入户走访"),
    "户不在家": _l("户不在家"),
    "电话": _l("电话"),
    "不愁吃": _l("不愁吃"),
    "不愁穿": _l("不愁穿"),
    "义务教育有保障": _l("义务教育有保障"),
    "基本医疗有保障": _l("基本医疗有保障"),
    "住房安全有保障": _l("住房安全有保障"),
    "饮水安全有保障": _l("饮水安全有保障"),
    "院落干净整洁": _l("院落干净整洁"),
    "室内干净整洁": _l("室内干净整洁"),
    "物品摆放整齐": _l("物品摆放整齐"),
    "被褥叠放整齐": _l("被褥叠放整齐"),
    "厨房卫生": _l("厨房卫生"),
    "厕所卫生": _l("厕所卫生"),
    "个人卫生": _l("个人卫生"),
    "无乱堆乱放": _l("无乱堆乱放"),
    "医疗": _l("医疗"),
    "教育": _l("教育"),
    "就业": _l("就业"),
    "产业": _l("产业"),
    "住房": _l("住房"),
    "资金": _l("资金"),
    "技能培训": _l("技能培训"),
    "低保兜底": _l("低保兜底"),
    "饮水": _l("饮水"),
    "其他": _l("其他"),
    "满意": _l("满意"),
    "基本满意": _l("基本满意"),
    "不满意": _l("不满意"),
    "镇扶贫办": _l("镇扶贫办"),
    "督查": _l("督查"),
    "帮扶责任人": _l("帮扶责任人"),
    "已走访": _l("已走访"),
    "仅尝试": _l("仅尝试"),
    "未走访": _l("未走访"),
}


def translate(text: str) -> str:
    """``text`` in the user's language when it is one of the labels above (the default
    checklist's included); any other text as it is."""
    known = _TRANSLATIONS.get(text)
    return str(known) if known is not None else text


def label(vocabulary: dict[str, str], code: str | None) -> str:
    """The label for ``code`` in the user's language; the code itself if unknown."""
    if code is None or code not in vocabulary:
        return code or ""
    return translate(vocabulary[code])


def code_for(vocabulary: dict[str, str], text: str) -> str | None:
    """The code whose Chinese label (or code) is ``text``; None when there is none."""
    for code, chinese in vocabulary.items():
        if text in (chinese, code):
            return code
    return None
