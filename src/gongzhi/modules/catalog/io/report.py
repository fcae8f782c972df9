"""Audit reports as HTML, Excel and PDF: "N applications checked, M problems", by rule and by department.

A report is in one language, zh-CN (the default) or English (``ReportData.lang``): its labels come from
``TEXT`` and ``COLUMNS``, its rule titles and finding messages arrive already in that language.

PDF uses ReportLab with embedded TrueType subsets (``gongzhi.kit.pdffonts``), so it reads the same in a
viewer without any Chinese font.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jinja2 import Environment
from openpyxl import Workbook

from gongzhi.kit.sheets import XLSX_MEDIA_TYPE, formula_safe
from gongzhi.modules.catalog.analytics.texts import DEFAULT_LANG, SEVERITIES, STATUSES, Text

FORMATS = {
    "html": "text/html; charset=utf-8",
    "xlsx": XLSX_MEDIA_TYPE,
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
    lang: str = DEFAULT_LANG

    @property
    def headline(self) -> str:
        """The headline in the report's language."""
        return self.headline_en if self.lang == "en" else self.headline_zh

    @property
    def headline_en(self) -> str:
        return (
            f"{self.applications} information systems and {self.datasets} data resources checked, "
            f"{self.problems} problems in {self.records_with_problems} records, "
            f"{self.fixed} fixed since the run before"
        )

    @property
    def headline_zh(self) -> str:
        return (
            f"审核信息系统 {self.applications} 个、数据资源 {self.datasets} 个，发现问题 {self.problems} 个"
            f"（涉及 {self.records_with_problems} 条目录），较上次整改 {self.fixed} 个"
        )


COLUMNS = {
    "record": Text("目录名称", "Record"),
    "department": Text("提供方", "Department"),
    "rule_id": Text("审核规则", "Rule"),
    "severity": Text("问题级别", "Severity"),
    "message": Text("问题说明", "Problem"),
    "status": Text("整改状态", "Status"),
    "case_number": Text("整改工单", "Rectification case"),
}
SECTIONS = ("headline", "by_rule", "by_department", "findings")
DEFAULT_TITLE = "资源目录智能审核报告"
TEXT = {
    "title": Text(DEFAULT_TITLE, "Resource catalog audit report"),
    "run": Text("审核", "Audit"),
    "summary": Text("概况", "Summary"),
    "by_rule": Text("按规则统计", "By rule"),
    "by_department": Text("按部门统计", "By department"),
    "findings": Text("问题清单", "Findings"),
    "rule": Text("规则编号", "Rule id"),
    "rule_title": Text("规则名称", "Rule"),
    "severity": Text("问题级别", "Severity"),
    "problems": Text("问题数", "Problems"),
    "fixed": Text("已整改", "Fixed"),
    "department": Text("提供方", "Department"),
    "applications": Text("信息系统", "Information systems"),
    "datasets": Text("数据资源", "Data resources"),
    "not_given": Text("（未填写）", "(not given)"),
    "more": Text("另有 {n} 个问题，详见 Excel 报告", "{n} more findings in the Excel report"),
}


def _t(key: str, lang: str) -> str:
    return TEXT[key](lang)


def _cell(f: FindingRow, column: str, r: ReportData) -> object:
    """A finding's cell as the reader sees it: its rule by title, severity and status named in the
    report's language."""
    value = getattr(f, column)
    if column == "rule_id":
        return next((c.title for c in r.by_rule if c.rule_id == value), value)
    names = {"severity": SEVERITIES, "status": STATUSES}.get(column)
    return names[value](r.lang) if names and value in names else value


@dataclass(frozen=True)
class Layout:
    """What a report shows and in which order (a region's own or a subscribed report template)."""

    title: str = DEFAULT_TITLE
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

    def heading(self, lang: str = DEFAULT_LANG) -> str:
        """The template's own title, or the built-in one in ``lang``."""
        return _t("title", lang) if self.title in ("", DEFAULT_TITLE) else self.title

    def header(self, lang: str = DEFAULT_LANG) -> list[str]:
        return [COLUMNS[c](lang) for c in self.columns]

    def row(self, f: FindingRow, r: ReportData) -> list[object]:
        return [_cell(f, c, r) for c in self.columns]


DEFAULT = Layout()

