"""MQTT plumbing shared by the robot dispatch adapter, the state listener and the simulators
(paho-mqtt 2, MQTT 5).

Delivery guarantees come from three places: QoS 1 on every message, persistent sessions (clean start off, a
session expiry) so a broker keeps what an offline robot or listener has not yet received, and idempotency keys
so a message received twice is acted on once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

SESSION_EXPIRY_S = 24 * 3600
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Broker:
        """``mqtt://host:port`` (port 1883 when left out)."""
        parsed = urlparse(url if "://" in url else f"mqtt://{url}")
        if parsed.scheme != "mqtt" or not parsed.hostname:
            raise ValueError(f"not an MQTT broker address: {url!r} (use mqtt://host:port)")
        return cls(parsed.hostname, parsed.port or 1883)


def client(client_id: str, *, persistent: bool, manual_ack: bool = False) -> mqtt.Client:
    """An MQTT 5 client; ``persistent`` keeps its session (subscriptions, queued QoS 1 messages) for a day."""
    c = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    c.user_data_set({"persistent": persistent})
    return c


def connect(c: mqtt.Client, broker: Broker, *, persistent: bool, timeout_s: float = 5.0) -> None:
    """Connect and wait for CONNACK; raises ConnectionError when the broker does not accept us in time."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = SESSION_EXPIRY_S if persistent else 0
    done = threading.Event()
    result: dict[str, object] = {}

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        result["reason"] = reason
        done.set()

    previous = c.on_connect
    c.on_connect = on_connect
    try:
        c.connect(broker.host, broker.port, keepalive=30, clean_start=not persistent, properties=props)
    except OSError as exc:
        raise ConnectionError(f"MQTT broker {broker.host}:{broker.port} is not reachable: {exc}") from exc
    c.loop_start()
    if not done.wait(timeout_s):
        c.loop_stop()
        raise ConnectionError(f"MQTT broker {broker.host}:{broker.port} did not answer in {timeout_s} s")
    c.on_connect = previous
    reason = result["reason"]
    if getattr(reason, "is_failure", False):
        c.loop_stop()
        raise ConnectionError(f"MQTT broker refused the connection: {reason}")


def publish_once(
    broker: Broker,
    topic: str,
    payload: bytes,
    *,
    client_id: str,
    retain: bool = False,
    timeout_s: float = 5.0,
) -> None:
    """Publish one QoS 1 message and wait for the broker's PUBACK; raises when it does not come."""
    c = client(client_id, persistent=False)
    connect(c, broker, persistent=False, timeout_s=timeout_s)
    try:
        info = c.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise TimeoutError(f"the broker did not acknowledge {topic} within {timeout_s} s")
    finally:
        c.disconnect()
        c.loop_stop()


def subscribe(c: mqtt.Client, topics: list[tuple[str, int]], *, timeout_s: float = 5.0) -> None:
    """Subscribe and wait for the broker's SUBACK, so nothing published after this call can be missed."""
    acked: set[int] = set()
    cond = threading.Condition()
    previous = c.on_subscribe

    def on_subscribe(_c: mqtt.Client, _u: object, got: int, _codes: object, _p: object) -> None:
        with cond:
            acked.add(got)
            cond.notify_all()

    c.on_subscribe = on_subscribe  # before SUBSCRIBE goes out: the SUBACK may come back at once
    try:
        result, mid = c.subscribe(topics)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(
                f"could not subscribe to {[t for t, _ in topics]}: {mqtt.error_string(result)}"
            )
        with cond:
            if not cond.wait_for(lambda: mid in acked, timeout_s):
                raise ConnectionError(
                    f"the broker did not confirm the subscription to {[t for t, _ in topics]}"
                )
    finally:
        c.on_subscribe = previous
