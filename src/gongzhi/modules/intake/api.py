"""HTTP API of intake: the public form's JSON endpoints and the staff endpoints (problem+json errors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case
from gongzhi.cases.schemas import ActionIn
from gongzhi.cases.statemachine import Action
from gongzhi.core.deps import CurrentScope, PublicSessionDep, SessionDep, StateDep, api_router, in_thread
from gongzhi.core.models import Region
from gongzhi.core.service import require_role
from gongzhi.db import Scope, utcnow
from gongzhi.errors import NotFound, TooManyRequests, msg
from gongzhi.kit.privacy import mask_name, mask_phone
from gongzhi.kit.sheets import XLSX_MEDIA_TYPE
from gongzhi.kit.validation import DbInt
from gongzhi.modules.intake import duplicates, hot, imports, routing, service, stats, throttle
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake.analytics import minhash
from gongzhi.modules.intake.io import workbooks
from gongzhi.modules.intake.models import IntakeRequest
from gongzhi.modules.intake.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    CategoryIn,
    CategoryRead,
    FollowUpIn,
    HotTopicRead,
    ImportRead,
    IntakeRequestList,
    IntakeRequestRead,
    MergeIn,
    ModelRead,
    MonthlyStats,
    PredictionRead,
    RequestIn,
    SimilarIn,
    SimilarRead,
    StaffRequestIn,
    SubmittedRead,
    TriageIn,
)
from gongzhi.web import problems

router = api_router(prefix="/api/v1")
MAX_PHOTOS = 6


def region_by_code(s: Session, code: str) -> Region:
    region = s.execute(select(Region).where(Region.code == code)).scalar_one_or_none()
    if region is None:
        raise NotFound(msg("no region %(code)r", code=code))
    return region


def similar_read(items: list[duplicates.Similar]) -> list[SimilarRead]:
    return [
        SimilarRead(
            number=x.number,
            title=x.title,
            state=x.state,
            category=x.category,
            similarity=x.score,
            distance_m=x.distance_m,
            created_at=x.created_at,
        )
        for x in items
    ]


def request_read(scope: Scope, req: IntakeRequest, case: Case) -> IntakeRequestRead:
    hide = case.reporter_anonymous or scope.role not in service.SEES_CONTACTS
    name, phone, email = case.reporter_name, case.reporter_phone, req.reporter_email
    if hide:
        name, phone = mask_name(name), mask_phone(phone)
        email = (email[:1] + "***@" + email.split("@", 1)[-1]) if "@" in email else ""
    return IntakeRequestRead(
        id=req.id,
        case_id=case.id,
        number=case.number,
        state=case.state,
        channel=req.channel,
        subject=req.subject,
        text=req.text,
        service_code=req.service_code,
        chosen_by=req.chosen_by,
        predicted_code=req.predicted_code,
        confidence=req.confidence,
        triage=req.triage,
        department_id=req.department_id,
        lat=req.lat,
        lon=req.lon,
        address=case.address,
        reporter_name=name,
        reporter_phone=phone,
        reporter_email=email,
        anonymous=case.reporter_anonymous,
        votes=req.votes,
        duplicate_of_case_id=req.duplicate_of_case_id,
        duplicate_score=req.duplicate_score,
        topic_key=req.topic_key,
        created_at=req.created_at,
    )


# --- public: categories, similar requests, submission -----------------------------------------------


@router.get("/public/intake/{region}/categories", tags=["public"])
def public_categories(region: str, s: PublicSessionDep) -> list[CategoryRead]:
    rid = region_by_code(s, region).id
    return [CategoryRead.model_validate(c) for c in repo.categories(s, rid)]


@router.post("/public/intake/{region}/similar", tags=["public"])
def public_similar(region: str, body: SimilarIn, s: PublicSessionDep) -> list[SimilarRead]:
    rid = region_by_code(s, region).id
    found = service.similar_to(
        s, rid, body.subject, body.description, code=body.service_code, lat=body.lat, lon=body.lon
    )
    return similar_read(found)


@router.post("/public/intake/{region}/requests", tags=["public"], status_code=201)
async def public_submit(
    region: str,
    s: PublicSessionDep,
    st: StateDep,
    limit: throttle.CitizenLimit,
    description: Annotated[str, Form(max_length=4000)],
    subject: Annotated[str, Form(max_length=200)] = "",
    service_code: Annotated[str, Form(max_length=60)] = "",
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Form(ge=-180, le=180)] = None,
    address: Annotated[str, Form(max_length=300)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    anonymous: Annotated[bool, Form()] = False,
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> SubmittedRead:
    if not limit.allowed:
        raise TooManyRequests(throttle.message(limit), retry_after=limit.retry_after_s)
    data = service.request_in(
        subject=subject,
        description=description,
        service_code=service_code or None,
        lat=lat,
        lon=lon,
        address=address,
        reporter_name=name,
        reporter_phone=phone,
        anonymous=anonymous,
    )
    files = [(await f.read(st.settings.max_upload_bytes + 1), f) for f in (photos or [])[:MAX_PHOTOS]]

    def work() -> SubmittedRead:
        out = submit_public(s, st, region_by_code(s, region).id, data, files)
        return SubmittedRead(
            number=out.case.number,
            tracking_code=out.case.tracking_code,
            token=out.request.token,
            status_url=f"/intake/track/{out.case.tracking_code}",
            category=out.case.category,
            triage=out.request.triage,
            similar=similar_read(out.similar),
        )

    return await in_thread(s, work)


def submit_public(
    s: Session, st: Any, rid: int, data: RequestIn, files: list[tuple[bytes, UploadFile]]
) -> service.Submitted:
    s.info["scope"] = service.public_scope(rid, "citizen")
    out = service.submit(s, st.registry, data, region_id=rid, channel="web", secret=st.settings.secret_key)
    for raw, f in files:
        if not raw:
            continue
        stored = st.store.put(raw, f.content_type or "application/octet-stream", f.filename)
        cases.add_file(
            s, out.case.id, stored.sha256, f.filename or stored.sha256, stored.content_type, stored.size
        )
    return out


# --- staff: entry, lists, triage, merge, follow-up --------------------------------------------------


@router.post("/intake/requests", tags=["intake"], status_code=201)
def staff_submit(body: StaffRequestIn, s: SessionDep, scope: CurrentScope, st: StateDep) -> IntakeRequestRead:
    require_role(scope, *service.STAFF)
    data = RequestIn(**body.model_dump(exclude={"channel"}))
    out = service.submit(
        s,
        st.registry,
        data,
        region_id=service.acting_region(s),
        channel=body.channel,
        secret=st.settings.secret_key,
    )
    return request_read(scope, out.request, out.case)


@router.get("/intake/requests", tags=["intake"])
def list_requests(
    s: SessionDep,
    scope: CurrentScope,
    triage: str | None = None,
    channel: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> IntakeRequestList:
    rid = service.acting_region(s)
    where: list[Any] = []
    if triage:
        where.append(IntakeRequest.triage == triage)
    if channel:
        where.append(IntakeRequest.channel == channel)
    rows = repo.requests_with_cases(s, rid, where, page_size, (page - 1) * page_size)
    return IntakeRequestList(
        items=[request_read(scope, r, c) for r, c in rows], total=repo.count_requests(s, rid, where)
    )


@router.get("/intake/requests/{request_id}", tags=["intake"])
def get_request(request_id: DbInt, s: SessionDep, scope: CurrentScope) -> IntakeRequestRead:
    return request_read(scope, *service.get_request(s, request_id))


@router.get("/intake/requests/{request_id}/similar", tags=["intake"])
def request_similar(request_id: DbInt, s: SessionDep) -> list[SimilarRead]:
    req, _ = service.get_request(s, request_id)
    lsh_sig = minhash.from_bytes(req.minhash)
    found = duplicates.find(
        s,
        req.region_id,
        lsh_sig,
        code=req.service_code,
        lat=req.lat,
        lon=req.lon,
        radius_m=repo.settings_of(s, req.region_id).duplicate_radius_m,
        threshold=repo.settings_of(s, req.region_id).duplicate_similarity,
        exclude_request=req.id,
        now=utcnow(),
    )
    return similar_read(found)


@router.post("/intake/requests/{request_id}/triage", tags=["intake"])
def triage(request_id: DbInt, body: TriageIn, s: SessionDep, scope: CurrentScope) -> IntakeRequestRead:
    req = service.triage(s, request_id, body.service_code, body.department_id, body.note)
    return request_read(scope, *service.get_request(s, req.id))


@router.post("/intake/requests/{request_id}/merge", tags=["intake"])
def merge(
    request_id: DbInt, body: MergeIn, s: SessionDep, scope: CurrentScope, st: StateDep
) -> IntakeRequestRead:
    service.merge(s, st.registry, request_id, body.into_case_id, body.note)
    return request_read(scope, *service.get_request(s, request_id))


@router.post("/intake/requests/{request_id}/follow-up", tags=["intake"])
def staff_follow_up(
    request_id: DbInt, body: FollowUpIn, s: SessionDep, scope: CurrentScope, st: StateDep
) -> IntakeRequestRead:
    """回访 entered by staff after a phone call; unsatisfied reopens the case."""
    _, case = service.get_request(s, request_id)
    note = body.note or "电话回访"
    data = ActionIn(rating=body.rating, satisfied=body.satisfied, note=note)
    cases.apply(s, st.registry, case.id, Action.FOLLOW_UP, data)
    return request_read(scope, *service.get_request(s, request_id))


@router.post("/intake/classify", tags=["intake"])
def classify(body: SimilarIn, s: SessionDep) -> PredictionRead:
    routed = routing.classify(s, service.acting_region(s), body.subject, body.description)
    if routed is None:
        raise NotFound(msg("the region has no intake categories"))
    return PredictionRead(
        code=routed.code,
        confidence=routed.confidence,
        department_id=routed.department_id,
        ranking=list(routed.ranking),
    )


# --- configuration ------------------------------------------------------------------------------------


@router.get("/intake/categories", tags=["intake"])
def categories(s: SessionDep) -> list[CategoryRead]:
    return [CategoryRead.model_validate(c) for c in repo.categories(s, service.acting_region(s), False)]


@router.put("/intake/categories", tags=["intake"])
def put_category(body: CategoryIn, s: SessionDep) -> CategoryRead:
    return CategoryRead.model_validate(service.upsert_category(s, body))


@router.post("/intake/categories/seed", tags=["intake"])
def seed_categories(s: SessionDep, scope: CurrentScope) -> list[CategoryRead]:
    require_role(scope, "admin")
    return [CategoryRead.model_validate(c) for c in service.seed_categories(s, service.acting_region(s))]


@router.post("/intake/api-keys", tags=["intake"], status_code=201)
def create_api_key(body: ApiKeyIn, s: SessionDep) -> ApiKeyCreated:
    key, full = service.create_api_key(s, body.name)
    return ApiKeyCreated(id=key.id, name=key.name, api_key=full)


@router.post("/intake/imports", tags=["intake"], status_code=201)
async def import_file(
    s: SessionDep,
    st: StateDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Query(pattern="^(hotline|visit)$")] = "hotline",
    dry_run: bool = False,
) -> Response:
    data = await file.read(st.settings.max_upload_bytes + 1)

    def work() -> tuple[Any, dict[str, Any]]:
        rec = imports.run(
            s,
            st.registry,
            kind,
            file.filename or "upload",
            data,
            secret=st.settings.secret_key,
            dry_run=dry_run,
            max_bytes=st.settings.max_upload_bytes,
        )
        return rec, ImportRead.model_validate(rec).model_dump(mode="json")

    rec, body = await in_thread(s, work)
    if rec.status == "rejected":
        return problems.import_rejected(body)
    return JSONResponse(body, status_code=201 if rec.status == "imported" else 200)


@router.get("/intake/imports/template.xlsx", tags=["intake"])
def import_template(
    s: SessionDep, kind: Annotated[str, Query(pattern="^(hotline|visit)$")] = "hotline"
) -> StreamingResponse:
    """A blank file to fill in: the accepted columns, what each takes, and this region's categories."""
    body = workbooks.import_template(kind, repo.categories(s, service.acting_region(s)))
    return _download(body, f"intake-{kind}-template.xlsx")


