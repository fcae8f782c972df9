"""The 村级重大事务决策监督记录表 (supervision record of a major village decision) as PDF.

The fonts are embedded TrueType subsets (``gongzhi.kit.pdffonts``), so the record reads the same in a viewer
without any Chinese font.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from gongzhi.kit import pdffonts
from gongzhi.modules.village.analytics.deliberation import LABEL, ORDER, VOTING

FONT = pdffonts.LATIN
_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, alignment=1)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=9.5, leading=13)


@dataclass(frozen=True)
class StepLine:
    step: str
    held_on: str
    attendance: str
    votes: str
    attendees: str
    summary: str
    attachments: int


@dataclass(frozen=True)
class Record:
    region: str
    village: str
    town: str
    title: str
    matter: str
    status: str
    steps: Sequence[StepLine]
    audit_hash: str


def _p(text: str) -> Paragraph:
    return Paragraph("<br/>".join(pdffonts.markup(line) for line in text.split("\n")), _CELL)


def decision_record(rec: Record) -> bytes:
    pdffonts.register()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title="村级重大事务决策监督记录表",
        author="gongzhi",
    )
    head = [
        [_p("区县"), _p(rec.region), _p("乡镇（街道）"), _p(rec.town)],
        [_p("村（社区）"), _p(rec.village), _p("当前状态"), _p(rec.status)],
        [_p("事项名称"), _p(rec.title), "", ""],
        [_p("事项内容"), _p(rec.matter), "", ""],
    ]
    by_step = {s.step: s for s in rec.steps}
    body = [
        [
            _p("程序"),
            _p("时间"),
            _p("应到/实到"),
            _p("表决（同意/反对/弃权）"),
            _p("参加人员"),
            _p("内容摘要"),
            _p("附件"),
        ]
    ]
    for k in ORDER:
        s = by_step.get(k)
        if s is None:
            body.append([_p(LABEL[k]), _p("未进行"), "", "", "", "", ""])
            continue
        body.append(
            [
                _p(LABEL[k]),
                _p(s.held_on),
                _p(s.attendance),
                _p(s.votes if k in VOTING else "—"),
                _p(s.attendees),
                _p(s.summary),
                _p(f"{s.attachments} 份"),
            ]
        )
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 9.5),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    t1 = Table(head, colWidths=[25 * mm, 65 * mm, 28 * mm, 62 * mm])
    t1.setStyle(TableStyle([*style.getCommands(), ("SPAN", (1, 2), (3, 2)), ("SPAN", (1, 3), (3, 3))]))
    t2 = Table(body, colWidths=[24 * mm, 20 * mm, 18 * mm, 24 * mm, 34 * mm, 45 * mm, 15 * mm], repeatRows=1)
    t2.setStyle(style)
    sign = Table(
        [[_p("监察联络站意见："), ""], [_p("监督员（签字）："), _p("日期：")]],
        colWidths=[120 * mm, 60 * mm],
        rowHeights=[18 * mm, 10 * mm],
    )
    sign.setStyle(
        TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9.5), ("BOX", (0, 0), (-1, -1), 0.5, colors.black)])
    )
    foot = _p(f"本表由 gongzhi 生成，记录已写入防篡改审计链（最新链值 {rec.audit_hash[:16]}…）。")
    doc.build(
        [
            Paragraph(pdffonts.markup("村级重大事务决策监督记录表"), _TITLE),
            Spacer(1, 6 * mm),
            t1,
            Spacer(1, 4 * mm),
            t2,
            Spacer(1, 4 * mm),
            sign,
            Spacer(1, 3 * mm),
            foot,
        ]
    )
    return buf.getvalue()
