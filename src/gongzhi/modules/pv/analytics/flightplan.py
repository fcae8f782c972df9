"""Boustrophedon (lawn-mower) coverage flights for thermal inspection of a PV plant.

Method: parallel sweep lines ("boustrophedon" paths, Choset & Pignon 1998 [1]_) spaced by the image
footprint across track times (1 − side overlap), clipped to the plant polygon by scan-line intersection (a
line crossing a concave polygon several times yields several segments), flown in alternating directions.
Images are triggered along each segment at most one footprint along track times (1 − front overlap) apart.
Footprint and GSD follow the pinhole model of :mod:`.cameras`.

Default flight settings and why:

* Height from a target GSD of at least 5 × 5 pixels per cell, the IEC TS 62446-3:2017 level-1 "screening"
  minimum [2]_, with a 166 mm (M6) cell: GSD ≤ 3.3 cm, i.e. 25 m with an M3T or M30T, 33 m with an M4T,
  37 m with an H20T, 66 m with an H30T (``domain/pv.md`` §5). Modern 182 / 210 mm cells only relax this.
* 50 % front and 50 % side overlap at 4 m/s: the field procedure for single-image thermal analysis
  (``RentadroneCL/Guidance-of-UAV-Thermography``, ``data_collection.md``). Orthomosaics need about 60/80 % at
  2 m/s (Aerometrix), which more than doubles the time; a coarse screening can use 30/30 % at 5 m/s.
* When the plan knows the modules (``module_footprint_m``: a plant with a layout), images close enough
  along each line that every module lies whole in at least two of them: the analysis reads only whole
  modules, and its sun-reflection filter needs two views of a module to tell a glint from a defect. At 50 %
  front overlap every image's edge falls on another's, and a row of modules straddling those edges is
  whole in one image of the line; with the side overlap of 50 %, the modules under a line's trace are
  whole in that line's images alone, and seen once in all (on the evaluation's 80 m × 50 m plant, 24 of
  its 1,309 modules at 25 m and 42 at 16 m: ``analytics/README.md``). The trigger spacing is then at most
  (footprint along − module extent along the line − 2 × 4 px) / 2: for the default 72-cell module in
  portrait, tilted 10°, 7.4 m instead of 8.5 m at the screening height (56 % front overlap), 696 images
  instead of 600 over the 250 m × 200 m roof and no more time (the same lines at the same speed, an image
  every 1.8 s instead of 2.1 s).
* Lines perpendicular to the module rows when their azimuth is known (Aerometrix: fly rooftops
  perpendicular to the dominant rows; for trackers pass ``line_azimuth_deg`` parallel to the rows instead,
  with the rows' azimuth still sizing the modules along the lines); otherwise, or with
  ``lines_across_rows=False``, the direction with the fewest lines, hence turns, among the polygon's edge
  directions and every degree.
* 8 s per turn to brake, settle and accelerate at each line end (the connection itself is flown at survey
  speed), 120 s for take-off, climb, descent and landing, transit at 10 m/s (DJI's default
  ``globalTransitionalSpeed``), batteries planned to 70 % of the platform's published flight time (the rest is
  landing reserve and wind), 180 s on the ground per battery swap.

These settings put the 250 m × 200 m "newspaper" roof flown with an M3T at 25 m and 3.3 cm/px at 19 lines,
about 20 minutes on the lines and about 25 minutes in all, the figures of ``domain/pv.md`` §5.

References
----------
.. [1] H. Choset and P. Pignon, "Coverage path planning: the boustrophedon cellular decomposition", in Field
   and Service Robotics, Springer, 1998, pp. 203-209.
.. [2] IEC TS 62446-3:2017, Photovoltaic (PV) systems - Requirements for testing, documentation and
   maintenance - Part 3: Photovoltaic modules and plants - Outdoor infrared thermography.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gongzhi.modules.pv.analytics.cameras import ThermalCamera
from gongzhi.modules.pv.analytics.geometry import (
    XY,
    LocalFrame,
    LonLat,
    clean_ring,
    local_frame,
    project,
    rotate,
    scanline_crossings,
    unrotate,
)
from gongzhi.modules.pv.analytics.oblique import ground_view, height_for_gsd

CELL_SIZE_M = 0.166
"""Edge of an M6 crystalline-silicon cell [m]; 156.75 mm M2 cells need about 6 % lower flights."""
MIN_PIXELS_PER_CELL = 5
"""IEC TS 62446-3 level-1 screening minimum, pixels across one cell [px]."""
DEFAULT_FRONT_OVERLAP = 0.5
DEFAULT_SIDE_OVERLAP = 0.5
DEFAULT_SPEED_M_S = 4.0
DEFAULT_TURN_TIME_S = 8.0
DEFAULT_TAKEOFF_LANDING_S = 120.0
DEFAULT_TRANSIT_SPEED_M_S = 10.0
DEFAULT_BATTERY_USABLE_FRACTION = 0.7
DEFAULT_BATTERY_SWAP_S = 180.0
WHOLE_MODULE_MARGIN_PX = 4.0
"""Pixels kept between a module and an image's edge when planning for whole modules: twice the margin
the analysis asks (:func:`.georef.visible_modules`), so that an image taken a little off its trigger
point still holds the module [px]."""

_MIN_SEGMENT_M = 1e-3


@dataclass(frozen=True, slots=True)
class FlightLine:
    """One straight survey pass, flown from ``start`` to ``end`` (WGS84 lon, lat [°]).

    ``triggers`` are the image positions, evenly spaced ``trigger_spacing_m`` apart [m] from ``start`` to
    ``end`` inclusive.
    """

    start: LonLat
    end: LonLat
    length_m: float
    trigger_spacing_m: float
    triggers: tuple[LonLat, ...]


@dataclass(frozen=True, slots=True)
class FlightPlan:
    """A coverage flight over a plant polygon, with its geometry, image count, time and battery budget.

    Positions are WGS84 (longitude, latitude) [°]; altitudes are above the module plane [m]; azimuths are
    clockwise from true north [°]; distances [m]; times [s].

    Attributes
    ----------
    footprint_m : (float, float)
        Ground footprint of one image, across × along track [m]; of an oblique one, the rectangle of the
        plane its nadir view keeps (:func:`.oblique.ground_view`).
    line_spacing_m : float
        Distance between adjacent lines, at most footprint across × (1 − side overlap) [m].
    trigger_spacing_m : float
        Largest allowed distance between images on a line, footprint along × (1 − front overlap) [m]; each
        :class:`FlightLine` has its own, evenly dividing its length.
    waypoints : tuple of (lon, lat, alt)
        Line starts and ends in flight order.
    trigger_points : tuple of (lon, lat)
        Every image position in flight order; ``image_count`` is their number.
    line_distance_m, turn_distance_m, transit_distance_m : float
        Distance flown on the lines, between lines, and between home and the lines over all sorties [m].
    line_time_s, turn_time_s, transit_time_s, takeoff_landing_time_s, swap_time_s : float
        Parts of ``total_time_s`` [s]; ``turn_time_s`` includes the fixed time per turn.
    flight_time_s : float
        Airborne time over all sorties [s].
    batteries : int
        Batteries (sorties) needed with ``battery_endurance_s`` of usable flight each.
    gimbal_pitch_deg : float
        Gimbal pitch of every image: −90 straight down [°].
    view_ahead_m : float
        How far ahead of the aircraft along its line each image's footprint is centred [m]: 0 for a nadir
        flight; an oblique flight's lines run that far short of the footprints' so that the footprints
        cover the plant.
    module_extent_m : float
        What a module spans along the lines, which the trigger spacing lets every line see whole in two
        of its images [m]; 0 when the plan does not know the modules (the overlap alone sets the spacing).
    """

    camera: ThermalCamera
    polygon: tuple[LonLat, ...]
    home: LonLat
    altitude_m: float
    gsd_m: float
    footprint_m: tuple[float, float]
    front_overlap: float
    side_overlap: float
    line_azimuth_deg: float
    line_spacing_m: float
    trigger_spacing_m: float
    speed_m_s: float
    transit_speed_m_s: float
    lines: tuple[FlightLine, ...]
    waypoints: tuple[tuple[float, float, float], ...]
    trigger_points: tuple[LonLat, ...]
    image_count: int
    line_distance_m: float
    turn_distance_m: float
    transit_distance_m: float
    line_time_s: float
    turn_time_s: float
    transit_time_s: float
    takeoff_landing_time_s: float
    flight_time_s: float
    swap_time_s: float
    total_time_s: float
    batteries: int
    battery_endurance_s: float
    gimbal_pitch_deg: float = -90.0
    view_ahead_m: float = 0.0
    module_extent_m: float = 0.0

    @property
    def turns(self) -> int:
        """Number of turns between consecutive lines."""
        return max(0, len(self.lines) - 1)

    @property
    def total_distance_m(self) -> float:
        """Distance flown over all sorties' lines, turns and transits (excluding battery swaps) [m]."""
        return self.line_distance_m + self.turn_distance_m + self.transit_distance_m

    @property
    def trigger_interval_s(self) -> float:
        """Shortest time between two images on a line at survey speed [s]."""
        return min(line.trigger_spacing_m for line in self.lines) / self.speed_m_s


