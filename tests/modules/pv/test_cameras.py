from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongzhi.modules.pv.analytics.cameras import CAMERAS, H20T, H30T, M3T, M4T, M30T, ThermalCamera


def test_it_knows_the_five_dji_thermal_payloads() -> None:
    assert set(CAMERAS) == {"M30T", "M3T", "M4T", "H20T", "H30T"}
    assert all(c.pixel_pitch_um == 12.0 for c in CAMERAS.values())
    assert (H30T.width_px, H30T.height_px) == (1280, 1024)
    assert (M3T.width_px, M3T.height_px) == (640, 512)


def test_it_gives_the_m3t_a_3_3_cm_gsd_and_a_21_by_17_m_footprint_at_25_m() -> None:
    assert M3T.gsd_m(25) == pytest.approx(0.033, abs=5e-4)
    across, along = M3T.footprint_m(25)
    assert across == pytest.approx(21.1, abs=0.1)
    assert along == pytest.approx(16.9, abs=0.1)


@pytest.mark.parametrize(("camera", "ceiling_m"), [(M3T, 25), (M30T, 25), (M4T, 33), (H20T, 37), (H30T, 66)])
def test_it_reproduces_the_screening_ceilings_of_the_domain_notes(
    camera: ThermalCamera, ceiling_m: float
) -> None:
    assert camera.altitude_for_gsd(0.033) == pytest.approx(ceiling_m, abs=0.5)


def test_its_pinhole_field_of_view_stays_near_the_published_one() -> None:
    for camera in CAMERAS.values():
        w, h = camera.sensor_size_mm
        diagonal = 2 * math.degrees(math.atan(math.hypot(w, h) / (2 * camera.focal_length_mm)))
        assert abs(diagonal - camera.dfov_deg) < 5
        assert camera.vfov_deg < camera.hfov_deg < diagonal


@given(st.sampled_from(list(CAMERAS.values())), st.floats(1, 500))
def test_gsd_and_altitude_are_inverse(camera: ThermalCamera, altitude: float) -> None:
    assert camera.altitude_for_gsd(camera.gsd_m(altitude)) == pytest.approx(altitude)


@pytest.mark.parametrize("altitude", [0, -5, math.nan, math.inf])
def test_it_rejects_a_non_positive_altitude(altitude: float) -> None:
    with pytest.raises(ValueError, match="altitude_m"):
        M3T.gsd_m(altitude)
