"""Where the sun can glint on the modules: the sun's position and the mirror geometry of the module plane.

A sun reflection (glint) shows where the module's glass mirrors the sun into the camera: the ray from the
module to the camera leaves along the sun vector mirrored about the module's normal. It is fixed relative to
the camera, so it slides over the modules from one frame to the next; a defect stays on its module. The
analysis's reflection filter (:func:`.modules.merge_views`) asks most views of a module to agree because a
single view might hold a glint; a view whose camera is far from the mirror direction cannot
(:func:`glint_angles_deg`), and the sun's position comes from the frames' time and place
(:func:`sun_vectors`, the Astronomical Almanac's formulas).

Vectors are (east, north, up) in a plant's local frame; azimuths clockwise from north [°].
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

GLINT_CONE_DEG = 10.0
"""Largest angle [°] between the ray from a module to the camera and the sun mirrored about the module's
normal at which a view may hold a glint on that module (from the module's nearest point to the mirror
direction). The sun's disc is 0.5° across; textured and anti-reflective glass spreads its image to a few
degrees (the synthetic glint, σ 0.12 m on the plane, is 0.3° from 25 m), and the sun moves 0.25° a minute,
which the frames' clocks and a flight's duration blur: 10° keeps every view that could hold one."""


def sun_vector(azimuth_deg: float, elevation_deg: float) -> FloatArray:
    """Unit vector towards the sun (east, north, up)."""
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    return np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])


def module_normal(tilt_deg: float, row_azimuth_deg: float) -> FloatArray:
    """Unit normal of modules tilted ``tilt_deg`` towards the side 90° clockwise of their rows' azimuth."""
    tilt, facing = math.radians(tilt_deg), math.radians(row_azimuth_deg + 90)
    return np.array([math.sin(tilt) * math.sin(facing), math.sin(tilt) * math.cos(facing), math.cos(tilt)])


def mirrored(sun: npt.ArrayLike, normal: FloatArray) -> FloatArray:
    """The sun vector(s) mirrored about the plane's normal, r = 2 (n · s) n − s: the direction in which the
    plane sends the sun's light."""
    s = np.asarray(sun, dtype=np.float64)
    return np.asarray(2 * (s @ normal)[..., None] * normal - s, dtype=np.float64)


def sun_vectors(epoch_s: npt.ArrayLike, lon_deg: float, lat_deg: float) -> FloatArray:
    """Unit vectors towards the sun at the UTC times ``epoch_s`` [s since 1970] over (lon, lat), one row a
    time; NaN rows for times that are NaN.

    The Astronomical Almanac's low-precision formulas (the sun's mean longitude and anomaly, the ecliptic
    longitude, the obliquity, Greenwich mean sidereal time), geometric (no refraction, under 0.1° above
    20° of elevation): within 0.012° of NREL's solar position algorithm (pvlib's ``nrel_numpy``) over
    2020–2031 (``tests/modules/pv/test_glint.py``), in numpy alone, so that the analysis does not import
    pandas and pvlib for it (about 1 s a process)."""
    t = np.asarray(epoch_s, dtype=np.float64)
    n = t / 86400.0 + 2440587.5 - 2451545.0  # days since J2000.0
    mean_longitude = np.radians((280.460 + 0.9856474 * n) % 360)
    anomaly = np.radians((357.528 + 0.9856003 * n) % 360)
    ecliptic = mean_longitude + np.radians(1.915 * np.sin(anomaly) + 0.020 * np.sin(2 * anomaly))
    obliquity = np.radians(23.439 - 0.0000004 * n)
    ra = np.arctan2(np.cos(obliquity) * np.sin(ecliptic), np.cos(ecliptic))
    dec = np.arcsin(np.sin(obliquity) * np.sin(ecliptic))
    sidereal = np.radians((280.46061837 + 360.98564736629 * n + lon_deg) % 360)  # local mean sidereal time
    hour = sidereal - ra
    phi = math.radians(lat_deg)
    # the sun's direction in the local (east, north, up) frame, from its hour angle and declination
    east = -np.cos(dec) * np.sin(hour)
    north = np.sin(dec) * math.cos(phi) - np.cos(dec) * np.cos(hour) * math.sin(phi)
    up = np.sin(dec) * math.sin(phi) + np.cos(dec) * np.cos(hour) * math.cos(phi)
    return np.column_stack([east, north, up])


