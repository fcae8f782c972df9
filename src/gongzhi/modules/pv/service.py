"""Use cases of the PV module: plants and their layout, flight plans, inspections (upload, results) and the
operator's review of findings. Services take a scoped session and flush; the caller commits."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO, Any, Literal, Protocol, cast, get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gongzhi.core import audit, evidence
from gongzhi.core.models import Role
from gongzhi.core.service import require_role
from gongzhi.db import scope_of, utcnow
from gongzhi.errors import Conflict, InvalidInput, NotFound, msg
from gongzhi.kit import sheets
from gongzhi.kit.filestore import JPEG, TIFF, FileRejected, FileStore, display_name, sniff
from gongzhi.modules.pv.analytics import layout as lay
from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.cameras import CAMERAS
from gongzhi.modules.pv.analytics.flightplan import FlightPlan, plan_flight
from gongzhi.modules.pv.analytics.geometry import LocalFrame, clean_ring, project, signed_area
from gongzhi.modules.pv.io import plant as plant_io
from gongzhi.modules.pv.io.reader_errors import NotRadiometricError, ReaderError
from gongzhi.modules.pv.io.thermal import VISIBLE_COMPANION, flight_order, sniff_format, visible_pairs
from gongzhi.modules.pv.models import PvFinding, PvFrame, PvInspection, PvModule, PvModuleResult, PvPlant
from gongzhi.modules.pv.outcome import FindingRecord
from gongzhi.modules.pv.schemas import FindingReview, FlightPlanRead, LayoutIn, PlantCreate, PlantUpdate

PLANNERS = (Role.ADMIN, Role.DISPATCHER)
INSPECTORS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR, Role.HANDLER)
REVIEWERS = (Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR)
FRAME_SUFFIXES = {".tif": TIFF, ".tiff": TIFF, ".jpg": JPEG, ".jpeg": JPEG}
MAX_FRAMES = 5000
"""The most frames a flight holds; its upload routes take as many files (Starlette's default is 1,000)."""
FRAMES_LISTED = 50
"""Most frames an inspection's summary names among those refused at the upload (their count is kept)."""
UPLOAD_SUMMARY = (
    "frames_refused",
    "frames_refused_count",
    "visible_photos_paired",
    "visible_photos_set_aside",
    "reanalysis_of",
)
"""What the upload (or :func:`reanalyse`) writes into an inspection's summary, kept when the analysis writes
the rest."""


# --- plants -----------------------------------------------------------------------------------------


def _audit(s: Session, action: str, obj: str, obj_id: int, data: dict[str, Any]) -> None:
    sc = scope_of(s)
    assert sc.region_id is not None
    audit.record(
        s,
        region_id=sc.region_id,
        action=action,
        object_type=obj,
        object_id=obj_id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data=data,
    )


def _region(s: Session) -> int:
    rid = scope_of(s).region_id
    if rid is None:
        raise InvalidInput(msg("a region is required"))
    return rid


def polygon_ring(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    """The outer ring of a GeoJSON Polygon, of the Polygon a Feature holds, or of a FeatureCollection's one
    Polygon feature (a roof drawn in a GIS tool and saved alone) (WGS84 lon, lat)."""
    if geometry.get("type") == "FeatureCollection":
        features = geometry.get("features")
        polygons = [
            f
            for f in (features if isinstance(features, list) else [])
            if isinstance(f, dict)
            and isinstance(f.get("geometry"), dict)
            and f["geometry"].get("type") == "Polygon"
        ]
        if len(polygons) != 1:
            raise InvalidInput(
                msg(
                    "the roof's FeatureCollection holds %(n)s polygons; give the roof outline alone",
                    n=len(polygons),
                )
            )
        geometry = polygons[0]
    geom = geometry.get("geometry") if geometry.get("type") == "Feature" else geometry
    if not isinstance(geom, dict) or geom.get("type") != "Polygon":
        raise InvalidInput(msg("the plant outline must be a GeoJSON Polygon (or a Feature holding one)"))
    coords = geom.get("coordinates")
    try:
        ring = clean_ring(coords[0])  # type: ignore[index]
    except (TypeError, IndexError, ValueError) as exc:
        raise InvalidInput(f"the plant outline is not a valid polygon: {exc}") from exc
    if not all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in ring):
        raise InvalidInput(msg("the plant outline must be WGS84 longitude, latitude in degrees"))
    return ring


def layout_params(data: LayoutIn) -> lay.LayoutParams:
    if data.module_type not in lay.MODULE_TYPES:
        known = ", ".join(lay.MODULE_TYPES)
        raise InvalidInput(
            msg(
                "unknown module type %(module_type)r; known: %(known)s",
                module_type=data.module_type,
                known=known,
            )
        )
    fields = data.model_dump()
    fields["module_type"] = lay.MODULE_TYPES[data.module_type]
    return lay.LayoutParams(**fields)


def create_plant(s: Session, data: PlantCreate) -> PvPlant:
    """Generate a plant's layout from its roof outline and parameters, and keep both."""
    require_role(scope_of(s), *PLANNERS)
    positioning = positioning_of(data.positioning)
    ring = polygon_ring(data.polygon)
    try:
        layout = lay.generate_layout(ring, layout_params(data.layout), name=data.name)
    except ValueError as exc:
        raise InvalidInput(f"no layout fits this outline: {exc}") from exc
    return save_plant(
        s, data.code, data.name, layout, "generated", data.layout.model_dump(), positioning=positioning
    )


def import_plant(
    s: Session,
    content: bytes,
    filename: str,
    *,
    code: str | None = None,
    name: str | None = None,
    polygon: dict[str, Any] | None = None,
    positioning: str = "auto",
) -> PvPlant:
    """Import a plant from a layout file: GeoJSON (roof and modules) or CSV (one module a row, with the
    roof outline given as ``polygon``); ``positioning`` is how its flights are flown
    (:attr:`.PvPlant.positioning`)."""
    require_role(scope_of(s), *PLANNERS)
    known = positioning_of(positioning)
    stem = PurePosixPath(filename or "plant").stem
    layout, assumed = read_layout(content, filename or "plant.geojson", polygon)
    params = {"assumed": assumed} if assumed else {}
    return save_plant(
        s, code or _code_from(stem), name or layout.name, layout, "imported", params, positioning=known
    )


def update_plant(s: Session, plant_id: int, data: PlantUpdate) -> PvPlant:
    """Correct a plant's name or layout properties (module type, tilt, rows' azimuth, orientation): its
    modules keep their ids, strings and places, their outlines follow the new footprint, and a property
    given here is no longer among those its file left to be assumed. With ``modules_per_string`` the plant
    is wired again, as the layout generator wires it: each module's string becomes the run of that many
    consecutive modules of its row it falls in (:func:`.layout.string_id`). Inspections already analysed
    keep their results and the cases made of them; the next ones use the new properties. ``positioning``
    (how the plant's flights are flown) is the default of its next inspections'; given alone, the modules
    are left as they are. The audit entry (``pv.plant.update``) gives the old and new value of what changed
    and the properties no longer assumed (``confirmed``); an update that changes neither writes none.

    Raises
    ------
    InvalidInput
        If nothing is given, or the module type or the positioning is unknown.
    """
    require_role(scope_of(s), *PLANNERS)
    plant = get_plant(s, plant_id)
    given = data.model_dump(exclude_none=True)
    if not given:
        raise InvalidInput(
            msg(
                "give at least one of name, module_type, tilt_deg, row_azimuth_deg, portrait, "
                "modules_per_string, positioning"
            )
        )
    positioning = given.pop("positioning", None)
    if positioning is not None:
        positioning_of(positioning)
    if "module_type" in given and given["module_type"] not in lay.MODULE_TYPES:
        known = ", ".join(lay.MODULE_TYPES)
        raise InvalidInput(
            msg(
                "unknown module type %(module_type)r; known: %(known)s",
                module_type=data.module_type,
                known=known,
            )
        )
    done: dict[str, Any] = _update_layout(s, plant, given) if given else {"changed": {}}
    if positioning is not None and positioning != plant.positioning:
        done["changed"]["positioning"] = [plant.positioning, positioning]
        plant.positioning = positioning
        s.flush()
    if done != {"changed": {}}:  # the console's form sends every value it shows: saved as it was, no entry
        _audit(s, "pv.plant.update", "pv_plant", plant.id, done)
    return plant


def _update_layout(s: Session, plant: PvPlant, given: dict[str, Any]) -> dict[str, Any]:
    """:func:`update_plant`'s layout properties (``given``, checked): what changed, for the audit."""
    old = plant_layout(s, plant)
    new = replace(
        old,
        name=given.get("name", old.name),
        module_type=lay.MODULE_TYPES[given["module_type"]] if "module_type" in given else old.module_type,
        tilt_deg=given.get("tilt_deg", old.tilt_deg),
        row_azimuth_deg=given.get("row_azimuth_deg", old.row_azimuth_deg),
        portrait=given.get("portrait", old.portrait),
    )
    before, after = layout_header(old), layout_header(new)
    changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if new.name != plant.name:
        changed["name"] = [plant.name, new.name]
    per_string = given.get("modules_per_string")
    settled = set(given)  # no longer assumed: what is given here, and the strings when it wires them
    if per_string is not None:
        after["modules_per_string"] = per_string
        changed["modules_per_string"] = [plant.layout_params.get("modules_per_string"), per_string]
        settled.add("string")
    was_assumed = plant.layout_params.get("assumed", [])
    assumed = [k for k in was_assumed if k not in settled]
    # a string length wires the plant anew, in place of a string map imported before (``strings``)
    dropped = ("assumed", "string_map") if per_string is not None else ("assumed",)
    params = {k: v for k, v in plant.layout_params.items() if k not in dropped}
    plant.layout_params = {**params, **after, **({"assumed": assumed} if assumed else {})}
    plant.name, plant.tilt_deg, plant.row_azimuth_deg = new.name[:200], new.tilt_deg, new.row_azimuth_deg
    rows = s.execute(select(PvModule).where(PvModule.plant_id == plant.id).order_by(PvModule.id)).scalars()
    restrung = 0
    for row, outline in zip(rows, module_outlines(new), strict=True):
        row.outline = outline
        if per_string is not None:
            string = lay.string_id(row.array, row.row, row.position, per_string)
            if string != row.string:
                row.string, restrung = string, restrung + 1
    s.flush()
    done: dict[str, Any] = {"changed": changed}
    if confirmed := [k for k in was_assumed if k in settled]:  # assumed by the file, now given
        done["confirmed"] = confirmed
    if per_string is not None:
        done["modules_restrung"] = restrung
    return done


def read_layout(
    content: bytes, filename: str, polygon: dict[str, Any] | None = None
) -> tuple[lay.PlantLayout, list[str]]:
    """A plant layout from GeoJSON bytes, or from the rows of a CSV (UTF-8, or GB18030 as Excel and WPS
    save one on a Chinese Windows) or ``.xlsx`` workbook and the roof outline; and what the file left to
    be assumed (:func:`.io.plant.assumed_properties`), which the plant keeps in
    ``layout_params["assumed"]``.

    Raises
    ------
    InvalidInput
        If the bytes are neither, or describe no plant.
    """
    suffix = PurePosixPath(filename).suffix.lower()
    geojson = suffix in (".geojson", ".json")
    try:
        if suffix == ".xlsx" or (content[:2] == b"PK" and not geojson):
            rows = _sheet_rows(sheets.read_table(content, filename))
            text = ""
        else:
            text = content.decode("utf-8-sig") if geojson else sheets.csv_text(content)
            rows = []
    except (UnicodeDecodeError, sheets.SheetError) as exc:
        raise InvalidInput(
            msg(
                "%(filename)s: a plant layout is UTF-8 GeoJSON, CSV text or an .xlsx workbook",
                filename=filename,
            )
        ) from exc
    try:
        if text.lstrip().startswith("{"):
            collection = json.loads(text)
            return plant_io.layout_from_geojson(collection), plant_io.geojson_assumed(collection)
        if geojson:  # not a CSV by mistake either
            raise InvalidInput(
                msg("%(filename)s is not GeoJSON: it does not start with an object", filename=filename)
            )
        if polygon is None:
            raise InvalidInput(
                msg(
                    "%(filename)s: a CSV layout needs the roof outline (a GeoJSON Polygon)", filename=filename
                )
            )
        if text:
            rows = list(csv.DictReader(io.StringIO(text)))
        return plant_io.layout_from_csv_rows(rows, polygon_ring(polygon)), plant_io.csv_assumed(rows)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise InvalidInput(f"{filename} is not a plant layout: {exc}") from exc


def _sheet_rows(table: list[list[object]]) -> list[dict[str, str]]:
    """A workbook's rows under its header, as :func:`csv.DictReader` gives a CSV's (every cell as text,
    rows that hold nothing left out)."""
    if not table:
        return []
    header = [sheets.cell_text(c) for c in table[0]]
    rows = [{h: sheets.cell_text(c) for h, c in zip(header, r, strict=False) if h} for r in table[1:]]
    return [r for r in rows if any(r.values())]


def _code_from(stem: str) -> str:
    code = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem)[:60].strip("-")
    return code or "plant"


