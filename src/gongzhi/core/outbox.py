"""Transactional outbox: events are written with the change that caused them, delivered at least once.

Each event gets one delivery row per subscriber in the same transaction, so a crash between commit and
delivery loses nothing: the worker picks up whatever is pending. Module subscribers run inside the
delivery's own transaction, so their effect and the "delivered" mark commit together. Webhooks are
signed per the Standard Webhooks scheme and carry the delivery id, so receivers can drop repeats.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Insert, bindparam, insert, select
from sqlalchemy.orm import Session

from gongzhi.core import regioncache
from gongzhi.core.models import DeliveryStatus, OutboxDelivery, OutboxEvent, Webhook
from gongzhi.db import Scope, SessionFactory, table_of, unit_of_work, utcnow
from gongzhi.registry import Call, External, Registry, Subscriber

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 12
LEASE = timedelta(seconds=60)
WEBHOOK_TIMEOUT_S = 5.0
UNSCOPED = {"unscoped": True}


Along = tuple[Insert, dict[str, Any]]
"""Another row to insert with the event: an ``INSERT … RETURNING id`` built once, with bind parameters
named so that none is a column name of either table, and its parameters."""


def publish(
    session: Session,
    registry: Registry,
    region_id: int,
    topic: str,
    payload: dict[str, Any],
    along: Along | None = None,
) -> int | None:
    """Write the event and one delivery per subscriber in the session's transaction; with ``along``, first
    insert that row too and return its id.

    Plain INSERTs (the event's with RETURNING) rather than ORM objects: nothing needs flushing first, and
    a publish costs two statements however many subscribers there are. They go to the session's
    connection directly (outbox rows are plumbing across regions; nothing to scope or autoflush). On
    PostgreSQL the ``along`` row and the event are one statement (a data-modifying CTE)."""
    now = utcnow()
    conn = session.connection()
    row = {"region_id": region_id, "topic": topic, "payload": payload, "created_at": now}
    along_id: int | None = None
    if along is not None and conn.dialect.name == "postgresql":
        stmt, params = along
        both = conn.execute(_with_along(stmt), {f"event_{k}": v for k, v in row.items()} | params).one()
        event_id, along_id = int(both[0]), int(both[1])
    else:
        if along is not None:
            along_id = conn.execute(*along).scalar_one()
        event_id = conn.execute(_INSERT_EVENT, row).scalar_one()
    names = list(registry.subscribers_for(topic))
    names += [f"webhook:{h.id}" for h in webhooks_for(session, region_id) if h.wants(topic)]
    if names:
        conn.execute(
            _INSERT_DELIVERIES,
            [
                {"region_id": region_id, "event_id": event_id, "subscriber": n, "next_attempt_at": now}
                for n in names
            ],
        )

    return along_id


_EVENTS, _DELIVERIES = table_of(OutboxEvent), table_of(OutboxDelivery)
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)  # built once: no construction per publish
_INSERT_DELIVERIES = insert(_DELIVERIES)
_WITH_ALONG: weakref.WeakKeyDictionary[Insert, Insert] = weakref.WeakKeyDictionary()


def _with_along(stmt: Insert) -> Insert:
    """``WITH along AS (stmt) INSERT INTO outbox_events … RETURNING id, (SELECT id FROM along)``, built
    once per statement (the event's parameters are named ``event_*``)."""
    both = _WITH_ALONG.get(stmt)
    if both is None:
        cte = stmt.cte("along")
        both = (
            insert(_EVENTS)
            .values({c: bindparam(f"event_{c}") for c in ("region_id", "topic", "payload", "created_at")})
            .add_cte(cte)
            .returning(_EVENTS.c.id, select(cte.c.id).scalar_subquery())
        )
        _WITH_ALONG[stmt] = both
    return both


@dataclass(frozen=True)
class HookInfo:
    id: int
    topics: tuple[str, ...]

    def wants(self, topic: str) -> bool:
        return any(topic.startswith(t) for t in self.topics)


def webhooks_for(session: Session, region_id: int) -> list[HookInfo]:
    """The region's active webhooks (cached per process, see :mod:`gongzhi.core.regioncache`)."""
    return regioncache.cached(session, region_id, "webhooks", lambda: _webhooks(session, region_id))


def _webhooks(session: Session, region_id: int) -> list[HookInfo]:
    stmt = select(Webhook.id, Webhook.topics).where(Webhook.region_id == region_id, Webhook.active)
    return [HookInfo(i, tuple(t)) for i, t in session.execute(stmt, execution_options=UNSCOPED)]


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``; a ``whsec_`` secret's key is its base64 payload."""
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 3600))


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    skipped: int = 0


