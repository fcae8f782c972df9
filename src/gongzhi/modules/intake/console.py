"""Console pages of intake: the request inbox with the classifier's suggestion, triage, monthly statistics."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import File, Form, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases import service as cases
from gongzhi.cases.models import Alert, Case
from gongzhi.cases.schemas import ActionIn
from gongzhi.cases.statemachine import Action
from gongzhi.core.deps import api_router
from gongzhi.core.models import Department, Role
from gongzhi.core.service import require_role
from gongzhi.errors import NotFound, msg
from gongzhi.kit.validation import DbInt
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.modules.intake import hot, imports, service, stats
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake.models import HotTopic, IntakeImport, IntakeRequest
from gongzhi.web.i18n import N_
from gongzhi.web.related import Related
from gongzhi.web.shell import ConsoleDep, NavItem

router = api_router(include_in_schema=False)
TEMPLATES = Path(__file__).parent / "console_templates"
NAV = NavItem("/intake", N_("Citizen requests"), "✉")
PAGE_SIZE = 50
HOT_REFRESHERS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR)
FOLLOW_UPPERS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR)
VIEWS = {"pending": N_("Awaiting triage"), "all": N_("All requests")}
CHANNELS = {
    "web": N_("Web form"),
    "open311": N_("Open311 interface"),
    "staff": N_("Staff entry"),
    "hotline": N_("12345 hotline"),
    "visit": N_("Walk-in visit"),
}
IMPORT_KINDS = {"hotline": N_("12345 hotline tickets"), "visit": N_("Walk-in visit records")}
IMPORT_STATUSES = {
    "rejected": N_("Rejected, nothing imported"),
    "checked": N_("Checked, not imported"),
    "imported": N_("Imported"),
}
TRIAGE = {
    "auto": N_("Routed automatically"),
    "pending": N_("Awaiting triage"),
    "confirmed": N_("Route confirmed"),
    "corrected": N_("Route corrected"),
    "citizen": N_("Chosen by the citizen"),
}


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
        channels=CHANNELS,
        triage_names=TRIAGE,
        categories=cats,
        names={x.code: x.name_en if c.lang.code == "en" and x.name_en else x.name for x in cats},
        departments=depts,
        can_triage=c.me.can(*service.TRIAGERS),
    )


@router.post("/intake/requests/{request_id:int}/triage")
def triage(
    c: ConsoleDep,
    request_id: DbInt,
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


@router.get("/intake/duplicates")
def duplicates(c: ConsoleDep) -> Response:
    """Suggested near-duplicates grouped under the original they probably repeat."""
    groups: dict[int, tuple[Case, list[tuple[IntakeRequest, Case]]]] = {}
    for req, case, original in repo.suggested_duplicates(c.s, service.acting_region(c.s)):
        groups.setdefault(original.id, (original, []))[1].append((req, case))
    return c.page(
        "intake/duplicates.html", groups=list(groups.values()), can_merge=c.me.can(*service.TRIAGERS)
    )


@router.post("/intake/requests/{request_id:int}/merge")
def merge(
    c: ConsoleDep,
    request_id: DbInt,
    into_case_id: Annotated[int, Form(ge=1)],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    service.merge(c.s, c.st.registry, request_id, into_case_id, note)
    return c.done("/intake/duplicates", c._("Merged into the original request"))


@router.get("/intake/hot")
def hot_topics(c: ConsoleDep) -> Response:
    topics = repo.hot_topics(c.s, service.acting_region(c.s))
    return c.page("intake/hot.html", topics=topics, can_refresh=c.me.can(*HOT_REFRESHERS))


@router.post("/intake/hot/refresh")
def refresh_hot_topics(c: ConsoleDep) -> Response:
    require_role(c.me.scope, *HOT_REFRESHERS)
    topics = hot.refresh(c.s, c.st.registry, service.acting_region(c.s))
    return c.done("/intake/hot", c._("%(count)s hot topics", count=len(topics)))


@router.get("/intake/follow-up")
def follow_ups(c: ConsoleDep) -> Response:
    """回访: closed requests with the reporter's rating, and those still to call."""
    rows = repo.closed_once(c.s, service.acting_region(c.s))
    rated = stats.satisfaction(c.s, [case.id for _, case in rows])
    return c.page(
        "intake/follow_up.html",
        rows=rows,
        rated=rated,
        can_enter=c.me.can(*FOLLOW_UPPERS),
    )


@router.post("/intake/requests/{request_id:int}/follow-up")
def follow_up(
    c: ConsoleDep,
    request_id: DbInt,
    rating: Annotated[int, Form(ge=1, le=5)],
    satisfied: Annotated[bool, Form()] = False,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _, case = service.get_request(c.s, request_id)
    data = ActionIn(rating=rating, satisfied=satisfied, note=note or "电话回访")
    cases.apply(c.s, c.st.registry, case.id, Action.FOLLOW_UP, data)
    message = c._("Follow-up saved") if satisfied else c._("Unsatisfied: the request is reopened")
    return c.done("/intake/follow-up", message)


@router.get("/intake/imports")
def import_list(c: ConsoleDep) -> Response:
    """Spreadsheets of hotline tickets and visit records: the upload form and the recent imports."""
    return c.page(
        "intake/imports.html",
        items=repo.imports(c.s, service.acting_region(c.s)),
        kinds=IMPORT_KINDS,
        statuses=IMPORT_STATUSES,
        can_import=c.me.can(*imports.IMPORTERS),
    )


@router.post("/intake/imports")
def import_file(
    c: ConsoleDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form(pattern="^(hotline|visit)$")] = "hotline",
    dry_run: Annotated[bool, Form()] = False,
) -> Response:
    """Check every row, then import all or none; the report, kept with the import, is the next page."""
    data = file.file.read(c.st.settings.max_upload_bytes + 1)
    rec = imports.run(
        c.s, c.st.registry, kind, file.filename or "upload", data, secret=c.st.settings.secret_key,
        dry_run=dry_run, max_bytes=c.st.settings.max_upload_bytes,
    )  # fmt: skip
    return c.done(f"/intake/imports/{rec.id}")  # the report says what happened


@router.get("/intake/imports/{import_id:int}")
def import_report(c: ConsoleDep, import_id: DbInt) -> Response:
    rec = c.s.get(IntakeImport, import_id)
    if rec is None or rec.region_id != service.acting_region(c.s):
        raise NotFound(msg("no import %(id)s", id=import_id))
    return c.page("intake/import_report.html", rec=rec, kinds=IMPORT_KINDS, statuses=IMPORT_STATUSES)


RELATED_CASES = 10
"""Most cases a hot-topic alert's page links, the most recent first."""


def alert_related(s: Session, alert: Alert) -> list[Related]:
    """The pages of a hot-topic alert (:func:`.web.related.add_related`): the hot-topic table and the
    cases of the topic's requests; nothing for another alert."""
    topic = s.execute(select(HotTopic).where(HotTopic.alert_id == alert.id)).scalar_one_or_none()
    if topic is None:
        return []
    ids = [int(i) for i in topic.request_ids]
    stmt = select(Case.id, Case.number).join(IntakeRequest, IntakeRequest.case_id == Case.id)
    rows = s.execute(stmt.where(IntakeRequest.id.in_(ids)).order_by(Case.id.desc()).limit(RELATED_CASES))
    return [Related(N_("Hot topics"), "/intake/hot")] + [
        Related(N_("Case %(code)s"), f"/cases/{case_id}", {"code": code}) for case_id, code in rows
    ]
