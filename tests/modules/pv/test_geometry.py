from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongzhi.modules.pv.analytics.geometry import (
    LocalFrame,
    clean_ring,
    distance_to_boundary,
    local_frame,
    point_in_polygon,
    polygon_centroid,
    project,
    rotate,
    scanline_crossings,
    signed_area,
    unproject,
    unrotate,
)

from .shapes import rectangle

SQUARE = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]


def test_a_degree_has_the_wgs84_length() -> None:
    east, north = LocalFrame(0, 45).metres_per_degree()
    assert east == pytest.approx(78_846.8, abs=0.1)
    assert north == pytest.approx(111_131.8, abs=0.1)  # M(45°) · π/180; the 44.5°-45.5° arc is 111,133 m
    east, north = LocalFrame(0, 0).metres_per_degree()
    assert east == pytest.approx(111_319.5, abs=0.1)
    assert north == pytest.approx(110_574.3, abs=0.1)


def test_it_keeps_the_documented_error_over_a_kilometre_plant() -> None:
    frame = LocalFrame(10, 45)
    lon, lat = frame.to_lonlat(500, 500)
    true_east, _ = LocalFrame(10, lat).to_xy(lon, lat)
    error = 500 - true_east
    assert error == pytest.approx(500 * 500 / 6_371_000, rel=0.05)
    assert error < 0.04


@given(
    st.floats(-170, 170),
    st.floats(-70, 70),
    st.floats(-2000, 2000),
    st.floats(-2000, 2000),
)
def test_it_projects_and_back_without_loss(lon0: float, lat0: float, x: float, y: float) -> None:
    frame = LocalFrame(lon0, lat0)
    [(lon, lat)] = unproject([(x, y)], frame)
    [(x2, y2)] = project([(lon, lat)], frame)
    assert (x2, y2) == pytest.approx((x, y), abs=1e-6)


def test_it_centres_the_frame_on_the_area_centroid() -> None:
    roof = rectangle(250, 200)
    frame = local_frame(roof)
    assert polygon_centroid(project(roof, frame)) == pytest.approx((0, 0), abs=1e-6)
    assert abs(signed_area(project(roof, frame))) == pytest.approx(50_000, rel=1e-6)


def test_the_centroid_of_an_l_shape_is_not_the_mean_of_its_vertices() -> None:
    ell = [(0.0, 0.0), (30.0, 0.0), (30.0, 10.0), (10.0, 10.0), (10.0, 30.0), (0.0, 30.0)]
    assert polygon_centroid(ell) == pytest.approx((11.0, 11.0))


def test_it_drops_a_closing_vertex_and_refuses_a_line() -> None:
    assert clean_ring([(0, 0), (1, 0), (1, 1), (0, 0)]) == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
    with pytest.raises(ValueError, match="three vertices"):
        clean_ring([(0, 0), (1, 1), (0, 0)])
    with pytest.raises(ValueError, match="finite"):
        clean_ring([(0, 0), (1, math.nan), (1, 1)])


@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(0, 360))
def test_rotation_is_undone_by_unrotation(x: float, y: float, azimuth: float) -> None:
    assert unrotate(rotate([(x, y)], azimuth), azimuth)[0] == pytest.approx((x, y), abs=1e-6)


def test_rotation_puts_the_azimuth_on_the_x_axis() -> None:
    assert rotate([(0.0, 1.0)], 0)[0] == pytest.approx((1, 0), abs=1e-12)  # north
    assert rotate([(1.0, 0.0)], 90)[0] == pytest.approx((1, 0), abs=1e-12)  # east


def test_it_tells_inside_from_outside() -> None:
    assert point_in_polygon((5, 5), SQUARE)
    assert not point_in_polygon((15, 5), SQUARE)
    assert distance_to_boundary((5, 2), SQUARE) == pytest.approx(2)
    assert distance_to_boundary((13, 14), SQUARE) == pytest.approx(5)


def test_a_scan_line_through_vertices_counts_each_crossing_once() -> None:
    diamond = [(0.0, -1.0), (1.0, 0.0), (0.0, 1.0), (-1.0, 0.0)]
    assert scanline_crossings(diamond, 0.0) == pytest.approx([-1, 1])
    assert scanline_crossings(diamond, 1.0) == []
    notch = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (2.0, 1.0), (0.0, 4.0)]
    assert scanline_crossings(notch, 2.0) == pytest.approx([0, 2 - 2 / 3, 2 + 2 / 3, 4])