def deliver_due(
    factory: SessionFactory, registry: Registry, *, now: datetime | None = None, limit: int = 100
) -> DeliveryReport:
    """Deliver every due delivery once; each in its own transaction so one failure stops nothing else."""
    report = DeliveryReport()
    for delivery_id in _due_ids(factory, now or utcnow(), limit):
        outcome = _deliver_one(factory, registry, delivery_id)
        if outcome is None:
            report.skipped += 1
        elif outcome:
            report.delivered += 1
        else:
            report.failed += 1
    return report


def _due_ids(factory: SessionFactory, now: datetime, limit: int) -> list[int]:
    with unit_of_work(factory, Scope.for_system()) as s:
        stmt = (
            select(OutboxDelivery.id)
            .where(OutboxDelivery.status == DeliveryStatus.PENDING, OutboxDelivery.next_attempt_at <= now)
            .order_by(OutboxDelivery.id)
            .limit(limit)
        )
        return list(s.execute(stmt).scalars())


def _deliver_one(factory: SessionFactory, registry: Registry, delivery_id: int) -> bool | None:
    """True when delivered, False when it failed (retried later), None when another worker holds it."""
    try:
        with unit_of_work(factory, Scope.for_system()) as s:
            d = _claim(s, delivery_id)
            if d is None:
                return None
            ev = s.get_one(OutboxEvent, d.event_id)
            handler = _handler(s, registry, d)
            if not isinstance(handler, External):
                handler(s, ev)
                _mark_delivered(d)
                return True
            job = handler.prepare(s, ev)
            if job is None:
                _mark_delivered(d)
                return True
            # the call below runs outside any transaction; should this process die during it, the
            # delivery becomes due again when the lease ends (at least once, never lost)
            d.next_attempt_at = utcnow() + LEASE
        result = job()
        with unit_of_work(factory, Scope.for_system()) as s:
            d = s.get_one(OutboxDelivery, delivery_id)
            if d.status == DeliveryStatus.PENDING:
                if handler.finish is not None:
                    handler.finish(s, s.get_one(OutboxEvent, d.event_id), result)
                _mark_delivered(d)
        return True
    except Exception as exc:  # noqa: BLE001 - any subscriber failure is retried later, never lost
        log.warning("delivery %s failed: %s", delivery_id, exc)
        _record_failure(factory, registry, delivery_id, exc)
        return False


def _mark_delivered(d: OutboxDelivery) -> None:
    d.status, d.delivered_at, d.attempts = DeliveryStatus.DELIVERED, utcnow(), d.attempts + 1


def _claim(s: Session, delivery_id: int) -> OutboxDelivery | None:
    stmt = (
        select(OutboxDelivery)
        .where(OutboxDelivery.id == delivery_id, OutboxDelivery.status == DeliveryStatus.PENDING)
        .with_for_update(skip_locked=True)
    )
    return s.execute(stmt).scalar_one_or_none()


def _handler(s: Session, registry: Registry, d: OutboxDelivery) -> Subscriber | External:
    if d.subscriber.startswith("webhook:"):
        return External(prepare=lambda s, ev: _webhook_job(s, ev, d))
    entry = registry.subscribers.get(d.subscriber)
    if entry is None:
        raise LookupError(f"no subscriber named {d.subscriber!r} is registered")
    return entry[1]


def _webhook_job(s: Session, ev: OutboxEvent, d: OutboxDelivery) -> Call:
    hook = s.get_one(Webhook, int(d.subscriber.split(":", 1)[1]))
    url, body, headers = webhook_request(hook, d, ev)

    def call() -> str:
        resp = httpx.post(url, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S)
        resp.raise_for_status()
        return f"HTTP {resp.status_code}"

    return call


def webhook_request(hook: Webhook, d: OutboxDelivery, ev: OutboxEvent) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps(
        {"type": ev.topic, "timestamp": ev.created_at.isoformat(), "data": ev.payload}, ensure_ascii=False
    ).encode()
    msg_id, ts = f"evt_{ev.id}_{d.id}", int(utcnow().timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(hook.secret, msg_id, ts, body),
    }
    return hook.url, body, headers


def _record_failure(factory: SessionFactory, registry: Registry, delivery_id: int, exc: Exception) -> None:
    with unit_of_work(factory, Scope.for_system()) as s:
        d = s.get_one(OutboxDelivery, delivery_id)
        d.attempts += 1
        d.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        d.next_attempt_at = utcnow() + backoff(d.attempts)
        if d.attempts >= MAX_ATTEMPTS:
            d.status = DeliveryStatus.DEAD
        entry = registry.subscribers.get(d.subscriber)
        if entry is not None and isinstance(entry[1], External) and entry[1].failed is not None:
            entry[1].failed(s, s.get_one(OutboxEvent, d.event_id), d.attempts, d.last_error)
