"""Server-sent events for open dashboards: new alerts and fresh figures, read from the region's outbox.

The stream polls the outbox (the transactional record of every domain event) in the viewer's scope, so it
sees exactly what the viewer may see, and needs no broker. A browser reconnects by itself and sends
``Last-Event-ID``; a stream ends after ``seconds`` (a minute by default), so connections are recycled and a
server shutting down is not held up for long by open dashboards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from gongzhi.cases import alerts
from gongzhi.core.deps import AppState, StateDep, api_router
from gongzhi.core.models import OutboxEvent
from gongzhi.db import Scope, unit_of_work
from gongzhi.errors import NotFound
from gongzhi.kit.validation import parse_id
from gongzhi.web.shell import Console, Viewer, lang_of, render, viewer_of
from gongzhi.web.views.dashboard import summary

router = api_router(include_in_schema=False)
POLL_S = 2.0
HEARTBEAT_S = 15.0


def sse(event: str, data: str, event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return "\n".join(lines) + "\n\n"


def _start(request: Request, st: AppState, last_id: str | None) -> tuple[Viewer, int]:
    with unit_of_work(st.factory, Scope.for_system()) as s:
        viewer = viewer_of(request, st, s)
        s.info["scope"] = viewer.scope
        resumed = parse_id(last_id) if last_id is not None else None  # the Last-Event-ID a client sent
        if resumed is not None:
            return viewer, resumed
        newest = s.execute(select(func.max(OutboxEvent.id))).scalar_one_or_none()
        return viewer, newest or 0


def poll(request: Request, st: AppState, viewer: Viewer, after: int) -> tuple[list[str], int]:
    """Messages for the outbox events after ``after`` in the viewer's region, and the newest id seen."""
    out: list[str] = []
    with unit_of_work(st.factory, viewer.scope) as s:
        stmt = select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id).limit(200)
        events = list(s.execute(stmt).scalars())
        if not events:
            return out, after
        c = Console(request, st, lang_of(request), "", viewer, s)
        for ev in events:
            if ev.topic == "alert.raised":
                out.append(sse("alert", _alert_item(c, int(ev.payload["alert_id"])), ev.id))
        html = render(c.lang, "partials/summary.html", c.context(**summary(c)))
        out.append(sse("counts", html, events[-1].id))
        return out, events[-1].id


def _alert_item(c: Console, alert_id: int) -> str:
    try:
        alert = alerts.get_alert(c.s, alert_id)
    except NotFound:
        return ""
    return render(c.lang, "partials/alert_item.html", c.context(a=alert, fresh=True))


async def _events(
    request: Request, st: AppState, viewer: Viewer, after: int, seconds: float
) -> AsyncIterator[str]:
    yield "retry: 3000\n\n"
    deadline = time.monotonic() + seconds
    beat = time.monotonic()
    while time.monotonic() < deadline and not await request.is_disconnected():
        messages, after = await run_in_threadpool(poll, request, st, viewer, after)
        for m in messages:
            yield m
        if time.monotonic() - beat > HEARTBEAT_S:
            beat = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))


@router.get("/live/stream")
async def stream(
    request: Request,
    st: StateDep,
    seconds: Annotated[float, Query(ge=0.5, le=900)] = 60,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    viewer, after = await run_in_threadpool(_start, request, st, last_event_id)
    return StreamingResponse(
        _events(request, st, viewer, after, seconds),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
