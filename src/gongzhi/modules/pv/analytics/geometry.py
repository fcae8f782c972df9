"""Local metric coordinates for plant-sized polygons, and the little planar geometry flight planning needs.

A PV plant covers well under a square kilometre, so an equirectangular projection about the polygon's
centroid replaces a full map projection (no pyproj). Metres per degree come from the WGS84 ellipsoid's radii
of curvature at the origin latitude φ0 (meridional M, prime vertical N) [1]_:

    x = N cos φ0 · Δλ,    y = M · Δφ

The inverse is exact. The projection's only error is that the east scale is held at its value at φ0; a
point at (x, y) is displaced east by about ``x · y · tan φ0 / R``: under 4 cm for ±500 m at 45° latitude,
about 0.6 m for ±2 km, growing with the square of the extent. Keep polygons below a few kilometres across
and away from the poles and the antimeridian.

References
----------
.. [1] NGA, "Department of Defense World Geodetic System 1984", NGA.STND.0036_1.0.0_WGS84, 2014, sec. 2 and 7.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

WGS84_A = 6_378_137.0
"""WGS84 semi-major axis [m]."""
WGS84_F = 1 / 298.257_223_563
"""WGS84 flattening [-]."""
_E2 = WGS84_F * (2 - WGS84_F)

LonLat = tuple[float, float]
"""A WGS84 position as (longitude, latitude) [°], GeoJSON order."""
XY = tuple[float, float]
"""A local position as (east, north) [m]."""


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """Equirectangular tangent frame with its origin at (``lon0_deg``, ``lat0_deg``); x east, y north [m]."""

    lon0_deg: float
    lat0_deg: float

    def metres_per_degree(self) -> tuple[float, float]:
        """Length of one degree of longitude and of latitude at the origin [m °-1]."""
        phi = math.radians(self.lat0_deg)
        w = math.sqrt(1 - _E2 * math.sin(phi) ** 2)
        prime_vertical = WGS84_A / w
        meridional = WGS84_A * (1 - _E2) / w**3
        rad = math.pi / 180
        return rad * prime_vertical * math.cos(phi), rad * meridional

    def to_xy(self, lon: float, lat: float) -> XY:
        """Project a WGS84 position [°] to local (east, north) [m]."""
        kx, ky = self.metres_per_degree()
        return (lon - self.lon0_deg) * kx, (lat - self.lat0_deg) * ky

    def to_lonlat(self, x: float, y: float) -> LonLat:
        """Invert :meth:`to_xy`: local (east, north) [m] to WGS84 (longitude, latitude) [°]."""
        kx, ky = self.metres_per_degree()
        return self.lon0_deg + x / kx, self.lat0_deg + y / ky

    def to_lonlat_array(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """:meth:`to_lonlat` of arrays of positions (the same values, element for element) [°]."""
        kx, ky = self.metres_per_degree()
        return self.lon0_deg + x / kx, self.lat0_deg + y / ky


def clean_ring(polygon: Sequence[Sequence[float]]) -> list[LonLat]:
    """Return a polygon's vertices as (lon, lat) tuples, without a closing duplicate.

    Raises
    ------
    ValueError
        If fewer than three distinct vertices remain or a coordinate is not finite.
    """
    ring = [(float(p[0]), float(p[1])) for p in polygon]
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    if len(ring) < 3:
        raise ValueError("a polygon needs at least three vertices")
    if not all(math.isfinite(v) for p in ring for v in p):
        raise ValueError("polygon coordinates must be finite")
    return ring


def local_frame(polygon: Sequence[Sequence[float]]) -> LocalFrame:
    """Frame centred on the area centroid of a WGS84 polygon given as (lon, lat) vertices [°]."""
    ring = clean_ring(polygon)
    provisional = LocalFrame(
        sum(p[0] for p in ring) / len(ring),
        sum(p[1] for p in ring) / len(ring),
    )
    cx, cy = polygon_centroid([provisional.to_xy(*p) for p in ring])
    return LocalFrame(*provisional.to_lonlat(cx, cy))


def project(points: Sequence[Sequence[float]], frame: LocalFrame) -> list[XY]:
    """Project (lon, lat) positions [°] into ``frame`` [m]."""
    return [frame.to_xy(float(p[0]), float(p[1])) for p in points]


def unproject(points: Sequence[XY], frame: LocalFrame) -> list[LonLat]:
    """Map local (x, y) positions [m] back to (lon, lat) [°]."""
    return [frame.to_lonlat(x, y) for x, y in points]


def signed_area(xy: Sequence[XY]) -> float:
    """Shoelace area [m2], positive for counter-clockwise vertices."""
    n = len(xy)
    return 0.5 * sum(xy[i][0] * xy[(i + 1) % n][1] - xy[(i + 1) % n][0] * xy[i][1] for i in range(n))


def polygon_centroid(xy: Sequence[XY]) -> XY:
    """Area centroid of a simple polygon [m].

    Raises
    ------
    ValueError
        If the polygon has no area.
    """
    a = signed_area(xy)
    if abs(a) < 1e-9:
        raise ValueError("the polygon has no area")
    n = len(xy)
    cx = cy = 0.0
    for i in range(n):
        (x0, y0), (x1, y1) = xy[i], xy[(i + 1) % n]
        cross = x0 * y1 - x1 * y0
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return cx / (6 * a), cy / (6 * a)


def rotate(points: Sequence[XY], azimuth_deg: float) -> list[XY]:
    """Express points in a frame whose +x axis points along ``azimuth_deg`` (clockwise from north) [m]."""
    s, c = math.sin(math.radians(azimuth_deg)), math.cos(math.radians(azimuth_deg))
    return [(x * s + y * c, -x * c + y * s) for x, y in points]


def unrotate(points: Sequence[XY], azimuth_deg: float) -> list[XY]:
    """Invert :func:`rotate`."""
    s, c = math.sin(math.radians(azimuth_deg)), math.cos(math.radians(azimuth_deg))
    return [(u * s - v * c, u * c + v * s) for u, v in points]


def point_in_polygon(point: XY, xy: Sequence[XY]) -> bool:
    """Even-odd ray casting test; points on the boundary may fall either way."""
    px, py = point
    inside = False
    n = len(xy)
    for i in range(n):
        (x0, y0), (x1, y1) = xy[i], xy[(i + 1) % n]
        if (y0 > py) != (y1 > py) and px < x0 + (py - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def distance_to_boundary(point: XY, xy: Sequence[XY]) -> float:
    """Shortest distance from a point to the polygon's edges [m]."""
    return min(_distance_to_segment(point, xy[i], xy[(i + 1) % len(xy)]) for i in range(len(xy)))


def _distance_to_segment(p: XY, a: XY, b: XY) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy)


def scanline_crossings(xy: Sequence[XY], y: float) -> list[float]:
    """Sorted x where the horizontal line at ``y`` crosses the polygon's edges [m].

    Each edge is taken half-open in y, so a line through a vertex counts it once (or not at all at a local
    extremum) and horizontal edges never count; consecutive pairs of the result bound the inside.
    """
    xs = []
    n = len(xy)
    for i in range(n):
        (x0, y0), (x1, y1) = xy[i], xy[(i + 1) % n]
        if (y0 <= y < y1) or (y1 <= y < y0):
            xs.append(x0 + (y - y0) * (x1 - x0) / (y1 - y0))
    return sorted(xs)
