"""The transactional outbox: events commit with the change that caused them, every subscriber and webhook
gets each event at least once, failures are retried with backoff, and a crash loses nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases import dispatch
from gongzhi.cases import service as cases
from gongzhi.cases.models import Actor, Case
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.statemachine import Action
from gongzhi.core import outbox
from gongzhi.core import service as core
from gongzhi.core.models import DeliveryStatus, Department, OutboxDelivery, OutboxEvent, Webhook
from gongzhi.db import Scope, unit_of_work, utcnow
from gongzhi.registry import Registry
from tests.conftest import World
from tests.core._support import Committed, Receiver, committed_database, webhook_receiver

pytestmark = pytest.mark.backend  # each test opens a database of the chosen backend itself

SECRET = "whsec-test-0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


class Recorder:
    """A module subscriber that remembers what it was given and can be told to fail."""

    def __init__(self, fail_with: str = "") -> None:
        self.seen: list[int] = []
        self.fail_with = fail_with

    def __call__(self, s: Session, ev: OutboxEvent) -> None:
        self.seen.append(ev.id)
        s.add(Department(region_id=ev.region_id, code=f"sub-{ev.id}", name="订阅者写入"))
        if self.fail_with:
            raise RuntimeError(self.fail_with)


def registry_with(name: str, prefix: str, handler: Any) -> Registry:
    reg = Registry()
    reg.subscribe(name, prefix, handler)
    return reg


def last_event_id(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory, Scope.for_system()) as s:
        return s.scalars(select(func.coalesce(func.max(OutboxEvent.id), 0))).one()


def publish(factory: sessionmaker[Session], reg: Registry, region_id: int, topic: str, **payload: Any) -> int:
    with unit_of_work(factory, Scope.for_system()) as s:
        outbox.publish(s, reg, region_id, topic, payload)
        return s.scalars(select(func.max(OutboxEvent.id))).one()


def deliveries(factory: sessionmaker[Session], event_id: int) -> dict[str, OutboxDelivery]:
    with unit_of_work(factory, Scope.for_system()) as s:
        rows = s.scalars(select(OutboxDelivery).where(OutboxDelivery.event_id == event_id))
        return {d.subscriber: d for d in rows}


def add_webhook(
    factory: sessionmaker[Session], region_id: int, url: str, topics: list[str], **kw: Any
) -> int:
    with unit_of_work(factory, Scope.for_system()) as s:
        hook = Webhook(region_id=region_id, url=url, secret=SECRET, topics=topics, **kw)
        s.add(hook)
        s.flush()
        return hook.id


def departments_named(factory: sessionmaker[Session], code: str) -> int:
    with unit_of_work(factory, Scope.for_system()) as s:
        return s.scalars(select(func.count(Department.id)).where(Department.code == code)).one()


# --- written with the change ------------------------------------------------------------------------


def test_an_event_and_its_deliveries_commit_with_the_change_or_not_at_all(
    factory: sessionmaker[Session], world: World
) -> None:
    reg = registry_with("recorder", "case.", Recorder())
    hook = add_webhook(factory, world.a, "http://127.0.0.1:9/hook", ["case."])
    add_webhook(factory, world.a, "http://127.0.0.1:9/alerts", ["alert."])
    add_webhook(factory, world.a, "http://127.0.0.1:9/off", ["case."], active=False)
    add_webhook(factory, world.b, "http://127.0.0.1:9/other-region", ["case."])
    new = CaseCreate(title="占道经营", category="city_appearance")
    before = last_event_id(factory)

    def change_that_fails() -> None:
        with unit_of_work(factory, world.alice.scope()) as s:
            cases.create_case(s, reg, new)
            raise RuntimeError("the change fails after its event was written")

    with pytest.raises(RuntimeError, match="the change fails"):
        change_that_fails()
    with unit_of_work(factory, Scope.for_system()) as s:
        assert s.scalars(select(Case).where(Case.title == "占道经营")).all() == []
    assert last_event_id(factory) == before

    with unit_of_work(factory, world.alice.scope()) as s:
        case_id = cases.create_case(s, reg, new).id
    with unit_of_work(factory, Scope.for_system()) as s:
        (event,) = s.scalars(select(OutboxEvent).where(OutboxEvent.id > before))
    assert (event.topic, event.payload["case_id"], event.region_id) == ("case.created", case_id, world.a)
    found = deliveries(factory, event.id)
    assert set(found) == {"recorder", f"webhook:{hook}"}
    assert all(d.status == DeliveryStatus.PENDING and d.attempts == 0 for d in found.values())


# --- module subscribers -----------------------------------------------------------------------------


def test_a_registered_subscriber_receives_each_event_once_and_its_writes_commit_with_it(
    factory: sessionmaker[Session], world: World
) -> None:
    recorder = Recorder()
    reg = registry_with("recorder", "test.", recorder)
    events = [publish(factory, reg, world.a, "test.ping", n=n) for n in range(3)]
    unrelated = publish(factory, reg, world.a, "other.thing")
    assert deliveries(factory, unrelated) == {}

    outbox.deliver_due(factory, reg)
    outbox.deliver_due(factory, reg)

    assert recorder.seen == events
    for ev in events:
        d = deliveries(factory, ev)["recorder"]
        assert (d.status, d.attempts, d.last_error) == (DeliveryStatus.DELIVERED, 1, "")
        assert d.delivered_at is not None
        assert departments_named(factory, f"sub-{ev}") == 1


def test_a_failing_subscriber_is_retried_with_growing_backoff_then_marked_dead(
    factory: sessionmaker[Session], world: World
) -> None:
    recorder = Recorder(fail_with="downstream is down")
    reg = registry_with("flaky", "test.", recorder)
    ev = publish(factory, reg, world.a, "test.ping")

    now = utcnow()
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        before = utcnow()
        outbox.deliver_due(factory, reg, now=now)
        after = utcnow()
        d = deliveries(factory, ev)["flaky"]
        assert d.attempts == attempt
        assert d.last_error == "RuntimeError: downstream is down"
        assert departments_named(factory, f"sub-{ev}") == 0  # the failed handler's write rolled back
        backoff = timedelta(seconds=min(2**attempt, 3600))  # doubling, at most an hour
        assert before + backoff <= d.next_attempt_at <= after + backoff
        if attempt == 1:  # not due again before its backoff has passed
            outbox.deliver_due(factory, reg, now=d.next_attempt_at - timedelta(milliseconds=1))
            assert deliveries(factory, ev)["flaky"].attempts == 1
        now = d.next_attempt_at

    assert d.status == DeliveryStatus.DEAD
    outbox.deliver_due(factory, reg, now=now + timedelta(days=30))
    assert len(recorder.seen) == outbox.MAX_ATTEMPTS
    assert deliveries(factory, ev)["flaky"].attempts == outbox.MAX_ATTEMPTS


def test_an_event_for_an_unregistered_subscriber_is_kept_and_retried_not_dropped(
    factory: sessionmaker[Session], world: World
) -> None:
    ev = publish(factory, registry_with("gone", "test.", Recorder()), world.a, "test.ping")
    outbox.deliver_due(factory, Registry())
    d = deliveries(factory, ev)["gone"]
    assert (d.status, d.attempts) == (DeliveryStatus.PENDING, 1)
    assert "no subscriber named 'gone'" in d.last_error


# --- webhooks ---------------------------------------------------------------------------------------


def test_a_webhook_is_signed_and_keeps_its_id_across_retries(
    factory: sessionmaker[Session], world: World, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    hook = add_webhook(factory, world.a, receiver.url, ["test."])
    ev = publish(factory, Registry(), world.a, "test.ping", number="AA2026112800001", note="井盖缺失")

    now = utcnow()
    for _ in range(3):
        outbox.deliver_due(factory, Registry(), now=now)
        now = deliveries(factory, ev)[f"webhook:{hook}"].next_attempt_at

    d = deliveries(factory, ev)[f"webhook:{hook}"]
    assert (d.status, d.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert "503" in d.last_error
    assert receiver.ids == [f"evt_{ev}_{d.id}"] * 3  # one id: the receiver can drop repeats
    for got in receiver.requests:
        assert got.signature_ok(SECRET)
        assert not got.signature_ok("another-secret")
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
        assert got.json["type"] == "test.ping"
        assert got.json["data"] == {"number": "AA2026112800001", "note": "井盖缺失"}


def test_a_webhook_of_another_region_or_topic_gets_nothing(
    factory: sessionmaker[Session], world: World, receiver: Receiver
) -> None:
    add_webhook(factory, world.b, receiver.url, ["test."])
    add_webhook(factory, world.a, receiver.url, ["alert."])
    publish(factory, Registry(), world.a, "test.ping")
    outbox.deliver_due(factory, Registry())
    assert receiver.requests == []


WORKER = """
import sys
from gongzhi import worker
from gongzhi.core import outbox
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.registry import Registry

