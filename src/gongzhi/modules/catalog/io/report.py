"""Audit reports as HTML, Excel and PDF: "N applications checked, M problems", by rule and by department.

PDF uses ReportLab with embedded TrueType subsets (``gongzhi.kit.pdffonts``), so it reads the same in a
viewer without any Chinese font.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from jinja2 import Environment
from openpyxl import Workbook

FORMATS = {
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@dataclass(frozen=True)
class RuleCount:
    rule_id: str
    title: str
    severity: str
    problems: int
    fixed: int = 0


@dataclass(frozen=True)
class DepartmentCount:
    department: str
    applications: int
    datasets: int
    problems: int


@dataclass(frozen=True)
class FindingRow:
    record: str
    department: str
    rule_id: str
    severity: str
    message: str
    status: str
    case_number: str = ""


@dataclass(frozen=True)
class ReportData:
    region: str
    run_id: int
    run_at: str
    applications: int
    datasets: int
    problems: int
    records_with_problems: int
    fixed: int
    by_rule: list[RuleCount] = field(default_factory=list)
    by_department: list[DepartmentCount] = field(default_factory=list)
    findings: list[FindingRow] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return (
            f"{self.applications} applications and {self.datasets} data resources checked, "
            f"{self.problems} problems in {self.records_with_problems} records, "
            f"{self.fixed} fixed since the last run"
        )

    @property
    def headline_zh(self) -> str:
        return (
            f"审核信息系统 {self.applications} 个、数据资源 {self.datasets} 个，发现问题 {self.problems} 个"
            f"（涉及 {self.records_with_problems} 条目录），较上次整改 {self.fixed} 个"
        )


COLUMNS = {
    "record": "目录 record",
    "department": "部门 department",
    "rule_id": "规则 rule",
    "severity": "级别 severity",
    "message": "说明 message",
    "status": "状态 status",
    "case_number": "整改工单 case",
}
SECTIONS = ("headline", "by_rule", "by_department", "findings")


@dataclass(frozen=True)
class Layout:
    """What a report shows and in which order (a region's own or a subscribed report template)."""

    title: str = "资源目录智能审核报告"
    subtitle: str = ""
    sections: tuple[str, ...] = SECTIONS
    columns: tuple[str, ...] = tuple(COLUMNS)
    rules: tuple[str, ...] = ()  # empty: every rule
    footer: str = ""

    def shown(self, r: ReportData) -> ReportData:
        """``r`` restricted to the layout's rules (counts and findings)."""
        if not self.rules:
            return r
        keep = set(self.rules)
        return replace(
            r,
            by_rule=[c for c in r.by_rule if c.rule_id in keep],
            findings=[f for f in r.findings if f.rule_id in keep],
        )

    def row(self, f: FindingRow) -> list[object]:
        return [getattr(f, c) for c in self.columns]


DEFAULT = Layout()

_HTML = Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{{ l.title }} {{ r.region }} #{{ r.run_id }}</title>
<style>body{font-family:"Noto Sans CJK SC",sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:.3em .6em;text-align:left}th{background:#eee}
.error{color:#b00}.warning{color:#a60}footer{margin-top:2em;color:#555}</style></head><body>
<h1>{{ l.title }}</h1>
{% if l.subtitle %}<p class="subtitle">{{ l.subtitle }}</p>{% endif %}
<p>{{ r.region }} · run #{{ r.run_id }} · {{ r.run_at }}</p>
{% for sec in l.sections %}
{% if sec == "headline" %}<p><strong>{{ r.headline_zh }}</strong><br>{{ r.headline }}</p>
{% elif sec == "by_rule" %}<h2>按规则 By rule</h2>
<table><tr><th>规则 rule</th><th>名称 title</th><th>级别 severity</th><th>问题 problems</th>
<th>已整改 fixed</th></tr>
{% for c in r.by_rule %}<tr><td>{{ c.rule_id }}</td><td>{{ c.title }}</td>
<td class="{{ c.severity }}">{{ c.severity }}</td><td>{{ c.problems }}</td><td>{{ c.fixed }}</td></tr>
{% endfor %}</table>
{% elif sec == "by_department" %}<h2>按部门 By department</h2>
<table><tr><th>部门 department</th><th>信息系统</th><th>数据资源</th><th>问题</th></tr>
{% for d in r.by_department %}<tr><td>{{ d.department or "（未填）" }}</td>
<td>{{ d.applications }}</td><td>{{ d.datasets }}</td><td>{{ d.problems }}</td></tr>
{% endfor %}</table>
{% elif sec == "findings" %}<h2>问题清单 Findings</h2>
<table><tr>{% for c in l.columns %}<th>{{ columns[c] }}</th>{% endfor %}</tr>
{% for f in r.findings %}<tr>{% for c in l.columns %}
<td{% if c == "severity" %} class="{{ f.severity }}"{% endif %}>{{ f|attr(c) }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endif %}{% endfor %}
{% if l.footer %}<footer>{{ l.footer }}</footer>{% endif %}
</body></html>
"""
)


def write_html(r: ReportData, layout: Layout = DEFAULT) -> bytes:
    return _HTML.render(r=layout.shown(r), l=layout, columns=COLUMNS).encode()


def write_xlsx(r: ReportData, layout: Layout = DEFAULT) -> bytes:
    r = layout.shown(r)
    wb = Workbook()
    ws = wb.active
    ws.title = "概况 summary"
    ws.append([_safe(layout.title), r.region, f"#{r.run_id}", r.run_at])
    if layout.subtitle:
        ws.append([_safe(layout.subtitle)])
    if "headline" in layout.sections:
        ws.append([r.headline_zh])
        ws.append([r.headline])
    if layout.footer:
        ws.append([_safe(layout.footer)])
    sheets = {
        "by_rule": (
            "按规则 rules",
            ["rule", "title", "severity", "problems", "fixed"],
            [list(c.__dict__.values()) for c in r.by_rule],
        ),
        "by_department": (
            "按部门 departments",
            ["department", "applications", "datasets", "problems"],
            [list(d.__dict__.values()) for d in r.by_department],
        ),
        "findings": (
            "问题 findings",
            list(layout.columns),
            [[_safe(v) for v in layout.row(f)] for f in r.findings],
        ),
    }
    for name in layout.sections:
        if name not in sheets:
            continue
        title, header, rows = sheets[name]
        sheet = wb.create_sheet(title)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _safe(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def write_pdf(r: ReportData, layout: Layout = DEFAULT, max_findings: int = 500) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from gongzhi.kit import pdffonts

    r = layout.shown(r)
    pdffonts.register()
    styles = getSampleStyleSheet()
    for s in styles.byName.values():
        s.fontName = pdffonts.LATIN
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=7, leading=9)
    head = small.clone("head", fontSize=8, leading=10)

    def table(header: list[str], rows: list[list[object]]) -> Table:
        data = [[Paragraph(pdffonts.markup(h), head) for h in header]]
        data += [[Paragraph(pdffonts.markup(str(v)), small) for v in row] for row in rows]
        t = Table(data, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), title=f"{layout.title} {r.region} #{r.run_id}")
    story: list[Flowable] = [
        Paragraph(pdffonts.markup(f"{layout.title}  {r.region}  #{r.run_id}  {r.run_at}"), styles["Title"])
    ]
    if layout.subtitle:
        story.append(Paragraph(pdffonts.markup(layout.subtitle), body))
    for name in layout.sections:
        if name == "headline":
            story += [
                Paragraph(pdffonts.markup(r.headline_zh), body),
                Paragraph(pdffonts.markup(r.headline), body),
            ]
        elif name == "by_rule":
            rows = [list(c.__dict__.values()) for c in r.by_rule]
            story.append(table(["规则 rule", "名称", "级别", "问题", "已整改"], rows))
        elif name == "by_department":
            rows = [list(d.__dict__.values()) for d in r.by_department]
            story.append(table(["部门", "信息系统", "数据资源", "问题"], rows))
        else:
            rows = [layout.row(f) for f in r.findings[:max_findings]]
            story.append(table([COLUMNS[c] for c in layout.columns], rows))
            if len(r.findings) > max_findings:
                more = f"… {len(r.findings) - max_findings} more findings in the Excel report"
                story.append(Paragraph(pdffonts.markup(more), body))
        story.append(Spacer(1, 8))
    if layout.footer:
        story.append(Paragraph(pdffonts.markup(layout.footer), body))
    doc.build(story)
    return out.getvalue()


WRITERS: dict[str, Callable[[ReportData, Layout], bytes]] = {
    "html": write_html,
    "xlsx": write_xlsx,
    "pdf": write_pdf,
}
