"""Spreadsheets staff already keep: visit records (来访登记) and hotline tickets (热线工单) as .xlsx or .csv.

``read_rows`` returns the header-normalised rows with their spreadsheet row numbers; Chinese and English
column names are both understood. Nothing is interpreted here beyond text.
"""

from __future__ import annotations

from gongzhi.errors import msg
from gongzhi.kit import sheets

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


TableError = sheets.SheetError
"""The file itself cannot be read as a table."""
Row = sheets.Row


def _rows(table: list[list[object]]) -> tuple[list[str | None], list[Row]]:
    header = sheets.header_fields(table, _ALIASES)
    if "subject" not in header and "description" not in header:
        raise TableError(msg("the header needs a 标题/subject or 内容/description column"))
    return header, sheets.data_rows(table, header, MAX_ROWS)


def read_rows(data: bytes, filename: str) -> tuple[list[str | None], list[Row]]:
    """Header fields (None for unknown columns) and non-empty rows of a .xlsx or .csv file."""
    return _rows(sheets.read_table(data, filename))
