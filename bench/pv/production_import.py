"""PV production import benchmark: a year of 15-minute production for each of a plant's two arrays (35,040
rows a zone, what an operator exports from a plant's monitoring), through ``production.import_production``,
against a bare INSERT of the same rows into the same table in the same run.

    PYTHONPATH=src .venv/bin/python bench/pv/production_import.py [--database-url URL] [--days 365]

Figures, each the best of ``--repeat`` rounds on a new plant:

- read: the file parsed and checked (``io.production.read_production``) alone.
- import: the whole import of new rows (read, zone checks, existing rows looked up, insert), and as a
  ratio to the bare insert: the bare insert is ``INSERT … VALUES`` of the already parsed rows, one
  executemany, and no import can be faster than it plus the read.
- re-import: the same file again, every row replaced (the idempotent path).
- worker: ``recompute_stale``, SRR on both zones (RdTools, ``SRR_REPS`` realisations), for scale.
- rain read: the plant's hourly rain over the economics' lookback (``loop.PlantRain``, which every plant
  page reads once: summed per zone and hour by the database), against reading every sample's rain and
  summing in pandas (what it did until 2026-12-02), in the same run; both give the same series.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from gongzhi import migrate
from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, table_of, unit_of_work
from gongzhi.modules.pv import loop, production
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.layout import generate_layout
from gongzhi.modules.pv.analytics.production import synthetic_production
from gongzhi.modules.pv.io.production import read_production, write_production_csv
from gongzhi.modules.pv.models import PvProductionSample
from gongzhi.modules.pv.schemas import LayoutIn

CENTRE = LocalFrame(120.1425, 30.3178)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gongzhi-production-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        run(url, args.days, args.repeat)


def run(url: str, days: int, repeat: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    roof = [CENTRE.to_lonlat(x, y) for x, y in ((-30, -18), (30, -18), (30, 18), (-30, 18))]
    spec = LayoutIn(setback_m=0.5)
    layout = generate_layout(roof, pv.layout_params(spec), name="bench roof")
    zones = sorted({m.array for m in layout.modules})[:2]
    files = []
    for i, zone in enumerate(zones):
        samples, _ = synthetic_production(
            latitude=CENTRE.lat0_deg,
            longitude=CENTRE.lon0_deg,
            start=dt.date(2025, 1, 1),
            days=days,
            rate_per_day=0.002,
            capacity_kw=40.0,
            rain_days_per_month=1.0,
            seed=3 + i,
        )
        files.append((f"{zone}.csv", write_production_csv(samples, zone)))
    rows = 0
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, seconds), seconds)

    for _ in range(repeat):
        tag = uuid.uuid4().hex[:8]
        with unit_of_work(factory, Scope.for_system()) as s:
            rid = core.create_region(s, f"bench-{tag}", "基准区", f"B{tag[:3].upper()}").id
            s.info["scope"] = Scope(region_id=rid, system=True, username="bench")
            plant = pv.save_plant(s, f"bench-{tag}", "bench roof", layout, "generated", {})
            plant_id = plant.id
        scope = Scope(region_id=rid, system=True, username="bench")

        t = time.perf_counter()
        parsed = [read_production(data, name) for name, data in files]
        keep("read", time.perf_counter() - t)
        rows = sum(len(p.samples) for p in parsed)
        values = [
            {"region_id": rid, "plant_id": plant_id, "zone": x.zone, "ts": x.ts} | production.sample_row(x)
            for p in parsed
            for x in p.samples
        ]
        samples = table_of(PvProductionSample)
        t = time.perf_counter()
        with unit_of_work(factory, scope) as s:
            s.execute(insert(samples), values)
        keep("bare insert", time.perf_counter() - t)
        with unit_of_work(factory, scope) as s:
            s.execute(delete(samples).where(samples.c.plant_id == plant_id))

        for label in ("import", "re-import"):
            t = time.perf_counter()
            with unit_of_work(factory, scope) as s:
                for name, data in files:
                    production.import_production(s, plant_id, data, name)
            keep(label, time.perf_counter() - t)
        t = time.perf_counter()
        production.recompute_stale(factory)
        keep("worker", time.perf_counter() - t)

        until = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=days + 2)
        since = until - dt.timedelta(days=loop.RAIN_LOOKBACK_DAYS + 3)
        with unit_of_work(factory, scope) as s:
            t = time.perf_counter()
            every = every_row_rain(s, plant_id, since, until)
            keep("rain, every row", time.perf_counter() - t)
            t = time.perf_counter()
            summed = loop.PlantRain(s, plant_id)._read(since, until)
            keep("rain read", time.perf_counter() - t)
        assert summed is not None and summed.equals(every), "the two rain reads differ"
    engine.dispose()

    base = best["bare insert"]
    print(f"{engine.dialect.name}: {rows:,} rows ({len(files)} zones × {days} days of 15-minute samples)")
    print(f"  read (parse and check)   {best['read']:7.2f} s")
    print(f"  bare insert (baseline)   {base:7.2f} s")
    for label in ("import", "re-import"):
        print(f"  {label:<24} {best[label]:7.2f} s  {best[label] / base:5.2f} × bare insert")
    print(f"  worker (SRR, 2 zones)    {best['worker']:7.2f} s")
    every, summed = best["rain, every row"], best["rain read"]
    print(f"  rain, every row read     {every * 1000:7.1f} ms (baseline)")
    print(f"  rain read (PlantRain)    {summed * 1000:7.1f} ms  {summed / every:5.2f} × baseline")


def every_row_rain(s: Session, plant_id: int, since: dt.datetime, until: dt.datetime) -> pd.Series:
    """The baseline: every sample's rain read into Python, summed per zone and hour, averaged over zones."""
    sample = PvProductionSample
    rows = s.execute(
        select(sample.zone, sample.ts, sample.rain_mm).where(
            sample.plant_id == plant_id, sample.rain_mm.is_not(None), sample.ts >= since, sample.ts < until
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["zone", "ts", "rain_mm"])
    frame["hour"] = pd.to_datetime(frame["ts"], utc=True).dt.floor("h")
    rain = frame.groupby(["zone", "hour"])["rain_mm"].sum().groupby(level="hour").mean()
    return pd.Series(rain.to_numpy(dtype=float), index=pd.DatetimeIndex(rain.index), name="rain_mm")


if __name__ == "__main__":
    main()
