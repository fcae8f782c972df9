"""The decision record PDF carries its own fonts, and its Chinese text reads back."""

from __future__ import annotations

from gongzhi.modules.village.io import pdf as vp
from tests.kit import pdftext


def _record() -> vp.Record:
    step = vp.StepLine("proposal", "2026-03-01", "9/9", "—", "张三、李四", "党支部提议 <b> & 说明\n第二行", 1)
    return vp.Record(
        "上城区",
        "新塘村",
        "丁兰街道",
        "村集体厂房出租 lease",
        "年租金150万元，每年递增1%",
        "表决通过",
        [step],
        "ab" * 32,
    )


def test_the_decision_record_embeds_its_fonts_and_names_no_cid_font() -> None:
    pdf = vp.decision_record(_record())
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert pdf.count(b"/FontFile2") >= 2
    assert b"STSong" not in pdf and b"UniGB" not in pdf
    assert set(pdftext.fonts(pdf)) >= {"F2+0", "F3+0"}


def test_the_decision_records_chinese_text_extracts_back() -> None:
    text = pdftext.text(vp.decision_record(_record()))
    for part in (
        "村级重大事务决策监督记录表",
        "丁兰街道",
        "村集体厂房出租 lease",
        "年租金150万元，每年递增1%",
    ):
        assert part in text
    assert "党支部提议 <b> & 说明第二行" in text  # markup characters escaped, the line break kept as one
    assert "\ufffd" not in text
