"""Alerts raised by detectors: deduplicated, acknowledged, dismissed, merged or converted into cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gongzhi.cases import service as cases
from gongzhi.cases.models import Alert, Case
from gongzhi.cases.schemas import AlertRaise, CaseCreate
from gongzhi.core import audit, evidence, outbox
from gongzhi.core.models import Role
from gongzhi.core.service import require_role
from gongzhi.db import scope_of, utcnow
from gongzhi.errors import IllegalTransition, InvalidInput, NotFound, msg
from gongzhi.registry import Registry

LIVE = ("open", "acknowledged")
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
WRITERS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR)


def raise_alert(
    s: Session,
    registry: Registry,
    data: AlertRaise,
    *,
    region_id: int | None = None,
    now: datetime | None = None,
    resighting: bool = False,
) -> tuple[Alert, bool]:
    """Raise an alert, or bump the live one with the same dedup key. Returns (alert, created).

    ``resighting``: the same observation reported again (a detector re-running on data it has already
    reported, as a PV flight analysed again): a live alert takes its severity and evidence but its
    ``count`` of sightings stays as it is."""
    sc = scope_of(s)
    rid = region_id if sc.system and region_id is not None else sc.region_id
    if rid is None:
        raise InvalidInput(msg("a region is required"))
    if not sc.system:
        require_role(sc, *WRITERS)
    now = now or utcnow()
    evidence.require_all(s, rid, data.evidence)
    existing = _live_by_key(s, rid, data.dedup_key)
    if existing is None:
        try:
            with s.begin_nested():
                alert = _insert(s, rid, data, now)
        except IntegrityError:  # a concurrent raise won the race: bump theirs
            existing = _live_by_key(s, rid, data.dedup_key)
        else:
            outbox.publish(s, registry, rid, "alert.raised", _payload(alert))
            return alert, True
    assert existing is not None
    _bump(existing, data, now, sighting=not resighting)
    return existing, False


def _live_by_key(s: Session, rid: int, key: str) -> Alert | None:
    stmt = select(Alert).where(Alert.region_id == rid, Alert.dedup_key == key, Alert.status.in_(LIVE))
    return s.execute(stmt.with_for_update()).scalar_one_or_none()


def _insert(s: Session, rid: int, data: AlertRaise, now: datetime) -> Alert:
    alert = Alert(
        region_id=rid,
        first_seen=now,
        last_seen=now,
        grid_cell_id=cases.grid_cell_at(s, rid, data.location),
        **data.model_dump(),
    )
    s.add(alert)
    s.flush()
    _audit(s, alert, "alert.raise", {"kind": data.kind, "severity": data.severity})
    return alert


def _bump(alert: Alert, data: AlertRaise, now: datetime, *, sighting: bool) -> None:
    if sighting:
        alert.count += 1
    alert.last_seen = max(alert.last_seen, now)
    if SEVERITY_RANK[data.severity] > SEVERITY_RANK.get(alert.severity, 0):
        alert.severity = data.severity
    alert.evidence = list(dict.fromkeys([*alert.evidence, *data.evidence]))[:200]


def _audit(s: Session, alert: Alert, action: str, data: dict[str, object]) -> None:
    sc = scope_of(s)
    audit.record(
        s,
        region_id=alert.region_id,
        action=action,
        object_type="alert",
        object_id=alert.id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data=dict(data),
    )


def _payload(alert: Alert) -> dict[str, object]:
    return {
        "alert_id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "title": alert.title,
        "status": alert.status,
        "location": alert.location,
    }


def get_alert(s: Session, alert_id: int) -> Alert:
    alert = s.execute(select(Alert).where(Alert.id == alert_id)).scalar_one_or_none()
    if alert is None:
        raise NotFound(msg("no alert %(alert_id)s", alert_id=alert_id))
    return alert


def _live(s: Session, alert_id: int) -> Alert:
    alert = get_alert(s, alert_id)
    if alert.status not in LIVE:
        raise IllegalTransition(
            msg(
                "alert %(alert_id)s is %(alert_status)s, no longer open",
                alert_id=alert_id,
                alert_status=alert.status,
            )
        )
    return alert


def acknowledge(s: Session, alert_id: int) -> Alert:
    sc = scope_of(s)
    require_role(sc, *WRITERS)
    alert = _live(s, alert_id)
    if alert.status == "open":
        alert.status, alert.acknowledged_by, alert.acknowledged_at = "acknowledged", sc.user_id, utcnow()
        _audit(s, alert, "alert.acknowledge", {})
    return alert


def dismiss(s: Session, alert_id: int, reason: str) -> Alert:
    require_role(scope_of(s), *WRITERS)
    if not reason.strip():
        raise InvalidInput(msg("dismissing an alert needs a reason"))
    alert = _live(s, alert_id)
    alert.status, alert.dismiss_reason = "dismissed", reason
    _audit(s, alert, "alert.dismiss", {"reason": reason[:500]})
    return alert


def merge(s: Session, target_id: int, alert_ids: list[int]) -> Alert:
    require_role(scope_of(s), *WRITERS)
    target = _live(s, target_id)
    for aid in dict.fromkeys(alert_ids):
        if aid == target_id:
            continue
        other = _live(s, aid)
        other.status, other.merged_into_id = "merged", target.id
        target.count += other.count
        target.first_seen = min(target.first_seen, other.first_seen)
        target.last_seen = max(target.last_seen, other.last_seen)
        target.evidence = list(dict.fromkeys([*target.evidence, *other.evidence]))
        _audit(s, other, "alert.merge", {"into": target.id})
    return target


def convert(
    s: Session, registry: Registry, alert_ids: list[int], *, category: str, priority: str, title: str | None
) -> Case:
    """Turn one or several live alerts into one accepted case."""
    require_role(scope_of(s), Role.ADMIN, Role.DISPATCHER)
    alerts = [_live(s, a) for a in dict.fromkeys(alert_ids)]
    first = max(alerts, key=lambda a: SEVERITY_RANK.get(a.severity, 0))
    body = "\n".join(f"[{a.kind}/{a.severity}] {a.title} ×{a.count}" for a in alerts)
    data = CaseCreate(
        title=title or first.title,
        description=body,
        category=category,
        priority=priority,
        location=first.location,
        source=f"alert:{first.source}"[:40],
        accept=True,
    )
    case = cases.create_case(s, registry, data)
    for a in alerts:
        a.status, a.case_id = "converted", case.id
        _audit(s, a, "alert.convert", {"case_id": case.id})
    return case


def list_alerts(
    s: Session, status: list[str], kind: str | None, severity: str | None, page: int, page_size: int
) -> tuple[list[Alert], int]:
    where: list[ColumnElement[bool]] = []
    if status:
        where.append(Alert.status.in_(status))
    if kind:
        where.append(Alert.kind == kind)
    if severity:
        where.append(Alert.severity == severity)
    total = s.execute(select(func.count(Alert.id)).where(*where)).scalar_one()
    stmt = select(Alert).where(*where).order_by(Alert.last_seen.desc(), Alert.id.desc())
    return list(s.execute(stmt.offset((page - 1) * page_size).limit(page_size)).scalars()), total
