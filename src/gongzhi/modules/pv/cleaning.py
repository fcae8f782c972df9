"""Cleaning robots on the core loop: robots are actors, a cleaning is a case, the robot gets it over MQTT.

- :func:`register_robot` makes a robot an actor of the plant's region (kind ``robot``, adapter
  ``pv_robot_mqtt``) with the rows it serves and their rail lengths.
- :func:`create_cleaning_cases` turns modules to clean into one case per robot (category ``pv.cleaning``)
  with a :class:`PvCleaningOrder` row and dispatches it; the core's outbox then calls
  :class:`RobotMqttAdapter` at least once, outside any transaction, with an idempotency key per dispatch.
- :func:`handle_robot_message` applies what robots report (acks, state) to the order and the case: accepted →
  claimed, running → in progress, done → resolved with the rows cleaned, rejected/fault → on the timeline
  for the operator; a cleaning done marks its zones' production soiling for recompute. Run it with
  :class:`RobotListener` (``gongzhi pv robot-listen``), which acknowledges each MQTT message only after its
  transaction commits, so a crash replays it instead of losing it.
- A cleaning that a re-inspection sends back goes to the same robot again (:data:`RECLEAN`, outbox topic
  :data:`RECLEAN_TOPIC`): a new command with a new idempotency key, delivered like a dispatch, and the
  robot's done resolves the case again for the next re-inspection.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases import dispatch
from gongzhi.cases import service as cases
from gongzhi.cases.models import Actor, Case, CaseEvent
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.statemachine import Action, State
from gongzhi.core.models import OutboxEvent
from gongzhi.db import Scope, SessionFactory, unit_of_work, utcnow
from gongzhi.errors import InvalidInput, NotFound, msg
from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv import production
from gongzhi.modules.pv.io import robot_protocol as proto
from gongzhi.modules.pv.models import PvCleaningOrder, PvPlant
from gongzhi.registry import Call, External, Registry

log = logging.getLogger(__name__)

ADAPTER = "pv_robot_mqtt"
CATEGORY = "pv.cleaning"
RECLEAN = "pv_reclean"
"""The case-timeline entry of each request to clean a case again (data: ``attempt``, ``automatic``,
``mode``); the outbox event of topic :data:`RECLEAN_TOPIC` carries the same ``attempt``."""
RECLEAN_TOPIC = "pv.reclean"
RESENDABLE = ("done", "fault", "rejected")
"""Robot states of an order that may be sent again: the robot is not (or no longer) working on it."""


def row_of(module_id: str) -> str:
    """``A-03-17`` → ``A-03``."""
    parts = module_id.rsplit("-", 1)
    if len(parts) != 2 or not parts[0]:
        raise InvalidInput(msg("not a module id (array-row-position): %(module_id)r", module_id=module_id))
    return parts[0]


def register_robot(
    s: Session,
    plant: PvPlant,
    robot_id: str,
    rows: dict[str, float],
    *,
    broker: str = pvmqtt.DEFAULT_BROKER,
    name: str | None = None,
) -> Actor:
    """A cleaning robot serving ``rows`` (row id → rail length in metres) of ``plant``."""
    broker = pvmqtt.checked(broker)
    proto.topic(plant.code, robot_id, "cmd")  # the ids must be usable in topics
    if not rows or any(length <= 0 for length in rows.values()):
        raise InvalidInput(msg("a robot serves at least one row, each with a positive rail length in metres"))
    for other in robots_of(s, plant.id):
        if other.config.get("robot_id") == robot_id:
            raise InvalidInput(
                msg("plant %(code)s already has a robot %(robot_id)s", code=plant.code, robot_id=robot_id)
            )
    actor = Actor(
        region_id=plant.region_id,
        kind="robot",
        name=name or f"{plant.code} 清洗机器人 {robot_id}",
        adapter=ADAPTER,
        config={
            "plant_id": plant.id,
            "site": plant.code,
            "robot_id": robot_id,
            "rows": rows,
            "broker": broker,
        },
    )
    s.add(actor)
    s.flush()
    return actor


def robots_of(s: Session, plant_id: int) -> list[Actor]:
    actors = s.execute(select(Actor).where(Actor.adapter == ADAPTER, Actor.active.is_(True))).scalars()
    return [a for a in actors if a.config.get("plant_id") == plant_id]


def create_cleaning_cases(
    s: Session,
    registry: Registry,
    plant: PvPlant,
    modules: Iterable[str],
    *,
    mode: str = "dry",
    window: tuple[dt.datetime, dt.datetime] | None = None,
    priority: str = "normal",
    reason: str = "soiling",
    confirmed_by: int | None = None,
    note: str = "",
) -> list[tuple[Case, PvCleaningOrder]]:
    """One dispatched cleaning case per robot for the rows holding ``modules``.

    Raises :class:`InvalidInput` naming the rows no robot serves (nothing is created then).
    """
    mods = sorted(set(modules))
    if not mods:
        raise InvalidInput(msg("nothing to clean: no modules given"))
    if mode not in proto.MODES:
        raise InvalidInput(msg("mode must be one of %(modes)s", modes=", ".join(proto.MODES)))
    now = utcnow()
    start, end = window or (now, now + dt.timedelta(days=1))
    if end <= start:
        raise InvalidInput(msg("the cleaning window closes before it opens"))
    rows = sorted({row_of(m) for m in mods})
    robots = robots_of(s, plant.id)
    by_robot: dict[int, list[str]] = {}
    uncovered = []
    for row in rows:
        robot = next((r for r in robots if row in r.config.get("rows", {})), None)
        if robot is None:
            uncovered.append(row)
        else:
            by_robot.setdefault(robot.id, []).append(row)
    if uncovered:
        raise InvalidInput(
            msg("no robot of plant %(code)s serves rows %(rows)s", code=plant.code, rows=", ".join(uncovered))
        )
    out = []
    for robot_id, robot_rows in sorted(by_robot.items()):
        robot = s.get_one(Actor, robot_id)
        mine = [m for m in mods if row_of(m) in robot_rows]
        case = cases.create_case(
            s,
            registry,
            CaseCreate(
                title=f"{plant.name} 清洗 {', '.join(robot_rows)}"[:200],
                description=note or f"Clean {len(mine)} modules in rows {', '.join(robot_rows)} ({mode}).",
                category=CATEGORY,
                priority=priority,
                source="pv",
                accept=True,
            ),
            region_id=plant.region_id,
        )
        order = PvCleaningOrder(
            region_id=plant.region_id,
            case_id=case.id,
            plant_id=plant.id,
            robot_actor_id=robot.id,
            rows=robot_rows,
            modules=mine,
            mode=mode,
            not_before=start,
            not_after=end,
            reason=reason,
            confirmed_by=confirmed_by,
        )
        s.add(order)
        s.flush()
        cases.apply(s, registry, case.id, Action.DISPATCH, ActionIn(actor_id=robot.id, note=note))
        out.append((case, order))
    return out


def order_for_case(s: Session, case_id: int) -> PvCleaningOrder:
    order = s.execute(select(PvCleaningOrder).where(PvCleaningOrder.case_id == case_id)).scalar_one_or_none()
    if order is None:
        raise NotFound(msg("case %(case_id)s has no cleaning order", case_id=case_id))
    return order


class RobotMqttAdapter:
    """Sends a dispatched cleaning case to its robot as one QoS 1 command and waits for the broker's PUBACK.

    A failure (broker down, no PUBACK in time) raises, and the outbox retries with back-off; a retry or a
    redelivery after a server restart carries the same idempotency key, which the robot executes once.
    """

    name = ADAPTER

    def prepare_order(self, s: Session, case_id: int, order: dict[str, Any]) -> dict[str, Any]:
        row = order_for_case(s, case_id)
        row.idempotency_key = str(order["idempotency_key"])
        row.robot_state, row.updated_at = "pending", utcnow()
        case = s.get_one(Case, case_id)
        return {
            **order,
            "number": case.number,
            "priority": case.priority,
            "rows": list(row.rows),
            "modules": list(row.modules),
            "mode": row.mode,
            "not_before": row.not_before.isoformat(),
            "not_after": row.not_after.isoformat(),
            "reason": row.reason,
            "confirmed_by": str(row.confirmed_by or ""),
        }

    def deliver(self, key: str, case: dict[str, Any], config: dict[str, Any]) -> str:
        cmd = proto.Command(
            work_order_id=str(case["number"]),
            idempotency_key=key,
            site_id=str(config["site"]),
            robot_id=str(config["robot_id"]),
            rows=tuple(case["rows"]),
            modules=tuple(case["modules"]),
            mode=str(case["mode"]),
            not_before=dt.datetime.fromisoformat(case["not_before"]),
            not_after=dt.datetime.fromisoformat(case["not_after"]),
            priority=_wire_priority(str(case.get("priority", "normal"))),
            reason=str(case.get("reason", "soiling")),
            confirmed_by=str(case.get("confirmed_by", "")),
        )
        topic = proto.topic(cmd.site_id, cmd.robot_id, "cmd")
        broker = pvmqtt.Broker.parse(str(config.get("broker", pvmqtt.DEFAULT_BROKER)))
        pvmqtt.publish_once(
            broker, topic, cmd.to_json(), client_id=f"gongzhi-dispatch-{uuid.uuid4().hex[:10]}"
        )
        return f"MQTT {topic} (QoS 1, acknowledged by the broker)"


def _wire_priority(priority: str) -> str:
    return priority if priority in proto.PRIORITIES else "normal"


# --- what robots report -------------------------------------------------------------------------------------


def handle_robot_message(s: Session, registry: Registry, topic: str, payload: bytes) -> str:
    """Apply one ack or state message; returns what it did (for logs). Unknown work orders are ignored."""
    site, robot, kind = proto.parse_topic(topic)
    if kind == "ack":
        ack = proto.read_ack(payload)
        order = _order_by_key(s, ack.idempotency_key, site, robot)
        if order is None:
            return f"ack for unknown work order {ack.idempotency_key}"
        case = s.get_one(Case, order.case_id)
        cases.record_event(
            s,
            case,
            "robot_ack",
            note=ack.reason,
            data={"robot": robot, "result": ack.result, "key": ack.idempotency_key},
        )
        if ack.result == "rejected":
            order.robot_state, order.fault, order.updated_at = "rejected", ack.reason, utcnow()
        elif ack.result == "accepted" and case.state == State.DISPATCHED:
            cases.apply(s, registry, case.id, Action.CLAIM, ActionIn(note=f"robot {robot} accepted"))
        return f"{case.number}: ack {ack.result}"
    if kind != "state":
        return "ignored"
    st = proto.read_status(payload)
    if not st.idempotency_key:
        return f"robot {robot} {st.state}"
    order = _order_by_key(s, st.idempotency_key, site, robot)
    if order is None:
        return f"state for unknown work order {st.idempotency_key}"
    case = s.get_one(Case, order.case_id)
    changed = st.state != order.robot_state
    order.robot_state, order.progress_pct, order.battery_pct = st.state, st.progress_pct, st.battery_pct
    order.cleaned_rows, order.cleaned_modules = list(st.cleaned_rows), list(st.cleaned_modules)
    order.updated_at = utcnow()
    if changed:
        data = {
            "robot": robot,
            "state": st.state,
            "progress_pct": st.progress_pct,
            "battery_pct": st.battery_pct,
        }
        cases.record_event(s, case, "robot_state", note=st.fault, data=data)
    if st.state == "fault":
        order.fault = st.fault
    if st.state == "running" and case.state in (State.DISPATCHED, State.CLAIMED):
        if case.state == State.DISPATCHED:
            cases.apply(s, registry, case.id, Action.CLAIM, ActionIn(note=f"robot {robot} started"))
        cases.apply(s, registry, case.id, Action.START, ActionIn())
    if changed and st.state == "done" and case.state in (State.DISPATCHED, State.CLAIMED, State.IN_PROGRESS):
        order.cleaned_at = st.ts
        production.mark_cleaned(s, order.plant_id, list(order.cleaned_rows or order.rows))
        if case.state == State.DISPATCHED:
            cases.apply(s, registry, case.id, Action.CLAIM, ActionIn(note=f"robot {robot}"))
        note = f"robot {robot} cleaned rows {', '.join(st.cleaned_rows)} ({len(st.cleaned_modules)} modules)"
        cases.apply(s, registry, case.id, Action.RESOLVE, ActionIn(note=note))
    return f"{case.number}: {st.state} {st.progress_pct:.0f} %"


def reclean_requests(s: Session, case_id: int) -> list[CaseEvent]:
    """The case's requests to clean again, oldest first."""
    stmt = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == RECLEAN)
    return list(s.execute(stmt.order_by(CaseEvent.id)).scalars())


