"""The findings as an Excel workbook (缺陷清单): a row per finding that stands, the most severe first, with
its string, figures as numbers, review status, action and pictures; a sheet of the conditions and counts;
in Chinese and English; through the API and linked from the inspection page."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from gongzhi.db import Scope, unit_of_work
from gongzhi.errors import InvalidInput
from gongzhi.modules.pv import report as rep
from gongzhi.modules.pv.models import PvFinding, PvModule
from gongzhi.modules.pv.report_xlsx import render_xlsx
from tests.conftest import World
from tests.web.helpers import as_user

from .test_plants_api import PV
from .test_report import Factory, make


def test_the_findings_workbook_lists_what_stands_with_numbers_and_pictures(
    factory: Factory, world: World, tmp_path: Path
) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        first = s.scalars(
            select(PvFinding).where(PvFinding.inspection_id == insp).order_by(PvFinding.id)
        ).first()
        assert first is not None
        # a string named in a file may open like a formula: the sheet shows it, Excel does not run it
        s.execute(
            update(PvModule)
            .where(PvModule.plant_id == first.plant_id, PvModule.module_id == first.module_id)
            .values(string="=HYPERLINK(1)")
        )
        r = rep.build_report(s, insp, store)
    book = load_workbook(io.BytesIO(render_xlsx(r, "zh-CN")))
    assert book.sheetnames == ["缺陷清单", "巡检概况"]
    sheet = book["缺陷清单"]
    rows = list(sheet.iter_rows(values_only=True))
    head = rows[0]
    assert head[:5] == ("序号", "组件", "组串", "类别", "严重度") and "红外图" in head and "可见光图" in head
    col = {name: k for k, name in enumerate(head)}
    found = rows[1:]
    # the rejected cracking left out; the reclassified one under its reviewed class; the worst first
    assert [x[col["类别"]] for x in found] == ["单个热斑电池片", "接线盒过热", "积灰污渍"]
    assert [x[col["严重度"]] for x in found] == ["S3", "S2", "S1"]
    assert [x[col["ΔT (K)"]] for x in found] == [24.5, 12.0, 4.0]  # numbers, not text
    assert found[0][col["ΔTn (K)"]] == pytest.approx(round(24.5 * 1000 / 720, 1))
    assert [x[col["复核"]] for x in found] == ["已确认", "已改类", "待复核"]
    assert found[0][col["组串"]] == "'=HYPERLINK(1)" and found[1][col["组串"]]
    assert all(isinstance(x[col["经度"]], float) and isinstance(x[col["纬度"]], float) for x in found)
    assert "IV 曲线" in found[0][col["处置建议"]]
    assert len(sheet._images) == 3  # a thermal crop a finding (the frames came with no photos)
    assert sheet.freeze_panes == "C2" and sheet.auto_filter.ref.startswith("A1:")

    overview = {row[0]: row[1] for row in book["巡检概况"].iter_rows(values_only=True) if row[0]}
    assert overview["电站"].startswith("报社屋顶 (") and overview["巡检"] == f"#{insp}"
    assert overview["辐照度 (W/m²)"] == 720.0 and overview["IEC TS 62446-3"] == "符合 IEC TS 62446-3"
    assert overview["合计"] == 1 and overview["单个热斑电池片"] == 0  # S1 column of each row: hot cell is S3

    en = load_workbook(io.BytesIO(render_xlsx(r, "en")))
    assert en.sheetnames == ["Findings", "Inspection"]
    en_head, en_first = list(en["Findings"].iter_rows(values_only=True, max_row=2))
    assert (
        en_head[:5] == ("No.", "Module", "String", "Class", "Severity") and en_first[3] == "Single hot cell"
    )
    with pytest.raises(InvalidInput, match="zh-CN or en"):
        render_xlsx(r, "fr")


def test_an_inspection_without_findings_gives_a_workbook_that_says_so(
    factory: Factory, world: World, tmp_path: Path
) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        s.execute(update(PvFinding).where(PvFinding.inspection_id == insp).values(status="rejected"))
        r = rep.build_report(s, insp, store)
    book = load_workbook(io.BytesIO(render_xlsx(r, "zh-CN")))
    assert book["缺陷清单"].max_row == 1  # the header alone
    assert any(row[0] == "未发现缺陷。" for row in book["巡检概况"].iter_rows(values_only=True))


def test_the_workbook_downloads_from_the_api_and_the_inspection_page_links_it(
    client: TestClient, world: World, factory: Factory, tmp_path: Path
) -> None:
    insp, _ = make(factory, world, tmp_path, irradiance=720)
    url = f"{PV}/inspections/{insp}/report?format=xlsx"
    r = client.get(url, headers=world.alice.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["content-disposition"].endswith(f'-{insp}-zh-CN.xlsx"')
    assert load_workbook(io.BytesIO(r.content)).sheetnames == ["缺陷清单", "巡检概况"]
    assert client.get(url + "&lang=en", headers=world.alice.headers).status_code == 200
    assert client.get(url + "&lang=fr", headers=world.alice.headers).status_code == 422
    assert client.get(url, headers=world.charlie.headers).status_code == 404  # another region's
    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/pv/inspections/{insp}").text
    assert f"/api/v1/pv/inspections/{insp}/report?format=xlsx&amp;lang=zh-CN" in page
    # the English console links the report, its PDF and the workbook in English
    english, _ = as_user(client, world.alice, lang="en")
    page = english.get(f"/pv/inspections/{insp}").text
    for fmt in ("lang=en", "format=pdf&amp;lang=en", "format=xlsx&amp;lang=en"):
        assert f"/api/v1/pv/inspections/{insp}/report?{fmt}" in page, fmt
    plant_id = client.get(f"{PV}/inspections/{insp}", headers=world.alice.headers).json()["plant_id"]
    # the plant's inspections list the report in this language, and a PDF in the other
    listed = english.get(f"/pv/plants/{plant_id}").text
    assert "/report?format=pdf&amp;lang=en" in listed and 'lang="zh-CN">PDF (中文)</a>' in listed
