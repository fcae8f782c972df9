"""Dispatch adapters: how a dispatched case reaches a machine or an external system.

People and departments see their cases in their queue (the ``internal`` adapter delivers nothing).
Other adapters are called by the outbox subscriber ``dispatch``, at least once per dispatch, with an
idempotency key of case number + dispatch event, so a repeated delivery changes nothing at the far end.
"""

from __future__ import annotations

import json
from typing import Any, cast

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases import service as cases
from gongzhi.cases.models import Actor
from gongzhi.core.models import OutboxEvent
from gongzhi.core.outbox import sign
from gongzhi.db import utcnow
from gongzhi.registry import Call, External, OrderPreparer, Registry


class InternalAdapter:
    name = "internal"

    def deliver(self, key: str, case: dict[str, Any], config: dict[str, Any]) -> str:
        return "queued for the actor's people"


class WebhookAdapter:
    """POSTs the work order to an external system; ``config`` holds ``url`` and ``secret``."""

    name = "webhook"

    def deliver(self, key: str, case: dict[str, Any], config: dict[str, Any]) -> str:
        body = json.dumps({"type": "work_order.dispatched", "data": case}, ensure_ascii=False).encode()
        ts = int(utcnow().timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": key,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(str(config.get("secret", "")), key, ts, body),
        }
        resp = httpx.post(str(config["url"]), content=body, headers=headers, timeout=5.0)
        resp.raise_for_status()
        return f"HTTP {resp.status_code}"


def prepare_dispatch(
    registry: Registry, s: Session, ev: OutboxEvent, *, state: str = "dispatched"
) -> Call | None:
    """The delivery of ``ev`` to its actor's adapter, or ``None`` when nothing is to be sent: the actor is
    internal, or the case has moved on (another actor, or no longer in ``state``). A module that sends a
    case to its machine again while in another state (a robot cleaning again) passes that state."""
    actor = s.execute(select(Actor).where(Actor.id == ev.payload.get("actor_id"))).scalar_one_or_none()
    if actor is None or actor.adapter == "internal":
        return None
    adapter = registry.adapters.get(actor.adapter)
    if adapter is None:
        raise LookupError(f"actor {actor.id} uses unknown adapter {actor.adapter!r}")
    case = cases.get_case(s, int(ev.payload["case_id"]))
    if case.actor_id != actor.id or case.state != state:
        return None  # superseded by a later dispatch or already claimed: nothing to send
    key = idempotency_key(case.number, ev.id)
    order = {**ev.payload, "title": case.title, "location": case.location, "idempotency_key": key}
    if hasattr(adapter, "prepare_order"):
        order = cast("OrderPreparer", adapter).prepare_order(s, case.id, order)
    config = dict(actor.config)
    cases.record_event(s, case, "delivery_attempt", data={"adapter": actor.adapter, "key": key})
    return lambda: adapter.deliver(key, order, config)


def finish_dispatch(registry: Registry, s: Session, ev: OutboxEvent, result: str) -> None:
    case = cases.get_case(s, int(ev.payload["case_id"]))
    actor = s.execute(select(Actor).where(Actor.id == ev.payload.get("actor_id"))).scalar_one()
    key = idempotency_key(case.number, ev.id)
    cases.record_event(s, case, "delivered", note=result, data={"adapter": actor.adapter, "key": key})


def failed_dispatch(s: Session, ev: OutboxEvent, attempt: int, error: str) -> None:
    """Shows the failed attempt on the case's timeline; the outbox retries with back-off."""
    case = cases.get_case(s, int(ev.payload["case_id"]))
    cases.record_event(s, case, "delivery_failed", note=error[:500], data={"attempt": attempt})


def idempotency_key(number: str, event_id: int) -> str:
    return f"{number}:{event_id}"


def register(registry: Registry) -> None:
    registry.add_adapter(InternalAdapter())
    registry.add_adapter(WebhookAdapter())
    registry.subscribe(
        "dispatch",
        "case.dispatch",
        External(
            prepare=lambda s, ev: prepare_dispatch(registry, s, ev),
            finish=lambda s, ev, result: finish_dispatch(registry, s, ev, result),
            failed=failed_dispatch,
        ),
    )
