"""HTTP API of the catalog module under /api/v1/catalog: records, import and export, rules and audits,
duplicate review, reuse between paired regions and the shared library. Each endpoint parses, calls one
service, returns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, Header, Query, Response, UploadFile

from gongzhi.core.deps import CurrentScope, SessionDep, StateDep, api_router
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit.validation import DbInt, parse_id
from gongzhi.modules.catalog import crossdupes, library, reuse, service
from gongzhi.modules.catalog.models import (
    CatalogCrossPair,
    CatalogDuplicatePair,
    CatalogRecord,
    ReuseSubscription,
)
from gongzhi.modules.catalog.schemas import (
    AppPublish,
    AppRead,
    AppVersionIn,
    AppVersionRead,
    ArchiveIn,
    AuditIn,
    AuditRunRead,
    CrossDuplicateRead,
    CrossScanIn,
    CrossScanRead,
    DocumentIn,
    DocumentRead,
    DupeScanIn,
    DupeScanRead,
    DuplicateRead,
    FindingRead,
    ImportReport,
    LedgerRead,
    MappingIn,
    OverridesIn,
    PreviewRead,
    RecordIn,
    RecordList,
    RecordRead,
    RecordSharingIn,
    RecordVersionRead,
    ReuseSummary,
    RuleRead,
    RulesetIn,
    RulesetRead,
    SearchHit,
    SharedSystemRead,
    SharingIn,
    SubscribeIn,
    SubscriptionRead,
    VerdictIn,
    VerdictRead,
)

router = api_router(prefix="/api/v1/catalog", tags=["catalog"])
Lang = Annotated[
    str,
    Query(
        pattern="^(zh-CN|en)$",
        description="language of rule texts, finding messages and reports (zh-CN by default, or en)",
    ),
]
MAX_UPLOAD = 50 * 1024 * 1024


def _read(rec: CatalogRecord) -> RecordRead:
    return RecordRead.model_validate(rec)


# --- records ----------------------------------------------------------------------------------------


@router.get("/records")
def records(
    s: SessionDep,
    kind: Annotated[str | None, Query(pattern="^(dataset|application)$")] = None,
    q: Annotated[str, Query(max_length=200)] = "",
    provider: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    archived: Annotated[bool, Query(description="list archived records instead of live ones")] = False,
) -> RecordList:
    rows, total = service.list_records(s, kind, q, provider, page, size, archived)
    return RecordList(items=[_read(r) for r in rows], total=total)


@router.post("/records", status_code=201)
def create_record(body: RecordIn, s: SessionDep) -> RecordRead:
    return _read(service.create_record(s, body))


@router.get("/records/{record_id}")
def get_record(record_id: DbInt, s: SessionDep, response: Response) -> RecordRead:
    rec = service.get_record(s, record_id)
    response.headers["ETag"] = f'"{rec.version}"'
    return _read(rec)


@router.put("/records/{record_id}")
def update_record(
    record_id: DbInt, body: RecordIn, s: SessionDep, if_match: Annotated[str | None, Header()] = None
) -> RecordRead:
    version = None
    if if_match and if_match.strip() != "*":
        raw = if_match.strip().removeprefix("W/").strip('"')
        version = parse_id(raw)
        if version is None:
            raise InvalidInput(msg('If-Match must be an ETag such as "3"'))
    return _read(service.update_record(s, record_id, body, version))


@router.post("/records/{record_id}/archive")
def archive_record(record_id: DbInt, body: ArchiveIn, s: SessionDep) -> RecordRead:
    return _read(service.archive_record(s, record_id, body.reason))


@router.post("/records/{record_id}/restore")
def restore_record(record_id: DbInt, s: SessionDep) -> RecordRead:
    return _read(service.restore_record(s, record_id))


@router.put("/records/{record_id}/sharing")
def share_record(record_id: DbInt, body: RecordSharingIn, s: SessionDep) -> RecordRead:
    return _read(service.share_record(s, record_id, body.shared_with_pairs))


@router.get("/records/{record_id}/versions")
def record_versions(record_id: DbInt, s: SessionDep) -> list[RecordVersionRead]:
    return [RecordVersionRead.model_validate(v) for v in service.record_versions(s, record_id)]


@router.post("/import")
def import_catalog(
    s: SessionDep,
    file: Annotated[UploadFile, File()],
    format: Annotated[str, Form()] = "auto",
) -> ImportReport:
    raw = file.file.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise InvalidInput(msg("the file is larger than %(mib)s MiB", mib=MAX_UPLOAD // 1024 // 1024))
    return service.import_catalog(s, raw, file.filename or "", format)


@router.get("/export")
def export_catalog(
    s: SessionDep,
    format: Annotated[str, Query(pattern="^(jsonld|ttl|datajson|xlsx)$")] = "jsonld",
    kind: Annotated[str | None, Query(pattern="^(dataset|application)$")] = None,
) -> Response:
    body, media = service.export_catalog(s, format, kind)
    ext = {"jsonld": "jsonld", "ttl": "ttl", "datajson": "json", "xlsx": "xlsx"}[format]
    name = "data.json" if format == "datajson" else f"catalog.{ext}"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- rules and audits -------------------------------------------------------------------------------


@router.get("/rules")
def rule_catalog(_: CurrentScope, lang: Lang = "zh-CN") -> list[RuleRead]:
    return [
        RuleRead(
            id=r.id,
            title=r.title(lang),
            severity=r.severity,
            explanation=r.explanation(lang),
            fix_hint=r.fix_hint(lang),
            params=dict(r.params),
            default_enabled=r.default_enabled,
        )
        for r in service.rule_catalog()
    ]


@router.get("/rulesets")
def rulesets(s: SessionDep) -> list[RulesetRead]:
    return [RulesetRead.model_validate(r) for r in service.list_rulesets(s)]


@router.post("/rulesets", status_code=201)
def create_ruleset(body: RulesetIn, s: SessionDep) -> RulesetRead:
    return RulesetRead.model_validate(service.save_ruleset(s, body))


@router.put("/rulesets/{ruleset_id}")
def update_ruleset(ruleset_id: DbInt, body: RulesetIn, s: SessionDep) -> RulesetRead:
    return RulesetRead.model_validate(service.save_ruleset(s, body, ruleset_id))


@router.post("/audits", status_code=201)
def run_audit(body: AuditIn, s: SessionDep, st: StateDep) -> AuditRunRead:
    run = service.run_audit(
        s,
        st.registry,
        ruleset_id=body.ruleset_id,
        shacl=body.shacl,
        open_cases=body.open_cases,
        reference_date=body.reference_date,
    )
    return AuditRunRead.model_validate(run)


@router.get("/audits")
def audit_runs(s: SessionDep) -> list[AuditRunRead]:
    return [AuditRunRead.model_validate(r) for r in service.list_runs(s)]


@router.get("/audits/{run_id}")
def audit_run(run_id: DbInt, s: SessionDep) -> AuditRunRead:
    return AuditRunRead.model_validate(service.get_run(s, run_id))


@router.get("/audits/{run_id}/findings")
def audit_findings(
    run_id: DbInt,
    s: SessionDep,
    status: Annotated[str | None, Query(pattern="^(open|fixed)$")] = None,
    rule: str | None = None,
    lang: Lang = "zh-CN",
) -> list[FindingRead]:
    """Each finding's ``message`` in ``lang``, with the language-neutral ``message_key`` and
    ``message_params`` it is rendered from (an empty key: a finding stored before keys, shown as stored)."""
    found = service.run_findings(s, run_id, status, rule)
    return [FindingRead.of(f, service.finding_text(f, lang)) for f in found]


@router.post("/audits/{run_id}/cases")
def open_cases(run_id: DbInt, s: SessionDep, st: StateDep) -> AuditRunRead:
    return AuditRunRead.model_validate(service.open_cases(s, st.registry, run_id))


@router.get("/audits/{run_id}/report")
def audit_report(
    run_id: DbInt,
    s: SessionDep,
    format: Annotated[str, Query(pattern="^(html|xlsx|pdf)$")] = "html",
    template: Annotated[DbInt | None, Query(ge=1, description="a report-template subscription")] = None,
    lang: Lang = "zh-CN",
) -> Response:
    body, media = service.render_report(s, run_id, format, template, lang)
    headers = (
        {} if format == "html" else {"Content-Disposition": f'attachment; filename="audit-{run_id}.{format}"'}
    )
    return Response(body, media_type=media, headers=headers)


# --- duplicate systems ------------------------------------------------------------------------------


@router.post("/duplicates/scan")
def scan_duplicates(body: DupeScanIn, s: SessionDep) -> DupeScanRead:
    return DupeScanRead(**service.scan_duplicates(s, body.kind, body.threshold))


def _pair(p: CatalogDuplicatePair | CatalogCrossPair) -> dict[str, Any]:
    """What a duplicate pair and a cross-region pair show alike: score, verdict and its evidence."""
    return {
        "id": p.id,
        "score": p.score,
        "verdict": p.verdict,
        "note": p.note,
        "reviewed_by": p.reviewed_by,
        "stale": p.stale,
        "evidence": p.evidence,
    }


@router.get("/duplicates")
def duplicates(
    s: SessionDep,
    verdict: Annotated[str | None, Query(pattern="^(pending|duplicate|distinct|merged)$")] = None,
    include_stale: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DuplicateRead]:
    return [
        DuplicateRead(
            **_pair(p),
            a=_read(a),
            b=_read(b),
        )
        for p, a, b in service.list_duplicates(s, verdict, include_stale, limit)
    ]


@router.put("/duplicates/{pair_id}/verdict")
def set_verdict(pair_id: DbInt, body: VerdictIn, s: SessionDep) -> VerdictRead:
    return VerdictRead.model_validate(service.set_verdict(s, pair_id, body.verdict, body.note))


@router.post("/cross-duplicates/scan")
def scan_cross_duplicates(body: CrossScanIn, s: SessionDep) -> CrossScanRead:
    return CrossScanRead(**crossdupes.scan(s, body.threshold))


@router.get("/cross-duplicates")
def cross_duplicates(
    s: SessionDep,
    verdict: Annotated[str | None, Query(pattern="^(pending|duplicate|distinct|merged)$")] = None,
    include_stale: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CrossDuplicateRead]:
    return [
        CrossDuplicateRead(
            **_pair(p),
            mine=_read(mine),
            theirs=SharedSystemRead.model_validate(theirs),
        )
        for p, mine, theirs in crossdupes.list_pairs(s, verdict, include_stale, limit)
    ]


@router.put("/cross-duplicates/{cross_id}/verdict")
def set_cross_verdict(cross_id: DbInt, body: VerdictIn, s: SessionDep) -> VerdictRead:
    return VerdictRead.model_validate(crossdupes.set_verdict(s, cross_id, body.verdict, body.note))


# --- reuse between paired regions -------------------------------------------------------------------


def _sub_read(sub: ReuseSubscription, latest: int, ruleset_id: int | None) -> SubscriptionRead:
    read = SubscriptionRead.model_validate(sub)
    read.latest_version, read.update_available, read.ruleset_id = (
        latest,
        latest > sub.accepted_version,
        ruleset_id,
    )
    return read


@router.get("/reuse/apps")
def reuse_apps(s: SessionDep) -> list[AppRead]:
    return [AppRead.model_validate(a) for a in reuse.visible_apps(s)]


@router.post("/reuse/apps", status_code=201)
def publish_app(body: AppPublish, s: SessionDep, st: StateDep) -> AppRead:
    return AppRead.model_validate(reuse.publish_app(s, st.registry, body))


@router.get("/reuse/apps/{app_id}")
def reuse_app(app_id: DbInt, s: SessionDep) -> AppRead:
    return AppRead.model_validate(reuse.get_app(s, app_id))


@router.get("/reuse/apps/{app_id}/versions")
def reuse_app_versions(app_id: DbInt, s: SessionDep) -> list[AppVersionRead]:
    return [AppVersionRead.model_validate(v) for v in reuse.app_versions(s, app_id)]


@router.post("/reuse/apps/{app_id}/versions", status_code=201)
def publish_version(app_id: DbInt, body: AppVersionIn, s: SessionDep, st: StateDep) -> AppRead:
    return AppRead.model_validate(reuse.publish_version(s, st.registry, app_id, body))


@router.delete("/reuse/apps/{app_id}")
def withdraw_app(app_id: DbInt, s: SessionDep) -> AppRead:
    return AppRead.model_validate(reuse.withdraw_app(s, app_id))


@router.post("/reuse/apps/{app_id}/subscribe", status_code=201)
def subscribe(app_id: DbInt, body: SubscribeIn, s: SessionDep, st: StateDep) -> SubscriptionRead:
    sub = reuse.subscribe(s, st.registry, app_id, body)
    return next(_sub_read(*row) for row in reuse.list_subscriptions(s) if row[0].id == sub.id)


@router.post("/reuse/apps/{app_id}/preview")
def preview(app_id: DbInt, body: MappingIn, s: SessionDep) -> PreviewRead:
    return PreviewRead(**reuse.preview(s, app_id, body.model_dump()))


@router.get("/reuse/subscriptions")
def subscriptions(s: SessionDep) -> list[SubscriptionRead]:
    return [_sub_read(*row) for row in reuse.list_subscriptions(s)]


@router.post("/reuse/subscriptions/{sub_id}/accept-update")
def accept_update(sub_id: DbInt, s: SessionDep) -> SubscriptionRead:
    reuse.accept_update(s, sub_id)
    return next(_sub_read(*row) for row in reuse.list_subscriptions(s) if row[0].id == sub_id)


@router.put("/reuse/subscriptions/{sub_id}/overrides")
def set_overrides(sub_id: DbInt, body: OverridesIn, s: SessionDep) -> SubscriptionRead:
    mapping = body.mapping.model_dump() if body.mapping is not None else None
    reuse.set_overrides(s, sub_id, body.overrides, mapping)
    return next(_sub_read(*row) for row in reuse.list_subscriptions(s) if row[0].id == sub_id)


@router.delete("/reuse/subscriptions/{sub_id}")
def unsubscribe(sub_id: DbInt, s: SessionDep) -> SubscriptionRead:
    reuse.unsubscribe(s, sub_id)
    return next(_sub_read(*row) for row in reuse.list_subscriptions(s) if row[0].id == sub_id)


@router.get("/reuse/ledger")
def reuse_ledger(s: SessionDep) -> list[LedgerRead]:
    return [LedgerRead.model_validate(e) for e in reuse.ledger(s)]


@router.get("/reuse/summary")
def reuse_summary(s: SessionDep) -> ReuseSummary:
    return ReuseSummary(**reuse.summary(s))


# --- shared library ---------------------------------------------------------------------------------


@router.get("/library/documents")
def documents(
    s: SessionDep,
    kind: str | None = None,
    own: bool = False,
) -> list[DocumentRead]:
    return [DocumentRead.model_validate(d) for d in library.list_documents(s, kind, own)]


@router.post("/library/documents", status_code=201)
def create_document(body: DocumentIn, s: SessionDep) -> DocumentRead:
    return DocumentRead.model_validate(library.create_document(s, body))


@router.get("/library/documents/{doc_id}")
def get_document(doc_id: DbInt, s: SessionDep) -> DocumentRead:
    return DocumentRead.model_validate(library.get_document(s, doc_id))


@router.put("/library/documents/{doc_id}")
def update_document(doc_id: DbInt, body: DocumentIn, s: SessionDep) -> DocumentRead:
    return DocumentRead.model_validate(library.update_document(s, doc_id, body))


@router.put("/library/documents/{doc_id}/sharing")
def set_sharing(doc_id: DbInt, body: SharingIn, s: SessionDep) -> DocumentRead:
    return DocumentRead.model_validate(library.set_sharing(s, doc_id, body))


@router.get("/library/search")
def search(
    s: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[SearchHit]:
    return [
        SearchHit(
            id=d.id,
            region_id=d.region_id,
            title=d.title,
            kind=d.kind,
            summary=d.summary,
            score=sc,
            snippet=snip,
        )
        for d, sc, snip in library.search(s, q, limit)
    ]
