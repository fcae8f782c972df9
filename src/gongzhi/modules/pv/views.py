"""Console pages of the PV loop: plants, a plant (map, inspections and their reports, robots, loop metrics,
cleaning economics), an inspection's findings to review and confirm into cases."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, cast, get_args
from urllib.parse import urlencode

from fastapi import File, Form, Path, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gongzhi.cases.models import Alert, Case
from gongzhi.core.deps import api_router
from gongzhi.core.models import Role
from gongzhi.core.service import require_role
from gongzhi.db import utcnow
from gongzhi.errors import Conflict, InvalidInput, msg
from gongzhi.kit.validation import YUAN_MAX, DbInt
from gongzhi.modules.pv import (
    cleaning,
    defects,
    dock,
    loop,
    names,
    production,
    report,
    results,
    service,
    strings,
)
from gongzhi.modules.pv.analytics import soiling
from gongzhi.modules.pv.analytics.cameras import CAMERAS
from gongzhi.modules.pv.analytics.layout import MODULE_TYPES
from gongzhi.modules.pv.analytics.production import MIN_CALIBRATION_POINTS
from gongzhi.modules.pv.models import PvFinding, PvFrame, PvInspection, PvPlant
from gongzhi.modules.pv.schemas import (
    ENERGY_MAX_KWH_DAY,
    SOILING_RATE_MAX_PCT,
    TARIFF_MAX_YUAN_KWH,
    FindingReview,
    LayoutIn,
    PlantCreate,
    PlantUpdate,
)
from gongzhi.web import labels
from gongzhi.web.i18n import N_
from gongzhi.web.related import Related
from gongzhi.web.shell import ConsoleDep

router = api_router(include_in_schema=False)
NAV_LABEL = N_("PV plants")
REVIEW_STATUSES = {"accepted": N_("Accept"), "rejected": N_("False alarm")}
# inspection statuses (queued … failed, named as the console's error details name them), then finding
# statuses (new … reclassified), as the pages name them
STATUS_NAMES = {
    **labels.INSPECTION_STATUSES,
    "new": N_("Awaiting review"),
    "accepted": N_("Confirmed"),
    "rejected": N_("False alarm"),
    "reclassified": N_("Reclassified"),
}
# the plant page's and the defect ledger's economics for one look ("what if"), over the plant's own
# (loop.plant_economics): cost of a cleaning [yuan], tariff [yuan/kWh], energy a day [kWh] (0: estimated
# from the plant's area), soiling loss rate [% a day]; left out, the plant's own, as its reports use them
CostQuery = Annotated[float | None, Query(ge=0, le=YUAN_MAX, allow_inf_nan=False)]
TariffQuery = Annotated[float | None, Query(ge=0, le=TARIFF_MAX_YUAN_KWH, allow_inf_nan=False)]
EnergyQuery = Annotated[float | None, Query(ge=0, le=ENERGY_MAX_KWH_DAY, allow_inf_nan=False)]
RateQuery = Annotated[float | None, Query(ge=0, le=SOILING_RATE_MAX_PCT, allow_inf_nan=False)]
MODULE_TYPE_NAMES = {
    "60": N_("60 cells"),
    "72": N_("72 cells"),
    "120-half-cut": N_("120 half-cut cells"),
    "144-half-cut": N_("144 half-cut cells"),
}
LAYOUT_SOURCES = {"generated": N_("Laid out from the roof"), "imported": N_("Imported from a layout file")}
SOURCE_NAMES = {
    "upload": N_("Upload"),
    "dock": N_("Drone dock"),
    "demo-history": N_("Demo history"),
    service.REANALYSIS: N_("Analysed again"),
}


@router.get("/pv")
def plants(c: ConsoleDep) -> Response:
    return _plants_page(c)


def _plants_page(c: ConsoleDep, status_code: int = 200, **extra: Any) -> Response:
    items = service.list_plants(c.s)
    latest: dict[int, PvInspection] = {}
    for insp in c.s.execute(select(PvInspection).order_by(PvInspection.id)).scalars():
        latest[insp.plant_id] = insp
    # findings no one has reviewed yet, per plant: where an operator's attention is owed
    waiting = select(PvFinding.plant_id, func.count()).where(PvFinding.status == "new")
    to_review = {plant_id: n for plant_id, n in c.s.execute(waiting.group_by(PvFinding.plant_id))}
    extra.setdefault("plant_problem", None)
    extra.setdefault("values", {})
    return c.page(
        "pv_plants.html",
        status_code=status_code,
        plants=items,
        latest=latest,
        to_review=to_review,
        statuses=STATUS_NAMES,
        can_plan=c.me.can(*service.PLANNERS),
        module_types=list(MODULE_TYPES),
        module_type_names=MODULE_TYPE_NAMES,
        defaults=LayoutIn(),
        **extra,
    )


PLANT_CODE = re.compile(r"[\w.-]+")
"""A plant's code, as the API takes it (:class:`.schemas.PlantCreate`)."""


