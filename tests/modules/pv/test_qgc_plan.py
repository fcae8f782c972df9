"""Checks against QGroundControl's "Plan File Format" (qgc-dev-guide/file_formats/plan.html)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from gongzhi.modules.pv.analytics.cameras import M3T
from gongzhi.modules.pv.analytics.flightplan import FlightPlan, plan_flight
from gongzhi.modules.pv.io.qgc_plan import write_qgc_plan, write_qgc_plan_json

from .shapes import outline, rectangle

TAKEOFF, WAYPOINT, RTL, CHANGE_SPEED, CAM_TRIGG_DIST, GIMBAL_PITCHYAW = 22, 16, 20, 178, 206, 1000


@pytest.fixture
def plan() -> FlightPlan:
    return plan_flight(rectangle(250, 200), M3T)


def commands(document: dict[str, Any]) -> list[int]:
    return [item["command"] for item in document["mission"]["items"]]


def assert_simple_item(item: dict[str, Any]) -> None:
    assert item["type"] == "SimpleItem"
    assert isinstance(item["command"], int)
    assert isinstance(item["frame"], int)
    assert item["autoContinue"] is True
    assert len(item["params"]) == 7
    if item["frame"] == 3:  # global, relative altitude: a position
        assert {"AMSLAltAboveTerrain", "Altitude", "AltitudeMode"} <= item.keys()
        assert -90 <= item["params"][4] <= 90
        assert -180 <= item["params"][5] <= 180
        assert item["params"][6] == item["Altitude"]


def test_it_writes_the_published_top_level_structure(plan: FlightPlan) -> None:
    document = write_qgc_plan(plan)
    assert document["fileType"] == "Plan"
    assert document["version"] == 1
    assert {"groundStation", "mission", "geoFence", "rallyPoints"} <= document.keys()
    assert document["geoFence"] == {"version": 2, "circles": [], "polygons": []}
    assert document["rallyPoints"] == {"version": 2, "points": []}
    mission = document["mission"]
    assert mission["version"] == 2
    assert mission["firmwareType"] == 12  # MAV_AUTOPILOT_PX4
    assert mission["vehicleType"] == 2  # MAV_TYPE_QUADROTOR
    assert mission["cruiseSpeed"] == mission["hoverSpeed"] == plan.speed_m_s
    home_lon, home_lat = plan.home
    assert mission["plannedHomePosition"] == [home_lat, home_lon, 0.0]


def test_every_item_is_a_well_formed_simple_item_numbered_from_one(plan: FlightPlan) -> None:
    items = write_qgc_plan(plan)["mission"]["items"]
    for item in items:
        assert_simple_item(item)
    assert [item["doJumpId"] for item in items] == list(range(1, len(items) + 1))


def test_it_takes_off_flies_every_line_end_and_returns_to_launch(plan: FlightPlan) -> None:
    document = write_qgc_plan(plan)
    sequence = commands(document)
    assert sequence[0] == TAKEOFF
    assert sequence[-1] == RTL
    assert sequence[1:-1] == [CHANGE_SPEED, GIMBAL_PITCHYAW] + [
        WAYPOINT, CAM_TRIGG_DIST, WAYPOINT, CAM_TRIGG_DIST
    ] * len(plan.lines)  # fmt: skip
    gimbal = document["mission"]["items"][2]["params"]
    assert gimbal == [-90.0, 0, None, None, 8, 0, 0]  # straight down, held against the horizon
    waypoints = [item for item in document["mission"]["items"] if item["command"] == WAYPOINT]
    expected = [v for lon, lat, _ in plan.waypoints for v in (lat, lon)]
    assert [v for item in waypoints for v in item["params"][4:6]] == pytest.approx(expected)
    assert all(item["Altitude"] == pytest.approx(plan.altitude_m) for item in waypoints)


def test_the_camera_triggers_yield_the_planned_images(plan: FlightPlan) -> None:
    items = write_qgc_plan(plan)["mission"]["items"]
    triggers = [item["params"] for item in items if item["command"] == CAM_TRIGG_DIST]
    shots = 0
    for line, (start, stop) in zip(plan.lines, zip(triggers[::2], triggers[1::2], strict=True), strict=True):
        distance = start[0]
        assert distance == pytest.approx(line.trigger_spacing_m)
        assert distance <= plan.trigger_spacing_m + 1e-9
        assert stop[0] == 0
        # one shot on switching on, one every `distance` short of the line end, one on switching off
        shots += start[2] + math.ceil(line.length_m / distance - 1e-9) - 1 + stop[2]
    assert shots == plan.image_count


def test_it_adds_the_roof_height_when_taking_off_from_the_ground(plan: FlightPlan) -> None:
    items = write_qgc_plan(plan, module_height_above_home_m=12)["mission"]["items"]
    assert items[0]["Altitude"] == pytest.approx(plan.altitude_m + 12)


def test_it_writes_ardupilot_and_an_inclusion_fence_in_lat_lon_order(plan: FlightPlan) -> None:
    fence = outline([(-200, -200), (200, -200), (200, 200), (-200, 200)])
    document = write_qgc_plan(plan, firmware="ardupilot", fence=fence)
    assert document["mission"]["firmwareType"] == 3
    [polygon] = document["geoFence"]["polygons"]
    assert polygon["inclusion"] is True
    assert polygon["version"] == 1
    assert polygon["polygon"] == [[lat, lon] for lon, lat in fence]


def test_its_text_is_strict_json(plan: FlightPlan) -> None:
    def refuse(constant: str) -> None:
        raise ValueError(constant)

    text = write_qgc_plan_json(plan)
    assert json.loads(text, parse_constant=refuse) == json.loads(json.dumps(write_qgc_plan(plan)))
