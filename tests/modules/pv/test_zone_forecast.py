"""The Kimber forecast per zone on the plant page and in the report, and a robot cleaning reported done
marking the zone's production soiling for recompute so its recovery is labelled robot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv import cleaning, loop, production, report
from gongzhi.modules.pv.io import robot_protocol as proto
from gongzhi.modules.pv.models import PvPlant, PvProductionSample, PvZoneSoiling
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user

from .test_loop_api import analysed, default_economics
from .test_plants_api import PV, make_plant
from .test_production import as_csv, planted

D = dt.date
ROBOT_DAY = D(2026, 7, 15)  # a planted robot cleaning of the synthetic production data


def zone_a(factory: sessionmaker[Session], plant_id: int) -> PvZoneSoiling:
    with unit_of_work(factory, Scope.for_system()) as s:
        row = s.execute(
            select(PvZoneSoiling).where(PvZoneSoiling.plant_id == plant_id, PvZoneSoiling.zone == "A")
        ).scalar_one()
        s.expunge(row)
        return row


def clean_rows_by_robot(
    factory: sessionmaker[Session], registry: Registry, plant_id: int, when: dt.datetime
) -> str:
    """A robot cleans row A-01: the case is dispatched, and the robot reports it done at ``when``."""
    with unit_of_work(factory, Scope.for_system()) as s:
        plant = s.get_one(PvPlant, plant_id)
        cleaning.register_robot(s, plant, "R1", {"A-01": 40.0})
        [(case, _)] = cleaning.create_cleaning_cases(s, registry, plant, ["A-01-01"])
        cleaning.RobotMqttAdapter().prepare_order(s, case.id, {"idempotency_key": "kimber-1"})
        code = plant.code
    done = proto.Status(
        robot_id="R1",
        state="done",
        battery_pct=60.0,
        idempotency_key="kimber-1",
        progress_pct=100.0,
        cleaned_rows=("A-01",),
        cleaned_modules=("A-01-01",),
        ts=when,
    )
    with unit_of_work(factory, Scope.for_system()) as s:
        return cleaning.handle_robot_message(s, registry, proto.topic(code, "R1", "state"), done.to_json())


def test_a_robot_cleaning_relabels_the_recovery_and_resets_the_zone_forecast(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    ctx = analysed(client, world, factory, registry, tmp_path)
    plant_id, insp = ctx["plant"]["id"], ctx["inspection"]
    samples, _ = planted(0.003, 3, days=150)
    files = {"file": ("a.csv", as_csv(samples), "text/csv")}
    r = client.post(f"{PV}/plants/{plant_id}/production", files=files, headers=world.bob.headers)
    assert r.status_code == 201, r.text
    assert production.recompute_stale(factory, reps=30)
    before = zone_a(factory, plant_id)
    near = {(ROBOT_DAY + dt.timedelta(days=k)).isoformat() for k in (-1, 0, 1)}
    [recovery] = [c for c in before.cleanings if c["day"] in near]
    assert recovery["cause"] != "robot" and before.stale is False

    said = clean_rows_by_robot(factory, registry, plant_id, dt.datetime(2026, 7, 15, 2, 0, tzinfo=dt.UTC))
    assert "done" in said
    assert zone_a(factory, plant_id).stale is True
    assert production.recompute_stale(factory, reps=30)
    after = zone_a(factory, plant_id)
    assert [c["cause"] for c in after.cleanings if c["day"] == recovery["day"]] == ["robot"]

    today = D(2026, 7, 29)
    with unit_of_work(factory, Scope.for_system()) as s:
        econ = default_economics(ctx["plant"]["area_m2"])
        [zone] = loop.zone_economics(s, plant_id, today=today, **econ)
        forecasts = loop.zone_forecasts(s, plant_id, [zone], today=today)
        # one read of the plant's rain serves the economics, the forecasts and the soiling start alike
        rain = loop.PlantRain(s, plant_id)
        since = loop.soiling_since(s, plant_id, ROBOT_DAY, today, rain)
        assert loop.zone_economics(s, plant_id, today=today, rain=rain, **econ) == [zone]
        assert loop.zone_forecasts(s, plant_id, [zone], today=today, rain=rain) == forecasts
        assert rain.reads == 1 and since == loop.soiling_since(s, plant_id, ROBOT_DAY, today)
        # a span outside the first read reads again, and any slice is what a read of its own span gives
        early = today - dt.timedelta(days=loop.RAIN_LOOKBACK_DAYS + 30)
        wide = rain.between(early, today)
        assert rain.reads == 2 and wide is not None
        for start, end in ((ROBOT_DAY, today), (D(2026, 5, 1), D(2026, 6, 1)), (early, today)):
            alone = loop.PlantRain(s, plant_id).between(start, end)
            again = rain.between(start, end)
            assert alone is not None and again is not None and alone.equals(again)
        assert rain.reads == 2
    f = forecasts["A"]
    assert zone.method == "production" and f.rate_per_day == pytest.approx(zone.rate_per_day)
    assert f.start == ROBOT_DAY and (f.rain_from, f.rain_to) == (ROBOT_DAY, today)
    assert 0 <= f.loss_today <= zone.rate_per_day * 14 + 1e-9  # 14 days since the robot, or less after rain
    assert [n for n, _ in f.ahead] == [7, 14, 30]
    assert f.ahead[-1][1] == pytest.approx(min(0.3, f.loss_today + zone.rate_per_day * 30), abs=1e-9)
    assert f.clean_level == pytest.approx(zone.advice.loss_at_cleaning)

    alice, _ = as_user(client, world.alice)
    page = alice.get(f"/pv/plants/{plant_id}")
    assert page.status_code == 200
    assert "积灰预测（Kimber 模型）" in page.text and "降雨取自发电数据" in page.text
    assert "视为清洁日" in page.text and ROBOT_DAY.isoformat() in page.text

    url = f"{PV}/inspections/{insp}/report"
    zh = client.get(url, headers=world.alice.headers).text
    assert "积灰预测（Kimber 模型）" in zh and "30 天后" in zh and "自今日起假定无雨" in zh
    en = client.get(url + "?lang=en", headers=world.alice.headers).text
    assert "Soiling forecast (Kimber model)" in en and "no rain and no cleaning from today on" in en
    pdf = client.get(url + "?format=pdf", headers=world.alice.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    with unit_of_work(factory, Scope.for_system()) as s:
        built = report.build_report(s, insp)
    rows = built.forecast_rows("en")
    assert rows[0][:3] == ["Zone (array)", "Clean since", "Loss today"]
    # the report forecasts on its inspection's day, which knows no cleaning after it
    assert built.started_at is not None and built.started_at.date() < ROBOT_DAY
    assert rows[1][:2] == ["A", built.started_at.date().isoformat()]
    assert len(rows[1]) == 8


def test_a_cleaning_done_marks_only_zones_with_production_data(
    client: TestClient, world: World, factory: sessionmaker[Session], registry: Registry, tmp_path: Path
) -> None:
    ctx = analysed(client, world, factory, registry, tmp_path)
    plant_id = ctx["plant"]["id"]
    clean_rows_by_robot(factory, registry, plant_id, dt.datetime(2026, 7, 15, 2, 0, tzinfo=dt.UTC))
    with unit_of_work(factory, Scope.for_system()) as s:
        assert production.zone_soiling(s, plant_id) == {}  # nothing to recompute, nothing created
        [zone] = loop.zone_economics(s, plant_id, today=D(2026, 7, 20), **default_economics(100.0))
        f = loop.zone_forecasts(s, plant_id, [zone], today=D(2026, 7, 20))["A"]
    assert f.start == ROBOT_DAY and f.rain_from is None
    assert f.loss_today == pytest.approx(zone.rate_per_day * 5)


def test_the_plant_rain_is_each_hour_summed_per_zone_and_averaged_over_the_zones_reporting_it(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    plant_id = make_plant(client, world.alice.headers)["id"]
    at = dt.datetime(2026, 8, 3, 6, 0, tzinfo=dt.UTC)
    quarter = dt.timedelta(minutes=15)
    # zone → rain of each 15-minute interval ending 06:15, 06:30, …; None: not measured
    rain: dict[str, list[float | None]] = {
        "A": [0.5, 1.0, 0.0, 0.5, 2.0, 2.0, None, None, 0.0],
        "B": [1.5, 0.0, 0.0, 0.5, None, None, None, None, 3.0],
        "C": [None] * 9,  # a zone with no rain gauge does not count as a dry one
    }
    with unit_of_work(factory, Scope.for_system()) as s:
        for zone, mm in rain.items():
            s.add_all(
                PvProductionSample(
                    region_id=world.a,
                    plant_id=plant_id,
                    zone=zone,
                    ts=at + quarter * (k + 1),
                    interval_min=15,
                    energy_kwh=1.0,
                    poa_w_m2=500.0,
                    temp_c=30.0,
                    rain_mm=v,
                )
                for k, v in enumerate(mm)
            )
    with unit_of_work(factory, Scope.for_system()) as s:
        read = loop.PlantRain(s, plant_id).between(at.date(), at.date())
    assert read is not None and read.index.tz is not None
    # an interval counts in the hour its end falls in: 06:15-06:45 in 06:00, 07:00-07:45 in 07:00
    hours = {t.strftime("%H:%M"): v for t, v in read.items()}
    assert hours == {
        "06:00": pytest.approx(((0.5 + 1.0 + 0.0) + (1.5 + 0.0 + 0.0)) / 2),
        "07:00": pytest.approx(((0.5 + 2.0 + 2.0) + 0.5) / 2),
        "08:00": pytest.approx((0.0 + 3.0) / 2),
    }
