"""Production data: the reader refuses bad files row by row, SRR recovers a planted soiling rate within its
interval, the IR index is calibrated against it, and the API imports idempotently for the worker."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv import production
from gongzhi.modules.pv.analytics import production as prod
from gongzhi.modules.pv.analytics import soiling
from gongzhi.modules.pv.io.production import ProductionFileError, read_production
from gongzhi.modules.pv.models import PvProductionSample
from tests.conftest import World
from tests.web.helpers import as_user, login

from .test_plants_api import PROBLEM, PV, make_plant

LAT, LON = 30.3178, 120.1425
HEADER = "timestamp,zone,ac_power_kw,poa_w_m2,module_temp_c,rain_mm\n"


def planted(rate: float, seed: int, days: int = 240) -> tuple[pd.DataFrame, pd.Series]:
    return prod.synthetic_production(
        latitude=LAT,
        longitude=LON,
        start=dt.date(2026, 3, 1),
        days=days,
        rate_per_day=rate,
        capacity_kw=50,
        robot_cleanings=[dt.date(2026, 5, 1), dt.date(2026, 7, 15)],
        rain_days_per_month=1.0,
        seed=seed,
    )


def as_csv(samples: pd.DataFrame, zone: str = "A") -> bytes:
    out = samples.copy()
    out.insert(0, "zone", zone)
    out.index = out.index.map(lambda t: t.isoformat())
    text: str = out.to_csv(index_label="timestamp")
    return text.encode()


def daily(samples: pd.DataFrame) -> pd.DataFrame:
    parsed = read_production(as_csv(samples), "a.csv")
    frame = pd.DataFrame(
        {
            "energy_kwh": [x.energy_kwh for x in parsed.samples],
            "interval_h": [x.interval_min / 60 for x in parsed.samples],
            "poa_w_m2": [x.poa_w_m2 for x in parsed.samples],
            "temp_c": [x.temp_c for x in parsed.samples],
            "rain_mm": [x.rain_mm or 0.0 for x in parsed.samples],
        },
        index=pd.DatetimeIndex([x.ts for x in parsed.samples]),
    )
    frame["cell_temp_c"] = prod.cell_temperature(frame["temp_c"], frame["poa_w_m2"], module=True)
    return prod.daily_performance(frame, longitude=LON)


@pytest.mark.parametrize(("rate", "seed"), [(0.0015, 2), (0.003, 3)])
def test_srr_recovers_the_planted_rate_within_its_interval(rate: float, seed: int) -> None:
    samples, truth = planted(rate, seed)
    d = daily(samples)
    est = soiling.soiling_from_production(
        d["energy_normalized"],
        d["insolation_kwh_m2"],
        reps=50,
        recenter=False,
        confidence_level=production.SRR_CONFIDENCE,
    )
    print(f"planted {rate:.4%}/day: SRR {-est.rate_per_day:.4%} [{-est.rate_high:.4%}, {-est.rate_low:.4%}]")
    assert est.rate_low <= -rate <= est.rate_high
    assert -est.rate_per_day == pytest.approx(rate, rel=0.15)
    assert est.intervals >= 4
    # the two robot cleanings are among the recoveries found, and named so from the cleaning log
    rain = {k.date(): float(v) for k, v in d["rain_mm"].items()}
    events = prod.label_cleanings(est.cleanings, rain, [dt.date(2026, 5, 1), dt.date(2026, 7, 15)])
    assert sum(e.cause == "robot" for e in events) == 2
    assert all(e.cause in ("robot", "rain") for e in events)
    # the profile follows the planted ratio
    got = pd.Series(dict(est.profile))
    diff = (got - truth.set_axis(truth.index.date).reindex(got.index)).abs()
    assert diff.median() < 0.01


def test_daily_performance_needs_timezone_aware_times() -> None:
    frame = pd.DataFrame(
        {"energy_kwh": [1.0], "interval_h": [0.25], "poa_w_m2": [800.0], "cell_temp_c": [40.0]},
        index=pd.DatetimeIndex([dt.datetime(2026, 5, 1, 12)]),
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        prod.daily_performance(frame, longitude=LON)


def test_the_calibration_fits_loss_on_index_and_needs_enough_points() -> None:
    pairs = [(i / 10, 0.5 * i / 10 + 0.01) for i in range(6)]
    cal = prod.calibrate_index(pairs)
    assert cal.usable and cal.points == 6
    assert (cal.slope, cal.intercept, cal.r2) == pytest.approx((0.5, 0.01, 1.0))
    assert cal.loss(0.2) == pytest.approx(0.11)
    assert not prod.calibrate_index(pairs[:4]).usable  # four points are too few
    assert not prod.calibrate_index([(0.1, 0.02)] * 6).usable  # an index that never varies
    assert math.isnan(prod.calibrate_index([]).slope)


def test_zone_economics_prefers_production_then_the_calibrated_index() -> None:
    d = dt.date
    seen = {
        "B": [(d(2026, 3, 1), 0.0), (d(2026, 4, 10), 0.08)],
        "C": [(d(2026, 3, 1), 0.0), (d(2026, 4, 10), 0.08)],
    }
    cal = prod.IndexCalibration(0.25, 0.0, 0.9, 0.05, 8, True)
    zones = soiling.zone_economics(
        zones={"A": 100, "B": 100, "C": 100, "D": 100},
        seen={k: v for k, v in seen.items() if k == "B"},
        cleaned={},
        cleaning_cost=2000,
        energy_kwh_per_day=1000,
        tariff_per_kwh=0.4,
        assumed_rate_per_day=0.002,
        today=d(2026, 4, 20),
        measured={"A": soiling.MeasuredRate(0.0031, 0.0025, 0.0036)},
        calibration=cal,
    )
    a, b, c, dd = zones
    assert (a.method, a.rate_per_day, a.rate_low, a.rate_high) == ("production", 0.0031, 0.0025, 0.0036)
    assert b.method == "ir_calibrated" and b.rate_per_day == pytest.approx(0.08 / 40 * 0.25)
    assert b.rate_low == pytest.approx(b.rate_per_day * 0.8) and b.loss_estimate == pytest.approx(0.02)
    assert (c.method, dd.method) == ("typed", "typed")
    uncalibrated = soiling.zone_economics(
        zones={"C": 1},
        seen=seen,
        cleaned={},
        cleaning_cost=2000,
        energy_kwh_per_day=1000,
        tariff_per_kwh=0.4,
        assumed_rate_per_day=0.002,
        today=d(2026, 4, 20),
        calibration=prod.IndexCalibration(0.25, 0.0, 0.9, 0.05, 3, False),
    )
    assert uncalibrated[0].method == "ir_index" and uncalibrated[0].rate_per_day == pytest.approx(0.002)


GOOD = (
    HEADER + "2026-05-01T10:00:00+08:00,A,20.0,800,40,0\n"
    "2026-05-01T10:15:00+08:00,A,21.0,820,41,\n"
    "2026-05-01T10:30:00+08:00,A,22.0,840,42,0.5\n"
)


def test_the_reader_converts_power_to_interval_energy_in_utc() -> None:
    got = read_production(GOOD.encode(), "p.csv")
    first = got.samples[0]
    assert first.ts == dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC)
    assert (first.zone, first.interval_min, first.energy_kwh, first.temp_kind) == ("A", 15, 5.0, "module")
    assert got.samples[1].rain_mm is None and got.gaps == []
    naive = GOOD.replace("+08:00", "")
    assert read_production(naive.encode(), "p.csv", timezone="Asia/Shanghai").samples == got.samples


@pytest.mark.parametrize(
    ("stamp", "tz"),
    [
        ("2026-05-01T10:15:00+08:00", None),
        ("2026-05-01 10:15:00+08:00", None),
        ("2026-05-01T02:15:00Z", None),
        ("2026-05-01T10:15:00.250+08:00", None),
        ("2026-05-01T10:15+0800", None),
        ("2026-05-01T10:15:00+05:45", "Europe/Berlin"),  # the offset written wins over the zone named
        ("2026/05/01 10:15:00+08:00", None),  # not ISO 8601: pandas reads it
        ("2026-05-01T10:15:00", "Asia/Shanghai"),
        ("2026-07-01 10:15", "Europe/Berlin"),
        ("2026-12-01T10:15:00", "Europe/Berlin"),
        (dt.datetime(2026, 5, 1, 10, 15), "Asia/Shanghai"),  # a date cell
        (pd.Timestamp("2026-07-01 10:15"), "Europe/Berlin"),  # a date cell as pandas gives it
    ],
)
def test_a_timestamp_is_the_instant_pandas_reads_in_it(stamp: str | dt.datetime, tz: str | None) -> None:
    """The readers' quick path (``datetime.fromisoformat``, ``zoneinfo``) gives the instant pandas gives
    for each form of text and cell, with the file's offset or in the zone the import names."""
    from gongzhi.modules.pv.io.production import _timestamp

    parsed = pd.Timestamp(stamp)
    want = (parsed if parsed.tzinfo else parsed.tz_localize(tz)).tz_convert("UTC").to_pydatetime()
    got = _timestamp(f" {stamp} " if isinstance(stamp, str) else stamp, tz)
    assert got == want and got.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("repeated", [True, False])
