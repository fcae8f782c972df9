"""Persistent MQTT sessions: a listener or simulator stopped as in production keeps its session at the broker
(what is published meanwhile waits for it), one stopped for good ends it, so tests with unique client ids
leave nothing queueing on the machine's Mosquitto."""

from __future__ import annotations

import uuid
from pathlib import Path

from gongzhi.kit.filestore import FileStore
from gongzhi.modules.pv import cleaning, dock
from gongzhi.modules.pv import mqtt as pvmqtt
from gongzhi.modules.pv.robot_sim import RobotSimulator, RobotSpec
from gongzhi.registry import Registry

from ._dock import Factory
from ._mqtt import private_broker


def session_present(broker: pvmqtt.Broker, client_id: str) -> bool:
    """Whether the broker holds a session for ``client_id`` (this probe's own session is ended at once)."""
    probe = pvmqtt.client(client_id, persistent=True)
    present = pvmqtt.connect(probe, broker, persistent=True)
    pvmqtt.disconnect(probe, end_session=True)
    return present


def test_a_listener_keeps_its_session_on_a_restart_and_ends_it_when_told(
    factory: Factory, registry: Registry, tmp_path: Path
) -> None:
    with private_broker() as b:
        cid = f"robots-{uuid.uuid4().hex[:8]}"
        lis = cleaning.RobotListener(factory, registry, b.broker, client_id=cid)
        lis.start()
        lis.stop()  # a restart: the broker keeps the session and queues for it
        assert session_present(b.broker, cid) is True
        assert session_present(b.broker, cid) is False  # the probe ended it

        docks = dock.DockListener(
            factory,
            registry,
            FileStore(tmp_path / "files"),
            b.broker,
            client_id=f"docks-{uuid.uuid4().hex[:8]}",
        )
        docks.start()
        docks.stop(end_session=True)
        assert session_present(b.broker, docks.client_id) is False


def test_a_simulator_taken_out_of_service_leaves_no_session() -> None:
    with private_broker() as b:
        spec = RobotSpec(site=f"s-{uuid.uuid4().hex[:6]}", robot_id="R1", rows={"A-01": 30.0})
        bot = RobotSimulator(spec, b.broker)
        bot.start()
        bot.stop()
        cid = f"pvom-robot-{spec.site}-R1"
        assert session_present(b.broker, cid) is True
        bot.start()  # the same robot back: it ends its session when it leaves for good
        bot.stop(end_session=True)
        assert session_present(b.broker, cid) is False