def save_plant(
    s: Session,
    code: str,
    name: str,
    layout: lay.PlantLayout,
    source: str,
    params: dict[str, Any],
    *,
    positioning: Positioning = "auto",
) -> PvPlant:
    """Keep a plant and its modules; ``positioning``, checked (:func:`positioning_of`), is how its flights
    are flown."""
    rid = _region(s)
    if s.execute(select(PvPlant.id).where(PvPlant.code == code)).first() is not None:
        raise Conflict(msg("a plant with code %(code)r already exists", code=code))
    ring = [list(p) for p in layout.polygon]
    plant = PvPlant(
        region_id=rid,
        code=code,
        name=name[:200],
        polygon={"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
        row_azimuth_deg=layout.row_azimuth_deg,
        tilt_deg=layout.tilt_deg,
        layout_params={**params, **layout_header(layout)},
        layout_source=source,
        module_count=len(layout.modules),
        area_m2=abs(signed_area(project(layout.polygon, layout.origin))),
        positioning=positioning,
        created_by=scope_of(s).user_id,
    )
    s.add(plant)
    s.flush()
    s.add_all(_module_rows(rid, plant.id, layout))
    s.flush()
    _audit(s, "pv.plant.create", "pv_plant", plant.id, {"code": code, "modules": plant.module_count})
    return plant


def module_outlines(layout: lay.PlantLayout) -> list[list[list[float]]]:
    """Each module's footprint as its row keeps it (``pv_modules.outline``): four [lon, lat] corners."""
    return [[list(layout.origin.to_lonlat(x, y)) for x, y in quad] for quad in layout.corners_xy().tolist()]


def _module_rows(rid: int, plant_id: int, layout: lay.PlantLayout) -> Iterator[PvModule]:
    for m, outline in zip(layout.modules, module_outlines(layout), strict=True):
        lon, lat = layout.origin.to_lonlat(m.x_m, m.y_m)
        yield PvModule(
            region_id=rid,
            plant_id=plant_id,
            module_id=m.id,
            array=m.array,
            row=m.row,
            position=m.index,
            string=m.string,
            x_m=m.x_m,
            y_m=m.y_m,
            lon=lon,
            lat=lat,
            outline=outline,
        )


def list_plants(s: Session) -> list[PvPlant]:
    return list(s.execute(select(PvPlant).order_by(PvPlant.code)).scalars())


def get_plant(s: Session, plant_id: int) -> PvPlant:
    plant = s.execute(select(PvPlant).where(PvPlant.id == plant_id)).scalar_one_or_none()
    if plant is None:
        raise NotFound(msg("no plant %(plant_id)s", plant_id=plant_id))
    return plant


def plant_layout(s: Session, plant: PvPlant) -> lay.PlantLayout:
    """The plant's layout as the analytics see it, rebuilt from its rows."""
    cols = (PvModule.module_id, PvModule.array, PvModule.row, PvModule.position, PvModule.string)
    # the columns alone, not ORM objects (a twelfth of the time on a plant of 17,150 modules: bench/pv)
    rows = s.execute(
        select(*cols, PvModule.x_m, PvModule.y_m).where(PvModule.plant_id == plant.id).order_by(PvModule.id)
    )
    modules = tuple(lay.Module(*row) for row in rows)
    h = plant.layout_params
    return lay.PlantLayout(
        plant.name,
        tuple(polygon_ring(plant.polygon)),
        plant_origin(plant),
        lay.ModuleType(**h["module"]),
        float(h["tilt_deg"]),
        float(h["row_azimuth_deg"]),
        bool(h["portrait"]),
        modules,
    )


def layout_header(layout: lay.PlantLayout) -> dict[str, Any]:
    """What a layout holds besides its modules, as stored with the plant."""
    t = layout.module_type
    return {
        "origin": [layout.origin.lon0_deg, layout.origin.lat0_deg],
        "module": {
            "name": t.name,
            "width_m": t.width_m,
            "length_m": t.length_m,
            "cells_short": t.cells_short,
            "cells_long": t.cells_long,
            "half_cut": t.half_cut,
        },
        "tilt_deg": layout.tilt_deg,
        "row_azimuth_deg": layout.row_azimuth_deg,
        "portrait": layout.portrait,
    }


def layout_geojson(s: Session, plant_id: int) -> dict[str, Any]:
    return plant_io.layout_to_geojson(plant_layout(s, get_plant(s, plant_id)))


def layout_csv(s: Session, plant_id: int) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=plant_io.CSV_FIELDS)
    writer.writeheader()
    writer.writerows(plant_io.layout_to_csv_rows(plant_layout(s, get_plant(s, plant_id))))
    return buffer.getvalue()