def test_a_local_time_the_clocks_repeat_or_skip_is_a_bad_row_not_a_crash(repeated: bool) -> None:
    """Berlin's clocks go back at 03:00 on 2026-10-25 (02:00–03:00 happens twice) and forward at 02:00 on
    2026-03-29 (02:00–03:00 never happens): such a row, as text or as a date cell, is refused with its line
    and why; it used to raise pytz's AmbiguousTimeError out of the reader."""
    day = "2026-10-25" if repeated else "2026-03-29"
    body = HEADER + "".join(
        f"{day} {hh}:{mm}:00,A,1.0,100,20.0,0\n" for hh in ("01", "02") for mm in ("00", "15", "30", "45")
    )
    for name, data in (("p.csv", body.encode()), ("p.xlsx", _as_workbook(body))):
        with pytest.raises(ProductionFileError) as caught:
            read_production(data, name, timezone="Europe/Berlin")
        assert [(e.line, e.column) for e in caught.value.errors] == [(n, "timestamp") for n in range(6, 10)]
        assert "the clocks repeat or skip this hour in Europe/Berlin" in caught.value.errors[0].message
        assert read_production(data, name, timezone="Asia/Shanghai").samples  # no such hour there


def _as_workbook(csv_text: str) -> bytes:
    frame = pd.read_csv(io.StringIO(csv_text), parse_dates=["timestamp"])
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    return buffer.getvalue()