def glint_angles_deg(
    cameras: FloatArray, points: FloatArray, normal: FloatArray, suns: FloatArray, reach_m: float
) -> FloatArray:
    """For each view, the least angle [°] between the ray from a module to the camera and the sun mirrored
    about the module's normal: the angle at the module's centre, less what ``reach_m`` (the module's
    half-diagonal) subtends from the camera. NaN where the camera or the sun is unknown; 180° when the sun
    is below the module's plane (it cannot glint).

    Parameters
    ----------
    cameras : ndarray
        Camera positions (east, north, height above the module plane) [m], one row a view.
    points : ndarray
        Module centres (east, north) [m], one row a view.
    normal : ndarray
        The modules' normal (:func:`module_normal`).
    suns : ndarray
        Vectors towards the sun, one row a view (:func:`sun_vectors`).
    reach_m : float
        Half the module's diagonal [m].
    """
    ray = np.column_stack([cameras[:, 0] - points[:, 0], cameras[:, 1] - points[:, 1], cameras[:, 2]])
    distance = np.linalg.norm(ray, axis=1)
    r = mirrored(suns, normal)
    cos = np.einsum("ij,ij->i", ray, r) / distance
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))) - np.degrees(np.arctan2(reach_m, distance))
    return np.where((suns @ normal) <= 0, 180.0, np.maximum(angle, 0.0))


def no_glint(angles_deg: FloatArray, cone_deg: float = GLINT_CONE_DEG) -> npt.NDArray[np.bool_]:
    """Which views cannot hold a glint on their module: known, and farther than ``cone_deg`` from the
    mirror direction."""
    a = np.asarray(angles_deg, dtype=np.float64)
    return np.asarray(np.isfinite(a) & (a > cone_deg))


MOMENT_SLACK_DEG = 0.3
"""How much farther from the wanted sun than the year's nearest the moment :func:`moment_of_sun` picks may
stand [°], so that it picks the year's first such moment (the sun passes most places twice a year)."""


@lru_cache(maxsize=64)
def moment_of_sun(
    azimuth_deg: float, elevation_deg: float, lon_deg: float, lat_deg: float, year: int = 2026
) -> tuple[float, float]:
    """The first moment of ``year`` at which the sun over (lon, lat) stands within :data:`MOMENT_SLACK_DEG`
    of the nearest it comes to (azimuth, elevation), to the minute, and how far from that it stands then
    [°]: a search every ten minutes over the year, each candidate then by the minute. Returns (UTC epoch
    [s], angle [°]).

    A synthetic flight takes its time from it (:func:`.synthetic.synthetic_flight`), so that the sun the
    analysis works out from the frames' time and place is the sun that lit them."""
    want = sun_vector(azimuth_deg, elevation_deg)

    def off(times: npt.ArrayLike) -> FloatArray:
        return np.degrees(np.arccos(np.clip(sun_vectors(times, lon_deg, lat_deg) @ want, -1.0, 1.0)))

    def finest(around: float) -> tuple[float, float]:
        fine = around + 60.0 * np.arange(-10, 11)
        angles = off(fine)
        k = int(np.argmin(angles))
        return float(fine[k]), float(angles[k])

    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC).timestamp()
    coarse = np.arange(start, dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC).timestamp(), 600.0)
    angles = off(coarse)
    best = finest(float(coarse[int(np.argmin(angles))]))
    # the sun moves up to 2.5° in ten minutes: a coarse sample within that of the best may refine to it
    for k in np.flatnonzero(angles <= best[1] + MOMENT_SLACK_DEG + 2.5).tolist():
        found = finest(float(coarse[k]))
        if found[1] <= best[1] + MOMENT_SLACK_DEG:
            return found
    return best
