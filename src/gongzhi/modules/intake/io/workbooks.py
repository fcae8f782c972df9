"""Excel workbooks staff download: the hot-topic table (热点问题表), monthly statistics, and the blank
import templates for hotline tickets and visit records."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook

from gongzhi.kit.sheets import formula_safe
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.intake.models import HotTopic, IntakeCategory
from gongzhi.modules.intake.schemas import MonthlyStats

HOT_HEADER = [
    "热度排名",
    "问题ID",
    "热度指数",
    "时间范围",
    "地点/人群",
    "问题描述",
    "诉求件数",
    "反映人数",
    "点赞数",
]
STATS_HEADER = [
    "部门",
    "受理",
    "办结",
    "按时办结",
    "超期",
    "其中在办超期",
    "回访数",
    "满意数",
    "平均评分",
    "满意率",
]


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def hot_topics(topics: Sequence[HotTopic]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "热点问题表"
    ws.append(HOT_HEADER)
    for t in topics:
        start = t.period_start.astimezone(SHANGHAI).strftime("%Y/%m/%d")
        end = t.period_end.astimezone(SHANGHAI).strftime("%Y/%m/%d")
        where = " / ".join(x for x in (t.place, t.people) if x)
        ws.append(
            [
                t.rank,
                t.key,
                round(t.heat, 2),
                f"{start} 至 {end}",
                formula_safe(where),
                formula_safe(t.description),
                t.requests,
                t.reporters,
                t.votes,
            ]
        )
    return _save(wb)


def monthly(stats: MonthlyStats) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = f"月度统计 {stats.month}"
    ws.append(STATS_HEADER)
    for r in [*stats.departments, stats.total]:
        ws.append(
            [
                formula_safe(r.department),
                r.received,
                r.closed,
                r.on_time,
                r.overdue,
                r.open_overdue,
                r.rated,
                r.satisfied,
                r.mean_rating,
                r.satisfaction,
            ]
        )
    lat = wb.create_sheet("办理时长 latency")
    for k, v in stats.latency_days.items():
        lat.append([k, v])
    return _save(wb)


# the first header :mod:`gongzhi.modules.intake.io.tabular` accepts for each field, by kind of import
_CATEGORY_AND_PLACE = ["类别", "地址", "纬度", "经度"]
IMPORT_HEADERS = {
    "hotline": [
        "工单编号",
        "标题",
        "内容",
        *_CATEGORY_AND_PLACE,
        "来电人",
        "联系电话",
        "匿名",
        "来电时间",
        "紧急程度",
    ],
    "visit": [
        "登记编号",
        "标题",
        "来访事由",
        *_CATEGORY_AND_PLACE,
        "来访人",
        "联系电话",
        "匿名",
        "来访时间",
        "紧急程度",
    ],
}
IMPORT_NOTES = [
    ("编号", "可选。同一编号只能导入一次，文件内也不能重复。"),
    ("标题 / 内容", "至少填写一项。"),
    ("类别", "可选。填写下方的类别代码或名称；留空则按内容自动分类派单。"),
    ("地址、纬度、经度", "可选。纬度、经度为十进制度数，如 30.31、120.14。"),
    ("姓名、联系电话", "可选。"),
    ("匿名", "填“是”则不显示反映人信息；留空为否。"),
    ("时间", "可选，如 2026-11-28 09:30 或 2026/11/28 09:30，不能晚于现在；留空为导入时间。"),
    ("紧急程度", "可选：一般、较急、紧急、低。"),
    ("导入", "先逐行检查；任何一行有问题则整份文件都不导入，并列出每一行、每一列的问题。"),
]


def import_template(kind: str, categories: Sequence[IntakeCategory]) -> bytes:
    """A blank import file of ``kind`` (hotline or visit): the header row on the first sheet, what each
    column takes and the region's categories on the second (only the first sheet is read back)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "热线工单" if kind == "hotline" else "来访登记"
    ws.append(IMPORT_HEADERS[kind])
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for row in IMPORT_NOTES:
        notes.append(list(row))
    notes.append([])
    notes.append(["类别代码", "类别名称"])
    for c in categories:
        notes.append([formula_safe(c.code), formula_safe(c.name)])
    return _save(wb)
