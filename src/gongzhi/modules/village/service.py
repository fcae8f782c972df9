"""Use cases of village supervision; every change is recorded in the region's audit chain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases import service as cases
from gongzhi.cases.schemas import CaseCreate
from gongzhi.core import audit, evidence
from gongzhi.core.models import Role
from gongzhi.core.service import require_member, require_role
from gongzhi.db import Base, scope_of, utcnow
from gongzhi.errors import Forbidden, InvalidInput, NotFound, msg
from gongzhi.kit import filestore
from gongzhi.kit.filestore import FileStore
from gongzhi.modules.village.analytics import deliberation, ledger
from gongzhi.modules.village.models import (
    Asset,
    Consultation,
    Contract,
    Decision,
    DecisionStep,
    Milestone,
    Opinion,
    Payment,
    Project,
    Station,
    Supervisor,
    SupervisorVillage,
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
from gongzhi.registry import Registry

WRITERS = (Role.ADMIN, Role.SUPERVISOR, Role.DISPATCHER)
PHOTO_TYPES = frozenset({filestore.JPEG, filestore.PNG})
MAX_PHOTOS = 20
Upload = tuple[bytes, str, str | None]  # bytes, declared MIME type, file name
CASE_CATEGORY = "village-supervision"
T = TypeVar("T", bound=Base)


def fen(yuan: float) -> int:
    return round(yuan * 100)


def _region(s: Session) -> int:
    sc = scope_of(s)
    require_role(sc, *WRITERS)
    if sc.region_id is None:
        raise InvalidInput(msg("a region is required"))
    return sc.region_id


def _record(s: Session, rid: int, action: str, obj: str, obj_id: Any, data: dict[str, Any]) -> None:
    sc = scope_of(s)
    audit.record(
        s,
        region_id=rid,
        action=f"village.{action}",
        object_type=obj,
        object_id=obj_id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data=data,
    )


# --- who sees which villages ------------------------------------------------------------------------


def allowed_villages(s: Session) -> frozenset[int] | None:
    """The villages the caller may see and change; None for every village of the region.

    A user linked to supervisor records (监督员) is limited to their villages and their stations' villages;
    the region's admins, unlinked staff and the system see all."""
    sc = scope_of(s)
    if sc.system or sc.user_id is None or sc.role == Role.ADMIN:
        return None
    sups = s.execute(select(Supervisor.id, Supervisor.station_id).where(Supervisor.user_id == sc.user_id))
    found = sups.all()
    if not found:
        return None
    linked = select(SupervisorVillage.village_id).where(
        SupervisorVillage.supervisor_id.in_([x.id for x in found])
    )
    ids = set(s.execute(linked).scalars())
    stations = [x.station_id for x in found if x.station_id is not None]
    if stations:
        ids |= set(s.execute(select(Station.village_id).where(Station.id.in_(stations))).scalars())
    return frozenset(ids)


def _children() -> dict[type[Base], tuple[Any, type[Base]]]:
    return {
        Milestone: (Milestone.project_id, Project),
        DecisionStep: (DecisionStep.decision_id, Decision),
        Payment: (Payment.contract_id, Contract),
    }


def village_filter(s: Session, model: type[Base]) -> list[Any]:
    """Conditions that keep a restricted supervisor's queries on their own villages."""
    allowed = allowed_villages(s)
    if allowed is None:
        return []
    if model is Village:
        return [Village.id.in_(allowed)]
    if model is Supervisor:
        return [Supervisor.user_id == scope_of(s).user_id]
    column = getattr(model, "village_id", None)
    if column is not None:
        return [column.in_(allowed)]
    fk, parent = _children()[model]
    return [fk.in_(select(parent.id).where(parent.village_id.in_(allowed)))]  # type: ignore[attr-defined]


def require_unrestricted(s: Session, what: str) -> None:
    if allowed_villages(s) is not None:
        raise Forbidden(msg("a supervisor limited to their villages cannot %(what)s", what=what))


