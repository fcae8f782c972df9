"""Soiling economics per zone (array): the rate from the soiling index between inspections or since the
zone's last cleaning, else the assumed plant rate; T* and "clean now" per zone, in the console and the
report (HTML zh-CN and en, PDF)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv import loop, report
from gongzhi.modules.pv.analytics import soiling
from gongzhi.modules.pv.models import PvInspection, PvModule, PvModuleResult
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user

from .test_loop_api import analysed, default_economics

D = dt.date


def test_the_rate_comes_from_the_index_change_or_the_days_since_cleaning() -> None:
    seen = [(D(2026, 5, 1), 0.02), (D(2026, 5, 21), 0.06)]
    assert soiling.index_rate(seen, None) == pytest.approx((0.002, "inspections"))
    # cleaned in between: the index starts again from zero at the cleaning
    assert soiling.index_rate(seen, D(2026, 5, 11)) == pytest.approx((0.006, "since cleaning"))
    assert soiling.index_rate(seen[:1], None) is None  # one inspection gives no rate
    assert soiling.index_rate([(D(2026, 5, 1), 0.06), (D(2026, 5, 9), 0.01)], None) is None  # rain
    assert soiling.index_rate([(D(2026, 5, 1), 0.02), (D(2026, 5, 1), 0.05)], None) is None  # same day


def rain_on(when: str, mm: float) -> pd.Series:
    """Hourly rain at the plant, July–August 2026, dry but for ``mm`` in the hour starting ``when``."""
    index = pd.date_range("2026-07-01", "2026-08-31 23:00", freq="h", tz="Asia/Shanghai")
    rain = pd.Series(0.0, index=index)
    rain[pd.Timestamp(when, tz="Asia/Shanghai")] = mm
    return rain


def test_soiling_starts_again_when_a_washing_rains_grace_period_ends() -> None:
    rain = rain_on("2026-08-10 15:00", 10.0)  # over Kimber's 6 mm: washed, then 14 damp days
    start = D(2026, 7, 2)
    assert soiling.soiling_since(rain, start=start, today=D(2026, 8, 9)) == start  # not fallen yet
    # known from the afternoon it fell, the grace period runs on past today
    assert soiling.soiling_since(rain, start=start, today=D(2026, 8, 10)) == D(2026, 8, 25)
    assert soiling.soiling_since(rain, start=start, today=D(2026, 8, 30)) == D(2026, 8, 25)
    assert soiling.soiling_since(rain_on("2026-08-10 15:00", 5.0), start=start, today=D(2026, 8, 30)) == start
    assert soiling.soiling_since(None, start=start, today=D(2026, 8, 30)) == start
    # a cleaning after the grace period counts from the cleaning
    assert soiling.soiling_since(rain, start=D(2026, 8, 28), today=D(2026, 8, 30)) == D(2026, 8, 28)
    # the forecast from the old cleaning says the loss began then, within a day's soiling
    forecast = soiling.zone_forecast(rain, rate_per_day=0.002, start=start, today=D(2026, 8, 30))
    assert forecast.loss_today == pytest.approx(0.002 * 5, abs=0.002)


def test_the_economics_count_the_lost_revenue_from_the_last_washing_rain() -> None:
    kwargs = {
        "zones": {"A": 100},
        "seen": {"A": [(D(2026, 7, 2), 0.0)]},
        "cleaned": {},
        "cleaning_cost": 2_000,
        "energy_kwh_per_day": 1_500,
        "tariff_per_kwh": 0.4,
        "assumed_rate_per_day": 0.002,
        "today": D(2026, 8, 30),
    }
    rain = rain_on("2026-08-10 15:00", 10.0)
    [dry] = soiling.zone_economics(**kwargs)  # type: ignore[arg-type]
    [wet] = soiling.zone_economics(**kwargs, rainfall_hourly_mm=rain)  # type: ignore[arg-type]
    assert dry.last_cleaning == wet.last_cleaning == D(2026, 7, 2)  # where the forecast starts
    assert dry.advice.clean_now is True and wet.soiling_since == D(2026, 8, 25)
    assert wet.advice.clean_now is False
    assert wet.advice.revenue_lost_yuan < dry.advice.revenue_lost_yuan / 50
    # the economics' next cleaning is the forecast's clean-by day
    level = wet.advice.loss_at_cleaning
    forecast = soiling.zone_forecast(
        rain, rate_per_day=0.002, start=wet.last_cleaning, today=D(2026, 8, 30), clean_level=level
    )
    assert forecast.clean_by is not None and wet.advice.next_cleaning is not None
    assert abs((forecast.clean_by - wet.advice.next_cleaning).days) <= 1
    # within the grace period nothing is lost yet, and the next cleaning counts from its end
    kwargs["today"] = D(2026, 8, 12)
    [damp] = soiling.zone_economics(**kwargs, rainfall_hourly_mm=rain)  # type: ignore[arg-type]
    assert damp.advice.revenue_lost_yuan == 0 and damp.soiling_since == D(2026, 8, 25)
    assert damp.advice.next_cleaning == wet.advice.next_cleaning


def test_zones_share_cost_and_energy_and_get_their_own_advice() -> None:
    zones = soiling.zone_economics(
        zones={"A": 300, "B": 100},
        seen={"A": [(D(2026, 3, 1), 0.0), (D(2026, 4, 10), 0.08)]},
        cleaned={},
        cleaning_cost=20_000,
        energy_kwh_per_day=15_000,
        tariff_per_kwh=0.4,
        assumed_rate_per_day=0.002,
        today=D(2026, 4, 20),
    )
    a, b = zones
    assert (a.zone, a.energy_share, a.rate_source) == ("A", 0.75, "inspections")
    assert a.rate_per_day == pytest.approx(0.002) and a.soiling_index == 0.08
    # shares cancel in T*: the 5 MWp example of domain/pv.md §6 gives 57.7 days in every zone at 0.2 %/day
    assert a.advice.optimal_interval_days == pytest.approx(57.7, abs=0.1)
    assert a.advice.cleaning_cost_yuan == 15_000 and a.last_cleaning == D(2026, 3, 1)
    assert a.advice.clean_now is False and a.advice.next_cleaning == D(2026, 4, 28)
    assert (b.rate_source, b.soiling_index, b.last_cleaning) == ("assumed", None, D(2026, 4, 20))
    assert math.isclose(b.advice.optimal_interval_days, a.advice.optimal_interval_days)


def test_zone_economics_on_the_plant_page_and_in_the_report(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    ctx = analysed(client, world, factory, registry, tmp_path)
    plant_id, first = ctx["plant"]["id"], ctx["inspection"]
    # a second inspection 30 days after the first: every module 0.09 dirtier
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        old = s.get_one(PvInspection, first)
        t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        old.started_at = t0
        later = PvInspection(
            region_id=old.region_id,
            plant_id=plant_id,
            camera="M3T",
            status="done",
            started_at=t0 + dt.timedelta(days=30),
            analysed_at=t0 + dt.timedelta(days=30),
            summary={},
        )
        s.add(later)
        s.flush()
        # the four-frame flight saw part of the roof: the rest is filled in as seen clean
        before = {}
        for r in s.execute(select(PvModuleResult).where(PvModuleResult.inspection_id == first)).scalars():
            r.soiling_index = before[r.module_id] = r.soiling_index or 0.0
        ids = s.execute(select(PvModule.module_id).where(PvModule.plant_id == plant_id)).scalars()
        for m in ids:
            if m not in before:
                s.add(PvModuleResult(region_id=world.a, inspection_id=first, module_id=m, soiling_index=0.0))
            index = before.get(m, 0.0) + 0.09
            s.add(PvModuleResult(region_id=world.a, inspection_id=later.id, module_id=m, soiling_index=index))
        second = later.id
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        [zone] = loop.zone_economics(
            s, plant_id, today=dt.date.today(), **default_economics(ctx["plant"]["area_m2"])
        )
        assert zone.zone == "A" and zone.rate_source == "inspections"
        assert zone.rate_per_day == pytest.approx(0.003, abs=1e-4)  # 0.09 over 30 days
        first_only = loop.zone_economics(
            s, plant_id, today=dt.date.today(), upto_inspection=first, **default_economics(100.0)
        )
        assert first_only[0].rate_source == "assumed"  # the report of the first inspection knows no more

    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{plant_id}?cost=20000&tariff=0.4&energy=15000&rate=0.2")
    assert page.status_code == 200
    assert "分区（阵列）" in page.text and "两次巡检对比" in page.text and "0.3 <span" in page.text

    url = f"/api/v1/pv/inspections/{second}/report"
    zh = client.get(url, headers=world.alice.headers).text
    assert "分区积灰与清洗经济性" in zh and "两次巡检对比" in zh and "0.30 %" in zh
    en = client.get(url + "?lang=en", headers=world.alice.headers).text
    assert "Soiling and cleaning economics per zone" in en and "last two inspections" in en
    pdf = client.get(url + "?format=pdf&lang=en", headers=world.alice.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        built = report.build_report(s, second)
        assert [row[0] for row in built.zone_rows("en")] == ["Zone (array)", "A"]
        assert "Visible soiling index (this flight)" not in built.zone_rows("en")[0]  # no photos, no column
        s.get_one(PvInspection, second).summary = {"rgb_soiling_by_zone": {"A": 0.1234}}
    zh = client.get(
        url, headers=world.alice.headers
    ).text  # the flight's photos: their column beside the IR one
    assert "可见光积灰指数（本次）" in zh and "<td>0.123</td>" in zh
    pdf = client.get(url + "?format=pdf", headers=world.alice.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
