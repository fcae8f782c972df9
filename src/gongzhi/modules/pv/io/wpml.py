"""DJI WPML wayline files (``.kmz``) for DJI Pilot 2, FlightHub 2 and the DJI Docks.

Format: DJI Cloud API, "DJI WPML" (developer.dji.com/doc/cloud-api-tutorial, api-reference/dji-wpml): a ZIP
holding ``wpmz/template.kml`` (the editable template) and ``wpmz/waylines.wpml`` (what the aircraft executes),
KML 2.2 documents extended by the ``wpml`` namespace, version 1.0.2. Both carry a ``wpml:missionConfig``
(flyToWaylineMode, finishAction, exitOnRCLost, takeOffSecurityHeight, globalTransitionalSpeed, droneInfo,
payloadInfo). Drone and payload enumeration values come from the Cloud API "Product Support" page.

The survey is written as a waypoint template: one Placemark per image position, each with a ``takePhoto`` of
the thermal lens on arrival; the aircraft stops at line ends and passes through the points between them. The
first point also turns the gimbal to the plan's pitch (nadir, −90°, unless the plan is oblique); the aircraft
faces along each line, so an oblique camera looks ahead.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from xml.etree import ElementTree as ET

from gongzhi.modules.pv.analytics.flightplan import FlightPlan

KML_NS = "http://www.opengis.net/kml/2.2"
WPML_NS = "http://www.dji.com/wpmz/1.0.2"
TEMPLATE_PATH = "wpmz/template.kml"
WAYLINES_PATH = "wpmz/waylines.wpml"

FinishAction = Literal["goHome", "noAction", "autoLand", "gotoFirstWaypoint"]
RcLostAction = Literal["goContinue", "executeLostAction"]


@dataclass(frozen=True, slots=True)
class DjiModel:
    """Cloud API enumeration values of an aircraft and its thermal payload (payload gimbal index 0)."""

    drone_enum: int
    drone_sub_enum: int
    payload_enum: int


DJI_MODELS = {
    "M30T": DjiModel(67, 1, 53),
    "M3T": DjiModel(77, 1, 67),
    "M4T": DjiModel(99, 1, 89),
    # Zenmuse payloads default to the Matrice 350 RTK (89-0); pass ``model`` for a Matrice 300 RTK (60-0)
    "H20T": DjiModel(89, 0, 43),
    "H30T": DjiModel(89, 0, 83),
}
"""DJI enumeration values by camera key."""

_STOP = "toPointAndStopWithDiscontinuityCurvature"
_THROUGH = "toPointAndPassWithContinuityCurvature"


@dataclass(frozen=True, slots=True)
class _Waypoint:
    lon: float
    lat: float
    turn_mode: str


def write_wpml(
    plan: FlightPlan,
    *,
    model: DjiModel | None = None,
    module_height_above_home_m: float = 0.0,
    finish_action: FinishAction = "goHome",
    exit_on_rc_lost: RcLostAction = "goContinue",
    take_off_security_height_m: float = 20.0,
    created: datetime | None = None,
) -> dict[str, bytes]:
    """Build the two WPML documents for ``plan``, keyed by their path inside the KMZ.

    Parameters
    ----------
    plan : FlightPlan
        The survey.
    model : DjiModel, optional
        Aircraft and payload enumeration; default from :data:`DJI_MODELS` by ``plan.camera.key``.
    module_height_above_home_m : float
        Height of the module plane above the take-off point [m]; heights are relative to the start point.
    finish_action : str
        What the aircraft does after the last waypoint.
    exit_on_rc_lost : str
        Whether the mission goes on (``goContinue``, usual for dock missions) when the RC link is lost.
    take_off_security_height_m : float
        Height climbed to before flying to the first waypoint [m].
    created : datetime, optional
        Creation time written to the template; default now.

    Raises
    ------
    ValueError
        If the camera has no known DJI enumeration and ``model`` is not given.
    """
    if model is None:
        if plan.camera.key not in DJI_MODELS:
            raise ValueError(f"no DJI enumeration known for camera {plan.camera.key!r}; pass model=")
        model = DJI_MODELS[plan.camera.key]
    ET.register_namespace("wpml", WPML_NS)
    stamp = str(int((created or datetime.now(UTC)).timestamp() * 1000))
    height = plan.altitude_m + module_height_above_home_m
    points = list(_waypoints(plan))

    def config() -> ET.Element:
        return _mission_config(plan, model, finish_action, exit_on_rc_lost, take_off_security_height_m)

    return {
        TEMPLATE_PATH: _document(_template(plan, config(), points, height, stamp)),
        WAYLINES_PATH: _document(_waylines(plan, config(), points, height)),
    }


def write_wpml_kmz(plan: FlightPlan, *, created: datetime | None = None, **options: Any) -> bytes:
    """The ``.kmz`` archive for ``plan``; ``options`` as for :func:`write_wpml`."""
    created = created or datetime.now(UTC)
    files = write_wpml(plan, created=created, **options)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as kmz:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=created.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            kmz.writestr(info, data)
    return buffer.getvalue()


def _waypoints(plan: FlightPlan) -> Iterator[_Waypoint]:
    for line in plan.lines:
        last = len(line.triggers) - 1
        for i, (lon, lat) in enumerate(line.triggers):
            yield _Waypoint(lon, lat, _STOP if i in (0, last) else _THROUGH)


def _mission_config(
    plan: FlightPlan, model: DjiModel, finish: str, rc_lost: str, security_height: float
) -> ET.Element:
    config = _w("missionConfig")
    _sub(config, "flyToWaylineMode", "safely")
    _sub(config, "finishAction", finish)
    _sub(config, "exitOnRCLost", rc_lost)
    if rc_lost == "executeLostAction":
        _sub(config, "executeRCLostAction", "goBack")
    _sub(config, "takeOffSecurityHeight", _num(security_height))
    _sub(config, "globalTransitionalSpeed", _num(plan.transit_speed_m_s))
    drone = _sub(config, "droneInfo")
    _sub(drone, "droneEnumValue", str(model.drone_enum))
    _sub(drone, "droneSubEnumValue", str(model.drone_sub_enum))
    payload = _sub(config, "payloadInfo")
    _sub(payload, "payloadEnumValue", str(model.payload_enum))
    _sub(payload, "payloadSubEnumValue", "0")
    _sub(payload, "payloadPositionIndex", "0")
    return config


def _template(
    plan: FlightPlan, config: ET.Element, points: list[_Waypoint], height: float, stamp: str
) -> ET.Element:
    root, document = _kml()
    _sub(document, "author", "gongzhi")
    _sub(document, "createTime", stamp)
    _sub(document, "updateTime", stamp)
    document.append(config)
    folder = ET.SubElement(document, _k("Folder"))
    _sub(folder, "templateType", "waypoint")
    _sub(folder, "templateId", "0")
    coordinates = _sub(folder, "waylineCoordinateSysParam")
    _sub(coordinates, "coordinateMode", "WGS84")
    _sub(coordinates, "heightMode", "relativeToStartPoint")
    _sub(folder, "autoFlightSpeed", _num(plan.speed_m_s))
    _sub(folder, "globalHeight", _num(height))
    _sub(folder, "caliFlightEnable", "0")
    _sub(folder, "gimbalPitchMode", "manual")
    heading = _sub(folder, "globalWaypointHeadingParam")
    _sub(heading, "waypointHeadingMode", "followWayline")
    turn = _sub(folder, "globalWaypointTurnParam")
    _sub(turn, "waypointTurnMode", _STOP)
    _sub(turn, "waypointTurnDampingDist", "0")
    _sub(folder, "globalUseStraightLine", "1")
    for index, point in enumerate(points):
        placemark = _placemark(folder, point, index)
        _sub(placemark, "height", _num(height))
        for flag in ("useGlobalHeight", "useGlobalSpeed", "useGlobalHeadingParam"):
            _sub(placemark, flag, "1")
        _sub(placemark, "useGlobalTurnParam", "0")
        _turn_param(placemark, point)
        _sub(placemark, "useStraightLine", "1")
        _action_group(placemark, index, plan.gimbal_pitch_deg)
    payload = _sub(folder, "payloadParam")
    _sub(payload, "payloadPositionIndex", "0")
    _sub(payload, "imageFormat", "ir")
    return root


def _waylines(plan: FlightPlan, config: ET.Element, points: list[_Waypoint], height: float) -> ET.Element:
    root, document = _kml()
    document.append(config)
    folder = ET.SubElement(document, _k("Folder"))
    _sub(folder, "templateId", "0")
    _sub(folder, "executeHeightMode", "relativeToStartPoint")
    _sub(folder, "waylineId", "0")
    _sub(folder, "distance", _num(plan.line_distance_m + plan.turn_distance_m))
    _sub(folder, "duration", _num(plan.line_time_s + plan.turn_time_s))
    _sub(folder, "autoFlightSpeed", _num(plan.speed_m_s))
    for index, point in enumerate(points):
        placemark = _placemark(folder, point, index)
        _sub(placemark, "executeHeight", _num(height))
        _sub(placemark, "waypointSpeed", _num(plan.speed_m_s))
        heading = _sub(placemark, "waypointHeadingParam")
        _sub(heading, "waypointHeadingMode", "followWayline")
        _turn_param(placemark, point)
        _sub(placemark, "useStraightLine", "1")
        _action_group(placemark, index, plan.gimbal_pitch_deg)
    return root


def _placemark(folder: ET.Element, point: _Waypoint, index: int) -> ET.Element:
    placemark = ET.SubElement(folder, _k("Placemark"))
    geometry = ET.SubElement(placemark, _k("Point"))
    ET.SubElement(geometry, _k("coordinates")).text = f"{point.lon:.9f},{point.lat:.9f}"
    _sub(placemark, "index", str(index))
    return placemark


def _turn_param(placemark: ET.Element, point: _Waypoint) -> None:
    turn = _sub(placemark, "waypointTurnParam")
    _sub(turn, "waypointTurnMode", point.turn_mode)
    _sub(turn, "waypointTurnDampingDist", "0")


def _action_group(placemark: ET.Element, index: int, pitch_deg: float) -> None:
    group = _sub(placemark, "actionGroup")
    _sub(group, "actionGroupId", str(index))
    _sub(group, "actionGroupStartIndex", str(index))
    _sub(group, "actionGroupEndIndex", str(index))
    _sub(group, "actionGroupMode", "sequence")
    trigger = _sub(group, "actionTrigger")
    _sub(trigger, "actionTriggerType", "reachPoint")
    actions = [_gimbal_pitched, _take_photo] if index == 0 else [_take_photo]
    for action_id, build in enumerate(actions):
        action = _sub(group, "action")
        _sub(action, "actionId", str(action_id))
        build(action, index, pitch_deg)


def _gimbal_pitched(action: ET.Element, index: int, pitch_deg: float) -> None:
    _sub(action, "actionActuatorFunc", "gimbalRotate")
    params = _sub(action, "actionActuatorFuncParam")
    for name, value in (
        ("gimbalHeadingYawBase", "aircraft"),
        ("gimbalRotateMode", "absoluteAngle"),
        ("gimbalPitchRotateEnable", "1"),
        ("gimbalPitchRotateAngle", _num(pitch_deg)),
        ("gimbalRollRotateEnable", "0"),
        ("gimbalRollRotateAngle", "0"),
        ("gimbalYawRotateEnable", "0"),
        ("gimbalYawRotateAngle", "0"),
        ("gimbalRotateTimeEnable", "0"),
        ("gimbalRotateTime", "0"),
        ("payloadPositionIndex", "0"),
    ):
        _sub(params, name, value)


def _take_photo(action: ET.Element, index: int, pitch_deg: float) -> None:
    _sub(action, "actionActuatorFunc", "takePhoto")
    params = _sub(action, "actionActuatorFuncParam")
    _sub(params, "payloadPositionIndex", "0")
    _sub(params, "fileSuffix", f"pv{index:05d}")
    _sub(params, "useGlobalPayloadLensIndex", "0")
    _sub(params, "payloadLensIndex", "ir")


def _kml() -> tuple[ET.Element, ET.Element]:
    root = ET.Element(_k("kml"))
    return root, ET.SubElement(root, _k("Document"))


def _document(root: ET.Element) -> bytes:
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", default_namespace=KML_NS)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def _w(tag: str) -> ET.Element:
    return ET.Element(f"{{{WPML_NS}}}{tag}")


def _k(tag: str) -> str:
    return f"{{{KML_NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{WPML_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _num(value: float) -> str:
    return format(round(value, 3), ".15g")
