"""The blank registry (花名册模板) a township without a file of its own fills in.

Its first sheet has the import's header row and nothing else; the number columns are
formatted as text before anything is typed, so that Excel and WPS keep 户编号, phone and
ID numbers whole (no 4.11721E+12, no lost leading zeros). A second sheet says how to fill
each column, with a made-up example: the example is not on the first sheet, where a
forgotten example row would be imported as a household, and the second sheet is laid out
one column per row so that the importer never takes it for the registry.

The file is the township's form, like the export: Chinese whatever the page's language,
since the importer reads its Chinese headers.
"""

from __future__ import annotations

import io

from ..vocab import ATTRIBUTES, CAUSES, STATUSES
from .columns import _TEXT_COLUMNS, COLUMNS, REQUIRED_COLUMNS

SHEET_TITLE = "花名册"
HELP_TITLE = "填写说明"
GREY = "808080"

# Column -> (made-up example, how to fill it in).
_HELP: dict[str, tuple[str, str]] = {
    "户编号": ("4100000010001", "只能是数字，每户一个；再次导入时按户编号更新"),
    "村": ("示例村", "村名"),
    "组": ("1组", ""),
    "户主姓名": ("张三", ""),
    "家庭人口": ("3", "1 到 99 的整数"),
    "贫困户属性": ("一般贫困户", "可选：" + "、".join(ATTRIBUTES.values())),
    "主要致贫原因": ("因病", "可选：" + "、".join(CAUSES.values())),
    "脱贫状态": ("未脱贫", "可选：" + "、".join(STATUSES.values())),
    "脱贫年度": ("", "已脱贫的户填年份（如 2019），未脱贫的户不填"),
    "联系电话": ("13800000000", "手机 11 位；座机带区号（以 0 开头）；没有电话填“无”"),
    "身份证号": (
        "",
        "18 位，最后一位可以是 X；留空，或保留导出表格里打星号的号码，都不会改动已登记的号码",
    ),
    "长期不在家": ("否", "是 或 否，不填算否"),
    "帮扶责任人": ("李四、王五", "多人用“、”分隔，与帮扶责任人电话一一对应"),
    "帮扶责任人电话": ("13900000000、13900000009", "11 位手机号码，多人用“、”分隔"),
    "帮扶单位": ("县扶贫办", "一个单位（多人共用），或按帮扶责任人逐一填写，用“、”分隔"),
}


def template_xlsx() -> bytes:
    """The blank registry as an .xlsx file."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = SHEET_TITLE
    sheet.append(list(COLUMNS))
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet[f"{letter}1"].font = Font(bold=True)
        width = 22 if column in _TEXT_COLUMNS else max(8, 2 * len(column) + 2)
        sheet.column_dimensions[letter].width = width
        if column in _TEXT_COLUMNS:
            # The column's own format, which Excel and WPS give every cell typed into it.
            sheet.column_dimensions[letter].number_format = "@"

    notes = book.create_sheet(HELP_TITLE)
    notes.append(["列名", "是否必填", "示例", "怎么填"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    grey = Font(color=GREY)
    for column in COLUMNS:
        example, how = _HELP[column]
        notes.append([column, "必填" if column in REQUIRED_COLUMNS else "可不填", example, how])
        example_cell = notes.cell(row=notes.max_row, column=3)
        example_cell.font = grey
        example_cell.number_format = "@"
    for letter, width in zip("ABCD", (16, 10, 28, 70), strict=True):
        notes.column_dimensions[letter].width = width

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
