"""The words of reconciliation: departments, the five kinds of difference, and the values
members and departments' lists hold (disability, school stage, insurance).

Codes are what the store keeps; the Chinese labels are what the lists, the workbook, the
CLI and (in Chinese) the pages say. Labels shown on pages go through ``label`` so that the
English page translates them; the workbook, the PDF and the CLI's lines stay Chinese: they
are filed and sent to the county, and a script reads the CLI's lines.
"""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

# The departments whose lists are compared, and the warning lists (部门筛查预警).
DEPARTMENTS: dict[str, str] = {
    "civil_affairs": "民政低保特困名单",
    "disability": "残联残疾人名单",
    "medical_insurance": "医保参保名单",
    "education": "教育资助名单",
    "warning": "部门筛查预警",
}
COMPARED = ("civil_affairs", "disability", "medical_insurance", "education")

# The five kinds of difference, named exactly so everywhere.
NOT_ON_REGISTRY = "not_on_registry"
MISSING_FROM_LIST = "missing_from_list"
CATEGORY = "category"
COUNT = "count"
NAME = "name"
KINDS: dict[str, str] = {
    NOT_ON_REGISTRY: "名单有花名册无",
    MISSING_FROM_LIST: "花名册有名单无",
    CATEGORY: "类别不一致",
    COUNT: "人数不一致",
    NAME: "姓名不一致",
}
CHECKS_LINE = "核查任务"  # the CLI's line for a warning list's checks

# Disability categories as the 残疾人证 names them; a list's "肢体残疾" is "肢体".
DISABILITIES: tuple[str, ...] = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
GRADES: tuple[str, ...] = ("一级", "二级", "三级", "四级")
# School stages, and the other names lists use for them.
SCHOOL_STAGES: tuple[str, ...] = (
    "学前", "小学", "初中", "高中", "中职", "高职", "本科", "研究生",
)  # fmt: skip
STAGE_ALIASES: dict[str, str] = {
    "幼儿园": "学前", "学前教育": "学前", "普通高中": "高中", "中专": "中职", "职高": "中职",
    "技校": "中职", "中等职业": "中职", "大专": "高职", "专科": "高职", "高职专科": "高职",
    "大学": "本科", "大学本科": "本科", "硕士": "研究生", "博士": "研究生",
}  # fmt: skip
# 参保状态 values that mean insured; any other value means not insured.
INSURED_STATUSES = frozenset({"已参保", "参保", "正常参保", "正常", "在保", "参保缴费", "是"})
# 保障类别 on 民政's roster -> the registry's attribute.
ROSTER_ATTRIBUTES: dict[str, str] = {"低保": "dibao", "特困": "wubao", "五保": "wubao"}
ATTRIBUTE_WORDS: dict[str, str] = {"dibao": "低保", "wubao": "特困（五保）", "general": "一般"}
# Relations that make a member the head of the household.
HEAD_RELATIONS = frozenset({"户主", "本人"})
WARNING_RESULTS: dict[str, str] = {"true": "属实", "false": "不属实"}
# A helper's answer to a difference sent to them.
ANSWERS: dict[str, str] = {"registry": "花名册正确", "department": "部门名单正确"}
CHECK_DAYS_SETTING = "check_days"
DEFAULT_CHECK_DAYS = 15

# Each label in the reader's language (literal calls, so the catalogue extracts them).
_TRANSLATIONS: dict[str, LazyString] = {
    "民政低保特困名单": _l("民政低保特困名单"),
    "残联残疾人名单": _l("残联残疾人名单"),
    "医保参保名单": _l("医保参保名单"),
    "教育资助名单": _l("教育资助名单"),
    "部门筛查预警": _l("部门筛查预警"),
    "名单有花名册无": _l("名单有花名册无"),
    "花名册有名单无": _l("花名册有名单无"),
    "类别不一致": _l("类别不一致"),
    "人数不一致": _l("人数不一致"),
    "姓名不一致": _l("姓名不一致"),
    "核查任务": _l("核查任务"),
    "属实": _l("属实"),
    "不属实": _l("不属实"),
    "花名册正确": _l("花名册正确"),
    "部门名单正确": _l("部门名单正确"),
}


def label(text: str) -> str:
    """A label above in the reader's language; any other text as it is."""
    known = _TRANSLATIONS.get(text)
    return str(known) if known is not None else text


def kind_label(kind: str) -> str:
    return label(KINDS.get(kind, kind))


def department_label(department: str) -> str:
    return label(DEPARTMENTS.get(department, department))


def stage_of(text: str) -> str | None:
    """The school stage ``text`` names ("" for none), or None when it names none."""
    if not text or text in ("无", "否", "不在校"):
        return ""
    text = STAGE_ALIASES.get(text, text)
    return text if text in SCHOOL_STAGES else None


def disability_of(text: str) -> str | None:
    """The disability category ``text`` names ("" for none), or None when unknown."""
    if not text or text in ("无", "否"):
        return ""
    text = text.removesuffix("残疾").removesuffix("残")
    return text if text in DISABILITIES else None


_DIGIT_GRADES = {"1": "一级", "2": "二级", "3": "三级", "4": "四级"}


def grade_of(text: str) -> str | None:
    """The disability grade ``text`` names ("" for none), or None when unknown."""
    if not text or text in ("无", "否"):
        return ""
    text = text.removesuffix("级")
    text = _DIGIT_GRADES.get(text, text)
    text = text if text.endswith("级") else text + "级"
    return text if text in GRADES else None


def disability_words(category: str, grade: str) -> str:
    """ "肢体二级", or "无" for no disability."""
    return f"{category}{grade}" if category or grade else "无"