@router.post("/pv/plants/import")
def import_plant(
    c: ConsoleDep,
    file: Annotated[UploadFile, File()],
    roof: Annotated[UploadFile | None, File()] = None,
    code: Annotated[str, Form(max_length=60)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    positioning: Annotated[str, Form(max_length=20)] = "auto",
) -> Response:
    """Import a plant from a layout file (GeoJSON, or CSV with the roof outline as a GeoJSON file) and how
    its flights are flown from the plants page; a refusal comes back on that page, said why, with the
    fields as they were."""
    code, name = code.strip(), name.strip()
    try:
        if code and not PLANT_CODE.fullmatch(code):
            raise InvalidInput(msg("a plant code is letters, digits, '.', '_' and '-' only"))
        data = _uploaded(c, file)
        outline = _geojson(c, roof) if roof is not None and roof.filename else None
        plant = service.import_plant(
            c.s,
            data,
            file.filename or "plant.geojson",
            code=code or None,
            name=name or None,
            polygon=outline,
            positioning=positioning,
        )
    except (InvalidInput, Conflict) as exc:  # refused before anything was kept
        c.s.rollback()
        problem = {"form": "import", "detail": labels.detail(c.lang, exc.detail)}
        return _plants_page(
            c,
            400,
            plant_problem=problem,
            values={"import": {"code": code, "name": name, "positioning": positioning}},
        )
    said = c._("Plant %(name)s: %(n)s modules imported", name=plant.name, n=plant.module_count)
    return c.done(f"/pv/plants/{plant.id}", said)


@router.post("/pv/plants/new")
def new_plant(
    c: ConsoleDep,
    roof: Annotated[UploadFile, File()],
    code: Annotated[str, Form(max_length=60)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    module_type: Annotated[str, Form(max_length=40)] = "",
    tilt_deg: Annotated[str, Form(max_length=20)] = "",
    row_azimuth_deg: Annotated[str, Form(max_length=20)] = "",
    orientation: Annotated[str, Form(max_length=20)] = "portrait",
    modules_per_string: Annotated[str, Form(max_length=20)] = "",
    positioning: Annotated[str, Form(max_length=20)] = "auto",
) -> Response:
    """Lay a plant out from its roof outline (a GeoJSON file), the layout's main parameters and how its
    flights are flown, from the plants page; the others take the API's defaults
    (:class:`.schemas.LayoutIn`)."""
    from gongzhi.web.views.cases import _validated

    given = {"module_type": module_type, "tilt_deg": tilt_deg, "row_azimuth_deg": row_azimuth_deg,
             "modules_per_string": modules_per_string}  # fmt: skip
    values = {**given, "code": code.strip(), "name": name.strip(), "orientation": orientation,
              "positioning": positioning}  # fmt: skip
    try:
        layout: dict[str, Any] = {k: v.strip() for k, v in given.items() if v.strip()}
        layout["portrait"] = orientation != "landscape"
        fields = {
            "code": values["code"],
            "name": values["name"],
            "polygon": _geojson(c, roof),
            "layout": layout,
            "positioning": positioning,
        }
        plant = service.create_plant(c.s, _validated(c, PlantCreate, fields))
    except (InvalidInput, Conflict) as exc:
        c.s.rollback()
        problem = {"form": "new", "detail": labels.detail(c.lang, exc.detail)}
        return _plants_page(c, 400, plant_problem=problem, values={"new": values})
    said = c._("Plant %(name)s: %(n)s modules laid out", name=plant.name, n=plant.module_count)
    return c.done(f"/pv/plants/{plant.id}", said)


def _uploaded(c: ConsoleDep, file: UploadFile) -> bytes:
    """A form's file, refused when empty or over the upload limit."""
    data = file.file.read(c.st.settings.max_upload_bytes + 1)
    if not data or len(data) > c.st.settings.max_upload_bytes:
        raise InvalidInput(
            msg("%(filename)s is empty or larger than the upload limit", filename=file.filename)
        )
    return data


def _geojson(c: ConsoleDep, file: UploadFile) -> dict[str, Any]:
    """A form's GeoJSON file as an object."""
    data = _uploaded(c, file)
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            msg("%(filename)s is not GeoJSON: %(error)s", filename=file.filename, error=str(exc))
        ) from exc
    if not isinstance(value, dict):
        raise InvalidInput(
            msg("%(filename)s is not GeoJSON: it does not hold an object", filename=file.filename)
        )
    return value


@router.get("/pv/plants/{plant_id:int}")
def plant(
    c: ConsoleDep,
    plant_id: DbInt,
    cost: CostQuery = None,
    tariff: TariffQuery = None,
    energy: EnergyQuery = None,
    rate: RateQuery = None,
) -> Response:
    """The plant's page; its cleaning economics are the plant's own (:func:`.loop.plant_economics`) unless
    ``cost``, ``tariff``, ``energy`` or ``rate`` [% a day] are given, for this look only."""
    return _plant_page(c, plant_id, {"cost": cost, "tariff": tariff, "energy": energy, "rate": rate})


@router.post("/pv/plants/{plant_id:int}/economics")
def plant_economics(
    c: ConsoleDep,
    plant_id: DbInt,
    cost: Annotated[str, Form(max_length=30)] = "",
    tariff: Annotated[str, Form(max_length=30)] = "",
    energy: Annotated[str, Form(max_length=30)] = "",
    rate: Annotated[str, Form(max_length=30)] = "",
    action: Annotated[str, Form(max_length=10)] = "try",
) -> Response:
    """The plant page's economics form: ``action=save`` keeps the values as the plant's own
    (:func:`.loop.set_plant_economics`; a blank field is the default), anything else shows the page at
    them without keeping them. A refusal comes back on the page, said why."""
    from gongzhi.web.views.cases import _validated

    typed = {"cost": cost.strip(), "tariff": tariff.strip(), "energy": energy.strip(), "rate": rate.strip()}
    try:
        form = _validated(c, _EconomicsForm, {k: v for k, v in typed.items() if v})
    except InvalidInput as exc:
        problem = labels.detail(c.lang, exc.detail)
        return _plant_page(c, plant_id, status_code=400, econ_problem=problem, econ_typed=typed)
    given = form.model_dump()
    if action != "save":
        query = urlencode({k: _typed(v) for k, v in given.items() if v is not None})
        return c.done(f"/pv/plants/{plant_id}{'?' + query if query else ''}#economics")
    # each field to its column, in the column's units (the rate a fraction a day); blank: the default
    own = {
        loop.ECONOMICS_COLUMNS[_FORM_FIELDS[k]]: None if v is None else v / _FORM_SCALE.get(k, 1.0)
        for k, v in given.items()
    }
    loop.set_plant_economics(c.s, plant_id, own)
    said = c._("Cleaning economics saved: this page, the defect ledger and the next reports use them")
    return c.done(f"/pv/plants/{plant_id}#economics", said)


class _EconomicsForm(BaseModel):
    """The plant page's economics form, in its units (the rate in % a day); a field left blank is None."""

    model_config = ConfigDict(extra="forbid")

    cost: float | None = Field(default=None, ge=0, le=YUAN_MAX, allow_inf_nan=False)
    tariff: float | None = Field(default=None, ge=0, le=TARIFF_MAX_YUAN_KWH, allow_inf_nan=False)
    energy: float | None = Field(default=None, ge=0, le=ENERGY_MAX_KWH_DAY, allow_inf_nan=False)
    rate: float | None = Field(default=None, ge=0, le=SOILING_RATE_MAX_PCT, allow_inf_nan=False)


@router.post("/pv/plants/{plant_id:int}/production")
def import_production(
    c: ConsoleDep,
    plant_id: DbInt,
    file: Annotated[UploadFile, File()],
    zone: Annotated[str, Form(max_length=20)] = "",
    timezone: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    """Import a production file from the plant page; bad rows come back listed on the page."""
    try:
        data = _uploaded(c, file)
        out = production.import_production(
            c.s, plant_id, data, file.filename or "", zone=zone or None, timezone=timezone or None
        )
    except InvalidInput as exc:  # refused before anything was written
        problem = {"detail": labels.detail(c.lang, exc.detail), "errors": exc.extra.get("errors", [])}
        return _plant_page(c, plant_id, status_code=400, import_problem=problem)
    message = c._(
        "Imported %(n)s rows (%(new)s new, %(old)s replaced); the worker recomputes the soiling rate",
        n=out.rows,
        new=out.inserted,
        old=out.replaced,
    )
    return c.done(f"/pv/plants/{plant_id}#production", message)


@router.post("/pv/plants/{plant_id:int}/parameters")
def plant_parameters(
    c: ConsoleDep,
    plant_id: DbInt,
    name: Annotated[str, Form(max_length=200)] = "",
    module_type: Annotated[str, Form(max_length=40)] = "",
    tilt_deg: Annotated[str, Form(max_length=20)] = "",
    row_azimuth_deg: Annotated[str, Form(max_length=20)] = "",
    orientation: Annotated[str, Form(max_length=20)] = "",
    modules_per_string: Annotated[str, Form(max_length=20)] = "",
    positioning: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Correct the plant's name and layout properties from its page (:func:`.service.update_plant`), and
    wire it again when a string length is given; a refusal comes back on the page, said why."""
    from gongzhi.web.views.cases import _validated

    fields: dict[str, Any] = {"name": name.strip(), "module_type": module_type, "tilt_deg": tilt_deg.strip(),
                              "row_azimuth_deg": row_azimuth_deg.strip(),
                              "modules_per_string": modules_per_string.strip(),
                              "positioning": positioning}  # fmt: skip
    fields = {k: v for k, v in fields.items() if v}
    if orientation in ("portrait", "landscape"):
        fields["portrait"] = orientation == "portrait"
    try:
        service.update_plant(c.s, plant_id, _validated(c, PlantUpdate, fields))
    except InvalidInput as exc:
        c.s.rollback()
        return _plant_page(c, plant_id, status_code=400, params_problem=labels.detail(c.lang, exc.detail))
    said = c._("Plant parameters saved: the next inspections use them")
    return c.done(f"/pv/plants/{plant_id}", said)


@router.get("/pv/plants/{plant_id:int}/strings")
def plant_wiring(c: ConsoleDep, plant_id: DbInt, show: Annotated[str, Query(max_length=20)] = "") -> Response:
    """The plant's strings as its modules are wired now (:func:`.strings.wiring`): a map with each string
    in a colour its neighbours do not share, and a table of the strings with the arrays and rows they
    span, whether their modules lie in one piece (a string in two is most likely mistyped) and the open
    defects of the plant's defect ledger on each (:func:`.defects.by_string`); ``show=defective`` lists
    only the strings with open defects (a large plant has hundreds of strings)."""
    p = service.get_plant(c.s, plant_id)
    layout = service.plant_layout(c.s, p)
    rows = strings.wiring(layout)
    ledger = defects.plant_ledger(c.s, p.id)
    on_string = defects.by_string(ledger)
    colour = {mid: r.colour for r in rows for mid in r.modules}
    titles = {m.id: f"{m.id} · {m.string}" for m in layout.modules}
    lang = _report_lang(c)
    marked: set[str] = set()  # the open defects' modules, outlined; their tooltips name the class too
    for d in ledger.defects:
        for mid in d.modules if d.state == "open" else ():
            marked.add(mid)
            if mid in titles:  # a finding's module may have left the layout since
                titles[mid] += f" · {report.class_name(d.anomaly_class, lang)}"
    outlines = report.layout_modules(c.s, p)
    mapped = outlines.recoloured([colour[mid] for mid in outlines.ids])
    sizes = [len(r.modules) for r in rows]
    return c.page(
        "pv_strings.html",
        plant=p,
        rows=[r for r in rows if r.string in on_string] if show == "defective" else rows,
        all_rows=len(rows),
        defective=show == "defective",
        sizes=(min(sizes), max(sizes)) if sizes else (0, 0),
        broken=[r for r in rows if r.pieces > 1],
        on_string=on_string,
        offline=[r for r in rows if r.string in on_string and on_string[r.string].offline],
        map_svg=report.map_svg(
            mapped, link=f"/pv/plants/{p.id}/modules/{{id}}", titles=titles, marked=marked
        ),
        marked=bool(marked),
        string_map=_string_map(p.layout_params),
        can_plan=c.me.can(*service.PLANNERS),
        map_swatch=report.legend_svg,
    )


@router.post("/pv/plants/{plant_id:int}/strings")
def plant_strings(
    c: ConsoleDep,
    plant_id: DbInt,
    file: Annotated[UploadFile, File()],
    dry_run: Annotated[bool, Form()] = False,
) -> Response:
    """Import a string map from the plant's page (:func:`.strings.import_string_map`): the page comes back
    with what the file did or would do, its warnings, or each row's problems (nothing changed)."""
    data = file.file.read(c.st.settings.max_upload_bytes + 1)
    done = strings.import_string_map(
        c.s, plant_id, file.filename or "strings.csv", data, dry_run=dry_run,
        max_bytes=c.st.settings.max_upload_bytes,
    )  # fmt: skip
    if done.status == "rejected":  # the refused attempt stays on the audit trail
        return _plant_page(c, plant_id, status_code=400, strings_report=done)
    return _plant_page(c, plant_id, strings_report=done)


@router.post("/pv/plants/{plant_id:int}/inspections", form_limits={"max_files": service.MAX_FRAMES})
def upload_flight(
    c: ConsoleDep,
    plant_id: DbInt,
    file: Annotated[list[UploadFile], File()],
    camera: Annotated[str, Form(max_length=20)] = "",
    irradiance: Annotated[str, Form(max_length=20)] = "",
    ambient: Annotated[str, Form(max_length=20)] = "",
    wind: Annotated[str, Form(max_length=20)] = "",
    classifier: Annotated[str, Form(max_length=20)] = "rules",
    min_confidence: Annotated[str, Form(max_length=20)] = "",
    positioning: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Upload a flight flown by hand (frames, or zips of them) from the plant page: the inspection is
    queued for the worker and its page opened; a refusal comes back on the plant page, said why."""
    try:
        conditions = service.FlightConditions(
            camera, _number(irradiance, 0, 2000), _number(ambient, -60, 70), _number(wind, 0, 60), None,
            classifier, _number(min_confidence, 0, 1), positioning or None,
        )  # fmt: skip
        inspection = results.queue_upload(c.s, c.st.store, plant_id, file, conditions)
    except InvalidInput as exc:  # refused before anything was kept (the transaction is rolled back)
        c.s.rollback()
        problem = labels.detail(c.lang, exc.detail)
        return _plant_page(c, plant_id, status_code=400, flight_problem=problem)
    refused = int(inspection.summary.get("frames_refused_count", 0))
    said = c._(
        "Inspection #%(n)s: %(frames)s frames queued for analysis",
        n=inspection.id,
        frames=inspection.frame_count,
    )
    if refused:
        said += " · " + c._("broken frames left out: %(n)s", n=refused)
    return c.done(f"/pv/inspections/{inspection.id}", said, "error" if refused else "ok")


_FORM_FIELDS = {"cost": "cleaning_cost", "tariff": "tariff_per_kwh", "energy": "energy_kwh_per_day",
                "rate": "assumed_rate_per_day"}  # fmt: skip
"""The economics form's fields and the :class:`.loop.PlantEconomics` field each gives."""
_FORM_SCALE = {"rate": 100.0}
"""The form's units over the field's: the rate is typed in % a day."""


def _typed(value: float) -> str:
    """A number as a form field or a query gives it back: whole ones without a point, others in the
    fewest digits that read back as the same float (``:g`` would round to six digits)."""
    return str(int(value)) if value.is_integer() else repr(value)


def _economics(p: PvPlant, asked: dict[str, float | None]) -> dict[str, Any]:
    """The economics a page works out its figures at: each of ``asked`` (``cost``, ``tariff``,
    ``energy`` with 0 for an estimate from the roof, ``rate`` in % a day) that is given, else the plant's
    own (:func:`.loop.plant_economics`); with what its form shows: the values given or the plant's own
    (``typed``; blank for a default) and each default (``placeholder``)."""
    own, defaults = loop.plant_economics(p), loop.default_economics(p.area_m2)
    used = {k: getattr(own, name) * _FORM_SCALE.get(k, 1.0) for k, name in _FORM_FIELDS.items()}
    is_default = {k: name in own.defaults for k, name in _FORM_FIELDS.items()}
    fallback = {k: defaults[name] * _FORM_SCALE.get(k, 1.0) for k, name in _FORM_FIELDS.items()}
    typed = {k: "" if is_default[k] else _typed(v) for k, v in used.items()}
    for key, value in asked.items():
        if value is None:
            continue
        estimate = key == "energy" and value == 0
        used[key] = fallback["energy"] if estimate else value
        is_default[key] = estimate
        typed[key] = "" if estimate else _typed(value)
    placeholder = {k: _typed(round(v, 6)) for k, v in fallback.items()}
    return {
        **used,
        "typed": typed,
        "placeholder": placeholder,
        "what_if": any(v is not None for v in asked.values()),
        "estimated_energy": is_default["energy"],
        "defaults": [k for k, d in is_default.items() if d],
    }


def _plant_page(
    c: ConsoleDep,
    plant_id: int,
    asked: dict[str, float | None] | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    p = service.get_plant(c.s, plant_id)
    extra.setdefault("import_problem", None)
    extra.setdefault("flight_problem", None)
    extra.setdefault("params_problem", None)
    extra.setdefault("econ_problem", None)
    extra.setdefault("strings_report", None)
    econ = _economics(p, asked or {})
    if "econ_typed" in extra:  # the form as it was sent, refused
        econ["typed"] = extra.pop("econ_typed")
    cost, tariff, kwh_day, rate = econ["cost"], econ["tariff"], econ["energy"], econ["rate"]
    insps = list(
        c.s.execute(
            select(PvInspection).where(PvInspection.plant_id == p.id).order_by(PvInspection.id.desc())
        ).scalars()
    )
    done = [i for i in insps if i.status == "done"]
    # each inspection's findings that stand (not rejected as false alarms) by severity band
    bands = select(PvFinding.inspection_id, PvFinding.severity, func.count())
    bands = bands.where(PvFinding.plant_id == p.id, PvFinding.status != "rejected")
    found: dict[int, dict[str, int]] = {}
    for insp_id, band, count in c.s.execute(bands.group_by(PvFinding.inspection_id, PvFinding.severity)):
        found.setdefault(insp_id, {})[band] = count
    # the latest finished inspection's findings on the map, else the layout as it was added
    mapped = report.map_modules(c.s, done[0].id) if done else report.layout_modules(c.s, p)
    svg = report.map_svg(mapped, link=f"/pv/plants/{p.id}/modules/{{id}}")
    legend = report.map_legend(mapped, _report_lang(c))
    washes = production.zone_cleaning_times(c.s, p.id)  # read once for the page, its economics and forecasts
    cleaned = sorted(t for times in washes.values() for t in times)
    today = soiling.plant_day(utcnow())
    last = (
        soiling.plant_day(cleaned[-1])
        if cleaned
        else soiling.plant_day(loop.inspection_time(done[-1]))
        if done
        else None
    )
    rain = loop.PlantRain(c.s, p.id)
    if last is not None:
        last = loop.soiling_since(c.s, p.id, last, max(today, last), rain)
    advice = None
    if last is not None:
        advice = soiling.cleaning_advice(
            cleaning_cost=cost,
            rate_per_day=rate / 100,
            energy_kwh_per_day=kwh_day,
            tariff_per_kwh=tariff,
            last_cleaning=last,
            today=max(today, last),
        )
    pending = loop.awaiting_verification(c.s, p.id)
    zones = loop.zone_economics(
        c.s,
        p.id,
        cleaning_cost=cost,
        energy_kwh_per_day=kwh_day,
        tariff_per_kwh=tariff,
        assumed_rate_per_day=rate / 100,
        today=today,
        rain=rain,
        washes=washes,
    )
    forecasts = loop.zone_forecasts(c.s, p.id, zones, today=today, rain=rain, washes=washes)
    return c.page(
        "pv_plant.html",
        report_lang=_report_lang(c),
        module_type_names=MODULE_TYPE_NAMES,
        module_types=list(MODULE_TYPES),
        can_plan=c.me.can(*service.PLANNERS),
        layout_sources=LAYOUT_SOURCES,
        assumed=_assumed(c, p.layout_params),
        string_map=_string_map(p.layout_params),
        statuses=STATUS_NAMES,
        sources=SOURCE_NAMES,
        learned_min_confidence=service.LEARNED_MIN_CONFIDENCE,
        status_code=status_code,
        zones=zones,
        forecasts=forecasts,
        rain=loop.rain_span(forecasts),
        forecast_max_days=soiling.FORECAST_MAX_DAYS,
        rain_wash_mm=soiling.RAIN_WASH_MM,
        grace_days=soiling.GRACE_DAYS,
        soiling_rows=sorted(production.zone_soiling(c.s, p.id).values(), key=lambda r: r.zone),
        samples=production.sample_counts(c.s, p.id),
        calibration=loop.zone_calibration(c.s, p.id),
        min_calibration_points=MIN_CALIBRATION_POINTS,
        to_verify=[(o, case, loop.unjudged_reinspection(c.s, o.case_id)) for o, case in pending],
        verified=loop.verifications(c.s, p.id),
        can_check=c.me.can(*loop.CHECKERS),
        plant=p,
        inspections=insps,
        found_by_band=found,
        docks=dock.docks_of(c.s, p.id),
        flight=_flight_of(insps),
        last_flight=_last_flight(insps),
        can_fly=c.me.can(Role.ADMIN, Role.DISPATCHER),
        can_upload=c.me.can(*service.INSPECTORS),
        cameras=sorted(CAMERAS),
        map_svg=svg,
        map_legend=legend,
        map_swatch=report.legend_svg,
        mapped_inspection=done[0] if done else None,
        open_defects=defects.plant_ledger(c.s, p.id).count("open") if done else 0,
        robots=cleaning.robots_of(c.s, p.id),
        metrics=loop.loop_metrics(c.s, p.id),
        econ={**econ, "last": last, "today": today},
        advice=advice,
        **extra,
    )


def _string_map(params: dict[str, Any]) -> dict[str, Any] | None:
    """The string map the plant is wired by (:mod:`.strings`), its time as a datetime, or ``None``."""
    found = params.get("string_map")
    if not isinstance(found, dict) or not isinstance(found.get("at"), str):
        return None
    return {**found, "at": datetime.fromisoformat(found["at"])}


def _report_lang(c: ConsoleDep) -> str:
    """The console's language as the report's names and legends take it (``zh-CN`` or ``en``)."""
    return "zh-CN" if c.lang.code.startswith("zh") else "en"


def _assumed(c: ConsoleDep, params: dict[str, Any]) -> list[str]:
    """What a plant's layout file left out and the reader took at its default
    (:func:`.io.plant.assumed_properties`), each with the value taken, in the page's language."""
    module = str((params.get("module") or {}).get("name", ""))
    named = c._(MODULE_TYPE_NAMES[module]) if module in MODULE_TYPE_NAMES else module
    facing = c._("Portrait") if params.get("portrait", True) else c._("Landscape")
    said = {
        "module_type": c._("module type: %(t)s", t=named),
        "tilt_deg": c._("tilt: %(d)s°", d=format(float(params.get("tilt_deg") or 0), "g")),
        "portrait": c._("orientation: %(o)s", o=facing),
        "string": c._("strings: one a row, or runs of consecutive modules where the file numbered none"),
    }
    return [said[k] for k in params.get("assumed") or [] if k in said]


def _flight_of(insps: list[PvInspection]) -> PvInspection | None:
    """The plant's dock flight in progress (queued or running), if any."""
    return next((i for i in insps if i.source == dock.SOURCE and i.status in ("queued", "running")), None)


def _last_flight(insps: list[PvInspection]) -> PvInspection | None:
    return next((i for i in insps if i.source == dock.SOURCE), None)


@router.get("/pv/plants/{plant_id:int}/modules/{module_id}")
def module(c: ConsoleDep, plant_id: DbInt, module_id: Annotated[str, Path(max_length=40)]) -> Response:
    """One module's history: how its temperature above its neighbours and its soiling went over the
    plant's finished inspections, and what each found on it (with the cases made of it)."""
    p = service.get_plant(c.s, plant_id)
    m, visits = service.module_history(c.s, p.id, module_id)
    days = [soiling.plant_day(loop.inspection_time(v.inspection)).isoformat() for v in visits]
    lang = _report_lang(c)
    return c.page(
        "pv_module.html",
        plant=p,
        module=m,
        visits=visits,
        days=days,
        statuses=STATUS_NAMES,
        warmth_svg=report.trend_svg([v.result.t_corrected_k if v.result else None for v in visits], days),
        soiling_svg=report.trend_svg([v.result.soiling_index if v.result else None for v in visits], days),
        class_name=lambda cls: report.class_name(cls, lang),
        effective=service.effective_class,
    )


@router.get("/pv/plants/{plant_id:int}/defects")
def plant_defects(
    c: ConsoleDep,
    plant_id: DbInt,
    state: Annotated[str, Query(max_length=20)] = "open",
    anomaly_class: Annotated[str, Query(max_length=40)] = "",
    string: Annotated[str, Query(max_length=40)] = "",
    energy: EnergyQuery = None,
    tariff: TariffQuery = None,
) -> Response:
    """The plant's defect ledger (:func:`.defects.plant_ledger`): open defects by default, or the resolved
    ones, or all; by class and string; with the workbook of the same rows, and what the open ones cost at
    the plant's daily energy and tariff (its own, :func:`.loop.plant_economics`, unless ``energy`` [kWh],
    0 for an estimate from its area, or ``tariff`` [yuan/kWh] are given for this look)."""
    p = service.get_plant(c.s, plant_id)
    ledger = defects.plant_ledger(c.s, p.id)
    econ = _economics(p, {"energy": energy, "tariff": tariff})
    state = state if state in (*defects.STATES, "all") else "open"
    rows = defects.selected(ledger, "" if state == "all" else state, anomaly_class.strip(), string.strip())
    query = {"state": state, "anomaly_class": anomaly_class.strip(), "string": string.strip()}
    lang = _report_lang(c)
    workbook = {k: v for k, v in query.items() if v and v != "all"} | {"format": "xlsx", "lang": lang}
    return c.page(
        "pv_defects.html",
        plant=p,
        ledger=ledger,
        rows=rows,
        query=query,
        classes=sorted({d.anomaly_class for d in ledger.defects}),
        class_name=lambda cls: report.class_name(cls, lang),
        statuses=STATUS_NAMES,
        workbook=f"/api/v1/pv/plants/{p.id}/defects?{urlencode(workbook)}",
        loss=ledger.open_loss(p.module_count, econ["energy"], econ["tariff"]),
        econ=econ,
    )


@router.get("/pv/plants/{plant_id:int}/plan")
def plan(
    c: ConsoleDep,
    plant_id: DbInt,
    camera: Annotated[str, Query(max_length=20)] = "M3T",
    altitude_m: Annotated[str, Query(max_length=20)] = "",
    gsd_cm: Annotated[str, Query(max_length=20)] = "",
    gimbal_pitch_deg: Annotated[str, Query(max_length=20)] = "",
    lines: Annotated[str, Query(max_length=20)] = "",
    line_azimuth_deg: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The plant's coverage flight for a camera, from a target GSD (by default the IEC TS 62446-3 screening
    minimum) or an altitude, straight down or oblique, its lines across the rows, the fewest turns way or on
    a course: its figures, its path over the plant, and the QGroundControl and DJI files to fly it (the
    API's ``flight-plan``, same parameters)."""
    p = service.get_plant(c.s, plant_id)
    values = {"camera": camera, "altitude_m": altitude_m.strip(), "gsd_cm": gsd_cm.strip(),
              "gimbal_pitch_deg": gimbal_pitch_deg.strip(), "lines": lines.strip(),
              "line_azimuth_deg": line_azimuth_deg.strip()}  # fmt: skip
    try:
        pitch = _number(values["gimbal_pitch_deg"], -90, -30)
        direction = values["lines"] or "across_rows"
        if direction not in get_args(service.LineDirection):
            raise InvalidInput(msg("unknown line direction %(lines)r", lines=values["lines"]))
        course = _number(values["line_azimuth_deg"], 0, 360)
        if course is not None:  # 360° is north, as the API and the files give it
            course %= 360
            values["line_azimuth_deg"] = format(course, "g")
        _, flight = service.plant_flight_plan(
            c.s, p.id, camera, _number(values["altitude_m"], 1, 500), _number(values["gsd_cm"], 0.1, 100),
            -90.0 if pitch is None else pitch, line_azimuth_deg=course,
            lines=cast(service.LineDirection, direction),
        )  # fmt: skip
    except InvalidInput as exc:
        return c.page("pv_plan.html", status_code=400, plant=p, cameras=sorted(CAMERAS), values=values,
                      summary=None, problem=labels.detail(c.lang, exc.detail))  # fmt: skip
    return c.page(
        "pv_plan.html",
        plant=p,
        cameras=sorted(CAMERAS),
        values=values,
        summary=service.plan_summary(flight),
        plan_svg=report.plan_svg(service.plant_layout(c.s, p), flight),
        query=urlencode({k: v for k, v in values.items() if v}),
        problem=None,
    )


@router.get("/pv/plants/{plant_id:int}/flight")
def flight(c: ConsoleDep, plant_id: DbInt) -> Response:
    """The progress of the plant's dock flight, polled by the plant page while the drone flies."""
    p = service.get_plant(c.s, plant_id)
    insps = list(
        c.s.execute(
            select(PvInspection).where(PvInspection.plant_id == p.id).order_by(PvInspection.id.desc())
        ).scalars()
    )
    last = _last_flight(insps)
    return c.page(
        "pv_flight.html", plant=p, flight=_flight_of(insps), last_flight=last, statuses=STATUS_NAMES
    )


@router.post("/pv/plants/{plant_id:int}/one-click")
def one_click(
    c: ConsoleDep,
    plant_id: DbInt,
    irradiance: Annotated[str, Form(max_length=20)] = "",
    wind: Annotated[str, Form(max_length=20)] = "",
    gimbal_pitch: Annotated[str, Form(max_length=20)] = "",
    classifier: Annotated[str, Form(max_length=20)] = "rules",
    min_confidence: Annotated[str, Form(max_length=20)] = "",
    positioning: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """One-click inspection from the plant page; a refusal or a silent dock comes back as an error."""
    require_role(c.me.scope, Role.ADMIN, Role.DISPATCHER)
    want = dock.FlightRequest(
        None, _number(irradiance, 0, 1500), _number(wind, 0, 60),
        classifier=service.classifier_of(classifier), min_confidence=_number(min_confidence, 0, 1),
        positioning=service.positioning_of(positioning) if positioning else None,
    )  # fmt: skip
    if (pitch := _number(gimbal_pitch, -90, -30)) is not None:
        want = replace(want, gimbal_pitch_deg=pitch)
    c.s.commit()  # nothing of this request's transaction stays open while the dock is called
    iid = dock.one_click_inspection(c.st.factory, c.me.scope, plant_id, conditions=want)
    return c.done(f"/pv/plants/{plant_id}", c._("Inspection #%(n)s: the dock has taken the flight", n=iid))


@router.post("/pv/cases/{case_id:int}/reinspect")
def reinspect(c: ConsoleDep, case_id: DbInt) -> Response:
    """Re-inspect a cleaning case's rows with the plant's dock (one click)."""
    require_role(c.me.scope, Role.ADMIN, Role.DISPATCHER)
    plant_id = cleaning.order_for_case(c.s, case_id).plant_id
    c.s.commit()  # nothing of this request's transaction stays open while the dock is called
    iid = dock.reinspect_cleaning(c.st.factory, c.me.scope, case_id)
    return c.done(f"/pv/plants/{plant_id}", c._("Inspection #%(n)s: the dock has taken the flight", n=iid))


@router.post("/pv/cases/{case_id:int}/verify")
def verify(c: ConsoleDep, case_id: DbInt) -> Response:
    """Judge a cleaning with the case's last re-inspection: closed, or back to the robot."""
    plant_id = cleaning.order_for_case(c.s, case_id).plant_id
    check = loop.verify_cleaning(c.s, c.st.registry, case_id)
    kind = "ok" if check.passed else "error"
    return c.done(f"/pv/plants/{plant_id}", check.reason, kind)


@router.post("/pv/cases/{case_id:int}/override")
def override(
    c: ConsoleDep,
    case_id: DbInt,
    passed: Annotated[str, Form(pattern="^(yes|no)$")],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Overrule the re-inspection's verdict on a cleaning, with a reason for the case timeline."""
    plant_id = cleaning.order_for_case(c.s, case_id).plant_id
    loop.override_verification(c.s, c.st.registry, case_id, passed=passed == "yes", reason=reason)
    return c.done(f"/pv/plants/{plant_id}", c._("Verification overridden"))


@router.post("/pv/cases/{case_id:int}/reclean")
def reclean(
    c: ConsoleDep, case_id: DbInt, mode: Annotated[str, Form(pattern="^(dry|wet)$")] = "dry"
) -> Response:
    """Send a sent-back cleaning to its robot again, in the mode chosen."""
    plant_id = cleaning.order_for_case(c.s, case_id).plant_id
    loop.reclean(c.s, c.st.registry, case_id, mode=mode)
    return c.done(f"/pv/plants/{plant_id}", c._("Sent to the robot again"))


def _number(raw: str, low: float, high: float) -> float | None:
    if not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(msg("%(raw)r is not a number", raw=raw)) from None
    if not low <= value <= high:
        raise InvalidInput(msg("%(raw)s is outside %(low)g … %(high)g", raw=raw, low=low, high=high))
    return value


@dataclass(frozen=True)
class FindingRow:
    """A row of an inspection's findings: one finding, or an offline string's findings together (the crew
    fixes the string once, so the operator reviews it once)."""

    findings: tuple[PvFinding, ...]

    @property
    def first(self) -> PvFinding:
        return self.findings[0]

    @property
    def modules(self) -> str:
        return service.module_span(self.findings)

    @property
    def status(self) -> str | None:
        """The members' common review status, None when they differ."""
        found = {f.status for f in self.findings}
        return found.pop() if len(found) == 1 else None

    @property
    def case_ids(self) -> list[int]:
        return sorted({f.case_id for f in self.findings if f.case_id is not None})

    def worst(self, attr: str) -> Any:
        values = [getattr(f, attr) for f in self.findings if getattr(f, attr) is not None]
        return max(values) if values else None

    @property
    def delta_t_at_least(self) -> bool:
        """Whether the row's largest ΔT is only a lower bound (``service.delta_t_lower_bound``)."""
        read = [f for f in self.findings if f.delta_t_k is not None]
        return bool(read) and service.delta_t_lower_bound(max(read, key=lambda f: f.delta_t_k or 0.0))


def finding_rows(s: Session, plant_id: int, found: Sequence[PvFinding]) -> list[FindingRow]:
    """The findings in their order, each offline string's members in one row where its first one was."""
    strings = service.offline_strings(s, plant_id, found)
    group_of = {f.id: tuple(members) for members in strings.values() for f in members}
    rows, placed = [], set()
    for f in found:
        members = group_of.get(f.id, (f,))
        if members[0].id not in placed:
            placed.add(members[0].id)
            rows.append(FindingRow(members))
    return rows


@router.get("/pv/inspections/{inspection_id:int}")
def inspection(c: ConsoleDep, inspection_id: DbInt) -> Response:
    insp = service.get_inspection(c.s, inspection_id)
    found = list(
        c.s.execute(
            select(PvFinding)
            .where(PvFinding.inspection_id == insp.id)
            .order_by(PvFinding.coa.desc(), PvFinding.delta_t_k.desc())
        ).scalars()
    )
    return c.page(
        "pv_inspection.html",
        report_lang=_report_lang(c),
        statuses=STATUS_NAMES,
        sources=SOURCE_NAMES,
        insp=insp,
        network_confidence=service.network_confidence(insp),
        plant=service.get_plant(c.s, insp.plant_id),
        findings=found,
        rows=finding_rows(c.s, insp.plant_id, found),
        with_photo=report.frames_with_photos(c.s, insp.id),
        classes=sorted(names.CLASS_NAMES),
        class_name=lambda cls: report.class_name(cls, _report_lang(c)),
        can_review=c.me.can(Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR),
        can_confirm=c.me.can(Role.ADMIN, Role.DISPATCHER),
        since=service.since_previous(c.s, insp) if insp.status == "done" else None,
        can_reanalyse=c.me.can(*service.INSPECTORS)
        and insp.status in ("done", "failed")
        and c.s.execute(select(PvFrame.id).where(PvFrame.inspection_id == insp.id).limit(1)).first()
        is not None,
    )


@router.get("/pv/findings/{finding_id:int}/thumbnail.png")
def finding_thumbnail(c: ConsoleDep, finding_id: DbInt) -> Response:
    png = report.finding_thumbnail(c.s, c.st.store, finding_id)
    return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=86400"})


@router.get("/pv/findings/{finding_id:int}/photo.png")
def finding_photo(c: ConsoleDep, finding_id: DbInt) -> Response:
    png = report.finding_photo(c.s, c.st.store, finding_id)
    return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=86400"})


@router.post("/pv/findings/{finding_id:int}/review")
def review(
    c: ConsoleDep,
    finding_id: DbInt,
    status: Annotated[str, Form(pattern="^(accepted|rejected|reclassified)$")],
    anomaly_class: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    f = service.review_finding(
        c.s,
        finding_id,
        FindingReview(status=status, anomaly_class=anomaly_class or None, note=note),
    )
    return c.done(f"/pv/inspections/{f.inspection_id}#f-{f.id}", c._("Saved"))


@router.post("/pv/inspections/{inspection_id:int}/review")
def review_together(
    c: ConsoleDep,
    inspection_id: DbInt,
    finding_id: Annotated[list[DbInt], Form(max_length=5000)],
    status: Annotated[str, Form(pattern="^(accepted|rejected|reclassified)$")],
    anomaly_class: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """One verdict for several findings of the inspection (an offline string's modules)."""
    verdict = FindingReview(status=status, anomaly_class=anomaly_class or None)
    done = service.review_findings(c.s, inspection_id, finding_id, verdict)
    return c.done(f"/pv/inspections/{inspection_id}#f-{done[0].id}", c._("Saved"))


@router.post("/pv/inspections/{inspection_id:int}/reanalyse")
def reanalyse(
    c: ConsoleDep, inspection_id: DbInt, positioning: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    """Queue the inspection's frames for analysis again (:func:`.service.reanalyse`), naming the modules as
    the form asks (as the first time when it does not say), and open the new one."""
    try:
        again = service.reanalyse(c.s, inspection_id, positioning or None)
    except (Conflict, InvalidInput) as exc:
        return c.done(f"/pv/inspections/{inspection_id}", labels.detail(c.lang, exc.detail), "error")
    said = c._("Inspection #%(n)s: the frames of #%(first)s queued for analysis again", n=again.id,
               first=inspection_id)  # fmt: skip
    return c.done(f"/pv/inspections/{again.id}", said)


@router.post("/pv/inspections/{inspection_id:int}/confirm")
def confirm(
    c: ConsoleDep, inspection_id: DbInt, mode: Annotated[str, Form(pattern="^(dry|wet)$")] = "dry"
) -> Response:
    out = loop.confirm_inspection(c.s, c.st.registry, inspection_id, mode=mode)
    message = c._("%(n)s cases created from the confirmed findings", n=len(out.cases))
    return c.done(f"/pv/inspections/{inspection_id}", message)


RELATED_INSPECTIONS = 5
"""Most inspections an alert's or a case's page links (the latest first)."""
RELATED_MODULES = 12
"""Most modules an alert's or a case's page links, with a thermal crop each (an offline string names many)."""


def alert_related(s: Session, alert: Alert) -> list[Related]:
    """The pages of a PV alert (:func:`.web.related.add_related`): :func:`finding_pages` of the findings
    that raised or bumped it; nothing for an alert no finding belongs to."""
    return finding_pages(s, select(PvFinding).where(PvFinding.alert_id == alert.id))


def case_related(s: Session, case: Case) -> list[Related]:
    """The pages of a PV repair or cleaning case: :func:`finding_pages` of the findings it was made of."""
    return finding_pages(s, select(PvFinding).where(PvFinding.case_id == case.id))


def finding_pages(s: Session, stmt: Select[PvFinding]) -> list[Related]:
    """The inspections of the findings ``stmt`` selects, the latest first, and each module's history with the
    thermal crop of its latest finding."""
    found = list(s.execute(stmt.order_by(PvFinding.inspection_id.desc(), PvFinding.id.desc())).scalars())
    inspections = list(dict.fromkeys(f.inspection_id for f in found))[:RELATED_INSPECTIONS]
    out = [Related(N_("PV inspection #%(n)s"), f"/pv/inspections/{i}", {"n": i}) for i in inspections]
    latest: dict[str, PvFinding] = {}
    for f in found:
        latest.setdefault(f.module_id, f)
    for mid, f in sorted(latest.items())[:RELATED_MODULES]:
        out.append(
            Related(
                N_("Module %(module)s and its history"),
                f"/pv/plants/{f.plant_id}/modules/{mid}",
                {"module": mid},
                image=f"/pv/findings/{f.id}/thumbnail.png" if f.evidence else None,
            )
        )
    return out
