"""The O&M report: HTML and PDF in Chinese and English, map, findings, thumbnails, IEC conditions, fonts
embedded; a report of an unknown or unfinished inspection is refused."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi import errors
from gongzhi.db import Scope, unit_of_work
from gongzhi.errors import InvalidInput, NotFound
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import report as rep
from gongzhi.modules.pv import report_xlsx
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.analytics.frames import FrameMeta, ThermalFrame
from gongzhi.modules.pv.analytics.modules import SUN_REFLECTIONS_NOTE
from gongzhi.modules.pv.io.tiff import write_frame_tiff
from gongzhi.modules.pv.models import PvFinding, PvInspection, PvModule
from gongzhi.modules.pv.schemas import LayoutIn, PlantCreate
from tests.conftest import World
from tests.kit import pdftext

from .shapes import rectangle

Factory = sessionmaker[Session]
T0 = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)


def outline() -> dict[str, Any]:
    ring = [list(p) for p in rectangle(30, 20)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def frame_bytes(tmp: Path) -> bytes:
    t = np.full((512, 640), 35.0, dtype=np.float32)
    t[200:206, 300:306] = 61.0
    path = tmp / "f.tif"
    write_frame_tiff(path, ThermalFrame(t, FrameMeta(source="f.tif", width_px=640, height_px=512)))
    return path.read_bytes()


def make(
    factory: Factory, world: World, tmp: Path, *, irradiance: float, status: str = "done"
) -> tuple[int, FileStore]:
    store = FileStore(tmp / "files")
    sha = store.put(frame_bytes(tmp), "image/tiff", "f.tif").sha256
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        plant = pv.create_plant(
            s,
            PlantCreate(
                code=f"r-{uuid.uuid4().hex[:6]}",
                name="报社屋顶",
                polygon=outline(),
                layout=LayoutIn(setback_m=0.5),
            ),
        )
        mods = s.execute(select(PvModule.module_id).where(PvModule.plant_id == plant.id)).scalars().all()
        insp = PvInspection(
            region_id=world.a,
            plant_id=plant.id,
            status=status,
            camera="M3T",
            started_at=T0,
            analysed_at=T0 + dt.timedelta(minutes=26),
            irradiance_w_m2=irradiance,
            wind_m_s=3.0,
            ambient_temp_c=21.0,
            frame_count=42,
        )
        s.add(insp)
        s.flush()
        for mod, cls, dtk, sev, coa, status_ in (
            (mods[0], "single_hot_cell", 24.5, "S3", 3, "accepted"),
            (mods[1], "soiling", 4.0, "S1", 2, "new"),
            (mods[2], "substring", 12.0, "S2", 2, "reclassified"),
            (mods[3], "cracking", 6.0, "S1", 2, "rejected"),
        ):
            s.add(
                PvFinding(
                    region_id=world.a,
                    inspection_id=insp.id,
                    plant_id=plant.id,
                    module_id=mod,
                    anomaly_class=cls,
                    delta_t_k=dtk,
                    delta_tn_k=dtk * 1000 / irradiance,
                    t_max_c=40 + dtk,
                    severity=sev,
                    coa=coa,
                    status=status_,
                    reviewed_class="junction_box" if status_ == "reclassified" else None,
                    evidence=[sha],
                    details={"pixel": [203, 303]},
                )
            )
        return insp.id, store


def test_html_report_in_chinese_and_english(factory: Factory, world: World, tmp_path: Path) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        r = rep.build_report(s, insp, store)
    assert [f.anomaly_class for f in r.findings] == [
        "single_hot_cell",
        "junction_box",
        "soiling",
    ]  # rejected left out
    assert all(f.thumbnail_png and f.thumbnail_png.startswith(b"\x89PNG") for f in r.findings)
    assert r.compliant is True and r.duration_min == 26.0 and r.manual_min == pytest.approx(0.7, abs=0.05)
    zh = rep.render_html(r, "zh-CN")
    assert "光伏电站无人机巡检报告" in zh and "单个热斑电池片" in zh and "接线盒过热" in zh
    assert "符合 IEC TS 62446-3" in zh and zh.count('data-m="') == r.module_count
    assert zh.count('fill="#b00020"') == 2  # the S3 module is red on the map, and so is its legend's swatch
    # the legend names the colours the map uses, and only those
    assert "故障 S3（ΔT ≥ 20 K）" in zh and "积灰污渍" in zh and "无缺陷或未见" in zh
    assert "植被遮挡" not in zh and "故障 S1" not in zh
    assert zh.count("data:image/png;base64,") == 3
    en = rep.render_html(r, "en")
    assert "PV plant drone inspection report" in en and "Single hot cell" in en and "IV curve" in en
    statuses = {f.status for f in r.findings}
    assert "<td>new</td>" not in zh + en and all(f"<td>{status}</td>" not in zh for status in statuses)
    assert any(f"<td>{rep.review_name(x, 'zh-CN')}</td>" in zh for x in statuses)
    with pytest.raises(InvalidInput, match="zh-CN or en"):
        rep.render_html(r, "fr")
    # what the findings cost: the S3 hot cell 60 % of its module, the S2 junction box 30 %, soiling none
    share = 100 * 0.9 / r.module_count
    assert f"缺陷估算损失：约合 0.9 块组件的功率（占电站 {share:.2f} %）" in zh
    assert "遮挡、积灰、植被 1 项未计入" in zh and "Shade, soiling and vegetation (1) are not in it" in en
    assert f"about 0.9 modules&#39; worth of power ({share:.2f} % of the plant)" in en
    assert ("", r.loss_text("zh-CN")) in report_xlsx.overview_lines(r, "zh-CN")


def test_low_irradiance_is_flagged_not_compliant(factory: Factory, world: World, tmp_path: Path) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=450)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        r = rep.build_report(s, insp, store)
    assert r.compliant is False
    assert "不符合 IEC TS 62446-3" in rep.render_html(r, "zh-CN")


def _pdf_text_fonts(pdf: bytes) -> set[bytes]:
    return set(re.findall(rb"/BaseFont\s*/([A-Z]{6}\+\w+)", pdf))


def test_pdf_report_embeds_its_fonts(factory: Factory, world: World, tmp_path: Path) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        r = rep.build_report(s, insp, store)
    pdf = rep.render_pdf(r, "zh-CN")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert pdf.count(b"/FontFile2") >= 2  # both TrueType subsets are inside the file
    names = _pdf_text_fonts(pdf)
    assert any(b"DroidSansFallback" in n for n in names) and any(b"DejaVuSans" in n for n in names)
    assert b"/Subtype /Image" in pdf or b"/Subtype/Image" in pdf  # the IR thumbnails
    en = rep.render_pdf(r, "en")
    assert en.startswith(b"%PDF-") and len(en) > 5000
    said = " ".join(pdftext.text(en).split())
    assert "Fault S3 (ΔT ≥ 20 K)" in said and "No finding" in said, said[:2000]  # the legend


def test_reports_of_unknown_or_running_inspections_are_refused(
    factory: Factory, world: World, tmp_path: Path
) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=720, status="running")
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        with pytest.raises(InvalidInput, match="is running"):
            rep.build_report(s, insp, store)
        with pytest.raises(NotFound):
            rep.build_report(s, 999_999, store)


def test_the_report_says_how_much_of_the_plant_the_flight_covered(
    factory: Factory, world: World, tmp_path: Path
) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        assert rep.build_report(s, insp, store).coverage("en") == "–"  # analysed before coverage was kept
        row = s.get_one(PvInspection, insp)
        row.summary = {**row.summary, "modules_seen": 1, "frames_used": 40, "frames_refused_count": 2}
        s.flush()
        r = rep.build_report(s, insp, store)
    seen = f"1 of {r.module_count} ({100 / r.module_count:.1f} %)"
    assert r.coverage("en") == f"modules {seen}; frames 40 of 42 analysed; 2 left out at the upload"
    zh = rep.render_html(r, "zh-CN")
    assert f"组件 1 / {r.module_count}" in zh and "帧 40 / 42 已分析；上传时剔除 2 帧" in zh
    said = pdftext.text(rep.render_pdf(r, "en"))
    assert "frames 40 of 42 analysed; 2 left out at the upload" in said, said[:2000]


def test_the_report_says_what_named_the_anomalies(factory: Factory, world: World, tmp_path: Path) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        rules = rep.build_report(s, insp, store)
        s.get_one(PvInspection, insp).classifier = "learned"  # as stored before min_confidence was
        s.flush()
        learned = rep.build_report(s, insp, store)
        s.get_one(PvInspection, insp).min_confidence = 0.95
        s.flush()
        surer = rep.build_report(s, insp, store)
    assert '异常分类</th><td colspan="5">按规则判定</td>' in rep.render_html(rules, "zh-CN")
    assert "组件图像网络置信度不低于 0.8 时改判类别" in rep.render_html(learned, "zh-CN")
    assert "组件图像网络置信度不低于 0.95 时改判类别" in rep.render_html(surer, "zh-CN")
    said = pdftext.text(rep.render_pdf(learned, "en"))
    assert "renamed by the crop network where it is at least 0.8 confident" in said, said[:2000]
    assert "by the rules" in pdftext.text(rep.render_pdf(rules, "en"))


def test_the_report_warns_when_the_sun_did_not_explain_the_flights_glints(
    factory: Factory, world: World, tmp_path: Path
) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        quiet = rep.build_report(s, insp, store)
        # the notes as the flight's summary keeps them (outcome.FlightOutcome.summary)
        notes = [errors.stored(n) for n in ("an older note, kept as text", SUN_REFLECTIONS_NOTE)]
        s.get_one(PvInspection, insp).summary = {"notes": notes}
        s.flush()
        warned = rep.build_report(s, insp, store)
    assert not quiet.sun_reflections and warned.sun_reflections
    assert "阳光反射" not in rep.render_html(quiet, "zh-CN")
    assert "⚠ 阳光反射：" in rep.render_html(warned, "zh-CN") and "倾角和朝向或相机的时钟" in rep.render_html(
        warned, "zh-CN"
    )
    said = " ".join(pdftext.text(rep.render_pdf(warned, "en")).split())
    assert "Sun reflections: the sun worked out from the frames' time and place" in said, said[:3000]
    assert "Sun reflections" not in pdftext.text(rep.render_pdf(quiet, "en"))


def test_a_delta_t_that_is_only_a_lower_bound_is_reported_as_at_least(
    factory: Factory, world: World, tmp_path: Path
) -> None:
    insp, store = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        plain = rep.build_report(s, insp, store)
        cell = s.scalars(select(PvFinding).where(PvFinding.anomaly_class == "single_hot_cell")).one()
        cell.details = {**cell.details, "spot_px": 5.1, "delta_t_lower_bound": True}
        s.flush()
        bounded = rep.build_report(s, insp, store)
    assert "<td>≥ " not in rep.render_html(plain, "zh-CN") and "测温光斑" not in rep.render_html(
        plain, "zh-CN"
    )
    html = rep.render_html(bounded, "zh-CN")
    assert "<td>≥ 24.5 K</td>" in html and "<td>4.0 K</td>" in html  # the soiling's is measured in full
    assert "缺陷小于热像仪的测温光斑（3×3 像素）" in html
    said = pdftext.text(rep.render_pdf(bounded, "en"))
    assert "≥ 24.5 K" in said and "smaller than the camera's measurement spot" in said, said[:2000]


def test_the_ir_thumbnail_spans_the_findings_module_so_a_few_kelvin_show() -> None:
    """A 3 K hot cell on a module 25 K warmer than the roof: around the module's centre the colours span
    the module's temperatures and the cell stands out; over the whole crop it would hardly show."""
    from PIL import Image

    temps = np.full((200, 300), 20.0)
    temps[70:130, 120:150] = 45.0  # a module, 30 × 60 px
    temps[80:85, 125:130] = 48.0  # a hot cell

    def shown(png: bytes) -> np.ndarray:
        brightness: np.ndarray = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float).sum(
            axis=2
        )
        return brightness

    near = shown(rep.thumbnail_png(temps, [100, 135]))  # 128 px window from (36, 71): 1 px a pixel
    cell, body = near[82 - 36, 127 - 71], near[120 - 36, 140 - 71]
    assert cell - body > 100
    whole = shown(rep.thumbnail_png(temps))  # no module centre: the crop's range, around the hottest pixel
    assert whole[82 - 16, 127 - 61] - whole[120 - 16, 140 - 61] < 0.5 * (cell - body)
    temps[95:105, 130:140] = np.nan  # pixels without a temperature (a frame's holes), or a pixel outside
    assert shown(rep.thumbnail_png(temps, [100, 135])).shape == (128, 128)
    assert shown(rep.thumbnail_png(temps, [500, 900])).shape == (128, 128)


