from __future__ import annotations

import numpy as np
import pytest

from gongzhi.modules.pv.analytics.anomalies import ANOMALIES, Anomaly
from gongzhi.modules.pv.analytics.layout import PlantLayout, generate_layout
from gongzhi.modules.pv.analytics.synthetic import (
    Conditions,
    faiman_temperature,
    glint_offset,
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