def plant_origin(plant: PvPlant) -> LocalFrame:
    lon0, lat0 = plant.layout_params["origin"]
    return LocalFrame(float(lon0), float(lat0))


# --- flight plans -----------------------------------------------------------------------------------


def camera_of(key: str) -> str:
    if key not in CAMERAS:
        raise InvalidInput(msg("unknown camera %(key)r; known: %(known)s", key=key, known=", ".join(CAMERAS)))
    return key


def flight_plan(
    polygon: Sequence[Sequence[float]],
    camera: str,
    *,
    altitude_m: float | None = None,
    gsd_cm: float | None = None,
    row_azimuth_deg: float | None = None,
    line_azimuth_deg: float | None = None,
    lines_across_rows: bool = True,
    **options: Any,
) -> FlightPlan:
    """A coverage flight over ``polygon`` with lines across the module rows (when their azimuth is known),
    on the course ``line_azimuth_deg``, or the fewest turns way (``lines_across_rows`` false)."""
    if altitude_m is not None and gsd_cm is not None:
        raise InvalidInput(msg("give an altitude or a GSD, not both"))
    if line_azimuth_deg is not None and not lines_across_rows:
        raise InvalidInput(msg("give a line azimuth or the fewest turns, not both"))
    try:
        return plan_flight(
            polygon,
            CAMERAS[camera_of(camera)],
            altitude_m=altitude_m,
            gsd_m=None if gsd_cm is None else gsd_cm / 100,
            row_azimuth_deg=row_azimuth_deg,
            line_azimuth_deg=line_azimuth_deg,
            lines_across_rows=lines_across_rows,
            **options,
        )
    except ValueError as exc:
        raise InvalidInput(f"no flight plan: {exc}") from exc


