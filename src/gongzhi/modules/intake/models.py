"""Citizen requests (民情民意): categories, requests, Open311 keys, imports, labels, models, hot topics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gongzhi.db import Base, RegionOwned, utcnow


class IntakeSettings(RegionOwned, Base):
    """A region's intake knobs; a region without a row uses the defaults."""

    __tablename__ = "intake_settings"
    __table_args__ = (UniqueConstraint("region_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    confidence_threshold: Mapped[float] = mapped_column(default=0.55)
    duplicate_radius_m: Mapped[float] = mapped_column(default=250.0)
    duplicate_similarity: Mapped[float] = mapped_column(default=0.5)
    retrain_every: Mapped[int] = mapped_column(default=20)
    hot_window_days: Mapped[int] = mapped_column(default=30)
    hot_alert_heat: Mapped[float] = mapped_column(default=20.0)


class IntakeCategory(RegionOwned, Base):
    """One node of a region's category tree; its ``code`` is the Open311 ``service_code``."""

    __tablename__ = "intake_categories"
    __table_args__ = (UniqueConstraint("region_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    parent_code: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    attributes: Mapped[list[Any]] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(default=100)
    active: Mapped[bool] = mapped_column(default=True)


class IntakeRequest(RegionOwned, Base):
    """What a citizen sent, through which channel, how it was routed; the work itself is the linked case."""

    __tablename__ = "intake_requests"
    __table_args__ = (
        Index("ix_intake_requests_region_created", "region_id", "created_at"),
        Index("ix_intake_requests_nearby", "region_id", "service_code", "geo_cell"),
        UniqueConstraint("region_id", "channel", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(80))
    token: Mapped[str] = mapped_column(String(32), unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    service_code: Mapped[str] = mapped_column(String(60))
    chosen_by: Mapped[str] = mapped_column(String(20), default="citizen")
    predicted_code: Mapped[str | None] = mapped_column(String(60))
    confidence: Mapped[float | None]
    triage: Mapped[str] = mapped_column(String(20), default="auto", index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    geo_cell: Mapped[int | None] = mapped_column(BigInteger)
    address_id: Mapped[str] = mapped_column(String(80), default="")
    zipcode: Mapped[str] = mapped_column(String(20), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    media_urls: Mapped[list[Any]] = mapped_column(default=list)
    reporter_email: Mapped[str] = mapped_column(String(200), default="")
    reporter_key: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(80), default="")
    device_id: Mapped[str] = mapped_column(String(80), default="")
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("intake_api_keys.id"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("intake_imports.id"))
    votes: Mapped[int] = mapped_column(default=0)
    dislikes: Mapped[int] = mapped_column(default=0)
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    duplicate_of_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    duplicate_score: Mapped[float | None]
    topic_key: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeApiKey(RegionOwned, Base):
    """An Open311 ``api_key`` for a third-party app that posts requests; stored as a hash."""

    __tablename__ = "intake_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class IntakeImport(RegionOwned, Base):
    """One uploaded spreadsheet of visit records or hotline tickets: imported whole or not at all."""

    __tablename__ = "intake_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20))
    errors: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingExample(RegionOwned, Base):
    """A labelled text the classifier learns from: a dispatcher's correction or confirmation, or an import."""

    __tablename__ = "intake_training_examples"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("intake_requests.id"))
    subject: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    category_code: Mapped[str] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ClassifierModel(RegionOwned, Base):
    """A trained routing model of a region (weights as compressed arrays); the newest one is used."""

    __tablename__ = "intake_classifier_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    examples: Mapped[int] = mapped_column(default=0)
    seeds: Mapped[int] = mapped_column(default=0)
    classes: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")


class HotTopic(RegionOwned, Base):
    """One row of the latest hot-topic table (热点问题表) of a region."""

    __tablename__ = "intake_hot_topics"
    __table_args__ = (UniqueConstraint("region_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    rank: Mapped[int]
    heat: Mapped[float]
    previous_heat: Mapped[float] = mapped_column(default=0.0)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(100), default="")
    people: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(String(300))
    requests: Mapped[int]
    reporters: Mapped[int]
    votes: Mapped[int]
    request_ids: Mapped[list[Any]] = mapped_column(default=list)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
