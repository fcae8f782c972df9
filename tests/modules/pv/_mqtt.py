"""Real Mosquitto brokers for the robot tests: the machine's (127.0.0.1:1883) and private ones that a test may
stop and start (own port, own persistence directory), plus a collector that records what robots publish."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from gongzhi.modules.pv import mqtt as pvmqtt

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PrivateBroker:
    """A Mosquitto of the test's own, persisting to disk: stopping it loses nothing it acknowledged."""

    def __init__(self) -> None:
        if not Path(MOSQUITTO).exists():
            pytest.skip("mosquitto is not installed (Debian package mosquitto)")
        self.port = _free_port()
        # Started as root, mosquitto drops to its own user, which must reach and write this directory
        # (pytest's tmp_path sits under a root-only folder).
        workdir = Path(tempfile.mkdtemp(prefix="gongzhi-mqtt-"))
        workdir.chmod(0o777)
        self.dir = workdir
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(self._conf_text(), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None
        self._started = False

    def _conf_text(self) -> str:
        return (
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.dir}/\nautosave_interval 1\n"
        )

    @property
    def broker(self) -> pvmqtt.Broker:
        return pvmqtt.Broker("127.0.0.1", self.port)

    def start(self) -> None:
        """Start mosquitto on ``self.port``. The port was free when chosen but another process may take it
        before mosquitto binds it; mosquitto then exits, and the broker is started again on a new port
        (only before the first start: a restarted broker must keep its port)."""
        for _ in range(5):
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + 10
            while self.proc.poll() is None and not _listening(self.port):
                if time.monotonic() > deadline:
                    raise RuntimeError("private mosquitto did not start")
                time.sleep(0.05)
            if self.proc.poll() is None:
                # something listens; make sure it is our mosquitto, which exits at once when the bind fails
                time.sleep(0.2)
            if self.proc.poll() is None:
                self._started = True
                return
            if self._started:
                raise RuntimeError(f"private mosquitto could not listen on port {self.port} again")
            self.port = _free_port()
            self.conf.write_text(self._conf_text(), encoding="utf-8")
        raise RuntimeError("private mosquitto exited at start five times")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: mosquitto writes its persistence file and exits
            self.proc.wait(timeout=10)
            self.proc = None


@contextmanager
def private_broker() -> Iterator[PrivateBroker]:
    b = PrivateBroker()
    b.start()
    try:
        yield b
    finally:
        b.stop()
        shutil.rmtree(b.dir, ignore_errors=True)


def machine_broker() -> pvmqtt.Broker:
    if not _listening(1883):
        if pytest_in_ci():
            pytest.fail("Mosquitto is required in CI but 127.0.0.1:1883 is not listening")
        pytest.skip("Mosquitto at 127.0.0.1:1883 is not running")
    return pvmqtt.Broker("127.0.0.1", 1883)


def pytest_in_ci() -> bool:
    import os

    return os.environ.get("CI") == "true"


class Collector:
    """Subscribes to ``pattern`` and keeps every (topic, decoded JSON) it receives."""

    def __init__(self, broker: pvmqtt.Broker, pattern: str) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._cond = threading.Condition()
        self.client = pvmqtt.client(f"collector-{uuid.uuid4().hex[:8]}", persistent=False)
        self.client.on_message = self._on_message
        pvmqtt.connect(self.client, broker, persistent=False)
        self.client.subscribe(pattern, qos=1)
        time.sleep(0.1)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, json.loads(msg.payload)))
            self._cond.notify_all()

    def wait_for(self, pred: Callable[[str, dict[str, Any]], bool], timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for topic, data in self.messages:
                    if pred(topic, data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"nothing matched within {timeout} s; got {self.messages[-5:]}")
                self._cond.wait(left)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
