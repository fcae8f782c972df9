"""Console pages of intake: the request inbox with the classifier's suggestion, triage, monthly statistics."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Form, Query
from fastapi.responses import Response
from sqlalchemy import select

from gongzhi.core.deps import api_router
from gongzhi.core.models import Department
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake import service, stats
from gongzhi.modules.intake.models import IntakeRequest
from gongzhi.web.i18n import N_
from gongzhi.web.shell import ConsoleDep, NavItem

router = api_router(include_in_schema=False)
TEMPLATES = Path(__file__).parent / "console_templates"
NAV = NavItem("/intake", N_("Citizen requests"), "✉")
PAGE_SIZE = 50
VIEWS = {"pending": N_("Awaiting triage"), "all": N_("All requests")}


@router.get("/intake")
def inbox(
    c: ConsoleDep,
    view: Annotated[str, Query(pattern="^(pending|all)$")] = "pending",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    rid = service.acting_region(c.s)
    where = [IntakeRequest.triage == "pending"] if view == "pending" else []
    rows = repo.requests_with_cases(c.s, rid, where, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    total = repo.count_requests(c.s, rid, where)
    cats = repo.categories(c.s, rid)
    depts: dict[int, str] = {i: n for i, n in c.s.execute(select(Department.id, Department.name)).all()}
    return c.page(
        "intake/inbox.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        view=view,
        views=VIEWS,
        categories=cats,
        names={x.code: x.name for x in cats},
        departments=depts,
        can_triage=c.me.can(*service.TRIAGERS),
    )


@router.post("/intake/requests/{request_id:int}/triage")
def triage(
    c: ConsoleDep,
    request_id: int,
    service_code: Annotated[str, Form(min_length=1, max_length=60)],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    req = service.triage(c.s, request_id, service_code, None, note)
    message = (
        c._("Route confirmed") if req.triage == "confirmed" else c._("Route corrected; the model learns it")
    )
    return c.done("/intake", message)


@router.get("/intake/stats")
def monthly(c: ConsoleDep, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")] = "") -> Response:
    month = month or datetime.now(SHANGHAI).strftime("%Y-%m")
    return c.page(
        "intake/stats.html", stats=stats.monthly(c.s, service.acting_region(c.s), month), month=month
    )
