"""Alerts: a filterable list, a detail page with evidence; acknowledge, dismiss, merge, convert to a case."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query
from fastapi.responses import Response
from sqlalchemy import select

from gongzhi.cases import alerts
from gongzhi.cases.alerts import LIVE, WRITERS
from gongzhi.cases.models import Alert
from gongzhi.core.deps import api_router
from gongzhi.core.models import Role
from gongzhi.errors import NotFound, msg
from gongzhi.kit.filestore import sniff
from gongzhi.kit.validation import DbInt
from gongzhi.web import labels
from gongzhi.web.i18n import N_
from gongzhi.web.related import related
from gongzhi.web.shell import Console, ConsoleDep

router = api_router(include_in_schema=False)
PAGE_SIZE = 50
STATUSES = tuple(labels.ALERT_STATUSES)
IMAGES = ("image/jpeg", "image/png")


def _status(values: list[str] | None) -> list[str]:
    chosen = [v for v in values or [] if v in STATUSES]
    return chosen or list(LIVE)


@router.get("/alerts")
def alert_list(
    c: ConsoleDep,
    status: Annotated[list[str] | None, Query()] = None,
    severity: str = "",
    kind: Annotated[str, Query(max_length=60)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    chosen = _status(status)
    sev = severity if severity in labels.SEVERITIES else None
    items, total = alerts.list_alerts(c.s, chosen, kind or None, sev, page, PAGE_SIZE)
    return c.page(
        "alerts/list.html",
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        status=chosen,
        severity=sev or "",
        kind=kind,
        alert_kinds=list(labels.ALERT_KINDS),
        can_write=c.me.can(*WRITERS),
        can_convert=c.me.can(Role.ADMIN, Role.DISPATCHER),
    )


def _others(c: Console, alert: Alert) -> list[Alert]:
    stmt = select(Alert).where(Alert.status.in_(LIVE), Alert.id != alert.id).order_by(Alert.id.desc())
    return list(c.s.execute(stmt.limit(100)).scalars())


def _evidence(c: Console, alert: Alert) -> list[tuple[str, bool, bool]]:
    """(sha256, stored here, is an image) for each piece of evidence."""
    out = []
    for sha in alert.evidence:
        try:
            there = c.st.store.exists(str(sha))
        except ValueError:
            there = False
        image = there and sniff(c.st.store.open(str(sha))[:64]) in IMAGES
        out.append((str(sha), there, image))
    return out


@router.get("/alerts/{alert_id:int}")
def alert_detail(c: ConsoleDep, alert_id: DbInt) -> Response:
    alert = alerts.get_alert(c.s, alert_id)
    return c.page(
        "alerts/detail.html",
        a=alert,
        evidence=_evidence(c, alert),
        related=related("alert", c.s, alert),
        others=_others(c, alert) if alert.status in LIVE else [],
        live=alert.status in LIVE,
        can_write=c.me.can(*WRITERS),
        can_convert=c.me.can(Role.ADMIN, Role.DISPATCHER),
    )


@router.get("/alerts/{alert_id:int}/evidence/{sha256}")
def evidence(c: ConsoleDep, alert_id: DbInt, sha256: str) -> Response:
    alert = alerts.get_alert(c.s, alert_id)
    if sha256 not in alert.evidence or not c.st.store.exists(sha256):
        raise NotFound(msg("no such evidence on this alert"))
    data = c.st.store.open(sha256)
    return Response(data, media_type=sniff(data[:64]) or "application/octet-stream")


@router.post("/alerts/{alert_id:int}/acknowledge")
def acknowledge(c: ConsoleDep, alert_id: DbInt) -> Response:
    alerts.acknowledge(c.s, alert_id)
    return c.done(f"/alerts/{alert_id}", c._(N_("Alert acknowledged")))


@router.post("/alerts/{alert_id:int}/dismiss")
def dismiss(c: ConsoleDep, alert_id: DbInt, reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    alerts.dismiss(c.s, alert_id, reason)
    return c.done(f"/alerts/{alert_id}", c._(N_("Alert dismissed")))


@router.post("/alerts/{alert_id:int}/merge")
def merge(c: ConsoleDep, alert_id: DbInt, alert_ids: Annotated[list[DbInt], Form()]) -> Response:
    alerts.merge(c.s, alert_id, alert_ids)
    return c.done(f"/alerts/{alert_id}", c._(N_("Alerts merged")))


@router.post("/alerts/convert")
def convert(
    c: ConsoleDep,
    alert_ids: Annotated[list[DbInt], Form()],
    category: Annotated[str, Form(min_length=1, max_length=60)],
    priority: Annotated[str, Form()] = "normal",
    title: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    pri = priority if priority in labels.PRIORITIES else "normal"
    case = alerts.convert(
        c.s, c.st.registry, alert_ids, category=category.strip(), priority=pri, title=title.strip() or None
    )
    c.s.flush()
    return c.done(f"/cases/{case.id}", c._(N_("Case %(number)s created from alerts"), number=case.number))
