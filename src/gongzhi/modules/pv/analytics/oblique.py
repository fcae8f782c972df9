"""Oblique frames: a frame taken with the gimbal tilted away from nadir, resampled onto the module plane as
the nadir frame of a camera straight above it, so that georeferencing, registration, segmentation and the
per-module analysis, which all work on nadir frames, take it unchanged.

The camera is a pinhole without roll (a gimbal levels it), at height H above the module plane, its image
up along the gimbal yaw ψ (clockwise from north) and its optical axis φ = −pitch below the horizon (a
gimbal pitch of −90° looks straight down, −45° half way to the horizon). With h the horizontal unit vector
along ψ, r̂ the one to its right and ẑ up, the optical axis is d = cos φ · h − sin φ · ẑ and the image up
u = sin φ · h + cos φ · ẑ; pixel (row r, column c), with the image centre (c_0, r_0) and the focal length
f in pixels, looks along

    v = d + ((c − c_0) / f) · r̂ + ((r_0 − r) / f) · u

and meets the plane at the camera's position plus t · v with t = H / (−v_z), when v_z < 0. At φ = 90° this
is the nadir mapping of :class:`.georef.FrameGeometry`.

:func:`nadir_view` keeps the largest rectangle of the plane, square to the yaw, that the frame sees within
``max_view_angle_deg`` of the vertical and without its rows' sampling of the plane growing more than
``max_coarsening`` times coarser than its finest (the view widens with distance, so the rectangle is as
wide as the frame's near edge). It samples the rectangle on a grid of that finest sampling and gives back
a frame whose position is the rectangle's centre and whose ``FrameMeta.gsd_m`` carries the grid's
spacing. The far, flat part of an oblique view is left out: glass reflects more and emits less there (its
emissivity falls steeply beyond about 60° from the normal), and its modules are a few pixels each.

References
----------
.. [1] R. Hartley and A. Zisserman, *Multiple View Geometry in Computer Vision*, 2nd ed., Cambridge
   University Press, 2004, ch. 6 (the finite projective camera) and §8.1 (homography of a plane).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from gongzhi.errors import msg
from gongzhi.modules.pv.analytics.cameras import ThermalCamera
from gongzhi.modules.pv.analytics.frames import NO_DATA_PX, FrameMeta, ThermalFrame
from gongzhi.modules.pv.analytics.geometry import LocalFrame

FloatArray = npt.NDArray[np.float64]

NEAR_NADIR_DEG = 3.0
"""Tilt from the vertical up to which a frame is taken as nadir, its centre moved to where the optical
axis meets the plane (H · tan θ ahead; the scale changes by under 3 % over the frame) [°]."""

MAX_VIEW_ANGLE_DEG = 60.0
"""Default largest angle from the vertical at which :func:`nadir_view` keeps the plane [°]."""

MAX_COARSENING = 1.75
"""Default largest ratio of the plane's sampling in a row of the frame to the finest row's that
:func:`nadir_view` keeps [-]. The far rows of an oblique frame see the plane foreshortened, each pixel
stretching further along it (at 45° from the vertical, about twice as far as at the vertical), and a
frame taken further along the line sees those modules sharper; but a view cut too short holds too few
rows of modules to tell an open string from the rows about it. Chosen on synthetic flights over the 44 ×
30 m test roof at −45°, −60° and −75°, seeds 7–9; the sum of false and missed findings, with seeds 10–12
(not used to choose) after it: 1.5 gave 41 and 72, 1.75 gave 11 and 7, 2.0 gave 17 and 6 (with the plant;
``scripts/pv/evaluate_synthetic.py`` per pitch, the cut changed by hand)."""

MAX_GROWTH = 4.0
"""Most pixels a nadir view may have, as a multiple of the frame's; a coarser grid beyond [-]."""


