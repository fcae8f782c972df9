"""Every query of the catalog module. Region scoping is automatic; the few cross-region reads (apps,
ledger and documents of paired regions) say ``unscoped`` and filter by region explicitly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, desc, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gongzhi.core.models import Department, Region
from gongzhi.errors import NotFound, msg
from gongzhi.modules.catalog.models import (
    CatalogAuditRun,
    CatalogCrossPair,
    CatalogDuplicatePair,
    CatalogFinding,
    CatalogRecord,
    CatalogRecordVersion,
    CatalogRuleset,
    LibraryDocument,
    LibraryToken,
    ReuseApp,
    ReuseAppVersion,
    ReuseLedgerEntry,
    ReuseSubscription,
)

UNSCOPED = {"unscoped": True}
ENTRY_COLUMNS = (
    "id",
    "kind",
    "key",
    "name",
    "summary",
    "provider",
    "provider_code",
    "category",
    "category_code",
    "identifier",
    "metadata_id",
    "keywords",
    "format",
    "resource_type",
    "share_type",
    "share_condition",
    "share_mode",
    "open_type",
    "open_condition",
    "rights",
    "update_cycle",
    "published",
    "modified",
    "contact_name",
    "contact_email",
    "contact_phone",
    "url",
    "license",
    "functions",
    "items",
    "distributions",
)


def record(s: Session, record_id: int) -> CatalogRecord:
    rec = s.execute(select(CatalogRecord).where(CatalogRecord.id == record_id)).scalar_one_or_none()
    if rec is None:
        raise NotFound(msg("no catalog record %(record_id)s", record_id=record_id))
    return rec


def records_by_key(s: Session) -> dict[tuple[str, str], CatalogRecord]:
    return {(r.kind, r.key): r for r in s.execute(select(CatalogRecord)).scalars()}


def records_by_ids(s: Session, ids: Sequence[int]) -> dict[int, CatalogRecord]:
    found: dict[int, CatalogRecord] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        stmt = select(CatalogRecord).where(CatalogRecord.id.in_(chunk))
        found.update({r.id: r for r in s.execute(stmt).scalars()})
    return found


def entry_rows(s: Session, kind: str | None = None) -> list[Row[Any]]:
    """Records as plain rows of the columns the auditor reads (no ORM identity map: 10,000s of rows)."""
    stmt = (
        select(*(getattr(CatalogRecord, c) for c in ENTRY_COLUMNS))
        .where(CatalogRecord.archived_at.is_(None))
        .order_by(CatalogRecord.id)
    )
    if kind:
        stmt = stmt.where(CatalogRecord.kind == kind)
    return list(s.execute(stmt).all())


def search_records(
    s: Session,
    kind: str | None,
    q: str,
    provider: str | None,
    offset: int,
    limit: int,
    archived: bool = False,
) -> tuple[list[CatalogRecord], int]:
    conds: list[ColumnElement[bool]] = [
        CatalogRecord.archived_at.is_not(None) if archived else CatalogRecord.archived_at.is_(None)
    ]
    if kind:
        conds.append(CatalogRecord.kind == kind)
    if provider:
        conds.append(CatalogRecord.provider == provider)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        conds.append(or_(CatalogRecord.name.ilike(like), CatalogRecord.summary.ilike(like)))
    total = s.execute(select(func.count(CatalogRecord.id)).where(*conds)).scalar_one()
    stmt = select(CatalogRecord).where(*conds).order_by(CatalogRecord.id).offset(offset).limit(limit)
    return list(s.execute(stmt).scalars()), total


def versions(s: Session, record_id: int) -> list[CatalogRecordVersion]:
    stmt = (
        select(CatalogRecordVersion)
        .where(CatalogRecordVersion.record_id == record_id)
        .order_by(CatalogRecordVersion.version)
    )
    return list(s.execute(stmt).scalars())


def rulesets(s: Session) -> list[CatalogRuleset]:
    return list(s.execute(select(CatalogRuleset).order_by(CatalogRuleset.id)).scalars())


def ruleset(s: Session, ruleset_id: int) -> CatalogRuleset:
    rs = s.execute(select(CatalogRuleset).where(CatalogRuleset.id == ruleset_id)).scalar_one_or_none()
    if rs is None:
        raise NotFound(msg("no rule set %(ruleset_id)s", ruleset_id=ruleset_id))
    return rs


def default_ruleset(s: Session) -> CatalogRuleset | None:
    stmt = select(CatalogRuleset).where(CatalogRuleset.is_default).order_by(CatalogRuleset.id)
    return s.execute(stmt.limit(1)).scalar_one_or_none()


def ruleset_of_subscription(s: Session, subscription_id: int) -> CatalogRuleset | None:
    stmt = select(CatalogRuleset).where(CatalogRuleset.subscription_id == subscription_id)
    return s.execute(stmt).scalar_one_or_none()


def audit_run(s: Session, run_id: int) -> CatalogAuditRun:
    run = s.execute(select(CatalogAuditRun).where(CatalogAuditRun.id == run_id)).scalar_one_or_none()
    if run is None:
        raise NotFound(msg("no audit run %(run_id)s", run_id=run_id))
    return run


def audit_runs(s: Session, limit: int = 100) -> list[CatalogAuditRun]:
    stmt = select(CatalogAuditRun).order_by(CatalogAuditRun.id.desc()).limit(limit)
    return list(s.execute(stmt).scalars())


def previous_run(s: Session, before_id: int) -> CatalogAuditRun | None:
    stmt = select(CatalogAuditRun).where(CatalogAuditRun.id < before_id).order_by(CatalogAuditRun.id.desc())
    return s.execute(stmt.limit(1)).scalar_one_or_none()


def findings(
    s: Session, run_id: int, status: str | None = None, rule_id: str | None = None
) -> list[CatalogFinding]:
    stmt = select(CatalogFinding).where(CatalogFinding.run_id == run_id)
    if status:
        stmt = stmt.where(CatalogFinding.status == status)
    if rule_id:
        stmt = stmt.where(CatalogFinding.rule_id == rule_id)
    return list(s.execute(stmt.order_by(CatalogFinding.id)).scalars())


def open_finding_links(s: Session, run_id: int) -> list[Any]:
    """(id, fingerprint, rule, first run, case) of a run's open findings: what a re-audit compares."""
    stmt = select(
        CatalogFinding.id,
        CatalogFinding.record_id,
        CatalogFinding.fingerprint,
        CatalogFinding.rule_id,
        CatalogFinding.first_run_id,
        CatalogFinding.case_id,
    ).where(CatalogFinding.run_id == run_id, CatalogFinding.status == "open")
    return list(s.execute(stmt).all())


