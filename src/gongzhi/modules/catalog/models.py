"""Tables of the catalog module: records with their history, rule sets, audit runs and findings, duplicate
pairs, reusable apps with subscriptions and the reuse ledger, and the shared document library."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gongzhi.db import Base, RegionOwned, utcnow


class CatalogRecord(RegionOwned, Base):
    """An application (信息系统) or data resource of a region's resource catalog (资源目录)."""

    __tablename__ = "catalog_records"
    __table_args__ = (UniqueConstraint("region_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(300))
    identifier: Mapped[str] = mapped_column(String(300), default="")
    metadata_id: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    provider: Mapped[str] = mapped_column(String(200), default="", index=True)
    provider_code: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[str] = mapped_column(String(300), default="")
    category_code: Mapped[str] = mapped_column(String(60), default="")
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    format: Mapped[str] = mapped_column(String(100), default="")
    resource_type: Mapped[str] = mapped_column(String(60), default="")
    share_type: Mapped[str] = mapped_column(String(40), default="")
    share_condition: Mapped[str] = mapped_column(Text, default="")
    share_mode: Mapped[str] = mapped_column(String(40), default="")
    open_type: Mapped[str] = mapped_column(String(40), default="")
    open_condition: Mapped[str] = mapped_column(Text, default="")
    rights: Mapped[str] = mapped_column(Text, default="")
    update_cycle: Mapped[str] = mapped_column(String(40), default="")
    published: Mapped[date | None] = mapped_column(Date)
    modified: Mapped[date | None] = mapped_column(Date)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(60), default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    license: Mapped[str] = mapped_column(String(500), default="")
    functions: Mapped[str] = mapped_column(Text, default="")
    items: Mapped[list[Any]] = mapped_column(default=list)
    distributions: Mapped[list[Any]] = mapped_column(default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(40), default="manual")
    version: Mapped[int] = mapped_column(default=1)
    shared_with_pairs: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None]
    archived_by: Mapped[str] = mapped_column(String(100), default="")
    archive_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogRecordVersion(RegionOwned, Base):
    """One state of a record: written on creation and on every change, never updated."""

    __tablename__ = "catalog_record_versions"
    __table_args__ = (UniqueConstraint("record_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("catalog_records.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    data: Mapped[dict[str, Any]]
    change: Mapped[str] = mapped_column(String(40))
    changed_by: Mapped[str] = mapped_column(String(100), default="")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogRuleset(RegionOwned, Base):
    """A region's configuration of the audit rules: ``rules`` maps rule id to enabled/severity/params."""

    __tablename__ = "catalog_rulesets"
    __table_args__ = (UniqueConstraint("region_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_default: Mapped[bool] = mapped_column(default=False)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("reuse_subscriptions.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogAuditRun(RegionOwned, Base):
    __tablename__ = "catalog_audit_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    ruleset_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_rulesets.id"))
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reference_date: Mapped[date] = mapped_column(Date)
    applications: Mapped[int] = mapped_column(default=0)
    datasets: Mapped[int] = mapped_column(default=0)
    problems: Mapped[int] = mapped_column(default=0)
    records_with_problems: Mapped[int] = mapped_column(default=0)
    fixed: Mapped[int] = mapped_column(default=0)
    cases_opened: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogFinding(RegionOwned, Base):
    """One problem of one record found by one rule in one run; a later run marks it fixed or carries it.

    ``message_key`` and ``message_params`` say it language-neutrally (``analytics/texts.py``); ``message``
    holds it in zh-CN as written at the time, and is all a finding stored before the key existed has."""

    __tablename__ = "catalog_findings"
    __table_args__ = (Index("ix_catalog_findings_run_status", "run_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("catalog_audit_runs.id", ondelete="CASCADE"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("catalog_records.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(20))
    field: Mapped[str] = mapped_column(String(100), default="")
    message: Mapped[str] = mapped_column(Text)
    message_key: Mapped[str] = mapped_column(String(60), default="")
    message_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="open")
    first_run_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_audit_runs.id"))
    fixed_in_run_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_audit_runs.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))


class CatalogDuplicatePair(RegionOwned, Base):
    """Two records that look like one system built twice (重复建设); a verdict survives rescans."""

    __tablename__ = "catalog_duplicate_pairs"
    __table_args__ = (UniqueConstraint("region_id", "record_a_id", "record_b_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_a_id: Mapped[int] = mapped_column(ForeignKey("catalog_records.id", ondelete="CASCADE"), index=True)
    record_b_id: Mapped[int] = mapped_column(ForeignKey("catalog_records.id", ondelete="CASCADE"), index=True)
    score: Mapped[float]
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    verdict: Mapped[str] = mapped_column(String(20), default="pending")
    note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str] = mapped_column(String(100), default="")
    reviewed_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    stale: Mapped[bool] = mapped_column(default=False)


class CatalogCrossPair(RegionOwned, Base):
    """One of this region's systems and a paired region's shared system that look like one system built
    twice; ``region_id`` is the reviewing region, whose verdict it is (each side keeps its own)."""

    __tablename__ = "catalog_cross_pairs"
    __table_args__ = (UniqueConstraint("region_id", "record_id", "other_record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("catalog_records.id", ondelete="CASCADE"), index=True)
    other_region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    other_record_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_records.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float]
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    verdict: Mapped[str] = mapped_column(String(20), default="pending")
    note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str] = mapped_column(String(100), default="")
    reviewed_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    stale: Mapped[bool] = mapped_column(default=False)


class ReuseApp(RegionOwned, Base):
    """A reusable digital achievement a region publishes to its paired regions (数字成果共用)."""

    __tablename__ = "reuse_apps"
    __table_args__ = (UniqueConstraint("region_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    build_cost_yuan: Mapped[float | None] = mapped_column(Numeric(14, 2, asdecimal=False))
    active: Mapped[bool] = mapped_column(default=True)
    published_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReuseAppVersion(RegionOwned, Base):
    """A published version of an app: its configuration template (never the publisher's data)."""

    __tablename__ = "reuse_app_versions"
    __table_args__ = (UniqueConstraint("app_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("reuse_apps.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    config: Mapped[dict[str, Any]]
    changelog: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReuseSubscription(RegionOwned, Base):
    """A paired region's own configured instance of a published app (``region_id`` is the subscriber)."""

    __tablename__ = "reuse_subscriptions"
    __table_args__ = (UniqueConstraint("region_id", "app_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("reuse_apps.id"), index=True)
    publisher_region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40), default="ruleset")
    accepted_version: Mapped[int]
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    instance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    subscribed_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReuseLedgerEntry(RegionOwned, Base):
    """Who reused what, when, and the development cost it saved by the reuser's own estimate."""

    __tablename__ = "reuse_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("reuse_apps.id"), index=True)
    publisher_region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("reuse_subscriptions.id"))
    event: Mapped[str] = mapped_column(String(40))
    version: Mapped[int]
    saved_yuan: Mapped[float] = mapped_column(Numeric(14, 2, asdecimal=False), default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class LibraryDocument(RegionOwned, Base):
    """A document of the shared library (云上共享): policy, experience, investment or business notice."""

    __tablename__ = "library_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    sharing: Mapped[str] = mapped_column(String(20), default="private")
    share_region_ids: Mapped[list[Any]] = mapped_column(default=list)
    published_on: Mapped[date | None] = mapped_column(Date)
    author: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LibraryToken(RegionOwned, Base):
    """The portable full-text index: one row per (document, token) with its weighted count."""

    __tablename__ = "library_tokens"
    __table_args__ = (
        UniqueConstraint("document_id", "token"),
        Index("ix_library_tokens_token_region", "token", "region_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("library_documents.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(String(40))
    weight: Mapped[int]