def screening_gsd(cell_size_m: float = CELL_SIZE_M, pixels_per_cell: int = MIN_PIXELS_PER_CELL) -> float:
    """Coarsest GSD that still puts ``pixels_per_cell`` pixels across a cell [m px-1].

    With the defaults, 0.166 m / 5 px = 3.32 cm/px, the IEC TS 62446-3 level-1 screening minimum.
    """
    if not (cell_size_m > 0 and pixels_per_cell > 0):
        raise ValueError("cell size and pixels per cell must be positive")
    return cell_size_m / pixels_per_cell


def sweep_spacing(xy: Sequence[XY], line_azimuth_deg: float, max_spacing_m: float) -> float:
    """Actual distance between adjacent lines [m], never more than ``max_spacing_m``.

    The polygon's width W across the lines is split into ``ceil(W / max_spacing_m)`` equal strips.
    """
    if not max_spacing_m > 0:
        raise ValueError("line spacing must be positive")
    vs = [v for _, v in rotate(xy, line_azimuth_deg)]
    width = max(vs) - min(vs)
    return width / max(1, math.ceil(width / max_spacing_m - 1e-9)) if width > 0 else max_spacing_m


def sweep_segments(xy: Sequence[XY], line_azimuth_deg: float, max_spacing_m: float) -> list[tuple[XY, XY]]:
    """Clip parallel sweep lines to a polygon and order them as a boustrophedon path.

    Parameters
    ----------
    xy : sequence of (float, float)
        Polygon vertices in a local metric frame [m]; convex or concave, not self-intersecting.
    line_azimuth_deg : float
        Direction of the lines, clockwise from north [°].
    max_spacing_m : float
        Largest allowed distance between adjacent lines [m].

    Returns
    -------
    list of ((float, float), (float, float))
        (start, end) of each segment in flight order [m]. One line runs down the middle of each of the
        equal strips of :func:`sweep_spacing`, so no point of the polygon's extent across the lines is more
        than half a spacing from a line's trace and no line grazes a vertex. Successive lines alternate
        direction; a line split by a concavity gives several segments flown in the same direction, and the
        hop between them may cross outside the polygon (no cell decomposition).
    """
    spacing = sweep_spacing(xy, line_azimuth_deg, max_spacing_m)
    rotated = rotate(xy, line_azimuth_deg)
    low, high = min(v for _, v in rotated), max(v for _, v in rotated)
    count = max(1, round((high - low) / spacing))
    segments: list[tuple[XY, XY]] = []
    forward = True
    for k in range(count):
        v = low + (k + 0.5) * spacing
        xs = scanline_crossings(rotated, v)
        pieces = [(xs[i], xs[i + 1]) for i in range(0, len(xs) - 1, 2) if xs[i + 1] - xs[i] > _MIN_SEGMENT_M]
        if not pieces:
            continue
        if not forward:
            pieces = [(b, a) for a, b in reversed(pieces)]
        for a, b in pieces:
            start, end = unrotate([(a, v), (b, v)], line_azimuth_deg)
            segments.append((start, end))
        forward = not forward
    return segments


