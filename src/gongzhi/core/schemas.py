"""Payloads of the core API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from gongzhi.kit.validation import DbInt


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)
    region_id: DbInt | None = None


class MembershipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    region_id: int
    role: str
    department_id: int | None


class MeRead(BaseModel):
    id: int
    username: str
    display_name: str
    region_id: int | None
    role: str | None
    memberships: list[MembershipRead]
    csrf_token: str | None = None


class RegionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    name_en: str
    admin_code: str
    center_lon: float
    center_lat: float


class PairingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_a_id: int
    region_b_id: int
    active: bool
    note: str


class DepartmentCreate(BaseModel):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[\w.-]+$")
    name: str = Field(min_length=1, max_length=100)
    name_en: str = Field(default="", max_length=100)


class DepartmentRead(DepartmentCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int


class GridCellIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    geometry: dict[str, Any]


class GridCellRead(GridCellIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    region_id: int


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=60, pattern=r"^[\w.@-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=200)
    role: str
    department_id: DbInt | None = None
    phone: str = Field(default="", max_length=30)


class RoleUpdate(BaseModel):
    role: str
    department_id: DbInt | None = None


class MemberRead(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: str
    department_id: int | None
    is_active: bool


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: str
    user_id: DbInt | None = None
    expires_at: datetime | None = None


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    token: str


class WebhookCreate(BaseModel):
    url: HttpUrl
    topics: list[str] = Field(min_length=1, max_length=50)


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    topics: list[str]
    active: bool


class WebhookCreated(WebhookRead):
    secret: str


class AuditProblemRead(BaseModel):
    region_id: int
    seq: int
    problem: str


class AuditVerifyRead(BaseModel):
    links: int
    ok: bool
    problems: list[AuditProblemRead]


class EvidenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    region_id: int
    sha256: str
    filename: str
    content_type: str
    size: int
    uploaded_at: datetime