def fixed_in(s: Session, run_id: int) -> list[CatalogFinding]:
    stmt = select(CatalogFinding).where(
        CatalogFinding.fixed_in_run_id == run_id, CatalogFinding.status == "fixed"
    )
    return list(s.execute(stmt).scalars())


def duplicate_pairs(s: Session) -> dict[tuple[int, int], CatalogDuplicatePair]:
    rows = s.execute(select(CatalogDuplicatePair)).scalars()
    return {(p.record_a_id, p.record_b_id): p for p in rows}


def duplicate_pair(s: Session, pair_id: int) -> CatalogDuplicatePair:
    stmt = select(CatalogDuplicatePair).where(CatalogDuplicatePair.id == pair_id)
    pair = s.execute(stmt).scalar_one_or_none()
    if pair is None:
        raise NotFound(msg("no duplicate pair %(pair_id)s", pair_id=pair_id))
    return pair


def list_duplicate_pairs(
    s: Session, verdict: str | None, include_stale: bool, limit: int
) -> list[CatalogDuplicatePair]:
    stmt = select(CatalogDuplicatePair)
    if verdict:
        stmt = stmt.where(CatalogDuplicatePair.verdict == verdict)
    if not include_stale:
        stmt = stmt.where(CatalogDuplicatePair.stale.is_(False))
    stmt = stmt.order_by(desc(CatalogDuplicatePair.score), CatalogDuplicatePair.id).limit(limit)
    return list(s.execute(stmt).scalars())


def shared_rows(s: Session, region_ids: set[int], fields: Sequence[str]) -> list[Row[Any]]:
    """The live applications paired regions share with their pairs: only ``fields``, only ``region_ids``."""
    stmt = (
        select(*(getattr(CatalogRecord, f) for f in fields))
        .where(
            CatalogRecord.region_id.in_(region_ids),
            CatalogRecord.shared_with_pairs,
            CatalogRecord.archived_at.is_(None),
            CatalogRecord.kind == "application",
        )
        .order_by(CatalogRecord.id)
    )
    return list(s.execute(stmt, execution_options=UNSCOPED).all())


def cross_pairs(s: Session) -> dict[tuple[int, int], CatalogCrossPair]:
    rows = s.execute(select(CatalogCrossPair)).scalars()
    return {(p.record_id, p.other_record_id): p for p in rows}


def cross_pair(s: Session, pair_id: int) -> CatalogCrossPair:
    pair = s.execute(select(CatalogCrossPair).where(CatalogCrossPair.id == pair_id)).scalar_one_or_none()
    if pair is None:
        raise NotFound(msg("no cross-region duplicate pair %(pair_id)s", pair_id=pair_id))
    return pair


def list_cross_pairs(
    s: Session, verdict: str | None, include_stale: bool, limit: int
) -> list[CatalogCrossPair]:
    stmt = select(CatalogCrossPair)
    if verdict:
        stmt = stmt.where(CatalogCrossPair.verdict == verdict)
    if not include_stale:
        stmt = stmt.where(CatalogCrossPair.stale.is_(False))
    stmt = stmt.order_by(desc(CatalogCrossPair.score), CatalogCrossPair.id).limit(limit)
    return list(s.execute(stmt).scalars())