def fewest_turns_azimuth(xy: Sequence[XY], max_spacing_m: float, step_deg: float = 1.0) -> float:
    """Line azimuth that covers the polygon with the fewest segments, hence the fewest turns [°].

    Candidates are the directions of the polygon's edges (a convex polygon is narrowest across one of its
    edges, so lines parallel to that edge are fewest) and every ``step_deg`` in [0, 180); ties go to the
    shorter total path, then to edge directions.
    """
    n = len(xy)
    edges = [
        math.degrees(math.atan2(xy[(i + 1) % n][0] - xy[i][0], xy[(i + 1) % n][1] - xy[i][1])) % 180
        for i in range(n)
    ]
    grid = [k * step_deg for k in range(math.ceil(180 / step_deg))]

    def cost(azimuth: float) -> tuple[float, float]:
        segments = sweep_segments(xy, azimuth, max_spacing_m)
        return len(segments) or math.inf, round(_path_length(segments), 1)

    return min([*edges, *grid], key=cost)


def plan_flight(
    polygon: Sequence[Sequence[float]],
    camera: ThermalCamera,
    *,
    altitude_m: float | None = None,
    gsd_m: float | None = None,
    front_overlap: float = DEFAULT_FRONT_OVERLAP,
    side_overlap: float = DEFAULT_SIDE_OVERLAP,
    row_azimuth_deg: float | None = None,
    line_azimuth_deg: float | None = None,
    lines_across_rows: bool = True,
    speed_m_s: float = DEFAULT_SPEED_M_S,
    turn_time_s: float = DEFAULT_TURN_TIME_S,
    takeoff_landing_s: float = DEFAULT_TAKEOFF_LANDING_S,
    transit_speed_m_s: float = DEFAULT_TRANSIT_SPEED_M_S,
    battery_endurance_s: float | None = None,
    battery_swap_s: float = DEFAULT_BATTERY_SWAP_S,
    home: Sequence[float] | None = None,
    gimbal_pitch_deg: float = -90.0,
    module_footprint_m: tuple[float, float] | None = None,
) -> FlightPlan:
    """Plan a boustrophedon thermal survey of a PV plant polygon.

    Parameters
    ----------
    polygon : sequence of (lon, lat)
        Plant outline, WGS84 [°]; closed or open ring, convex or concave, less than a few km across.
    camera : ThermalCamera
        Payload, e.g. :data:`.cameras.M3T`.
    altitude_m : float, optional
        Height above the module plane [m]. Give at most one of ``altitude_m`` and ``gsd_m``; without either
        the height gives :func:`screening_gsd` (5 px per 166 mm cell).
    gsd_m : float, optional
        Target ground sampling distance [m px-1].
    front_overlap, side_overlap : float
        Minimum overlap of consecutive images along a line and of adjacent lines, in [0, 1) [-].
    row_azimuth_deg : float, optional
        Azimuth of the module rows [°]; the lines run perpendicular to them unless ``line_azimuth_deg`` is
        given or ``lines_across_rows`` is false, and it sizes a module along the lines
        (:func:`module_extent`).
    line_azimuth_deg : float, optional
        Azimuth of the lines themselves [°] (e.g. along a tracker's rows). Without it, and without rows to
        fly across, the direction with the fewest turns is chosen (:func:`fewest_turns_azimuth`).
    lines_across_rows : bool
        Whether known rows set the lines' direction (the default); false takes the fewest turns whatever
        the rows, as over a strip of a few rows, where lines across them would turn every few metres.
    speed_m_s : float
        Survey speed on and between lines [m s-1].
    turn_time_s : float
        Extra time per turn to brake, settle and accelerate [s].
    takeoff_landing_s : float
        Time per sortie for take-off, climb, descent and landing [s].
    transit_speed_m_s : float
        Speed between ``home`` and the lines [m s-1].
    battery_endurance_s : float, optional
        Usable airborne time per battery [s]; default 70 % of ``camera.max_flight_time_min``.
    battery_swap_s : float
        Ground time per battery swap [s].
    home : (lon, lat), optional
        Take-off and landing point [°]; default the start of the first line.
    gimbal_pitch_deg : float
        Gimbal pitch, −90 (straight down, the default) to −30 [°]. An oblique camera looks ahead along the
        line: the footprints are the rectangles its frames' nadir views keep (:func:`.oblique.ground_view`),
        the default height gives them the target GSD (:func:`.oblique.height_for_gsd`), and the lines are
        moved back by how far ahead the footprints lie.
    module_footprint_m : (float, float), optional
        Plan-view size of one module along × across its row [m] (:attr:`.layout.PlantLayout.footprint_m`):
        the images come close enough along each line that every module lies whole in at least two of
        them (:data:`WHOLE_MODULE_MARGIN_PX` from their edges), when the front overlap alone would not
        give that. Without ``row_azimuth_deg`` the module may lie any way across the lines: its diagonal
        counts; with it, its projection on them.

    Returns
    -------
    FlightPlan

    Raises
    ------
    ValueError
        On an invalid polygon or parameter, or a battery that cannot even reach the plant and back.
    """
    ring = clean_ring(polygon)
    if not (math.isfinite(gimbal_pitch_deg) and -90.0 <= gimbal_pitch_deg <= -30.0):
        raise ValueError(
            f"gimbal pitch must be from -90 (straight down) to -30 degrees, got {gimbal_pitch_deg}"
        )
    altitude = _altitude(camera, altitude_m, gsd_m)  # a nadir flight's; checks the two against each other
    if altitude_m is None and gimbal_pitch_deg != -90.0:
        altitude = height_for_gsd(camera, gsd_m if gsd_m is not None else screening_gsd(), gimbal_pitch_deg)
    # straight down: the footprint below the aircraft, at its GSD
    across, along, ahead, gsd = ground_view(camera, altitude, gimbal_pitch_deg)
    _check_fraction(front_overlap=front_overlap, side_overlap=side_overlap)
    _check_positive(speed_m_s=speed_m_s, transit_speed_m_s=transit_speed_m_s)
    _check_non_negative(
        turn_time_s=turn_time_s, takeoff_landing_s=takeoff_landing_s, battery_swap_s=battery_swap_s
    )
    max_spacing = across * (1 - side_overlap)
    frame = local_frame(ring)
    xy = project(ring, frame)
    azimuth = _line_azimuth(xy, max_spacing, row_azimuth_deg if lines_across_rows else None, line_azimuth_deg)
    extent = module_extent(module_footprint_m, row_azimuth_deg, azimuth) if module_footprint_m else 0.0
    max_trigger = min(along * (1 - front_overlap), whole_trigger_spacing(along, extent, gsd))
    segments = sweep_segments(xy, azimuth, max_spacing)
    if not segments:
        raise ValueError("the polygon is too thin to hold a survey line")
    if ahead:  # the aircraft flies that far short of where its camera looks
        segments = [_moved_back(a, b, ahead) for a, b in segments]
    lines = tuple(_flight_line(a, b, max_trigger, frame) for a, b in segments)
    home_xy = frame.to_xy(float(home[0]), float(home[1])) if home is not None else segments[0][0]
    endurance = (
        battery_endurance_s
        if battery_endurance_s is not None
        else camera.max_flight_time_min * 60 * DEFAULT_BATTERY_USABLE_FRACTION
    )
    _check_positive(battery_endurance_s=endurance)

    line_distance = sum(line.length_m for line in lines)
    turn_distance = sum(_dist(segments[i][1], segments[i + 1][0]) for i in range(len(segments) - 1))
    transit_out = _dist(home_xy, segments[0][0]) + _dist(segments[-1][1], home_xy)
    farthest = max(_dist(home_xy, p) for segment in segments for p in segment)
    resume = takeoff_landing_s + 2 * farthest / transit_speed_m_s
    single_sortie = (
        takeoff_landing_s
        + transit_out / transit_speed_m_s
        + (line_distance + turn_distance) / speed_m_s
        + (len(lines) - 1) * turn_time_s
    )
    batteries = batteries_needed(single_sortie, endurance, resume)
    extra = batteries - 1
    triggers = tuple(p for line in lines for p in line.triggers)
    return FlightPlan(
        camera=camera,
        polygon=tuple(ring),
        home=frame.to_lonlat(*home_xy),
        altitude_m=altitude,
        gsd_m=gsd,
        footprint_m=(across, along),
        front_overlap=front_overlap,
        side_overlap=side_overlap,
        line_azimuth_deg=azimuth % 360,
        line_spacing_m=sweep_spacing(xy, azimuth, max_spacing),
        trigger_spacing_m=max_trigger,
        speed_m_s=speed_m_s,
        transit_speed_m_s=transit_speed_m_s,
        lines=lines,
        waypoints=tuple((*p, altitude) for line in lines for p in (line.start, line.end)),
        trigger_points=triggers,
        image_count=len(triggers),
        line_distance_m=line_distance,
        turn_distance_m=turn_distance,
        transit_distance_m=transit_out + extra * 2 * farthest,
        line_time_s=line_distance / speed_m_s,
        turn_time_s=turn_distance / speed_m_s + (len(lines) - 1) * turn_time_s,
        transit_time_s=(transit_out + extra * 2 * farthest) / transit_speed_m_s,
        takeoff_landing_time_s=batteries * takeoff_landing_s,
        flight_time_s=single_sortie + extra * resume,
        swap_time_s=extra * battery_swap_s,
        total_time_s=single_sortie + extra * (resume + battery_swap_s),
        batteries=batteries,
        battery_endurance_s=endurance,
        gimbal_pitch_deg=gimbal_pitch_deg,
        view_ahead_m=ahead,
        module_extent_m=extent,
    )


