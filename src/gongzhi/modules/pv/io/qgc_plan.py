"""QGroundControl ``.plan`` files (JSON) for PX4 and ArduPilot aircraft.

Format: QGroundControl Developer Guide, "Plan File Format" (docs.qgroundcontrol.com,
qgc-dev-guide/file_formats/plan.html): top level ``fileType`` "Plan", ``version`` 1, ``groundStation``,
``mission``, ``geoFence``, ``rallyPoints``; the mission (version 2) holds ``items``,
``plannedHomePosition`` [lat, lon, alt AMSL], ``cruiseSpeed``, ``hoverSpeed``, ``firmwareType``
(MAV_AUTOPILOT) and ``vehicleType`` (MAV_TYPE). Commands and frames are MAVLink's (mavlink.io, common.xml).

The survey is written as simple items, one waypoint per line end, rather than a QGC ``ComplexItem`` survey, so
the autopilot flies exactly the lines planned here: take-off, speed, the gimbal's pitch (MAVLink gimbal
protocol v2), then per line a waypoint at its start,
camera triggering every ``trigger_spacing_m`` switched on (firing once at once), a waypoint at its end,
triggering switched off (firing once more), and return to launch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from gongzhi.modules.pv.analytics.flightplan import FlightPlan

MAV_CMD_NAV_WAYPOINT = 16
MAV_CMD_NAV_RETURN_TO_LAUNCH = 20
MAV_CMD_NAV_TAKEOFF = 22
MAV_CMD_DO_CHANGE_SPEED = 178
MAV_CMD_DO_SET_CAM_TRIGG_DIST = 206
MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW = 1000
GIMBAL_MANAGER_FLAGS_PITCH_LOCK = 8
MAV_FRAME_MISSION = 2
MAV_FRAME_GLOBAL_RELATIVE_ALT = 3
MAV_AUTOPILOT = {"px4": 12, "ardupilot": 3}
MAV_TYPE_QUADROTOR = 2
ALTITUDE_MODE_RELATIVE = 1

Firmware = Literal["px4", "ardupilot"]


def write_qgc_plan(
    plan: FlightPlan,
    *,
    firmware: Firmware = "px4",
    module_height_above_home_m: float = 0.0,
    home_altitude_amsl_m: float = 0.0,
    fence: Sequence[Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Build a QGroundControl plan document for ``plan``.

    Parameters
    ----------
    plan : FlightPlan
        The survey, e.g. from :func:`~gongzhi.modules.pv.analytics.flightplan.plan_flight`.
    firmware : {"px4", "ardupilot"}
        Autopilot, written as ``firmwareType`` (MAV_AUTOPILOT 12 or 3).
    module_height_above_home_m : float
        Height of the module plane above the take-off point [m], e.g. the roof height when taking off from
        the ground; waypoint altitudes are relative to home.
    home_altitude_amsl_m : float
        Ground elevation of home above mean sea level [m], for ``plannedHomePosition``.
    fence : sequence of (lon, lat), optional
        Inclusion geofence polygon [°]; none by default, since the plant outline itself is too tight to
        include the take-off point and the turns.

    Returns
    -------
    dict
        JSON-ready plan; see :func:`write_qgc_plan_json` for the text.
    """
    altitude = plan.altitude_m + module_height_above_home_m
    home_lon, home_lat = plan.home
    items = [
        _nav(MAV_CMD_NAV_TAKEOFF, plan.home, altitude),
        _do(MAV_CMD_DO_CHANGE_SPEED, [1, plan.speed_m_s, -1, 0, 0, 0, 0]),
        # the gimbal's pitch against the horizon (pitch lock), its yaw following the aircraft, which faces
        # its next waypoint; rates NaN (null): turn at the gimbal's own rate; all gimbals
        _do(
            MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW,
            [plan.gimbal_pitch_deg, 0, None, None, GIMBAL_MANAGER_FLAGS_PITCH_LOCK, 0, 0],
        ),
    ]
    for line in plan.lines:
        items += [
            _nav(MAV_CMD_NAV_WAYPOINT, line.start, altitude),
            _do(MAV_CMD_DO_SET_CAM_TRIGG_DIST, [line.trigger_spacing_m, 0, 1, 0, 0, 0, 0]),
            _nav(MAV_CMD_NAV_WAYPOINT, line.end, altitude),
            # distance 0 stops triggering; param 3 = 1 shoots once more, the planned image at the line end
            _do(MAV_CMD_DO_SET_CAM_TRIGG_DIST, [0, 0, 1, 0, 0, 0, 0]),
        ]
    items.append(_do(MAV_CMD_NAV_RETURN_TO_LAUNCH, [0, 0, 0, 0, 0, 0, 0]))
    for jump_id, item in enumerate(items, start=1):
        item["doJumpId"] = jump_id
    return {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "gongzhi",
        "mission": {
            "version": 2,
            "firmwareType": MAV_AUTOPILOT[firmware],
            "vehicleType": MAV_TYPE_QUADROTOR,
            "cruiseSpeed": plan.speed_m_s,
            "hoverSpeed": plan.speed_m_s,
            "globalPlanAltitudeMode": ALTITUDE_MODE_RELATIVE,
            "plannedHomePosition": [home_lat, home_lon, home_altitude_amsl_m],
            "items": items,
        },
        "geoFence": {
            "version": 2,
            "circles": [],
            "polygons": [] if fence is None else [_fence_polygon(fence)],
        },
        "rallyPoints": {"version": 2, "points": []},
    }


def write_qgc_plan_json(plan: FlightPlan, **options: Any) -> str:
    """The ``.plan`` file text for ``plan``; ``options`` as for :func:`write_qgc_plan`."""
    return json.dumps(write_qgc_plan(plan, **options), indent=4, allow_nan=False)


def _nav(command: int, position: tuple[float, float], altitude: float) -> dict[str, Any]:
    lon, lat = position
    return {
        "type": "SimpleItem",
        "command": command,
        "frame": MAV_FRAME_GLOBAL_RELATIVE_ALT,
        "autoContinue": True,
        "AMSLAltAboveTerrain": None,
        "Altitude": altitude,
        "AltitudeMode": ALTITUDE_MODE_RELATIVE,
        # param 4 (yaw) is NaN in MAVLink, "keep the current heading"; QGC writes it as null
        "params": [0, 0, 0, None, lat, lon, altitude],
    }


def _do(command: int, params: list[float | None]) -> dict[str, Any]:
    return {
        "type": "SimpleItem",
        "command": command,
        "frame": MAV_FRAME_MISSION,
        "autoContinue": True,
        "params": params,
    }


def _fence_polygon(fence: Sequence[Sequence[float]]) -> dict[str, Any]:
    return {"version": 1, "inclusion": True, "polygon": [[float(p[1]), float(p[0])] for p in fence]}