LineDirection = Literal["across_rows", "fewest_turns"]
"""How a plant's lines run without a given azimuth: across the module rows (the default, as Aerometrix flies
rooftops), or the way with the fewest turns (a long strip of a few rows)."""


def plant_flight_plan(
    s: Session,
    plant_id: int,
    camera: str,
    altitude_m: float | None,
    gsd_cm: float | None,
    gimbal_pitch_deg: float = -90.0,
    *,
    line_azimuth_deg: float | None = None,
    lines: LineDirection = "across_rows",
) -> tuple[PvPlant, FlightPlan]:
    """The plant's coverage flight; ``line_azimuth_deg`` [°] sets its lines' course (DJI's course angle),
    else ``lines`` says which way they run. The rows' azimuth sizes the modules along the lines either way."""
    plant = get_plant(s, plant_id)
    plan = flight_plan(
        polygon_ring(plant.polygon),
        camera,
        altitude_m=altitude_m,
        gsd_cm=gsd_cm,
        row_azimuth_deg=plant.row_azimuth_deg,
        line_azimuth_deg=line_azimuth_deg,
        lines_across_rows=lines == "across_rows",
        gimbal_pitch_deg=gimbal_pitch_deg,
        module_footprint_m=module_footprint(plant),
    )
    return plant, plan


def module_footprint(plant: PvPlant) -> tuple[float, float] | None:
    """Plan-view size of the plant's modules along × across their rows [m], which the plan keeps whole in
    two images of each line; ``None`` for a plant without modules (its roof alone)."""
    h = plant.layout_params
    if not plant.module_count or "module" not in h:
        return None
    return lay.footprint(lay.ModuleType(**h["module"]), float(h["tilt_deg"]), bool(h["portrait"]))


def plan_summary(plan: FlightPlan) -> FlightPlanRead:
    return FlightPlanRead(
        camera=plan.camera.key,
        altitude_m=round(plan.altitude_m, 1),
        gsd_cm=round(plan.gsd_m * 100, 2),
        footprint_m=(round(plan.footprint_m[0], 1), round(plan.footprint_m[1], 1)),
        line_azimuth_deg=round(plan.line_azimuth_deg, 1),
        lines=len(plan.lines),
        line_spacing_m=round(plan.line_spacing_m, 1),
        trigger_spacing_m=round(plan.trigger_spacing_m, 1),
        images=plan.image_count,
        distance_km=round(plan.total_distance_m / 1000, 2),
        line_time_min=round(plan.line_time_s / 60, 1),
        flight_time_min=round(plan.flight_time_s / 60, 1),
        total_time_min=round(plan.total_time_s / 60, 1),
        batteries=plan.batteries,
        gimbal_pitch_deg=plan.gimbal_pitch_deg,
        view_ahead_m=round(plan.view_ahead_m, 1),
        module_extent_m=round(plan.module_extent_m, 2),
    )


# --- inspections ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlightConditions:
    """What the operator reports about the flight; irradiance in the module plane [W m-2]."""

    camera: str = ""
    irradiance_w_m2: float | None = None
    ambient_temp_c: float | None = None
    wind_m_s: float | None = None
    started_at: datetime | None = None
    classifier: str = "rules"
    """What names a flagged module's anomaly: one of :data:`CLASSIFIERS`."""
    min_confidence: float | None = None
    """With ``classifier="learned"``: the network's least confidence to rename an anomaly [0–1]; default
    :data:`LEARNED_MIN_CONFIDENCE`."""
    positioning: str | None = None
    """How the modules a frame sees are named: one of :data:`POSITIONINGS`; ``None``: as the plant's
    flights are flown (:attr:`.PvPlant.positioning`)."""