def module_extent(
    module_footprint_m: tuple[float, float], row_azimuth_deg: float | None, line_azimuth_deg: float
) -> float:
    """What a module spans along lines of ``line_azimuth_deg`` [m]: of its plan-view rectangle, along × across
    the row, the projection on the line; with no row azimuth, the rectangle's diagonal (any way round)."""
    along_row, across_row = module_footprint_m
    if not (math.isfinite(along_row) and math.isfinite(across_row) and along_row > 0 and across_row > 0):
        raise ValueError(f"a module's footprint must be two positive sizes, got {module_footprint_m}")
    if row_azimuth_deg is None:
        return math.hypot(along_row, across_row)
    angle = math.radians(line_azimuth_deg - row_azimuth_deg)
    return along_row * abs(math.cos(angle)) + across_row * abs(math.sin(angle))


def whole_trigger_spacing(footprint_along_m: float, extent_m: float, gsd_m: float) -> float:
    """Largest distance between images on a line that keeps anything ``extent_m`` long whole, at least
    :data:`WHOLE_MODULE_MARGIN_PX` from the edges, in two of them wherever it lies [m]; infinite for no
    extent.

    An image holds the object whole while the image's centre lies in an interval of length footprint −
    extent − 2 margins; two trigger points fall in every such interval when they are at most half its
    length apart.

    Raises
    ------
    ValueError
        When an image is too short along the line to hold the object whole at all.
    """
    if extent_m <= 0:
        return math.inf
    room = footprint_along_m - extent_m - 2 * WHOLE_MODULE_MARGIN_PX * gsd_m
    if room <= 0:
        raise ValueError(
            f"an image spans {footprint_along_m:.2f} m along the lines, too little to hold a module "
            f"({extent_m:.2f} m) whole: fly higher"
        )
    return room / 2