@dataclass(frozen=True, slots=True)
class ObliqueCamera:
    """A levelled pinhole camera over the module plane.

    Attributes
    ----------
    x_m, y_m : float
        Position of the camera over the plane, east and north [m] (any local frame).
    height_m : float
        Height above the plane [m].
    yaw_deg : float
        Direction of the image's up, clockwise from north [°].
    pitch_deg : float
        Gimbal pitch: −90 straight down, 0 at the horizon [°].
    focal_px : float
        Focal length in pixels of the raster [px].
    width_px, height_px : int
        Raster size [px].
    """

    x_m: float
    y_m: float
    height_m: float
    yaw_deg: float
    pitch_deg: float
    focal_px: float
    width_px: int
    height_px: int

    def _basis(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Optical axis d, right r̂ and image up u as (east, north, up) unit vectors."""
        psi, phi = math.radians(self.yaw_deg), math.radians(-self.pitch_deg)
        h = np.array([math.sin(psi), math.cos(psi), 0.0])
        right = np.array([math.cos(psi), -math.sin(psi), 0.0])
        z = np.array([0.0, 0.0, 1.0])
        return math.cos(phi) * h - math.sin(phi) * z, right, math.sin(phi) * h + math.cos(phi) * z

    def pixel_to_xy(self, rows: npt.ArrayLike, cols: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Where pixels (row, column) look on the plane (x, y) [m]; NaN for a ray at or above the horizon."""
        d, right, up = self._basis()
        a = (np.asarray(cols, dtype=np.float64) - (self.width_px - 1) / 2) / self.focal_px
        b = ((self.height_px - 1) / 2 - np.asarray(rows, dtype=np.float64)) / self.focal_px
        vx = d[0] + a * right[0] + b * up[0]
        vy = d[1] + a * right[1] + b * up[1]
        vz = d[2] + a * right[2] + b * up[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(vz < 0, self.height_m / -vz, np.nan)
        return self.x_m + t * vx, self.y_m + t * vy

    def xy_to_pixel(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Pixel coordinates (row, column) of points on the plane [m]; NaN behind the camera."""
        d, right, up = self._basis()
        px = np.asarray(x, dtype=np.float64) - self.x_m
        py = np.asarray(y, dtype=np.float64) - self.y_m
        pz = -self.height_m
        depth = px * d[0] + py * d[1] + pz * d[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(depth > 0, self.focal_px / depth, np.nan)
        cols = (self.width_px - 1) / 2 + k * (px * right[0] + py * right[1] + pz * right[2])
        rows = (self.height_px - 1) / 2 - k * (px * up[0] + py * up[1] + pz * up[2])
        return rows, cols


def focal_px(camera: ThermalCamera, width_px: int) -> float:
    """The camera's focal length in pixels of a raster ``width_px`` wide (a raster larger or smaller than
    the detector scales it, as it scales the GSD in :func:`.georef.frame_geometry`) [px]."""
    return camera.focal_length_mm / (camera.pixel_pitch_um * 1e-3) * width_px / camera.width_px


def nadir_view(
    frame: ThermalFrame,
    camera: ThermalCamera | None,
    height_m: float | None,
    *,
    max_view_angle_deg: float = MAX_VIEW_ANGLE_DEG,
    max_coarsening: float = MAX_COARSENING,
) -> tuple[ThermalFrame | None, str]:
    """A frame as a nadir frame of the module plane, or ``None`` and why it cannot be one.

    A frame without a gimbal pitch, or within :data:`NEAR_NADIR_DEG` of nadir, comes back as it is (the
    latter, when its height and position are known, with its position moved under the image centre); an
    oblique one is resampled (bilinear) onto the largest rectangle of the plane it sees within
    ``max_view_angle_deg`` of the vertical and ``max_coarsening`` of its finest sampling, on a grid of
    that sampling, and comes back with the rectangle's centre as its position, pitch −90°, the grid's
    spacing in ``meta.gsd_m`` and ``meta.extra["oblique"]`` saying what was done; its visible photo,
    registered onto it (``rgb``, :func:`.io.visible.read_visible`), is resampled with it. Its pixels
    without a temperature must have been filled before.

    Parameters
    ----------
    frame : ThermalFrame
        The frame.
    camera : ThermalCamera, optional
        Its camera; an oblique frame needs it.
    height_m : float, optional
        Height of the camera above the module plane [m]; an oblique frame needs it.
    max_view_angle_deg : float
        Largest angle from the vertical kept [°].
    max_coarsening : float
        Largest ratio of a row's sampling on the plane to the frame's finest kept [-].

    Returns
    -------
    (ThermalFrame or None, str)
        The nadir frame, or ``None`` and the reason.
    """
    meta = frame.meta
    pitch = meta.gimbal_pitch_deg
    if pitch is None or not meta.oblique:
        return frame, ""
    pitched = f"{pitch:g}"
    if pitch >= 0:
        return None, msg("the camera looks at or above the horizon (gimbal pitch %(pitch)s°)", pitch=pitched)
    if abs(pitch + 90.0) <= NEAR_NADIR_DEG:
        if height_m is None or meta.lat is None or meta.lon is None:
            return frame, ""
        lon, lat = _ahead(meta, height_m * math.tan(math.radians(pitch + 90.0)))
        return replace(frame, meta=replace(meta, lon=lon, lat=lat, gimbal_pitch_deg=-90.0)), ""
    if camera is None:
        return None, msg("oblique (gimbal pitch %(pitch)s°) and the camera is unknown", pitch=pitched)
    if height_m is None or not height_m > 0:
        return None, msg("oblique (gimbal pitch %(pitch)s°) and its height is unknown", pitch=pitched)
    cam = ObliqueCamera(0.0, 0.0, height_m, 0.0, pitch, focal_px(camera, meta.width_px), meta.width_px,
                        meta.height_px)  # fmt: skip
    box = _seen_rectangle(cam, max_view_angle_deg, max_coarsening)
    if box is None:
        angle = f"{max_view_angle_deg:g}"
        return None, msg(
            "oblique (gimbal pitch %(pitch)s°): it sees no part of the module plane within %(angle)s° of "
            "the vertical",
            pitch=pitched,
            angle=angle,
        )
    half_width, near, far, gsd = box
    centre = (near + far) / 2
    width, height = int(2 * half_width / gsd), int((far - near) / gsd)
    grow = width * height / (meta.width_px * meta.height_px)
    if grow > MAX_GROWTH:
        gsd *= math.sqrt(grow / MAX_GROWTH)
        width, height = int(2 * half_width / gsd), int((far - near) / gsd)
    if width < 8 or height < 8:
        return None, msg("oblique (gimbal pitch %(pitch)s°): too little of the plane in view", pitch=pitched)
    # the nadir view's pixels on the plane, in the camera's own frame (x right, y ahead), then into the frame:
    # without roll, each row of the view lies on one row of the frame, its columns evenly spaced along it
    across = (np.arange(width, dtype=np.float64) - (width - 1) / 2) * gsd
    along = centre + ((height - 1) / 2 - np.arange(height, dtype=np.float64)) * gsd
    rows, cols = cam.xy_to_pixel(np.array([across[0], across[-1]])[None, :], along[:, None])
    t = bilinear_rows(frame.temperature_c, rows[:, 0], cols[:, 0], cols[:, 1], width)
    lon, lat = _ahead(meta, centre)
    note = {
        "pitch_deg": pitch,
        "view_deg": [round(math.degrees(math.atan2(a, height_m)), 1) for a in (abs(near), far)],
        "raster": [meta.width_px, meta.height_px],
        VIEW_PX_PER_SOURCE_PX: round(view_px_per_source_px(rows[:, 0], cols[:, 1] - cols[:, 0], width), 3),
        # how a pixel of the view maps back into the frame (:func:`source_pixels`)
        VIEW_OF: {"height_m": height_m, "focal_px": cam.focal_px, "gsd_m": gsd, "centre_m": centre,
                  "view": [width, height]},
    }  # fmt: skip
    extra = {k: v for k, v in meta.extra.items() if k != NO_DATA_PX} | {"oblique": note}
    out = replace(meta, width_px=width, height_px=height, lon=lon, lat=lat, gimbal_pitch_deg=-90.0,
                  gsd_m=gsd, extra=extra)  # fmt: skip
    rgb = frame.rgb
    if rgb is not None and rgb.ndim == 3 and rgb.shape[:2] == frame.temperature_c.shape:
        # the photo registered onto the frame (:func:`.io.visible.read_visible`) follows it onto the plane
        rgb = np.stack(
            [bilinear_rows(np.ascontiguousarray(rgb[..., k], dtype=np.float32), rows[:, 0], cols[:, 0],
                           cols[:, 1], width) for k in range(rgb.shape[2])],
            axis=-1,
        )  # fmt: skip
        rgb = np.asarray(np.clip(np.rint(rgb), 0, 255), dtype=np.uint8)
    else:
        rgb = None
    return ThermalFrame(np.ascontiguousarray(t, dtype=np.float32), out, rgb), ""


VIEW_OF = "view_of"
"""Key in :func:`nadir_view`'s ``meta.extra["oblique"]``: the camera and the grid of the view (height,
focal length, spacing, the distance ahead of its centre, its size), from which :func:`source_pixels` maps
a pixel of the view back into the frame."""


def source_pixels(
    note: Mapping[str, Any], rows: npt.ArrayLike, cols: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Where pixels (row, column) of a nadir view (:func:`nadir_view`, whose ``meta.extra["oblique"]`` is
    ``note``) lie in the oblique frame it was resampled from (row, column) [px]: the ground point of the
    view's pixel, seen by the frame's camera; NaN when the note does not say."""
    view = note.get(VIEW_OF)
    raster, pitch = note.get("raster"), note.get("pitch_deg")
    r, c = np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)
    if not isinstance(view, Mapping) or not isinstance(raster, list | tuple) or pitch is None:
        return np.full(r.shape, np.nan), np.full(c.shape, np.nan)
    width, height = view["view"]
    cam = ObliqueCamera(0.0, 0.0, float(view["height_m"]), 0.0, float(pitch), float(view["focal_px"]),
                        int(raster[0]), int(raster[1]))  # fmt: skip
    gsd = float(view["gsd_m"])
    across = (c - (width - 1) / 2) * gsd
    along = float(view["centre_m"]) + ((height - 1) / 2 - r) * gsd
    return cam.xy_to_pixel(across, along)