def prepare_reclean(registry: Registry, s: Session, ev: OutboxEvent) -> Call | None:
    """Deliver a request to clean again like a dispatch, unless the robot has already reported the case
    done again (a retry after the fact) or a later request superseded this one."""
    requests = reclean_requests(s, int(ev.payload["case_id"]))
    if not requests or requests[-1].data.get("attempt") != ev.payload.get("attempt"):
        return None
    return dispatch.prepare_dispatch(registry, s, ev, state=State.IN_PROGRESS)


def register(registry: Registry) -> None:
    registry.add_adapter(RobotMqttAdapter())
    registry.subscribe(
        "pv.reclean",
        RECLEAN_TOPIC,
        External(
            prepare=lambda s, ev: prepare_reclean(registry, s, ev),
            finish=lambda s, ev, result: dispatch.finish_dispatch(registry, s, ev, result),
            failed=dispatch.failed_dispatch,
        ),
    )


def _order_by_key(s: Session, key: str, site: str, robot: str) -> PvCleaningOrder | None:
    """The order sent with ``key`` to this very robot: a report from another site or robot (a stale retained
    message, a misconfigured robot) never moves a case."""
    stmt = select(PvCleaningOrder).where(PvCleaningOrder.idempotency_key == key)
    order = s.execute(stmt).scalar_one_or_none()
    if order is None:
        return None
    config = s.get_one(Actor, order.robot_actor_id).config
    if config.get("site") != site or config.get("robot_id") != robot:
        return None
    return order