factory = make_session_factory(make_engine(sys.argv[1]))
with unit_of_work(factory, Scope.for_system()) as s:
    outbox.publish(s, Registry(), int(sys.argv[2]), "test.crash", {"change": "committed"})
worker.tick(factory, Registry(), sweep=False)
"""


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Committed]:
    with committed_database(tmp_path) as committed:
        yield committed


def test_a_crash_between_commit_and_delivery_loses_nothing(db: Committed, receiver: Receiver) -> None:
    """A worker commits a change, starts delivering its webhook and is killed while the request is in flight;
    the next run delivers the event once more, under the same webhook-id."""
    with unit_of_work(db.factory, Scope.for_system()) as s:
        rid = core.create_region(s, "crash", "崩溃区", "CR").id
    hook = add_webhook(db.factory, rid, receiver.url, ["test."])
    receiver.hang.set()

    proc = subprocess.Popen([sys.executable, "-c", WORKER, db.url, str(rid)])
    try:
        assert receiver.arrived.wait(60), "the worker never called the webhook"
    finally:
        proc.kill()
        proc.wait(10)
    receiver.hang.clear()
    receiver.release.set()

    with unit_of_work(db.factory, Scope.for_system()) as s:
        (ev,) = s.scalars(select(OutboxEvent).where(OutboxEvent.region_id == rid))
    assert ev.payload == {"change": "committed"}
    d = deliveries(db.factory, ev.id)[f"webhook:{hook}"]
    assert (d.status, d.attempts) == (DeliveryStatus.PENDING, 0)  # the crash recorded nothing

    assert outbox.deliver_due(db.factory, Registry()).delivered == 0  # the dead worker's lease still runs
    after_lease = utcnow() + outbox.LEASE
    deadline = time.monotonic() + 30
    while d.status == DeliveryStatus.PENDING and time.monotonic() < deadline:
        outbox.deliver_due(db.factory, Registry(), now=after_lease)
        d = deliveries(db.factory, ev.id)[f"webhook:{hook}"]
    outbox.deliver_due(db.factory, Registry(), now=after_lease)

    assert (d.status, d.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert receiver.ids == [f"evt_{ev.id}_{d.id}"] * 2
    assert all(r.signature_ok(SECRET) for r in receiver.requests)
    assert receiver.requests[0].body == receiver.requests[1].body


# --- dispatch adapters ------------------------------------------------------------------------------


def webhook_actor(factory: sessionmaker[Session], world: World, url: str) -> int:
    with unit_of_work(factory, Scope.for_system()) as s:
        actor = Actor(
            region_id=world.a,
            kind="system",
            name="城管智能平台",
            adapter="webhook",
            config={"url": url, "secret": "adapter-secret"},
        )
        s.add(actor)
        s.flush()
        return actor.id


def dispatched_case(factory: sessionmaker[Session], reg: Registry, world: World, actor_id: int) -> Case:
    with unit_of_work(factory, world.alice.scope()) as s:
        case = cases.create_case(
            s, reg, CaseCreate(title="渣土车抛洒", category="city_appearance", accept=True)
        )
        return cases.apply(s, reg, case.id, Action.DISPATCH, ActionIn(actor_id=actor_id))


def test_a_webhook_actor_receives_the_work_order_with_an_idempotency_key(
    factory: sessionmaker[Session], world: World, receiver: Receiver
) -> None:
    reg = Registry()
    dispatch.register(reg)
    case = dispatched_case(factory, reg, world, webhook_actor(factory, world, receiver.url))
    with unit_of_work(factory, Scope.for_system()) as s:
        topics = s.scalars(select(OutboxEvent).where(OutboxEvent.topic == "case.dispatch"))
        (ev,) = [e for e in topics if e.payload["case_id"] == case.id]

    outbox.deliver_due(factory, reg)
    outbox.deliver_due(factory, reg)

    key = f"{case.number}:{ev.id}"
    (got,) = receiver.requests
    assert got.headers["webhook-id"] == key
    assert got.signature_ok("adapter-secret")
    assert got.json["type"] == "work_order.dispatched"
    assert got.json["data"]["idempotency_key"] == key
    assert got.json["data"]["title"] == "渣土车抛洒"
    with unit_of_work(factory, world.alice.scope()) as s:
        last = cases.timeline(s, case.id)[-1]
    assert (last.action, last.note, last.data) == (
        "delivered",
        "HTTP 204",
        {"adapter": "webhook", "key": key},
    )


def test_a_dispatch_already_claimed_when_delivered_sends_nothing(
    factory: sessionmaker[Session], world: World, receiver: Receiver
) -> None:
    reg = Registry()
    dispatch.register(reg)
    case = dispatched_case(factory, reg, world, webhook_actor(factory, world, receiver.url))
    with unit_of_work(factory, world.bob.scope()) as s:
        cases.apply(s, reg, case.id, Action.CLAIM, ActionIn())

    outbox.deliver_due(factory, reg)

    assert receiver.requests == []
    with unit_of_work(factory, world.alice.scope()) as s:
        assert [e.action for e in cases.timeline(s, case.id)] == ["create", "accept", "dispatch", "claim"]


def test_a_failing_webhook_actor_leaves_no_delivered_entry_and_is_retried(
    factory: sessionmaker[Session], world: World, receiver: Receiver
) -> None:
    receiver.statuses = [502]
    reg = Registry()
    dispatch.register(reg)
    case = dispatched_case(factory, reg, world, webhook_actor(factory, world, receiver.url))

    outbox.deliver_due(factory, reg)
    with unit_of_work(factory, world.alice.scope()) as s:
        assert "delivered" not in [e.action for e in cases.timeline(s, case.id)]
    outbox.deliver_due(factory, reg, now=utcnow() + timedelta(minutes=1))

    assert len(receiver.ids) == 2 and len(set(receiver.ids)) == 1
    with unit_of_work(factory, world.alice.scope()) as s:
        actions = [e.action for e in cases.timeline(s, case.id)]
    assert actions.count("delivered") == 1


def test_new_webhook_secrets_follow_standard_webhooks() -> None:
    secret = outbox.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    body = b'{"type":"case.created"}'
    mac = hmac.new(base64.b64decode(secret[6:]), b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert outbox.sign(secret, "msg_1", 1700000000, body) == "v1," + base64.b64encode(mac).decode()
    assert outbox.sign(outbox.new_secret(), "msg_1", 1700000000, body) != outbox.sign(
        secret, "msg_1", 1700000000, body
    )
