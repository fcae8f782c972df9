"""Alerts, cases (work orders), their timeline, SLA policies and dispatch rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, or_, select, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from gongzhi.db import Base, RegionOwned, utcnow


class Actor(RegionOwned, Base):
    """Whoever receives a dispatch: a department, a person, a machine or an external system."""

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    adapter: Mapped[str] = mapped_column(String(40), default="internal")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    shared_with_pairs: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class DispatchRule(RegionOwned, Base):
    """Maps a category and/or a grid cell to an actor; the lowest ``position`` that matches wins."""

    __tablename__ = "dispatch_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=100)
    category: Mapped[str | None] = mapped_column(String(60))
    grid_cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cells.id"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id"))


class SlaPolicy(RegionOwned, Base):
    """One cell of a region's SLA matrix: category × priority → time to claim, time to resolve."""

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("region_id", "category", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(60), default="*")
    priority: Mapped[str] = mapped_column(String(20), default="*")
    claim_amount: Mapped[float]
    claim_unit: Mapped[str] = mapped_column(String(20))
    resolve_amount: Mapped[float]
    resolve_unit: Mapped[str] = mapped_column(String(20))
    remind_fraction: Mapped[float] = mapped_column(default=0.8)
    escalate_after_working_days: Mapped[int] = mapped_column(default=5)


class CalendarOverride(RegionOwned, Base):
    """A region's own working-day exception (local holiday, extra make-up day)."""

    __tablename__ = "calendar_overrides"
    __table_args__ = (UniqueConstraint("region_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    is_workday: Mapped[bool]
    note: Mapped[str] = mapped_column(String(200), default="")


class Alert(RegionOwned, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "ux_alerts_open_dedup",
            "region_id",
            "dedup_key",
            unique=True,
            sqlite_where=text("status IN ('open', 'acknowledged')"),
            postgresql_where=text("status IN ('open', 'acknowledged')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[dict[str, Any] | None]
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(100))
    dedup_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    count: Mapped[int] = mapped_column(default=1)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    grid_cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cells.id"))
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None]
    dismiss_reason: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))


class Case(RegionOwned, Base):
    """A work order (工单), visible to its region and, while dispatched there, to a paired handling region."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_region_state", "region_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    tracking_code: Mapped[str] = mapped_column(String(24), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(60), index=True)
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    state: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(40), default="staff")
    location: Mapped[dict[str, Any] | None]
    address: Mapped[str] = mapped_column(String(300), default="")
    grid_cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cells.id"))
    reporter_name: Mapped[str] = mapped_column(String(100), default="")
    reporter_phone: Mapped[str] = mapped_column(String(30), default="")
    reporter_anonymous: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    handling_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    dispatched_at: Mapped[datetime | None]
    claim_due: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    resolve_due: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reminded_claim: Mapped[bool] = mapped_column(default=False)
    reminded_resolve: Mapped[bool] = mapped_column(default=False)
    escalation_level: Mapped[int] = mapped_column(default=0)
    final_ruling: Mapped[bool] = mapped_column(default=False)
    return_count: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0)
    extension_until: Mapped[datetime | None]
    extension_reason: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it as declared

    @classmethod
    def scope_criterion(cls, region_id: int) -> ColumnElement[bool]:
        return or_(cls.region_id == region_id, cls.handling_region_id == region_id)


def _visible_case_ids(region_id: int) -> Any:
    return select(Case.id).where(or_(Case.region_id == region_id, Case.handling_region_id == region_id))


class CaseEvent(RegionOwned, Base):
    """One entry of a case's timeline; never updated or deleted."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    @classmethod
    def scope_criterion(cls, region_id: int) -> ColumnElement[bool]:
        return cls.case_id.in_(_visible_case_ids(region_id))


class CaseFile(RegionOwned, Base):
    """Evidence attached to a case (photos, documents) by content hash."""

    __tablename__ = "case_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    @classmethod
    def scope_criterion(cls, region_id: int) -> ColumnElement[bool]:
        return cls.case_id.in_(_visible_case_ids(region_id))
