"""Payloads of the alerts and cases API (validated at the edge)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gongzhi.errors import InvalidInput
from gongzhi.kit.geo import validate_point
from gongzhi.kit.validation import DbInt

Priority = Literal["low", "normal", "high", "urgent"]
Severity = Literal["info", "low", "medium", "high", "critical"]
SlaUnit = Literal["hours", "working_hours", "working_days"]
Sha256 = str


def _point(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if v is not None:
        try:
            validate_point(v)
        except InvalidInput as exc:
            raise ValueError(exc.detail) from exc
    return v


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    category: str = Field(min_length=1, max_length=60)
    priority: Priority = "normal"
    location: dict[str, Any] | None = None
    address: str = Field(default="", max_length=300)
    reporter_name: str = Field(default="", max_length=100)
    reporter_phone: str = Field(default="", max_length=30)
    reporter_anonymous: bool = False
    source: str = Field(default="staff", max_length=40)
    accept: bool = False

    _loc = field_validator("location")(_point)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=5_000)
    actor_id: DbInt | None = None
    final: bool = False
    reason: str | None = None
    passed: bool | None = None
    satisfied: bool | None = None
    rating: int | None = Field(default=None, ge=1, le=5)
    until: datetime | None = None
    approve: bool | None = None
    target_case_id: DbInt | None = None
    files: list[Sha256] = Field(default_factory=list, max_length=20)


class ClockRead(BaseModel):
    start: datetime | None
    due: datetime | None
    stopped: datetime | None
    status: str
    used: float | None


class CaseRead(BaseModel):
    id: int
    number: str
    tracking_code: str
    region_id: int
    title: str
    description: str
    category: str
    priority: str
    state: str
    source: str
    location: dict[str, Any] | None
    address: str
    grid_cell_id: int | None
    reporter_name: str
    reporter_phone: str
    reporter_anonymous: bool
    actor_id: int | None
    handling_region_id: int | None
    assignee_user_id: int | None
    merged_into_id: int | None
    escalation_level: int
    final_ruling: bool
    return_count: int
    reopen_count: int
    extension_until: datetime | None
    rating: int | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    claim_clock: ClockRead
    resolve_clock: ClockRead
    actions: list[str]


class CaseList(BaseModel):
    items: list[CaseRead]
    total: int
    page: int
    page_size: int


class CaseEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_user_id: int | None
    actor_name: str
    action: str
    from_state: str | None
    to_state: str | None
    note: str
    data: dict[str, Any]


class CaseFileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sha256: str
    filename: str
    content_type: str
    size: int
    uploaded_at: datetime


class AlertRaise(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=60)
    severity: Severity = "medium"
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    location: dict[str, Any] | None = None
    evidence: list[Sha256] = Field(default_factory=list, max_length=50)
    source: str = Field(min_length=1, max_length=100)
    dedup_key: str = Field(min_length=1, max_length=200)

    _loc = field_validator("location")(_point)


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int
    kind: str
    severity: str
    title: str
    description: str
    location: dict[str, Any] | None
    evidence: list[Any]
    source: str
    dedup_key: str
    status: str
    count: int
    first_seen: datetime
    last_seen: datetime
    grid_cell_id: int | None
    dismiss_reason: str
    merged_into_id: int | None
    case_id: int | None


class AlertList(BaseModel):
    items: list[AlertRead]
    total: int
    page: int
    page_size: int


class AlertDismiss(BaseModel):
    reason: str = Field(min_length=1, max_length=2_000)


class AlertMerge(BaseModel):
    alert_ids: list[DbInt] = Field(min_length=1, max_length=200)


class AlertConvert(BaseModel):
    alert_ids: list[DbInt] = Field(min_length=1, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    category: str = Field(min_length=1, max_length=60)
    priority: Priority = "normal"


class SlaPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(default="*", max_length=60)
    priority: str = Field(default="*", max_length=20)
    claim_amount: float = Field(ge=0, le=10_000)
    claim_unit: SlaUnit
    resolve_amount: float = Field(ge=0, le=10_000)
    resolve_unit: SlaUnit
    remind_fraction: float = Field(default=0.8, gt=0, lt=1)
    escalate_after_working_days: int = Field(default=5, ge=1, le=60)


class SlaPolicyRead(SlaPolicyIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


ActorKindIn = Literal["department", "person", "machine", "external"]
"""The kinds of actor an administrator creates through ``POST /actors``."""
ActorKind = Literal["department", "person", "machine", "external", "robot", "dock"]
"""Every kind of actor: also the cleaning robots and drone docks the PV module registers with the
configuration they need (``POST /pv/plants/{id}/robots`` and ``…/docks``)."""


class _ActorFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    department_id: DbInt | None = None
    user_id: DbInt | None = None
    adapter: str = "internal"
    config: dict[str, Any] = Field(default_factory=dict)
    shared_with_pairs: bool = False


class ActorIn(_ActorFields):
    kind: ActorKindIn


class ActorRead(_ActorFields):
    model_config = ConfigDict(from_attributes=True)

    kind: ActorKind
    id: int
    region_id: int
    active: bool


class DispatchRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int = Field(default=100, ge=0, le=100_000)
    category: str | None = Field(default=None, max_length=60)
    grid_cell_id: DbInt | None = None
    actor_id: DbInt


class DispatchRuleRead(DispatchRuleIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


class CalendarOverrideIn(BaseModel):
    day: date
    is_workday: bool
    note: str = Field(default="", max_length=200)
