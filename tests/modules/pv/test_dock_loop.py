"""The PV loop end to end on the real broker, with simulators only outside gongzhi: one-click inspection
by the dock simulator → findings (the report can be made) → the operator confirms → the soiling case goes
to the robot simulator over MQTT → the robot cleans → from the plant page, a re-inspection flight over the
cleaned rows only → on landing, sent back while the panels are still dirty, verified and closed once they
are clean, without a click."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case, CaseEvent
from gongzhi.cases.schemas import ActionIn
from gongzhi.cases.statemachine import Action
from gongzhi.core import outbox
from gongzhi.db import Scope, unit_of_work
from gongzhi.modules.pv import cleaning, dock, loop
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.models import PvCleaningOrder, PvFinding, PvInspection, PvPlant
from gongzhi.modules.pv.robot_sim import RobotSimulator, RobotSpec
from gongzhi.modules.pv.schemas import FindingReview
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import as_user

from ._dock import Factory, docked_plant, listener, run_until, simulator, store_at
from ._mqtt import machine_broker

log = logging.getLogger(__name__)


def as_alice(world: World) -> Scope:
    return Scope(region_id=world.a, user_id=world.alice.user_id, role="dispatcher", username="alice")


def test_one_click_to_closed_cleaning_case(
    client: TestClient, factory: Factory, registry: Registry, world: World, tmp_path: Path
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
            cleaned_modules = list(cleaned.cleaned_modules)

        # 4. the robot said done but the panels are still dirty: the re-inspection sends the case back
        alice, csrf = as_user(client, world.alice)
        page = alice.get(f"/pv/plants/{plant.plant_id}")
        assert "待验证的清洗" in page.text and f"/pv/cases/{case_id}/reinspect" in page.text
        assert f"/pv/cases/{case_id}/verify" not in page.text  # nothing to verify with yet
        dirty = _reinspect(alice, csrf, docks, factory, plant.plant_id, case_id)
        assert dirty.frame_count < done.frame_count, (dirty.frame_count, done.frame_count)
        assert _state(factory, case_id) == "in_progress"
        sent_back = _timeline(factory, case_id, "verify")[-1]
        assert f"re-inspection {dirty.id}" in sent_back.note and "not improved enough" in sent_back.note
        page = alice.get(f"/pv/plants/{plant.plant_id}").text
        assert "复检验证" in page and "已退回" in page and f"/pv/cases/{case_id}/override" in page

        # 5. cleaned for real (the robot's second report, as the robot listener applies it): a second
        #    re-inspection closes the case on landing, without a click
        assert drone.after_cleaning(cleaned_modules) == sorted(soiled)
        with unit_of_work(factory, Scope(region_id=world.a, system=True, username="pv-robot")) as s:
            cases.apply(s, registry, case_id, Action.RESOLVE, ActionIn(note="robot R1 cleaned again"))
        redone = _reinspect(alice, csrf, docks, factory, plant.plant_id, case_id)
        log.warning(
            "re-inspection of the cleaned rows: %d frames, whole plant %d; closed %.2f s after landing",
            redone.frame_count,
            done.frame_count,
            (_closed_at(factory, case_id) - redone.finished_at).total_seconds() if redone.finished_at else -1,
        )
        assert _state(factory, case_id) == "closed"
        assert [e.data["passed"] for e in _timeline(factory, case_id, loop.VERIFICATION)] == [False, True]
        with unit_of_work(factory, as_alice(world)) as s:
            metrics = loop.loop_metrics(s, plant.plant_id)
        page = alice.get(f"/pv/plants/{plant.plant_id}").text
        assert "待验证的清洗" not in page and "已验证并办结" in page
        assert metrics.takeoff_to_report_min is not None and metrics.cleaned_to_closed_min is not None
        assert (metrics.verified_automatically, metrics.sent_back_automatically) == (1, 1)
    finally:
        robots.stop(end_session=True)
        docks.stop(end_session=True)
        bot.stop(end_session=True)
        drone.stop(end_session=True)


def _reinspect(
    alice: TestClient, csrf: str, docks: dock.DockListener, factory: Factory, plant_id: int, case_id: int
) -> PvInspection:
    """One click on the plant page, then the dock flies the cleaned rows and the listener handles it."""
    r = alice.post(f"/pv/cases/{case_id}/reinspect", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with unit_of_work(factory, Scope.for_system()) as s:
        again = max(s.execute(select(PvInspection.id).where(PvInspection.plant_id == plant_id)).scalars())
    row = run_until(docks, factory, again, lambda r: r.status in ("done", "failed"))
    assert row.status == "done", row.error
    assert row.summary["dock"]["reinspection_of"] == case_id
    return row


def _timeline(factory: Factory, case_id: int, action: str) -> list[CaseEvent]:
    with unit_of_work(factory, Scope.for_system()) as s:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == action)
        return list(s.execute(stmt.order_by(CaseEvent.id)).scalars())


def _closed_at(factory: Factory, case_id: int) -> dt.datetime:
    with unit_of_work(factory, Scope.for_system()) as s:
        closed = s.get_one(Case, case_id).closed_at
        assert closed is not None
        return closed


def _state(factory: Factory, case_id: int) -> str:
    with unit_of_work(factory, Scope.for_system()) as s:
        return s.get_one(Case, case_id).state
