"""WGS84 test outlines built from local metric vertices."""

from __future__ import annotations

from collections.abc import Sequence

from gongzhi.modules.pv.analytics.geometry import LocalFrame, LonLat, unrotate

# Shenzhen, where a 250 m x 200 m newspaper-printing roof stands in for the article's case
ROOF_ORIGIN = LocalFrame(114.05, 22.55)


def outline(
    xy: Sequence[tuple[float, float]], frame: LocalFrame = ROOF_ORIGIN, azimuth_deg: float = 90.0
) -> list[LonLat]:
    """A WGS84 polygon from local metric vertices, turned so that local +x points along ``azimuth_deg``."""
    return [frame.to_lonlat(x, y) for x, y in unrotate(list(xy), azimuth_deg)]


def rectangle(
    width_m: float, height_m: float, frame: LocalFrame = ROOF_ORIGIN, azimuth_deg: float = 90.0
) -> list[LonLat]:
    """A ``width_m`` (along ``azimuth_deg``) by ``height_m`` rectangle centred on the frame's origin."""
    w, h = width_m / 2, height_m / 2
    return outline([(-w, -h), (w, -h), (w, h), (-w, h)], frame, azimuth_deg)