VIEW_PX_PER_SOURCE_PX = "view_px_per_source_px"
"""Key in :func:`nadir_view`'s ``meta.extra["oblique"]``: how many of the view's pixels one pixel of the
frame covers, in area, averaged over the view's rows [-] (:func:`view_px_per_source_px`)."""


def view_px_per_source_px(source_rows: FloatArray, source_span: FloatArray, width: int) -> float:
    """How many pixels of a nadir view one pixel of its oblique frame covers, in area, averaged over the
    view's rows: per row, the view's rows per frame row (``source_rows``, the frame row each view row
    samples) times the view's columns per frame column (the row's ``source_span`` of frame columns over
    its ``width`` view columns) [-]. 1 where the view is as fine as the frame; the far rows of an oblique
    view reach about 2.4 at −60°."""
    if len(source_rows) < 2 or width < 2:
        return 1.0
    rows_per_view_row = np.abs(np.gradient(np.asarray(source_rows, dtype=np.float64)))
    cols_per_view_col = np.abs(np.asarray(source_span, dtype=np.float64)) / (width - 1)
    area = rows_per_view_row * cols_per_view_col  # frame pixels per view pixel
    ok = area > 0
    return float(np.mean(1.0 / area[ok])) if np.any(ok) else 1.0


def _ahead(meta: FrameMeta, distance_m: float) -> tuple[float | None, float | None]:
    """The frame's position (lon, lat) moved ``distance_m`` ahead along its yaw; ``None`` as the frame's
    when it has none."""
    if meta.lon is None or meta.lat is None:
        return meta.lon, meta.lat
    yaw = math.radians(meta.yaw_deg)
    return LocalFrame(meta.lon, meta.lat).to_lonlat(distance_m * math.sin(yaw), distance_m * math.cos(yaw))


