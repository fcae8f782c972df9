"""Case lists as CSV (UTF-8 with BOM, so Excel opens Chinese right) and Excel; contacts always masked."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook

from gongzhi.cases.models import Case
from gongzhi.kit.privacy import mask_name, mask_phone
from gongzhi.kit.sheets import XLSX_MEDIA_TYPE, formula_safe
from gongzhi.kit.workdays import SHANGHAI

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": XLSX_MEDIA_TYPE,
}
MAX_ROWS = 50_000
COLUMNS = [
    ("number", "工单编号"),
    ("title", "标题"),
    ("category", "类别"),
    ("priority", "优先级"),
    ("state", "状态"),
    ("address", "地址"),
    ("reporter_name", "反映人"),
    ("reporter_phone", "联系电话"),
    ("actor_id", "承办单位"),
    ("created_at", "创建时间"),
    ("claim_due", "签收时限"),
    ("resolve_due", "办理时限"),
    ("closed_at", "办结时间"),
    ("escalation_level", "督办级别"),
    ("rating", "满意度"),
]


def _cell(case: Case, col: str) -> object:
    value = getattr(case, col)
    if col == "reporter_name":
        return "" if case.reporter_anonymous else mask_name(value)
    if col == "reporter_phone":
        return "" if case.reporter_anonymous else mask_phone(value)
    if hasattr(value, "astimezone"):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else formula_safe(value)


def rows(cases: Sequence[Case]) -> list[list[object]]:
    return [[_cell(c, col) for col, _ in COLUMNS] for c in cases]


def render(cases: Sequence[Case], fmt: str) -> tuple[bytes, str]:
    header = [f"{zh} {en}" for en, zh in COLUMNS]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows(rows(cases))
        return buf.getvalue().encode("utf-8-sig"), FORMATS[fmt]
    wb = Workbook()
    ws = wb.active
    ws.title = "工单 cases"
    ws.append(header)
    for r in rows(cases):
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), FORMATS[fmt]
