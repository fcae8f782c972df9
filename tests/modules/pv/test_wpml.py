"""Checks against DJI WPML 1.0.2 (Cloud API, "DJI WPML": template.kml, waylines.wpml, common elements)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import pytest

from gongzhi.modules.pv.analytics.cameras import H20T, M3T, M4T, M30T, ThermalCamera
from gongzhi.modules.pv.analytics.flightplan import FlightPlan, plan_flight
from gongzhi.modules.pv.io.wpml import DjiModel, write_wpml, write_wpml_kmz

from .shapes import rectangle

KML = "{http://www.opengis.net/kml/2.2}"
WPML = "{http://www.dji.com/wpmz/1.0.2}"
CREATED = datetime(2025, 6, 1, 10, 30, tzinfo=UTC)
MISSION_CONFIG = [
    "flyToWaylineMode",
    "finishAction",
    "exitOnRCLost",
    "takeOffSecurityHeight",
    "globalTransitionalSpeed",
    "droneInfo",
    "payloadInfo",
]


def survey(camera: ThermalCamera = M3T) -> FlightPlan:
    return plan_flight(rectangle(120, 80), camera)


def read_kmz(data: bytes) -> dict[str, ET.Element]:
    with zipfile.ZipFile(io.BytesIO(data)) as kmz:
        return {name: ET.fromstring(kmz.read(name)) for name in kmz.namelist()}


def text(element: ET.Element, path: str) -> str:
    found = element.find(path.replace("wpml:", WPML).replace("kml:", KML))
    assert found is not None, path
    return found.text or ""


def all_of(element: ET.Element, path: str) -> list[ET.Element]:
    return element.findall(path.replace("wpml:", WPML).replace("kml:", KML))


@pytest.fixture
def plan() -> FlightPlan:
    return survey()


@pytest.fixture
def kmz(plan: FlightPlan) -> dict[str, ET.Element]:
    return read_kmz(write_wpml_kmz(plan, created=CREATED))


def test_it_packs_the_template_and_the_waylines_under_wpmz(kmz: dict[str, ET.Element]) -> None:
    assert set(kmz) == {"wpmz/template.kml", "wpmz/waylines.wpml"}
    for root in kmz.values():
        assert root.tag == f"{KML}kml"
        assert root.find(f"{KML}Document") is not None


def test_it_declares_the_kml_and_wpml_namespaces(plan: FlightPlan) -> None:
    for data in write_wpml(plan, created=CREATED).values():
        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        assert b'xmlns="http://www.opengis.net/kml/2.2"' in data
        assert b'xmlns:wpml="http://www.dji.com/wpmz/1.0.2"' in data


def test_both_files_carry_the_mission_config(kmz: dict[str, ET.Element], plan: FlightPlan) -> None:
    for root in kmz.values():
        config = root.find(f"{KML}Document/{WPML}missionConfig")
        assert config is not None
        assert [child.tag.removeprefix(WPML) for child in config] == MISSION_CONFIG
        assert text(config, "wpml:flyToWaylineMode") == "safely"
        assert text(config, "wpml:finishAction") == "goHome"
        assert text(config, "wpml:exitOnRCLost") == "goContinue"
        assert float(text(config, "wpml:globalTransitionalSpeed")) == plan.transit_speed_m_s
        assert text(config, "wpml:payloadInfo/wpml:payloadPositionIndex") == "0"


@pytest.mark.parametrize(
    ("camera", "drone", "payload"),
    [
        (M30T, ("67", "1"), "53"),
        (M3T, ("77", "1"), "67"),
        (M4T, ("99", "1"), "89"),
        (H20T, ("89", "0"), "43"),
    ],
)
def test_it_names_the_aircraft_and_payload_by_dji_enumeration(
    camera: ThermalCamera, drone: tuple[str, str], payload: str
) -> None:
    root = ET.fromstring(write_wpml(survey(camera), created=CREATED)["wpmz/waylines.wpml"])
    config = root.find(f"{KML}Document/{WPML}missionConfig")
    assert config is not None
    assert (
        text(config, "wpml:droneInfo/wpml:droneEnumValue"),
        text(config, "wpml:droneInfo/wpml:droneSubEnumValue"),
    ) == drone
    assert text(config, "wpml:payloadInfo/wpml:payloadEnumValue") == payload


def test_it_places_a_photo_at_every_trigger_point(kmz: dict[str, ET.Element], plan: FlightPlan) -> None:
    folder = kmz["wpmz/waylines.wpml"].find(f"{KML}Document/{KML}Folder")
    assert folder is not None
    assert text(folder, "wpml:executeHeightMode") == "relativeToStartPoint"
    placemarks = all_of(folder, "kml:Placemark")
    assert len(placemarks) == plan.image_count
    assert [int(text(p, "wpml:index")) for p in placemarks] == list(range(plan.image_count))
    for placemark, (lon, lat) in zip(placemarks, plan.trigger_points, strict=True):
        x, y = (float(v) for v in text(placemark, "kml:Point/kml:coordinates").split(","))
        assert (x, y) == pytest.approx((lon, lat), abs=1e-8)
        assert float(text(placemark, "wpml:executeHeight")) == pytest.approx(plan.altitude_m, abs=1e-3)
        assert float(text(placemark, "wpml:waypointSpeed")) == plan.speed_m_s
        functions = [
            a.text for a in all_of(placemark, "wpml:actionGroup/wpml:action/wpml:actionActuatorFunc")
        ]
        assert functions[-1] == "takePhoto"
        assert text(placemark, "wpml:actionGroup/wpml:actionTrigger/wpml:actionTriggerType") == "reachPoint"
    photos = all_of(folder, ".//wpml:actionActuatorFunc")
    assert sum(p.text == "takePhoto" for p in photos) == plan.image_count


def test_it_points_the_gimbal_down_first_and_shoots_the_thermal_lens(kmz: dict[str, ET.Element]) -> None:
    folder = kmz["wpmz/waylines.wpml"].find(f"{KML}Document/{KML}Folder")
    assert folder is not None
    first = all_of(folder, "kml:Placemark")[0]
    gimbal, photo = all_of(first, "wpml:actionGroup/wpml:action")
    assert text(gimbal, "wpml:actionActuatorFunc") == "gimbalRotate"
    assert text(gimbal, "wpml:actionActuatorFuncParam/wpml:gimbalPitchRotateAngle") == "-90"
    assert text(photo, "wpml:actionActuatorFuncParam/wpml:payloadLensIndex") == "ir"


def test_it_stops_only_at_line_ends(kmz: dict[str, ET.Element], plan: FlightPlan) -> None:
    folder = kmz["wpmz/waylines.wpml"].find(f"{KML}Document/{KML}Folder")
    assert folder is not None
    modes = [text(p, "wpml:waypointTurnParam/wpml:waypointTurnMode") for p in all_of(folder, "kml:Placemark")]
    assert modes.count("toPointAndStopWithDiscontinuityCurvature") == 2 * len(plan.lines)


def test_the_template_is_an_editable_waypoint_template(kmz: dict[str, ET.Element], plan: FlightPlan) -> None:
    document = kmz["wpmz/template.kml"].find(f"{KML}Document")
    assert document is not None
    assert text(document, "wpml:createTime") == str(int(CREATED.timestamp() * 1000))
    folder = document.find(f"{KML}Folder")
    assert folder is not None
    assert text(folder, "wpml:templateType") == "waypoint"
    assert text(folder, "wpml:waylineCoordinateSysParam/wpml:coordinateMode") == "WGS84"
    assert float(text(folder, "wpml:globalHeight")) == pytest.approx(plan.altitude_m, abs=1e-3)
    assert len(all_of(folder, "kml:Placemark")) == plan.image_count
    assert text(folder, "wpml:payloadParam/wpml:imageFormat") == "ir"


def test_it_is_reproducible_for_a_given_creation_time(plan: FlightPlan) -> None:
    assert write_wpml_kmz(plan, created=CREATED) == write_wpml_kmz(plan, created=CREATED)


def test_it_takes_an_explicit_model_and_refuses_an_unknown_camera(plan: FlightPlan) -> None:
    m300 = DjiModel(60, 0, 43)
    root = ET.fromstring(write_wpml(survey(H20T), model=m300, created=CREATED)["wpmz/waylines.wpml"])
    assert text(root, "kml:Document/wpml:missionConfig/wpml:droneInfo/wpml:droneEnumValue") == "60"
    unknown = ThermalCamera("XT2", "Zenmuse XT2", "Matrice 300 RTK", 640, 512, 13.0, 17.0, 45.0, 55.0)
    with pytest.raises(ValueError, match="no DJI enumeration"):
        write_wpml(plan_flight(rectangle(120, 80), unknown))