Classifier = Literal["rules", "learned"]
"""An inspection's classifiers: the rules alone, or the rules overruled by the shipped crop network where it
is confident (``analytics.modules.ism_classifier``)."""

CLASSIFIERS: tuple[str, ...] = get_args(Classifier)


def classifier_of(name: str) -> Classifier:
    """``name`` when it is one of :data:`CLASSIFIERS`; raises ``InvalidInput`` naming them otherwise."""
    if name not in CLASSIFIERS:
        raise InvalidInput(
            msg("unknown classifier %(name)r; known: %(known)s", name=name, known=", ".join(CLASSIFIERS))
        )
    return cast(Classifier, name)


Positioning = Literal["auto", "rtk", "gnss"]
"""How an inspection's analysis names the modules a frame sees (``analytics.modules.POSITIONING``, not
imported here for its cost): from the frames' positions (``rtk``), by matching frames with each other and
with the ends of the rows (``gnss``, a drone without RTK), or from the positions until a frame says it is
not an RTK fix (``auto``)."""

POSITIONINGS: tuple[str, ...] = get_args(Positioning)


def positioning_of(name: str) -> Positioning:
    """``name`` when it is one of :data:`POSITIONINGS`; raises ``InvalidInput`` naming them otherwise."""
    if name not in POSITIONINGS:
        raise InvalidInput(
            msg("unknown positioning %(name)r; known: %(known)s", name=name, known=", ".join(POSITIONINGS))
        )
    return cast(Positioning, name)


LEARNED_MIN_CONFIDENCE = 0.8
"""The network's least confidence to rename an inspection's anomaly (``classifier="learned"``) when the
operator gives none."""


def min_confidence_of(classifier: str, given: float | None) -> float | None:
    """The least confidence an inspection by ``classifier`` keeps (:attr:`.PvInspection.min_confidence`):
    ``given``, else :data:`LEARNED_MIN_CONFIDENCE`, for ``"learned"``; none for the rules alone. Raises
    ``InvalidInput`` for a value outside 0–1, or one given with the rules alone (it would mean nothing)."""
    if given is not None and not 0.0 <= given <= 1.0:
        raise InvalidInput(msg("min_confidence must be between 0 and 1, got %(value)s", value=given))
    if classifier != "learned":
        if given is not None:
            raise InvalidInput(msg("min_confidence applies to the learned classifier only"))
        return None
    return LEARNED_MIN_CONFIDENCE if given is None else given


def network_confidence(inspection: PvInspection) -> float | None:
    """The crop network's least confidence to rename an anomaly of ``inspection``: ``None`` when the rules
    alone named them, else its ``min_confidence`` (:data:`LEARNED_MIN_CONFIDENCE` for a row that has
    none, as those stored before the column had: the migration writes it, a row written otherwise may
    lack it)."""
    if inspection.classifier != "learned":
        return None
    least = inspection.min_confidence
    return LEARNED_MIN_CONFIDENCE if least is None else least


def frame_files(uploads: Sequence[tuple[str, IO[bytes]]], max_bytes: int) -> Iterator[tuple[str, bytes]]:
    """Every frame of an upload: the files themselves, or the members of zip archives among them; the files,
    and each zip's members, in the order they were taken (:func:`.io.thermal.flight_order`), whatever order
    they came in.

    Raises
    ------
    InvalidInput
        On a broken archive, or a file that is neither a thermal frame (TIFF, JPEG) nor a zip.
    """
    for name, handle in sorted(uploads, key=lambda u: flight_order(u[0])):
        head = handle.read(4)
        handle.seek(0)
        if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
            yield from _zip_members(name, handle, max_bytes)
            continue
        data = handle.read(max_bytes + 1)
        if sniff(data) not in (TIFF, JPEG):
            raise InvalidInput(
                msg("%(name)s: not a thermal frame (TIFF or radiometric JPEG) nor a zip of frames", name=name)
            )
        yield name, data


def _zip_members(name: str, handle: IO[bytes], max_bytes: int) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(handle)
        members = [
            i
            for i in archive.infolist()
            if not i.is_dir()
            and PurePosixPath(i.filename).suffix.lower() in FRAME_SUFFIXES
            and not PurePosixPath(i.filename).name.startswith(".")
        ]
        for info in sorted(members, key=lambda i: flight_order(i.filename)):
            if info.file_size > max_bytes:
                raise InvalidInput(
                    msg(
                        "%(name)s: %(filename)s is larger than %(max_bytes)s bytes",
                        name=name,
                        filename=info.filename,
                        max_bytes=max_bytes,
                    )
                )
            yield PurePosixPath(info.filename).name, archive.read(info)
    # a damaged member's compressed data (zlib.error), an encrypted member (RuntimeError) or a compression
    # zipfile lacks (NotImplementedError) is as unreadable as a damaged directory
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        zlib.error,
        RuntimeError,
        NotImplementedError,
    ) as exc:
        raise InvalidInput(f"{name}: not a readable zip archive: {exc}") from exc


