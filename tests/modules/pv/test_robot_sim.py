"""The robot protocol and the robot simulator, on real Mosquitto brokers."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv.io import robot_protocol as proto
from gongzhi.modules.pv.robot_sim import RobotSimulator, RobotSpec

from ._mqtt import Collector, machine_broker, private_broker

NOW = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)


def command(
    site: str, robot: str, key: str, rows: tuple[str, ...] = ("A-01",), mode: str = "dry"
) -> proto.Command:
    return proto.Command(
        work_order_id="PV-2026-0001",
        idempotency_key=key,
        site_id=site,
        robot_id=robot,
        rows=rows,
        modules=tuple(f"{r}-03" for r in rows),
        mode=mode,
        not_before=NOW,
        not_after=NOW + dt.timedelta(hours=4),
        priority="high",
        reason="soiling",
        confirmed_by="pete",
    )


def spec(site: str, **kw: Any) -> RobotSpec:
    """A robot of ``site`` with two 60 m rows at 600 times real speed; ``kw`` any other RobotSpec fields."""
    base: dict[str, Any] = {
        "site": site,
        "robot_id": "R1",
        "rows": {"A-01": 60.0, "A-02": 60.0},
        "time_scale": 600.0,
    }
    base.update(kw)
    return RobotSpec(**base)


def send(broker: pvmqtt.Broker, cmd: proto.Command) -> None:
    pvmqtt.publish_once(
        broker,
        proto.topic(cmd.site_id, cmd.robot_id, "cmd"),
        cmd.to_json(),
        client_id=f"t-{uuid.uuid4().hex[:8]}",
    )


Match = Callable[[str, dict[str, Any]], bool]


def is_state(state: str, key: str) -> Match:
    return lambda t, d: t.endswith("/state") and d["state"] == state and d.get("idempotency_key") == key


def is_ack(result: str, key: str) -> Match:
    return lambda t, d: t.endswith("/ack") and d["result"] == result and d["idempotency_key"] == key


# -- protocol ---
def test_command_round_trips_through_json() -> None:
    cmd = command("S1", "R1", "PV-1:7", rows=("A-01", "A-02"), mode="wet")
    assert proto.read_command(cmd.to_json()) == cmd
    wire = json.loads(cmd.to_json())
    assert wire["targets"] == {"rows": ["A-01", "A-02"], "modules": ["A-01-03", "A-02-03"]}
    assert set(wire["window"]) == {"not_before", "not_after"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("idempotency_key"), "idempotency_key is required"),
        (lambda d: d.update(mode="steam"), "mode must be one of dry, wet"),
        (lambda d: d["window"].update(not_after="2026-11-28T07:00:00+00:00"), "window closes before"),
        (lambda d: d["window"].update(not_before="tomorrow"), "not an ISO 8601"),
        (lambda d: d["window"].update(not_before="2026-11-28T07:00:00"), "needs a UTC offset"),
        (lambda d: d["targets"].update(rows=[]), "at least one row"),
        (lambda d: d.update(targets="A-01"), "targets {rows, modules} is required"),
    ],
)
def test_bad_commands_are_refused_with_the_field_named(
    edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    data = json.loads(command("S1", "R1", "k").to_json())
    edit(data)
    with pytest.raises(proto.ProtocolError, match=message):
        proto.read_command(json.dumps(data))
    with pytest.raises(proto.ProtocolError, match="not JSON"):
        proto.read_command(b"\xff{")


def test_status_and_topics() -> None:
    st = proto.Status(
        robot_id="R1", state="running", battery_pct=80.5, progress_pct=40, cleaned_rows=("A-01",)
    )
    assert proto.read_status(st.to_json()) == st
    assert proto.parse_topic(proto.topic("S1", "R1", "state")) == ("S1", "R1", "state")
    with pytest.raises(ValueError, match="cannot be part of an MQTT topic"):
        proto.topic("S/1", "R1", "cmd")
    with pytest.raises(proto.ProtocolError, match="percentages"):
        proto.read_status(json.dumps({**json.loads(st.to_json()), "battery_pct": 140}))


# -- the simulator on the machine's broker ---
def test_robot_cleans_its_rows_and_reports_progress(tmp_path: Path) -> None:
    broker = machine_broker()
    site = f"site-{uuid.uuid4().hex[:8]}"
    robot = RobotSimulator(spec(site, state_file=tmp_path / "seen.json"), broker)
    seen = Collector(broker, f"pvom/{site}/robot/R1/+")
    robot.start()
    try:
        send(broker, command(site, "R1", "PV-1:1", rows=("A-01", "A-02")))
        done = seen.wait_for(is_state("done", "PV-1:1"))
    finally:
        robot.stop(end_session=True)
        seen.close()
    assert done["cleaned_targets"] == {"rows": ["A-01", "A-02"], "modules": ["A-01-03", "A-02-03"]}
    running = [d for t, d in seen.messages if t.endswith("/state") and d["state"] == "running"]
    progress = [d["progress_pct"] for d in running]
    assert progress == sorted(progress) and len(progress) >= 5  # every 20 m of 120 m
    # 120 m dry at 4 %/100 m
    assert done["battery_pct"] == pytest.approx(100 - 4.8, abs=0.01)
    assert any(is_ack("accepted", "PV-1:1")(t, d) for t, d in seen.messages)
    assert robot.executed == ["PV-1:1"]


def test_a_command_received_twice_runs_once_even_across_a_restart(tmp_path: Path) -> None:
    broker = machine_broker()
    site = f"site-{uuid.uuid4().hex[:8]}"
    state = tmp_path / "seen.json"
    seen = Collector(broker, f"pvom/{site}/robot/R1/+")
    robot = RobotSimulator(spec(site, state_file=state), broker)
    robot.start()
    try:
        send(broker, command(site, "R1", "PV-2:5"))
        seen.wait_for(is_state("done", "PV-2:5"))
        send(broker, command(site, "R1", "PV-2:5"))  # the server re-sent after a restart
        seen.wait_for(is_ack("duplicate", "PV-2:5"))
    finally:
        robot.stop()
    again = RobotSimulator(spec(site, state_file=state), broker)  # the robot itself restarted
    again.start()
    try:
        send(broker, command(site, "R1", "PV-2:5"))
        seen.wait_for(lambda _t, _d: sum(t.endswith("/ack") for t, _ in seen.messages) >= 3)
    finally:
        again.stop(end_session=True)
        seen.close()
    acks = [d["result"] for t, d in seen.messages if t.endswith("/ack")]
    assert acks == ["accepted", "duplicate", "duplicate"]
    assert robot.executed == ["PV-2:5"] and again.executed == []


def test_rejects_rows_it_does_not_serve_and_commands_for_others() -> None:
    broker = machine_broker()
    site = f"site-{uuid.uuid4().hex[:8]}"
    seen = Collector(broker, f"pvom/{site}/robot/R1/+")
    robot = RobotSimulator(spec(site), broker)
    robot.start()
    try:
        send(broker, command(site, "R1", "PV-3:1", rows=("B-09",)))
        ack = seen.wait_for(lambda t, d: t.endswith("/ack"))
    finally:
        robot.stop(end_session=True)
        seen.close()
    assert ack["result"] == "rejected" and "B-09" in ack["reason"]
    assert robot.executed == []


def test_fault_and_low_battery(tmp_path: Path) -> None:
    broker = machine_broker()
    site = f"site-{uuid.uuid4().hex[:8]}"
    seen = Collector(broker, f"pvom/{site}/robot/R1/+")
    robot = RobotSimulator(spec(site, fault_rate=1.0, seed=4), broker)
    robot.start()
    try:
        send(broker, command(site, "R1", "PV-4:1"))
        fault = seen.wait_for(is_state("fault", "PV-4:1"))
    finally:
        robot.stop(end_session=True)
    assert fault["fault"] == "brush motor overcurrent" and fault["progress_pct"] < 100
    tired = RobotSimulator(spec(site, robot_id="R1", battery_pct=10.0), broker)
    tired.start()
    try:
        send(broker, command(site, "R1", "PV-4:2"))
        seen.wait_for(is_state("charging", "PV-4:2"))
        done = seen.wait_for(is_state("done", "PV-4:2"), timeout=30)
    finally:
        tired.stop(end_session=True)
        seen.close()
    assert done["battery_pct"] > 80


# -- faults with a broker of the test's own ---
def test_commands_wait_at_the_broker_for_an_offline_robot_and_survive_a_broker_restart(
    tmp_path: Path,
) -> None:
    with private_broker() as b:
        site = "S-offline"
        robot = RobotSimulator(spec(site, state_file=tmp_path / "seen.json"), b.broker)
        robot.start()  # creates the robot's persistent session and subscription
        robot.stop()
        send(b.broker, command(site, "R1", "PV-5:1"))  # robot offline: the broker keeps it
        b.stop()
        with pytest.raises(ConnectionError, match=r"not reachable|did not answer"):
            send(b.broker, command(site, "R1", "PV-5:2"))  # broker down: the sender knows
        b.start()  # the queued command was persisted
        seen = Collector(b.broker, f"pvom/{site}/robot/R1/+")
        robot = RobotSimulator(spec(site, state_file=tmp_path / "seen.json"), b.broker)
        robot.start()
        try:
            seen.wait_for(is_state("done", "PV-5:1"))
            time.sleep(0.3)
        finally:
            robot.stop(end_session=True)
            seen.close()
        assert robot.executed == ["PV-5:1"]


def test_the_robot_sim_command_runs_a_robot_until_interrupted(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    broker = machine_broker()
    site = f"site-{uuid.uuid4().hex[:8]}"
    seen = Collector(broker, f"pvom/{site}/robot/R7/+")
    args = ["pv", "robot-sim", "--site", site, "--robot", "R7", "--rows", "A-01:30", "--time-scale", "600"]
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gongzhi")), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ,
    )
    try:
        # the `gongzhi` command imports the whole platform first: 25 s on this machine under load
        seen.wait_for(lambda t, d: t.endswith("/state") and d["state"] == "idle", timeout=120)
        send(broker, command(site, "R7", "PV-9:1"))
        done = seen.wait_for(is_state("done", "PV-9:1"))
        assert done["cleaned_targets"]["rows"] == ["A-01"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        seen.close()
    bad = subprocess.run(
        [str(Path(sys.executable).with_name("gongzhi")), "pv", "robot-sim", "--site", site, "--rows", "A-01"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and "ROW:METRES" in bad.stderr
