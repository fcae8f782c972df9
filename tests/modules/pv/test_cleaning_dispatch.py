"""Cleaning cases reach robots over real Mosquitto brokers and come back resolved; nothing is lost or run
twice when the broker is down, the server dies mid-dispatch, the robot is offline or the listener crashes."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case, CaseEvent
from gongzhi.cases.schemas import ActionIn
from gongzhi.cases.statemachine import Action
from gongzhi.core import outbox
from gongzhi.core.models import OutboxDelivery, OutboxEvent
from gongzhi.db import Scope, unit_of_work, utcnow
from gongzhi.errors import InvalidInput
from gongzhi.modules.pv import cleaning, loop
from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv import service as pv
from gongzhi.modules.pv.io import robot_protocol as proto
from gongzhi.modules.pv.models import PvCleaningOrder, PvModule
from gongzhi.modules.pv.robot_sim import RobotSimulator, RobotSpec
from gongzhi.modules.pv.schemas import LayoutIn, PlantCreate
from gongzhi.registry import Registry
from tests.conftest import World

from ._mqtt import machine_broker, private_broker
from .shapes import rectangle

Factory = sessionmaker[Session]


def outline() -> dict[str, Any]:
    ring = [list(p) for p in rectangle(30, 20)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def make_plant(factory: Factory, world: World, broker: pvmqtt.Broker) -> tuple[str, list[str], list[str]]:
    """A generated plant with one robot on every row; returns (site code, rows, two modules in two rows)."""
    code = f"roof-{uuid.uuid4().hex[:8]}"
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        plant = pv.create_plant(
            s, PlantCreate(code=code, name="报社屋顶", polygon=outline(), layout=LayoutIn(setback_m=0.5))
        )
        mods = s.execute(select(PvModule.module_id).where(PvModule.plant_id == plant.id)).scalars().all()
        rows = sorted({cleaning.row_of(m) for m in mods})
        cleaning.register_robot(
            s, plant, "R1", {r: 30.0 for r in rows}, broker=f"mqtt://{broker.host}:{broker.port}"
        )
        picked = [next(m for m in mods if cleaning.row_of(m) == r) for r in rows[:2]]
    return code, rows, picked


def dispatch(factory: Factory, registry: Registry, world: World, code: str, modules: list[str]) -> int:
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        plant = next(p for p in pv.list_plants(s) if p.code == code)
        [(case, _order)] = cleaning.create_cleaning_cases(
            s, registry, plant, modules, mode="wet", priority="high", confirmed_by=world.alice.user_id
        )
        return case.id


def robot(code: str, rows: list[str], broker: pvmqtt.Broker, **kw: Any) -> RobotSimulator:
    return RobotSimulator(
        RobotSpec(site=code, robot_id="R1", rows={r: 30.0 for r in rows}, time_scale=600, **kw), broker
    )


def listener(
    factory: Factory, registry: Registry, broker: pvmqtt.Broker, cid: str | None = None
) -> cleaning.RobotListener:
    lis = cleaning.RobotListener(
        factory, registry, broker, client_id=cid or f"test-listener-{uuid.uuid4().hex[:8]}"
    )
    lis.start()
    return lis


def case_state(factory: Factory, case_id: int) -> str:
    with unit_of_work(factory, Scope.for_system()) as s:
        return s.get_one(Case, case_id).state


def until_state(
    factory: Factory, lis: cleaning.RobotListener, case_id: int, state: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while case_state(factory, case_id) != state:
        if time.monotonic() > deadline:
            raise AssertionError(f"case {case_id} is {case_state(factory, case_id)}, not {state}")
        lis.process(timeout_s=0.5)


def timeline(factory: Factory, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    with unit_of_work(factory, Scope.for_system()) as s:
        evs = s.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).scalars()
        return [(e.action, dict(e.data)) for e in evs]


def deliveries(factory: Factory, case_id: int) -> list[OutboxDelivery]:
    with unit_of_work(factory, Scope.for_system()) as s:
        stmt = (
            select(OutboxDelivery)
            .join(OutboxEvent, OutboxEvent.id == OutboxDelivery.event_id)
            .where(OutboxEvent.topic == "case.dispatch", OutboxDelivery.subscriber == "dispatch")
        )
        return [
            d
            for d in s.execute(stmt).scalars()
            if s.get_one(OutboxEvent, d.event_id).payload["case_id"] == case_id
        ]


def test_a_cleaning_case_goes_to_the_robot_and_comes_back_resolved(
    factory: Factory, registry: Registry, world: World
) -> None:
    broker = machine_broker()
    code, rows, modules = make_plant(factory, world, broker)
    bot = robot(code, rows, broker)
    lis = listener(factory, registry, broker)
    bot.start()
    try:
        case_id = dispatch(factory, registry, world, code, modules)
        assert case_state(factory, case_id) == "dispatched"
        report = outbox.deliver_due(factory, registry)
        assert report.failed == 0
        until_state(factory, lis, case_id, "resolved")
    finally:
        bot.stop(end_session=True)
        lis.stop(end_session=True)
    actions = [a for a, _ in timeline(factory, case_id)]
    assert actions[:5] == ["create", "accept", "dispatch", "delivery_attempt", "delivered"]
    assert {"robot_ack", "claim", "start", "robot_state", "resolve"} <= set(actions), [
        (a, d.get("state")) for a, d in timeline(factory, case_id)
    ]
    states = [d["state"] for a, d in timeline(factory, case_id) if a == "robot_state"]
    assert states[-1] == "done" and "running" in states
    with unit_of_work(factory, Scope.for_system()) as s:
        order = s.execute(select(PvCleaningOrder).where(PvCleaningOrder.case_id == case_id)).scalar_one()
        assert order.robot_state == "done" and order.progress_pct == 100
        assert sorted(order.cleaned_modules) == sorted(modules) and order.cleaned_at is not None
        assert order.mode == "wet" and order.battery_pct is not None and order.battery_pct < 100
    assert len(bot.executed) == 1


def test_a_cleaning_sent_back_goes_to_the_robot_again_and_a_stale_report_of_the_first_pass_changes_nothing(
    factory: Factory, registry: Registry, world: World
) -> None:
    broker = machine_broker()
    code, rows, modules = make_plant(factory, world, broker)
    bot = robot(code, rows, broker)
    lis = listener(factory, registry, broker)
    bot.start()
    try:
        case_id = dispatch(factory, registry, world, code, modules)
        outbox.deliver_due(factory, registry)
        until_state(factory, lis, case_id, "resolved")
        with unit_of_work(factory, Scope.for_system()) as s:
            first_key = cleaning.order_for_case(s, case_id).idempotency_key
            cases.apply(s, registry, case_id, Action.VERIFY, ActionIn(passed=False, note="still dusty"))
        with unit_of_work(
            factory, Scope(region_id=world.a, user_id=world.alice.user_id, role="dispatcher")
        ) as s:
            loop.reclean(s, registry, case_id, mode="dry")
        stale = proto.Status("R1", "done", 80.0, str(case_id), str(first_key), 100.0, tuple(rows[:2]))
        with unit_of_work(factory, Scope.for_system()) as s:
            what = cleaning.handle_robot_message(
                s, registry, proto.topic(code, "R1", "state"), stale.to_json()
            )
        assert "unknown work order" in what and case_state(factory, case_id) == "in_progress"
        assert outbox.deliver_due(factory, registry).delivered >= 1
        until_state(factory, lis, case_id, "resolved")
    finally:
        bot.stop(end_session=True)
        lis.stop(end_session=True)
    assert len(bot.executed) == 2 and bot.executed[0] == first_key
    actions = [a for a, _ in timeline(factory, case_id)]
    after = actions[actions.index(cleaning.RECLEAN) :]
    assert after[:3] == [cleaning.RECLEAN, "delivery_attempt", "delivered"] and after[-1] == "resolve", after
    with unit_of_work(factory, Scope.for_system()) as s:
        order = cleaning.order_for_case(s, case_id)
        assert (
            order.idempotency_key == bot.executed[1] and order.mode == "dry" and order.robot_state == "done"
        )


def test_rows_without_a_robot_are_refused_before_anything_is_created(
    factory: Factory, registry: Registry, world: World
) -> None:
    broker = pvmqtt.Broker("127.0.0.1", 1883)
    code, _rows, modules = make_plant(factory, world, broker)
    with unit_of_work(factory, Scope(region_id=world.a, system=True)) as s:
        plant = next(p for p in pv.list_plants(s) if p.code == code)
        before = s.execute(select(Case.id)).scalars().all()
        with pytest.raises(InvalidInput, match="serves rows Z-99"):
            cleaning.create_cleaning_cases(s, registry, plant, [*modules, "Z-99-01"])
        now = utcnow()
        with pytest.raises(InvalidInput, match="window closes"):
            cleaning.create_cleaning_cases(
                s, registry, plant, modules, window=(now, now - dt.timedelta(hours=1))
            )
        with pytest.raises(InvalidInput, match="already has a robot R1"):
            cleaning.register_robot(s, plant, "R1", {"A-01": 10.0})
        assert s.execute(select(Case.id)).scalars().all() == before


def test_broker_down_offline_robot_and_a_server_dying_mid_dispatch_lose_nothing_and_run_nothing_twice(
    factory: Factory, registry: Registry, world: World
) -> None:
    with private_broker() as b:
        code, rows, modules = make_plant(factory, world, b.broker)
        bot = robot(code, rows, b.broker)
        bot.start()  # the robot's persistent session exists; then it goes offline
        bot.stop()
        case_id = dispatch(factory, registry, world, code, modules)

        b.stop()  # 1. the broker is down when the outbox first tries
        assert outbox.deliver_due(factory, registry).failed == 1
        [d] = deliveries(factory, case_id)
        assert d.status == "pending" and d.attempts == 1 and "not reachable" in (d.last_error or "")
        assert [a for a, _ in timeline(factory, case_id)][-2:] == ["delivery_attempt", "delivery_failed"]

        b.start()  # 2. back up: the retry (after its back-off) reaches the broker, the robot is still offline
        later = utcnow() + dt.timedelta(minutes=5)
        assert outbox.deliver_due(factory, registry, now=later).delivered == 1

        # 3. the server died after publishing but before recording it: the lease ends, the outbox sends again
        with unit_of_work(factory, Scope.for_system()) as s:
            d = s.get_one(OutboxDelivery, d.id)
            d.status, d.next_attempt_at = "pending", utcnow()
        assert outbox.deliver_due(factory, registry, now=later).delivered == 1

        # 4. the robot comes back: both copies wait for it at the broker; it runs the order once
        lis = listener(factory, registry, b.broker)
        bot = robot(code, rows, b.broker)
        bot.start()
        try:
            until_state(factory, lis, case_id, "resolved")
            deadline = time.monotonic() + 10
            while len(bot.acks) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            lis.process(timeout_s=1)
        finally:
            bot.stop(end_session=True)
            lis.stop(end_session=True)
        assert [a.result for a in bot.acks] == ["accepted", "duplicate"]
        assert len(bot.executed) == 1
        acks = [d["result"] for a, d in timeline(factory, case_id) if a == "robot_ack"]
        assert acks == ["accepted", "duplicate"]
        attempts = [a for a, _ in timeline(factory, case_id) if a.startswith("deliver")]
        assert attempts == [
            "delivery_attempt",
            "delivery_failed",
            "delivery_attempt",
            "delivered",
            "delivery_attempt",
            "delivered",
        ]


def test_a_listener_that_dies_before_applying_a_report_gets_it_again(
    factory: Factory, registry: Registry, world: World
) -> None:
    with private_broker() as b:
        code, rows, modules = make_plant(factory, world, b.broker)
        cid = f"test-listener-{uuid.uuid4().hex[:8]}"
        first = listener(factory, registry, b.broker, cid)
        bot = robot(code, rows, b.broker)
        bot.start()
        try:
            case_id = dispatch(factory, registry, world, code, modules)
            outbox.deliver_due(factory, registry)
            deadline = time.monotonic() + 20
            while not bot.executed and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            bot.stop()
        first.stop()  # it received the robot's reports but applied none (and so acknowledged none)
        assert case_state(factory, case_id) == "dispatched"
        second = listener(factory, registry, b.broker, cid)
        try:
            until_state(factory, second, case_id, "resolved")
        finally:
            second.stop(end_session=True)


def test_the_worker_runs_the_robot_listener_by_itself(tmp_path: Any, registry: Registry) -> None:
    """The worker (``gongzhi worker`` or the embedded one) applies robot reports with no one calling the
    listener; on a database of its own, since the worker's threads need connections of their own."""
    import threading

    from gongzhi import migrate, worker
    from gongzhi.core import service as core
    from gongzhi.db import make_engine, make_session_factory

    with private_broker() as pb:  # not the machine's: the worker listens under the production client id
        broker = pb.broker
        url = f"sqlite:///{tmp_path / 'worker.db'}"
        migrate.upgrade(url)
        own = make_session_factory(make_engine(url))
        with unit_of_work(own, Scope.for_system()) as s:
            rid = core.create_region(s, f"w{uuid.uuid4().hex[:4]}", "工作区", "WK").id
        code = f"roof-{uuid.uuid4().hex[:8]}"
        with unit_of_work(own, Scope(region_id=rid, system=True)) as s:
            plant = pv.create_plant(
                s, PlantCreate(code=code, name="屋顶", polygon=outline(), layout=LayoutIn(setback_m=0.5))
            )
            mods = s.execute(select(PvModule.module_id).where(PvModule.plant_id == plant.id)).scalars().all()
            rows = sorted({cleaning.row_of(m) for m in mods})
            cleaning.register_robot(
                s, plant, "R1", {r: 30.0 for r in rows}, broker=f"mqtt://{broker.host}:{broker.port}"
            )
            [(case, _)] = cleaning.create_cleaning_cases(s, registry, plant, [mods[0]])
            case_id = case.id
        bot = robot(code, rows, broker)
        bot.start()
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(own, registry, stop, 0.2), daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while case_state(own, case_id) != "resolved":
                assert time.monotonic() < deadline, f"case is {case_state(own, case_id)}"
                time.sleep(0.2)
        finally:
            stop.set()
            thread.join(timeout=10)
            bot.stop(end_session=True)
        assert len(bot.executed) == 1