def create_inspection(
    s: Session,
    store: FileStore,
    plant_id: int,
    uploads: Sequence[tuple[str, IO[bytes]]],
    conditions: FlightConditions,
    *,
    check: Any = None,
) -> PvInspection:
    """Queue an inspection of ``plant_id`` from uploaded frames (files or zip archives of them).

    Every frame is kept as region evidence; ``check`` (the reader) is run on the first frame so that a
    flight of non-radiometric pictures is refused now rather than failing in the worker. A frame the
    evidence store refuses (a corrupt or cut-off file, as a card or a transfer can leave among hundreds of
    good ones) is left out and named, with the reason, in the inspection's ``summary["frames_refused"]``;
    the upload is refused only when no frame is left.
    """
    require_role(scope_of(s), *INSPECTORS)
    plant = get_plant(s, plant_id)
    if conditions.camera:
        camera_of(conditions.camera)
    classifier_of(conditions.classifier)
    positioning = positioning_of(conditions.positioning or plant.positioning)
    min_confidence = min_confidence_of(conditions.classifier, conditions.min_confidence)
    rid = _region(s)
    inspection = PvInspection(
        region_id=rid,
        plant_id=plant.id,
        camera=conditions.camera,
        classifier=conditions.classifier,
        min_confidence=min_confidence,
        positioning=positioning,
        irradiance_w_m2=conditions.irradiance_w_m2,
        ambient_temp_c=conditions.ambient_temp_c,
        wind_m_s=conditions.wind_m_s,
        started_at=conditions.started_at,
        created_by=scope_of(s).user_id,
    )
    s.add(inspection)
    s.flush()
    seq, refused, visible = 0, list[dict[str, str]](), 0
    photos: dict[str, str] = {}  # a visible-light photo's name → its digest in the store
    rows: dict[str, PvFrame] = {}
    for given, data in frame_files(uploads, store.max_bytes):
        name = display_name(given) or f"frame-{seq}"
        if _visible_photo(name, data):
            visible += 1  # the drone's visible-light photo taken with a thermal frame: not a frame
            # kept (as evidence, like the frames), to be registered onto its frame; one the store refuses is
            # counted as set aside
            with contextlib.suppress(FileRejected):
                photos.setdefault(name, evidence.store(s, store, data, JPEG, name).sha256)
            continue
        if seq >= MAX_FRAMES:
            raise InvalidInput(msg("a flight holds at most %(n)s frames", n=MAX_FRAMES))
        try:
            ev = evidence.store(s, store, data, frame_content_type(name, data), name)  # checks, then writes
        except FileRejected as exc:
            refused.append({"file": name, "reason": exc.reason, "detail": str(exc)})
            continue
        if seq == 0 and check is not None:
            check(store.path_for(ev.sha256), name)
        row = PvFrame(region_id=rid, inspection_id=inspection.id, seq=seq, sha256=ev.sha256, filename=name)
        s.add(row)
        rows.setdefault(name, row)
        seq += 1
    if seq == 0 and refused:
        first = refused[0]
        raise InvalidInput(
            msg(
                "no frame of the upload could be kept: %(file)s: %(detail)s",
                file=first["file"],
                detail=first["detail"],
            )
        )
    if seq == 0 and visible:
        raise InvalidInput(
            msg(
                "the upload holds %(n)s visible-light photos (…_W, _Z or _V.JPG) and no thermal frames "
                "(…_T.JPG)",
                n=visible,
            )
        )
    if seq == 0:
        raise InvalidInput(msg("the upload holds no thermal frames (TIFF or JPEG files, or a zip of them)"))
    if refused:
        inspection.summary = {"frames_refused": refused[:FRAMES_LISTED], "frames_refused_count": len(refused)}
    paired = visible_pairs([*rows, *photos])
    for frame, photo in paired.items():
        rows[frame].meta = {**rows[frame].meta, PHOTO_KEY: {"file": photo, "sha256": photos[photo]}}
    if paired:
        inspection.summary = {**inspection.summary, "visible_photos_paired": len(paired)}
    if visible > len(paired):
        inspection.summary = {**inspection.summary, "visible_photos_set_aside": visible - len(paired)}
    inspection.frame_count = seq
    s.flush()
    _audit(s, "pv.inspection.create", "pv_inspection", inspection.id, {"plant": plant.code, "frames": seq})
    return inspection


@dataclass(frozen=True)
class SincePrevious:
    """How an inspection's findings compare with the plant's previous finished flight's, module by module
    (false alarms left out on both sides)."""

    previous: PvInspection
    new: frozenset[str]
    """Modules with a finding now that had none then."""
    again: frozenset[str]
    """Modules with a finding now that had one then too."""
    gone: tuple[str, ...]
    """Modules with a finding then, seen now without one."""
    unseen: tuple[str, ...]
    """Modules with a finding then that this flight did not see."""


def standing_modules(s: Session, inspection_id: int) -> set[str]:
    """The modules on which an inspection has a finding that stands (not rejected as a false alarm)."""
    found = select(PvFinding.module_id).where(
        PvFinding.inspection_id == inspection_id, PvFinding.status != "rejected"
    )
    return set(s.execute(found).scalars())


def since_previous(s: Session, inspection: PvInspection) -> SincePrevious | None:
    """The comparison of a finished ``inspection``'s findings with those of the plant's latest finished
    inspection flown before it (a re-analysis of the same flight is not before it); ``None`` without one."""
    from gongzhi.modules.pv.loop import inspection_time  # the loop builds on this module

    when = inspection_time(inspection)
    done = select(PvInspection).where(
        PvInspection.plant_id == inspection.plant_id,
        PvInspection.status == "done",
        PvInspection.id != inspection.id,
    )
    earlier = [i for i in s.execute(done).scalars() if inspection_time(i) < when]
    if not earlier:
        return None
    previous = max(earlier, key=lambda i: (inspection_time(i), i.id))
    now, then = standing_modules(s, inspection.id), standing_modules(s, previous.id)
    left = sorted(then - now)
    seen_now = set(
        s.execute(
            select(PvModuleResult.module_id).where(
                PvModuleResult.inspection_id == inspection.id, PvModuleResult.module_id.in_(left)
            )
        ).scalars()
    )
    return SincePrevious(
        previous,
        frozenset(now - then),
        frozenset(now & then),
        tuple(m for m in left if m in seen_now),
        tuple(m for m in left if m not in seen_now),
    )