def test_the_reader_reads_excel_with_energy_in_wh() -> None:
    frame = pd.DataFrame(
        {
            "Timestamp": ["2026-05-01T10:00:00+08:00", "2026-05-01T11:00:00+08:00"],
            "energy_wh": [5000, 6000],
            "POA_W_M2": [800, 900],
            "ambient_temp_c": [25, 26],
        }
    )
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    got = read_production(buffer.getvalue(), "p.xlsx", zone="B")
    assert [(x.zone, x.interval_min, x.energy_kwh, x.temp_kind) for x in got.samples] == [
        ("B", 60, 5.0, "ambient"),
        ("B", 60, 6.0, "ambient"),
    ]


def test_an_excel_workbook_with_date_cells_reads_as_its_csv_and_a_damaged_one_is_refused() -> None:
    """Date cells (what a monitoring portal's export holds) in the timezone the import names, read as the
    same rows written as a CSV; a workbook damaged anywhere is a clear refusal, never an exception."""
    samples, _ = planted(0.002, 4, days=3)
    local = samples.tz_convert("Asia/Shanghai").tz_localize(None)  # Excel keeps no offset
    buffer = io.BytesIO()
    local.assign(zone="A").to_excel(buffer, index_label="timestamp")
    workbook = buffer.getvalue()
    got = read_production(workbook, "export.xlsx", timezone="Asia/Shanghai")
    assert got.samples == read_production(as_csv(samples), "a.csv").samples and len(got.samples) > 200
    rng = np.random.default_rng(0)
    for _ in range(40):
        damaged = bytearray(workbook)
        for at in rng.integers(0, len(damaged), 8):
            damaged[at] = int(rng.integers(0, 256))
        with contextlib.suppress(ProductionFileError):  # or read, where the damage missed the cells
            read_production(bytes(damaged[: int(rng.integers(len(damaged) // 2, len(damaged)))]), "x.xlsx")
    with pytest.raises(ProductionFileError, match="not a readable CSV or Excel table"):
        read_production(b"PK\x03\x04" + workbook[4:100], "x.xlsx")


@pytest.mark.parametrize(
    ("body", "line", "column", "says"),
    [
        (GOOD.replace("+08:00,A,21.0", ",A,21.0"), 3, "timestamp", "no UTC offset"),
        (
            GOOD.replace(",820,", ",0.82,").replace(",800,", ",1.2e3,").replace(",840,", ",1900,"),
            4,
            "poa_w_m2",
            "kW m-2 or W given",
        ),
        (GOOD.replace(",41,", ",314.2,"), 3, "module_temp_c", "kelvin"),
        (GOOD.replace("10:30:00", "10:15:00"), 4, "timestamp", "duplicate of line 3"),
        (GOOD.replace(",22.0,", ",n/a,"), 4, "ac_power_kw", "not a number"),
        (GOOD.replace(",22.0,", ",-5,"), 4, "ac_power_kw", "negative"),
        (GOOD.replace(",840,", ",,"), 4, "poa_w_m2", "missing value"),
        (GOOD.replace("2026-05-01T10:30", "yesterday"), 4, "timestamp", "not a date and time"),
    ],
)
def test_the_reader_refuses_bad_rows_by_line_and_column(body: str, line: int, column: str, says: str) -> None:
    with pytest.raises(ProductionFileError, match="nothing was imported") as caught:
        read_production(body.encode(), "p.csv")
    [err] = caught.value.errors
    assert (err.line, err.column) == (line, column) and says in err.message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "no data rows|not a readable"),
        (HEADER.encode(), "no data rows"),
        (GOOD.replace("ac_power_kw", "ac_power").encode(), "exactly one power or energy column"),
        (GOOD.replace("rain_mm", "ambient_temp_c").encode(), "exactly one temperature column"),
        (GOOD.replace("poa_w_m2", "ghi").encode(), "timestamp and poa_w_m2"),
        ("\xff\xfe".encode("latin-1") + b"x", "not UTF-8"),
    ],
)
def test_the_reader_refuses_unreadable_files(body: bytes, says: str) -> None:
    with pytest.raises(ProductionFileError, match=says):
        read_production(body, "p.csv")


def test_gaps_longer_than_a_day_are_reported_and_unknown_timezones_refused() -> None:
    body = GOOD + "2026-05-04T10:00:00+08:00,A,20.0,800,40,0\n"
    [gap] = read_production(body.encode(), "p.csv").gaps
    assert gap[0] == "A" and gap[2] - gap[1] > dt.timedelta(days=2)
    with pytest.raises(ProductionFileError, match="unknown timezone"):
        read_production(GOOD.encode(), "p.csv", timezone="Mars/Olympus")


def test_import_is_idempotent_refuses_bad_files_and_the_worker_computes_the_rate(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    plant = make_plant(client, world.alice.headers, code="prod-1")
    samples, _ = planted(0.003, 3, days=150)
    url = f"{PV}/plants/{plant['id']}/production"
    files = {"file": ("a.csv", as_csv(samples), "text/csv")}
    r = client.post(url, files=files, headers=world.bob.headers)
    assert r.status_code == 201, r.text
    assert r.json()["inserted"] == len(samples) and r.json()["zones"] == ["A"]
    again = client.post(url, files=files, headers=world.bob.headers).json()
    assert (again["inserted"], again["replaced"]) == (0, len(samples))
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        n = s.execute(
            select(func.count(PvProductionSample.id)).where(PvProductionSample.plant_id == plant["id"])
        )
        assert n.scalar_one() == len(samples)

    bad = client.post(
        url, files={"file": ("b.csv", GOOD.replace(",41,", ",314,").encode())}, headers=world.bob.headers
    )
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
    assert bad.json()["errors"][0] == {
        "line": 3,
        "column": "module_temp_c",
        "message": bad.json()["errors"][0]["message"],
    }
    unknown = client.post(
        url, files={"file": ("c.csv", GOOD.replace(",A,", ",Z9,").encode())}, headers=world.bob.headers
    )
    assert unknown.status_code == 400 and "Z9" in unknown.json()["detail"]
    outsider = client.post(url, files=files, headers=world.charlie.headers)
    assert outsider.status_code == 404

    before = client.get(f"{PV}/plants/{plant['id']}/soiling", headers=world.alice.headers).json()
    assert before["zones"][0]["stale"] is True and before["zones"][0]["rate_per_day"] is None
    assert production.recompute_stale(factory, reps=30)
    after = client.get(f"{PV}/plants/{plant['id']}/soiling", headers=world.alice.headers).json()
    [zone] = after["zones"]
    assert zone["stale"] is False and zone["error"] == ""
    assert zone["rate_low"] <= 0.003 <= zone["rate_high"]
    assert zone["rate_per_day"] == pytest.approx(0.003, rel=0.2)
    assert {c["cause"] for c in zone["cleanings"]} <= {"robot", "rain", "unexplained"}
    assert after["calibration"]["usable"] is False  # no inspection yet


def test_the_plant_page_imports_production_and_lists_bad_rows(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    plant = make_plant(client, world.alice.headers, code="prod-2")
    alice, csrf = as_user(client, world.alice)
    url = f"/pv/plants/{plant['id']}/production"
    bad = GOOD.replace(",800,", ",1200.5e1,").replace("10:30:00", "10:15:00")
    r = alice.post(
        url, data={"csrf_token": csrf}, files={"file": ("bad.csv", bad.encode())}, follow_redirects=False
    )
    assert r.status_code == 400
    assert "未导入任何数据" in r.text and "是否填了 kW/m² 或 W" in r.text and "与第 3 行重复" in r.text
    page = alice.get(f"/pv/plants/{plant['id']}")
    assert "发电数据与积灰" in page.text and "暂无发电数据" in page.text and "0 个样本点" in page.text
    r = alice.post(url, data={"csrf_token": csrf}, files={"file": ("empty.csv", b"")})
    assert r.status_code == 400 and "empty.csv" in r.text  # named as the other forms name their files

    r = alice.post(
        url, data={"csrf_token": csrf}, files={"file": ("good.csv", GOOD.encode())}, follow_redirects=False
    )
    assert r.status_code == 303
    page = alice.get(f"/pv/plants/{plant['id']}")
    assert "等待后台计算" in page.text
    production.recompute_stale(factory, reps=10)
    page = alice.get(f"/pv/plants/{plant['id']}")
    assert "soiling rates need at least 30 days" in page.text  # three rows give no rate, and say so
    en = TestClient(client.app)
    token = login(en, world.alice, lang="en")
    assert "Production data and soiling" in en.get(f"/pv/plants/{plant['id']}").text
    r = en.post(url, data={"csrf_token": token}, files={"file": ("bad.csv", bad.encode())})
    assert r.status_code == 400  # the same rows in English: the message ids are the English text
    assert "kW m-2 or W given" in r.text and "duplicate of line 3" in r.text
