"""HTTP API of the PV module under /api/v1/pv: plants and their layout, flight plans, flight uploads,
inspection results and the review of findings. Each endpoint parses, calls one service, returns."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import File, Form, Path, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from gongzhi.core.deps import SessionDep, StateDep, api_router
from gongzhi.errors import InvalidInput, msg
from gongzhi.kit.sheets import XLSX_MEDIA_TYPE
from gongzhi.kit.validation import DbInt
from gongzhi.modules.pv import defects, loop, results, service, strings
from gongzhi.modules.pv.io import kml
from gongzhi.modules.pv.io.qgc_plan import write_qgc_plan_json
from gongzhi.modules.pv.io.wpml import write_wpml_kmz
from gongzhi.modules.pv.schemas import (
    PLANT_POSITIONING,
    ChangesRead,
    DefectRead,
    FindingRead,
    FindingReview,
    FlightPlanRead,
    InspectionList,
    InspectionRead,
    LedgerRead,
    ModuleHistoryRead,
    ModuleVisitRead,
    PlanFormat,
    PlantCreate,
    PlantEconomicsIn,
    PlantEconomicsRead,
    PlantRead,
    PlantUpdate,
    ReanalysisCreate,
    StringMapRead,
)
from gongzhi.web import problems

router = api_router(prefix="/api/v1/pv", tags=["pv"])
GEOJSON = "application/geo+json"
CSV = "text/csv; charset=utf-8"
KMZ = "application/vnd.google-earth.kmz"


def _download(body: bytes | str, media_type: str, filename: str) -> Response:
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


# --- plants -----------------------------------------------------------------------------------------


@router.get("/plants")
def plants(s: SessionDep) -> list[PlantRead]:
    return [PlantRead.model_validate(p) for p in service.list_plants(s)]


@router.post("/plants", status_code=201)
def create_plant(body: PlantCreate, s: SessionDep) -> PlantRead:
    """Generate a plant's layout from its roof outline (GeoJSON Polygon) and the layout parameters."""
    return PlantRead.model_validate(service.create_plant(s, body))


@router.post("/plants/import", status_code=201)
def import_plant(
    s: SessionDep,
    st: StateDep,
    file: Annotated[UploadFile, File()],
    code: Annotated[str | None, Form(max_length=60, pattern=r"^[\w.-]+$")] = None,
    name: Annotated[str | None, Form(max_length=200)] = None,
    polygon: Annotated[str | None, Form(max_length=1_000_000)] = None,
    positioning: Annotated[str, Form(max_length=20, description=PLANT_POSITIONING)] = "auto",
) -> PlantRead:
    """Import a plant from a layout file: GeoJSON (roof and modules), or CSV with the roof ``polygon``."""
    data = file.file.read(st.settings.max_upload_bytes + 1)
    if not data:
        raise InvalidInput(msg("the layout file is empty"))
    outline = _json_form(polygon, "polygon") if polygon else None
    plant = service.import_plant(
        s,
        data,
        file.filename or "plant.geojson",
        code=code,
        name=name,
        polygon=outline,
        positioning=positioning,
    )
    return PlantRead.model_validate(plant)


