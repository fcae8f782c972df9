"""HTTP API of village supervision (staff) under /api/v1/village; problem+json errors."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Query, Response, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select

from gongzhi.core.deps import CurrentScope, SessionDep, StateDep, api_router
from gongzhi.core.models import AuditHead, Region
from gongzhi.db import Scope
from gongzhi.kit.privacy import mask_name, mask_phone
from gongzhi.kit.sheets import XLSX_MEDIA_TYPE
from gongzhi.kit.validation import DbInt
from gongzhi.modules.village import imports, service
from gongzhi.modules.village.analytics import deliberation, ledger
from gongzhi.modules.village.io import pdf, tables, workbooks
from gongzhi.modules.village.models import (
    Asset,
    Consultation,
    Contract,
    Decision,
    Opinion,
    Project,
    Station,
    Supervisor,
    Village,
    Visit,
)
from gongzhi.modules.village.schemas import (
    AssetIn,
    AssetRead,
    ConsultationIn,
    ConsultationRead,
    ContractIn,
    ContractRead,
    DecisionIn,
    DecisionRead,
    FlagRead,
    ImportRead,
    OpinionRead,
    PaymentIn,
    ProjectDecisionIn,
    ProjectIn,
    ProjectRead,
    StationIn,
    StationRead,
    StepIn,
    StepRead,
    SupervisorIn,
    SupervisorRead,
    VillageIn,
    VillageRead,
    VisitIn,
    VisitRead,
)
from gongzhi.web import problems

router = api_router(prefix="/api/v1/village", tags=["village"])
SEES_CONTACTS = {"admin", "dispatcher", "supervisor"}


def _download(body: bytes, media: str, name: str) -> StreamingResponse:
    return StreamingResponse(
        iter([body]), media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'}
    )


@router.get("/villages")
def villages(s: SessionDep) -> list[VillageRead]:
    return [VillageRead.model_validate(v) for v in service.rows(s, Village)]


@router.post("/villages", status_code=201)
def create_village(body: VillageIn, s: SessionDep) -> VillageRead:
    return VillageRead.model_validate(service.create_village(s, body))


@router.get("/stations")
def stations(s: SessionDep) -> list[StationRead]:
    return [StationRead.model_validate(x) for x in service.rows(s, Station)]


@router.post("/stations", status_code=201)
def create_station(body: StationIn, s: SessionDep) -> StationRead:
    return StationRead.model_validate(service.create_station(s, body))


def _supervisor(s: SessionDep, sup: Supervisor) -> SupervisorRead:
    return SupervisorRead(
        id=sup.id,
        name=sup.name,
        phone=sup.phone,
        station_id=sup.station_id,
        village_ids=service.villages_of(s, sup.id),
    )


@router.get("/supervisors")
def supervisors(s: SessionDep) -> list[SupervisorRead]:
    return [_supervisor(s, x) for x in service.rows(s, Supervisor)]


@router.post("/supervisors", status_code=201)
def create_supervisor(body: SupervisorIn, s: SessionDep) -> SupervisorRead:
    return _supervisor(s, service.create_supervisor(s, body))


@router.get("/projects")
def projects(s: SessionDep, village_id: DbInt | None = None) -> list[ProjectRead]:
    where = [Project.village_id == village_id] if village_id else []
    return [ProjectRead.model_validate(x) for x in service.rows(s, Project, *where)]


@router.post("/projects", status_code=201)
def create_project(body: ProjectIn, s: SessionDep) -> ProjectRead:
    return ProjectRead.model_validate(service.create_project(s, body))


@router.post("/projects/{project_id}/decision")
def link_decision(project_id: DbInt, body: ProjectDecisionIn, s: SessionDep) -> ProjectRead:
    """Tie the project to the 四议两公开 decision that approves it; without one, open it."""
    return ProjectRead.model_validate(service.link_decision(s, project_id, body.decision_id))


def _table(s: SessionDep, kind: str, fmt: str, encoding: str = "utf-8") -> StreamingResponse:
    rows = imports.export_rows(s, kind)
    if fmt == "csv":
        body = tables.write_csv(kind, rows, encoding)
        return _download(body, f"text/csv; charset={encoding}", f"village-{kind}.csv")
    return _download(tables.write_xlsx(kind, rows), XLSX_MEDIA_TYPE, f"village-{kind}.xlsx")


Encoding = Annotated[str, Query(pattern="^(utf-8|gb18030)$")]


@router.get("/projects.xlsx")
def projects_xlsx(s: SessionDep) -> StreamingResponse:
    """The projects in the import's columns: edit and import again."""
    return _table(s, "projects", "xlsx")


@router.get("/projects.csv")
def projects_csv(s: SessionDep, encoding: Encoding = "utf-8") -> StreamingResponse:
    return _table(s, "projects", "csv", encoding)


