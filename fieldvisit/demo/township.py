"""The demo township's figures: who logs in, its villages, the reference township's tables
(docs/reference-township.md) that the registry must reproduce, and the names its made-up
people are drawn from."""

from __future__ import annotations

TOWNSHIP = "示范镇"
DEMO_PASSWORD = "demo1234"
ADMIN = ("13800000001", "刘敏")
SUPERVISOR = ("13800000002", "孙建军")
HELPERS = 357
REGION = "411721"  # the 身份证 region code and the prefix of every 户编号
HELPING_DAY = 10  # 帮扶日: most visits of a month fall on it
TZ = "+08:00"

# docs/reference-township.md's tables, code -> (households, people). The registry must
# reproduce all of them.
ATTRIBUTE_TABLE: dict[str, tuple[int, int]] = {
    "dibao": (456, 1178),
    "wubao": (81, 102),
    "general": (139, 441),
}
CAUSE_TABLE: dict[str, tuple[int, int]] = {
    "illness": (403, 1030),
    "disability": (166, 436),
    "schooling": (24, 89),
    "disaster": (2, 6),
    "labour": (23, 43),
    "skills": (29, 59),
    "funds": (23, 36),
    "drive": (6, 22),
}
STATUS_TABLE: dict[str, tuple[int, int]] = {
    "exited": (86, 306),
    "not_exited": (590, 1415),
}
TABLES: dict[str, dict[str, tuple[int, int]]] = {
    "attribute": ATTRIBUTE_TABLE,
    "cause": CAUSE_TABLE,
    "status": STATUS_TABLE,
}

# (name, poor village, exit year): the report's villages first, then placeholders to make 14.
VILLAGES: list[tuple[str, bool, int | None]] = [
    ("聂河村", True, 2016),
    ("油房张村", True, 2017),
    ("王寨村", True, 2018),
    ("赵王村", False, None),
    ("北王村", False, None),
    ("夏王村", False, None),
    ("李庄村", False, None),
    ("前营村", False, None),
    ("后刘村", False, None),
    ("陈桥村", False, None),
    ("杨店村", False, None),
    ("周楼村", False, None),
    ("孙湾村", False, None),
    ("马岗村", False, None),
]
# The west of Henan's 驻马店 (region 411721): villages sit around this point.
CENTRE = (33.38, 114.02)


def _words(text: str) -> list[str]:
    return text.split()


SURNAMES = "王张李刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
MALE_NAMES = _words(
    "建国 国强 志刚 卫东 红军 建华 振华 永强 德胜 保国 新民 金山 玉生 长海 春生 "
    "海 军 伟 磊 勇 明 杰 涛 斌 强 鹏 超 刚 平 辉"
)
FEMALE_NAMES = _words("秀英 桂兰 玉兰 淑珍 桂芳 凤英 秀兰 玉梅 丽 芳 红梅 静 敏 燕 娟 霞 艳 萍 丹")
UNITS = _words(
    "县扶贫办 县供电公司 县教育局 县卫健委 县人社局 县农业农村局 县财政局 "
    "县民政局 县住建局 县水利局 县交通运输局 县自然资源局 县农商银行 "
    "县邮政分公司 县公安局 县税务局 县市场监管局 镇政府 镇卫生院 镇中心学校"
)
