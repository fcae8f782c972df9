"""Payloads of the intake API (validated at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gongzhi.kit.sheets import ImportProblem
from gongzhi.kit.validation import DbInt

Channel = Literal["web", "open311", "staff", "hotline", "visit", "import", "opinion"]


class RequestIn(BaseModel):
    """One citizen request, whatever the channel."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    service_code: str | None = Field(default=None, max_length=60)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    address: str = Field(default="", max_length=300)
    address_id: str = Field(default="", max_length=80)
    zipcode: str = Field(default="", max_length=20)
    reporter_name: str = Field(default="", max_length=100)
    reporter_phone: str = Field(default="", max_length=30)
    reporter_email: str = Field(default="", max_length=200)
    anonymous: bool = False
    account_id: str = Field(default="", max_length=80)
    device_id: str = Field(default="", max_length=80)
    attributes: dict[str, Any] = Field(default_factory=dict)
    media_urls: list[str] = Field(default_factory=list, max_length=20)
    external_id: str | None = Field(default=None, max_length=80)
    received_at: datetime | None = None
    votes: DbInt = Field(default=0, ge=0)
    dislikes: DbInt = Field(default=0, ge=0)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"


class StaffRequestIn(RequestIn):
    channel: Literal["staff", "hotline", "visit"] = "staff"


class SimilarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    service_code: str | None = Field(default=None, max_length=60)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class SimilarRead(BaseModel):
    number: str
    title: str
    state: str
    category: str
    similarity: float
    distance_m: float | None
    created_at: datetime


class SubmittedRead(BaseModel):
    number: str
    tracking_code: str
    token: str
    status_url: str
    category: str
    triage: str
    similar: list[SimilarRead]


class PredictionRead(BaseModel):
    code: str
    confidence: float
    department_id: int | None
    ranking: list[tuple[str, float]]


class IntakeRequestRead(BaseModel):
    id: int
    case_id: int
    number: str
    state: str
    channel: str
    subject: str
    text: str
    service_code: str
    chosen_by: str
    predicted_code: str | None
    confidence: float | None
    triage: str
    department_id: int | None
    lat: float | None
    lon: float | None
    address: str
    reporter_name: str
    reporter_phone: str
    reporter_email: str
    anonymous: bool
    votes: int
    duplicate_of_case_id: int | None
    duplicate_score: float | None
    topic_key: str | None
    created_at: datetime


class IntakeRequestList(BaseModel):
    items: list[IntakeRequestRead]
    total: int


class TriageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_code: str = Field(min_length=1, max_length=60)
    department_id: DbInt | None = None
    note: str = Field(default="", max_length=2_000)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into_case_id: DbInt
    note: str = Field(default="", max_length=2_000)


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: str = Field(min_length=1, max_length=100)
    name_en: str = Field(default="", max_length=100)
    parent_code: str | None = Field(default=None, max_length=60)
    description: str = Field(default="", max_length=2_000)
    keywords: list[str] = Field(default_factory=list, max_length=500)
    department_id: DbInt | None = None
    attributes: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    position: int = Field(default=100, ge=0, le=100_000)
    active: bool = True


class CategoryRead(CategoryIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class ApiKeyCreated(BaseModel):
    id: int
    name: str
    api_key: str


class ImportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    filename: str
    rows: int
    imported: int
    status: str
    errors: list[ImportProblem]
    created_at: datetime


class ModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    trained_at: datetime
    examples: int
    seeds: int
    classes: list[Any]
    metrics: dict[str, Any]
    trigger: str


class HotTopicRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rank: int
    key: str
    heat: float
    previous_heat: float
    period_start: datetime
    period_end: datetime
    place: str
    people: str
    description: str
    requests: int
    reporters: int
    votes: int
    alert_id: int | None


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5)
    satisfied: bool
    note: str = Field(default="", max_length=2_000)


class DepartmentMonth(BaseModel):
    department_id: int | None
    department: str
    received: int
    closed: int
    on_time: int
    overdue: int
    open_overdue: int
    rated: int
    satisfied: int
    mean_rating: float | None
    satisfaction: float | None


class MonthlyStats(BaseModel):
    region_id: int
    month: str
    departments: list[DepartmentMonth]
    total: DepartmentMonth
    latency_days: dict[str, float | None]
