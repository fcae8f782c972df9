"""The public opinion-collection page of a village (民意征集): open consultations and a form, in the
visitor's language (the console's ``gz_lang`` cookie; Chinese unless English was chosen)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.core.deps import PublicSessionDep, api_router
from gongzhi.core.models import Region
from gongzhi.core.ratelimit import Verdict
from gongzhi.errors import DomainError, NotFound, msg
from gongzhi.kit.validation import parse_id
from gongzhi.modules.intake.throttle import CitizenLimit
from gongzhi.modules.intake.views import too_often
from gongzhi.modules.village import service
from gongzhi.modules.village.models import Village
from gongzhi.web import labels
from gongzhi.web.i18n import N_
from gongzhi.web.shell import lang_of, public_page, public_templates

router = api_router(include_in_schema=False)
templates = public_templates(Path(__file__).parent / "templates")
REFUSALS = (  # what service.submit_opinion may say, translated on the page
    N_("an opinion needs text"),
    N_("no such consultation in this village"),
    N_("this consultation is closed"),
)


def _village(s: PublicSessionDep, region: str, code: str) -> Village:
    stmt = (
        select(Village)
        .join(Region, Region.id == Village.region_id)
        .where(Region.code == region, Village.code == code)
    )
    village = s.execute(stmt).scalar_one_or_none()
    if village is None:
        raise NotFound(msg("no such village"))
    return village


@router.get("/village/{region}/{code}/opinions", response_class=HTMLResponse)
def page(region: str, code: str, request: Request, s: PublicSessionDep, thanks: bool = False) -> HTMLResponse:
    return _page(request, s, _village(s, region, code), thanks=thanks)


def _page(
    request: Request,
    s: Session,
    village: Village,
    limit: Verdict | None = None,
    error: DomainError | None = None,
    **extra: object,
) -> HTMLResponse:
    lang = lang_of(request)
    ctx = {"village": village, "consultations": service.open_consultations(s, village.id), "values": {}}
    ctx |= {"notice": too_often(limit, lang) if limit else "", **extra}
    if error is not None:
        detail = labels.detail(lang, error.detail) if error.detail else ""
        again = N_("Not submitted; please correct and send again (%(detail)s)")
        ctx["notice"] = lang.gettext(again, detail=detail)
    status, headers = (429, limit.headers) if limit else (error.status if error else 200, None)
    region = s.get_one(Region, village.region_id).code
    here = f"/village/{region}/{village.code}/opinions"
    page = "opinions.html"
    return public_page(templates, request, page, ctx, here=here, status_code=status, headers=headers)


@router.post("/village/{region}/{code}/opinions", response_model=None)
def submit(
    region: str,
    code: str,
    request: Request,
    s: PublicSessionDep,
    limit: CitizenLimit,
    text: Annotated[str, Form(max_length=4000)] = "",
    consultation_id: Annotated[str, Form(max_length=12)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
) -> RedirectResponse | HTMLResponse:
    village = _village(s, region, code)
    typed = {"text": text, "name": name, "phone": phone, "consultation_id": consultation_id}
    if not limit.allowed:
        return _page(request, s, village, limit, values=typed)
    s.info["scope"] = service_scope(village)
    cid = parse_id(consultation_id)
    try:  # submit_opinion refuses before it writes anything: give the form back as typed
        service.submit_opinion(s, village, text, name, phone, cid)
    except DomainError as exc:
        return _page(request, s, village, error=exc, values=typed)
    return RedirectResponse(f"/village/{region}/{code}/opinions?thanks=1", status_code=303)


def service_scope(village: Village):  # type: ignore[no-untyped-def]
    from gongzhi.db import Scope

    return Scope(region_id=village.region_id, system=True, username="villager")
