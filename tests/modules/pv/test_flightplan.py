from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongzhi.modules.pv.analytics.cameras import CAMERAS, H30T, M3T, M4T
from gongzhi.modules.pv.analytics.flightplan import (
    WHOLE_MODULE_MARGIN_PX,
    FlightPlan,
    batteries_needed,
    fewest_turns_azimuth,
    module_extent,
    plan_flight,
    screening_gsd,
    sweep_segments,
)
from gongzhi.modules.pv.analytics.geometry import (
    LocalFrame,
    LonLat,
    distance_to_boundary,
    local_frame,
    point_in_polygon,
    project,
    rotate,
)
from gongzhi.modules.pv.analytics.layout import LayoutParams

from .shapes import outline, rectangle

MINUTE = 60.0


def local(plan: FlightPlan) -> tuple[LocalFrame, list[tuple[float, float]]]:
    frame = local_frame(plan.polygon)
    return frame, project(plan.polygon, frame)


def line_offsets(plan: FlightPlan) -> list[float]:
    """Distinct cross-track positions of the plan's lines [m]."""
    frame, _ = local(plan)
    offsets = sorted(
        v for line in plan.lines for _, v in rotate(project([line.start], frame), plan.line_azimuth_deg)
    )
    return [v for i, v in enumerate(offsets) if i == 0 or v - offsets[i - 1] > 1e-6]


# --- the newspaper case (domain/pv.md §5) -------------------------------------------------------------------


def test_it_plans_the_newspaper_roof_in_about_25_minutes(newspaper_roof: list[LonLat]) -> None:
    plan = plan_flight(newspaper_roof, M3T)
    assert plan.altitude_m == pytest.approx(25, abs=0.5)
    assert plan.gsd_m <= 0.0332
    assert len(plan.lines) == 19
    assert 15 <= plan.line_time_s / MINUTE <= 25
    assert 20 <= plan.total_time_s / MINUTE <= 30
    assert plan.line_distance_m + plan.turn_distance_m == pytest.approx(4_940, rel=0.02)
    assert 550 <= plan.image_count <= 650
    assert plan.trigger_interval_s == pytest.approx(2.1, abs=0.1)
    assert plan.batteries == 1


def test_it_flies_the_newspaper_roof_along_its_long_side_when_no_rows_are_given(
    newspaper_roof: list[LonLat],
) -> None:
    plan = plan_flight(newspaper_roof, M3T)
    assert plan.line_azimuth_deg % 180 == pytest.approx(90, abs=1e-6)
    assert plan.turns == 18


def test_it_flies_perpendicular_to_the_module_rows(newspaper_roof: list[LonLat]) -> None:
    plan = plan_flight(newspaper_roof, M3T, row_azimuth_deg=90)
    assert plan.line_azimuth_deg == pytest.approx(180)
    assert len(plan.lines) == math.ceil(250 / plan.line_spacing_m)
    assert plan.turns > plan_flight(newspaper_roof, M3T).turns


def test_slower_denser_orthomosaic_settings_take_about_twice_as_long(newspaper_roof: list[LonLat]) -> None:
    single_image = plan_flight(newspaper_roof, M3T)
    orthomosaic = plan_flight(newspaper_roof, M3T, front_overlap=0.8, side_overlap=0.6, speed_m_s=2)
    assert orthomosaic.total_time_s > 2 * single_image.total_time_s
    assert orthomosaic.image_count > 2.5 * single_image.image_count


# --- whole modules ------------------------------------------------------------------------------------------

PORTRAIT_10_DEG = (
    LayoutParams().module_type.width_m,
    LayoutParams().module_type.length_m * math.cos(math.radians(10)),
)
"""The default layout's module (72 cells, portrait, tilt 10°) seen from above, along × across its row [m]."""


def test_with_the_modules_known_the_images_come_closer_on_the_same_lines(
    newspaper_roof: list[LonLat],
) -> None:
    bare = plan_flight(newspaper_roof, M3T, row_azimuth_deg=90)
    known = plan_flight(newspaper_roof, M3T, row_azimuth_deg=90, module_footprint_m=PORTRAIT_10_DEG)
    # lines across the rows: a module spans its across-row size along them
    assert known.module_extent_m == pytest.approx(PORTRAIT_10_DEG[1]) and bare.module_extent_m == 0
    _, along = known.footprint_m
    margin = WHOLE_MODULE_MARGIN_PX * known.gsd_m
    assert known.trigger_spacing_m == pytest.approx((along - PORTRAIT_10_DEG[1] - 2 * margin) / 2)
    assert bare.trigger_spacing_m == pytest.approx(along / 2)
    # the same lines at the same speed: the same time, about a seventh more images
    assert len(known.lines) == len(bare.lines) and known.total_time_s == pytest.approx(bare.total_time_s)
    assert 1.1 < known.image_count / bare.image_count < 1.25
    # dense overlap already keeps modules whole: nothing changes
    dense = plan_flight(newspaper_roof, M3T, front_overlap=0.7, row_azimuth_deg=90)
    assert dense.trigger_points == (
        plan_flight(
            newspaper_roof, M3T, front_overlap=0.7, row_azimuth_deg=90, module_footprint_m=PORTRAIT_10_DEG
        ).trigger_points
    )


