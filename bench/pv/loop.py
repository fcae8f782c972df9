"""PV one-click benchmark: take-off → report for the 50,000 m² synthetic roof (250 m × 200 m, about 17,000
modules, ~600 frames of 640×512), through the real broker and a real database.

    PYTHONPATH=src:. .venv/bin/python bench/pv/loop.py [--time-scale 60] [--dir /tmp/gongzhi-pv-bench]
        [--broker mqtt://127.0.0.1:1883] [--database-url sqlite:////tmp/x.db]

The dock simulator flies the plant's flight plan (its time from the plan: take-off, survey lines, turns,
landing) compressed by ``--time-scale`` and streams the frames (rendered once into ``--dir`` as
``bench_flight.py`` renders them, and reused) in chunks over MQTT; the dock listener stores each frame as
evidence and analyses it as it arrives, and stores the findings on landing. Figures:

- plan: the flight's real duration from the plan, and the frames.
- flight (compressed): take-off → landing as the simulator flew it.
- report after landing: landing → ``analysed_at`` (findings and alerts stored); this is the part of
  take-off → report that is the analysis' own, whatever the flight time.
- take-off → report, as measured (``analysed_at − started_at``), and its real-time equivalent: the plan's
  flight time plus the report after landing (valid when the analysis keeps up with the frames as they come,
  which ``frames behind at landing`` tells).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gongzhi import migrate
from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import dock, pipeline
from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.analytics.synthetic import synthetic_flight
from gongzhi.modules.pv.dock_sim import DockSimulator, DockSpec
from gongzhi.modules.pv.io.plant import read_plant_geojson
from gongzhi.modules.pv.models import PvFinding, PvInspection
from gongzhi.registry import load_modules

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_flight import render


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--broker", default=pvmqtt.DEFAULT_BROKER)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    render(args.dir, args.seed, pipeline.default_workers())
    work = Path(tempfile.mkdtemp(prefix="gongzhi-pv-loop-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    registry = load_modules()
    store = FileStore(work / "files")
    broker = pvmqtt.Broker.parse(args.broker)

    layout = read_plant_geojson(args.dir / "plant.geojson")
    sn = f"BENCH-{uuid.uuid4().hex[:8].upper()}"
    with unit_of_work(factory, Scope.for_system()) as s:
        tag = uuid.uuid4().hex[:6]
        rid = core.create_region(s, f"bench-{tag}", "基准区", f"B{tag[:3].upper()}").id
        s.info["scope"] = Scope(region_id=rid, system=True, username="bench")
        plant = pv.save_plant(s, f"bench-{tag}", "50,000 m² roof", layout, "imported", {})
        dock.register_dock(s, plant, sn, broker=args.broker)
        plant_id, area = plant.id, plant.area_m2
    scope = Scope(region_id=rid, system=True, username="bench")

    flight = synthetic_flight(layout, seed=args.seed, anomalies_per_class=4)
    frames = len(pipeline.frame_paths(args.dir))
    if frames < len(flight):
        print(
            f"note: {len(flight) - frames} of {len(flight)} frames are not in {args.dir}; rendered in flight"
        )
    sim = DockSimulator(
        DockSpec(sn, layout, seed=args.seed, time_scale=args.time_scale, frames_dir=args.dir), broker, flight
    )
    sim.start()
    listener = dock.DockListener(factory, registry, store, broker, client_id=f"bench-dock-listener-{sn}")
    listener.start()
    stop = threading.Event()
    worker = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    worker.start()
    behind: list[int] = []
    last_frame: list[float] = []
    try:
        iid = dock.one_click_inspection(factory, scope, plant_id)
        while True:
            time.sleep(0.2)
            try:
                got = poll(factory, scope, iid)
            except OperationalError:  # SQLite: the listener holds the write lock while storing findings
                continue
            row, found = got
            if not behind and row.started_at is not None and not sim.flying():
                behind.append(len(flight) - row.frames_done)
            if not last_frame and row.frames_done >= len(flight):
                last_frame.append(time.time())
            if row.status in ("done", "failed"):
                status, started, landed, analysed = (
                    row.status,
                    row.started_at,
                    row.finished_at,
                    row.analysed_at,
                )
                error, frame_count = row.error, row.frame_count
                break
    finally:
        stop.set()
        worker.join(30)
        listener.stop()
        sim.stop()
        if not args.database_url:
            shutil.rmtree(work, ignore_errors=True)  # the database and ~800 MB of frames as evidence
    if status != "done" or started is None or landed is None or analysed is None:
        raise SystemExit(f"inspection {iid} ended {status}: {error}")
    plan_s = flight.plan.flight_time_s
    flown = (landed - started).total_seconds()
    total = (analysed - started).total_seconds()
    last = last_frame[0] if last_frame else analysed.timestamp()
    analysing = last - started.timestamp()
    finalise = analysed.timestamp() - last
    rate, needed = (
        frame_count / analysing,
        frame_count / max(1.0, plan_s - flight.plan.takeoff_landing_time_s),
    )
    print(f"plant: {len(layout.modules)} modules, {area:.0f} m²; frames: {frame_count}")
    print(f"plan: flight {plan_s / 60:.1f} min in real time; compressed ×{args.time_scale:g}")
    print(f"flight (compressed): take-off → landing {flown:.1f} s")
    print(f"frames not yet analysed at landing: {behind[0] if behind else 'n/a'}")
    print(f"analysis while flying: {rate:.2f} frames/s (a real flight brings {needed:.2f} frames/s)")
    print(f"report after the last frame: {finalise:.1f} s ({found} findings and their alerts stored)")
    print(f"take-off → report, measured (compressed flight): {total:.1f} s")
    if rate >= needed:
        print(f"take-off → report, real time: {(plan_s + finalise) / 60:.1f} min (flight + report)")
    else:
        print(
            f"take-off → report, real time: {(frame_count / rate + finalise) / 60:.1f} min (analysis-bound)"
        )


def poll(factory: sessionmaker[Session], scope: Scope, iid: int) -> tuple[PvInspection, int]:
    """The inspection as it stands (read in a deferred transaction, beside the listener's writes)."""
    with factory() as s:
        s.info["scope"] = scope
        s.connection(execution_options={"sqlite_begin": "DEFERRED"})
        row = s.get_one(PvInspection, iid)
        found = len(s.execute(select(PvFinding.id).where(PvFinding.inspection_id == iid)).all())
        s.expunge(row)
        return row, found


if __name__ == "__main__":
    main()
