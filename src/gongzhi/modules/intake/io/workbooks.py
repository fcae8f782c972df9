"""Excel workbooks staff download: the hot-topic table (热点问题表) and monthly statistics."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook

from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.intake.models import HotTopic
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


def _safe(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # keep a spreadsheet from running citizen text as a formula
    return value


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
                _safe(where),
                _safe(t.description),
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
                _safe(r.department),
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