def test_the_findings_kml_shows_the_finding_that_stands_where_a_worse_one_was_rejected(
    factory: Factory, world: World, tmp_path: Path
) -> None:
    from gongzhi.modules.pv import results

    from .kml_check import placemarks, valid

    insp, _ = make(factory, world, tmp_path, irradiance=720)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        cell = s.scalars(select(PvFinding).where(PvFinding.anomaly_class == "single_hot_cell")).one()
        # a worse finding on the same module, which the operator rejected as a reflection
        worse = PvFinding(region_id=world.a, inspection_id=insp, plant_id=cell.plant_id,
                          module_id=cell.module_id, anomaly_class="hot_spot", delta_t_k=31.0, delta_tn_k=43.1,
                          t_max_c=71.0, severity="S3", coa=3, status="rejected")  # fmt: skip
        s.add(worse)
        s.flush()
        data = results.results_kml(s, insp)
        features = results.results_geojson(s, insp)["features"]
    valid(data)
    folders = placemarks(data)
    assert [p.name for p in folders["单个热斑电池片 (1)"]] == [cell.module_id]
    assert not any(name.startswith("局部热点") for name in folders)
    # the results keep the module's worst finding, with that finding's review status
    (row,) = [f["properties"] for f in features if f["properties"]["module_id"] == cell.module_id]
    assert (row["anomaly_class"], row["finding_status"]) == ("hot_spot", "rejected")


