"""MQTT plumbing shared by the robot dispatch adapter, the state listener and the simulators
(paho-mqtt 2, MQTT 5).

Delivery guarantees come from three places: QoS 1 on every message, persistent sessions (clean start off, a
session expiry) so a broker keeps what an offline robot or listener has not yet received, and idempotency keys
so a message received twice is acted on once.

A persistent session outlives its client by :data:`SESSION_EXPIRY_S`, queueing every message on its
subscriptions meanwhile: right for a listener that comes back (a restart loses nothing), wrong for one that
will not (a test's listener with a unique client id, a simulator taken down). :func:`disconnect` with
``end_session`` ends it (MQTT 5 DISCONNECT with Session Expiry Interval 0); throwaway clients connect with
clean start and no expiry in the first place (``persistent=False``).
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gongzhi.errors import InvalidInput, msg
from gongzhi.web.i18n import N_

SESSION_EXPIRY_S = 24 * 3600
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
BAD_ADDRESS = N_(
    "%(url)r is not an MQTT broker address: use mqtt://host:port (port 1–65535, no user name or password)"
)
Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Broker:
        """``mqtt://host:port`` (port 1883 when left out).

        Raises
        ------
        ValueError
            Another scheme, no host, a port outside 1–65535, a path or query, or a user name or password:
            the connection sends none, so one written into the address would only be kept and shown.
        """
        text = url.strip()
        parsed = urlparse(text if "://" in text else f"mqtt://{text}")
        try:
            port = parsed.port
        except ValueError:
            port = 0
        if (
            parsed.scheme != "mqtt"
            or not parsed.hostname
            or port == 0
            or parsed.username is not None
            or parsed.password is not None
            or parsed.path not in ("", "/")
            or parsed.query
            or parsed.fragment
        ):
            raise ValueError(BAD_ADDRESS % {"url": url})
        return cls(parsed.hostname, port or 1883)


def checked(url: str) -> str:
    """A broker address a user gave, as it is kept, once :meth:`Broker.parse` takes it; one it refuses is
    :class:`~gongzhi.errors.InvalidInput` (400) saying what the address should look like."""
    try:
        Broker.parse(url)
    except ValueError:
        raise InvalidInput(msg(BAD_ADDRESS, url=url)) from None
    return url.strip()


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


def connect(c: mqtt.Client, broker: Broker, *, persistent: bool, timeout_s: float = 5.0) -> bool:
    """Connect and wait for CONNACK; raises ConnectionError when the broker does not accept us in time.
    Returns whether the broker still had this client id's session (CONNACK Session Present)."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = SESSION_EXPIRY_S if persistent else 0
    done = threading.Event()
    result: dict[str, object] = {}

    def on_connect(_c: mqtt.Client, _u: object, flags: object, reason: object, _p: object) -> None:
        result["reason"], result["present"] = reason, getattr(flags, "session_present", False)
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
    return bool(result["present"])


def disconnect(c: mqtt.Client, *, end_session: bool = False) -> None:
    """Disconnect cleanly and stop the network thread. ``end_session`` asks the broker to drop the session
    now (Session Expiry Interval 0 in the DISCONNECT, MQTT 5 §3.14.2.2.2) instead of keeping it, and what
    it queues, for :data:`SESSION_EXPIRY_S`."""
    props = None
    if end_session:
        props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 0
    c.disconnect(properties=props)
    c.loop_stop()


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


class QueuedListener(ABC, Generic[Item]):
    """A persistent, manually acknowledged subscription whose messages are applied in the caller's thread.

    The MQTT callback only queues (subclasses may override :meth:`_on_message` to do cheap work there);
    :meth:`process` (or :meth:`run` in a thread) hands each queued item to :meth:`_apply`, which applies it in
    its own transaction and acknowledges the message with :meth:`ack` only after the commit, so a crash in
    between makes the broker deliver it again. ``_apply`` returns False when it did not apply the item.
    """

    def __init__(self, broker: Broker, client_id: str, topics: list[tuple[str, int]]) -> None:
        self.broker, self.client_id, self.topics = broker, client_id, topics
        self._client: mqtt.Client | None = None
        self._inbox: queue.Queue[Item] = queue.Queue()

    def start(self) -> None:
        c = client(self.client_id, persistent=True, manual_ack=True)
        c.on_message = self._on_message
        c.on_connect = lambda cl, *_a: cl.subscribe(self.topics)  # again on a reconnect
        self._client = c
        connect(c, self.broker, persistent=True)
        subscribe(c, self.topics)

    def stop(self, *, end_session: bool = False) -> None:
        """Disconnect; the broker keeps the session (and queues for it) unless ``end_session``: a listener
        that will not come back under this client id ends it."""
        if self._client is not None:
            disconnect(self._client, end_session=end_session)
            self._client = None

    def run(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        while not stop.is_set():
            self.process(timeout_s=poll_s)

    def process(self, timeout_s: float = 0.0, limit: int | None = None) -> int:
        """Apply queued items (waiting up to ``timeout_s`` for the first, at most ``limit``); how many."""
        done, wait = 0, timeout_s
        while limit is None or done < limit:
            try:
                item = self._inbox.get(timeout=wait) if wait > 0 else self._inbox.get_nowait()
            except queue.Empty:
                return done
            wait = 0.0
            if self._apply(item):
                done += 1
        return done

    def ack(self, msg: mqtt.MQTTMessage) -> None:
        if self._client is not None:
            self._client.ack(msg.mid, msg.qos)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put(msg)  # type: ignore[arg-type]  # subclasses that queue other items override this

    @abstractmethod
    def _apply(self, item: Item) -> bool:
        """Apply one item in its own transaction (acknowledging its message after the commit)."""
