"""Just enough GeoJSON (RFC 7946) for regions, grid cells and case locations, in WGS84 degrees."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from gongzhi.errors import InvalidInput, msg

Ring = Sequence[Sequence[float]]


def _check_position(p: Any) -> tuple[float, float]:
    if not isinstance(p, list | tuple) or len(p) < 2:
        raise InvalidInput(msg("a GeoJSON position is [longitude, latitude]"))
    lon, lat = p[0], p[1]
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (lon, lat)):
        raise InvalidInput(msg("coordinates must be finite numbers"))
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(msg("position %(lon)s, %(lat)s is outside WGS84 bounds", lon=lon, lat=lat))
    return float(lon), float(lat)


def validate_point(geom: Any) -> tuple[float, float]:
    if not isinstance(geom, dict) or geom.get("type") != "Point":
        raise InvalidInput(msg("location must be a GeoJSON Point"))
    return _check_position(geom.get("coordinates"))


def _check_ring(ring: Any) -> None:
    if not isinstance(ring, list) or len(ring) < 4:
        raise InvalidInput(msg("a polygon ring needs at least 4 positions"))
    pts = [_check_position(p) for p in ring]
    if pts[0] != pts[-1]:
        raise InvalidInput(msg("a polygon ring must be closed (first position equals last)"))


def polygons_of(geom: Any) -> list[list[Ring]]:
    if not isinstance(geom, dict):
        raise InvalidInput(msg("geometry must be a GeoJSON object"))
    kind, coords = geom.get("type"), geom.get("coordinates")
    if kind == "Polygon" and isinstance(coords, list):
        return [coords]
    if kind == "MultiPolygon" and isinstance(coords, list):
        return list(coords)
    raise InvalidInput(msg("geometry must be a GeoJSON Polygon or MultiPolygon"))


def validate_polygon(geom: Any) -> None:
    polys = polygons_of(geom)
    if not polys:
        raise InvalidInput(msg("empty geometry"))
    for rings in polys:
        if not isinstance(rings, list) or not rings:
            raise InvalidInput(msg("a polygon needs an outer ring"))
        for ring in rings:
            _check_ring(ring)


def _in_ring(lon: float, lat: float, ring: Ring) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def contains(geom: dict[str, Any], lon: float, lat: float) -> bool:
    """Even-odd ray casting; holes (inner rings) exclude."""
    for rings in polygons_of(geom):
        if _in_ring(lon, lat, rings[0]) and not any(_in_ring(lon, lat, h) for h in rings[1:]):
            return True
    return False


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def square(lon: float, lat: float, half_deg: float) -> dict[str, Any]:
    ring = [
        [lon - half_deg, lat - half_deg],
        [lon + half_deg, lat - half_deg],
        [lon + half_deg, lat + half_deg],
        [lon - half_deg, lat + half_deg],
        [lon - half_deg, lat - half_deg],
    ]
    return {"type": "Polygon", "coordinates": [ring]}
