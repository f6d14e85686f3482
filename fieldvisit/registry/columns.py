"""The columns of the township's registry spreadsheet, and how their cells are written.

Shared by reading, checking and exporting, so that a file we write is one we can read.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# The columns of the township's registry, in the order its files (and our export) have them.
COLUMNS: tuple[str, ...] = (
    "户编号", "村", "组", "户主姓名", "家庭人口", "贫困户属性", "主要致贫原因", "脱贫状态",
    "脱贫年度", "联系电话", "身份证号", "长期不在家", "帮扶责任人", "帮扶责任人电话", "帮扶单位",
)  # fmt: skip
# Optional, after the others: a county's file names each household's township; a township's
# file leaves it out (the deployment's one township), and so does our export of one.
TOWNSHIP_COLUMN = "乡镇"
READ_COLUMNS: tuple[str, ...] = (*COLUMNS, TOWNSHIP_COLUMN)
# Each column's header in the reader's language, for pages that name a column (the audit
# log's changed fields). Literal calls, so that the catalogue extracts each one.
COLUMN_LABELS = {
    "户编号": _l("户编号"), "村": _l("村"), "组": _l("组"), "户主姓名": _l("户主姓名"),
    "家庭人口": _l("家庭人口"), "贫困户属性": _l("贫困户属性"),
    "主要致贫原因": _l("主要致贫原因"), "脱贫状态": _l("脱贫状态"), "脱贫年度": _l("脱贫年度"),
    "联系电话": _l("联系电话"), "身份证号": _l("身份证号"), "长期不在家": _l("长期不在家"),
    "帮扶责任人": _l("帮扶责任人"), "帮扶责任人电话": _l("帮扶责任人电话"),
    "帮扶单位": _l("帮扶单位"), "乡镇": _l("乡镇"),
}  # fmt: skip
# Without these a household cannot be created; the others may be left out of a file, and
# then the stored value of that field stays as it is.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "户编号", "村", "户主姓名", "家庭人口", "贫困户属性", "主要致贫原因", "脱贫状态",
)  # fmt: skip
# The header row is the first row that has all of these.
_HEADER_KEYS = ("户编号", "户主姓名", "村")
# Headers other systems use for the same columns.
_ALIASES = {
    "乡": "乡镇",
    "镇": "乡镇",
    "乡（镇）": "乡镇",
    "乡(镇)": "乡镇",
    "行政村": "村",
    "村名": "村",
    "村民组": "组",
    "户主": "户主姓名",
    "人口数": "家庭人口",
    "家庭人口数": "家庭人口",
    "身份证号码": "身份证号",
    "户主身份证号": "身份证号",
    "是否长期不在家": "长期不在家",
    "帮扶人": "帮扶责任人",
    "帮扶人电话": "帮扶责任人电话",
    "帮扶责任人联系电话": "帮扶责任人电话",
}
# Cells that hold numbers: Excel hands them back as floats ("2.0"), and people type them
# with full-width digits.
_NUMERIC = frozenset({"户编号", "家庭人口", "脱贫年度", "联系电话", "身份证号", "帮扶责任人电话"})
# Cells where a space inside is never meant: a two-character name padded to line up with
# three-character ones ("马　娟"), an ID number typed in groups.
_COMPACT = frozenset({
    "户编号", "村", "户主姓名", "家庭人口", "贫困户属性", "主要致贫原因", "脱贫状态", "脱贫年度",
    "身份证号", "长期不在家", "帮扶责任人", "乡镇",
})  # fmt: skip
# Cells the export writes as text, never as numbers.
_TEXT_COLUMNS = frozenset({"户编号", "联系电话", "身份证号", "帮扶责任人电话"})
# A cell starting with one of these is a formula to Excel and WPS.
_FORMULA_START = ("=", "+", "-", "@")