def test_module_outlines_are_read_in_one_pass_as_each_rows_json_would_give_them(
    factory: Factory, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        plant = pv.create_plant(
            s,
            PlantCreate(code=f"o-{uuid.uuid4().hex[:6]}", name="屋顶", polygon=outline(), layout=LayoutIn()),
        )
        rows = s.execute(
            select(PvModule.module_id, PvModule.outline)
            .where(PvModule.plant_id == plant.id)
            .order_by(PvModule.id)
        ).all()
        origin = pv.plant_origin(plant)
        expected = [(mid, [origin.to_xy(lon, lat) for lon, lat in corners]) for mid, corners in rows]
        with monkeypatch.context() as m:
            m.setattr("gongzhi.modules.pv.report.json.loads", None)  # the one pass decodes no JSON
            got = rep.outlines_xy(s, plant)

        def pairs(mapped: rep.ModuleMap) -> list[tuple[str, list[tuple[float, float]]]]:
            return [(mid, mapped.outline(k)) for k, mid in enumerate(mapped.ids)]

        assert pairs(got) == expected and len(got) == plant.module_count > 10  # the same floats, bit for bit
        assert set(got.fills) == {rep.COLOURS["none"]}
        # an outline that is not [lon, lat] pairs (an altitude with each corner) is read row by row
        odd = s.execute(
            select(PvModule).where(PvModule.module_id == rows[1][0], PvModule.plant_id == plant.id)
        )
        module = odd.scalar_one()
        module.outline = [[lon, lat, 12.5] for lon, lat in rows[1][1]]
        s.flush()
        assert pairs(rep.outlines_xy(s, plant)) == expected


def test_the_module_map_draws_each_module_where_it_is_and_links_only_the_noteworthy_ones() -> None:
    """A module without a finding is a bare path with its id (the console's script gives it a tooltip and
    its link); one with a finding, or marked, is a link with its title; each corner within the map's
    rounding (a twentieth of a metre) of where it is, north up."""
    rng = np.random.default_rng(5)
    plain = rep.COLOURS["none"]
    modules: list[tuple[str, list[tuple[float, float]], str]] = []
    for k in range(40):
        x, y, a = rng.uniform(0, 250), rng.uniform(0, 200), rng.uniform(0, np.pi)
        ex, ey = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
        corners = [
            np.array([x, y]) + su * 0.5 * ex + sv * 1.0 * ey
            for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        ]
        quad = [(float(c[0]), float(c[1])) for c in corners]
        modules.append((f"A-{k:02d}" if k else 'A&"<0>', quad, plain if k % 4 else "#b00020"))
    mapped = rep.ModuleMap.of(modules)
    assert mapped.outline(3) == modules[3][1] and mapped.fills == [f for _, _, f in modules]
    assert mapped.recoloured(["#000000"] * len(modules)).fills == ["#000000"] * len(modules)
    with pytest.raises(ValueError, match="one fill a module"):
        mapped.recoloured([plain])
    svg = rep.map_svg(
        mapped,
        link="/pv/plants/7/modules/{id}",
        titles={"A-01": "A-01 · S1"},
        marked={"A-02"},
    )

    xs = [x for _, q, _ in modules for x, _ in q]
    ys = [y for _, q, _ in modules for _, y in q]
    x0, y1 = min(xs), max(ys)
    shapes = re.findall(r'<path d="M([^"]+)z" data-m="([^"]+)"', svg)
    assert len(shapes) == len(modules)
    drawn = {}
    for d, key in shapes:
        start, steps = d.split("l")
        corner = np.array([float(v) for v in start.split()])
        corners = [corner]
        for dx, dy in zip(*[iter(float(v) for v in steps.split())] * 2, strict=True):
            corners.append(corners[-1] + (dx, dy))
        drawn[key] = np.array(corners)
    for module_id, quad, _ in modules:
        want = np.array([(x - x0 + 2.0, y1 - y + 2.0) for x, y in quad])
        assert np.abs(drawn[escape(module_id)] - want).max() <= 0.05 + 1e-9

    assert 'data-link="/pv/plants/7/modules/{id}"' in svg
    assert '<path d="' in svg and svg.count("<a href=") == 10 + 1  # every fourth has a finding, A-02 marked
    assert (
        '<a href="/pv/plants/7/modules/A%26%22%3C0%3E"><path' in svg
        and 'data-m="A&amp;&quot;&lt;0&gt;">' in svg
    )
    assert 'data-m="A-01" data-t="A-01 · S1"/>' in svg  # a bare module's title, for the script
    assert "<title>A-04</title>" in svg and "<title>A-03</title>" not in svg
    held = re.findall(r'<g fill="([^"]+)" stroke="#000000"[^>]*>(.*?)</g>', svg)
    assert held == [(plain, held[0][1])] and 'data-m="A-02"' in held[0][1]
    assert svg.rindex('stroke="#000000"') > svg.rindex('stroke="#4a5a6a"')  # the marked drawn last