def jurisdiction_names(s: Session) -> list[str]:
    """Names of every region and of this region's departments: prefixes the duplicate scan ignores."""
    regions = [r for (r,) in s.execute(select(Region.name)).all()]
    departments = [d for (d,) in s.execute(select(Department.name)).all()]
    return [*regions, *departments]


# --- reuse ------------------------------------------------------------------------------------------


def apps_of(s: Session, region_ids: set[int]) -> list[ReuseApp]:
    stmt = (
        select(ReuseApp)
        .where(ReuseApp.region_id.in_(region_ids), ReuseApp.active)
        .order_by(ReuseApp.region_id, ReuseApp.name)
    )
    return list(s.execute(stmt, execution_options=UNSCOPED).scalars())


def app_any_region(s: Session, app_id: int) -> ReuseApp | None:
    stmt = select(ReuseApp).where(ReuseApp.id == app_id)
    return s.execute(stmt, execution_options=UNSCOPED).scalar_one_or_none()


def own_app(s: Session, app_id: int) -> ReuseApp:
    app = s.execute(select(ReuseApp).where(ReuseApp.id == app_id)).scalar_one_or_none()
    if app is None:
        raise NotFound(msg("no app %(app_id)s published by this region", app_id=app_id))
    return app


def app_version(s: Session, app_id: int, version: int) -> ReuseAppVersion:
    stmt = select(ReuseAppVersion).where(ReuseAppVersion.app_id == app_id, ReuseAppVersion.version == version)
    return s.execute(stmt, execution_options=UNSCOPED).scalar_one()


def app_versions(s: Session, app_id: int) -> list[ReuseAppVersion]:
    stmt = select(ReuseAppVersion).where(ReuseAppVersion.app_id == app_id).order_by(ReuseAppVersion.version)
    return list(s.execute(stmt, execution_options=UNSCOPED).scalars())


def subscriptions(s: Session) -> list[ReuseSubscription]:
    return list(s.execute(select(ReuseSubscription).order_by(ReuseSubscription.id)).scalars())


def subscription(s: Session, sub_id: int) -> ReuseSubscription:
    sub = s.execute(select(ReuseSubscription).where(ReuseSubscription.id == sub_id)).scalar_one_or_none()
    if sub is None:
        raise NotFound(msg("no subscription %(sub_id)s", sub_id=sub_id))
    return sub


def subscription_to(s: Session, app_id: int) -> ReuseSubscription | None:
    stmt = select(ReuseSubscription).where(ReuseSubscription.app_id == app_id)
    return s.execute(stmt).scalar_one_or_none()


def ledger(s: Session, region_id: int) -> list[ReuseLedgerEntry]:
    """This region's reuse of others, and others' reuse of this region's apps."""
    stmt = (
        select(ReuseLedgerEntry)
        .where(
            or_(ReuseLedgerEntry.region_id == region_id, ReuseLedgerEntry.publisher_region_id == region_id)
        )
        .order_by(ReuseLedgerEntry.at.desc(), ReuseLedgerEntry.id.desc())
    )
    return list(s.execute(stmt, execution_options=UNSCOPED).scalars())


# --- library ----------------------------------------------------------------------------------------


def documents_of(s: Session, region_ids: set[int], kind: str | None) -> list[LibraryDocument]:
    stmt = select(LibraryDocument).where(LibraryDocument.region_id.in_(region_ids))
    if kind:
        stmt = stmt.where(LibraryDocument.kind == kind)
    stmt = stmt.order_by(LibraryDocument.updated_at.desc(), LibraryDocument.id.desc())
    return list(s.execute(stmt, execution_options=UNSCOPED).scalars())


def document_any_region(s: Session, doc_id: int) -> LibraryDocument | None:
    stmt = select(LibraryDocument).where(LibraryDocument.id == doc_id)
    return s.execute(stmt, execution_options=UNSCOPED).scalar_one_or_none()


def documents_by_ids(s: Session, ids: Sequence[int]) -> list[LibraryDocument]:
    stmt = select(LibraryDocument).where(LibraryDocument.id.in_(ids))
    return list(s.execute(stmt, execution_options=UNSCOPED).scalars())


def token_matches(
    s: Session, tokens: Sequence[str], region_ids: set[int], limit: int
) -> list[tuple[int, int]]:
    """Documents holding every token, with the summed weight of the tokens: (document id, score)."""
    stmt = (
        select(LibraryToken.document_id, func.sum(LibraryToken.weight).label("score"))
        .where(LibraryToken.token.in_(tokens), LibraryToken.region_id.in_(region_ids))
        .group_by(LibraryToken.document_id)
        .having(func.count(LibraryToken.id) == len(tokens))
        .order_by(desc("score"), LibraryToken.document_id)
        .limit(limit)
    )
    return [(int(d), int(sc)) for d, sc in s.execute(stmt, execution_options=UNSCOPED).all()]