def bilinear_rows(
    image: npt.NDArray[np.float32], rows: FloatArray, first: FloatArray, last: FloatArray, width: int
) -> npt.NDArray[np.float32]:
    """Bilinear samples of ``image`` along lines of constant row: output row i samples ``width`` points
    evenly from column ``first[i]`` to ``last[i]`` at row ``rows[i]`` (pixel centres at integers; points
    beyond the image take its edge, as ``scipy.ndimage.map_coordinates(order=1, mode="nearest")``).

    Bilinear interpolation is separable: each output row is one blend of two image rows, then one blend of
    two neighbouring samples of it, several times cheaper than ``map_coordinates`` over every point."""
    h, w = image.shape
    r = np.clip(rows, 0, h - 1)
    r0 = np.minimum(r.astype(np.intp), h - 2) if h > 1 else np.zeros(len(r), dtype=np.intp)
    wr = (r - r0).astype(np.float32)[:, None]
    lines = image[r0] * (1 - wr) + image[np.minimum(r0 + 1, h - 1)] * wr
    step = (last - first) / max(width - 1, 1)
    c = np.clip(first[:, None] + step[:, None] * np.arange(width), 0, w - 1)
    c0 = np.minimum(c.astype(np.intp), w - 2) if w > 1 else np.zeros(c.shape, dtype=np.intp)
    wc = (c - c0).astype(np.float32)
    left = np.take_along_axis(lines, c0, axis=1)
    right = np.take_along_axis(lines, np.minimum(c0 + 1, w - 1), axis=1)
    return np.ascontiguousarray(left * (1 - wc) + right * wc, dtype=np.float32)