@router.get("/intake/imports", tags=["intake"])
def list_imports(s: SessionDep) -> list[ImportRead]:
    return [ImportRead.model_validate(r) for r in repo.imports(s, service.acting_region(s))]


@router.post("/intake/model/retrain", tags=["intake"], status_code=201)
def retrain(s: SessionDep, scope: CurrentScope) -> ModelRead:
    require_role(scope, "admin", "dispatcher")
    return ModelRead.model_validate(routing.retrain(s, service.acting_region(s)))


@router.get("/intake/model", tags=["intake"])
def model(s: SessionDep) -> ModelRead:
    m = repo.latest_model(s, service.acting_region(s))
    if m is None:
        raise NotFound(msg("no model trained yet: requests are routed by the category keywords alone"))
    return ModelRead.model_validate(m)


# --- hot topics and statistics -----------------------------------------------------------------------


@router.get("/intake/hot-topics", tags=["intake"])
def hot_topics(s: SessionDep) -> list[HotTopicRead]:
    return [HotTopicRead.model_validate(t) for t in repo.hot_topics(s, service.acting_region(s))]


@router.post("/intake/hot-topics/refresh", tags=["intake"])
def refresh_hot_topics(s: SessionDep, scope: CurrentScope, st: StateDep) -> list[HotTopicRead]:
    require_role(scope, "admin", "dispatcher", "supervisor")
    topics = hot.refresh(s, st.registry, service.acting_region(s))
    return [HotTopicRead.model_validate(t) for t in topics]


@router.get("/intake/hot-topics.xlsx", tags=["intake"])
def hot_topics_xlsx(s: SessionDep) -> StreamingResponse:
    body = workbooks.hot_topics(repo.hot_topics(s, service.acting_region(s)))
    return _download(body, f"hot-topics-{utcnow():%Y%m%d}.xlsx")


@router.get("/intake/stats/monthly", tags=["intake"])
def monthly(s: SessionDep, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]) -> MonthlyStats:
    return stats.monthly(s, service.acting_region(s), month)


@router.get("/intake/stats/monthly.xlsx", tags=["intake"])
def monthly_xlsx(s: SessionDep, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]) -> StreamingResponse:
    body = workbooks.monthly(stats.monthly(s, service.acting_region(s), month))
    return _download(body, f"intake-stats-{month}.xlsx")


def _download(body: bytes, name: str) -> StreamingResponse:
    return StreamingResponse(
        iter([body]),
        media_type=XLSX_MEDIA_TYPE,
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
