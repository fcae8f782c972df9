"""`gongzhi demo`'s PV plant: a generated rooftop, its first flight analysed into findings, robots."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from gongzhi import migrate
from gongzhi.cases.models import Alert
from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import cleaning, demo
from gongzhi.modules.pv.models import PvFinding, PvInspection, PvPlant
from gongzhi.registry import Registry


def test_the_demo_plant_is_analysed_and_has_robots(tmp_path: Path, registry: Registry) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    with unit_of_work(factory, Scope.for_system()) as s:
        core.create_region(s, "gongshu", "拱墅区", "GS")
    counts = demo.load_demo(factory, registry, FileStore(tmp_path / "files"))
    assert counts["pv_inspections"] == 1
    with unit_of_work(factory, Scope.for_system()) as s:
        plant = s.execute(select(PvPlant)).scalar_one()
        insp = s.execute(select(PvInspection)).scalar_one()
        assert insp.status == "done" and insp.frames_done == insp.frame_count == counts["pv_frames"]
        classes = set(s.execute(select(PvFinding.anomaly_class)).scalars())
        assert {"soiling", "single_hot_cell", "substring"} <= classes
        assert s.scalar(select(func.count(Alert.id)).where(Alert.kind.like("pv%"))) > 0
        robots = cleaning.robots_of(s, plant.id)
        served = {row for r in robots for row in r.config["rows"]}
        assert len(robots) == 2 and len(served) == len(
            {m.rsplit("-", 1)[0] for m in _module_ids(s, plant.id)}
        )


def _module_ids(s, plant_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    from gongzhi.modules.pv.models import PvModule

    return list(s.execute(select(PvModule.module_id).where(PvModule.plant_id == plant_id)).scalars())
