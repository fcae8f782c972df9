"""HTTP API of the PV closed loop under /api/v1/pv: cleaning robots, the O&M report, confirmation of findings
into cases, verification of a cleaning by re-inspection, and the plant's loop metrics."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field

from gongzhi.core.deps import AppState, CurrentScope, SessionDep, StateDep, api_router
from gongzhi.core.models import Role
from gongzhi.core.service import require_role
from gongzhi.db import Scope, scope_of, unit_of_work
from gongzhi.kit.sheets import XLSX_MEDIA_TYPE
from gongzhi.kit.validation import DbInt
from gongzhi.modules.pv import cleaning, dock, loop, report, report_xlsx, service
from gongzhi.modules.pv.models import PvInspection

router = api_router(prefix="/api/v1/pv", tags=["pv"])


class RobotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    robot_id: str = Field(min_length=1, max_length=40, pattern=r"^[\w.-]+$")
    rows: dict[str, float] = Field(min_length=1, max_length=500, description="row id → rail length [m]")
    broker: str = Field(default="mqtt://127.0.0.1:1883", max_length=200)
    name: str | None = Field(default=None, max_length=100)


class RobotRead(BaseModel):
    actor_id: int
    name: str
    robot_id: str
    rows: dict[str, float]
    broker: str


class DockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sn: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$", description="the dock's serial number")
    broker: str = Field(default="mqtt://127.0.0.1:1883", max_length=200)
    camera: str = Field(default="M3T", max_length=40)
    name: str | None = Field(default=None, max_length=100)


class DockRead(BaseModel):
    actor_id: int
    name: str
    sn: str
    broker: str
    camera: str


class OneClickIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dock: str | None = Field(
        default=None, max_length=64, description="the dock's actor id or serial (default: the plant's dock)"
    )
    irradiance_w_m2: float | None = Field(default=None, ge=0, le=1500, description="in the module plane")
    wind_m_s: float | None = Field(default=None, ge=0, le=60)
    gimbal_pitch_deg: float = Field(
        default=-90.0, ge=-90, le=-30, description="camera pitch: -90 straight down, above an oblique flight"
    )
    classifier: service.Classifier = Field(
        default="rules",
        description="rules, or learned: the rules overruled by the shipped crop network where it is at least "
        "min_confidence confident",
    )
    min_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="with learned: the network's least confidence to rename an anomaly (default "
        f"{service.LEARNED_MIN_CONFIDENCE:g})",
    )
    positioning: service.Positioning | None = Field(
        default=None,
        description="how the modules a frame sees are named: auto, rtk or gnss (a drone without RTK); "
        "default the plant's",
    )


class OneClickRead(BaseModel):
    inspection_id: int
    status: str
    dock: str
    images: int


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["dry", "wet"] = "dry"
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None


class ConfirmRead(BaseModel):
    cleaning_cases: list[int]
    repair_cases: list[int]
    other_cases: list[int]
    findings: int
    unreviewed: int
    already: int


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inspection_id: DbInt | None = Field(
        default=None,
        description="the re-inspection flight (default: the last one flown for this case over its rows)",
    )


class RecleanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["dry", "wet"] | None = Field(
        None, description="another mode for this pass; default: as before"
    )
    note: str = Field("", max_length=2000, description="for the case timeline")


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool = Field(description="true: the cleaning is good, close the case; false: send it back")
    reason: str = Field(min_length=1, max_length=2000, description="why the re-inspection's verdict is wrong")


class CaseStateRead(BaseModel):
    case_id: int
    state: str


class ReinspectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    irradiance_w_m2: float | None = Field(default=None, ge=0, le=1500, description="in the module plane")
    wind_m_s: float | None = Field(default=None, ge=0, le=60)
    classifier: service.Classifier | None = Field(
        default=None,
        description="as for one-click; default: as the inspection that found the soiling",
    )
    min_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="with learned: the network's least confidence to rename an anomaly (default: the "
        "finding inspection's, else "
        f"{service.LEARNED_MIN_CONFIDENCE:g})",
    )
    positioning: service.Positioning | None = Field(
        default=None,
        description="how the modules a frame sees are named: auto, rtk or gnss; default: as the inspection "
        "that found the soiling",
    )


class CheckRead(BaseModel):
    modules: int
    soiling_before: float
    soiling_after: float
    max_rise_k: float
    passed: bool
    reason: str
    cause: str = Field("", description="why it failed: warmer (cleaning again will not help) or soiling")


class LoopRead(BaseModel):
    takeoff_to_report_min: float | None
    detection_to_dispatch_min: float | None
    dispatch_to_cleaned_min: float | None
    cleaned_to_closed_min: float | None
    inspections: int
    cleanings: int
    verified_automatically: int
    sent_back_automatically: int
    overridden: int
    cleaned_again: int


def _robot(a: Any) -> RobotRead:
    c = a.config
    return RobotRead(actor_id=a.id, name=a.name, robot_id=c["robot_id"], rows=c["rows"], broker=c["broker"])


@router.get("/plants/{plant_id}/robots")
def robots(plant_id: DbInt, s: SessionDep) -> list[RobotRead]:
    return [_robot(a) for a in cleaning.robots_of(s, service.get_plant(s, plant_id).id)]


@router.post("/plants/{plant_id}/robots", status_code=201)
def register_robot(plant_id: DbInt, body: RobotIn, s: SessionDep) -> RobotRead:
    require_role(scope_of(s), Role.ADMIN)
    plant = service.get_plant(s, plant_id)
    return _robot(
        cleaning.register_robot(s, plant, body.robot_id, body.rows, broker=body.broker, name=body.name)
    )


def _dock(a: Any) -> DockRead:
    c = a.config
    return DockRead(actor_id=a.id, name=a.name, sn=c["sn"], broker=c["broker"], camera=c["camera"])


@router.get("/plants/{plant_id}/docks")
def docks(plant_id: DbInt, s: SessionDep) -> list[DockRead]:
    return [_dock(a) for a in dock.docks_of(s, service.get_plant(s, plant_id).id)]


@router.post("/plants/{plant_id}/docks", status_code=201)
def register_dock(plant_id: DbInt, body: DockIn, s: SessionDep) -> DockRead:
    require_role(scope_of(s), Role.ADMIN)
    plant = service.get_plant(s, plant_id)
    return _dock(
        dock.register_dock(s, plant, body.sn, broker=body.broker, camera=body.camera, name=body.name)
    )


@router.post("/plants/{plant_id}/one-click", status_code=202)
def one_click(plant_id: DbInt, body: OneClickIn, scope: CurrentScope, st: StateDep) -> OneClickRead:
    """Start the plant's dock flight ("one-click take-off") and answer once the dock has accepted it.

    A plain (sync) endpoint, so the wait for the dock's two replies (≤ 2 × 10 s) holds a worker thread, never
    the event loop, and no database transaction: the flight is queued and marked failed in units of work of
    its own. Not through the outbox: the operator is on site deciding on today's weather, so a start the dock
    refuses or never hears of must be told now (409, or 504 when it does not answer), not retried later.
    The flight itself is followed by the dock listener; poll the inspection for its progress.
    """
    require_role(scope, Role.ADMIN, Role.DISPATCHER)
    want = dock.FlightRequest(
        body.dock, body.irradiance_w_m2, body.wind_m_s, gimbal_pitch_deg=body.gimbal_pitch_deg,
        classifier=body.classifier, min_confidence=body.min_confidence, positioning=body.positioning,
    )  # fmt: skip
    return _started(st, scope, dock.one_click_inspection(st.factory, scope, plant_id, conditions=want))


def _started(st: AppState, scope: Scope, iid: int) -> OneClickRead:
    with unit_of_work(st.factory, scope) as s:
        row = s.get_one(PvInspection, iid)
        d = row.summary.get("dock", {})
        return OneClickRead(inspection_id=iid, status=row.status, dock=d["sn"], images=int(d["images"]))


@router.get("/inspections/{inspection_id}/report", response_model=None)
def inspection_report(
    inspection_id: DbInt,
    s: SessionDep,
    st: StateDep,
    format: Annotated[str, Query(pattern="^(html|pdf|xlsx)$")] = "html",
    lang: Annotated[str, Query(pattern="^(zh-CN|en)$")] = "zh-CN",
) -> Response:
    """The O&M report (巡检报告) of a finished inspection, as HTML or an A4 PDF with embedded fonts; or its
    findings as an Excel workbook (``format=xlsx``, 缺陷清单: a row per finding with its pictures, and a
    sheet of the conditions and counts; :mod:`.report_xlsx`)."""
    r = report.build_report(s, inspection_id, st.store)
    if format == "xlsx":
        name = f"pv-findings-{r.plant_code}-{inspection_id}-{lang}.xlsx"
        return Response(
            report_xlsx.render_xlsx(r, lang),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if format == "pdf":
        name = f"pv-report-{r.plant_code}-{inspection_id}-{lang}.pdf"
        return Response(
            report.render_pdf(r, lang),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Response(report.render_html(r, lang), media_type="text/html; charset=utf-8")


@router.post("/inspections/{inspection_id}/confirm")
def confirm(inspection_id: DbInt, body: ConfirmIn, s: SessionDep, st: StateDep) -> ConfirmRead:
    """Turn the reviewed findings (accepted or reclassified) into cases; robots get the cleaning at once."""
    window = None
    if body.not_before is not None or body.not_after is not None:
        start = body.not_before or dt.datetime.now(dt.UTC)
        window = (start, body.not_after or start + dt.timedelta(days=1))
    out = loop.confirm_inspection(s, st.registry, inspection_id, mode=body.mode, window=window)
    return ConfirmRead(**{f.name: getattr(out, f.name) for f in dataclasses.fields(out)})


@router.post("/cases/{case_id}/verify-cleaning")
def verify_cleaning(case_id: DbInt, body: VerifyIn, s: SessionDep, st: StateDep) -> CheckRead:
    """Compare a re-inspection with the inspection that found the soiling: close the case or send it back."""
    check = loop.verify_cleaning(s, st.registry, case_id, body.inspection_id)
    return CheckRead(**dataclasses.asdict(check))


@router.post("/cases/{case_id}/verification-override")
def override_verification(case_id: DbInt, body: OverrideIn, s: SessionDep, st: StateDep) -> CaseStateRead:
    """Overrule the automatic verification of a cleaning (passed closes the case, not passed sends it back);
    the reason goes on the case timeline."""
    case = loop.override_verification(s, st.registry, case_id, passed=body.passed, reason=body.reason)
    return CaseStateRead(case_id=case.id, state=case.state)


@router.post("/cases/{case_id}/reclean")
def reclean(case_id: DbInt, body: RecleanIn, s: SessionDep, st: StateDep) -> CaseStateRead:
    """Send a cleaning that a re-inspection sent back to its robot again (a new command over MQTT, through
    the outbox); 400 while the robot is still on it or the case is not back at work."""
    case = loop.reclean(s, st.registry, case_id, mode=body.mode, note=body.note)
    return CaseStateRead(case_id=case.id, state=case.state)


@router.post("/cases/{case_id}/reinspection", status_code=202)
def reinspect(case_id: DbInt, body: ReinspectIn, scope: CurrentScope, st: StateDep) -> OneClickRead:
    """One-click re-inspection of a resolved cleaning case: the dock flies only over the cleaned rows.
    Answers as ``POST /plants/{id}/one-click`` does (sync, 409 refused or busy, 504 no answer)."""
    require_role(scope, Role.ADMIN, Role.DISPATCHER)
    want = dock.FlightRequest(
        None,
        body.irradiance_w_m2,
        body.wind_m_s,
        classifier=body.classifier,
        min_confidence=body.min_confidence,
        positioning=body.positioning,
    )
    return _started(st, scope, dock.reinspect_cleaning(st.factory, scope, case_id, conditions=want))


@router.get("/plants/{plant_id}/loop")
def plant_loop(plant_id: DbInt, s: SessionDep) -> LoopRead:
    """Median minutes of each step of the plant's loop: take-off → report → dispatch → cleaned → closed."""
    return LoopRead(**dataclasses.asdict(loop.loop_metrics(s, service.get_plant(s, plant_id).id)))