def _json_form(raw: str, field: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{field} must be GeoJSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(msg("%(field)s must be a GeoJSON object", field=field))
    return value


@router.get("/plants/{plant_id}")
def get_plant(plant_id: DbInt, s: SessionDep) -> PlantRead:
    return PlantRead.model_validate(service.get_plant(s, plant_id))


@router.patch("/plants/{plant_id}")
def update_plant(plant_id: DbInt, body: PlantUpdate, s: SessionDep) -> PlantRead:
    """Correct a plant's name, module type, tilt, rows' azimuth or orientation (admins and dispatchers):
    the modules keep their ids and places, their outlines follow; the next inspections use the new
    properties, those already analysed keep their results."""
    return PlantRead.model_validate(service.update_plant(s, plant_id, body))


@router.get("/plants/{plant_id}/economics")
def get_plant_economics(plant_id: DbInt, s: SessionDep) -> PlantEconomicsRead:
    """The cleaning economics the plant's page, defect ledger and O&M reports use: the operator's values,
    else the platform's defaults (``defaults`` names those)."""
    return PlantEconomicsRead.model_validate(loop.economics_read(service.get_plant(s, plant_id)))


@router.put("/plants/{plant_id}/economics")
def put_plant_economics(plant_id: DbInt, body: PlantEconomicsIn, s: SessionDep) -> PlantEconomicsRead:
    """Set the plant's cleaning economics, all at once (admins and dispatchers): a value left out or null
    goes back to the default. Audited; the next reports use them."""
    plant = loop.set_plant_economics(s, plant_id, body.model_dump())
    return PlantEconomicsRead.model_validate(loop.economics_read(plant))


@router.put("/plants/{plant_id}/strings", response_model=StringMapRead)
def import_string_map(
    plant_id: DbInt,
    s: SessionDep,
    st: StateDep,
    file: Annotated[UploadFile, File()],
    dry_run: bool = False,
) -> Response:
    """Wire the plant's modules as a string map says (admins and dispatchers): a .xlsx or .csv with a
    module column (组件编号, or the layout CSV's ``id``) and a string column (组串, or ``string``), such as
    the plant's own layout CSV with its strings corrected. Every row is checked first; on any problem
    nothing changes and the 422 names each row and column. Modules the file leaves out keep their
    strings; strings that look mistyped come back as ``warnings``. ``dry_run`` checks without changing."""
    data = file.file.read(st.settings.max_upload_bytes + 1)
    report = strings.import_string_map(
        s, plant_id, file.filename or "strings.csv", data, dry_run=dry_run,
        max_bytes=st.settings.max_upload_bytes,
    )  # fmt: skip
    body = StringMapRead.model_validate(report).model_dump(mode="json")
    if report.status == "rejected":  # nothing changed; the audit chain keeps the refused attempt
        return problems.import_rejected(body)
    return JSONResponse(body)


@router.get("/plants/{plant_id}/layout")
def plant_layout(
    plant_id: DbInt, s: SessionDep, format: Annotated[str, Query(pattern="^(geojson|csv)$")] = "geojson"
) -> Response:
    """The plant's modules as a GeoJSON FeatureCollection (roof first) or as CSV (UTF-8 with a byte order
    mark, so that Excel and WPS read its Chinese as such; it imports again as a layout or a string map)."""
    if format == "csv":
        return _download("\ufeff" + service.layout_csv(s, plant_id), CSV, f"plant-{plant_id}.csv")
    body = json.dumps(service.layout_geojson(s, plant_id), ensure_ascii=False)
    return Response(body, media_type=GEOJSON)


def defect_read(d: defects.Defect) -> DefectRead:
    def at(s: defects.Sighting | None) -> tuple[int | None, datetime | None]:
        return (s.inspection_id, s.at) if s else (None, None)

    checked, resolved = at(d.checked), at(d.resolved_by)
    return DefectRead(
        module_id=d.module_id, modules=list(d.modules), anomaly_class=d.anomaly_class, string=d.string,
        state=d.state,
        rechecked=d.rechecked, first_inspection_id=d.first.inspection_id, first_at=d.first.at,
        last_inspection_id=d.last.inspection_id, last_at=d.last.at, checked_inspection_id=checked[0],
        checked_at=checked[1], resolved_by_inspection_id=resolved[0], resolved_at=resolved[1],
        flights_found=d.found, flights_seen=d.seen, severity=d.severity, coa=d.coa,
        delta_t_max_k=d.delta_t_max_k, delta_t_k=d.delta_t_k, est_loss_modules=d.loss_modules,
        finding_id=d.finding_id, review=d.review,
        case_id=d.case_id, case_number=d.case_number, case_state=d.case_state,
    )  # fmt: skip


@router.get("/plants/{plant_id}/defects", response_model=None)
def plant_defects(
    plant_id: DbInt,
    s: SessionDep,
    state: Annotated[str, Query(pattern="^(|open|resolved)$")] = "",
    anomaly_class: Annotated[str, Query(max_length=40)] = "",
    string: Annotated[str, Query(max_length=40)] = "",
    format: Annotated[str, Query(pattern="^(json|xlsx)$")] = "json",
    lang: Annotated[str, Query(pattern="^(zh-CN|en)$")] = "zh-CN",
) -> LedgerRead | Response:
    """The plant's defect ledger (缺陷台账): each module and class its flights found, followed from flight
    to flight (each flight by its latest analysis, false alarms left out): first and last found, last
    checked, open or resolved (by the first later flight that saw the module without it), how many
    flights found and saw it, its worst severity, CoA and ΔT, and its repair case. Open defects first.
    ``format=xlsx`` gives the same rows as a workbook in ``lang``."""
    ledger = defects.plant_ledger(s, plant_id)
    rows = defects.selected(ledger, state, anomaly_class, string)
    if format == "xlsx":
        return _download(defects.ledger_xlsx(rows, lang), XLSX_MEDIA_TYPE, f"defects-plant-{plant_id}.xlsx")
    # the energy and tariff do not matter here: the answer is in modules' worth
    loss = ledger.open_loss(service.get_plant(s, plant_id).module_count, 0.0, 0.0)
    return LedgerRead(
        plant_id=plant_id, flights=len(ledger.flights), open=ledger.count("open"),
        resolved=ledger.count("resolved"), open_loss_modules=loss.modules, open_loss_share=loss.share,
        open_not_estimated=loss.not_estimated, defects=[defect_read(d) for d in rows],
    )  # fmt: skip


ModuleId = Annotated[str, Path(max_length=40, pattern=r"^[\w.-]+$")]


@router.get("/plants/{plant_id}/modules/{module_id}")
def module_history(plant_id: DbInt, module_id: ModuleId, s: SessionDep) -> ModuleHistoryRead:
    """A module and what every finished inspection of its plant made of it, oldest flight first: its
    median, 95th percentile and maximum temperature, its temperature above its neighbours, its soiling
    index (all null for a flight that did not see it) and the findings on it."""
    module, visits = service.module_history(s, plant_id, module_id)
    return ModuleHistoryRead(
        plant_id=plant_id,
        module_id=module.module_id,
        array=module.array,
        row=module.row,
        position=module.position,
        string=module.string,
        lon=module.lon,
        lat=module.lat,
        visits=[
            ModuleVisitRead(
                inspection_id=v.inspection.id,
                flown_at=loop.inspection_time(v.inspection),
                frames_seen=v.result.frames_seen if v.result else 0,
                t_median_c=v.result.t_median_c if v.result else None,
                t_p95_c=v.result.t_p95_c if v.result else None,
                t_max_c=v.result.t_max_c if v.result else None,
                t_corrected_k=v.result.t_corrected_k if v.result else None,
                soiling_index=v.result.soiling_index if v.result else None,
                findings=[FindingRead.model_validate(f) for f in v.findings],
            )
            for v in visits
        ],
    )


@router.get("/plants/{plant_id}/flight-plan", response_model=None)
def flight_plan(
    plant_id: DbInt,
    s: SessionDep,
    camera: Annotated[str, Query(max_length=20)] = "M3T",
    altitude_m: Annotated[float | None, Query(gt=0, le=500)] = None,
    gsd_cm: Annotated[float | None, Query(gt=0, le=100)] = None,
    gimbal_pitch_deg: Annotated[float, Query(ge=-90, le=-30)] = -90.0,
    line_azimuth_deg: Annotated[float | None, Query(ge=0, lt=360)] = None,
    lines: service.LineDirection = "across_rows",
    format: PlanFormat = "json",
) -> FlightPlanRead | Response:
    """The plant's coverage flight: its summary, or the QGroundControl ``.plan`` or DJI WPML ``.kmz``; with
    ``gimbal_pitch_deg`` above −90, an oblique flight (the camera looking ahead along the lines). Its lines
    run across the module rows, or the way with the fewest turns (``lines=fewest_turns``), or on the course
    ``line_azimuth_deg`` (clockwise from north)."""
    plant, plan = service.plant_flight_plan(
        s,
        plant_id,
        camera,
        altitude_m,
        gsd_cm,
        gimbal_pitch_deg,
        line_azimuth_deg=line_azimuth_deg,
        lines=lines,
    )
    if format == "plan":
        return _download(write_qgc_plan_json(plan), "application/json", f"{plant.code}.plan")
    if format == "kmz":
        return _download(write_wpml_kmz(plan), KMZ, f"{plant.code}.kmz")
    return service.plan_summary(plan)


# --- inspections ------------------------------------------------------------------------------------


# a flight of up to MAX_FRAMES frames may come as that many files (Starlette's default stops at 1,000)
@router.post("/plants/{plant_id}/inspections", status_code=202, form_limits={"max_files": service.MAX_FRAMES})
def upload_flight(
    plant_id: DbInt,
    s: SessionDep,
    st: StateDep,
    file: Annotated[list[UploadFile], File(description="thermal frames (TIFF, R-JPEG) or zips of them")],
    camera: Annotated[str, Form(max_length=20)] = "",
    irradiance_w_m2: Annotated[float | None, Form(ge=0, le=2000)] = None,
    ambient_temp_c: Annotated[float | None, Form(ge=-60, le=70)] = None,
    wind_m_s: Annotated[float | None, Form(ge=0, le=60)] = None,
    started_at: Annotated[datetime | None, Form()] = None,
    classifier: Annotated[
        service.Classifier,
        Form(
            description="rules, or learned: the rules overruled by the shipped crop network where it is "
            "at least min_confidence confident"
        ),
    ] = "rules",
    min_confidence: Annotated[
        float | None,
        Form(
            ge=0,
            le=1,
            description="with learned: the network's least confidence to rename an anomaly (default "
            f"{service.LEARNED_MIN_CONFIDENCE:g})",
        ),
    ] = None,
    positioning: Annotated[
        service.Positioning | None,
        Form(
            description="how the modules a frame sees are named: rtk, from the frames' positions (an RTK "
            "fix); gnss, by matching frames with each other and with the ends of the rows (a drone without "
            "RTK); auto, from the positions until a frame's metadata says it is not an RTK fix, then as "
            "gnss; default the plant's (its positioning, auto unless set)"
        ),
    ] = None,
) -> InspectionRead:
    """Upload a flight: its frames become evidence, the inspection is queued and the worker analyses it;
    poll the inspection for its progress."""
    if started_at is not None and started_at.tzinfo is None:
        raise InvalidInput(msg("started_at needs a time zone offset"))
    conditions = service.FlightConditions(
        camera, irradiance_w_m2, ambient_temp_c, wind_m_s, started_at, classifier, min_confidence, positioning
    )
    inspection = results.queue_upload(s, st.store, plant_id, file, conditions)
    return InspectionRead.model_validate(inspection)


@router.get("/inspections")
def inspections(
    s: SessionDep,
    plant_id: DbInt | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> InspectionList:
    rows, total = service.list_inspections(s, plant_id, page, size)
    return InspectionList(items=[InspectionRead.model_validate(r) for r in rows], total=total)


@router.get("/inspections/{inspection_id}")
def get_inspection(inspection_id: DbInt, s: SessionDep) -> InspectionRead:
    return InspectionRead.model_validate(service.get_inspection(s, inspection_id))


@router.get("/inspections/{inspection_id}/results")
def inspection_results(
    inspection_id: DbInt,
    s: SessionDep,
    st: StateDep,
    format: Annotated[str, Query(pattern="^(geojson|csv|kml|kmz)$")] = "geojson",
    lang: Annotated[str, Query(pattern="^(zh-CN|en)$", description="the KML's language")] = "zh-CN",
) -> Response:
    """Per-module results of a finished inspection as GeoJSON (module outlines) or CSV; or its findings as
    KML (``format=kml``: a placemark per module with a finding, coloured by severity, for a field crew's
    map; false alarms left out), or as KMZ with each finding's thermal crop and photo (``format=kmz``)."""
    if format == "csv":
        return _download(results.results_csv(s, inspection_id), CSV, f"inspection-{inspection_id}.csv")
    if format == "kml":
        found = results.results_kml(s, inspection_id, lang)
        return _download(found, kml.MEDIA_TYPE, f"inspection-{inspection_id}-findings.kml")
    if format == "kmz":
        zipped = results.results_kmz(s, st.store, inspection_id, lang)
        return _download(zipped, kml.KMZ_MEDIA_TYPE, f"inspection-{inspection_id}-findings.kmz")
    body = json.dumps(results.results_geojson(s, inspection_id), ensure_ascii=False)
    return Response(body, media_type=GEOJSON)


@router.get("/inspections/{inspection_id}/changes")
def inspection_changes(inspection_id: DbInt, s: SessionDep) -> ChangesRead:
    """What changed since the plant's previous flight: the modules with a finding that are new, found
    again, no longer found (seen without one) and not seen this time (false alarms left out)."""
    inspection = service.finished_inspection(s, inspection_id)
    since = service.since_previous(s, inspection)
    if since is None:
        standing = service.standing_modules(s, inspection_id)
        return ChangesRead(inspection_id=inspection_id, previous_inspection_id=None, new=sorted(standing),
                           again=[], gone=[], unseen=[])  # fmt: skip
    return ChangesRead(
        inspection_id=inspection_id,
        previous_inspection_id=since.previous.id,
        new=sorted(since.new),
        again=sorted(since.again),
        gone=list(since.gone),
        unseen=list(since.unseen),
    )


@router.post("/inspections/{inspection_id}/reanalysis", status_code=202)
def reanalyse(inspection_id: DbInt, s: SessionDep, body: ReanalysisCreate | None = None) -> InspectionRead:
    """Queue a finished inspection's frames for analysis again, as a new inspection of the same flight
    (after the plant's parameters were corrected, or with ``positioning`` gnss for a flight flown without
    RTK, say); the first one and its findings stay as they are. Without a body, as the first time."""
    positioning = body.positioning if body is not None else None
    return InspectionRead.model_validate(service.reanalyse(s, inspection_id, positioning))


@router.get("/inspections/{inspection_id}/findings")
def inspection_findings(inspection_id: DbInt, s: SessionDep) -> list[FindingRead]:
    return [FindingRead.model_validate(f) for f in service.findings(s, inspection_id)]


@router.put("/findings/{finding_id}/review")
def review_finding(finding_id: DbInt, body: FindingReview, s: SessionDep) -> FindingRead:
    """Accept a finding, reject it as a false alarm, or change its class."""
    return FindingRead.model_validate(service.review_finding(s, finding_id, body))