_HTML = Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="{{ r.lang }}"><head><meta charset="utf-8">
<title>{{ title }} {{ r.region }} #{{ r.run_id }}</title>
<style>body{font-family:"Noto Sans CJK SC",sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:.3em .6em;text-align:left}th{background:#eee}
.error{color:#b00}.warning{color:#a60}footer{margin-top:2em;color:#555}</style></head><body>
<h1>{{ title }}</h1>
{% if l.subtitle %}<p class="subtitle">{{ l.subtitle }}</p>{% endif %}
<p>{{ r.region }} · {{ t("run") }} #{{ r.run_id }} · {{ r.run_at }}</p>
{% for sec in l.sections %}
{% if sec == "headline" %}<p><strong>{{ r.headline }}</strong></p>
{% elif sec == "by_rule" %}<h2>{{ t("by_rule") }}</h2>
<table><tr><th>{{ t("rule") }}</th><th>{{ t("rule_title") }}</th><th>{{ t("severity") }}</th>
<th>{{ t("problems") }}</th><th>{{ t("fixed") }}</th></tr>
{% for c in r.by_rule %}<tr><td>{{ c.rule_id }}</td><td>{{ c.title }}</td>
<td class="{{ c.severity }}">{{ severity(c.severity) }}</td><td>{{ c.problems }}</td>
<td>{{ c.fixed }}</td></tr>
{% endfor %}</table>
{% elif sec == "by_department" %}<h2>{{ t("by_department") }}</h2>
<table><tr><th>{{ t("department") }}</th><th>{{ t("applications") }}</th><th>{{ t("datasets") }}</th>
<th>{{ t("problems") }}</th></tr>
{% for d in r.by_department %}<tr><td>{{ d.department or t("not_given") }}</td>
<td>{{ d.applications }}</td><td>{{ d.datasets }}</td><td>{{ d.problems }}</td></tr>
{% endfor %}</table>
{% elif sec == "findings" %}<h2>{{ t("findings") }}</h2>
<table><tr>{% for h in l.header(r.lang) %}<th>{{ h }}</th>{% endfor %}</tr>
{% for f in r.findings %}<tr>{% for c in l.columns %}
<td{% if c == "severity" %} class="{{ f.severity }}"{% endif %}>{{ cell(f, c, r) }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endif %}{% endfor %}
{% if l.footer %}<footer>{{ l.footer }}</footer>{% endif %}
</body></html>
"""
)


def _severity(value: str, lang: str) -> str:
    return SEVERITIES[value](lang) if value in SEVERITIES else value


def write_html(r: ReportData, layout: Layout = DEFAULT) -> bytes:
    return _HTML.render(
        r=layout.shown(r),
        l=layout,
        title=layout.heading(r.lang),
        t=lambda key: _t(key, r.lang),
        severity=lambda value: _severity(value, r.lang),
        cell=_cell,
    ).encode()


def write_xlsx(r: ReportData, layout: Layout = DEFAULT) -> bytes:
    r = layout.shown(r)
    wb = Workbook()
    ws = wb.active
    lang = r.lang
    ws.title = _t("summary", lang)
    summary = [[layout.heading(lang), r.region, f"#{r.run_id}", r.run_at]]
    if layout.subtitle:
        summary.append([layout.subtitle])
    if "headline" in layout.sections:
        summary.append([r.headline])
    if layout.footer:
        summary.append([layout.footer])
    _append(ws, summary)
    sheets = {
        "by_rule": (
            _t("by_rule", lang),
            [_t(k, lang) for k in ("rule", "rule_title", "severity", "problems", "fixed")],
            _rule_rows(r),
        ),
        "by_department": (
            _t("by_department", lang),
            [_t(k, lang) for k in ("department", "applications", "datasets", "problems")],
            [list(d.__dict__.values()) for d in r.by_department],
        ),
        "findings": (
            _t("findings", lang),
            layout.header(lang),
            [layout.row(f, r) for f in r.findings],
        ),
    }
    for name in layout.sections:
        if name not in sheets:
            continue
        title, header, rows = sheets[name]
        _append(wb.create_sheet(title), [header, *rows])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _append(ws: Any, rows: Sequence[Sequence[object]]) -> None:
    """Rows into a sheet, every text cell that opens like a formula kept as text: department names, rule
    titles and a report template's own wording come from users."""
    for row in rows:
        ws.append([formula_safe(v) for v in row])


def _rule_rows(r: ReportData) -> list[list[object]]:
    return [[c.rule_id, c.title, _severity(c.severity, r.lang), c.problems, c.fixed] for c in r.by_rule]


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
    lang, title = r.lang, layout.heading(r.lang)
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), title=f"{title} {r.region} #{r.run_id}")
    story: list[Flowable] = [
        Paragraph(pdffonts.markup(f"{title}  {r.region}  #{r.run_id}  {r.run_at}"), styles["Title"])
    ]
    if layout.subtitle:
        story.append(Paragraph(pdffonts.markup(layout.subtitle), body))
    for name in layout.sections:
        if name == "headline":
            story.append(Paragraph(pdffonts.markup(r.headline), body))
        elif name == "by_rule":
            labels = [_t(k, lang) for k in ("rule", "rule_title", "severity", "problems", "fixed")]
            story.append(table(labels, _rule_rows(r)))
        elif name == "by_department":
            rows = [list(d.__dict__.values()) for d in r.by_department]
            labels = [_t(k, lang) for k in ("department", "applications", "datasets", "problems")]
            story.append(table(labels, rows))
        else:
            rows = [layout.row(f, r) for f in r.findings[:max_findings]]
            story.append(table(layout.header(lang), rows))
            if len(r.findings) > max_findings:
                more = _t("more", lang).format(n=len(r.findings) - max_findings)
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
