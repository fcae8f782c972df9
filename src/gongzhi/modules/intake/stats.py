"""Monthly statistics per department: received, on time, overdue, satisfaction, resolution latency."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases.models import Actor, Case, CaseEvent
from gongzhi.core.models import Department
from gongzhi.db import utcnow
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.intake.analytics import latency
from gongzhi.modules.intake.models import IntakeRequest
from gongzhi.modules.intake.schemas import DepartmentMonth, MonthlyStats

UNSCOPED = {"unscoped": True}
OPEN_LATE = ("dispatched", "claimed", "in_progress")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=SHANGHAI)
    except ValueError as exc:
        raise InvalidInput(msg("month must look like 2026-11")) from exc
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def monthly(s: Session, region_id: int, month: str, now: datetime | None = None) -> MonthlyStats:
    start, end = month_bounds(month)
    now = now or utcnow()
    stmt = (
        select(Case, IntakeRequest.department_id, Actor.department_id)
        .join(IntakeRequest, IntakeRequest.case_id == Case.id)
        .outerjoin(Actor, Actor.id == Case.actor_id)
        .where(Case.region_id == region_id, Case.created_at >= start, Case.created_at < end)
    )
    rows = s.execute(stmt, execution_options=UNSCOPED).all()
    satisfied = satisfaction(s, [c.id for c, _, _ in rows])
    stmt_names = select(Department.id, Department.name).where(Department.region_id == region_id)
    names: dict[int, str] = {i: n for i, n in s.execute(stmt_names).all()}
    groups: dict[int | None, list[Case]] = defaultdict(list)
    for case, intake_dept, actor_dept in rows:
        groups[actor_dept or intake_dept].append(case)
    depts = [
        _row(d, names.get(d, "未分派") if d else "未分派", cs, satisfied, now) for d, cs in groups.items()
    ]
    depts.sort(key=lambda r: (-r.received, r.department))
    total = _row(None, "合计", [c for c, _, _ in rows], satisfied, now)
    days = [(c.resolved_at - c.created_at).total_seconds() / 86400 for c, _, _ in rows if c.resolved_at]
    return MonthlyStats(
        region_id=region_id, month=month, departments=depts, total=total, latency_days=latency.summary(days)
    )


def satisfaction(s: Session, case_ids: list[int]) -> dict[int, tuple[int, bool]]:
    if not case_ids:
        return {}
    stmt = (
        select(CaseEvent.case_id, CaseEvent.data)
        .where(CaseEvent.case_id.in_(case_ids), CaseEvent.action == "follow_up")
        .order_by(CaseEvent.id)
    )
    out: dict[int, tuple[int, bool]] = {}
    for cid, data in s.execute(stmt, execution_options=UNSCOPED).all():
        out[cid] = (int(data.get("rating", 0)), bool(data.get("satisfied")))
    return out


def _row(
    dept: int | None, name: str, cs: list[Case], satisfied: dict[int, tuple[int, bool]], now: datetime
) -> DepartmentMonth:
    resolved = [c for c in cs if c.resolved_at is not None and c.resolve_due is not None]
    on_time = sum(1 for c in resolved if c.resolved_at <= c.resolve_due)  # type: ignore[operator,misc]
    open_late = sum(
        1 for c in cs if c.state in OPEN_LATE and c.resolve_due is not None and c.resolve_due < now
    )
    rated = [satisfied[c.id] for c in cs if c.id in satisfied]
    happy = sum(1 for _, ok in rated if ok)
    stats: dict[str, Any] = {
        "department_id": dept,
        "department": name,
        "received": len(cs),
        "closed": sum(1 for c in cs if c.state == "closed"),
        "on_time": on_time,
        "overdue": len(resolved) - on_time + open_late,
        "open_overdue": open_late,
        "rated": len(rated),
        "satisfied": happy,
        "mean_rating": round(sum(r for r, _ in rated) / len(rated), 2) if rated else None,
        "satisfaction": round(happy / len(rated), 3) if rated else None,
    }
    return DepartmentMonth(**stats)
