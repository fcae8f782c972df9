from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from gongzhi.modules.pv.analytics.anomalies import ANOMALIES, Anomaly
from gongzhi.modules.pv.analytics.georef import locate, module_index, visible_modules
from gongzhi.modules.pv.analytics.glint import sun_vector, sun_vectors
from gongzhi.modules.pv.analytics.layout import LayoutParams, PlantLayout, generate_layout
from gongzhi.modules.pv.analytics.synthetic import (
    Conditions,
    faiman_temperature,
    glint_offset,
    retimed,
    synthetic_flight,
)

from .shapes import rectangle


@pytest.fixture(scope="module")
def layout() -> PlantLayout:
    return generate_layout(rectangle(30, 22))


def test_the_same_seed_gives_the_same_flight_and_another_seed_another(layout: PlantLayout) -> None:
    a, b = synthetic_flight(layout, seed=3), synthetic_flight(layout, seed=3)
    assert a.anomalies == b.anomalies
    assert np.array_equal(a.frame(2).temperature_c, b.frame(2).temperature_c)
    assert a.frame(2).meta == b.frame(2).meta
    c = synthetic_flight(layout, seed=4)
    assert c.anomalies != a.anomalies
    assert not np.array_equal(a.frame(2).temperature_c, c.frame(2).temperature_c)


