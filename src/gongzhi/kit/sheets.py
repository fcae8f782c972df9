"""Spreadsheets staff upload: .xlsx, or .csv in UTF-8 or GB18030 (what older Chinese tools write). The first
sheet is read as cells; each module names the fields its headers map to, and its rows come back as text by
field, with the problems of an import kept in one shape. Spreadsheets the platform writes keep every text
cell that opens like a formula as text (:func:`formula_safe`), and reading strips that guard again."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from gongzhi.errors import msg, stored

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
"""The media type of an ``.xlsx`` workbook, as every export of one is sent."""


class SheetError(ValueError):
    """The file itself cannot be read as a table; the argument is a :func:`gongzhi.errors.msg`."""


def read_table(data: bytes, filename: str) -> list[list[object]]:
    """The rows of the file's first sheet, header included, as lists of cells (``None`` for an empty cell
    of a workbook)."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        from openpyxl import load_workbook  # here: the formula guard's users need no workbook reader

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types on damaged files
            raise SheetError(msg("not a readable .xlsx workbook: %(why)s", why=str(exc))) from exc
        return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    return [list(r) for r in csv.reader(io.StringIO(csv_text(data)))]


def csv_text(data: bytes) -> str:
    """The text of a CSV file: UTF-16 when it opens with that byte order mark, else UTF-8 (with or without
    its mark), else GB18030, which Excel and WPS write on a Chinese Windows.

    Raises
    ------
    SheetError
        None of them reads it.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise SheetError(msg("the CSV is neither UTF-8 nor GB18030 text"))


FORMULA_OPENERS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet take a cell for a formula (OWASP "CSV Injection": ``=``, ``+``, ``-``, ``@``, tab
and carriage return)."""


def formula_safe(value: object) -> object:
    """``value`` for a cell of an exported sheet or CSV: text that opens like a formula gets a leading
    apostrophe, so that Excel or WPS shows it instead of running it (citizen and staff text reaches these
    files); anything else as it is. :func:`unguard` takes the apostrophe off again when the file comes
    back."""
    if isinstance(value, str) and value[:1] in FORMULA_OPENERS:
        return "'" + value
    return value


def unguard(text: str) -> str:
    """``text`` without the apostrophe :func:`formula_safe` (or a person in Excel) put before a formula
    opener; an apostrophe before anything else is the text's own."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_OPENERS else text


def cell_text(cell: object) -> str:
    """A cell as the text a person typed: a whole number a workbook stored as a float without its ``.0``,
    and without the apostrophe that keeps text from being run as a formula (:func:`unguard`)."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return unguard(str(cell).strip())


def too_large(data: bytes, max_bytes: int | None) -> str | None:
    """The problem of a file over ``max_bytes`` (read up to one byte more, so that a cut file is not taken
    for a whole one), else ``None``."""
    if max_bytes is None or len(data) <= max_bytes:
        return None
    size = f"{max_bytes / 2**20:g} MB" if max_bytes >= 2**20 else f"{max_bytes / 1024:g} KB"
    return msg("the file is larger than %(size)s; split it", size=size)


@dataclass(frozen=True)
class Row:
    number: int  # the spreadsheet's row number (the header is row 1)
    values: dict[str, str]
    headers: Mapping[str, str] = field(default_factory=dict)  # field: its header as the file wrote it

    def problem(self, column: str, message: str) -> dict[str, Any]:
        """A problem of one of this row's cells (:func:`problem`): ``column`` is the field, named in the
        report by its header in the file."""
        return problem(self.number, column, message, self.headers.get(column, ""))


def aliases(columns: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """The ``aliases`` :func:`header_fields` takes from each field's accepted headers (any case)."""
    return {a.lower(): f for f, names in columns.items() for a in names}


def header_fields(table: list[list[object]], aliases: Mapping[str, str]) -> list[str | None]:
    """The field each column of ``table``'s header row names by ``aliases`` (a header in lower case →
    its field), ``None`` for a column none names."""
    if not table:
        raise SheetError(msg("the file has no header row"))
    return [aliases.get(str(c or "").strip().lower()) for c in table[0]]


def data_rows(table: list[list[object]], fields: list[str | None], max_rows: int) -> list[Row]:
    """The rows below ``table``'s header that hold anything, each cell as text (:func:`cell_text`) under
    its column's field of ``fields`` (columns without one left out); more than ``max_rows`` is refused."""
    written = {f: str(c).strip() for f, c in zip(fields, table[0], strict=False) if f}
    rows = []
    for n, cells in enumerate(table[1:], start=2):
        values = {f: cell_text(c) for f, c in zip(fields, cells, strict=False) if f}
        if any(values.values()):
            rows.append(Row(n, values, written))
    if len(rows) > max_rows:
        raise SheetError(msg("at most %(n)s rows per file; split it", n=max_rows))
    return rows


class ImportProblem(BaseModel):
    """One problem of an imported file as the API gives it (a :func:`problem` record): ``column`` is the
    field, ``header`` the column as the file named it; ``template`` and ``params``, when set, are the
    message's catalogue id and values, for a client that shows it in its reader's language."""

    row: int
    column: str
    header: str = ""
    message: str
    template: str | None = None
    params: dict[str, str] = Field(default_factory=dict)


def problem(number: int, column: str, message: str, header: str = "") -> dict[str, Any]:
    """One problem of an imported file as its report keeps it: the row, the field ``column`` and its
    ``header`` as the file wrote it (none for a problem of the whole file), the message as
    :func:`gongzhi.errors.stored` keeps it."""
    return {"row": number, "column": column, "header": header, **stored(message)}
