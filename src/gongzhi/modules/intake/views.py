"""Public, mobile-first pages: the request form and the status page of a tracking code (no personal data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case, CaseEvent
from gongzhi.cases.schemas import ActionIn
from gongzhi.cases.statemachine import Action
from gongzhi.core.deps import AppState, PublicSessionDep, StateDep, api_router, in_thread
from gongzhi.core.models import Region
from gongzhi.core.ratelimit import Verdict
from gongzhi.errors import DomainError, InvalidInput, NotFound
from gongzhi.kit.filestore import FileRejected
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake import service, throttle
from gongzhi.modules.intake.analytics.text import redact
from gongzhi.modules.intake.api import region_by_code, submit_public
from gongzhi.modules.intake.open311 import STATUS_NOTES
from gongzhi.web.i18n import Lang
from gongzhi.web.labels import label

router = api_router(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
EVENT_LABELS = {
    "create": "收到诉求",
    "accept": "受理",
    "dispatch": "派单至承办单位",
    "claim": "承办单位签收",
    "start": "开始办理",
    "resolve": "办理完毕，待核查",
    "verify": "核查",
    "close": "办结",
    "follow_up": "回访评价",
    "return": "退回重新派单",
    "reject": "不予受理",
    "merge": "与相同诉求合并",
    "merged_in": "合并了相同诉求",
}


@router.get("/intake/{region}/", response_class=HTMLResponse)
def form(region: str, request: Request, s: PublicSessionDep) -> HTMLResponse:
    return _form(request, s, region)


def _form(
    request: Request,
    s: Session,
    region: str,
    limit: Verdict | None = None,
    error: DomainError | None = None,
    typed: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The form, empty or (refused by the rate limit or a bad value) filled with what the citizen typed."""
    reg = region_by_code(s, region)
    cats = [c for c in repo.categories(s, reg.id) if c.parent_code is None]
    notice = throttle.message(limit) if limit else ""
    if error is not None:
        notice = f"提交未成功，请修改后重新提交 Not submitted, please correct and resend: {error.detail}"
    ctx = {"region": reg, "categories": cats, "values": typed or {}, "notice": notice}
    status, headers = (429, limit.headers) if limit else (error.status if error else 200, None)
    return templates.TemplateResponse(request, "form.html", ctx, status_code=status, headers=headers)


@router.post("/intake/{region}/report", response_model=None)
async def report(
    region: str,
    request: Request,
    s: PublicSessionDep,
    st: StateDep,
    limit: throttle.CitizenLimit,
    description: Annotated[str, Form(max_length=4000)] = "",
    subject: Annotated[str, Form(max_length=200)] = "",
    service_code: Annotated[str, Form(max_length=60)] = "",
    lat: Annotated[str, Form(max_length=20)] = "",
    lon: Annotated[str, Form(max_length=20)] = "",
    address: Annotated[str, Form(max_length=300)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    anonymous: Annotated[bool, Form()] = False,
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> RedirectResponse | HTMLResponse:
    typed: dict[str, Any] = {
        "subject": subject,
        "description": description,
        "service_code": service_code,
        "lat": lat,
    }
    typed |= {"lon": lon, "address": address, "name": name, "phone": phone, "anonymous": anonymous}
    if not limit.allowed:
        return await in_thread(s, lambda: _form(request, s, region, limit, typed=typed))
    try:
        code = await _submit(s, st, region, typed, photos or [])
    except (DomainError, FileRejected) as exc:  # in_thread rolled back: the form again, as typed
        error = exc if isinstance(exc, DomainError) else InvalidInput(f"照片被拒收 photo refused: {exc}")
        return await in_thread(s, lambda: _form(request, s, region, error=error, typed=typed))
    return RedirectResponse(f"/intake/track/{code}?new=1", status_code=303)


async def _submit(
    s: Session, st: AppState, region: str, typed: dict[str, Any], photos: list[UploadFile]
) -> str:
    """File the request; returns its tracking code. Bad values raise :class:`DomainError`."""
    if not typed["description"].strip():
        raise InvalidInput("请填写问题描述 the description is required")
    lat, lon = typed["lat"], typed["lon"]
    try:
        point = (float(lat), float(lon)) if lat and lon else None
    except ValueError as exc:
        raise InvalidInput("lat and lon must be decimal degrees") from exc
    data = service.request_in(
        subject=typed["subject"],
        description=typed["description"],
        service_code=typed["service_code"] or None,
        lat=point[0] if point else None,
        lon=point[1] if point else None,
        address=typed["address"],
        reporter_name=typed["name"],
        reporter_phone=typed["phone"],
        anonymous=typed["anonymous"],
    )
    files = [(await f.read(st.settings.max_upload_bytes + 1), f) for f in photos[:6] if f.filename]
    out = await in_thread(s, lambda: submit_public(s, st, region_by_code(s, region).id, data, files))
    return out.case.tracking_code


def _case(s: Session, code: str) -> Case:
    case = s.execute(select(Case).where(Case.tracking_code == code)).scalar_one_or_none()
    if case is None:
        raise NotFound("no request with this tracking code")
    return case


def _local(value: object) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if hasattr(value, "astimezone") else ""


def _category_name(s: Session, case: Case) -> str:
    cat = repo.category(s, case.region_id, case.category)
    if cat is not None:
        return cat.name
    return Lang("zh_CN").gettext(label("category", case.category))  # a core category (road, pv_om, …)


@router.get("/intake/track/{code}", response_class=HTMLResponse)
def track(code: str, request: Request, s: PublicSessionDep, new: bool = False) -> HTMLResponse:
    case = _case(s, code)
    followed = service.followed_case(s, case)
    stmt = (
        select(CaseEvent.at, CaseEvent.action).where(CaseEvent.case_id == followed.id).order_by(CaseEvent.id)
    )
    events = [
        {"at": _local(at), "label": EVENT_LABELS.get(a, a)}
        for at, a in s.execute(stmt).all()
        if a in EVENT_LABELS
    ]
    req = repo.request_of_case(s, case.id)
    similar = []
    if new and req is not None:
        similar = service.similar_to(
            s, case.region_id, req.subject, req.text, code=req.service_code, lat=req.lat, lon=req.lon
        )
        similar = [x for x in similar if x.case_id != case.id]
    ctx = {
        "region": s.get_one(Region, case.region_id),
        "case": case,
        "title": redact(case.title),
        "category": _category_name(s, case),
        "state_label": STATUS_NOTES.get(followed.state, followed.state),
        "followed": followed if followed is not case else None,
        "created": _local(case.created_at),
        "events": events,
        "new": new,
        "similar": [{"number": x.number, "title": redact(x.title)} for x in similar],
        "can_rate": followed is case and case.state == "closed" and case.rating is None,
        "rated": case.state == "closed" and case.rating is not None,
    }
    return templates.TemplateResponse(request, "track.html", ctx)


@router.post("/intake/track/{code}/rate")
def rate(
    code: str,
    s: PublicSessionDep,
    st: StateDep,
    rating: Annotated[int, Form(ge=1, le=5)],
    satisfied: Annotated[bool, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    case = _case(s, code)
    s.info["scope"] = service.public_scope(case.region_id, "citizen")
    cases.apply(
        s, st.registry, case.id, Action.FOLLOW_UP, ActionIn(rating=rating, satisfied=satisfied, note=note)
    )
    return RedirectResponse(f"/intake/track/{code}", status_code=303)
