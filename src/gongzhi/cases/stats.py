"""Aggregates for the dashboard: counts by state, overdue work, daily trends, SLA compliance by actor.

Every query selects from :class:`Case` or :class:`Alert` itself, so the region scope of the session applies
(counts are ``func.count(Case.id)``, never over a subquery). Days are counted in Asia/Shanghai, which has
kept UTC+8 without daylight saving since 1991, so a fixed eight-hour shift gives the local date in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from gongzhi.cases.alerts import LIVE
from gongzhi.cases.models import Actor, Alert, Case
from gongzhi.cases.service import overdue_clause
from gongzhi.cases.statemachine import TERMINAL, State
from gongzhi.db import utcnow
from gongzhi.kit.workdays import SHANGHAI

OPEN_STATES = tuple(s.value for s in State if s not in TERMINAL and s != State.CLOSED)


class shanghai_day(FunctionElement[date]):
    """The Asia/Shanghai calendar date of a UTC timestamp column."""

    type = Date()
    inherit_cache = True


@compiles(shanghai_day, "sqlite")
def _day_sqlite(element: shanghai_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(shanghai_day)
def _day_default(element: shanghai_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} + INTERVAL '8 hours') AS DATE)"


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def counts_by_state(s: Session) -> dict[str, int]:
    stmt = select(Case.state, func.count(Case.id)).group_by(Case.state)
    return {state: n for state, n in s.execute(stmt).all()}


def overdue_count(s: Session, now: datetime | None = None) -> int:
    stmt = select(func.count(Case.id)).where(overdue_clause(now or utcnow()))
    return int(s.execute(stmt).scalar_one())


def live_alert_count(s: Session) -> int:
    return int(s.execute(select(func.count(Alert.id)).where(Alert.status.in_(LIVE))).scalar_one())


@dataclass(frozen=True)
class DayCount:
    day: date
    created: int
    closed: int


def daily_trend(s: Session, days: int, now: datetime | None = None) -> list[DayCount]:
    """Cases created and closed on each of the last ``days`` Shanghai days, oldest first, zeros included."""
    today = (now or utcnow()).astimezone(SHANGHAI).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), SHANGHAI)
    created = _per_day(s, Case.created_at, since)
    closed = _per_day(s, Case.closed_at, since)
    span = (first + timedelta(days=i) for i in range(days))
    return [DayCount(d, created.get(d, 0), closed.get(d, 0)) for d in span]


def _per_day(s: Session, column: Any, since: datetime) -> dict[date, int]:
    day = shanghai_day(column)
    stmt = select(day, func.count(Case.id)).where(column >= since).group_by(day)
    return {_as_date(d): n for d, n in s.execute(stmt).all()}


@dataclass(frozen=True)
class SlaRow:
    actor_id: int | None
    actor: str
    claims: int
    claims_met: int
    resolutions: int
    resolutions_met: int
    overdue: int

    @property
    def met(self) -> int:
        return self.claims_met + self.resolutions_met

    @property
    def clocks(self) -> int:
        return self.claims + self.resolutions

    @property
    def compliance(self) -> float | None:
        return self.met / self.clocks if self.clocks else None


def sla_by_actor(s: Session, days: int = 30, now: datetime | None = None) -> list[SlaRow]:
    """Per actor (department, person, machine): clocks stopped in the window and how many met their deadline.

    An actor of a paired region is outside the scope, so its name comes back empty; the console labels it.
    """
    now = now or utcnow()
    since = now - timedelta(days=days)
    claimed = (Case.claimed_at >= since) & Case.claim_due.is_not(None)
    resolved = (Case.resolved_at >= since) & Case.resolve_due.is_not(None)
    stmt = (
        select(
            Case.actor_id,
            Actor.name,
            func.sum(case((claimed, 1), else_=0)),
            func.sum(case((claimed & (Case.claimed_at <= Case.claim_due), 1), else_=0)),
            func.sum(case((resolved, 1), else_=0)),
            func.sum(case((resolved & (Case.resolved_at <= Case.resolve_due), 1), else_=0)),
            func.sum(case((overdue_clause(now), 1), else_=0)),
        )
        .outerjoin(Actor, Actor.id == Case.actor_id)
        .where(Case.actor_id.is_not(None))
        .group_by(Case.actor_id, Actor.name)
    )
    rows = [SlaRow(a, name or "", *(int(v or 0) for v in rest)) for a, name, *rest in s.execute(stmt).all()]
    return sorted((r for r in rows if r.clocks or r.overdue), key=lambda r: (r.actor == "", r.actor))


def open_by_grid_cell(s: Session) -> dict[int, tuple[int, int]]:
    """Grid cell id → (open cases, live alerts)."""
    cstmt = (
        select(Case.grid_cell_id, func.count(Case.id))
        .where(Case.state.in_(OPEN_STATES), Case.grid_cell_id.is_not(None))
        .group_by(Case.grid_cell_id)
    )
    astmt = (
        select(Alert.grid_cell_id, func.count(Alert.id))
        .where(Alert.status.in_(LIVE), Alert.grid_cell_id.is_not(None))
        .group_by(Alert.grid_cell_id)
    )
    out: dict[int, tuple[int, int]] = {}
    for cell, n in s.execute(cstmt).all():
        if cell is not None:
            out[cell] = (n, 0)
    for cell, n in s.execute(astmt).all():
        if cell is not None:
            out[cell] = (out.get(cell, (0, 0))[0], n)
    return out


def open_points(s: Session, limit: int = 2000) -> tuple[list[Case], list[Alert]]:
    """Open cases and live alerts that have a location, newest first, for the map (location is JSON: a
    missing one may be stored as JSON null, so it is filtered here)."""
    cstmt = select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.id.desc()).limit(limit)
    astmt = select(Alert).where(Alert.status.in_(LIVE)).order_by(Alert.id.desc()).limit(limit)
    found_cases = [c for c in s.execute(cstmt).scalars() if c.location]
    return found_cases, [a for a in s.execute(astmt).scalars() if a.location]
