from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from gongzhi.modules.pv.analytics.glint import (
    GLINT_CONE_DEG,
    glint_angles_deg,
    mirrored,
    module_normal,
    moment_of_sun,
    no_glint,
    sun_vector,
    sun_vectors,
)


def _az_el(v: np.ndarray) -> tuple[float, float]:
    return math.degrees(math.atan2(v[0], v[1])) % 360, math.degrees(math.asin(v[2]))


def test_the_sun_stands_where_the_almanac_puts_it() -> None:
    """Hangzhou (30.25° N, 120.15° E) at the March equinox's solar noon (about 12:07 Beijing time): due
    south, 90° − 30.25° high (the declination is about 0°); at midnight below the horizon; an unknown time
    gives NaN."""
    noon = dt.datetime(2026, 3, 20, 4, 7, tzinfo=dt.UTC).timestamp()
    midnight = dt.datetime(2026, 3, 20, 16, 0, tzinfo=dt.UTC).timestamp()
    suns = sun_vectors([noon, midnight, math.nan], 120.15, 30.25)
    az, el = _az_el(suns[0])
    assert az == pytest.approx(180.0, abs=1.5) and el == pytest.approx(90 - 30.25, abs=0.7)
    assert suns[1, 2] < 0
    assert np.isnan(suns[2]).all()


def test_the_suns_direction_agrees_with_nrels_solar_position_algorithm() -> None:
    """Against pvlib's SPA (geometric elevation) at 500 random moments of 2020–2031 over Hangzhou and
    Shenzhen: within 0.02°."""
    import pandas as pd
    from pvlib import solarposition

    t = np.random.default_rng(1).uniform(1.5778e9, 1.9568e9, 500)
    for lon, lat in ((120.15, 30.25), (114.05, 22.55)):
        times = pd.DatetimeIndex(pd.to_datetime(t, unit="s", utc=True))
        spa = solarposition.get_solarposition(times, lat, lon, method="nrel_numpy")
        el, az = np.radians(spa["elevation"].to_numpy()), np.radians(spa["azimuth"].to_numpy())
        want = np.column_stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])
        cos = np.einsum("ij,ij->i", sun_vectors(t, lon, lat), want)
        assert float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max()) < 0.02


def test_the_moment_of_a_sun_is_found_to_the_minute_and_an_unreachable_one_says_how_far() -> None:
    when, off = moment_of_sun(135.0, 30.0, 120.2, 30.3)
    assert off < 0.3
    az, el = _az_el(sun_vectors([when], 120.2, 30.3)[0])
    assert az == pytest.approx(135.0, abs=0.3) and el == pytest.approx(30.0, abs=0.3)
    # due south over Shenzhen (22.55° N) the sun never stands under 90 − 22.55 − 23.44 = 44°
    _, off = moment_of_sun(180.0, 40.0, 114.05, 22.55)
    assert off == pytest.approx(44.0 - 40.0, abs=0.5)


def test_a_view_along_the_mirrored_sun_may_hold_a_glint_and_one_far_from_it_cannot() -> None:
    normal = module_normal(10.0, 90.0)  # rows east-west, tilted 10° to the south
    assert normal[1] < 0 and normal[2] == pytest.approx(math.cos(math.radians(10)))
    sun = sun_vector(180.0, 65.0)
    r = mirrored(sun, normal)
    module = np.array([[5.0, 7.0]])
    on_ray = module[0] + 25.0 * r[:2] / r[2]  # the camera 25 m above the plane on the mirrored ray
    cameras = np.array([[*on_ray, 25.0], [module[0, 0], module[0, 1] + 25.0, 25.0], [5.0, 7.0, 25.0]])
    suns = np.repeat(sun[None, :], 3, axis=0)
    angles = glint_angles_deg(cameras, np.repeat(module, 3, axis=0), normal, suns, reach_m=1.0)
    assert angles[0] == 0.0  # on the ray: the glint
    assert angles[1] > GLINT_CONE_DEG  # 45° off to the north
    assert no_glint(angles).tolist() == [False, True, angles[2] > GLINT_CONE_DEG]
    # the sun behind the glass, or unknown
    behind = glint_angles_deg(cameras[:1], module, normal, sun_vector(0.0, 5.0)[None, :], reach_m=1.0)
    unknown = glint_angles_deg(cameras[:1], module, normal, np.full((1, 3), np.nan), reach_m=1.0)
    assert behind[0] == 180.0 and no_glint(behind)[0]
    assert not no_glint(unknown)[0]