def batteries_needed(flight_time_s: float, endurance_s: float, per_sortie_overhead_s: float) -> int:
    """Number of batteries (sorties) for an airborne job, each extra sortie adding a fixed overhead.

    Solves ``flight_time_s + (n − 1) · per_sortie_overhead_s ≤ n · endurance_s`` for the smallest n ≥ 1,
    the overhead being take-off, landing and the return to and from the point where the previous sortie
    stopped (taken conservatively as the farthest line end).

    Raises
    ------
    ValueError
        If one battery cannot cover more than the overhead.
    """
    if flight_time_s <= endurance_s:
        return 1
    if endurance_s <= per_sortie_overhead_s:
        raise ValueError("a battery does not last longer than take-off, landing and the transit to the plant")
    return math.ceil((flight_time_s - per_sortie_overhead_s) / (endurance_s - per_sortie_overhead_s) - 1e-9)


def _altitude(camera: ThermalCamera, altitude_m: float | None, gsd_m: float | None) -> float:
    if altitude_m is not None and gsd_m is not None:
        raise ValueError("give either altitude_m or gsd_m, not both")
    if altitude_m is not None:
        _check_positive(altitude_m=altitude_m)
        return altitude_m
    return camera.altitude_for_gsd(gsd_m if gsd_m is not None else screening_gsd())