REANALYSIS = "reanalysis"
"""The ``source`` of an inspection made by :func:`reanalyse`."""


def reanalyse(s: Session, inspection_id: int, positioning: str | None = None) -> PvInspection:
    """Queue a finished inspection's frames for analysis again, as a new inspection of the same flight
    (same conditions, classifier, positioning and flight time; ``summary.reanalysis_of`` names the first),
    so that a plant whose parameters were corrected (:func:`update_plant`) is judged by them. The first
    inspection, its findings and the cases made of them stay as they are; the new one's findings raise
    alerts as a flight's do, but as the same sighting again: a module found again joins its live alert
    without adding to the alert's count of sightings. ``positioning``, one of :data:`POSITIONINGS`, names
    the modules another way (``gnss`` for a flight that turned out to be flown without RTK); by default
    the first inspection's.

    Raises
    ------
    InvalidInput
        If ``positioning`` is none of :data:`POSITIONINGS`.
    Conflict
        If the inspection is still queued or running, or kept no frames (a dock flight's or demo history).
    """
    require_role(scope_of(s), *INSPECTORS)
    if positioning is not None:
        positioning_of(positioning)
    first = get_inspection(s, inspection_id)
    if first.status not in ("done", "failed"):
        raise Conflict(
            msg(
                "inspection %(inspection_id)s is %(inspection_status)s: only an ended one is analysed again",
                inspection_id=first.id,
                inspection_status=first.status,
            )
        )
    frames = list(
        s.execute(select(PvFrame).where(PvFrame.inspection_id == first.id).order_by(PvFrame.seq)).scalars()
    )
    if not frames:
        raise Conflict(
            msg("inspection %(inspection_id)s kept no frames to analyse again", inspection_id=first.id)
        )
    again = PvInspection(
        region_id=first.region_id,
        plant_id=first.plant_id,
        camera=first.camera,
        source=REANALYSIS,
        classifier=first.classifier,
        min_confidence=first.min_confidence,
        positioning=first.positioning if positioning is None else positioning,
        irradiance_w_m2=first.irradiance_w_m2,
        ambient_temp_c=first.ambient_temp_c,
        wind_m_s=first.wind_m_s,
        started_at=first.started_at,
        frame_count=len(frames),
        created_by=scope_of(s).user_id,
        summary={
            **{k: v for k, v in first.summary.items() if k in UPLOAD_SUMMARY},
            "reanalysis_of": first.id,
        },
    )
    s.add(again)
    s.flush()
    s.add_all(
        PvFrame(
            region_id=f.region_id,
            inspection_id=again.id,
            seq=f.seq,
            sha256=f.sha256,
            filename=f.filename,
            meta={PHOTO_KEY: f.meta[PHOTO_KEY]} if PHOTO_KEY in f.meta else {},
        )
        for f in frames
    )
    s.flush()
    said = {"of": first.id, "frames": len(frames), "positioning": again.positioning}
    _audit(s, "pv.inspection.reanalyse", "pv_inspection", again.id, said)
    return again


def frame_content_type(name: str, data: bytes) -> str:
    """The content type a thermal frame is stored as: by its name's suffix (TIFF, JPEG), else by its
    bytes, else TIFF (which the store then checks the bytes against)."""
    return FRAME_SUFFIXES.get(PurePosixPath(name).suffix.lower()) or sniff(data) or TIFF


PHOTO_KEY = "photo"
"""A frame's ``meta`` key for the visible-light photo uploaded with it: ``{"file", "sha256"}``."""


def _visible_photo(name: str, data: bytes) -> bool:
    """Whether an uploaded file is a drone's visible-light photo: named as one
    (:data:`.VISIBLE_COMPANION`) and a JPEG without radiometric data."""
    if not VISIBLE_COMPANION.match(name) or not data.startswith(b"\xff\xd8"):
        return False
    try:
        sniff_format(data, name)
    except NotRadiometricError:
        return True
    except ReaderError:
        return False  # a damaged file: the frame checks say what is wrong with it
    return False


def list_inspections(
    s: Session, plant_id: int | None, page: int, size: int
) -> tuple[list[PvInspection], int]:
    where = [] if plant_id is None else [PvInspection.plant_id == plant_id]
    total = s.execute(select(func.count(PvInspection.id)).where(*where)).scalar_one()
    stmt = select(PvInspection).where(*where).order_by(PvInspection.id.desc())
    return list(s.execute(stmt.offset((page - 1) * size).limit(size)).scalars()), total