def get(s: Session, model: type[T], obj_id: int) -> T:
    stmt = select(model).where(model.id == obj_id, *village_filter(s, model))  # type: ignore[attr-defined]
    row = s.execute(stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(
            msg(
                "no %(kind)s %(obj_id)s",
                kind=model.__tablename__.removeprefix("village_").rstrip("s"),
                obj_id=obj_id,
            )
        )
    return row


def _add(s: Session, rid: int, row: T, action: str, data: dict[str, Any]) -> T:
    s.add(row)
    s.flush()
    _record(s, rid, action, row.__tablename__, row.id, data)  # type: ignore[attr-defined]
    return row


def rows(s: Session, model: type[T], *where: Any) -> list[T]:
    stmt = select(model).where(*where, *village_filter(s, model)).order_by(model.id)  # type: ignore[attr-defined]
    return list(s.execute(stmt).scalars())


# --- villages, stations, supervisors ---------------------------------------------------------------


def create_village(s: Session, data: VillageIn) -> Village:
    rid = _region(s)
    require_unrestricted(s, msg("add villages"))
    return _add(s, rid, Village(region_id=rid, **data.model_dump()), "village.create", data.model_dump())


def village_by_code(s: Session, code: str) -> Village:
    stmt = select(Village).where(Village.code == code, *village_filter(s, Village))
    row = s.execute(stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(msg("no village %(code)r", code=code))
    return row


def create_station(s: Session, data: StationIn) -> Station:
    rid = _region(s)
    require_unrestricted(s, msg("set up stations"))
    get(s, Village, data.village_id)
    return _add(s, rid, Station(region_id=rid, **data.model_dump()), "station.create", data.model_dump())


def create_supervisor(s: Session, data: SupervisorIn) -> Supervisor:
    rid = _region(s)
    require_unrestricted(s, msg("appoint supervisors"))
    for vid in data.village_ids:
        get(s, Village, vid)
    if data.station_id is not None:
        get(s, Station, data.station_id)
    require_member(s, data.user_id, rid)
    sup = _add(
        s,
        rid,
        Supervisor(region_id=rid, **data.model_dump(exclude={"village_ids"})),
        "supervisor.create",
        data.model_dump(),
    )
    for vid in dict.fromkeys(data.village_ids):
        s.add(SupervisorVillage(region_id=rid, supervisor_id=sup.id, village_id=vid))
    s.flush()
    return sup


def villages_of(s: Session, supervisor_id: int) -> list[int]:
    stmt = select(SupervisorVillage.village_id).where(SupervisorVillage.supervisor_id == supervisor_id)
    return sorted(s.execute(stmt).scalars())


# --- projects and supervision visits ---------------------------------------------------------------


def _same_village_decision(s: Session, decision_id: int, village_id: int) -> Decision:
    decision = get(s, Decision, decision_id)
    if decision.village_id != village_id:
        raise InvalidInput(msg("the decision belongs to another village"))
    return decision


def create_project(s: Session, data: ProjectIn) -> Project:
    rid = _region(s)
    get(s, Village, data.village_id)
    if data.decision_id is not None:
        _same_village_decision(s, data.decision_id, data.village_id)
    fields = data.model_dump(exclude={"milestones", "budget_yuan"})
    project = _add(
        s,
        rid,
        Project(region_id=rid, budget_fen=fen(data.budget_yuan), **fields),
        "project.create",
        data.model_dump(mode="json"),
    )
    for m in data.milestones:
        s.add(
            Milestone(
                region_id=rid,
                project_id=project.id,
                name=m.name,
                due_on=m.due_on,
                done_on=m.done_on,
                amount_fen=fen(m.amount_yuan),
            )
        )
    s.flush()
    return project


def link_decision(s: Session, project_id: int, decision_id: int | None) -> Project:
    """Tie a project to the 四议两公开 decision that approved it, or open one titled after it."""
    rid = _region(s)
    project = get(s, Project, project_id)
    if decision_id is None:
        title = f"{project.name}（项目决策）"[:200]
        budget = f"{project.budget_fen / 100:.2f}"
        matter = f"项目：{project.name}；预算 {budget} 元；承建单位：{project.contractor or '待定'}"
        decision_id = create_decision(
            s, DecisionIn(village_id=project.village_id, title=title, matter=matter)
        ).id
    else:
        _same_village_decision(s, decision_id, project.village_id)
    project.decision_id = decision_id
    s.flush()
    _record(s, rid, "project.decision", "village_project", project.id, {"decision_id": decision_id})
    return project


def _own_supervisor(s: Session) -> int | None:
    sc = scope_of(s)
    if sc.user_id is None:
        return None
    stmt = select(Supervisor.id).where(Supervisor.user_id == sc.user_id).order_by(Supervisor.id).limit(1)
    return s.execute(stmt).scalar_one_or_none()


def _check_photos(s: Session, rid: int, shas: Sequence[str]) -> list[str]:
    """Photos cited by hash must be pictures this region uploaded."""
    shas = list(dict.fromkeys(shas))
    if len(shas) > MAX_PHOTOS:
        raise InvalidInput(msg("a visit keeps at most %(n)s photos", n=MAX_PHOTOS))
    evidence.require_all(s, rid, shas)
    for sha in shas:
        if evidence.get(s, sha).content_type not in PHOTO_TYPES:
            raise InvalidInput(msg("%(file)s is not a JPEG or PNG photo", file=sha[:12]))
    return shas


def record_visit(s: Session, registry: Registry, data: VisitIn) -> Visit:
    """A supervision visit; findings marked as an issue become a case for the region to handle."""
    rid = _region(s)
    village = get(s, Village, data.village_id)
    project = get(s, Project, data.project_id) if data.project_id else None
    if project is not None and project.village_id != village.id:
        raise InvalidInput(msg("the project belongs to another village"))
    supervisor_id = data.supervisor_id if data.supervisor_id is not None else _own_supervisor(s)
    if supervisor_id is not None:
        get(s, Supervisor, supervisor_id)
    if data.issue and not data.findings.strip():
        raise InvalidInput(msg("an issue needs findings"))
    fields = {**data.model_dump(), "visited_at": data.visited_at or utcnow(), "supervisor_id": supervisor_id}
    fields["photos"] = _check_photos(s, rid, data.photos)
    visit = _add(
        s,
        rid,
        Visit(region_id=rid, **fields),
        "visit.record",
        {
            "village_id": village.id,
            "issue": data.issue,
            "findings": data.findings[:500],
            "photos": fields["photos"],
        },
    )
    if data.issue:
        title = (
            f"【基层监督】{village.name}{'·' + project.name if project else ''}：{data.findings.strip()[:60]}"
        )
        case = cases.create_case(
            s,
            registry,
            CaseCreate(
                title=title[:200],
                description=data.findings,
                category=CASE_CATEGORY,
                source="village:visit",
            ),
            region_id=rid,
        )
        visit.case_id = case.id
        _attach(s, case.id, fields["photos"])
    return visit


def _attach(s: Session, case_id: int, shas: Sequence[str]) -> None:
    """A visit's photos go with the case its findings became (the handler sees what the supervisor saw)."""
    for sha in shas:
        ev = evidence.get(s, sha)
        cases.add_file(s, case_id, ev.sha256, ev.filename, ev.content_type, ev.size)


def add_photos(s: Session, files: FileStore, visit_id: int, uploads: Sequence[Upload]) -> Visit:
    """Check and keep photos of a visit in the evidence store (JPEG or PNG, within the store's size limit)."""
    rid = _region(s)
    visit = get(s, Visit, visit_id)
    if len(visit.photos) + len(uploads) > MAX_PHOTOS:
        raise InvalidInput(msg("a visit keeps at most %(n)s photos", n=MAX_PHOTOS))
    added = []
    for data, content_type, filename in uploads:
        kind = filestore.sniff(data[:16]) if data else None
        if filestore.normalize_type(content_type) not in PHOTO_TYPES or (data and kind not in PHOTO_TYPES):
            raise filestore.FileRejected(
                "unsupported_type", f"{filename or 'the file'}: photos must be JPEG or PNG"
            )
        added.append(evidence.store(s, files, data, content_type, filename).sha256)
    new = [x for x in dict.fromkeys(added) if x not in visit.photos]
    visit.photos = [*visit.photos, *new]
    if visit.case_id is not None:
        _attach(s, visit.case_id, new)
    s.flush()
    _record(s, rid, "visit.photos", "village_visit", visit.id, {"added": new})
    return visit


def photo(s: Session, files: FileStore, visit_id: int, sha256: str) -> tuple[bytes, str]:
    """A photo of a visit the caller may see."""
    visit = get(s, Visit, visit_id)
    if sha256 not in visit.photos:
        raise NotFound(msg("no such photo on this visit"))
    ev = evidence.get(s, sha256)
    return files.open(ev.sha256), ev.content_type


# --- 四议两公开 -------------------------------------------------------------------------------------


def create_decision(s: Session, data: DecisionIn, opinion_id: int | None = None) -> Decision:
    rid = _region(s)
    get(s, Village, data.village_id)
    return _add(
        s,
        rid,
        Decision(region_id=rid, opinion_id=opinion_id, **data.model_dump()),
        "decision.create",
        data.model_dump(),
    )


def steps_of(s: Session, decision_id: int) -> list[DecisionStep]:
    steps = rows(s, DecisionStep, DecisionStep.decision_id == decision_id)
    return sorted(steps, key=lambda x: deliberation.ORDER.index(x.step))


def record_step(s: Session, decision_id: int, data: StepIn) -> Decision:
    """Record the next step; out-of-order steps and meetings without quorum are refused."""
    rid = _region(s)
    decision = get(s, Decision, decision_id)
    if decision.status == "rejected":
        raise InvalidInput(msg("this matter was voted down; open a new decision to propose it again"))
    done = [x.step for x in steps_of(s, decision_id)]
    rec = deliberation.StepRecord(
        data.step, data.expected, data.present, data.votes_for, data.votes_against, data.abstain
    )
    found = deliberation.problems(rec, done)
    if found:
        raise InvalidInput("; ".join(found))
    s.add(
        DecisionStep(
            region_id=rid, decision_id=decision_id, recorded_by=scope_of(s).username, **data.model_dump()
        )
    )
    if data.step in deliberation.VOTING and not deliberation.adopted(rec):
        decision.status = "rejected"
    elif data.step == "disclose_result":
        decision.status = "completed"
    elif data.step == "representatives":
        decision.status = "adopted"
    s.flush()
    _record(s, rid, "decision.step", "village_decision", decision_id, data.model_dump(mode="json"))
    return decision


# --- three-assets ledger ---------------------------------------------------------------------------


def create_asset(s: Session, data: AssetIn) -> Asset:
    rid = _region(s)
    get(s, Village, data.village_id)
    fields = data.model_dump(exclude={"value_yuan"})
    return _add(
        s,
        rid,
        Asset(region_id=rid, value_fen=fen(data.value_yuan), **fields),
        "asset.create",
        data.model_dump(),
    )


def create_contract(s: Session, data: ContractIn) -> Contract:
    rid = _region(s)
    get(s, Village, data.village_id)
    if data.ends_on <= data.starts_on:
        raise InvalidInput(msg("a contract must end after it starts"))
    if data.previous_id:
        get(s, Contract, data.previous_id)
    if data.asset_id is not None:
        get(s, Asset, data.asset_id)
    fields = data.model_dump(exclude={"annual_rent_yuan"})
    row = Contract(region_id=rid, annual_rent_fen=fen(data.annual_rent_yuan), **fields)
    return _add(s, rid, row, "contract.create", data.model_dump(mode="json"))


def add_payment(s: Session, contract_id: int, paid_on: date, amount_yuan: float, note: str) -> Payment:
    rid = _region(s)
    get(s, Contract, contract_id)
    row = Payment(
        region_id=rid, contract_id=contract_id, paid_on=paid_on, amount_fen=fen(amount_yuan), note=note
    )
    return _add(
        s,
        rid,
        row,
        "payment.add",
        {"contract_id": contract_id, "paid_on": paid_on.isoformat(), "amount_yuan": amount_yuan},
    )


def lease(c: Contract) -> ledger.Lease:
    return ledger.Lease(
        c.id, c.starts_on, c.ends_on, c.annual_rent_fen, c.escalation_pct, c.previous_id, c.disclosed_on
    )


def ledger_flags(s: Session, village_id: int | None = None) -> list[ledger.Flag]:
    where = [Contract.village_id == village_id] if village_id else []
    contracts = rows(s, Contract, *where)
    ids = [c.id for c in contracts]
    pays = rows(s, Payment, Payment.contract_id.in_(ids)) if ids else []
    return ledger.flags(
        [lease(c) for c in contracts], [(p.contract_id, p.paid_on, p.amount_fen) for p in pays]
    )


# --- public opinion ---------------------------------------------------------------------------------


def create_consultation(s: Session, data: ConsultationIn) -> Consultation:
    rid = _region(s)
    get(s, Village, data.village_id)
    return _add(
        s,
        rid,
        Consultation(region_id=rid, **data.model_dump()),
        "consultation.create",
        data.model_dump(mode="json"),
    )


def submit_opinion(
    s: Session, village: Village, text: str, name: str, phone: str, consultation_id: int | None
) -> Opinion:
    if not text.strip():
        raise InvalidInput(msg("an opinion needs text"))
    if consultation_id is not None:
        c = get(s, Consultation, consultation_id)
        if c.village_id != village.id:
            raise NotFound(msg("no such consultation in this village"))
        if c.open_until is not None and c.open_until < date.today():
            raise InvalidInput(msg("this consultation is closed"))
    row = Opinion(
        region_id=village.region_id,
        village_id=village.id,
        consultation_id=consultation_id,
        text=text.strip(),
        name=name,
        phone=phone,
    )
    s.add(row)
    s.flush()
    _record(
        s,
        village.region_id,
        "opinion.submit",
        "village_opinion",
        row.id,
        {"village_id": village.id, "consultation_id": consultation_id},
    )
    return row


def opinion_to_case(s: Session, registry: Registry, opinion_id: int, secret: str) -> Opinion:
    """Turn an opinion into a citizen request (routed like any other) and so a case."""
    from gongzhi.modules.intake import service as intake
    from gongzhi.modules.intake.repository import categories
    from gongzhi.modules.intake.schemas import RequestIn

    rid = _region(s)
    op = get(s, Opinion, opinion_id)
    if op.case_id is not None:
        raise InvalidInput(msg("this opinion is already a case"))
    village = get(s, Village, op.village_id)
    if categories(s, rid):
        data = RequestIn(
            subject=f"{village.name}民意：{op.text[:30]}",
            description=op.text,
            reporter_name=op.name,
            reporter_phone=op.phone,
        )
        op.case_id = intake.submit(s, registry, data, region_id=rid, channel="opinion", secret=secret).case.id
    else:
        case = cases.create_case(
            s,
            registry,
            CaseCreate(
                title=f"{village.name}民意：{op.text[:30]}",
                description=op.text,
                category="opinion",
                reporter_name=op.name,
                reporter_phone=op.phone,
                source="village:opinion",
            ),
            region_id=rid,
        )
        op.case_id = case.id
    _record(s, rid, "opinion.to_case", "village_opinion", op.id, {"case_id": op.case_id})
    return op


def opinion_to_decision(s: Session, opinion_id: int, title: str) -> Decision:
    rid = _region(s)
    op = get(s, Opinion, opinion_id)
    if op.decision_id is not None:
        raise InvalidInput(msg("this opinion already started a decision"))
    decision = create_decision(
        s, DecisionIn(village_id=op.village_id, title=title, matter=op.text), opinion_id=op.id
    )
    op.decision_id = decision.id
    _record(s, rid, "opinion.to_decision", "village_opinion", op.id, {"decision_id": decision.id})
    return decision


def open_consultations(s: Session, village_id: int) -> Sequence[Consultation]:
    today = date.today()
    return [
        c
        for c in rows(s, Consultation, Consultation.village_id == village_id)
        if c.open_until is None or c.open_until >= today
    ]