def _line_azimuth(
    xy: Sequence[XY], spacing: float, row_azimuth_deg: float | None, line_azimuth_deg: float | None
) -> float:
    if line_azimuth_deg is not None:
        return line_azimuth_deg
    if row_azimuth_deg is not None:
        return row_azimuth_deg + 90
    return fewest_turns_azimuth(xy, spacing)


def _flight_line(a: XY, b: XY, max_spacing: float, frame: LocalFrame) -> FlightLine:
    length = _dist(a, b)
    intervals = max(1, math.ceil(length / max_spacing - 1e-9))
    points = [
        (a[0] + (b[0] - a[0]) * i / intervals, a[1] + (b[1] - a[1]) * i / intervals)
        for i in range(intervals + 1)
    ]
    return FlightLine(
        start=frame.to_lonlat(*a),
        end=frame.to_lonlat(*b),
        length_m=length,
        trigger_spacing_m=length / intervals,
        triggers=tuple(frame.to_lonlat(*p) for p in points),
    )


def _moved_back(a: XY, b: XY, distance: float) -> tuple[XY, XY]:
    """A line from ``a`` to ``b`` moved ``distance`` back against its direction [m]."""
    length = _dist(a, b)
    if length == 0:
        return a, b
    ux, uy = (b[0] - a[0]) / length * distance, (b[1] - a[1]) / length * distance
    return (a[0] - ux, a[1] - uy), (b[0] - ux, b[1] - uy)


def _path_length(segments: Sequence[tuple[XY, XY]]) -> float:
    on_lines = sum(_dist(a, b) for a, b in segments)
    return on_lines + sum(_dist(segments[i][1], segments[i + 1][0]) for i in range(len(segments) - 1))


def _dist(a: XY, b: XY) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def _check_fraction(**values: float) -> None:
    for name, value in values.items():
        if not 0 <= value < 1:
            raise ValueError(f"{name} must lie in [0, 1), got {value}")


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value}")


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a non-negative number, got {value}")
