"""A square grid over WGS84 for "nearby" lookups by index: cells of ``CELL_DEG`` degrees [°]."""

from __future__ import annotations

import math

CELL_DEG = 0.0025  # ≈ 280 m north–south
_LON_CELLS = 1 << 18  # 360 / CELL_DEG = 144,000 < 2^18


def cell(lat: float, lon: float) -> int:
    """The id of the cell holding (lat, lon) [°]."""
    return math.floor((lat + 90) / CELL_DEG) * _LON_CELLS + math.floor((lon + 180) / CELL_DEG)


def around(lat: float, lon: float, radius_m: float) -> list[int]:
    """Ids of every cell that may hold a point within ``radius_m`` [m] of (lat, lon)."""
    dlat = radius_m / 111_320
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    rows = range(math.floor((lat - dlat + 90) / CELL_DEG), math.floor((lat + dlat + 90) / CELL_DEG) + 1)
    cols = range(math.floor((lon - dlon + 180) / CELL_DEG), math.floor((lon + dlon + 180) / CELL_DEG) + 1)
    return [r * _LON_CELLS + c for r in rows for c in cols]
