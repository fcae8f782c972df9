"""The O&M report's findings as an Excel workbook (缺陷清单), for the O&M team and the contractor who repairs
the modules: the findings sheet a row per finding that stands (false alarms left out, the reviewed class
where an operator changed it, the most severe first, as the report lists them), with the module, its
string, class, severity, CoA, ΔT, ΔTn, maximum temperature, review status, the recommended action, the
position and the finding's thermal crop and visible photo as pictures in the row; a sheet of the
inspection's conditions and counts; in Chinese or English. Numbers are numbers (a filter and a sort work
on them) and text a file or a person typed goes through :func:`.kit.sheets.formula_safe`.

Built from :class:`.report.Report`, so the workbook says what the HTML and PDF reports say.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gongzhi.kit.sheets import formula_safe
from gongzhi.modules.pv.outcome import FlightOutcome
from gongzhi.modules.pv.report import (
    ACTIONS,
    REPAIR_ACTION,
    Report,
    ReportFinding,
    check_lang,
    class_name,
    counts_by_class,
    local_time,
    review_name,
    t,
)

PICTURE_PX = 96
"""Side of a finding's pictures in the sheet [px]: the report's 128-px crops, shown smaller."""

_TEXT: dict[str, dict[str, str]] = {
    "sheet_findings": {"zh-CN": "缺陷清单", "en": "Findings"},
    "sheet_overview": {"zh-CN": "巡检概况", "en": "Inspection"},
    "no": {"zh-CN": "序号", "en": "No."},
    "string": {"zh-CN": "组串", "en": "String"},
    "t_max": {"zh-CN": "最高温度 (°C)", "en": "T max (°C)"},
    "action": {"zh-CN": "处置建议", "en": "Recommended action"},
    "lon": {"zh-CN": "经度", "en": "Longitude"},
    "lat": {"zh-CN": "纬度", "en": "Latitude"},
    "ir": {"zh-CN": "红外图", "en": "Thermal"},
    "photo": {"zh-CN": "可见光图", "en": "Photo"},
    "note": {"zh-CN": "备注", "en": "Note"},
    "at_least": {
        "zh-CN": "ΔT 为下限（缺陷小于测温光斑），建议近距离复测",
        "en": "ΔT is a lower bound (the pattern is smaller than the measurement spot): measure from closer",
    },
    "flown": {"zh-CN": "飞行时间", "en": "Flown"},
    "camera": {"zh-CN": "热像仪", "en": "Camera"},
    "iec": {"zh-CN": "IEC TS 62446-3", "en": "IEC TS 62446-3"},
    "total": {"zh-CN": "合计", "en": "Total"},
    "frames_used": {"zh-CN": "图像", "en": "Frames"},
    "frames_text": {"zh-CN": "{used} / {frames} 帧已分析", "en": "{used} of {frames} analysed"},
    "modules_seen": {"zh-CN": "组件", "en": "Modules"},
    "modules_text": {"zh-CN": "{seen} / {total} 块可见", "en": "{seen} of {total} seen"},
    "not_given": {"zh-CN": "未指定", "en": "not given"},
}

HEADER_FILL = PatternFill("solid", fgColor="F3F7FB")
SEVERITY_FILLS = {
    "S3": PatternFill("solid", fgColor="F8D7DA"),
    "S2": PatternFill("solid", fgColor="FCE5D4"),
    "S1": PatternFill("solid", fgColor="FFF6D5"),
}
"""The severity cell's fill, after the report's colours (S3 red, S2 orange, S1 yellow), made pale."""


def render_xlsx(report: Report, lang: str = "zh-CN") -> bytes:
    """The report's findings and conditions as an ``.xlsx`` workbook in ``lang`` (``zh-CN`` or ``en``).

    Raises
    ------
    InvalidInput
        If ``lang`` is neither.
    """
    lang = check_lang(lang)
    title = f"{report.plant_name} {t('inspection', lang)} #{report.inspection_id}"
    return findings_workbook(report.findings, overview_lines(report, lang), title, lang)


def findings_workbook(
    findings: list[ReportFinding], overview: list[tuple[str, Any]], title: str, lang: str = "zh-CN"
) -> bytes:
    """``findings`` (most severe first) as the findings sheet, and ``overview`` ((label, value) lines) with
    the counts by class and band as the second sheet, in ``lang``: the workbook of an inspection
    (:func:`render_xlsx`) or of a folder of frames analysed without a server (``gongzhi pv inspect``)."""
    lang = check_lang(lang)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _TEXT["sheet_findings"][lang]
    _findings(sheet, findings, lang)
    _overview(book.create_sheet(_TEXT["sheet_overview"][lang]), overview, findings, lang)
    book.properties.title = title
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _findings(sheet: Worksheet, findings: list[ReportFinding], lang: str) -> None:
    def x(key: str) -> str:
        return _label(key, lang)

    head = [x("no"), x("module"), x("string"), x("class"), x("severity"), "CoA", "ΔT (K)", "ΔTn (K)",
            x("t_max"), x("frames"), x("status"), x("action"), x("note"), x("lon"), x("lat"), x("ir"),
            x("photo")]  # fmt: skip
    widths = [6, 12, 12, 16, 8, 6, 9, 9, 12, 7, 10, 36, 30, 13, 12, 14, 14]
    sheet.append(head)
    for k, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(k)].width = width
    for cell in sheet[1]:
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    ir_col, photo_col = len(head) - 1, len(head)
    for n, f in enumerate(findings, start=1):
        row: list[Any] = [
            n,
            formula_safe(f.module_id),
            formula_safe(f.string) or None,
            class_name(f.anomaly_class, lang),
            f.severity,
            f.coa,
            _round(f.delta_t_k),
            _round(f.delta_tn_k),
            _round(f.t_max_c),
            f.frames_seen or None,
            review_name(f.status, lang),
            ACTIONS.get(f.anomaly_class, REPAIR_ACTION)[lang],
            x("at_least") if f.delta_t_at_least else None,
            f.lon,
            f.lat,
        ]
        sheet.append(row)
        r = n + 1
        for col in (7, 8, 9):
            sheet.cell(r, col).number_format = "0.0"
        for col in (14, 15):
            sheet.cell(r, col).number_format = "0.000000"
        if f.severity in SEVERITY_FILLS:
            sheet.cell(r, 5).fill = SEVERITY_FILLS[f.severity]
        for cell in sheet[r]:
            cell.alignment = Alignment(vertical="center", wrap_text=cell.column in (12, 13))
        pictures = ((ir_col, f.thumbnail_png), (photo_col, f.photo_png))
        if any(png for _, png in pictures):
            sheet.row_dimensions[r].height = PICTURE_PX * 0.75 + 4  # points; a pixel is 0.75 pt
        for col, png in pictures:
            if png:
                picture = Image(io.BytesIO(png))
                picture.width = picture.height = PICTURE_PX
                sheet.add_image(picture, f"{get_column_letter(col)}{r}")
    sheet.freeze_panes = "C2"  # the header and the module stay in view
    if findings:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(head) - 2)}{len(findings) + 1}"


def overview_lines(report: Report, lang: str) -> list[tuple[str, Any]]:
    """An inspection's conditions as the workbook's second sheet lists them: (label, value) lines."""

    def x(key: str) -> str:
        return _label(key, lang)

    verdict = {True: t("compliant", lang), False: t("not_compliant", lang), None: t("unknown", lang)}
    lines: list[tuple[str, Any]] = [
        (x("plant"), formula_safe(f"{report.plant_name} ({report.plant_code})")),
        (x("inspection"), f"#{report.inspection_id}"),
        (x("camera"), formula_safe(report.camera) or None),
        (x("flown"), local_time(report.started_at) if report.started_at else t("unknown", lang)),
        (f"{x('irradiance')} (W/m²)", _round(report.irradiance_w_m2)),
        (f"{x('ambient')} (°C)", _round(report.ambient_temp_c)),
        (f"{x('wind')} (m/s)", _round(report.wind_m_s)),
        (x("iec"), verdict[report.compliant]),
        (x("coverage"), report.coverage(lang)),
        (x("classes_by"), report.classes_by(lang)),
        (f"{x('modules')} / {x('area')}", f"{report.module_count} / {report.area_m2:.0f} m²"),
    ]
    if report.findings:
        lines.append(("", report.loss_text(lang)))
    if report.since is not None:
        lines.append(("", report.since_text(lang)))
    if report.sun_reflections:
        lines.append(("", t("sun_reflections", lang)))
    lines.append((x("generated"), local_time(report.generated_at)))
    return lines


def flight_overview(result: FlightOutcome, camera: str | None, lang: str = "zh-CN") -> list[tuple[str, Any]]:
    """A flight analysed without a server (``gongzhi pv inspect``) as the workbook's second sheet lists it:
    frames and modules seen, the camera, irradiance and the IEC verdict."""

    def x(key: str) -> str:
        return _label(key, lang)

    s = result.summary()
    verdict = {True: t("compliant", lang), False: t("not_compliant", lang), None: t("unknown", lang)}
    # the camera given for the flight, else those its frames name
    models = {str(i.model or i.camera) for i in result.frame_infos if i.model or i.camera}
    named = camera or ", ".join(sorted(models))
    return [
        (x("frames_used"), x("frames_text").format(used=s["frames_used"], frames=s["frames"])),
        (x("modules_seen"), x("modules_text").format(seen=s["modules_seen"], total=s["modules"])),
        (x("camera"), formula_safe(named) if named else x("not_given")),
        (f"{x('irradiance')} (W/m²)", _round(result.irradiance_w_m2)),
        (x("iec"), verdict[result.iec_compliant]),
    ]


def _overview(
    sheet: Worksheet, lines: list[tuple[str, Any]], findings: list[ReportFinding], lang: str
) -> None:
    def x(key: str) -> str:
        return _label(key, lang)

    sheet.append([x("title"), None])
    for key, value in lines:
        sheet.append([key, value])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 70
    for row in sheet.iter_rows(min_row=2, max_col=2):
        row[0].font = Font(bold=True)
        row[1].alignment = Alignment(wrap_text=True, vertical="top")

    sheet.append([])
    sheet.append([x("summary")])
    sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
    counts = counts_by_class(findings)
    if not counts:
        sheet.append([t("none_found", lang)])
        return
    bands = ("S1", "S2", "S3")
    sheet.append([x("class"), "S1 (< 10 K)", "S2 (10–20 K)", "S3 (≥ 20 K)", x("total")])
    for cell in sheet[sheet.max_row]:
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
    for cls, by_band in counts.items():
        sheet.append([class_name(cls, lang), *(by_band[b] for b in bands), sum(by_band[b] for b in bands)])
    totals = [sum(by_band[b] for by_band in counts.values()) for b in bands]
    sheet.append([x("total"), *totals, sum(totals)])
    sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    sheet.append([t("severity_note", lang)])


def _label(key: str, lang: str) -> str:
    """A label of the workbook's own (:data:`_TEXT`) or of the report's (:data:`.report.TEXT`)."""
    return _TEXT[key][lang] if key in _TEXT else t(key, lang)


def _round(value: float | None) -> float | None:
    """A figure as the report prints it (one decimal), kept a number."""
    return None if value is None else round(float(value), 1)
