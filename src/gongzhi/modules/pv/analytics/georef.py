"""Georeferencing of nadir thermal frames onto a plant layout, and module segmentation without one.

A nadir frame (gimbal pitch −90°) maps to the module plane by a similarity transform: the pinhole model of
:mod:`.cameras` gives the ground sampling distance GSD = H · p / f at height H above the modules, the image
centre lies under the aircraft's GPS position, and the image's "up" points along the gimbal yaw (clockwise
from north). Pixel (row r, column c), with pixel centres at integer coordinates, lies at

    x = x0 + GSD · ((c − c_0) · cos ψ + (r_0 − r) · sin ψ)
    y = y0 + GSD · ((r_0 − r) · cos ψ − (c − c_0) · sin ψ)

in the layout's local frame (x east, y north [m]), with (c_0, r_0) the image centre and ψ the yaw.

GPS (metres without RTK) and yaw (about a degree) errors are then removed by matching the module grid: the
layout's modules rendered as a mask at the predicted pose are cross-correlated (FFT, zero-mean, normalised)
with the frame's own module structure (a local-contrast image that is high on module glass and low on the
cooler frames and gaps between modules), over shifts within half a module pitch of a prior and a few yaw
offsets. The module grid is periodic, so matching cannot tell one module from the next along a row: the
prior must be within half a pitch (RTK, or the running correction an accumulator carries from frame to frame;
see :class:`.modules.InspectionAccumulator`).

Without a layout, :func:`segment_modules` finds module rectangles in the frame itself: the module/background
polarity by Otsu's threshold, the cool frame lines between modules by a black top-hat, connected components
(``scipy.ndimage``) and a rectangle fit from second moments.

References
----------
.. [1] J. P. Lewis, "Fast normalized cross-correlation", Vision Interface, 1995.
.. [2] N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans. SMC 9(1), 1979.
.. [3] L. Bommes et al., "Georeferencing of photovoltaic modules from aerial infrared videos using
   structure-from-motion", Prog. Photovolt. 30(9):1122–1135, 2022 (PV-Hawk).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from gongzhi.modules.pv.analytics.cameras import CAMERAS, ThermalCamera
from gongzhi.modules.pv.analytics.frames import FrameMeta
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.layout import PlantLayout, row_axes

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class FrameGeometry:
    """Pose of a nadir frame over the module plane.

    Attributes
    ----------
    x_m, y_m : float
        Local position of the image centre on the module plane, east and north [m].
    gsd_m : float
        Ground sampling distance on the module plane [m px-1].
    yaw_deg : float
        Direction of the image's up, clockwise from north [°].
    width_px, height_px : int
        Raster size [px].
    """

    x_m: float
    y_m: float
    gsd_m: float
    yaw_deg: float
    width_px: int
    height_px: int

    def _axes(self) -> tuple[float, float, float, float]:
        s, c = math.sin(math.radians(self.yaw_deg)), math.cos(math.radians(self.yaw_deg))
        return c, -s, s, c  # right (east, north), up (east, north)

    def pixel_to_xy(self, rows: npt.ArrayLike, cols: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Local (x, y) [m] of pixel coordinates (row, column), pixel centres at integers."""
        rx, ry, ux, uy = self._axes()
        dc = (np.asarray(cols, dtype=np.float64) - (self.width_px - 1) / 2) * self.gsd_m
        dr = ((self.height_px - 1) / 2 - np.asarray(rows, dtype=np.float64)) * self.gsd_m
        return self.x_m + dc * rx + dr * ux, self.y_m + dc * ry + dr * uy

    def xy_to_pixel(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Pixel coordinates (row, column) of local positions [m]; inverse of :meth:`pixel_to_xy`."""
        rx, ry, ux, uy = self._axes()
        dx = np.asarray(x, dtype=np.float64) - self.x_m
        dy = np.asarray(y, dtype=np.float64) - self.y_m
        cols = (dx * rx + dy * ry) / self.gsd_m + (self.width_px - 1) / 2
        rows = (self.height_px - 1) / 2 - (dx * ux + dy * uy) / self.gsd_m
        return rows, cols

    def grid_xy(self, step: int = 1) -> tuple[FloatArray, FloatArray]:
        """Local (x, y) [m] of every ``step``-th pixel, each of shape (height / step, width / step)."""
        rows, cols = np.mgrid[0 : self.height_px : step, 0 : self.width_px : step]
        return self.pixel_to_xy(rows, cols)

    def moved(self, dx_m: float = 0.0, dy_m: float = 0.0, dyaw_deg: float = 0.0) -> FrameGeometry:
        """The same frame with its centre shifted [m] and its yaw turned [°]."""
        return replace(self, x_m=self.x_m + dx_m, y_m=self.y_m + dy_m, yaw_deg=self.yaw_deg + dyaw_deg)


def frame_geometry(
    meta: FrameMeta,
    origin: LocalFrame,
    camera: ThermalCamera | None = None,
    *,
    height_m: float | None = None,
    module_plane_rel_m: float = 0.0,
) -> FrameGeometry:
    """Nadir pose of a frame from its GPS position, altitude, yaw and camera.

    Parameters
    ----------
    meta : FrameMeta
        Needs ``lat``, ``lon``, and ``alt_rel_m`` unless ``height_m`` is given; yaw is the gimbal yaw, else
        the flight yaw, else 0 (north up).
    origin : LocalFrame
        Local frame of the plant [m].
    camera : ThermalCamera, optional
        Default ``CAMERAS[meta.camera]``. A raster larger or smaller than the camera's detector scales
        the GSD.
    height_m : float, optional
        Height of the camera above the module plane [m]; overrides the altitude in ``meta``.
    module_plane_rel_m : float
        Height of the module plane above the take-off point [m] (a roof when taking off from the ground).

    Raises
    ------
    ValueError
        If the position, the height or the camera is unknown.
    """
    cam = camera or (CAMERAS.get(meta.camera) if meta.camera else None)
    if cam is None:
        raise ValueError(f"{meta.source}: unknown camera {meta.camera or meta.model!r}; pass camera=")
    if meta.lat is None or meta.lon is None:
        raise ValueError(f"{meta.source}: the frame has no GPS position")
    if height_m is None:
        if meta.alt_rel_m is None:
            raise ValueError(f"{meta.source}: the frame has no relative altitude; pass height_m=")
        height_m = meta.alt_rel_m - module_plane_rel_m
    if not height_m > 0:
        raise ValueError(f"{meta.source}: the camera must be above the module plane (height {height_m} m)")
    yaw = next((v for v in (meta.gimbal_yaw_deg, meta.flight_yaw_deg) if v is not None), 0.0)
    x, y = origin.to_xy(meta.lon, meta.lat)
    gsd = cam.gsd_m(height_m) * cam.width_px / meta.width_px
    return FrameGeometry(x, y, gsd, yaw, meta.width_px, meta.height_px)


@dataclass(frozen=True, slots=True)
class ModuleIndex:
    """A layout's modules sorted for fast point-in-module lookup (see :func:`module_index`).

    Attributes
    ----------
    layout : PlantLayout
        The plant.
    u, v : ndarray
        Module centres along and across the rows [m], in layout order.
    keys : ndarray
        Sorted ``row · span + u`` of every module; ``order`` maps them back to layout positions.
    row_v : ndarray
        Across-row position of each row, sorted [m].
    span : float
        Key stride between rows [m].
    """

    layout: PlantLayout
    u: FloatArray
    v: FloatArray
    keys: FloatArray
    order: npt.NDArray[np.intp]
    row_v: FloatArray
    span: float
    u_min: float


def _to_uv(x: npt.ArrayLike, y: npt.ArrayLike, azimuth_deg: float) -> tuple[FloatArray, FloatArray]:
    s, c = math.sin(math.radians(azimuth_deg)), math.cos(math.radians(azimuth_deg))
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return xa * s + ya * c, -xa * c + ya * s


def module_index(layout: PlantLayout) -> ModuleIndex:
    """Sort a layout's modules by row (clusters of across-row position) and position along the row."""
    centres = layout.centres_xy()
    u, v = _to_uv(centres[:, 0], centres[:, 1], layout.row_azimuth_deg)
    across = layout.footprint_m[1]
    by_v = np.argsort(v, kind="stable")
    new_row = np.diff(v[by_v], prepend=-np.inf) > across / 2
    row_of = np.empty(len(v), dtype=np.int64)
    row_of[by_v] = np.cumsum(new_row) - 1
    row_v = np.array([v[row_of == r].mean() for r in range(int(row_of.max()) + 1)])
    u_min = float(u.min()) - 5 * layout.footprint_m[0]
    span = float(u.max() - u_min) + 10 * layout.footprint_m[0] + 1.0
    keys = row_of * span + (u - u_min)
    order = np.argsort(keys, kind="stable")
    return ModuleIndex(layout, u, v, keys[order], order, row_v, span, u_min)


def locate(index: ModuleIndex, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[IntArray, FloatArray, FloatArray]:
    """Which module each point lies on, and where on it.

    Parameters
    ----------
    index : ModuleIndex
        From :func:`module_index`.
    x, y : array_like
        Local positions [m], any shape.

    Returns
    -------
    labels : ndarray of int32
        Layout position of the module under each point, −1 where there is none.
    fu, fv : ndarray of float
        Position on the module in [0, 1): ``fu`` along the row from the row's start side, ``fv`` across it
        from the low (front) edge to the high edge; meaningless where ``labels`` is −1.
    """
    pu, pv = _to_uv(x, y, index.layout.row_azimuth_deg)
    return locate_uv(index, pu, pv)


def locate_frame(index: ModuleIndex, geometry: FrameGeometry) -> tuple[IntArray, FloatArray, FloatArray]:
    """:func:`locate` for every pixel of a frame, shape (height, width) each."""
    rows = np.arange(geometry.height_px, dtype=np.float64)
    cols = np.arange(geometry.width_px, dtype=np.float64)
    x0, y0 = geometry.pixel_to_xy(0.0, 0.0)
    xc, yc = geometry.pixel_to_xy(0.0, 1.0)
    xr, yr = geometry.pixel_to_xy(1.0, 0.0)
    u0, v0 = _to_uv(x0, y0, index.layout.row_azimuth_deg)
    uc, vc = _to_uv(xc, yc, index.layout.row_azimuth_deg)
    ur, vr = _to_uv(xr, yr, index.layout.row_azimuth_deg)
    pu = (u0 + (uc - u0) * cols)[None, :] + ((ur - u0) * rows)[:, None]
    pv = (v0 + (vc - v0) * cols)[None, :] + ((vr - v0) * rows)[:, None]
    return locate_uv(index, pu, pv)


def locate_uv(index: ModuleIndex, pu: FloatArray, pv: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """:func:`locate` for points already along (``pu``) and across (``pv``) the rows [m]."""
    along, across = index.layout.footprint_m
    n_rows = len(index.row_v)
    if n_rows > 1:
        mid = (index.row_v[1:] + index.row_v[:-1]) / 2
        row = np.searchsorted(mid, pv)
    else:
        row = np.zeros(pv.shape, dtype=np.intp)
    key = row * index.span + (pu - index.u_min)
    n = len(index.keys)
    if n > 1:
        mid_keys = (index.keys[1:] + index.keys[:-1]) / 2
        best = np.searchsorted(mid_keys, key)
    else:
        best = np.zeros(key.shape, dtype=np.intp)
    labels = index.order[best]
    fu = (pu - index.u[labels]) / along + 0.5
    fv = (pv - index.v[labels]) / across + 0.5
    inside = (fu >= 0) & (fu < 1) & (fv >= 0) & (fv < 1)
    return np.where(inside, labels, -1).astype(np.int32), fu, fv


def visible_modules(
    index: ModuleIndex, geometry: FrameGeometry, margin_px: float = 2.0
) -> npt.NDArray[np.intp]:
    """Layout positions of the modules wholly inside the frame, at least ``margin_px`` from its edge."""
    corners = index.layout.corners_xy()
    rows, cols = geometry.xy_to_pixel(corners[..., 0], corners[..., 1])
    inside = (
        (rows >= margin_px)
        & (rows <= geometry.height_px - 1 - margin_px)
        & (cols >= margin_px)
        & (cols <= geometry.width_px - 1 - margin_px)
    )
    return np.flatnonzero(inside.all(axis=1))


def crop_grid(layout: PlantLayout, samples_per_cell: int = 4) -> tuple[int, int]:
    """Shape (rows across the module, columns along the row) of :func:`module_crops` [px]."""
    cu, cv = layout.cell_grid
    return cv * samples_per_cell, cu * samples_per_cell


def module_crops(
    temperature: npt.NDArray[np.float32],
    geometry: FrameGeometry,
    layout: PlantLayout,
    positions: npt.ArrayLike,
    samples_per_cell: int = 4,
    border: float = 0.03,
) -> npt.NDArray[np.float32]:
    """Rectified temperature maps of modules, resampled on their cell grid (bilinear).

    Parameters
    ----------
    temperature : ndarray, shape (H, W)
        The frame [°C].
    geometry : FrameGeometry
        Pose of the frame.
    layout : PlantLayout
        The plant.
    positions : array_like of int
        Layout positions of the modules to crop (from :func:`visible_modules`).
    samples_per_cell : int
        Samples across one cell in each direction [-].
    border : float
        Fraction of the module trimmed at each edge, leaving out the frame [-].

    Returns
    -------
    ndarray, shape (N, rows, cols)
        Plan view of each module: rows run across the row from the high (back) edge at row 0 to the low
        (front) edge; columns run along the row from its start side [°C].
    """
    pos = np.asarray(positions, dtype=np.intp)
    n_rows, n_cols = crop_grid(layout, samples_per_cell)
    along, across = layout.footprint_m
    fu = border + (1 - 2 * border) * (np.arange(n_cols) + 0.5) / n_cols - 0.5
    fv = 0.5 - border - (1 - 2 * border) * (np.arange(n_rows) + 0.5) / n_rows
    e_u, e_v = row_axes(layout.row_azimuth_deg)
    off_x = fu[None, :] * along * e_u[0] + fv[:, None] * across * e_v[0]
    off_y = fu[None, :] * along * e_u[1] + fv[:, None] * across * e_v[1]
    centres = layout.centres_xy()[pos]
    xs = centres[:, 0, None, None] + off_x[None]
    ys = centres[:, 1, None, None] + off_y[None]
    rows, cols = geometry.xy_to_pixel(xs, ys)
    out = ndimage.map_coordinates(temperature, [rows.ravel(), cols.ravel()], order=1, mode="nearest")
    return np.asarray(out, dtype=np.float32).reshape(len(pos), n_rows, n_cols)