def test_a_module_spans_its_projection_on_the_lines_or_its_diagonal_when_the_rows_are_unknown() -> None:
    assert module_extent((1.0, 2.0), 90, 180) == pytest.approx(2.0)  # lines across the rows
    assert module_extent((1.0, 2.0), 90, 90) == pytest.approx(1.0)  # lines along them (trackers)
    assert module_extent((1.0, 2.0), 0, 45) == pytest.approx(3 / math.sqrt(2))
    assert module_extent((1.0, 2.0), None, 17) == pytest.approx(math.sqrt(5))
    with pytest.raises(ValueError, match="two positive sizes"):
        module_extent((0.0, 2.0), 90, 180)


def test_known_rows_size_the_modules_on_lines_that_do_not_cross_them(newspaper_roof: list[LonLat]) -> None:
    along_rows = plan_flight(
        newspaper_roof, M3T, row_azimuth_deg=90, line_azimuth_deg=90, module_footprint_m=PORTRAIT_10_DEG
    )
    assert along_rows.line_azimuth_deg == 90  # a tracker's lines, along its rows
    assert along_rows.module_extent_m == pytest.approx(PORTRAIT_10_DEG[0])  # the module's width, not more
    fewest = plan_flight(
        newspaper_roof, M3T, row_azimuth_deg=30, lines_across_rows=False, module_footprint_m=PORTRAIT_10_DEG
    )
    unknown = plan_flight(newspaper_roof, M3T, module_footprint_m=PORTRAIT_10_DEG)
    assert fewest.line_azimuth_deg == unknown.line_azimuth_deg  # the rows do not turn the lines
    assert fewest.module_extent_m == pytest.approx(
        module_extent(PORTRAIT_10_DEG, 30, fewest.line_azimuth_deg)
    )
    assert fewest.module_extent_m < unknown.module_extent_m == pytest.approx(math.hypot(*PORTRAIT_10_DEG))
    assert fewest.trigger_spacing_m > unknown.trigger_spacing_m


def test_an_image_too_short_to_hold_a_module_whole_asks_to_fly_higher(newspaper_roof: list[LonLat]) -> None:
    with pytest.raises(ValueError, match="fly higher"):
        plan_flight(newspaper_roof, M3T, altitude_m=2, row_azimuth_deg=90, module_footprint_m=PORTRAIT_10_DEG)
    assert plan_flight(newspaper_roof, M3T, altitude_m=2, row_azimuth_deg=90).image_count > 0  # overlap alone


# --- height and GSD -----------------------------------------------------------------------------------------


def test_it_flies_as_high_as_five_pixels_per_cell_allow_by_default(newspaper_roof: list[LonLat]) -> None:
    assert screening_gsd() == pytest.approx(0.0332)
    for camera in (M4T, H30T):
        plan = plan_flight(newspaper_roof, camera)
        assert plan.gsd_m == pytest.approx(screening_gsd())
        assert 0.166 / plan.gsd_m == pytest.approx(5)


