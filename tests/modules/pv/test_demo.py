"""`gongzhi demo`'s PV plant: a generated rooftop, its first flight analysed into findings, robots."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongzhi import migrate
from gongzhi.cases.models import Alert
from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import cleaning, demo, demo_production, loop, production
from gongzhi.modules.pv.models import PvFinding, PvInspection, PvModuleResult, PvPlant
from gongzhi.registry import Registry

from .test_loop_api import default_economics


def test_the_demo_plant_is_analysed_and_has_robots(tmp_path: Path, registry: Registry) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    with unit_of_work(factory, Scope.for_system()) as s:
        core.create_region(s, "gongshu", "拱墅区", "GS")
    # at noon (11:00 Beijing time, the sun high in the south-east), not at the hour the tests run
    noon = dt.datetime(2026, 9, 29, 3, 0, tzinfo=dt.UTC)
    counts = demo.load_demo(factory, registry, FileStore(tmp_path / "files"), now=noon)
    assert counts["pv_inspections"] == 1
    with unit_of_work(factory, Scope.for_system()) as s:
        plant = s.execute(select(PvPlant)).scalar_one()
        insp = s.execute(select(PvInspection).where(PvInspection.source != "demo-history")).scalar_one()
        assert insp.status == "done" and insp.frames_done == insp.frame_count == counts["pv_frames"]
        # the wide photos came with the frames: the visible soiling shows the planted soiling
        assert insp.summary["frames_with_visible"] == insp.frame_count and insp.summary["rgb_soiling_by_zone"]
        soiled = s.execute(select(PvFinding.module_id).where(PvFinding.anomaly_class == "soiling")).scalars()
        mine = select(PvModuleResult).where(PvModuleResult.inspection_id == insp.id)
        results = {r.module_id: r.values for r in s.execute(mine).scalars()}
        assert all(results[m]["rgb_soiling_index"] > 0.2 for m in soiled)
        classes = set(s.execute(select(PvFinding.anomaly_class)).scalars())
        assert {"soiling", "single_hot_cell", "substring"} <= classes
        assert s.execute(select(func.count(Alert.id)).where(Alert.kind.like("pv%"))).scalar_one() > 0
        # half a year of production per array: SRR finds each planted rate, the IR index is calibrated
        zones = production.zone_soiling(s, plant.id)
        assert counts["pv_soiling_computed"] == len(zones) == 2
        for planted, zone in zip(demo_production.PLANTED_RATES, sorted(zones), strict=True):
            row = zones[zone]
            assert row.rate_low is not None and row.rate_high is not None and not row.stale
            assert row.rate_low <= planted <= row.rate_high, (zone, row.rate_per_day)
        cal = loop.zone_calibration(s, plant.id)
        assert cal.usable and cal.points >= 10
        # the fit is against SRR's daily profile, not the planted loss: where SRR's perfect-clean profile
        # runs above the planted loss (array A after its 76-day dry spell) the slope comes out steeper
        assert cal.slope == pytest.approx(demo_production.PLANTED_LOSS_PER_INDEX, rel=0.5) and cal.r2 > 0.5
        today = dt.date.today()
        economics = loop.zone_economics(s, plant.id, today=today, **default_economics(plant.area_m2))
        assert {z.method for z in economics} == {"production"}
        # the economics and the rain-aware forecast agree on when to clean, rain or no rain
        for z in economics:
            forecast = loop.zone_forecasts(s, plant.id, economics, today=today)[z.zone]
            assert forecast.clean_by is not None and z.advice.next_cleaning is not None
            due = max(z.advice.next_cleaning, today)  # a cleaning overdue is due today in both
            assert abs((forecast.clean_by - due).days) <= 1, (z.zone, forecast.clean_by, due)
        # the demo's history carries results only: the loop's take-off-to-report is the analysed flight's
        assert insp.analysed_at is not None and insp.started_at is not None
        assert loop.loop_metrics(s, plant.id).takeoff_to_report_min == pytest.approx(
            (insp.analysed_at - insp.started_at).total_seconds() / 60, abs=0.1
        )
        # flown just before the demo's clock (``now``), its frames timed along the flight: take-off, landing,
        # then the report
        assert insp.finished_at is not None
        assert insp.started_at <= insp.finished_at <= insp.analysed_at
        finished = (
            insp.finished_at.replace(tzinfo=dt.UTC) if insp.finished_at.tzinfo is None else insp.finished_at
        )
        assert demo.DEMO_UPLOAD_DELAY <= noon - finished < demo.DEMO_UPLOAD_DELAY + dt.timedelta(minutes=5)
        robots = cleaning.robots_of(s, plant.id)
        served = {row for r in robots for row in r.config["rows"]}
        assert len(robots) == 2 and len(served) == len(
            {m.rsplit("-", 1)[0] for m in _module_ids(s, plant.id)}
        )


def _module_ids(s: Session, plant_id: int) -> list[str]:
    from gongzhi.modules.pv.models import PvModule

    return list(s.execute(select(PvModule.module_id).where(PvModule.plant_id == plant_id)).scalars())
