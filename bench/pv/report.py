"""O&M report benchmark: generation time and size of the HTML and PDF report of an inspection of the
50,000 m² synthetic plant (250 m × 200 m, about 17,000 modules) with every planted anomaly as a finding.

    .venv/bin/python bench/pv/report.py [--per-class 10] [--thumb-frames 20]

Figures, in this run:
- baseline: a one-page ReportLab PDF with one paragraph in the embedded fonts (the fixed cost of a PDF);
- build: reading plant, modules and findings from the database and making one IR thumbnail per finding
  (frames decoded from the file store);
- HTML and PDF (zh-CN and en) rendering, with their sizes; times also as multiples of the baseline;
- the findings workbook (``format=xlsx``, zh-CN), with its size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import tempfile
import time
from pathlib import Path

from gongzhi import migrate
from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.kit import pdffonts
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import report as rep
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.analytics.anomalies import class_of_abnormality, severity
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.layout import LayoutParams, generate_layout
from gongzhi.modules.pv.analytics.synthetic import synthetic_flight
from gongzhi.modules.pv.io.tiff import write_frame_tiff
from gongzhi.modules.pv.models import PvFinding, PvInspection
from gongzhi.modules.pv.report_xlsx import render_xlsx

ORIGIN = LocalFrame(114.05, 22.55)


def roof() -> list[tuple[float, float]]:
    return [ORIGIN.to_lonlat(x, y) for x, y in ((-125, -100), (125, -100), (125, 100), (-125, 100))]


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def baseline_pdf() -> float:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdffonts.register()
    style = ParagraphStyle("b", fontName=pdffonts.LATIN)

    def one() -> bytes:
        buf = io.BytesIO()
        SimpleDocTemplate(buf, pagesize=A4).build(
            [Paragraph(pdffonts.markup("光伏电站无人机巡检报告 report"), style)]
        )
        return buf.getvalue()

    one()
    return min(timed(one)[1] for _ in range(5))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--thumb-frames", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pv-report-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    store = FileStore(tmp / "files")

    layout = generate_layout(roof(), LayoutParams(), name="报社屋顶")
    flight = synthetic_flight(layout, seed=a.seed, anomalies_per_class=a.per_class)
    shas = []
    for i in range(min(a.thumb_frames, len(flight))):
        path = tmp / f"f{i}.tif"
        write_frame_tiff(path, flight.frame(i * max(1, len(flight) // a.thumb_frames)))
        shas.append(store.put(path.read_bytes(), "image/tiff", path.name).sha256)

    with unit_of_work(factory, Scope.for_system()) as s:
        region = core.create_region(s, "bench", "基准区", "BN")
        rid = region.id
    with unit_of_work(factory, Scope(region_id=rid, system=True)) as s:
        plant = pv.save_plant(s, "roof", "报社屋顶", layout, "generated", {})
        start = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)
        insp = PvInspection(
            region_id=rid,
            plant_id=plant.id,
            status="done",
            camera="M3T",
            started_at=start,
            analysed_at=start + dt.timedelta(minutes=27),
            irradiance_w_m2=820,
            wind_m_s=3,
            ambient_temp_c=24,
            frame_count=len(flight),
        )
        s.add(insp)
        s.flush()
        for k, an in enumerate(flight.anomalies):
            d = abs(an.delta_t_k)
            s.add(
                PvFinding(
                    region_id=rid,
                    inspection_id=insp.id,
                    plant_id=plant.id,
                    module_id=an.module_id,
                    anomaly_class=an.anomaly.value,
                    delta_t_k=d,
                    delta_tn_k=d * 1000 / 820,
                    t_max_c=40 + d,
                    severity=severity(d),
                    coa=class_of_abnormality(an.anomaly, d),
                    status="accepted",
                    evidence=[shas[k % len(shas)]] if shas else [],
                )
            )
        insp_id, modules = insp.id, plant.module_count

    base = baseline_pdf()
    with unit_of_work(factory, Scope(region_id=rid, system=True)) as s:
        r, t_build = timed(lambda: rep.build_report(s, insp_id, store))
    html, t_html = timed(lambda: rep.render_html(r, "zh-CN"))
    pdf_zh, t_zh = timed(lambda: rep.render_pdf(r, "zh-CN"))
    pdf_en, t_en = timed(lambda: rep.render_pdf(r, "en"))
    xlsx, t_xlsx = timed(lambda: render_xlsx(r, "zh-CN"))
    print(f"plant: {modules} modules on 250 m × 200 m (50,000 m²); findings: {len(r.findings)}")
    print(f"baseline one-page PDF: {base * 1000:.1f} ms")
    print(f"build (DB + {len(r.findings)} thumbnails): {t_build:.2f} s ({t_build / base:.0f}× baseline)")
    print(f"HTML zh-CN: {t_html:.2f} s, {len(html) / 1e6:.2f} MB")
    print(f"PDF zh-CN: {t_zh:.2f} s ({t_zh / base:.0f}× baseline), {len(pdf_zh) / 1e6:.2f} MB")
    print(f"PDF en: {t_en:.2f} s, {len(pdf_en) / 1e6:.2f} MB")
    print(
        f"findings workbook zh-CN: {t_xlsx:.2f} s ({t_xlsx / base:.0f}× baseline), {len(xlsx) / 1e6:.2f} MB"
    )
    print(f"report ready after landing (build + PDF zh-CN): {t_build + t_zh:.2f} s")
    (tmp / "report-zh.pdf").write_bytes(pdf_zh)
    print(f"files in {tmp}")


if __name__ == "__main__":
    main()