def test_a_given_altitude_or_gsd_sets_the_other(newspaper_roof: list[LonLat]) -> None:
    assert plan_flight(newspaper_roof, M3T, altitude_m=20).gsd_m == pytest.approx(M3T.gsd_m(20))
    assert plan_flight(newspaper_roof, M3T, gsd_m=0.02).altitude_m == pytest.approx(
        M3T.altitude_for_gsd(0.02)
    )
    with pytest.raises(ValueError, match="either altitude_m or gsd_m"):
        plan_flight(newspaper_roof, M3T, altitude_m=20, gsd_m=0.02)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"front_overlap": 1.0}, "front_overlap"),
        ({"side_overlap": -0.1}, "side_overlap"),
        ({"speed_m_s": 0}, "speed_m_s"),
        ({"turn_time_s": -1}, "turn_time_s"),
        ({"battery_endurance_s": 0}, "battery_endurance_s"),
    ],
)
def test_it_rejects_impossible_settings(
    newspaper_roof: list[LonLat], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plan_flight(newspaper_roof, M3T, **options)


# --- shapes -------------------------------------------------------------------------------------------------


def test_it_splits_lines_over_a_concave_plant_and_keeps_every_image_inside() -> None:
    u_shape = outline([(0, 0), (150, 0), (150, 120), (100, 120), (100, 40), (50, 40), (50, 120), (0, 120)])
    plan = plan_flight(u_shape, M3T, line_azimuth_deg=90)
    frame, xy = local(plan)
    assert len(plan.lines) > len(line_offsets(plan))
    for lon, lat in plan.trigger_points:
        p = frame.to_xy(lon, lat)
        assert point_in_polygon(p, xy) or distance_to_boundary(p, xy) < 1e-6


def test_it_chooses_the_long_side_of_a_turned_strip() -> None:
    strip = rectangle(400, 60, azimuth_deg=30)
    frame = local_frame(strip)
    assert fewest_turns_azimuth(project(strip, frame), 10) % 180 == pytest.approx(30, abs=1e-6)


def test_it_orders_the_lines_as_a_lawn_mower() -> None:
    segments = sweep_segments([(0, 0), (100, 0), (100, 50), (0, 50)], 90, 10)
    assert len(segments) == 5
    for (a, b), (c, d) in itertools.pairwise(segments):
        assert math.dist(b, c) == pytest.approx(10)
        assert (b[0] - a[0]) * (d[0] - c[0]) < 0


def test_it_refuses_a_polygon_without_area() -> None:
    with pytest.raises(ValueError, match="no area"):
        plan_flight(outline([(0, 0), (100, 0), (200, 0)]), M3T)


# --- time and batteries -------------------------------------------------------------------------------------


def test_a_short_battery_means_more_sorties_and_swaps(newspaper_roof: list[LonLat]) -> None:
    one = plan_flight(newspaper_roof, M3T)
    several = plan_flight(newspaper_roof, M3T, battery_endurance_s=10 * MINUTE)
    # 25.5 min in one go; each extra sortie costs 2 min of take-off and landing and 2 x 314 m of transit
    assert several.batteries == 4
    assert several.swap_time_s == 3 * 180
    assert several.total_time_s > one.total_time_s + several.swap_time_s
    assert several.flight_time_s <= several.batteries * several.battery_endurance_s


def test_the_default_battery_is_seventy_percent_of_the_published_flight_time(
    newspaper_roof: list[LonLat],
) -> None:
    assert plan_flight(newspaper_roof, M3T).battery_endurance_s == pytest.approx(0.7 * 45 * MINUTE)


def test_a_distant_home_adds_transit(newspaper_roof: list[LonLat]) -> None:
    near = plan_flight(newspaper_roof, M3T)
    home = rectangle(1, 1)[0]
    far_frame = local_frame(newspaper_roof)
    far_home = far_frame.to_lonlat(*[c + 1000 for c in far_frame.to_xy(*home)])
    far = plan_flight(newspaper_roof, M3T, home=far_home)
    assert far.transit_distance_m > near.transit_distance_m + 1500
    assert far.home == pytest.approx(far_home)


def test_batteries_needed_counts_the_overhead_of_each_extra_sortie() -> None:
    assert batteries_needed(100, 100, 30) == 1
    assert batteries_needed(170, 100, 30) == 2  # 170 + 30 = 200
    assert batteries_needed(171, 100, 30) == 3
    with pytest.raises(ValueError, match="does not last"):
        batteries_needed(200, 30, 30)


# --- properties ---------------------------------------------------------------------------------------------


@st.composite
def plants(draw: st.DrawFn) -> list[LonLat]:
    """Star-shaped (often concave) plant outlines, 40 m to 600 m across, anywhere below 60° latitude."""
    n = draw(st.integers(3, 10))
    jitter = draw(st.lists(st.floats(0, 0.8), min_size=n, max_size=n))
    radii = draw(st.lists(st.floats(20, 300), min_size=n, max_size=n))
    frame = LocalFrame(draw(st.floats(-170, 170)), draw(st.floats(-60, 60)))
    angles = [2 * math.pi * (k + jitter[k]) / n for k in range(n)]
    return [frame.to_lonlat(r * math.cos(a), r * math.sin(a)) for a, r in zip(angles, radii, strict=True)]


surveys = st.fixed_dictionaries(
    {
        "camera": st.sampled_from(list(CAMERAS.values())),
        "gsd_m": st.floats(0.025, 0.06),
        "front_overlap": st.floats(0, 0.8),
        "side_overlap": st.floats(0, 0.7),
        "line_azimuth_deg": st.one_of(st.none(), st.floats(0, 360)),
    }
)


def plan_survey(polygon: list[LonLat], survey: dict[str, Any]) -> FlightPlan:
    return plan_flight(polygon, **survey)


@settings(max_examples=40, deadline=None)
@given(plants(), surveys)
def test_every_trigger_point_lies_inside_the_plant(polygon: list[LonLat], survey: dict[str, Any]) -> None:
    plan = plan_survey(polygon, survey)
    frame, xy = local(plan)
    for lon, lat in plan.trigger_points:
        p = frame.to_xy(lon, lat)
        assert point_in_polygon(p, xy) or distance_to_boundary(p, xy) < 0.01


@settings(max_examples=40, deadline=None)
@given(plants(), surveys)
def test_line_spacing_gives_at_least_the_requested_side_overlap(
    polygon: list[LonLat], survey: dict[str, Any]
) -> None:
    plan = plan_survey(polygon, survey)
    across, _ = plan.footprint_m
    offsets = line_offsets(plan)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert all(1 - gap / across >= plan.side_overlap - 1e-9 for gap in gaps)
    _, xy = local(plan)
    vs = [v for _, v in rotate(xy, plan.line_azimuth_deg)]
    assert offsets[0] - min(vs) <= plan.line_spacing_m / 2 + 1e-6
    assert max(vs) - offsets[-1] <= plan.line_spacing_m / 2 + 1e-6


@settings(max_examples=40, deadline=None)
@given(plants(), surveys)
def test_images_along_a_line_overlap_at_least_as_requested(
    polygon: list[LonLat], survey: dict[str, Any]
) -> None:
    plan = plan_survey(polygon, survey)
    _, along = plan.footprint_m
    frame, _ = local(plan)
    for line in plan.lines:
        points = project(line.triggers, frame)
        for a, b in itertools.pairwise(points):
            assert 1 - math.dist(a, b) / along >= plan.front_overlap - 1e-6


@settings(max_examples=40, deadline=None)
@given(plants(), surveys, st.tuples(st.floats(0.5, 2.5), st.floats(0.5, 2.5)), st.floats(0, 1))
def test_with_the_modules_known_each_line_holds_a_module_anywhere_on_it_whole_in_two_images(
    polygon: list[LonLat], survey: dict[str, Any], module: tuple[float, float], where: float
) -> None:
    plan = plan_survey(polygon, {**survey, "module_footprint_m": module})
    assert plan.module_extent_m == pytest.approx(math.hypot(*module))  # rows unknown: any way round
    _, along = plan.footprint_m
    half = along / 2 - WHOLE_MODULE_MARGIN_PX * plan.gsd_m  # an image's reach from its centre, margin kept
    frame, _ = local(plan)
    for line in plan.lines:
        points = project(line.triggers, frame)
        at = [math.dist(points[0], p) for p in points]  # along the line from its start
        lo = where * max(0.0, line.length_m - plan.module_extent_m)  # a module between the line's ends
        hi = lo + plan.module_extent_m
        holding = [c for c in at if c - half <= lo + 1e-6 and hi <= c + half + 1e-6]
        assert len(holding) >= 2, (lo, at)


@settings(max_examples=40, deadline=None)
@given(plants(), surveys)
def test_the_image_count_matches_the_trigger_points(polygon: list[LonLat], survey: dict[str, Any]) -> None:
    plan = plan_survey(polygon, survey)
    assert plan.image_count == len(plan.trigger_points) == sum(len(line.triggers) for line in plan.lines)
    expected = sum(math.ceil(line.length_m / plan.trigger_spacing_m - 1e-9) + 1 for line in plan.lines)
    assert plan.image_count == expected
    assert len(plan.waypoints) == 2 * len(plan.lines)
    assert all(alt == plan.altitude_m for _, _, alt in plan.waypoints)


@settings(max_examples=40, deadline=None)
@given(plants(), surveys, st.floats(5 * MINUTE, 40 * MINUTE))
def test_the_time_components_add_up(polygon: list[LonLat], survey: dict[str, Any], endurance: float) -> None:
    plan = plan_flight(polygon, battery_endurance_s=endurance, **survey)
    parts = (
        plan.line_time_s
        + plan.turn_time_s
        + plan.transit_time_s
        + plan.takeoff_landing_time_s
        + plan.swap_time_s
    )
    assert plan.total_time_s == pytest.approx(parts)
    assert plan.total_time_s == pytest.approx(plan.flight_time_s + plan.swap_time_s)
    assert plan.flight_time_s <= plan.batteries * endurance + 1e-6
