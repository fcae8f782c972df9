"""Console pages of village supervision (基层监督): villages and stations, projects, visits with photos,
四议两公开 decisions with their record PDF, the three-assets ledger with its flags, and opinions.

Every read and write goes through :mod:`gongzhi.modules.village.service`, so a supervisor linked to some
villages sees and changes only those, and an outsider region sees nothing."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import File, Form, Query, UploadFile
from fastapi.responses import Response

from gongzhi.core.deps import api_router
from gongzhi.core.service import list_members
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit.validation import DbInt, parse_id
from gongzhi.modules.village import api, imports, service
from gongzhi.modules.village.analytics import deliberation, ledger
from gongzhi.modules.village.models import (
    Asset,
    Consultation,
    Contract,
    Decision,
    Milestone,
    Opinion,
    Project,
    Station,
    Supervisor,
    Village,
    Visit,
)
from gongzhi.modules.village.schemas import (
    AssetIn,
    ConsultationIn,
    ContractIn,
    DecisionIn,
    ProjectIn,
    StationIn,
    StepIn,
    SupervisorIn,
    VillageIn,
    VisitIn,
)
from gongzhi.web.i18n import N_
from gongzhi.web.shell import NAV, Console, ConsoleDep, NavItem, add_nav, add_templates
from gongzhi.web.views.cases import _validated

router = api_router(include_in_schema=False)
TEMPLATES = Path(__file__).parent / "templates" / "console"
SECTIONS = (
    ("", N_("Villages and stations")),
    ("projects", N_("Projects")),
    ("visits", N_("Supervision visits")),
    ("decisions", N_("Major decisions")),
    ("ledger", N_("Three-assets ledger")),
    ("opinions", N_("Opinions")),
)
STEP_NAMES = {
    "proposal": N_("Party branch proposal"),
    "committees": N_("Two committees deliberate"),
    "members": N_("Party members review"),
    "representatives": N_("Villagers' representatives resolve"),
    "disclose_resolution": N_("Resolution disclosed"),
    "disclose_result": N_("Result disclosed"),
}
DECISION_STATUS = {
    "in_progress": N_("In progress"),
    "adopted": N_("Adopted"),
    "rejected": N_("Voted down"),
    "completed": N_("Completed"),
}
PROJECT_STATUS = {
    "planned": N_("Planned"),
    "in_progress": N_("Under construction"),
    "completed": N_("Completed"),
    "suspended": N_("Suspended"),
}
ASSET_KINDS = {"fund": N_("Funds"), "asset": N_("Assets"), "resource": N_("Resources")}
FLAG_KINDS = {
    "renewal_below_previous": N_("Renewal below the previous rent"),
    "not_disclosed": N_("Not disclosed"),
    "paid_after_expiry": N_("Paid after expiry"),
}
FLAG_MESSAGES = {
    "renewal_below_previous": N_(
        "First-year rent of the renewal, %(rent)s yuan, is below the old lease's last, %(previous)s yuan"
    ),
    "not_disclosed": N_("The contract has not been disclosed"),
    "paid_after_expiry": N_("%(amount)s yuan paid on %(paid_on)s, after the contract expired on %(ends_on)s"),
}


def register() -> None:
    """Once per process (every app made in it shares the console's templates and navigation)."""
    if not any(n.href == "/village" for n in NAV):
        add_templates(TEMPLATES)
        add_nav(NavItem("/village", N_("Village supervision"), "⌂"))


def _page(c: Console, section: str, name: str, **extra: Any) -> Response:
    villages = service.rows(c.s, Village)
    return c.page(
        f"village/{name}.html",
        section=section,
        sections=SECTIONS,
        villages=villages,
        village_names={v.id: v.name for v in villages},
        can_write=c.me.can(*service.WRITERS),
        restricted=service.allowed_villages(c.s) is not None,
        step_names=STEP_NAMES,
        **extra,
    )


def _village_filter(model: Any, village_id: int | None) -> list[Any]:
    return [model.village_id == village_id] if village_id else []


# --- villages, stations, supervisors ---------------------------------------------------------------


@router.get("/village")
def overview(c: ConsoleDep) -> Response:
    stations = {x.village_id: x for x in service.rows(c.s, Station)}
    supervisors = service.rows(c.s, Supervisor)
    counts = {
        "projects": Counter(p.village_id for p in service.rows(c.s, Project)),
        "issues": Counter(v.village_id for v in service.rows(c.s, Visit) if v.issue),
        "opinions": Counter(
            o.village_id for o in service.rows(c.s, Opinion) if not (o.case_id or o.decision_id)
        ),
    }
    return _page(
        c,
        "",
        "overview",
        stations=stations,
        supervisors=[(x, service.villages_of(c.s, x.id)) for x in supervisors],
        counts=counts,
        flags=len(service.ledger_flags(c.s)),
        users=[u for _, u in list_members(c.s)] if c.me.can(*service.WRITERS) else [],
    )


@router.post("/village/villages")
def add_village(
    c: ConsoleDep,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    town: Annotated[str, Form()] = "",
    representatives: Annotated[str, Form()] = "0",
    party_members: Annotated[str, Form()] = "0",
) -> Response:
    fields = {"code": code.strip(), "name": name.strip(), "town": town.strip()}
    fields |= {"representatives": representatives or "0", "party_members": party_members or "0"}
    v = service.create_village(c.s, _validated(c, VillageIn, fields))
    return c.done("/village", c._(N_("Village %(name)s added"), name=v.name))


@router.post("/village/stations")
def add_station(
    c: ConsoleDep,
    village_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    fields = {
        "village_id": parse_id(village_id),
        "name": name.strip(),
        "address": address.strip(),
        "phone": phone,
    }
    service.create_station(c.s, _validated(c, StationIn, fields))
    return c.done("/village", c._(N_("Station set up")))


@router.post("/village/supervisors")
def add_supervisor(
    c: ConsoleDep,
    name: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    user_id: Annotated[str, Form()] = "",
    station_id: Annotated[str, Form()] = "",
    village_ids: Annotated[list[DbInt] | None, Form()] = None,
) -> Response:
    fields: dict[str, Any] = {"name": name.strip(), "phone": phone.strip(), "user_id": parse_id(user_id)}
    fields |= {"station_id": parse_id(station_id), "village_ids": village_ids or []}
    service.create_supervisor(c.s, _validated(c, SupervisorIn, fields))
    return c.done("/village", c._(N_("Supervisor appointed")))


# --- projects ---------------------------------------------------------------------------------------


@router.get("/village/projects")
def projects(c: ConsoleDep, village_id: Annotated[DbInt | None, Query()] = None) -> Response:
    items = service.rows(c.s, Project, *_village_filter(Project, village_id))
    ids = [p.id for p in items]
    stones = service.rows(c.s, Milestone, Milestone.project_id.in_(ids)) if ids else []
    by_project: dict[int, list[Milestone]] = {}
    for m in stones:
        by_project.setdefault(m.project_id, []).append(m)
    decisions = {d.id: d for d in service.rows(c.s, Decision)}
    linked = {
        p.decision_id: _progress(c, decisions[p.decision_id]) for p in items if p.decision_id in decisions
    }
    return _page(
        c,
        "projects",
        "projects",
        items=items,
        milestones=by_project,
        village_id=village_id,
        statuses=PROJECT_STATUS,
        decisions=decisions,
        linked=linked,
        order=deliberation.ORDER,
        decision_statuses=DECISION_STATUS,
    )


@router.post("/village/projects/{project_id:int}/decision")
def link_decision(c: ConsoleDep, project_id: DbInt, decision_id: Annotated[str, Form()] = "") -> Response:
    p = service.link_decision(c.s, project_id, parse_id(decision_id))
    return c.done(f"/village/decisions/{p.decision_id}", c._(N_("Project tied to its decision")))


@router.post("/village/projects")
def add_project(
    c: ConsoleDep,
    village_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    budget_yuan: Annotated[str, Form()] = "0",
    contractor: Annotated[str, Form()] = "",
    starts_on: Annotated[str, Form()] = "",
    ends_on: Annotated[str, Form()] = "",
) -> Response:
    fields = {"village_id": parse_id(village_id), "name": name.strip(), "budget_yuan": budget_yuan or "0"}
    fields |= {"contractor": contractor.strip(), "starts_on": starts_on or None, "ends_on": ends_on or None}
    p = service.create_project(c.s, _validated(c, ProjectIn, fields))
    return c.done("/village/projects", c._(N_("Project %(name)s added"), name=p.name))


@router.post("/village/{kind}/import")
def import_file(
    c: ConsoleDep,
    kind: str,
    file: Annotated[UploadFile, File()],
    dry_run: Annotated[bool, Form()] = False,
) -> Response:
    data = file.file.read(c.st.settings.max_upload_bytes + 1)
    report = imports.run(
        c.s, c.st.registry, kind, file.filename or "upload", data, dry_run=dry_run,
        max_bytes=c.st.settings.max_upload_bytes,
    )  # fmt: skip
    section = kind if kind in ("projects", "visits") else "projects"
    return _page(c, section, "import_report", report=report, kind=kind)


# --- visits -----------------------------------------------------------------------------------------


@router.get("/village/visits")
def visits(c: ConsoleDep, village_id: Annotated[DbInt | None, Query()] = None) -> Response:
    items = list(reversed(service.rows(c.s, Visit, *_village_filter(Visit, village_id))))
    return _page(
        c,
        "visits",
        "visits",
        items=items,
        village_id=village_id,
        projects=service.rows(c.s, Project),
        supervisors={x.id: x.name for x in service.rows(c.s, Supervisor)},
        max_photos=service.MAX_PHOTOS,
    )


@router.post("/village/visits")
def add_visit(
    c: ConsoleDep,
    village_id: Annotated[str, Form()] = "",
    project_id: Annotated[str, Form()] = "",
    findings: Annotated[str, Form()] = "",
    issue: Annotated[bool, Form()] = False,
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    fields = {
        "village_id": parse_id(village_id),
        "project_id": parse_id(project_id),
        "findings": findings,
        "issue": issue,
    }
    visit = service.record_visit(c.s, c.st.registry, _validated(c, VisitIn, fields))
    uploads = [
        (f.file.read(c.st.settings.max_upload_bytes + 1), f.content_type or "", f.filename)
        for f in (photos or [])[: service.MAX_PHOTOS + 1]
        if f.filename
    ]
    if uploads:
        service.add_photos(c.s, c.st.store, visit.id, uploads)
    message = (
        c._(N_("Visit recorded; case %(id)s opened"), id=visit.case_id)
        if visit.case_id
        else c._(N_("Visit recorded"))
    )
    return c.done("/village/visits", message)


@router.post("/village/visits/{visit_id:int}/photos")
def add_visit_photos(
    c: ConsoleDep, visit_id: DbInt, photos: Annotated[list[UploadFile] | None, File()] = None
) -> Response:
    service.get(c.s, Visit, visit_id)
    uploads = [
        (f.file.read(c.st.settings.max_upload_bytes + 1), f.content_type or "", f.filename)
        for f in (photos or [])[: service.MAX_PHOTOS + 1]
        if f.filename
    ]
    service.add_photos(c.s, c.st.store, visit_id, uploads)
    return c.done(f"/village/visits#visit-{visit_id}", c._(N_("Photos added")))


@router.get("/village/visits/{visit_id:int}/photos/{sha256}")
def visit_photo(c: ConsoleDep, visit_id: DbInt, sha256: str) -> Response:
    body, media = service.photo(c.s, c.st.store, visit_id, sha256)
    return Response(body, media_type=media, headers={"cache-control": "private, max-age=86400"})


# --- decisions (四议两公开) ---------------------------------------------------------------------------


def _progress(c: Console, d: Decision) -> dict[str, Any]:
    done = [x.step for x in service.steps_of(c.s, d.id)]
    upcoming = None if d.status == "rejected" else deliberation.next_step(done)
    return {"done": done, "next": upcoming}


@router.get("/village/decisions")
def decisions(c: ConsoleDep, village_id: Annotated[DbInt | None, Query()] = None) -> Response:
    items = service.rows(c.s, Decision, *_village_filter(Decision, village_id))
    return _page(
        c,
        "decisions",
        "decisions",
        items=[(d, _progress(c, d)) for d in reversed(items)],
        village_id=village_id,
        order=deliberation.ORDER,
        statuses=DECISION_STATUS,
    )


@router.post("/village/decisions")
def add_decision(
    c: ConsoleDep,
    village_id: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    matter: Annotated[str, Form()] = "",
) -> Response:
    fields = {"village_id": parse_id(village_id), "title": title.strip(), "matter": matter}
    d = service.create_decision(c.s, _validated(c, DecisionIn, fields))
    return c.done(f"/village/decisions/{d.id}", c._(N_("Decision opened")))


@router.get("/village/decisions/{decision_id:int}")
def decision(c: ConsoleDep, decision_id: DbInt) -> Response:
    d = service.get(c.s, Decision, decision_id)
    return _page(
        c,
        "decisions",
        "decision",
        d=d,
        steps=service.steps_of(c.s, d.id),
        progress=_progress(c, d),
        order=deliberation.ORDER,
        voting=deliberation.VOTING,
        statuses=DECISION_STATUS,
        today=date.today().isoformat(),
    )


@router.post("/village/decisions/{decision_id:int}/steps")
def add_step(
    c: ConsoleDep,
    decision_id: DbInt,
    step: Annotated[str, Form()] = "",
    held_on: Annotated[str, Form()] = "",
    expected: Annotated[str, Form()] = "0",
    present: Annotated[str, Form()] = "0",
    votes_for: Annotated[str, Form()] = "0",
    votes_against: Annotated[str, Form()] = "0",
    abstain: Annotated[str, Form()] = "0",
    attendees: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
) -> Response:
    people = [x.strip() for x in attendees.replace("，", ",").replace("、", ",").split(",") if x.strip()]
    counts = {"expected": expected, "present": present, "votes_for": votes_for}
    counts |= {"votes_against": votes_against, "abstain": abstain}
    fields = {"step": step, "held_on": held_on, "attendees": people, "summary": summary}
    fields |= {k: v or "0" for k, v in counts.items()}
    d = service.record_step(c.s, decision_id, _validated(c, StepIn, fields))
    return c.done(f"/village/decisions/{d.id}", c._(N_("Step recorded")))


@router.get("/village/decisions/{decision_id:int}/record.pdf")
def decision_pdf(c: ConsoleDep, decision_id: DbInt) -> Response:
    return api.decision_pdf(decision_id, c.s)


# --- the three-assets ledger ------------------------------------------------------------------------


@router.get("/village/ledger")
def ledger_page(c: ConsoleDep, village_id: Annotated[DbInt | None, Query()] = None) -> Response:
    contracts = service.rows(c.s, Contract, *_village_filter(Contract, village_id))
    flags = service.ledger_flags(c.s, village_id)
    flagged: dict[int, list[ledger.Flag]] = {}
    for f in flags:
        flagged.setdefault(f.contract_id, []).append(f)
    rows = [(x, ledger.schedule(service.lease(x)), flagged.get(x.id, [])) for x in contracts]
    return _page(
        c,
        "ledger",
        "ledger",
        assets=service.rows(c.s, Asset, *_village_filter(Asset, village_id)),
        contracts=rows,
        flags=flags,
        village_id=village_id,
        kinds=ASSET_KINDS,
        flag_kinds=FLAG_KINDS,
        flag_messages=FLAG_MESSAGES,
        today=date.today(),
    )


@router.post("/village/assets")
def add_asset(
    c: ConsoleDep,
    village_id: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    value_yuan: Annotated[str, Form()] = "0",
    notes: Annotated[str, Form()] = "",
) -> Response:
    fields = {
        "village_id": parse_id(village_id),
        "kind": kind,
        "name": name.strip(),
        "value_yuan": value_yuan or "0",
    }
    service.create_asset(c.s, _validated(c, AssetIn, {**fields, "notes": notes}))
    return c.done("/village/ledger", c._(N_("Ledger entry added")))


@router.post("/village/contracts")
def add_contract(
    c: ConsoleDep,
    village_id: Annotated[str, Form()] = "",
    counterparty: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    starts_on: Annotated[str, Form()] = "",
    ends_on: Annotated[str, Form()] = "",
    annual_rent_yuan: Annotated[str, Form()] = "",
    escalation_pct: Annotated[str, Form()] = "0",
    previous_id: Annotated[str, Form()] = "",
    disclosed_on: Annotated[str, Form()] = "",
) -> Response:
    fields: dict[str, Any] = {"village_id": parse_id(village_id), "counterparty": counterparty.strip()}
    fields |= {"subject": subject.strip(), "starts_on": starts_on, "ends_on": ends_on}
    fields |= {"annual_rent_yuan": annual_rent_yuan, "escalation_pct": escalation_pct or "0"}
    fields |= {"previous_id": parse_id(previous_id), "disclosed_on": disclosed_on or None}
    service.create_contract(c.s, _validated(c, ContractIn, fields))
    return c.done("/village/ledger", c._(N_("Contract added")))


@router.post("/village/payments")
def add_payment(
    c: ConsoleDep,
    contract_id: Annotated[int, Form()],
    paid_on: Annotated[str, Form()] = "",
    amount_yuan: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        day, amount = date.fromisoformat(paid_on), float(amount_yuan)
    except ValueError as exc:
        raise InvalidInput(msg("a payment needs a date and an amount in yuan")) from exc
    if amount <= 0:
        raise InvalidInput(msg("a payment must be more than zero"))
    service.add_payment(c.s, contract_id, day, amount, note)
    return c.done("/village/ledger", c._(N_("Payment recorded")))


# --- opinions ---------------------------------------------------------------------------------------


@router.get("/village/opinions")
def opinions(c: ConsoleDep, village_id: Annotated[DbInt | None, Query()] = None) -> Response:
    scope = c.me.scope
    items = [
        api._opinion(scope, o) for o in service.rows(c.s, Opinion, *_village_filter(Opinion, village_id))
    ]
    return _page(
        c,
        "opinions",
        "opinions",
        items=list(reversed(items)),
        consultations=service.rows(c.s, Consultation, *_village_filter(Consultation, village_id)),
        village_id=village_id,
        codes={v.id: v.code for v in service.rows(c.s, Village)},
        region_code=c.me.region.code,
    )


@router.post("/village/consultations")
def add_consultation(
    c: ConsoleDep,
    village_id: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    open_until: Annotated[str, Form()] = "",
) -> Response:
    fields = {"village_id": parse_id(village_id), "title": title.strip(), "description": description}
    service.create_consultation(
        c.s, _validated(c, ConsultationIn, {**fields, "open_until": open_until or None})
    )
    return c.done("/village/opinions", c._(N_("Consultation opened")))


@router.post("/village/opinions/{opinion_id:int}/to-case")
def opinion_to_case(c: ConsoleDep, opinion_id: DbInt) -> Response:
    op = service.opinion_to_case(c.s, c.st.registry, opinion_id, c.st.settings.secret_key)
    return c.done("/village/opinions", c._(N_("Opinion turned into case %(id)s"), id=op.case_id))


@router.post("/village/opinions/{opinion_id:int}/to-decision")
def opinion_to_decision(
    c: ConsoleDep, opinion_id: DbInt, title: Annotated[str, Form(min_length=1, max_length=200)]
) -> Response:
    d = service.opinion_to_decision(c.s, opinion_id, title.strip())
    return c.done(f"/village/decisions/{d.id}", c._(N_("Decision opened")))