TOPICS = [(f"{proto.TOPIC_ROOT}/+/robot/+/ack", 1), (f"{proto.TOPIC_ROOT}/+/robot/+/state", 1)]


class RobotListener(pvmqtt.QueuedListener[mqtt.MQTTMessage]):
    """Subscribes to every robot's acks and state with a persistent session and applies them in arrival order,
    one transaction per message, acknowledging a message to the broker only after its transaction committed
    (a crash in between replays it; handling is idempotent). MQTT callbacks only queue; :meth:`process` (or
    :meth:`run` in a thread) does the database work in the caller's thread."""

    CLIENT_ID = "gongzhi-robot-listener"

    def __init__(
        self, factory: SessionFactory, registry: Registry, broker: pvmqtt.Broker, client_id: str = CLIENT_ID
    ) -> None:
        super().__init__(broker, client_id, TOPICS)
        self.factory, self.registry = factory, registry
        self.handled = 0
        self.dropped = 0

    def _apply(self, msg: mqtt.MQTTMessage) -> bool:
        try:
            with unit_of_work(self.factory, Scope.for_system()) as s:
                what = handle_robot_message(s, self.registry, msg.topic, bytes(msg.payload))
            log.info("robot message %s: %s", msg.topic, what)
            self.handled += 1
        except proto.ProtocolError as exc:  # a malformed message will not get better: drop it, loudly
            log.warning("dropped malformed robot message on %s: %s", msg.topic, exc)
            self.dropped += 1
        except Exception:
            # not acknowledged: the broker redelivers it when we reconnect
            log.exception("robot message on %s not applied; it will be redelivered", msg.topic)
            return False
        self.ack(msg)
        return True


