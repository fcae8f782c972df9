"""Village supervision (基层监督): stations, supervisors, projects, decisions (四议两公开), the three-assets
ledger, public-opinion collection. Money is kept in fen (分, integer) so sums are exact on every backend."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gongzhi.db import Base, RegionOwned, utcnow


class Village(RegionOwned, Base):
    __tablename__ = "village_villages"
    __table_args__ = (UniqueConstraint("region_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    town: Mapped[str] = mapped_column(String(100), default="")
    representatives: Mapped[int] = mapped_column(default=0)
    party_members: Mapped[int] = mapped_column(default=0)


class Station(RegionOwned, Base):
    """A supervision liaison station (监察联络站) of one village."""

    __tablename__ = "village_stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village_villages.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")


class Supervisor(RegionOwned, Base):
    __tablename__ = "village_supervisors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(30), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("village_stations.id"))


class SupervisorVillage(RegionOwned, Base):
    __tablename__ = "village_supervisor_villages"
    __table_args__ = (UniqueConstraint("supervisor_id", "village_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("village_supervisors.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village_villages.id"), index=True)


class Project(RegionOwned, Base):
    __tablename__ = "village_projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village_villages.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    budget_fen: Mapped[int] = mapped_column(BigInteger)
    contractor: Mapped[str] = mapped_column(String(200), default="")
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20), default="planned")
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("village_decisions.id"))  # its 四议两公开


class Milestone(RegionOwned, Base):
    __tablename__ = "village_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("village_projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date]
    done_on: Mapped[date | None]
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class Visit(RegionOwned, Base):
    """A supervision visit; a visit with an issue becomes a case."""

    __tablename__ = "village_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village_villages.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("village_projects.id"))
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("village_supervisors.id"))
    visited_at: Mapped[datetime] = mapped_column(default=utcnow)
    findings: Mapped[str] = mapped_column(Text, default="")
    photos: Mapped[list[Any]] = mapped_column(default=list)
    issue: Mapped[bool] = mapped_column(default=False)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))


class Decision(RegionOwned, Base):
    """A major village matter decided by 四议两公开."""

    __tablename__ = "village_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village_villages.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    matter: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="in_progress")
    opinion_id: Mapped[int | None]  # the opinion that raised it (no foreign key: opinions point back here)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DecisionStep(RegionOwned, Base):
    __tablename__ = "village_decision_steps"
    __table_args__ = (UniqueConstraint("decision_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("village_decisions.id"), index=True)
    step: Mapped[str] = mapped_column(String(30))
    held_on: Mapped[date]
    expected: Mapped[int] = mapped_column(default=0)
    present: Mapped[int] = mapped_column(default=0)
    votes_for: Mapped[int] = mapped_column(default=0)
    votes_against: Mapped[int] = mapped_column(default=0)
    abstain: Mapped[int] = mapped_column(default=0)
    attendees: Mapped[list[Any]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    recorded_by: Mapped[str] = mapped_column(String(100), default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Asset(RegionOwned, Base):
    """One entry of the three-assets ledger (资金、资产、资源)."""

    __tablename__ = "village_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village_villages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    value_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")


class Contract(RegionOwned, Base):
    """A lease or contract over collective property; rent rises by ``escalation_pct`` each contract year."""

    __tablename__ = "village_contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village_villages.id"), index=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("village_assets.id"))
    counterparty: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    annual_rent_fen: Mapped[int] = mapped_column(BigInteger)
    escalation_pct: Mapped[float] = mapped_column(default=0.0)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("village_contracts.id"))
    disclosed_on: Mapped[date | None]


class Payment(RegionOwned, Base):
    __tablename__ = "village_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("village_contracts.id"), index=True)
    paid_on: Mapped[date]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(200), default="")


class Consultation(RegionOwned, Base):
    """A public-opinion collection item (民意征集) of a village."""

    __tablename__ = "village_consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village_villages.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    open_until: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Opinion(RegionOwned, Base):
    __tablename__ = "village_opinions"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village_villages.id"), index=True)
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("village_consultations.id"))
    text: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("village_decisions.id"))
