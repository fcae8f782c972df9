"""Spreadsheets staff already keep: visit records (来访登记) and hotline tickets (热线工单) as .xlsx or .csv.

``read_rows`` returns the header-normalised rows with their spreadsheet row numbers; Chinese and English
column names are both understood. Nothing is interpreted here beyond text.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from openpyxl import load_workbook

MAX_ROWS = 5000
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("编号", "工单编号", "登记编号", "留言编号", "id", "external_id"),
    "subject": ("标题", "主题", "诉求标题", "留言主题", "subject", "title"),
    "description": ("内容", "诉求内容", "详情", "留言详情", "来访事由", "description"),
    "service_code": ("类别", "分类", "诉求类别", "category", "service_code"),
    "address": ("地址", "事发地址", "address"),
    "lat": ("纬度", "lat", "latitude"),
    "lon": ("经度", "lon", "long", "longitude"),
    "reporter_name": ("姓名", "反映人", "来访人", "来电人", "reporter_name", "name"),
    "reporter_phone": ("电话", "联系电话", "来电号码", "reporter_phone", "phone"),
    "anonymous": ("匿名", "anonymous"),
    "received_at": ("时间", "来电时间", "来访时间", "登记时间", "留言时间", "received_at"),
    "priority": ("紧急程度", "优先级", "priority"),
}
_ALIASES = {alias.lower(): field for field, names in COLUMNS.items() for alias in names}


class TableError(ValueError):
    """The file itself cannot be read as a table."""


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, str]


def _header(cells: list[object]) -> list[str | None]:
    return [_ALIASES.get(str(c or "").strip().lower()) for c in cells]


def _rows(table: list[list[object]]) -> tuple[list[str | None], list[Row]]:
    if not table:
        raise TableError("the file has no header row")
    header = _header(table[0])
    if "subject" not in header and "description" not in header:
        raise TableError("the header needs a 标题/subject or 内容/description column")
    rows = []
    for n, cells in enumerate(table[1:], start=2):
        values = {h: ("" if c is None else str(c).strip()) for h, c in zip(header, cells, strict=False) if h}
        if any(values.values()):
            rows.append(Row(n, values))
    if len(rows) > MAX_ROWS:
        raise TableError(f"at most {MAX_ROWS} rows per file; split it")
    return header, rows


def read_rows(data: bytes, filename: str) -> tuple[list[str | None], list[Row]]:
    """Header fields (None for unknown columns) and non-empty rows of a .xlsx or .csv file."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types on damaged files
            raise TableError(f"not a readable .xlsx workbook: {exc}") from exc
        ws = wb.worksheets[0]
        return _rows([list(r) for r in ws.iter_rows(values_only=True)])
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError("the CSV is neither UTF-8 nor GB18030 text")
    return _rows([list(r) for r in csv.reader(io.StringIO(text))])
