"""Village projects and supervision visits as spreadsheets: read .xlsx or .csv (UTF-8 or GB18030) with
Chinese or English headers, write .xlsx or .csv with the same headers so an export can be edited and
imported again. Text that a spreadsheet would run as a formula is written with a leading apostrophe."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook

from gongzhi.errors import msg
from gongzhi.kit import sheets

MAX_ROWS = 5000
# field: (header written on export, other accepted names)
PROJECT_COLUMNS: dict[str, tuple[str, ...]] = {
    "village": ("村", "村名", "村代码", "village", "village_code"),
    "name": ("项目名称", "项目", "name", "project"),
    "budget_yuan": ("预算（元）", "预算(元)", "预算", "budget_yuan", "budget"),
    "contractor": ("承建单位", "施工单位", "contractor"),
    "starts_on": ("开工日期", "开始日期", "starts_on"),
    "ends_on": ("完工日期", "结束日期", "ends_on"),
    "status": ("状态", "status"),
}
VISIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "village": ("村", "村名", "村代码", "village", "village_code"),
    "project": ("项目名称", "项目", "project"),
    "visited_at": ("走访时间", "时间", "visited_at"),
    "supervisor": ("监督员", "supervisor"),
    "findings": ("发现情况", "情况", "findings"),
    "issue": ("是否问题", "问题", "issue"),
    "photos": ("照片数", "photos"),
}
COLUMNS = {"projects": PROJECT_COLUMNS, "visits": VISIT_COLUMNS}
REQUIRED = {"projects": ("village", "name"), "visits": ("village", "findings")}


TableError = sheets.SheetError
"""The file itself cannot be read as a table."""
Row = sheets.Row


def _rows(table: list[list[object]], kind: str) -> list[Row]:
    header = sheets.header_fields(table, sheets.aliases(COLUMNS[kind]))
    missing = [COLUMNS[kind][f][0] for f in REQUIRED[kind] if f not in header]
    if missing:
        raise TableError(msg("the header lacks the column(s) %(columns)s", columns=", ".join(missing)))
    return sheets.data_rows(table, header, MAX_ROWS)


def read_rows(data: bytes, filename: str, kind: str) -> list[Row]:
    """The non-empty rows of a .xlsx or .csv file of ``kind`` (projects or visits)."""
    return _rows(sheets.read_table(data, filename), kind)


def header(kind: str) -> list[str]:
    return [names[0] for names in COLUMNS[kind].values()]


def write_xlsx(kind: str, rows: Sequence[Sequence[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = kind
    ws.append(header(kind))
    for row in rows:
        ws.append([sheets.formula_safe(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def write_csv(kind: str, rows: Sequence[Sequence[object]], encoding: str = "utf-8") -> bytes:
    """UTF-8 with a byte-order mark (Excel then reads it right), or GB18030 for older tools."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header(kind))
    for row in rows:
        w.writerow(["" if v is None else sheets.formula_safe(v) for v in row])
    text = out.getvalue()
    return text.encode("gb18030") if encoding == "gb18030" else text.encode("utf-8-sig")
