"""A rail-mounted cleaning robot that speaks gongzhi's robot protocol over a real MQTT broker
(``gongzhi pv robot-sim``), for the closed loop on one machine and for the fault tests.

It behaves as the protocol asks a real robot to: a persistent session so commands published while it is
offline wait for it; every command acknowledged; each idempotency key executed at most once, remembered in a
state file that survives a restart; state reported on every change and every few metres while running. It
moves along its rows at ``speed_m_min`` (rail robots clean at roughly 10–20 m/min), drains its battery per
metre (wet mode more), goes to charge below ``low_battery_pct`` before taking the next order, and faults
with probability ``fault_rate`` per row (seeded), reporting ``fault`` with a reason.

``time_scale`` compresses time for tests and demos (10 = ten times faster than real time).
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt

from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv.io import robot_protocol as proto


@dataclass
class RobotSpec:
    site: str
    robot_id: str
    rows: dict[str, float]
    """Row id → rail length [m]."""
    speed_m_min: float = 15.0
    battery_pct: float = 100.0
    drain_pct_per_100m: float = 4.0
    wet_factor: float = 1.5
    low_battery_pct: float = 20.0
    charge_pct_min: float = 2.0
    fault_rate: float = 0.0
    seed: int = 0
    report_every_m: float = 20.0
    time_scale: float = 1.0
    state_file: Path | None = None
    modules_per_row: dict[str, list[str]] = field(default_factory=dict)


class RobotSimulator:
    """Start with :meth:`start`, stop with :meth:`stop`; ``executed`` lists the idempotency keys it ran."""

    def __init__(self, spec: RobotSpec, broker: pvmqtt.Broker) -> None:
        self.spec = spec
        self.broker = broker
        self.battery = spec.battery_pct
        self.executed: list[str] = []
        self.acks: list[proto.Ack] = []
        self._seen: set[str] = self._load_seen()
        self._rng = random.Random(spec.seed)  # noqa: S311 - simulated faults, not secrets
        self._orders: queue.Queue[proto.Command | None] = queue.Queue()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    # -- lifecycle --
    def start(self) -> None:
        s = self.spec
        c = pvmqtt.client(f"pvom-robot-{s.site}-{s.robot_id}", persistent=True)
        c.on_message = self._on_message
        c.on_connect = self._on_connect
        will = proto.Status(
            robot_id=s.robot_id, state="fault", battery_pct=self.battery, fault="connection lost"
        )
        c.will_set(proto.topic(s.site, s.robot_id, "state"), will.to_json(), qos=1, retain=True)
        self._client = c
        pvmqtt.connect(c, self.broker, persistent=True)
        pvmqtt.subscribe(c, [(proto.topic(s.site, s.robot_id, "cmd"), 1)])
        self._report(proto.Status(robot_id=s.robot_id, state="idle", battery_pct=self.battery))
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name=f"robot-{s.robot_id}", daemon=True)
        self._worker.start()

    def stop(self, *, end_session: bool = False) -> None:
        """Disconnect cleanly: the broker keeps the session and queues new commands until the next start,
        unless ``end_session`` (a robot taken out of service)."""
        self._stop.set()
        self._orders.put(None)
        if self._worker is not None:
            self._worker.join(timeout=10)
        if self._client is not None:
            pvmqtt.disconnect(self._client, end_session=end_session)
            self._client = None

    def idle(self) -> bool:
        return self._orders.unfinished_tasks == 0

    # -- MQTT callbacks (paho's network thread) --
    def _on_connect(self, c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        c.subscribe(proto.topic(self.spec.site, self.spec.robot_id, "cmd"), qos=1)

    def _on_message(self, c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        s = self.spec
        try:
            cmd = proto.read_command(bytes(msg.payload))
        except proto.ProtocolError as exc:
            self._ack("?", "?", "rejected", str(exc))
            return
        if cmd.robot_id != s.robot_id or cmd.site_id != s.site:
            self._ack(cmd.idempotency_key, cmd.work_order_id, "rejected", "addressed to another robot")
            return
        unknown = [r for r in cmd.rows if r not in s.rows]
        if unknown:
            self._ack(
                cmd.idempotency_key, cmd.work_order_id, "rejected", f"rows not served: {', '.join(unknown)}"
            )
            return
        with self._lock:
            if cmd.idempotency_key in self._seen:
                duplicate = True
            else:
                duplicate = False
                self._seen.add(cmd.idempotency_key)
                self._save_seen()  # remembered before it runs: at most once, even across a restart
        if duplicate:
            self._ack(cmd.idempotency_key, cmd.work_order_id, "duplicate")
            return
        self._ack(cmd.idempotency_key, cmd.work_order_id, "accepted")
        self._report(self._status("queued", cmd))
        self._orders.put(cmd)

    # -- the robot's work --
    def _work(self) -> None:
        while not self._stop.is_set():
            cmd = self._orders.get()
            try:
                if cmd is not None:
                    self._execute(cmd)
            finally:
                self._orders.task_done()

    def _sleep(self, seconds: float) -> bool:
        """Simulated time; False when asked to stop."""
        return not self._stop.wait(seconds / self.spec.time_scale)

    def _execute(self, cmd: proto.Command) -> None:
        s = self.spec
        if self.battery < s.low_battery_pct:
            self._report(self._status("charging", cmd))
            while self.battery < 95 and self._sleep(60):
                self.battery = min(100.0, self.battery + s.charge_pct_min)
        total = sum(s.rows[r] for r in cmd.rows)
        drain = s.drain_pct_per_100m / 100 * (s.wet_factor if cmd.mode == "wet" else 1.0)
        step = s.report_every_m
        done_m = 0.0
        cleaned: list[str] = []
        for row in cmd.rows:
            length = s.rows[row]
            fault_at = length * self._rng.random() if self._rng.random() < s.fault_rate else None
            pos = 0.0
            while pos < length:
                move = min(step, length - pos)
                if fault_at is not None and pos + move >= fault_at:
                    self._report(
                        self._status("fault", cmd, done_m / total * 100, cleaned, "brush motor overcurrent")
                    )
                    return
                if not self._sleep(move / s.speed_m_min * 60):
                    return
                pos += move
                done_m += move
                self.battery = max(0.0, self.battery - drain * move)
                if self.battery <= 0:
                    self._report(self._status("fault", cmd, done_m / total * 100, cleaned, "battery empty"))
                    return
                self._report(self._status("running", cmd, done_m / total * 100, cleaned, position=pos))
            cleaned.append(row)
        self.executed.append(cmd.idempotency_key)
        self._report(self._status("done", cmd, 100.0, cleaned))

    # -- messages --
    def _status(
        self,
        state: str,
        cmd: proto.Command,
        progress: float = 0.0,
        cleaned: list[str] | None = None,
        fault: str = "",
        position: float = 0.0,
    ) -> proto.Status:
        rows = tuple(cleaned or ())
        modules = tuple(m for m in cmd.modules if any(m.startswith(f"{r}-") for r in rows))
        return proto.Status(
            robot_id=self.spec.robot_id,
            state=state,
            battery_pct=round(self.battery, 1),
            work_order_id=cmd.work_order_id,
            idempotency_key=cmd.idempotency_key,
            progress_pct=round(min(progress, 100.0), 1),
            cleaned_rows=rows,
            cleaned_modules=modules,
            position_m=round(position, 1),
            fault=fault,
            ts=dt.datetime.now(dt.UTC),
        )

    def _report(self, status: proto.Status) -> None:
        c = self._client
        if c is not None:
            c.publish(
                proto.topic(self.spec.site, self.spec.robot_id, "state"), status.to_json(), qos=1, retain=True
            )

    def _ack(self, key: str, work_order: str, result: str, reason: str = "") -> None:
        ack = proto.Ack(self.spec.robot_id, key, work_order, result, reason)
        self.acks.append(ack)
        c = self._client
        if c is not None:
            c.publish(proto.topic(self.spec.site, self.spec.robot_id, "ack"), ack.to_json(), qos=1)

    def _load_seen(self) -> set[str]:
        f = self.spec.state_file
        if f is None or not f.exists():
            return set()
        return set(json.loads(f.read_text(encoding="utf-8")).get("seen", []))

    def _save_seen(self) -> None:
        f = self.spec.state_file
        if f is None:
            return
        tmp = f.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seen": sorted(self._seen)}), encoding="utf-8")
        tmp.replace(f)
