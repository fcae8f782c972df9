"""The public opinion-collection page of a village (民意征集): open consultations and a form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from gongzhi.core.deps import PublicSessionDep, api_router
from gongzhi.core.models import Region
from gongzhi.errors import NotFound
from gongzhi.modules.village import service
from gongzhi.modules.village.models import Village

router = api_router(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _village(s: PublicSessionDep, region: str, code: str) -> Village:
    stmt = (
        select(Village)
        .join(Region, Region.id == Village.region_id)
        .where(Region.code == region, Village.code == code)
    )
    village = s.execute(stmt).scalar_one_or_none()
    if village is None:
        raise NotFound("no such village")
    return village


@router.get("/village/{region}/{code}/opinions", response_class=HTMLResponse)
def page(region: str, code: str, request: Request, s: PublicSessionDep, thanks: bool = False) -> HTMLResponse:
    village = _village(s, region, code)
    ctx = {"village": village, "consultations": service.open_consultations(s, village.id), "thanks": thanks}
    return templates.TemplateResponse(request, "opinions.html", ctx)


@router.post("/village/{region}/{code}/opinions")
def submit(
    region: str,
    code: str,
    s: PublicSessionDep,
    text: Annotated[str, Form(max_length=4000)],
    consultation_id: Annotated[str, Form(max_length=12)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
) -> RedirectResponse:
    village = _village(s, region, code)
    s.info["scope"] = service_scope(village)
    cid = int(consultation_id) if consultation_id.isdigit() else None
    service.submit_opinion(s, village, text, name, phone, cid)
    return RedirectResponse(f"/village/{region}/{code}/opinions?thanks=1", status_code=303)


def service_scope(village: Village):  # type: ignore[no-untyped-def]
    from gongzhi.db import Scope

    return Scope(region_id=village.region_id, system=True, username="villager")
