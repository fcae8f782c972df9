"""A PV plant for ``gongzhi demo``: a 60 m × 36 m rooftop in Gongshu with a short synthetic inspection
flight (thermal frames and the wide camera's photos), analysed as an upload would be, its findings waiting
for the operator's review, two cleaning robots registered on its rows (they answer when
``gongzhi pv robot-sim`` runs against a Mosquitto broker), and half a year of synthetic production per
array with earlier inspections (:mod:`.demo_production`)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gongzhi.core.models import Region
from gongzhi.db import Scope, SessionFactory, unit_of_work
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import cleaning, demo_production, results, service
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.layout import generate_layout
from gongzhi.modules.pv.analytics.synthetic import retimed, synthetic_flight
from gongzhi.modules.pv.io import synthetic_files
from gongzhi.modules.pv.schemas import LayoutIn
from gongzhi.registry import Registry

CENTRE = LocalFrame(120.1425, 30.3178)  # a rooftop near 拱宸桥, Gongshu
WIDTH_M, DEPTH_M = 60.0, 36.0
DEMO_UPLOAD_DELAY = dt.timedelta(minutes=10)
"""Between the demo flight's landing and the demo's load, when its frames are uploaded and analysed."""


def load_demo(
    factory: SessionFactory,
    registry: Registry,
    store: FileStore,
    *,
    region: str = "gongshu",
    seed: int = 11,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Create the plant, queue and analyse its first inspection; returns counts. The flight landed
    :data:`DEMO_UPLOAD_DELAY` before ``now`` (default the time now), under the sun over the plant then."""
    with unit_of_work(factory, Scope.for_system()) as s:
        rid = s.execute(select(Region.id).where(Region.code == region)).scalar_one()
    w, d = WIDTH_M / 2, DEPTH_M / 2
    roof = [CENTRE.to_lonlat(x, y) for x, y in ((-w, -d), (w, -d), (w, d), (-w, d))]
    spec = LayoutIn(setback_m=0.5)
    layout = generate_layout(roof, service.layout_params(spec), name="报社屋顶光伏电站")
    flight = synthetic_flight(layout, seed=seed, anomalies_per_class=1)
    # flown just now: landed DEMO_UPLOAD_DELAY before the demo loads, its frames timed along the flight
    now = now or dt.datetime.now(dt.UTC)
    took_off = now - DEMO_UPLOAD_DELAY - dt.timedelta(seconds=flight.plan.total_time_s)
    flight = retimed(flight, took_off)  # under the sun of that moment, which the analysis works out
    scope = Scope(region_id=rid, system=True, username="demo")
    with unit_of_work(factory, scope) as s:
        plant = service.save_plant(s, "gs-roof-1", "报社屋顶光伏电站", layout, "generated", spec.model_dump())
        rows = sorted({cleaning.row_of(m.id) for m in layout.modules})
        half = len(rows) // 2 or 1
        length = round(WIDTH_M - 1.0, 1)
        cleaning.register_robot(s, plant, "R1", dict.fromkeys(rows[:half], length))
        if rows[half:]:
            cleaning.register_robot(s, plant, "R2", dict.fromkeys(rows[half:], length))
        plant_id = plant.id
    # the history first, so the flight below stays the plant's latest inspection
    history = demo_production.load_production(factory, scope, plant_id, today=dt.date.today(), seed=seed)
    with tempfile.TemporaryDirectory(prefix="gongzhi-pv-demo-") as tmp:
        folder = Path(tmp)
        list(synthetic_files.write_frames(flight, folder, range(len(flight)), visible=True))
        frames = sorted(folder.glob("frame-*_T.tif"))
        photos = sorted(folder.glob("frame-*_W.jpg"))
        with unit_of_work(factory, scope) as s:
            handles = [(p.name, p.open("rb")) for p in [*frames, *photos]]
            try:
                conditions = service.FlightConditions(
                    camera=flight.camera.key,
                    irradiance_w_m2=flight.conditions.irradiance_w_m2,
                    ambient_temp_c=flight.conditions.ambient_c,
                    wind_m_s=2.5,
                    started_at=took_off,
                )
                service.create_inspection(s, store, plant_id, handles, conditions)
            finally:
                for _name, fh in handles:
                    fh.close()
    analysed = results.process_queued(factory, registry, store)
    counts = {"pv_plants": 1, "pv_frames": len(frames), "pv_inspections": len(analysed), "pv_robots": 2}
    return counts | history
