"""Uploaded spreadsheets: cells as typed text, both CSV encodings, clear refusals."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from gongzhi.errors import Message
from gongzhi.kit import sheets


def test_cells_read_as_the_text_a_person_typed() -> None:
    assert sheets.cell_text(None) == ""
    assert sheets.cell_text(13800000007.0) == "13800000007"  # a workbook's number without ".0"
    assert sheets.cell_text(30.25) == "30.25"
    assert sheets.cell_text("  '=1+1 ") == "=1+1"  # the apostrophe an export put before a formula
    assert sheets.cell_text(7) == "7"
    assert sheets.cell_text("'s Gravenhage") == "'s Gravenhage"  # an apostrophe of the text's own stays


@pytest.mark.parametrize("opener", ["=", "+", "-", "@", "\t", "\r"])
def test_text_that_opens_like_a_formula_is_written_as_text_and_read_back_whole(opener: str) -> None:
    text = opener + 'HYPERLINK("http://x")'
    guarded = sheets.formula_safe(text)
    assert guarded == "'" + text
    assert sheets.unguard(str(guarded)) == text


def test_other_cells_are_written_as_they_are() -> None:
    for value in ("路灯不亮", "'quoted", "a=b", -3, 2.5, None):
        assert sheets.formula_safe(value) == value


def test_a_workbook_and_both_csv_encodings_give_the_same_rows() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["标题", "内容"])
    ws.append(["路灯", "不亮"])
    buf = io.BytesIO()
    wb.save(buf)
    csv = "标题,内容\r\n路灯,不亮\r\n"
    want = [["标题", "内容"], ["路灯", "不亮"]]
    assert sheets.read_table(buf.getvalue(), "a.xlsx") == want
    assert sheets.read_table(csv.encode("utf-8-sig"), "a.csv") == want
    assert sheets.read_table(csv.encode("gb18030"), "a.csv") == want


@pytest.mark.parametrize(
    ("data", "name", "template"),
    [
        (b"PK\x03\x04 not really a zip", "a.xlsx", "not a readable .xlsx workbook: %(why)s"),
        (b"\x81\x30\xff\xff" * 4, "a.csv", "the CSV is neither UTF-8 nor GB18030 text"),
    ],
)
def test_an_unreadable_file_is_refused_with_a_translatable_reason(
    data: bytes, name: str, template: str
) -> None:
    with pytest.raises(sheets.SheetError) as caught:
        sheets.read_table(data, name)
    why = caught.value.args[0]
    assert isinstance(why, Message) and why.template == template


def test_the_size_limit_is_worded_in_the_unit_it_was_set_in() -> None:
    assert sheets.too_large(b"x" * 10, 10) is None and sheets.too_large(b"x" * 11, None) is None
    assert sheets.too_large(b"x" * 11, 10) is not None
    assert sheets.too_large(b"x" * (20 * 2**20 + 1), 20 * 2**20) == "the file is larger than 20 MB; split it"
    assert sheets.too_large(b"x" * 4097, 4096) == "the file is larger than 4 KB; split it"
