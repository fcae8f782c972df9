"""HTTP API of the core: login, the acting user, regions, pairings, people, tokens, webhooks, audit."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import File, Request, Response, UploadFile
from sqlalchemy import select

from gongzhi.core import audit, evidence, outbox, service
from gongzhi.core.deps import (
    COOKIE,
    CurrentScope,
    SessionDep,
    StateDep,
    api_router,
    client_ip,
    end_sessions,
    session_cookie,
)
from gongzhi.core.models import Pairing, Role, User, Webhook
from gongzhi.core.schemas import (
    AuditProblemRead,
    AuditVerifyRead,
    DepartmentCreate,
    DepartmentRead,
    EvidenceRead,
    GridCellIn,
    GridCellRead,
    LoginIn,
    MemberRead,
    MembershipRead,
    MeRead,
    PairingRead,
    RegionRead,
    RoleUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
)
from gongzhi.db import Scope, unit_of_work
from gongzhi.errors import Forbidden, NotFound, Unauthenticated, msg
from gongzhi.kit.validation import DbInt

router = api_router(prefix="/api/v1")


@router.post("/auth/login", tags=["auth"])
def login(body: LoginIn, request: Request, response: Response, st: StateDep) -> MeRead:
    with unit_of_work(st.factory, Scope.for_system()) as s:
        user = service.authenticate(s, st.settings, body.username, body.password, client_ip(request))
        if user is not None:
            scope = service.scope_for(s, user, body.region_id)
            ms = service.memberships(s, user.id)
    if user is None:
        raise Unauthenticated(msg("wrong username or password"))
    sid = secrets.token_urlsafe(16)
    cookie = session_cookie(st, user, sid, scope.region_id)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=st.settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=st.settings.env == "production",
    )
    return _me(user, scope, ms, st.signer.csrf_for(sid))


def _me(user: User, scope: Scope, ms: list, csrf: str | None = None) -> MeRead:  # type: ignore[type-arg]
    return MeRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        region_id=scope.region_id,
        role=scope.role,
        memberships=[MembershipRead.model_validate(m) for m in ms],
        csrf_token=csrf,
    )


@router.post("/auth/logout", tags=["auth"], status_code=204)
def logout(request: Request, response: Response, st: StateDep) -> None:
    """Ends every session of the account (the cookie is signed, so deleting it alone would not)."""
    end_sessions(request, st)
    response.delete_cookie(COOKIE)


@router.get("/me", tags=["auth"])
def me(s: SessionDep, scope: CurrentScope) -> MeRead:
    user = s.get_one(User, scope.user_id)
    return _me(user, scope, service.memberships(s, user.id))


@router.get("/regions", tags=["regions"])
def regions(s: SessionDep) -> list[RegionRead]:
    return [RegionRead.model_validate(r) for r in service.visible_regions(s)]


@router.get("/pairings", tags=["regions"])
def pairings(s: SessionDep, scope: CurrentScope) -> list[PairingRead]:
    assert scope.region_id is not None
    ids = service.paired_region_ids(s, scope.region_id)
    rows = s.execute(select(Pairing).where(Pairing.active)).scalars()
    return [PairingRead.model_validate(p) for p in rows if {p.region_a_id, p.region_b_id} & ids]


@router.get("/departments", tags=["regions"])
def departments(s: SessionDep) -> list[DepartmentRead]:
    return [DepartmentRead.model_validate(d) for d in service.list_departments(s)]


@router.post("/departments", tags=["regions"], status_code=201)
def create_department(body: DepartmentCreate, s: SessionDep) -> DepartmentRead:
    return DepartmentRead.model_validate(service.create_department(s, body.code, body.name, body.name_en))


@router.get("/grid-cells", tags=["regions"])
def grid_cells(s: SessionDep) -> list[GridCellRead]:
    return [GridCellRead.model_validate(c) for c in service.list_grid_cells(s)]


@router.put("/grid-cells", tags=["regions"])
def upsert_grid_cell(body: GridCellIn, s: SessionDep) -> GridCellRead:
    return GridCellRead.model_validate(service.upsert_grid_cell(s, body.code, body.name, body.geometry))


@router.get("/users", tags=["people"])
def members(s: SessionDep, scope: CurrentScope) -> list[MemberRead]:
    service.require_role(scope, Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR)
    return [
        MemberRead(
            user_id=u.id,
            username=u.username,
            display_name=u.display_name,
            role=m.role,
            department_id=m.department_id,
            is_active=u.is_active,
        )
        for m, u in service.list_members(s)
    ]


@router.post("/users", tags=["people"], status_code=201)
def create_user(body: UserCreate, s: SessionDep) -> MemberRead:
    u = service.create_user(
        s, body.username, body.display_name, body.password, body.role, body.department_id, body.phone
    )
    return MemberRead(
        user_id=u.id,
        username=u.username,
        display_name=u.display_name,
        role=body.role,
        department_id=body.department_id,
        is_active=u.is_active,
    )


@router.put("/users/{user_id}/role", tags=["people"])
def set_role(user_id: DbInt, body: RoleUpdate, s: SessionDep) -> MembershipRead:
    return MembershipRead.model_validate(service.set_role(s, user_id, body.role, body.department_id))


@router.get("/tokens", tags=["tokens"])
def tokens(s: SessionDep) -> list[TokenRead]:
    return [TokenRead.model_validate(t) for t in service.list_tokens(s)]


@router.post("/tokens", tags=["tokens"], status_code=201)
def create_token(body: TokenCreate, s: SessionDep) -> TokenCreated:
    tok, full = service.create_token(s, body.name, body.role, body.user_id, body.expires_at)
    return TokenCreated(token=full, **TokenRead.model_validate(tok).model_dump())


@router.delete("/tokens/{token_id}", tags=["tokens"])
def revoke_token(token_id: DbInt, s: SessionDep) -> TokenRead:
    return TokenRead.model_validate(service.revoke_token(s, token_id))


@router.get("/webhooks", tags=["webhooks"])
def webhooks(s: SessionDep, scope: CurrentScope) -> list[WebhookRead]:
    service.require_role(scope, Role.ADMIN)
    return [WebhookRead.model_validate(w) for w in s.execute(select(Webhook).order_by(Webhook.id)).scalars()]


@router.post("/webhooks", tags=["webhooks"], status_code=201)
def create_webhook(body: WebhookCreate, s: SessionDep, scope: CurrentScope) -> WebhookCreated:
    service.require_role(scope, Role.ADMIN)
    assert scope.region_id is not None
    hook = Webhook(
        region_id=scope.region_id, url=str(body.url), secret=outbox.new_secret(), topics=body.topics
    )
    s.add(hook)
    s.flush()
    audit.record(
        s,
        region_id=scope.region_id,
        action="webhook.create",
        object_type="webhook",
        object_id=hook.id,
        actor=scope.username,
        actor_user_id=scope.user_id,
        data={"url": hook.url},
    )
    return WebhookCreated(secret=hook.secret, **WebhookRead.model_validate(hook).model_dump())


@router.delete("/webhooks/{hook_id}", tags=["webhooks"], status_code=204)
def delete_webhook(hook_id: DbInt, s: SessionDep, scope: CurrentScope) -> None:
    service.require_role(scope, Role.ADMIN)
    hook = s.execute(select(Webhook).where(Webhook.id == hook_id)).scalar_one_or_none()
    if hook is None:
        raise NotFound(msg("no such webhook"))
    hook.active = False


@router.get("/audit/verify", tags=["audit"])
def verify_audit(s: SessionDep, scope: CurrentScope) -> AuditVerifyRead:
    if scope.role not in (Role.ADMIN, Role.SUPERVISOR):
        raise Forbidden(msg("audit verification is for admins and supervisors"))
    links, problems = audit.verify(s, scope.region_id)
    return AuditVerifyRead(
        links=links, ok=not problems, problems=[AuditProblemRead(**p.__dict__) for p in problems]
    )


@router.post("/evidence", tags=["evidence"], status_code=201)
def upload_evidence(s: SessionDep, st: StateDep, file: Annotated[UploadFile, File()]) -> EvidenceRead:
    """Upload a photo, thermal frame or document that alerts and reports can cite by its SHA-256."""
    evidence.check_can_upload(s)
    data = file.file.read(st.settings.max_upload_bytes + 1)
    ev = evidence.store(s, st.store, data, file.content_type or "application/octet-stream", file.filename)
    return EvidenceRead.model_validate(ev)


@router.get("/evidence/{sha256}", tags=["evidence"])
def download_evidence(sha256: str, s: SessionDep, st: StateDep) -> Response:
    ev = evidence.get(s, sha256)
    return Response(st.store.open(ev.sha256), media_type=ev.content_type)