def get_inspection(s: Session, inspection_id: int) -> PvInspection:
    row = s.execute(select(PvInspection).where(PvInspection.id == inspection_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(msg("no inspection %(inspection_id)s", inspection_id=inspection_id))
    return row


def finished_inspection(s: Session, inspection_id: int) -> PvInspection:
    inspection = get_inspection(s, inspection_id)
    if inspection.status != "done":
        raise Conflict(
            msg(
                "inspection %(inspection_id)s is %(inspection_status)s; results come when it is done",
                inspection_id=inspection_id,
                inspection_status=inspection.status,
            )
        )
    return inspection


def findings(s: Session, inspection_id: int) -> list[PvFinding]:
    get_inspection(s, inspection_id)
    stmt = select(PvFinding).where(PvFinding.inspection_id == inspection_id)
    return list(s.execute(stmt.order_by(PvFinding.module_id, PvFinding.anomaly_class)).scalars())


@dataclass(frozen=True)
class ModuleVisit:
    """What one finished inspection of a plant made of one of its modules: its figures (``None`` when the
    flight did not see the module) and its findings there."""

    inspection: PvInspection
    result: PvModuleResult | None
    findings: list[PvFinding]


def module_history(s: Session, plant_id: int, module_id: str) -> tuple[PvModule, list[ModuleVisit]]:
    """A module of a plant and what every finished inspection of the plant made of it, oldest flight
    first: how its temperature against its neighbours and its soiling went, and what was found on it.

    Raises
    ------
    NotFound
        If the plant, or the module on it, does not exist.
    """
    from gongzhi.modules.pv.loop import inspection_time  # the loop builds on this module

    get_plant(s, plant_id)
    where = (PvModule.plant_id == plant_id, PvModule.module_id == module_id)
    module = s.execute(select(PvModule).where(*where)).scalar_one_or_none()
    if module is None:
        raise NotFound(
            msg("no module %(module_id)s on plant %(plant_id)s", module_id=module_id, plant_id=plant_id)
        )
    done = select(PvInspection).where(PvInspection.plant_id == plant_id, PvInspection.status == "done")
    inspections = sorted(s.execute(done).scalars(), key=lambda i: (inspection_time(i), i.id))
    ids = [i.id for i in inspections]
    measured = select(PvModuleResult).where(
        PvModuleResult.inspection_id.in_(ids), PvModuleResult.module_id == module_id
    )
    results = {r.inspection_id: r for r in s.execute(measured).scalars()}
    found: dict[int, list[PvFinding]] = {}
    on_it = select(PvFinding).where(PvFinding.plant_id == plant_id, PvFinding.module_id == module_id)
    for f in s.execute(on_it.order_by(PvFinding.id)).scalars():
        found.setdefault(f.inspection_id, []).append(f)
    return module, [ModuleVisit(i, results.get(i.id), found.get(i.id, [])) for i in inspections]


def review_finding(s: Session, finding_id: int, data: FindingReview) -> PvFinding:
    """Record the operator's verdict on a finding (issue 5 turns accepted findings into cases)."""
    sc = scope_of(s)
    require_role(sc, *REVIEWERS)
    finding = s.execute(select(PvFinding).where(PvFinding.id == finding_id)).scalar_one_or_none()
    if finding is None:
        raise NotFound(msg("no finding %(finding_id)s", finding_id=finding_id))
    if data.status == "reclassified" and not data.anomaly_class:
        raise InvalidInput(msg("reclassifying a finding needs the new class"))
    finding.status = data.status
    finding.reviewed_class = data.anomaly_class if data.status == "reclassified" else None
    finding.review_note = data.note
    finding.reviewed_by, finding.reviewed_at = sc.user_id, utcnow()
    _audit(s, "pv.finding.review", "pv_finding", finding.id, {"status": data.status})
    return finding


def delta_t_lower_bound(f: PvFinding | FindingRecord) -> bool:
    """Whether a finding's ΔT is only a lower bound: its pattern was smaller than a thermal camera's
    measurement spot, so it read cooler than it is (``analytics.modules.MEASUREMENT_SPOT_PX``); a stored
    finding or one of a flight analysed without a server."""
    return bool((f.details or {}).get("delta_t_lower_bound"))


class Reviewed(Protocol):
    """A finding, or what a reader of many keeps of one: its class and its review."""

    @property
    def anomaly_class(self) -> str: ...
    @property
    def reviewed_class(self) -> str | None: ...
    @property
    def status(self) -> str: ...


def effective_class(f: Reviewed) -> str:
    """A finding's class as reviewed: the operator's when they reclassified it, else the analysis'."""
    return f.reviewed_class if f.status == "reclassified" and f.reviewed_class else f.anomaly_class


def offline_strings(
    s: Session, plant_id: int, found: Sequence[PvFinding], *, strung_only: bool = False
) -> dict[str, list[PvFinding]]:
    """The findings of class ``string_offline`` by the plant string of their module (module id order); a
    module without a string is a group of its own, keyed by its id, or left out with ``strung_only``."""
    offline = [f for f in found if effective_class(f) == Anomaly.STRING_OFFLINE.value]
    string_of = module_strings(s, plant_id, [f.module_id for f in offline])
    out: dict[str, list[PvFinding]] = {}
    for f in sorted(offline, key=lambda f: f.module_id):
        string = string_of.get(f.module_id)
        if string or not strung_only:
            out.setdefault(string or f.module_id, []).append(f)
    return out


def worst_finding(found: Sequence[PvFinding]) -> PvFinding:
    """The finding of the highest class of abnormality, then severity, that grades a group of them."""
    return max(found, key=lambda f: (f.coa, f.severity))


def module_span(found: Sequence[PvFinding]) -> str:
    """The module of one finding, or the first and last of several: ``A-05-02 … A-05-19``."""
    first, last = found[0].module_id, found[-1].module_id
    return first if len(found) == 1 else f"{first} … {last}"


def module_strings(s: Session, plant_id: int, module_ids: Sequence[str]) -> dict[str, str]:
    """The plant string of each module named (modules without one are left out)."""
    if not module_ids:
        return {}
    stmt = select(PvModule.module_id, PvModule.string).where(
        PvModule.plant_id == plant_id, PvModule.module_id.in_(sorted(set(module_ids)))
    )
    return {m: st for m, st in s.execute(stmt).all() if st}


def review_findings(
    s: Session, inspection_id: int, finding_ids: Sequence[int], data: FindingReview
) -> list[PvFinding]:
    """One verdict for several findings, all of them of ``inspection_id`` (else nothing is recorded)."""
    require_role(scope_of(s), *REVIEWERS)
    ids = sorted(set(finding_ids))
    if not ids:
        raise InvalidInput(msg("name at least one finding"))
    stmt = select(PvFinding.id).where(PvFinding.inspection_id == inspection_id, PvFinding.id.in_(ids))
    if sorted(s.execute(stmt).scalars()) != ids:
        raise NotFound(
            msg("not every finding named is one of inspection %(inspection_id)s", inspection_id=inspection_id)
        )
    return [review_finding(s, i, data) for i in ids]
