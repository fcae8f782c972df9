"""Production data and inspection history for the demo plant, so ``gongzhi demo`` shows soiling measured
from production and an IR index calibrated against it.

Each array gets half a year of 15-minute synthetic production (:func:`.analytics.production.
synthetic_production`: pvlib clear-sky irradiance, daily cloudiness, a planted soiling rate reset by washing
rains), imported as a CSV through the same path as an operator's file. Five earlier monthly inspections
(source ``demo-history``) carry per-module soiling indices planted as the zone's soiling loss divided by
:data:`PLANTED_LOSS_PER_INDEX`, with 10 % noise; the calibration should find that slope again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import select

from gongzhi.db import Scope, SessionFactory, unit_of_work
from gongzhi.modules.pv import production, service
from gongzhi.modules.pv.analytics.production import synthetic_production
from gongzhi.modules.pv.io.production import write_production_csv
from gongzhi.modules.pv.models import PvInspection, PvModule, PvModuleResult

PLANTED_RATES = (0.0025, 0.0015)
"""Soiling rate of the demo's arrays A, B … in turn [day⁻¹]."""
PLANTED_LOSS_PER_INDEX = 0.6
HISTORY_DAYS_AGO = (150, 120, 90, 60, 30)
SOURCE = "demo-history"
KW_PER_MODULE = 0.4


def load_production(
    factory: SessionFactory, scope: Scope, plant_id: int, *, today: dt.date, days: int = 180, seed: int = 11
) -> dict[str, Any]:
    """Import the arrays' production, add the inspection history, run SRR as the worker would."""
    start = today - dt.timedelta(days=days)
    ratios: dict[str, dict[dt.date, float]] = {}
    with unit_of_work(factory, scope) as s:
        plant = service.get_plant(s, plant_id)
        origin = service.plant_origin(plant)
        modules = list(s.execute(select(PvModule).where(PvModule.plant_id == plant_id)).scalars())
        arrays = sorted({m.array for m in modules})
        for i, zone in enumerate(arrays):
            count = sum(m.array == zone for m in modules)
            samples, ratio = synthetic_production(
                latitude=origin.lat0_deg,
                longitude=origin.lon0_deg,
                start=start,
                days=days,
                rate_per_day=PLANTED_RATES[i % len(PLANTED_RATES)],
                capacity_kw=count * KW_PER_MODULE,
                rain_days_per_month=1.0,
                seed=seed + i,
            )
            ratios[zone] = {d.date(): float(v) for d, v in ratio.items()}
            production.import_production(s, plant_id, write_production_csv(samples, zone), f"{zone}.csv")
        _history(s, plant.region_id, plant_id, modules, ratios, today, seed)
    computed = production.recompute_stale(factory)
    return {"pv_production_zones": len(arrays), "pv_soiling_computed": len(computed)}


def _history(
    s: Any,
    region_id: int,
    plant_id: int,
    modules: list[PvModule],
    ratios: dict[str, dict[dt.date, float]],
    today: dt.date,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    for ago in HISTORY_DAYS_AGO:
        day = today - dt.timedelta(days=ago)
        when = dt.datetime.combine(day, dt.time(3, 0), tzinfo=dt.UTC)  # 11:00 in Hangzhou
        insp = PvInspection(
            region_id=region_id,
            plant_id=plant_id,
            camera="M3T",
            source=SOURCE,
            status="done",
            started_at=when,
            finished_at=when,
            summary={"history": "synthetic, for the demo's calibration"},
        )
        s.add(insp)
        s.flush()
        for m in modules:
            loss = 1.0 - ratios[m.array].get(day, 1.0)
            index = max(0.0, loss / PLANTED_LOSS_PER_INDEX * rng.normal(1.0, 0.1))
            s.add(
                PvModuleResult(
                    region_id=region_id, inspection_id=insp.id, module_id=m.module_id, soiling_index=index
                )
            )
    s.flush()
