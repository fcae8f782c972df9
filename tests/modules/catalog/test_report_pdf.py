"""The catalog audit PDF carries its own fonts, and its Chinese text reads back."""

from __future__ import annotations

from dataclasses import replace

from gongzhi.modules.catalog.io import report as rep
from tests.kit import pdftext


def _data() -> rep.ReportData:
    return rep.ReportData(
        region="上城区",
        run_id=7,
        run_at="2026-03-01 09:00",
        applications=12,
        datasets=30,
        problems=2,
        records_with_problems=2,
        fixed=1,
        by_rule=[rep.RuleCount("R01", "数据资源未关联信息系统", "error", 1, 0)],
        by_department=[rep.DepartmentCount("数据资源管理局", 3, 10, 2)],
        findings=[
            rep.FindingRow(
                "城市大脑 <v2>", "数据资源管理局", "R01", "error", "缺少更新频率 & 共享属性", "open"
            )
        ],
    )


def test_the_audit_pdf_embeds_its_fonts_and_names_no_cid_font() -> None:
    pdf = rep.write_pdf(_data())
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert pdf.count(b"/FontFile2") >= 2
    assert b"STSong" not in pdf and b"UniGB" not in pdf


def test_the_audit_pdfs_chinese_text_extracts_back() -> None:
    text = pdftext.text(rep.write_pdf(_data(), rep.Layout(footer="审核依据 GB/T 21063.3")))
    for part in (
        "资源目录智能审核报告",
        "审核信息系统 12 个、数据资源 30 个",
        "数据资源未关联信息系统",
        "城市大脑 <v2>",
        "缺少更新频率 & 共享属性",
        "目录名称",
        "错误（必须整改）",
        "待整改",
        "审核依据 GB/T 21063.3",
    ):
        assert part in text, part
    assert "\ufffd" not in text and "record" not in text and "By rule" not in text


def test_the_english_audit_pdf_has_english_labels_only() -> None:
    data = replace(_data(), lang="en", by_rule=[rep.RuleCount("R01", "Dataset without a system", "error", 1)])
    text = pdftext.text(rep.write_pdf(data))
    for part in ("Resource catalog audit report", "12 information systems and 30 data resources", "Record"):
        assert part in text, part
    assert "error (must fix)" in text and "open" in text
    assert "资源目录智能审核报告" not in text and "目录名称" not in text and "待整改" not in text
