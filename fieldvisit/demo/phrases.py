"""What the demo's helpers write down: the needs households raise, how the office resolves
them, and the notes of a visit."""

from __future__ import annotations

NEED_TEXTS: dict[str, tuple[list[str], list[str]]] = {  # category: (descriptions, resolutions)
    "medical": (
        [
            "慢性病需办理门诊慢性病卡",
            "希望联系县医院复查",
            "药费负担重，询问大病救助",
            "需要家庭医生上门随访",
        ],
        ["已办理慢性病卡", "已联系镇卫生院上门服务", "已申请大病救助"],
    ),
    "education": (
        ["孩子上学需申请雨露计划补助", "询问教育资助政策", "孩子上学路远，想申请寄宿"],
        ["已申请雨露计划补助", "已讲解教育资助政策", "已协调学校安排寄宿"],
    ),
    "employment": (
        ["希望介绍附近务工岗位", "想申请公益性岗位", "外出务工需开具证明"],
        ["已推荐到县产业园务工", "已安排公益性岗位", "已开具证明"],
    ),
    "industry": (
        ["想发展养殖，需要技术指导", "希望申请产业奖补", "花生需要帮忙联系销路"],
        ["已请农技员上门指导", "已申报产业奖补", "已联系合作社收购"],
    ),
    "housing": (
        ["房屋漏雨，需要维修", "申请危房改造", "院墙倒塌需修缮"],
        ["已组织维修", "已列入危房改造计划", "已修缮完毕"],
    ),
    "funds": (
        ["想申请小额信贷发展生产", "询问到户增收补贴何时发放"],
        ["已办理小额信贷", "补贴已发放到户"],
    ),
    "skills": (
        ["想参加电焊技能培训", "希望参加种植技术培训", "想学习家政服务技能"],
        ["已报名县人社局培训班", "已参加培训"],
    ),
    "social_assistance": (
        ["家庭收入下降，申请纳入低保", "询问低保金调整情况", "老人需申请特困供养"],
        ["已提交低保申请并审批", "已讲解低保政策", "已纳入特困供养"],
    ),
    "water": (
        ["自来水水压小，经常停水", "水龙头损坏需维修"],
        ["已联系水厂处理", "已更换水龙头"],
    ),
    "other": (
        ["需要办理残疾证", "电线老化需检修", "希望帮助办理医保缴费"],
        ["已协助办理", "已联系供电所检修", "已代缴医保"],
    ),
}
# Which needs a household raises follows from why it is poor.
NEED_BIAS: dict[str, dict[str, int]] = {
    "illness": {"medical": 8},
    "disability": {"medical": 4, "social_assistance": 3, "other": 2},
    "schooling": {"education": 8},
    "disaster": {"housing": 8},
    "labour": {"social_assistance": 4, "employment": 2},
    "skills": {"skills": 6, "employment": 3},
    "funds": {"funds": 6, "industry": 3},
    "drive": {"employment": 4, "industry": 2},
}
NOTES_MET = [
    "户主身体状况稳定",
    "已宣讲扶贫政策",
    "帮助打扫院落",
    "提醒按时服药",
    "子女在外务工，家中老人在家",
    "家中养鸡十余只，长势良好",
    "已核对帮扶手册",
]
NOTES_NOBODY = ["家中无人，已电话联系", "大门上锁，邻居说外出赶集", "户主去医院复查未回"]
NOTES_PHONE = ["户主在外务工，电话回访", "电话联系，户主称一切正常"]
