"""The PV loop end to end on the real broker, with simulators only outside gongzhi: one-click inspection
by the dock simulator → findings (the report can be made) → the operator confirms → the soiling case goes
to the robot simulator over MQTT → the robot cleans → a re-inspection flight over the cleaned rows only → the
case is verified and closed."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import select

from gongzhi.cases.models import Case
from gongzhi.core import outbox
from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv import cleaning, dock, loop
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.models import PvCleaningOrder, PvFinding, PvPlant
from gongzhi.modules.pv.robot_sim import RobotSimulator, RobotSpec
from gongzhi.modules.pv.schemas import FindingReview
from gongzhi.registry import Registry
from tests.conftest import World

from ._dock import Factory, docked_plant, listener, run_until, simulator, store_at
from ._mqtt import machine_broker

log = logging.getLogger(__name__)


def as_alice(world: World) -> Scope:
    return Scope(region_id=world.a, user_id=world.alice.user_id, role="dispatcher", username="alice")


def test_one_click_to_closed_cleaning_case(
    factory: Factory, registry: Registry, world: World, tmp_path: Path
) -> None:
    broker = machine_broker()
    plant = docked_plant(factory, world, broker)
    rows = sorted({cleaning.row_of(m.id) for m in plant.layout.modules})
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        cleaning.register_robot(
            s,
            s.get_one(PvPlant, plant.plant_id),
            "R1",
            dict.fromkeys(rows, 30.0),
            broker="mqtt://127.0.0.1:1883",
        )
    store = store_at(tmp_path)
    drone = simulator(plant, broker)
    bot = RobotSimulator(
        RobotSpec(site=plant.code, robot_id="R1", rows=dict.fromkeys(rows, 30.0), time_scale=600), broker
    )
    bot.start()
    docks = listener(factory, registry, store, broker)
    robots = cleaning.RobotListener(factory, registry, broker, client_id=f"test-loop-robots-{plant.sn}")
    robots.start()
    try:
        # 1. one click: the flight, its frames analysed as they arrive, findings on landing
        first = dock.one_click_inspection(factory, world.bob.scope(), plant.plant_id)
        done = run_until(docks, factory, first, lambda r: r.status in ("done", "failed"))
        assert done.status == "done", done.error
        assert done.started_at is not None and done.analysed_at is not None
        log.warning(
            "loop: take-off to report %.2f s (%d frames, flight compressed ×100)",
            (done.analysed_at - done.started_at).total_seconds(),
            done.frame_count,
        )
        soiled = {a.module_id for a in drone.flight.anomalies if a.anomaly.value == "soiling"}

        # 2. the operator accepts the findings and confirms: the soiling becomes a robot cleaning case
        with unit_of_work(factory, as_alice(world)) as s:
            found = s.execute(select(PvFinding).where(PvFinding.inspection_id == first)).scalars().all()
            assert soiled <= {f.module_id for f in found if f.anomaly_class == "soiling"}
            for f in found:
                pv.review_finding(s, f.id, FindingReview(status="accepted"))
            confirmed = loop.confirm_inspection(s, registry, first, mode="dry")
            [case_id] = confirmed.cleaning_cases
            order = s.execute(select(PvCleaningOrder).where(PvCleaningOrder.case_id == case_id)).scalar_one()
            assert set(order.modules) >= soiled and order.inspection_id == first

        # 3. dispatch over MQTT; the robot cleans and reports done
        assert outbox.deliver_due(factory, registry).failed == 0
        deadline = time.monotonic() + 60
        while _state(factory, case_id) != "resolved":
            assert time.monotonic() < deadline, f"case is {_state(factory, case_id)}"
            robots.process(timeout_s=0.5)
        with unit_of_work(factory, Scope.for_system()) as s:
            cleaned = s.execute(
                select(PvCleaningOrder).where(PvCleaningOrder.case_id == case_id)
            ).scalar_one()
            assert set(cleaned.cleaned_modules) >= soiled
            assert drone.after_cleaning(cleaned.cleaned_modules) == sorted(soiled)

        # 4. a re-inspection flight over the cleaned rows only; the case is verified and closed
        again = dock.reinspect_cleaning(factory, world.bob.scope(), case_id)
        redone = run_until(docks, factory, again, lambda r: r.status in ("done", "failed"))
        assert redone.status == "done", redone.error
        assert redone.summary["dock"]["reinspection_of"] == case_id
        assert redone.frame_count < done.frame_count, (redone.frame_count, done.frame_count)
        with unit_of_work(factory, as_alice(world)) as s:
            check = loop.verify_cleaning(s, registry, case_id)  # the case's last re-inspection
            assert check.passed, check.reason
            assert s.get_one(Case, case_id).state == "closed"
            metrics = loop.loop_metrics(s, plant.plant_id)
        assert metrics.takeoff_to_report_min is not None and metrics.cleaned_to_closed_min is not None
    finally:
        robots.stop()
        docks.stop()
        bot.stop()
        drone.stop()


def _state(factory: Factory, case_id: int) -> str:
    with unit_of_work(factory, Scope.for_system()) as s:
        return s.get_one(Case, case_id).state
