"""A small plant with a drone dock, the dock simulator over it, a listener driven from the test's thread."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.db import Scope, unit_of_work
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import dock, pipeline
from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.analytics.glint import moment_of_sun
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.modules.pv.analytics.modules import ModuleClassifier
from gongzhi.modules.pv.dock_sim import DockSimulator, DockSpec
from gongzhi.modules.pv.models import PvFrame, PvInspection
from gongzhi.modules.pv.outcome import FlightOutcome
from gongzhi.registry import Registry
from tests.conftest import World

from .flights import tiny_layout

Factory = sessionmaker[Session]
SEED = 5


@dataclass
class DockedPlant:
    plant_id: int
    code: str
    sn: str
    layout: PlantLayout


def docked_plant(
    factory: Factory, world: World, broker: pvmqtt.Broker, *, with_dock: bool = True
) -> DockedPlant:
    code, sn = f"roof-{uuid.uuid4().hex[:8]}", f"DOCK-{uuid.uuid4().hex[:8].upper()}"
    layout = tiny_layout()
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        plant = pv.save_plant(s, code, "报社屋顶", layout, "imported", {})
        if with_dock:
            dock.register_dock(s, plant, sn, broker=f"mqtt://{broker.host}:{broker.port}")
        return DockedPlant(plant.id, code, sn, layout)


def noon_clock(layout: PlantLayout) -> Callable[[], dt.datetime]:
    """A simulated dock's clock fixed at a moment when the sun stands due south, 65° high, over ``layout``
    (the synthetic flights' default sun): its flights, and their glints, do not follow the hour the tests
    run at."""
    when, _ = moment_of_sun(180.0, 65.0, layout.origin.lon0_deg, layout.origin.lat0_deg)
    moment = dt.datetime.fromtimestamp(when, dt.UTC)
    return lambda: moment


def simulator(plant: DockedPlant, broker: pvmqtt.Broker, **kw: object) -> DockSimulator:
    kw.setdefault("clock", noon_clock(plant.layout))
    spec = DockSpec(sn=plant.sn, layout=plant.layout, seed=SEED, time_scale=100.0, **kw)  # type: ignore[arg-type]
    sim = DockSimulator(spec, broker)
    sim.start()
    return sim


@contextmanager
def flying(
    factory: Factory,
    registry: Registry,
    store: FileStore,
    plant: DockedPlant,
    broker: pvmqtt.Broker,
    **kw: object,
) -> Iterator[tuple[DockSimulator, dock.DockListener]]:
    """The plant's dock simulator (``kw`` as :func:`simulator`) and a listener, both stopped with their
    sessions ended on the way out."""
    sim = simulator(plant, broker, **kw)
    lis = listener(factory, registry, store, broker)
    try:
        yield sim, lis
    finally:
        lis.stop(end_session=True)
        sim.stop(end_session=True)


def listener(
    factory: Factory, registry: Registry, store: FileStore, broker: pvmqtt.Broker, cid: str | None = None
) -> dock.DockListener:
    lis = dock.DockListener(
        factory, registry, store, broker, client_id=cid or f"test-dock-listener-{uuid.uuid4().hex[:8]}"
    )
    lis.start()
    return lis


def inspection(factory: Factory, inspection_id: int) -> PvInspection:
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        row = s.get_one(PvInspection, inspection_id)
        s.expunge(row)
        return row


def run_until(
    lis: dock.DockListener,
    factory: Factory,
    inspection_id: int,
    done: Callable[[PvInspection], bool],
    timeout_s: float = 60.0,
    seen: list[tuple[str, int, dict[str, object]]] | None = None,
) -> PvInspection:
    """Let the listener work until ``done`` holds for the inspection; ``seen`` gets (status, frames,
    summary) after every few messages."""
    deadline = time.monotonic() + timeout_s
    while True:
        lis.process(timeout_s=0.3, limit=3)
        row = inspection(factory, inspection_id)
        if seen is not None:
            seen.append((row.status, row.frames_done, dict(row.summary)))
        if done(row):
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"inspection {inspection_id} still {row.status} ({row.frames_done} frames)")


def batch_outcome(
    factory: Factory,
    store: FileStore,
    inspection_id: int,
    layout: PlantLayout,
    classifier: ModuleClassifier | None = None,
) -> FlightOutcome:
    """The same stored frames through the batch pipeline, as an uploaded flight would be analysed (by
    ``classifier``, default the rules)."""
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stmt = select(PvFrame.sha256).where(PvFrame.inspection_id == inspection_id).order_by(PvFrame.seq)
        paths = [store.path_for(h) for h in s.execute(stmt).scalars()]
    return pipeline.analyse_flight(paths, layout, camera="M3T", classifier=classifier)


def frames_of(factory: Factory, inspection_id: int) -> list[int]:
    with factory() as s:
        s.info["scope"] = Scope.for_system()
        stmt = select(PvFrame.seq).where(PvFrame.inspection_id == inspection_id).order_by(PvFrame.seq)
        return list(s.execute(stmt).scalars())


def store_at(tmp: Path) -> FileStore:
    return FileStore(tmp / "files")