def test_frames_are_radiometric_rasters_with_the_flight_metadata(layout: PlantLayout) -> None:
    flight = synthetic_flight(layout, seed=1)
    frames = list(flight.frames())
    assert len(frames) == flight.plan.image_count == len(flight)
    f = frames[0]
    assert f.temperature_c.shape == (512, 640) and f.temperature_c.dtype == np.float32
    assert f.meta.camera == "M3T" and f.meta.alt_rel_m == pytest.approx(flight.plan.altitude_m)
    assert f.meta.irradiance_w_m2 == 850.0 and f.meta.gimbal_pitch_deg == -90.0
    healthy = faiman_temperature(850.0, 28.0, 2.0)
    assert np.percentile(frames[len(frames) // 2].temperature_c, 90) == pytest.approx(healthy, abs=4)


@pytest.mark.parametrize("altitude_m", [16.0, 20.0])
def test_the_plan_of_a_known_plant_shows_every_module_whole_in_two_frames_at_least(
    altitude_m: float,
) -> None:
    """Below the screening height the overlaps alone leave modules seen whole once, which the sun-reflection
    filter cannot check: under a line's trace, in a row straddling the frames' shared edges."""
    layout = generate_layout(rectangle(40, 24), LayoutParams(setback_m=0.5))
    index = module_index(layout)

    def views(whole_modules: bool) -> list[int]:
        flight = synthetic_flight(layout, seed=0, altitude_m=altitude_m, whole_modules=whole_modules)
        seen = np.zeros(len(layout.modules), dtype=int)
        for pose in flight.poses:
            seen[visible_modules(index, pose)] += 1
        return seen.tolist()

    assert min(views(whole_modules=False)) == 1
    assert min(views(whole_modules=True)) >= 2


def test_every_class_is_planted_on_distinct_modules(layout: PlantLayout) -> None:
    flight = synthetic_flight(layout, seed=2, anomalies_per_class=1)
    planted = {a.anomaly for a in flight.anomalies}
    assert planted == set(ANOMALIES)
    ids = [a.module_id for a in flight.anomalies]
    assert len(ids) == len(set(ids))
    strings = [a for a in flight.anomalies if a.anomaly is Anomaly.STRING_OFFLINE]
    assert (
        len(strings) >= 3 and len({layout.modules[layout.position(a.module_id)].string for a in strings}) == 1
    )


def test_the_sun_glint_sits_at_the_mirror_point(layout: PlantLayout) -> None:
    dx, dy = glint_offset(layout, Conditions(sun_azimuth_deg=180, sun_elevation_deg=65), 25.0) or (0, 0)
    # modules tilted 10° to the south, sun 25° from zenith in the south: the reflected ray leaves 5° north
    # of the zenith, so the camera sees it on the modules 25 m · tan 5° south of its nadir
    assert dx == pytest.approx(0, abs=1e-6)
    assert dy == pytest.approx(-25 * np.tan(np.radians(5)), abs=0.01)


def test_an_oblique_camera_sees_the_glint_where_the_plane_mirrors_the_sun_into_it(
    layout: PlantLayout,
) -> None:
    """The glint lies where it does for a nadir camera, a fixed offset from the camera's nadir on the plane:
    a camera looking ahead at −60° sees it when it lies ahead (a sun 40° high in the south, the camera
    flying south), and not when it lies behind (the default sun, 65° high)."""
    low, dark = Conditions(sun_elevation_deg=40.0), Conditions(sun_elevation_deg=40.0, reflection_k=0.0)
    lit, plain = (synthetic_flight(layout, seed=6, gimbal_pitch_deg=-60, conditions=c) for c in (low, dark))
    h = lit.plan.altitude_m
    ox, oy = glint_offset(layout, low, h) or (0.0, 0.0)
    assert oy == pytest.approx(-0.58 * h, rel=0.05)  # ahead of a camera flying south, the view's middle
    ahead = shown = 0
    index = module_index(layout)
    for i, pose in enumerate(lit.poses):
        cam = lit.oblique_camera(i)
        assert cam is not None
        row, col = (float(v) for v in cam.xy_to_pixel(cam.x_m + ox, cam.y_m + oy))
        diff = lit.frame(i).temperature_c - plain.frame(i).temperature_c
        if abs(pose.yaw_deg) < 90 or not (0 <= row < pose.height_px and 0 <= col < pose.width_px):
            assert float(np.abs(diff).max()) < 0.5  # behind the camera: not in view
            continue
        on = locate(index, np.array([cam.x_m + ox]), np.array([cam.y_m + oy]))[0]
        if on[0] < 0:
            continue  # on the roof between modules: no glass to glint
        ahead += 1
        shown += float(diff.max()) > 0.5 * low.reflection_k
        r, c = np.unravel_index(int(np.argmax(diff)), diff.shape)
        assert abs(r - row) < 6 and abs(c - col) < 6
    assert shown == ahead >= 2
    normal = synthetic_flight(layout, seed=6, gimbal_pitch_deg=-60)
    unlit = synthetic_flight(layout, seed=6, gimbal_pitch_deg=-60, conditions=Conditions(reflection_k=0.0))
    assert all(np.array_equal(normal.frame(i).temperature_c, unlit.frame(i).temperature_c) for i in (0, 3, 7))


def test_the_frames_time_and_place_give_the_sun_that_lit_them(layout: PlantLayout) -> None:
    """Without a start, a flight is flown when the sun stands where its conditions put it (mid-flight);
    retimed to a clock's time (the demo's, a simulated dock's), it is lit by the sun of that time, and at
    night by none."""
    flight = synthetic_flight(
        layout, seed=2, conditions=Conditions(sun_azimuth_deg=200, sun_elevation_deg=55)
    )
    mid = flight.frame(len(flight) // 2).meta
    assert mid.time is not None and mid.lat is not None and mid.lon is not None
    sun = sun_vectors([mid.time.timestamp()], mid.lon, mid.lat)[0]
    assert float(np.degrees(np.arccos(sun @ sun_vector(200, 55)))) < 0.5
    night = retimed(flight, dt.datetime(2026, 7, 1, 15, 0, tzinfo=dt.UTC))  # 23:00 in China
    assert night.conditions.sun_elevation_deg < 0 and night._scene.glint_offset_m is None
    assert night.frame(0).meta.time == dt.datetime(2026, 7, 1, 15, 0, tzinfo=dt.UTC)
    day = retimed(flight, dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.UTC))  # 10:00
    mid = day.frame(len(day) // 2).meta
    assert mid.time is not None
    sun = sun_vectors([mid.time.timestamp()], mid.lon or 0.0, mid.lat or 0.0)[0]
    lit = sun_vector(day.conditions.sun_azimuth_deg, day.conditions.sun_elevation_deg)
    assert float(np.degrees(np.arccos(min(1.0, float(sun @ lit))))) < 0.5
    assert day._scene.glint_offset_m is not None and day._scene.glint_offset_m != flight._scene.glint_offset_m