def ground_view(
    camera: ThermalCamera,
    height_m: float,
    pitch_deg: float,
    *,
    max_view_angle_deg: float = MAX_VIEW_ANGLE_DEG,
    max_coarsening: float = MAX_COARSENING,
) -> tuple[float, float, float, float]:
    """What :func:`nadir_view` keeps of a frame of ``camera`` at ``height_m`` above the module plane and
    gimbal pitch ``pitch_deg``: the width across and the depth along the yaw of its rectangle of the
    plane [m], how far ahead of the camera the rectangle's centre lies [m], and its sampling [m px-1]. A
    nadir frame's is its footprint, straight below.

    Raises
    ------
    ValueError
        If the pitch is not from −90 to 0, or such a frame sees nothing of the plane within
        ``max_view_angle_deg`` of the vertical.
    """
    if not (math.isfinite(pitch_deg) and -90.0 <= pitch_deg < 0.0):
        raise ValueError(f"gimbal pitch must be from -90 to 0 degrees, got {pitch_deg}")
    tilt = pitch_deg + 90.0
    if tilt <= NEAR_NADIR_DEG:  # kept as it is, moved under the image centre
        across, along = camera.footprint_m(height_m)
        return across, along, height_m * math.tan(math.radians(tilt)), camera.gsd_m(height_m)
    unit = ObliqueCamera(0.0, 0.0, 1.0, 0.0, pitch_deg, focal_px(camera, camera.width_px), camera.width_px,
                         camera.height_px)  # fmt: skip
    box = _seen_rectangle(unit, max_view_angle_deg, max_coarsening)
    if box is None:
        raise ValueError(f"at gimbal pitch {pitch_deg:g}° the camera sees nothing within "
                         f"{max_view_angle_deg:g}° of the vertical")  # fmt: skip
    half, near, far, sampling = (v * height_m for v in box)  # every length on the plane scales with it
    return 2 * half, far - near, (near + far) / 2, sampling


def height_for_gsd(
    camera: ThermalCamera,
    gsd_m: float,
    pitch_deg: float,
    *,
    max_view_angle_deg: float = MAX_VIEW_ANGLE_DEG,
    max_coarsening: float = MAX_COARSENING,
) -> float:
    """Height above the module plane at which :func:`nadir_view` samples a frame of ``camera`` taken at
    gimbal pitch ``pitch_deg`` at ``gsd_m`` (its finest row's sampling) [m]: what a flight of oblique
    frames needs for the GSD a nadir flight gets at ``camera.altitude_for_gsd(gsd_m)``.

    Raises
    ------
    ValueError
        As :func:`ground_view`.
    """
    view = ground_view(camera, 1.0, pitch_deg, max_view_angle_deg=max_view_angle_deg,
                       max_coarsening=max_coarsening)  # fmt: skip
    return gsd_m / view[3]


def _seen_rectangle(
    cam: ObliqueCamera, max_view_angle_deg: float, max_coarsening: float
) -> tuple[float, float, float, float] | None:
    """Half width, near and far distance ahead of the camera [m] of the largest rectangle of the plane,
    square to the yaw, that the frame sees within ``max_view_angle_deg`` of the vertical and at most
    ``max_coarsening`` times coarser than its finest sampling (``cam`` at the origin, yaw 0), and that
    finest sampling [m px-1]; or ``None``.

    The camera has no roll, so each image row sees a line of the plane square to the yaw, and the view
    widens with distance: the rectangle is as wide as the nearest row kept and reaches the farthest. A
    row's sampling is the coarser of its pixels' width and of its distance to the next row on the plane;
    rows are kept while every point of them is within the angle (their corners are the farthest)."""
    rows = np.arange(cam.height_px, dtype=np.float64)
    x0, y0 = cam.pixel_to_xy(rows, np.zeros_like(rows))
    x1, _ = cam.pixel_to_xy(rows, np.full_like(rows, cam.width_px - 1.0))
    reach = cam.height_m * math.tan(math.radians(min(max_view_angle_deg, 89.0)))
    with np.errstate(invalid="ignore"):
        kept = np.isfinite(y0) & (np.hypot(x0, y0) <= reach) & (np.hypot(x1, y0) <= reach)
    if np.count_nonzero(kept) < 2:
        return None
    with np.errstate(invalid="ignore"):
        sampling = np.maximum(np.abs(x1 - x0) / (cam.width_px - 1), np.abs(np.gradient(y0)))
        kept &= np.isfinite(sampling)  # a row next to one above the horizon has no distance to it
        if np.count_nonzero(kept) < 2:
            return None
        finest = float(np.min(sampling[kept]))
        kept &= sampling <= max_coarsening * finest
    if np.count_nonzero(kept) < 2:
        return None
    half = float(np.min(np.minimum(np.abs(x0[kept]), np.abs(x1[kept]))))
    return half, float(np.min(y0[kept])), float(np.max(y0[kept])), finest
