"""Spreadsheets staff upload: .xlsx, or .csv in UTF-8 or GB18030 (what older Chinese tools write). The first
sheet's cells are returned as they are; each module maps its own headers."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from gongzhi.errors import msg


class SheetError(ValueError):
    """The file itself cannot be read as a table; the argument is a :func:`gongzhi.errors.msg`."""


def read_table(data: bytes, filename: str) -> list[list[object]]:
    """The rows of the file's first sheet, header included, as lists of cells (``None`` for an empty cell
    of a workbook)."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types on damaged files
            raise SheetError(msg("not a readable .xlsx workbook: %(why)s", why=str(exc))) from exc
        return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise SheetError(msg("the CSV is neither UTF-8 nor GB18030 text"))
    return [list(r) for r in csv.reader(io.StringIO(text))]


def cell_text(cell: object) -> str:
    """A cell as the text a person typed: a whole number a workbook stored as a float without its ``.0``,
    and without the apostrophe that keeps text from being run as a formula."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip().removeprefix("'")


def too_large(data: bytes, max_bytes: int | None) -> str | None:
    """The problem of a file over ``max_bytes`` (read up to one byte more, so that a cut file is not taken
    for a whole one), else ``None``."""
    if max_bytes is None or len(data) <= max_bytes:
        return None
    size = f"{max_bytes / 2**20:g} MB" if max_bytes >= 2**20 else f"{max_bytes / 1024:g} KB"
    return msg("the file is larger than %(size)s; split it", size=size)
