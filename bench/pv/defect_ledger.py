"""PV defect ledger benchmark: a plant of about 50,000 m² (the seed's rooftop), ``--flights`` finished
flights that each saw every module (a result row per module and flight) and found a share of a pool of
defective modules, through ``defects.plant_ledger``, against reading the plant's findings alone in the same
run (no ledger can be built without reading them).

    PYTHONPATH=src .venv/bin/python bench/pv/defect_ledger.py [--database-url URL] [--flights 12]

Figures, each the best of ``--repeat`` rounds on the same data:

- findings read (baseline): ``select(PvFinding)`` of the plant's flights, as ORM rows (the ledger itself
  reads only the columns it uses since session 32, so it may come in under this).
- ledger: the whole ledger (flights, findings, which flights saw each defect's modules, strings, cases),
  and its ratio to the baseline.
- workbook: the ledger's rows as ``.xlsx`` (``defects.ledger_xlsx``).
- wiring: the plant's strings as the wiring page shows them (``strings.wiring``: neighbours, pieces,
  colours), against reading the plant's layout (``service.plant_layout``), which the page does first.
- map outlines: every module's outline in metres, as the plant page's, the wiring page's and the
  report's maps read them (``report.layout_modules``), against the same layout read.
- map drawn: those outlines as the plant page's SVG (``report.map_svg``, each module a link to its page),
  with its size as sent (raw and gzipped at the app's level), against the same layout read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import random
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, select

from gongzhi import migrate
from gongzhi.app import GZIP_LEVEL
from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, table_of, unit_of_work
from gongzhi.modules.pv import defects, report, strings
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.layout import generate_layout
from gongzhi.modules.pv.models import PvFinding, PvInspection, PvModuleResult
from gongzhi.modules.pv.schemas import LayoutIn

CENTRE = LocalFrame(120.1425, 30.3178)
CLASSES = ("hot_spot", "single_hot_cell", "substring", "soiling", "cracking", "module_offline")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--flights", type=int, default=12)
    parser.add_argument("--pool", type=int, default=800, help="defective modules the flights draw from")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gongzhi-ledger-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        run(url, args.flights, args.pool, args.repeat)


def run(url: str, flights: int, pool: int, repeat: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    roof = [CENTRE.to_lonlat(x, y) for x, y in ((-125, -100), (125, -100), (125, 100), (-125, 100))]
    layout = generate_layout(roof, pv.layout_params(LayoutIn(setback_m=1.0)), name="bench roof")
    ids = [m.id for m in layout.modules]
    by_string: dict[str, list[str]] = {}
    for m in layout.modules:
        by_string.setdefault(m.string, []).append(m.id)
    rng = random.Random(7)
    defective = {mid: rng.choice(CLASSES) for mid in rng.sample(ids, pool)}
    outages = rng.sample(sorted(by_string), 4)

    tag = uuid.uuid4().hex[:8]
    t = time.perf_counter()
    with unit_of_work(factory, Scope.for_system()) as s:
        rid = core.create_region(s, f"bench-{tag}", "基准区", f"B{tag[:3].upper()}").id
        s.info["scope"] = Scope(region_id=rid, system=True, username="bench")
        plant_id = pv.save_plant(s, f"bench-{tag}", "bench roof", layout, "generated", {}).id
    scope = Scope(region_id=rid, system=True, username="bench")
    found_rows = 0
    for n in range(flights):
        with unit_of_work(factory, scope) as s:
            insp = PvInspection(
                region_id=rid, plant_id=plant_id, status="done",
                started_at=dt.datetime(2026, 1, 1, 3, tzinfo=dt.UTC) + dt.timedelta(days=14 * n),
            )  # fmt: skip
            s.add(insp)
            s.flush()
            s.execute(
                insert(table_of(PvModuleResult)),
                [{"region_id": rid, "inspection_id": insp.id, "module_id": mid, "frames_seen": 2,
                  "values": {}} for mid in ids],
            )  # fmt: skip
            # each flight finds about 60 % of the pool (defects come, go and come back) and one outage
            found = [(mid, cls) for mid, cls in defective.items() if rng.random() < 0.6]
            found += [(mid, "string_offline") for mid in by_string[outages[n % len(outages)]]]
            s.execute(
                insert(table_of(PvFinding)),
                [{"region_id": rid, "inspection_id": insp.id, "plant_id": plant_id, "module_id": mid,
                  "anomaly_class": cls, "severity": rng.choice(("S1", "S2", "S3")),
                  "coa": rng.choice((1, 2, 3)), "delta_t_k": round(rng.uniform(2, 30), 1), "evidence": [],
                  "details": {}, "status": "new", "frames_seen": 1, "review_note": ""} for mid, cls in found],
            )  # fmt: skip
            found_rows += len(found)
    setup = time.perf_counter() - t

    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, seconds), seconds)

    ledger = None
    for _ in range(repeat):
        with unit_of_work(factory, scope) as s:
            t = time.perf_counter()
            rows = list(s.execute(select(PvFinding).where(PvFinding.plant_id == plant_id)).scalars())
            keep("read", time.perf_counter() - t)
        assert len(rows) == found_rows
        with unit_of_work(factory, scope) as s:
            t = time.perf_counter()
            ledger = defects.plant_ledger(s, plant_id)
            keep("ledger", time.perf_counter() - t)
        t = time.perf_counter()
        defects.ledger_xlsx(ledger.defects)
        keep("workbook", time.perf_counter() - t)
        with unit_of_work(factory, scope) as s:
            t = time.perf_counter()
            plant_layout = pv.plant_layout(s, pv.get_plant(s, plant_id))
            keep("layout read", time.perf_counter() - t)
            t = time.perf_counter()
            mapped = report.layout_modules(s, pv.get_plant(s, plant_id))
            keep("map outlines", time.perf_counter() - t)
        assert len(mapped) == len(ids)
        t = time.perf_counter()
        svg = report.map_svg(mapped, link=f"/pv/plants/{plant_id}/modules/{{id}}")
        keep("map drawn", time.perf_counter() - t)
        t = time.perf_counter()
        wired = strings.wiring(plant_layout)
        keep("wiring", time.perf_counter() - t)
        assert all(r.pieces == 1 for r in wired)
    engine.dispose()
    assert ledger is not None and len(ledger.flights) == flights

    base = best["read"]
    results = len(ids) * flights
    print(
        f"{engine.dialect.name}: {len(ids):,} modules, {flights} flights ({results:,} module results, "
        f"{found_rows:,} findings; set up in {setup:.1f} s)"
    )
    print(f"  ledger: {len(ledger.defects):,} defects, {ledger.count('open'):,} open, "
          f"{ledger.count('resolved'):,} cleared")  # fmt: skip
    print(f"  findings read (baseline) {base * 1000:8.1f} ms")
    print(
        f"  ledger                   {best['ledger'] * 1000:8.1f} ms  {best['ledger'] / base:5.2f} × baseline"
    )
    print(f"  workbook (.xlsx)         {best['workbook'] * 1000:8.1f} ms")
    read = best["layout read"]
    print(f"  layout read (baseline)   {read * 1000:8.1f} ms")
    wiring = best["wiring"]
    print(f"  wiring ({len(wired)} strings)    {wiring * 1000:8.1f} ms  {wiring / read:5.2f} × baseline")
    outlines = best["map outlines"]
    print(f"  map outlines             {outlines * 1000:8.1f} ms  {outlines / read:5.2f} × baseline")
    drawn, sent = best["map drawn"], len(gzip.compress(svg.encode(), GZIP_LEVEL))
    print(
        f"  map drawn                {drawn * 1000:8.1f} ms  {drawn / read:5.2f} × baseline; "
        f"{len(svg) / 1e6:.2f} MB, {sent / 1e3:.0f} KB gzipped"
    )


if __name__ == "__main__":
    main()
