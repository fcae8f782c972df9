"""HTTP API of the loop: alerts, cases and their actions, evidence, exports, SLA matrix, dispatch rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, File, Header, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gongzhi.cases import alerts, exports, hotpath
from gongzhi.cases import service as cases
from gongzhi.cases.models import Actor, CalendarOverride, Case, DispatchRule, SlaPolicy
from gongzhi.cases.schemas import (
    ActionIn,
    ActorIn,
    ActorRead,
    AlertConvert,
    AlertDismiss,
    AlertList,
    AlertMerge,
    AlertRaise,
    AlertRead,
    CalendarOverrideIn,
    CaseCreate,
    CaseEventRead,
    CaseFileRead,
    CaseList,
    CaseRead,
    DispatchRuleIn,
    DispatchRuleRead,
    SlaPolicyIn,
    SlaPolicyRead,
)
from gongzhi.cases.statemachine import Action
from gongzhi.core import audit
from gongzhi.core.deps import CurrentScope, PublicSessionDep, SessionDep, StateDep, api_router, lean_twin
from gongzhi.core.models import Department, GridCell, Role
from gongzhi.core.service import require_member, require_own, require_role
from gongzhi.db import Scope, utcnow
from gongzhi.errors import InvalidInput, NotFound, msg
from gongzhi.kit.validation import DbInt

router = api_router(prefix="/api/v1")
Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=200)]


def case_read(s: Session, scope: Scope, case: Case) -> CaseRead:
    return CaseRead(**hotpath.case_fields(s, scope, case))


# --- cases ------------------------------------------------------------------------------------------


@router.post(
    "/cases",
    tags=["cases"],
    status_code=201,
    response_class=Response,
    responses={201: {"model": CaseRead, "description": "The new case; its ETag header is its version."}},
)
@lean_twin(hotpath.lean_create)
async def create_case(request: Request, body: CaseCreate) -> Response:
    return await hotpath.create(request, body)


def case_filter(
    state: Annotated[list[str] | None, Query()] = None,
    category: str | None = None,
    priority: str | None = None,
    actor_id: int | None = None,
    grid_cell_id: int | None = None,
    overdue: bool | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    sort: str = "-created_at",
) -> cases.CaseFilter:
    return cases.CaseFilter(
        tuple(state or ()),
        category,
        priority,
        actor_id,
        grid_cell_id,
        overdue,
        q,
        created_from,
        created_to,
        sort,
    )


CaseFilterDep = Annotated[cases.CaseFilter, Depends(case_filter)]


@router.get("/cases", tags=["cases"])
def list_cases(
    s: SessionDep, scope: CurrentScope, f: CaseFilterDep, page: Page = 1, page_size: PageSize = 50
) -> CaseList:
    items, total = cases.list_cases(s, f, page, page_size)
    return CaseList(
        items=[case_read(s, scope, c) for c in items], total=total, page=page, page_size=page_size
    )


@router.get("/cases/export.{fmt}", tags=["cases"])
def export_cases(fmt: str, s: SessionDep, f: CaseFilterDep) -> StreamingResponse:
    if fmt not in exports.FORMATS:
        raise NotFound(msg("export formats: csv, xlsx"))
    items, _ = cases.list_cases(s, f, 1, exports.MAX_ROWS)
    body, media = exports.render(items, fmt)
    name = f"cases-{utcnow():%Y%m%d%H%M}.{fmt}"
    return StreamingResponse(
        iter([body]), media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'}
    )


@router.get("/cases/{case_id}", tags=["cases"])
def get_case(case_id: DbInt, s: SessionDep, scope: CurrentScope, response: Response) -> CaseRead:
    case = cases.get_case(s, case_id)
    response.headers["ETag"] = hotpath.etag(case.version)
    return case_read(s, scope, case)


@router.post(
    "/cases/{case_id}/actions/{action}",
    tags=["cases"],
    response_class=Response,
    responses={
        200: {"model": CaseRead, "description": "The case after the action; its ETag header is its version."},
        409: {"description": "Illegal transition, or If-Match names an older version (problem+json)."},
    },
)
@lean_twin(hotpath.lean_act)
async def act(
    request: Request,
    case_id: DbInt,
    action: Action,
    body: ActionIn,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    return await hotpath.act(request, case_id, action, body, if_match)


@router.get("/cases/{case_id}/timeline", tags=["cases"])
def timeline(case_id: DbInt, s: SessionDep) -> list[CaseEventRead]:
    return [CaseEventRead.model_validate(e) for e in cases.timeline(s, case_id)]


@router.get("/cases/{case_id}/files", tags=["cases"])
def files(case_id: DbInt, s: SessionDep) -> list[CaseFileRead]:
    return [CaseFileRead.model_validate(f) for f in cases.files_of(s, case_id)]


@router.post("/cases/{case_id}/files", tags=["cases"], status_code=201)
def upload(case_id: DbInt, s: SessionDep, st: StateDep, file: Annotated[UploadFile, File()]) -> CaseFileRead:
    cases.check_can_attach(s, case_id)
    data = file.file.read(st.settings.max_upload_bytes + 1)
    stored = st.store.put(data, file.content_type or "application/octet-stream", file.filename)
    f = cases.add_file(
        s, case_id, stored.sha256, file.filename or stored.sha256, stored.content_type, stored.size
    )
    return CaseFileRead.model_validate(f)


@router.get("/cases/{case_id}/files/{sha256}", tags=["cases"])
def download(case_id: DbInt, sha256: str, s: SessionDep, st: StateDep) -> Response:
    f = next((f for f in cases.files_of(s, case_id) if f.sha256 == sha256), None)
    if f is None:
        raise NotFound(msg("no such file on this case"))
    return Response(st.store.open(sha256), media_type=f.content_type)


# --- public tracking (no personal data) -------------------------------------------------------------


class PublicCase(BaseModel):
    number: str
    title: str
    category: str
    state: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    rating: int | None


class PublicFollowUp(BaseModel):
    rating: int
    satisfied: bool
    note: str = ""


def _by_tracking(s: Session, code: str) -> Case:
    case = s.execute(select(Case).where(Case.tracking_code == code)).scalar_one_or_none()
    if case is None:
        raise NotFound(msg("no request with this tracking code"))
    return case


@router.get("/public/cases/{code}", tags=["public"])
def public_case(code: str, s: PublicSessionDep) -> PublicCase:
    case = _by_tracking(s, code)
    return PublicCase(**{k: getattr(case, k) for k in PublicCase.model_fields})


@router.post("/public/cases/{code}/follow-up", tags=["public"])
def public_follow_up(code: str, body: PublicFollowUp, s: PublicSessionDep, st: StateDep) -> PublicCase:
    case = _by_tracking(s, code)
    s.info["scope"] = Scope(region_id=case.region_id, system=True, username="citizen")
    data = ActionIn(rating=body.rating, satisfied=body.satisfied, note=body.note[:2000])
    cases.apply(s, st.registry, case.id, Action.FOLLOW_UP, data)
    return PublicCase(**{k: getattr(case, k) for k in PublicCase.model_fields})


# --- alerts -----------------------------------------------------------------------------------------


@router.post("/alerts", tags=["alerts"])
def raise_alert(body: AlertRaise, s: SessionDep, st: StateDep, response: Response) -> AlertRead:
    alert, created = alerts.raise_alert(s, st.registry, body)
    response.status_code = 201 if created else 200
    return AlertRead.model_validate(alert)


@router.get("/alerts", tags=["alerts"])
def list_alerts(
    s: SessionDep,
    status: Annotated[list[str] | None, Query()] = None,
    kind: str | None = None,
    severity: str | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> AlertList:
    items, total = alerts.list_alerts(s, status or [], kind, severity, page, page_size)
    return AlertList(
        items=[AlertRead.model_validate(a) for a in items], total=total, page=page, page_size=page_size
    )


@router.get("/alerts/{alert_id}", tags=["alerts"])
def get_alert(alert_id: DbInt, s: SessionDep) -> AlertRead:
    return AlertRead.model_validate(alerts.get_alert(s, alert_id))


@router.post("/alerts/{alert_id}/acknowledge", tags=["alerts"])
def acknowledge(alert_id: DbInt, s: SessionDep) -> AlertRead:
    return AlertRead.model_validate(alerts.acknowledge(s, alert_id))


@router.post("/alerts/{alert_id}/dismiss", tags=["alerts"])
def dismiss(alert_id: DbInt, body: AlertDismiss, s: SessionDep) -> AlertRead:
    return AlertRead.model_validate(alerts.dismiss(s, alert_id, body.reason))


@router.post("/alerts/{alert_id}/merge", tags=["alerts"])
def merge(alert_id: DbInt, body: AlertMerge, s: SessionDep) -> AlertRead:
    return AlertRead.model_validate(alerts.merge(s, alert_id, body.alert_ids))


@router.post("/alerts/convert", tags=["alerts"], status_code=201)
def convert(body: AlertConvert, s: SessionDep, scope: CurrentScope, st: StateDep) -> CaseRead:
    case = alerts.convert(
        s, st.registry, body.alert_ids, category=body.category, priority=body.priority, title=body.title
    )
    s.flush()
    return case_read(s, scope, case)


# --- configuration: SLA matrix, calendar, actors, dispatch rules ------------------------------------


def _admin(scope: Scope) -> int:
    require_role(scope, Role.ADMIN)
    assert scope.region_id is not None
    return scope.region_id


@router.get("/sla-policies", tags=["config"])
def sla_policies(s: SessionDep) -> list[SlaPolicyRead]:
    rows = s.execute(select(SlaPolicy).order_by(SlaPolicy.category, SlaPolicy.priority)).scalars()
    return [SlaPolicyRead.model_validate(p) for p in rows]


@router.put("/sla-policies", tags=["config"])
def put_sla_policy(body: SlaPolicyIn, s: SessionDep, scope: CurrentScope) -> SlaPolicyRead:
    rid = _admin(scope)
    stmt = select(SlaPolicy).where(SlaPolicy.category == body.category, SlaPolicy.priority == body.priority)
    pol = s.execute(stmt).scalar_one_or_none() or SlaPolicy(region_id=rid)
    for k, v in body.model_dump().items():
        setattr(pol, k, v)
    s.add(pol)
    s.flush()
    _config_audit(s, scope, "sla_policy.put", "sla_policy", pol.id, body.model_dump())
    return SlaPolicyRead.model_validate(pol)


@router.put("/calendar-overrides", tags=["config"])
def put_calendar_override(body: CalendarOverrideIn, s: SessionDep, scope: CurrentScope) -> CalendarOverrideIn:
    rid = _admin(scope)
    s.execute(delete(CalendarOverride).where(CalendarOverride.day == body.day))
    s.add(CalendarOverride(region_id=rid, **body.model_dump()))
    _config_audit(s, scope, "calendar.put", "calendar", body.day.isoformat(), body.model_dump(mode="json"))
    return body


@router.get("/actors", tags=["config"])
def actors(s: SessionDep) -> list[ActorRead]:
    return [ActorRead.model_validate(a) for a in s.execute(select(Actor).order_by(Actor.id)).scalars()]


@router.post("/actors", tags=["config"], status_code=201)
def create_actor(body: ActorIn, s: SessionDep, scope: CurrentScope, st: StateDep) -> ActorRead:
    rid = _admin(scope)
    if body.adapter not in st.registry.adapters:
        raise InvalidInput(
            msg(
                "unknown adapter %(adapter)r; known: %(known)s",
                adapter=body.adapter,
                known=", ".join(sorted(st.registry.adapters)),
            )
        )
    require_own(s, Department, body.department_id, rid)
    require_member(s, body.user_id, rid)
    actor = Actor(region_id=rid, **body.model_dump())
    s.add(actor)
    s.flush()
    _config_audit(s, scope, "actor.create", "actor", actor.id, {"name": body.name, "kind": body.kind})
    return ActorRead.model_validate(actor)


@router.get("/dispatch-rules", tags=["config"])
def dispatch_rules(s: SessionDep) -> list[DispatchRuleRead]:
    rows = s.execute(select(DispatchRule).order_by(DispatchRule.position, DispatchRule.id)).scalars()
    return [DispatchRuleRead.model_validate(r) for r in rows]


@router.post("/dispatch-rules", tags=["config"], status_code=201)
def create_dispatch_rule(body: DispatchRuleIn, s: SessionDep, scope: CurrentScope) -> DispatchRuleRead:
    rid = _admin(scope)
    if s.execute(select(Actor.id).where(Actor.id == body.actor_id)).first() is None:
        raise NotFound(msg("no actor %(actor_id)s", actor_id=body.actor_id))
    require_own(s, GridCell, body.grid_cell_id, rid)
    rule = DispatchRule(region_id=rid, **body.model_dump())
    s.add(rule)
    s.flush()
    _config_audit(s, scope, "dispatch_rule.create", "dispatch_rule", rule.id, body.model_dump())
    return DispatchRuleRead.model_validate(rule)


@router.delete("/dispatch-rules/{rule_id}", tags=["config"], status_code=204)
def delete_dispatch_rule(rule_id: DbInt, s: SessionDep, scope: CurrentScope) -> None:
    _admin(scope)
    if s.execute(delete(DispatchRule).where(DispatchRule.id == rule_id)).rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(msg("no such rule"))
    _config_audit(s, scope, "dispatch_rule.delete", "dispatch_rule", rule_id, {})


def _config_audit(s: Session, scope: Scope, action: str, obj: str, obj_id: Any, data: dict[str, Any]) -> None:
    assert scope.region_id is not None
    audit.record(
        s,
        region_id=scope.region_id,
        action=action,
        object_type=obj,
        object_id=obj_id,
        actor=scope.username,
        actor_user_id=scope.user_id,
        data=data,
    )