RETRY_S = 30.0


def listener_service(factory: SessionFactory, registry: Registry, stop: threading.Event) -> None:
    """The worker's robot listener: runs while any robot is registered, on the brokers their config names;
    reconnects every ``RETRY_S`` seconds while a broker is unreachable (logged once per outage)."""
    running: dict[str, RobotListener] = {}
    warned: set[str] = set()
    while not stop.is_set():
        with unit_of_work(factory, Scope.for_system()) as s:
            urls = {
                str(a.config.get("broker", pvmqtt.DEFAULT_BROKER))
                for a in s.execute(
                    select(Actor).where(Actor.adapter == ADAPTER, Actor.active.is_(True))
                ).scalars()
            }
        for url in sorted(urls - set(running)):
            listener = RobotListener(factory, registry, pvmqtt.Broker.parse(url))
            try:
                listener.start()
            except ConnectionError as exc:
                if url not in warned:
                    log.warning("robot listener: %s; retrying every %.0f s", exc, RETRY_S)
                    warned.add(url)
                continue
            warned.discard(url)
            running[url] = listener
        deadline = time.monotonic() + RETRY_S
        while not stop.is_set() and time.monotonic() < deadline:
            if not running:
                stop.wait(0.5)
            for listener in running.values():
                listener.process(timeout_s=0.5)
    for listener in running.values():
        listener.stop()
