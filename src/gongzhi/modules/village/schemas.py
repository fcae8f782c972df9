"""Payloads of the village supervision API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gongzhi.kit.sheets import ImportProblem
from gongzhi.kit.validation import DbInt, Yuan


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VillageIn(_In):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    town: str = Field(default="", max_length=100)
    representatives: DbInt = Field(default=0, ge=0)
    party_members: DbInt = Field(default=0, ge=0)


class VillageRead(_Read):
    id: int
    code: str
    name: str
    town: str
    representatives: int
    party_members: int


class StationIn(_In):
    village_id: DbInt
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=30)


class StationRead(_Read):
    id: int
    village_id: int
    name: str
    address: str
    phone: str


class SupervisorIn(_In):
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(default="", max_length=30)
    user_id: DbInt | None = None
    station_id: DbInt | None = None
    village_ids: list[DbInt] = Field(default_factory=list, max_length=200)


class SupervisorRead(_Read):
    id: int
    name: str
    phone: str
    station_id: int | None
    village_ids: list[int] = Field(default_factory=list)


class MilestoneIn(_In):
    name: str = Field(min_length=1, max_length=200)
    due_on: date
    done_on: date | None = None
    amount_yuan: Yuan = 0


class ProjectIn(_In):
    village_id: DbInt
    name: str = Field(min_length=1, max_length=200)
    budget_yuan: Yuan
    contractor: str = Field(default="", max_length=200)
    starts_on: date | None = None
    ends_on: date | None = None
    status: Literal["planned", "in_progress", "completed", "suspended"] = "planned"
    decision_id: DbInt | None = None
    milestones: list[MilestoneIn] = Field(default_factory=list, max_length=100)


class ProjectRead(_Read):
    id: int
    village_id: int
    name: str
    budget_fen: int
    contractor: str
    starts_on: date | None
    ends_on: date | None
    status: str
    decision_id: int | None = None


class ProjectDecisionIn(_In):
    decision_id: DbInt | None = None  # None: open a new decision titled after the project


class VisitIn(_In):
    village_id: DbInt
    project_id: DbInt | None = None
    supervisor_id: DbInt | None = None
    visited_at: datetime | None = None
    findings: str = Field(default="", max_length=10_000)
    photos: list[str] = Field(default_factory=list, max_length=20)
    issue: bool = False


class VisitRead(_Read):
    id: int
    village_id: int
    project_id: int | None
    supervisor_id: int | None
    visited_at: datetime
    findings: str
    photos: list[Any]
    issue: bool
    case_id: int | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def photo_urls(self) -> list[str]:
        return [f"/api/v1/village/visits/{self.id}/photos/{sha}" for sha in self.photos]


class DecisionIn(_In):
    village_id: DbInt
    title: str = Field(min_length=1, max_length=200)
    matter: str = Field(default="", max_length=10_000)


class StepIn(_In):
    step: Literal[
        "proposal", "committees", "members", "representatives", "disclose_resolution", "disclose_result"
    ]
    held_on: date
    expected: DbInt = Field(default=0, ge=0)
    present: DbInt = Field(default=0, ge=0)
    votes_for: DbInt = Field(default=0, ge=0)
    votes_against: DbInt = Field(default=0, ge=0)
    abstain: DbInt = Field(default=0, ge=0)
    attendees: list[str] = Field(default_factory=list, max_length=500)
    summary: str = Field(default="", max_length=10_000)
    attachments: list[str] = Field(default_factory=list, max_length=50)


class StepRead(_Read):
    step: str
    held_on: date
    expected: int
    present: int
    votes_for: int
    votes_against: int
    abstain: int
    attendees: list[Any]
    summary: str
    attachments: list[Any]
    recorded_by: str


class DecisionRead(_Read):
    id: int
    village_id: int
    title: str
    matter: str
    status: str
    opinion_id: int | None
    created_at: datetime
    steps: list[StepRead] = Field(default_factory=list)
    next_step: str | None = None


class AssetIn(_In):
    village_id: DbInt
    kind: Literal["fund", "asset", "resource"]
    name: str = Field(min_length=1, max_length=200)
    value_yuan: Yuan = 0
    notes: str = Field(default="", max_length=2_000)


class AssetRead(_Read):
    id: int
    village_id: int
    kind: str
    name: str
    value_fen: int
    notes: str


class ContractIn(_In):
    village_id: DbInt
    asset_id: DbInt | None = None
    counterparty: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date
    annual_rent_yuan: Yuan
    escalation_pct: float = Field(default=0, ge=-50, le=100)
    previous_id: DbInt | None = None
    disclosed_on: date | None = None


class ContractRead(_Read):
    id: int
    village_id: int
    asset_id: int | None
    counterparty: str
    subject: str
    starts_on: date
    ends_on: date
    annual_rent_fen: int
    escalation_pct: float
    previous_id: int | None
    disclosed_on: date | None
    schedule: list[tuple[date, int]] = Field(default_factory=list)


class PaymentIn(_In):
    paid_on: date
    amount_yuan: Annotated[Yuan, Field(gt=0)]
    note: str = Field(default="", max_length=200)


class FlagRead(BaseModel):
    kind: str
    contract_id: int
    message: str
    params: dict[str, str] = {}


class ConsultationIn(_In):
    village_id: DbInt
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5_000)
    open_until: date | None = None


class ConsultationRead(_Read):
    id: int
    village_id: int
    title: str
    description: str
    open_until: date | None


class OpinionRead(_Read):
    id: int
    village_id: int
    consultation_id: int | None
    text: str
    name: str
    phone: str
    created_at: datetime
    case_id: int | None
    decision_id: int | None


class ImportRead(_Read):
    kind: str
    filename: str
    sha256: str
    status: str
    rows: int
    imported: int
    errors: list[ImportProblem]