@router.get("/visits.xlsx")
def visits_xlsx(s: SessionDep) -> StreamingResponse:
    return _table(s, "visits", "xlsx")


@router.get("/visits.csv")
def visits_csv(s: SessionDep, encoding: Encoding = "utf-8") -> StreamingResponse:
    return _table(s, "visits", "csv", encoding)


def _import(s: SessionDep, st: StateDep, kind: str, file: UploadFile, dry_run: bool) -> JSONResponse:
    data = file.file.read(st.settings.max_upload_bytes + 1)
    report = imports.run(
        s, st.registry, kind, file.filename or "upload", data, dry_run=dry_run,
        max_bytes=st.settings.max_upload_bytes,
    )  # fmt: skip
    body = ImportRead.model_validate(report).model_dump(mode="json")
    if report.status == "rejected":  # nothing was created; the audit chain keeps the refused attempt
        return problems.import_rejected(body)
    return JSONResponse(body, status_code=201 if report.status == "imported" else 200)


@router.post("/projects/import", status_code=201)
def import_projects(
    s: SessionDep, st: StateDep, file: Annotated[UploadFile, File()], dry_run: bool = False
) -> JSONResponse:
    """Every row checked first; on any error nothing is imported and each row's problems are listed."""
    return _import(s, st, "projects", file, dry_run)


@router.post("/visits/import", status_code=201)
def import_visits(
    s: SessionDep, st: StateDep, file: Annotated[UploadFile, File()], dry_run: bool = False
) -> JSONResponse:
    return _import(s, st, "visits", file, dry_run)


@router.get("/visits")
def visits(s: SessionDep, village_id: DbInt | None = None) -> list[VisitRead]:
    where = [Visit.village_id == village_id] if village_id else []
    return [VisitRead.model_validate(x) for x in service.rows(s, Visit, *where)]


@router.post("/visits", status_code=201)
def record_visit(body: VisitIn, s: SessionDep, st: StateDep) -> VisitRead:
    return VisitRead.model_validate(service.record_visit(s, st.registry, body))


@router.post("/visits/{visit_id}/photos", status_code=201)
def add_photos(
    visit_id: DbInt, s: SessionDep, st: StateDep, file: Annotated[list[UploadFile], File()]
) -> VisitRead:
    """Photos of a visit (JPEG or PNG), kept in the region's content-addressed evidence store."""
    service.get(s, Visit, visit_id)  # refuse before reading any bytes
    uploads = [
        (f.file.read(st.settings.max_upload_bytes + 1), f.content_type or "", f.filename)
        for f in file[: service.MAX_PHOTOS + 1]
    ]
    return VisitRead.model_validate(service.add_photos(s, st.store, visit_id, uploads))


@router.get("/visits/{visit_id}/photos/{sha256}")
def visit_photo(visit_id: DbInt, sha256: str, s: SessionDep, st: StateDep) -> Response:
    body, media = service.photo(s, st.store, visit_id, sha256)
    return Response(body, media_type=media, headers={"cache-control": "private, max-age=86400"})


def _decision(s: SessionDep, d: Decision) -> DecisionRead:
    steps = service.steps_of(s, d.id)
    out = DecisionRead.model_validate(d)
    out.steps = [StepRead.model_validate(x) for x in steps]
    out.next_step = None if d.status == "rejected" else deliberation.next_step([x.step for x in steps])
    return out


@router.get("/decisions")
def decisions(s: SessionDep, village_id: DbInt | None = None) -> list[DecisionRead]:
    where = [Decision.village_id == village_id] if village_id else []
    return [_decision(s, d) for d in service.rows(s, Decision, *where)]


@router.post("/decisions", status_code=201)
def create_decision(body: DecisionIn, s: SessionDep) -> DecisionRead:
    return _decision(s, service.create_decision(s, body))


@router.get("/decisions/{decision_id}")
def get_decision(decision_id: DbInt, s: SessionDep) -> DecisionRead:
    return _decision(s, service.get(s, Decision, decision_id))


@router.post("/decisions/{decision_id}/steps", status_code=201)
def record_step(decision_id: DbInt, body: StepIn, s: SessionDep) -> DecisionRead:
    return _decision(s, service.record_step(s, decision_id, body))


@router.get("/decisions/{decision_id}/record.pdf")
def decision_pdf(decision_id: DbInt, s: SessionDep) -> StreamingResponse:
    d = service.get(s, Decision, decision_id)
    village = service.get(s, Village, d.village_id)
    region = s.get_one(Region, d.region_id)
    head = (
        s.execute(select(AuditHead.hash).where(AuditHead.region_id == d.region_id)).scalar_one_or_none() or ""
    )
    lines = [
        pdf.StepLine(
            step=x.step,
            held_on=x.held_on.isoformat(),
            attendance=f"{x.expected}/{x.present}" if x.expected else "—",
            votes=f"{x.votes_for}/{x.votes_against}/{x.abstain}",
            attendees="、".join(str(a) for a in x.attendees[:30]),
            summary=x.summary,
            attachments=len(x.attachments),
        )
        for x in service.steps_of(s, d.id)
    ]
    status = {"in_progress": "进行中", "adopted": "已通过", "rejected": "未通过", "completed": "已完成"}.get(
        d.status, d.status
    )
    rec = pdf.Record(region.name, village.name, village.town, d.title, d.matter, status, lines, head)
    return _download(pdf.decision_record(rec), "application/pdf", f"decision-{d.id}.pdf")


@router.get("/assets")
def assets(s: SessionDep, village_id: DbInt | None = None) -> list[AssetRead]:
    where = [Asset.village_id == village_id] if village_id else []
    return [AssetRead.model_validate(x) for x in service.rows(s, Asset, *where)]


@router.post("/assets", status_code=201)
def create_asset(body: AssetIn, s: SessionDep) -> AssetRead:
    return AssetRead.model_validate(service.create_asset(s, body))


def _contract(c: Contract) -> ContractRead:
    out = ContractRead.model_validate(c)
    out.schedule = ledger.schedule(service.lease(c))
    return out


@router.get("/contracts")
def contracts(s: SessionDep, village_id: DbInt | None = None) -> list[ContractRead]:
    where = [Contract.village_id == village_id] if village_id else []
    return [_contract(c) for c in service.rows(s, Contract, *where)]


@router.post("/contracts", status_code=201)
def create_contract(body: ContractIn, s: SessionDep) -> ContractRead:
    return _contract(service.create_contract(s, body))


@router.post("/contracts/{contract_id}/payments", status_code=201)
def add_payment(contract_id: DbInt, body: PaymentIn, s: SessionDep) -> ContractRead:
    service.add_payment(s, contract_id, body.paid_on, body.amount_yuan, body.note)
    return _contract(service.get(s, Contract, contract_id))


@router.get("/ledger/flags")
def flags(s: SessionDep, village_id: DbInt | None = None) -> list[FlagRead]:
    return [FlagRead(**f.__dict__) for f in service.ledger_flags(s, village_id)]


@router.get("/ledger.xlsx")
def ledger_xlsx(s: SessionDep, village_id: Annotated[DbInt | None, Query()] = None) -> StreamingResponse:
    where_c = [Contract.village_id == village_id] if village_id else []
    where_a = [Asset.village_id == village_id] if village_id else []
    names = {v.id: v.name for v in service.rows(s, Village)}
    cs = [
        (names.get(c.village_id, ""), c.counterparty, c.subject, service.lease(c))
        for c in service.rows(s, Contract, *where_c)
    ]
    assets_ = [
        (names.get(a.village_id, ""), a.kind, a.name, a.value_fen) for a in service.rows(s, Asset, *where_a)
    ]
    body = workbooks.ledger_workbook(cs, assets_, service.ledger_flags(s, village_id))
    return _download(body, XLSX_MEDIA_TYPE, "three-assets-ledger.xlsx")


@router.get("/consultations")
def consultations(s: SessionDep, village_id: DbInt | None = None) -> list[ConsultationRead]:
    where = [Consultation.village_id == village_id] if village_id else []
    return [ConsultationRead.model_validate(x) for x in service.rows(s, Consultation, *where)]


@router.post("/consultations", status_code=201)
def create_consultation(body: ConsultationIn, s: SessionDep) -> ConsultationRead:
    return ConsultationRead.model_validate(service.create_consultation(s, body))


def _opinion(scope: Scope, op: Opinion) -> OpinionRead:
    out = OpinionRead.model_validate(op)
    if scope.role not in SEES_CONTACTS:
        out.name, out.phone = mask_name(op.name), mask_phone(op.phone)
    return out


@router.get("/opinions")
def opinions(s: SessionDep, scope: CurrentScope, village_id: DbInt | None = None) -> list[OpinionRead]:
    where = [Opinion.village_id == village_id] if village_id else []
    return [_opinion(scope, x) for x in service.rows(s, Opinion, *where)]


@router.post("/opinions/{opinion_id}/to-case")
def opinion_to_case(opinion_id: DbInt, s: SessionDep, scope: CurrentScope, st: StateDep) -> OpinionRead:
    return _opinion(scope, service.opinion_to_case(s, st.registry, opinion_id, st.settings.secret_key))


@router.post("/opinions/{opinion_id}/to-decision", status_code=201)
def opinion_to_decision(
    opinion_id: DbInt, s: SessionDep, title: Annotated[str, Query(min_length=1, max_length=200)]
) -> DecisionRead:
    return _decision(s, service.opinion_to_decision(s, opinion_id, title))
