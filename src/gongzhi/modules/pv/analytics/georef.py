"""Georeferencing of nadir thermal frames onto a plant layout, and module segmentation without one.

A nadir frame (gimbal pitch −90°) maps to the module plane by a similarity transform: the pinhole model of
:mod:`.cameras` gives the ground sampling distance GSD = H · p / f at height H above the modules, the image
centre lies under the aircraft's GPS position, and the image's "up" points along the gimbal yaw (clockwise
from north). Pixel (row r, column c), with pixel centres at integer coordinates, lies at

    x = x0 + GSD · ((c − c_0) · cos ψ + (r_0 − r) · sin ψ)
    y = y0 + GSD · ((r_0 − r) · cos ψ − (c − c_0) · sin ψ)

in the layout's local frame (x east, y north [m]), with (c_0, r_0) the image centre and ψ the yaw.

GPS and yaw errors are then removed by matching the module grid: the layout's modules rendered as a mask
at the predicted pose are cross-correlated (FFT, zero-mean, normalised) with the frame's own module
structure (a local-contrast image that is high on module glass and low on the cooler frames and gaps
between modules), over shifts within a search radius of the prior; the yaw follows from the shifts of the
image halves. The module grid is periodic, so matching cannot tell one module from the next along a row:
the caller picks among those aliases (:class:`.modules.InspectionAccumulator` takes the one nearest its
running correction; RTK positions make the question moot).

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
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import fft, ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from gongzhi.errors import msg
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
        # the constructor rather than dataclasses.replace, which costs several times more (five calls a frame)
        return FrameGeometry(self.x_m + dx_m, self.y_m + dy_m, self.gsd_m, self.yaw_deg + dyaw_deg,
                             self.width_px, self.height_px)  # fmt: skip


class PlacementError(ValueError):
    """A frame that cannot be placed on the ground: its position, its height or its camera is unknown.
    ``str()`` is ``source: problem``; ``problem`` alone is a :func:`gongzhi.errors.msg`."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source, self.problem = source, problem


def frame_geometry(
    meta: FrameMeta,
    origin: LocalFrame,
    camera: ThermalCamera | None = None,
    *,
    height_m: float | None = None,
    module_plane_rel_m: float = 0.0,
) -> FrameGeometry:
    """Nadir pose of a frame from its GPS position, altitude, yaw and camera (or ``meta.gsd_m``).

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
    PlacementError
        If the position, the height or the camera is unknown.
    """
    if meta.lat is None or meta.lon is None:
        raise PlacementError(meta.source, msg("the frame has no GPS position"))
    if meta.gsd_m is not None:  # resampled onto the plane already (an oblique frame's nadir view)
        x, y = origin.to_xy(meta.lon, meta.lat)
        return FrameGeometry(x, y, meta.gsd_m, meta.yaw_deg, meta.width_px, meta.height_px)
    cam, height_m = camera_and_height(meta, camera, height_m, module_plane_rel_m)
    if cam is None:
        named = repr(meta.camera or meta.model)
        raise PlacementError(meta.source, msg("unknown camera %(camera)s; pass camera=", camera=named))
    if height_m is None:
        raise PlacementError(meta.source, msg("the frame has no relative altitude; pass height_m="))
    if not height_m > 0:
        above = msg("the camera must be above the module plane (height %(height)s m)", height=height_m)
        raise PlacementError(meta.source, above)
    x, y = origin.to_xy(meta.lon, meta.lat)
    gsd = cam.gsd_m(height_m) * cam.width_px / meta.width_px
    return FrameGeometry(x, y, gsd, meta.yaw_deg, meta.width_px, meta.height_px)


def camera_and_height(
    meta: FrameMeta, camera: ThermalCamera | None, height_m: float | None, module_plane_rel_m: float = 0.0
) -> tuple[ThermalCamera | None, float | None]:
    """The camera (``camera``, else the one the frame names) and the height above the module plane [m]
    (``height_m``, else the frame's relative altitude less ``module_plane_rel_m``) of a frame, as
    :func:`frame_geometry` takes them; ``None`` for what is unknown."""
    cam = camera or (CAMERAS.get(meta.camera) if meta.camera else None)
    if height_m is None and meta.alt_rel_m is not None:
        height_m = meta.alt_rel_m - module_plane_rel_m
    return cam, height_m


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
    u_min : float
        Origin of the along-row keys [m].
    centres, corners : ndarray
        :meth:`.layout.PlantLayout.centres_xy` and :meth:`~.layout.PlantLayout.corners_xy`, cached.
    """

    layout: PlantLayout
    u: FloatArray
    v: FloatArray
    keys: FloatArray
    order: npt.NDArray[np.intp]
    row_v: FloatArray
    span: float
    u_min: float
    centres: FloatArray
    corners: FloatArray


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
    return ModuleIndex(layout, u, v, keys[order], order, row_v, span, u_min, centres, layout.corners_xy())


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
    corners_u, corners_v = pu[[0, 0, -1, -1], [0, -1, 0, -1]], pv[[0, 0, -1, -1], [0, -1, 0, -1]]
    near = _within(index, corners_u.min(), corners_u.max(), corners_v.min(), corners_v.max())
    if near is None:
        return np.full(pu.shape, -1, dtype=np.int32), pu, pv
    return locate_uv(near, pu, pv)


def _about(index: ModuleIndex, geometry: FrameGeometry) -> ModuleIndex:
    """The index cut to the modules within reach of the frame turned any way about its centre, so that
    the module masks of several yaws need not each search the whole plant (each mask's own cut of it is
    the same as of the whole index)."""
    reach = 0.5 * math.hypot(geometry.width_px, geometry.height_px) * geometry.gsd_m
    u, v = (float(a) for a in _to_uv(geometry.x_m, geometry.y_m, index.layout.row_azimuth_deg))
    return _within(index, u - reach, u + reach, v - reach, v + reach) or index


def _within(index: ModuleIndex, u_lo: float, u_hi: float, v_lo: float, v_hi: float) -> ModuleIndex | None:
    """The index cut to the modules that reach into a (u, v) box, ``None`` when none does.

    A point on a module finds the same module in the cut index (the module is in it, and its key was
    already the nearest); the binary search over a few hundred keys instead of the whole plant's is what
    makes a frame's lookup cheap.
    """
    from gongzhi.modules.pv.analytics import kernels

    along, across = index.layout.footprint_m
    box = np.array([u_lo - along, u_hi + along, v_lo - across, v_hi + across])
    keep = np.empty(len(index.order), dtype=np.intp)
    count = kernels.in_box(
        index.u, index.v, index.order, index.keys, index.row_v, index.span, index.u_min, box, keep
    )
    if count == 0:
        return None
    kept = keep[:count]
    # the constructor rather than dataclasses.replace, which costs several times more
    return ModuleIndex(
        index.layout, index.u, index.v, index.keys[kept], index.order[kept], index.row_v, index.span,
        index.u_min, index.centres, index.corners,
    )  # fmt: skip


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
    from gongzhi.modules.pv.analytics import kernels

    # only modules whose centre lies within the frame's half-diagonal can be inside it; of those, the
    # corners' pixels in one compiled loop (xy_to_pixel's arithmetic)
    g = geometry
    reach = 0.5 * math.hypot(g.width_px, g.height_px) * g.gsd_m
    pose = np.array([g.x_m, g.y_m, *g._axes(), g.gsd_m, (g.height_px - 1) / 2, (g.width_px - 1) / 2])
    bounds = np.array([margin_px, g.height_px - 1 - margin_px, margin_px, g.width_px - 1 - margin_px])
    out = np.empty(len(index.centres), dtype=np.intp)
    # a copy: the accumulator keeps the positions of every frame, and a view would keep the whole buffer
    return out[: kernels.visible(index.centres, index.corners, pose, reach, bounds, out)].copy()


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
    border: float = 0.0,
    centres: FloatArray | None = None,
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
        Fraction of the module trimmed at each edge [-].
    centres : ndarray, optional
        ``layout.centres_xy()`` when the caller has it at hand [m].

    Returns
    -------
    ndarray, shape (N, rows, cols)
        Plan view of each module: rows run across the row from the high (back) edge at row 0 to the low
        (front) edge; columns run along the row from its start side [°C].
    """
    from gongzhi.modules.pv.analytics import kernels

    image, row_c, col_c, pattern_r, pattern_c = _pattern(
        temperature, geometry, layout, positions, samples_per_cell, border, centres
    )
    # :func:`bilinear` of the samples ``row_c + pattern_r``, ``col_c + pattern_c``, one compiled pass
    # without the (N, rows, cols) coordinate and weight arrays
    out = np.empty((len(row_c), *pattern_r.shape), dtype=np.float32)
    kernels.crops(image, row_c, col_c, pattern_r, pattern_c, out, np.empty(0, dtype=np.float32))
    return out


def module_crops_and_peaks(
    temperature: npt.NDArray[np.float32],
    geometry: FrameGeometry,
    layout: PlantLayout,
    positions: npt.ArrayLike,
    samples_per_cell: int,
    centres: FloatArray | None = None,
    pixels: tuple[FloatArray, FloatArray] | None = None,
    offsets: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[
    npt.NDArray[np.float32],
    npt.NDArray[np.float32],
    Callable[[npt.NDArray[np.intp]], npt.NDArray[np.float32]],
]:
    """:func:`module_crops` thinned (:func:`thinned`: about a third of the samples); of each module the
    hottest of the pixels its interior samples (all but the outermost) interpolate between [°C], which
    keep a hot spot smaller than a cell that every other sample smooths away; and a function giving the
    full maps (:func:`module_crops`) of some of the modules, indices into ``positions``, from the same
    sampling pattern.

    ``pixels`` are the modules' centres in the frame (row, column) [px], ``geometry.xy_to_pixel`` of their
    ``centres``, when the caller has them: the accumulator needs them too, and computed them once.
    ``offsets`` are :func:`sample_offsets` of the layout at ``samples_per_cell``, when the caller keeps
    them: the same for every frame of a plant."""
    from gongzhi.modules.pv.analytics import kernels

    image, row_c, col_c, pattern_r, pattern_c = _pattern(
        temperature, geometry, layout, positions, samples_per_cell, 0.0, centres, pixels, offsets
    )
    i, j = thinned(pattern_r.shape[0]), thinned(pattern_r.shape[1])
    out = np.empty((len(row_c), len(i), len(j)), dtype=np.float32)
    peaks = np.empty(len(row_c), dtype=np.float32)
    thin_r, thin_c = (np.ascontiguousarray(p[i][:, j]) for p in (pattern_r, pattern_c))
    kernels.crops(image, row_c, col_c, thin_r, thin_c, out, peaks)

    def full(idx: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
        maps = np.empty((len(idx), *pattern_r.shape), dtype=np.float32)
        kernels.crops(
            image, row_c[idx], col_c[idx], pattern_r, pattern_c, maps, np.empty(0, dtype=np.float32)
        )
        return maps

    return out, peaks, full


def thinned(n: int) -> npt.NDArray[np.intp]:
    """The rows (or columns) of an ``n``-long side of a module map that a thinned map keeps: both outermost
    (the ring, the module's frame), both next to them and every other one between, so that the bands along
    the frame, where a crack's warmth can lie, are sampled as in the full map."""
    return np.array(_thinned(n), dtype=np.intp)


@lru_cache(maxsize=16)
def _thinned(n: int) -> tuple[int, ...]:
    return tuple(sorted({0, *range(1, n - 1, 2), max(n - 2, 0), n - 1}))


def _pattern(
    temperature: npt.NDArray[np.float32],
    geometry: FrameGeometry,
    layout: PlantLayout,
    positions: npt.ArrayLike,
    samples_per_cell: int,
    border: float,
    centres: FloatArray | None,
    pixels: tuple[FloatArray, FloatArray] | None = None,
    offsets: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[npt.NDArray[np.float32], FloatArray, FloatArray, FloatArray, FloatArray]:
    """The frame as float32 and the modules' samples as each centre's pixel (row_c, col_c; ``pixels`` when
    the caller has them) plus one pattern (rows, cols) of offsets [px], from the samples' offsets on the
    ground (:func:`sample_offsets`; ``offsets`` when the caller keeps them): the pose is a similarity
    transform."""
    off_x, off_y = sample_offsets(layout, samples_per_cell, border) if offsets is None else offsets
    if pixels is None:
        pos = np.asarray(positions, dtype=np.intp)
        centres = (layout.centres_xy() if centres is None else centres)[pos]
        pixels = geometry.xy_to_pixel(centres[:, 0], centres[:, 1])
    row_c, col_c = pixels
    row_0, col_0 = geometry.xy_to_pixel(0.0, 0.0)
    row_p, col_p = geometry.xy_to_pixel(off_x, off_y)
    image = np.ascontiguousarray(temperature, dtype=np.float32)
    return image, row_c, col_c, np.ascontiguousarray(row_p - row_0), np.ascontiguousarray(col_p - col_0)


def sample_offsets(
    layout: PlantLayout, samples_per_cell: int = 4, border: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Where the samples of :func:`module_crops` lie from a module's centre, east and north, each of shape
    (rows, cols) [m]: the same for every module of a layout and every frame (``border`` as there)."""
    n_rows, n_cols = crop_grid(layout, samples_per_cell)
    along, across = layout.footprint_m
    fu = border + (1 - 2 * border) * (np.arange(n_cols) + 0.5) / n_cols - 0.5
    fv = 0.5 - border - (1 - 2 * border) * (np.arange(n_rows) + 0.5) / n_rows
    e_u, e_v = row_axes(layout.row_azimuth_deg)
    off_x = fu[None, :] * along * e_u[0] + fv[:, None] * across * e_v[0]
    off_y = fu[None, :] * along * e_u[1] + fv[:, None] * across * e_v[1]
    return off_x, off_y


def bilinear(image: npt.NDArray[np.float32], rows: FloatArray, cols: FloatArray) -> npt.NDArray[np.float32]:
    """Bilinear interpolation of ``image`` at pixel coordinates, the nearest edge pixel outside it.

    The same values as ``scipy.ndimage.map_coordinates(image, [rows, cols], order=1, mode="nearest")``
    up to rounding, in float32 and without its per-sample spline set-up.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Raster, at least 2 × 2.
    rows, cols : ndarray
        Coordinates, pixel centres at integers [px]; any shape, the same for both.

    Returns
    -------
    ndarray of float32
        Shape of ``rows``.
    """
    img = np.ascontiguousarray(image, dtype=np.float32)
    h, w = img.shape
    # the layout's crops lie inside the frame: two reductions are cheaper than two clipped copies
    r = rows if rows.min() >= 0 and rows.max() <= h - 1 else np.clip(rows, 0, h - 1)
    c = cols if cols.min() >= 0 and cols.max() <= w - 1 else np.clip(cols, 0, w - 1)
    r0 = np.minimum(r.astype(np.intp), h - 2)
    c0 = np.minimum(c.astype(np.intp), w - 2)
    fr = (r - r0).astype(np.float32)
    fc = (c - c0).astype(np.float32)
    flat = img.ravel()
    i = r0 * w
    i += c0
    # the same arithmetic as top + (bottom − top) · fr with top = a + (b − a) · fc, in place
    top: npt.NDArray[np.float32] = flat.take(i)
    b = flat.take(i + 1)
    b -= top
    b *= fc
    top += b
    i += w
    bottom, b = flat.take(i), flat.take(i + 1)
    b -= bottom
    b *= fc
    bottom += b
    bottom -= top
    bottom *= fr
    top += bottom
    return top


@dataclass(frozen=True, slots=True)
class PoseFit:
    """Outcome of :func:`refine_pose`.

    Attributes
    ----------
    geometry : FrameGeometry
        Refined pose (the prior when the match failed).
    dx_m, dy_m, dyaw_deg : float
        Correction applied to the prior [m], [°].
    score : float
        Normalised cross-correlation of the module mask and the frame at the best pose [-]; below about 0.2
        the frame shows too little of the layout to match and the prior is kept.
    """

    geometry: FrameGeometry
    dx_m: float
    dy_m: float
    dyaw_deg: float
    score: float


MIN_MATCH_SCORE = 0.2
"""Least normalised cross-correlation for :func:`refine_pose` to move a pose [-]."""
YAW_STEPS = 2
"""Yaw estimates per frame, each followed by a new match [-]."""
YAW_RADIUS_PX = 6
"""Search radius of the half-image matches that estimate the yaw, at the matching resolution [px]: 1.3° at
the half-width of a 640-pixel frame matched at half resolution."""


def module_mask(index: ModuleIndex, geometry: FrameGeometry, rim: float = 0.04) -> npt.NDArray[np.float32]:
    """1 on the glass of every layout module in the frame, 0 on frames, gaps and roof; shape (H, W).

    The glass of a module is ``rim < fu < 1 − rim`` and the same for ``fv`` (:func:`locate`). Along one
    image row both are linear in the column, so each module covers one run of columns per image row: the
    runs of the modules near the frame are painted (:func:`.kernels.paint_modules`), with no per-pixel
    module lookup.
    """
    from gongzhi.modules.pv.analytics import kernels

    mask = np.zeros((geometry.height_px, geometry.width_px), dtype=np.float32)
    painting = _painting(index, geometry, rim)
    if painting is not None:
        kernels.paint_modules(*painting, mask)
    return mask


_Runs = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]
"""Runs of columns of a 0/1 image: (row, first column, end column) of each."""


_RUNS_ROOM = 4096
"""Runs :func:`module_runs` first makes room for (about twice a 256 × 320 frame's); more when they need it."""


def module_runs(index: ModuleIndex, geometry: FrameGeometry, rim: float = 0.04) -> _Runs:
    """The glass of :func:`module_mask` as runs of columns: (image row, first column, end column) of
    each module's run in each image row, module by module (the columns ``first`` to ``end − 1`` are
    those :func:`module_mask` sets to 1; the modules' glass does not overlap); one compiled call
    (:func:`.kernels.module_runs`) for what :func:`_painting` prepares."""
    from gongzhi.modules.pv.analytics import kernels

    pose = _pose_uv(geometry, index.layout.row_azimuth_deg)
    u_lo, u_hi, v_lo, v_hi = _corner_box(pose, geometry.height_px, geometry.width_px)
    along, across = index.layout.footprint_m
    box = np.array([u_lo - along, u_hi + along, v_lo - across, v_hi + across])
    _, _, ux, uy = geometry._axes()
    at = np.array([geometry.x_m, geometry.y_m, ux, uy, geometry.gsd_m])
    corners = np.ascontiguousarray(index.corners, dtype=np.float64)
    room = _RUNS_ROOM
    while True:
        rows, first, end = (np.empty(room, dtype=np.intp) for _ in range(3))
        n = kernels.module_runs(
            index.u, index.v, index.order, index.keys, index.row_v, index.span, index.u_min, box, corners, at,
            np.array(pose), _glass(index, rim), geometry.height_px, geometry.width_px, rows, first, end,
        )  # fmt: skip
        if n >= 0:
            return rows[:n], first[:n], end[:n]
        room = -n


_Painting = tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.intp], npt.NDArray[np.intp],
    npt.NDArray[np.float64], npt.NDArray[np.float64],
]  # fmt: skip
"""Arguments of :func:`.kernels.paint_modules` before the image: the modules' (u, v), their first and last
image rows, the pose's (u, v) at pixel (0, 0) and per column and per row, the glass's offsets [m]."""


def _painting(index: ModuleIndex, geometry: FrameGeometry, rim: float) -> _Painting | None:
    """What :func:`module_mask` paints: the modules within the frame's reach, each against the image rows
    its footprint spans; ``None`` when none is."""
    from gongzhi.modules.pv.analytics import kernels

    h = geometry.height_px
    pose = _pose_uv(geometry, index.layout.row_azimuth_deg)
    near = _within(index, *_corner_box(pose, h, geometry.width_px))
    if near is None:
        return None
    # each module against the image rows its footprint spans, not against every row
    r_lo, r_hi = np.empty(len(near.order), dtype=np.intp), np.empty(len(near.order), dtype=np.intp)
    _, _, ux, uy = geometry._axes()
    at = np.array([geometry.x_m, geometry.y_m, ux, uy, geometry.gsd_m])
    kernels.row_ranges(np.ascontiguousarray(index.corners, dtype=np.float64), near.order, at, h, r_lo, r_hi)
    return index.u[near.order], index.v[near.order], r_lo, r_hi, np.array(pose), _glass(index, rim)


def _pose_uv(geometry: FrameGeometry, azimuth_deg: float) -> tuple[float, float, float, float, float, float]:
    """The pose's (u, v) at pixel (0, 0), then their steps per column and per row [m]."""
    u0, v0 = _pixel_uv(geometry, 0.0, 0.0, azimuth_deg)
    uc, vc = (a - b for a, b in zip(_pixel_uv(geometry, 0.0, 1.0, azimuth_deg), (u0, v0), strict=True))
    ur, vr = (a - b for a, b in zip(_pixel_uv(geometry, 1.0, 0.0, azimuth_deg), (u0, v0), strict=True))
    return u0, v0, uc, vc, ur, vr


def _corner_box(pose: tuple[float, ...], h: int, w: int) -> tuple[float, float, float, float]:
    """Least and greatest u, then v, of the image's corner pixels at ``pose`` (:func:`_pose_uv`) [m]."""
    u0, v0, uc, vc, ur, vr = pose
    corner_u = (u0 + 0.0, u0 + uc * (w - 1), u0 + ur * (h - 1), u0 + (uc * (w - 1) + ur * (h - 1)))
    corner_v = (v0 + 0.0, v0 + vc * (w - 1), v0 + vr * (h - 1), v0 + (vc * (w - 1) + vr * (h - 1)))
    return min(corner_u), max(corner_u), min(corner_v), max(corner_v)


def _glass(index: ModuleIndex, rim: float) -> npt.NDArray[np.float64]:
    """The glass's offsets from a module's centre [m]: least and greatest u, then v."""
    along, across = index.layout.footprint_m
    return np.array([(rim - 0.5) * along, (0.5 - rim) * along, (rim - 0.5) * across, (0.5 - rim) * across])


def _pixel_uv(geometry: FrameGeometry, row: float, col: float, azimuth_deg: float) -> tuple[float, float]:
    """``_to_uv(*geometry.pixel_to_xy(row, col), azimuth_deg)`` of one pixel [m]: the same operations in the
    same order on Python floats, without numpy's cost per call on scalars."""
    rx, ry, ux, uy = geometry._axes()
    dc = (col - (geometry.width_px - 1) / 2) * geometry.gsd_m
    dr = ((geometry.height_px - 1) / 2 - row) * geometry.gsd_m
    x = float(geometry.x_m + dc * rx + dr * ux)
    y = float(geometry.y_m + dc * ry + dr * uy)
    s, c = math.sin(math.radians(azimuth_deg)), math.cos(math.radians(azimuth_deg))
    return x * s + y * c, -x * c + y * s


def _downsample(t: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.float32]:
    """Block means of k × k pixels, each block summed in float32 row by row, then scaled by 1 / k²."""
    from gongzhi.modules.pv.analytics import kernels

    out = np.empty((t.shape[0] // k, t.shape[1] // k), dtype=np.float32)
    kernels.block_means(np.ascontiguousarray(t, dtype=np.float32), k, out)
    return out


def _structure(t: npt.NDArray[np.float32], sigma: float) -> npt.NDArray[np.float32]:
    """High-passed frame: module glass against the cooler frames, gaps and background (box low-pass)."""
    from gongzhi.modules.pv.analytics import kernels

    size = max(3, round(2 * sigma))
    if size > min(t.shape):
        return np.asarray(t - ndimage.uniform_filter(t, size=size), dtype=np.float32)
    t = np.ascontiguousarray(t, dtype=np.float32)
    out = np.empty_like(t)
    kernels.box_filter(t, size, True, out)  # t less ndimage.uniform_filter's values, about twice as fast
    return out


def refine_pose(
    temperature: npt.NDArray[np.float32],
    prior: FrameGeometry,
    index: ModuleIndex,
    *,
    search_m: float | None = None,
    yaw_offsets_deg: tuple[float, ...] = (0.0,),
    estimate_yaw: bool = True,
    downsample: int = 2,
    coarse_first: bool = False,
    pitch_along_m: float | None = None,
    expected_m: tuple[float, float] | None = None,
    least_score: float = -math.inf,
) -> PoseFit:
    """Refine a frame's pose by matching the layout's module grid to the frame.

    The shift comes from the peak of the FFT cross-correlation of the frame's structure with the module
    mask rendered at the prior pose (sub-pixel by a parabola through the peak). The yaw comes from the
    same matching on the image's left and right halves (and top and bottom): a rotation moves their
    contents in opposite directions; the pose is then turned by it and the shift matched again (with
    ``coarse_first``, by climbs from the shift before the turn).

    Parameters
    ----------
    temperature : ndarray, shape (H, W)
        The frame [°C].
    prior : FrameGeometry
        Pose from the metadata (plus any running correction).
    index : ModuleIndex
        The plant's modules.
    search_m : float, optional
        Largest shift tried in each direction [m]; default 0.45 of the module pitch along the row, the most
        a periodic grid can resolve.
    yaw_offsets_deg : tuple of float
        Yaw corrections tried exhaustively before the estimate [°].
    estimate_yaw : bool
        Estimate the yaw from the half-image shifts.
    downsample : int
        Block size the matching works at [px]; 2 halves the cost and still resolves a 2.5 cm frame. The
        accumulator matches a flight line's carried frames at 4 where a cell spans at least 4.5 px
        (:func:`.modules.match_block_px`).
    coarse_first : bool
        Find each whole-frame shift at twice the block size first (transforms a quarter the size), then
        climb to the correlation peak at the matching resolution by sums over the mask's runs of columns
        (:class:`_Climb`): the same peak as the whole search's, for about half its CPU (the whole search
        when a climb does not end).
    pitch_along_m : float, optional
        With ``coarse_first``: the grid's period along the rows [m]. The correlation has a peak about
        every period, which the whole search compares; the climb then starts from each of them in the
        window and keeps the highest, as the whole search would. Without it only the peak nearest the
        coarse one is climbed to.
    expected_m : (float, float), optional
        With ``coarse_first``: a correction (east, north) of the prior expected to lie near the true one
        [m], such as none when the prior already carries a running correction. One climb from its peak
        position, then climbs from the aliases of the peak reached, instead of the coarse match and the
        climbs from its aliases; the coarse match is made after all, and the higher peak kept, when a
        climb does not end, or the highest peak reached lies on the window's edge or scores below
        ``least_score``. A climb ends on the local maximum next to its start: one that is not the window's
        highest (a maximum of the grid's sub-structure beside the peak, another row) is left only through
        that fallback.
    least_score : float
        With ``expected_m``: the least score of a peak climbed to from the expected shift that makes the
        coarse match unnecessary [-]; a line of frames knows the score its frames reach.

    Returns
    -------
    PoseFit
    """
    along, _ = index.layout.footprint_m
    search = search_m if search_m is not None else 0.45 * (along + 0.02)
    k = max(1, downsample)
    coarse = FrameGeometry(prior.x_m, prior.y_m, prior.gsd_m * k, prior.yaw_deg, prior.width_px // k,
                           prior.height_px // k)  # fmt: skip
    obs = _Observed(_structure(_downsample(temperature, k), sigma=along / coarse.gsd_m))
    if estimate_yaw or len(yaw_offsets_deg) > 1:
        # several masks: each searches the frame's cut of the index; a lone mask cuts the whole index itself
        # (a binary search a row), to the same modules in the same order
        index = _about(index, coarse)
    radius = max(1, math.ceil(search / coarse.gsd_m))
    best = (-np.inf, 0.0, 0.0, 0.0)

    def match(
        at: FrameGeometry,
        near: tuple[float, float] | None = None,
        expected: tuple[float, float] | None = None,
    ) -> tuple[float, float, float, _Mask | None]:
        # the halves of a yaw estimate need the mask's runs row by row; a lone shift match needs only its runs
        return _whole_match(
            obs, index, at, radius, coarse_first, pitch_along_m, paint=estimate_yaw, near=near,
            expected=expected, least_score=least_score,
        )  # fmt: skip

    for dyaw in yaw_offsets_deg:
        at = coarse.moved(dyaw_deg=dyaw)
        score, drow, dcol, model = match(
            at, expected=None if expected_m is None else _shift_px(at, expected_m)
        )
        for _ in range(YAW_STEPS if estimate_yaw else 0):
            assert model is not None
            if score < MIN_MATCH_SCORE:
                break
            # the halves are matched about the whole image's shift, within a few pixels, so that neither
            # can jump to another module of the periodic grid
            turn = _rotation_deg(obs, model.rolled((round(drow), round(dcol))), YAW_RADIUS_PX)
            if abs(turn) < 0.05:
                break
            # a turn of a few tenths of a degree moves the peak by less than a pixel: climb from it
            score2, drow2, dcol2, model2 = match(coarse.moved(dyaw_deg=dyaw + turn), near=(drow, dcol))
            if score2 <= score:
                break
            model, score, drow, dcol, dyaw = model2, score2, drow2, dcol2, dyaw + turn
        if score > best[0]:
            best = (score, drow, dcol, dyaw)
    score, drow, dcol, dyaw = best
    if not score >= MIN_MATCH_SCORE:
        return PoseFit(prior, 0.0, 0.0, 0.0, max(score, 0.0))
    # the frame content sits (drow, dcol) coarse pixels from the model: move the pose by the opposite
    turned = prior.moved(dyaw_deg=dyaw)
    x0, y0 = turned.pixel_to_xy(0.0, 0.0)
    x1, y1 = turned.pixel_to_xy(-drow * k, -dcol * k)
    dx, dy = float(x1 - x0), float(y1 - y0)
    return PoseFit(turned.moved(dx, dy), dx, dy, dyaw, score)


def _shift_px(at: FrameGeometry, correction_m: tuple[float, float]) -> tuple[float, float]:
    """The peak (drow, dcol) [px] of a match at ``at`` that moves the pose by ``correction_m`` (east,
    north) [m]: the inverse of :func:`refine_pose`'s step from the peak to the correction."""
    r0, c0 = at.xy_to_pixel(at.x_m, at.y_m)
    r1, c1 = at.xy_to_pixel(at.x_m + correction_m[0], at.y_m + correction_m[1])
    return -float(r1 - r0), -float(c1 - c0)


class _Observed:
    """A frame's structure image with the normalised spectra of it and of its halves, each computed once
    however many module masks are matched against it."""

    def __init__(self, obs: npt.NDArray[np.float32]) -> None:
        h, w = obs.shape
        self.obs = obs
        self.bounds: dict[str, tuple[int, int, int, int]] = {
            "all": (0, h, 0, w),
            "left": (0, h, 0, w // 2),
            "right": (0, h, w // 2, w),
            "top": (0, h // 2, 0, w),
            "bottom": (h // 2, h, 0, w),
        }
        self.regions: dict[str, tuple[slice, slice]] = {
            "all": (slice(None), slice(None)),
            "left": (slice(None), slice(0, w // 2)),
            "right": (slice(None), slice(w // 2, None)),
            "top": (slice(0, h // 2), slice(None)),
            "bottom": (slice(h // 2, None), slice(None)),
        }
        self._spectra: dict[str, _Spectrum | None] = {}
        self._climbs: dict[str, _Climb] = {}
        self._quarter: npt.NDArray[np.complex64] | None = None

    def spectrum(self, region: str) -> _Spectrum | None:
        if region not in self._spectra:
            self._spectra[region] = _spectrum(self.obs[self.regions[region]], 1e-6)
        return self._spectra[region]

    def match(
        self, model: npt.NDArray[np.float32], radius: int, region: str = "all"
    ) -> tuple[float, float, float]:
        """:func:`_match` of the region of the frame and the same region of ``model``."""
        m = model[self.regions[region]]
        spectrum = _spectrum(m, 1e-3)
        if spectrum is None:
            return -np.inf, 0.0, 0.0
        observed = self.spectrum(region)
        if observed is None:
            return -np.inf, 0.0, 0.0
        return _peak(observed, spectrum, m.shape, radius)

    def climb(self, model: _Mask, radius: int, region: str) -> tuple[float, float, float]:
        """:meth:`match` of a module mask within ``radius`` px by a climb from no shift (:class:`_Climb`)
        instead of the whole window's FFTs: the same peak when the window's highest is the one nearest
        the centre, as for the half images about the whole image's shift; :meth:`match` itself (of the
        painted mask) when the climb fails (a flat image or mask, or no end within :data:`CLIMB_STEPS`
        moves)."""
        peak = self.climber(region).climb(model.runs(self.bounds[region]), radius, [(0, 0)])
        return self.match(model.image(), radius, region) if peak is None else peak

    def climber(self, region: str) -> _Climb:
        """The region's :class:`_Climb` (its row prefix sums), made once; those of the top and bottom
        halves are the whole image's rows when it has one."""
        if region not in self._climbs:
            whole = self._climbs.get("all")
            if whole is not None and region in ("top", "bottom"):
                self._climbs[region] = whole.half(region == "top")
            else:
                self._climbs[region] = _Climb(self.obs[self.regions[region]])
        return self._climbs[region]

    def quarter_spectrum(self) -> npt.NDArray[np.complex64]:
        """:func:`_mean_free` spectrum of the image's 2 × 2 block means, made once for all its matches."""
        if self._quarter is None:
            self._quarter = _mean_free(_downsample(self.obs, 2))
        return self._quarter


_Spectrum = tuple[npt.NDArray[np.complex64], float]
"""Spectrum of an image less its mean, and the image's standard deviation."""


def _spectrum(a: npt.NDArray[np.float32], least_std: float) -> _Spectrum | None:
    """Spectrum of ``a`` less its mean (the DC bin zeroed) and its standard deviation; ``None`` when it
    is flat. Standardising the correlation's window afterwards saves two passes over the image."""
    sd = float(a.std())
    if sd < least_std:
        return None
    spectrum = np.asarray(fft.rfft2(a), dtype=np.complex64)
    spectrum[0, 0] = 0
    return spectrum, sd


def _match(
    obs: npt.NDArray[np.float32], model: npt.NDArray[np.float32], radius: int
) -> tuple[float, float, float]:
    """Peak of the normalised cross-correlation within ``radius`` px: (score, drow, dcol)."""
    return _Observed(obs).match(model, radius)


def _peak(
    observed: _Spectrum, model: _Spectrum, shape: tuple[int, ...], radius: int
) -> tuple[float, float, float]:
    """Peak of the normalised cross-correlation of two images, from their spectra, within ``radius`` px."""
    scale = shape[0] * shape[1] * observed[1] * model[1]
    corr = fft.irfft2(observed[0] * np.conj(model[0]), s=shape)
    window = np.arange(-radius, radius + 1)
    sub = corr[np.ix_(window % shape[0], window % shape[1])] / scale
    i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
    di, dj = _subpixel(sub, int(i), int(j))
    return float(sub[i, j]), float(window[i]) + di, float(window[j]) + dj


CLIMB_STEPS = 8
"""Most moves of a climb (:class:`_Climb`) from its start before it gives up [-]."""


def _whole_match(
    obs: _Observed,
    index: ModuleIndex,
    at: FrameGeometry,
    radius: int,
    coarse_first: bool,
    pitch_along_m: float | None,
    paint: bool,
    near: tuple[float, float] | None = None,
    expected: tuple[float, float] | None = None,
    least_score: float = -math.inf,
) -> tuple[float, float, float, _Mask | None]:
    """:meth:`_Observed.match` of the module mask at ``at`` over the whole frame: (score, drow, dcol, the
    mask as a :class:`_Mask` when ``paint``); with ``coarse_first`` by a coarse match and climbs
    (:func:`_coarse_then_climb`, from ``near`` or ``expected`` when given), the whole window's FFTs only
    when they fail.
    ``paint``: the mask's runs row by row (as a scan of the painted mask gives them, whose order the
    climbs' sums then keep), for the half images' matches, rather than module by module."""
    model = _Mask(module_runs(index, at), obs.obs.shape, lambda: module_mask(index, at)) if paint else None
    if coarse_first:
        runs = module_runs(index, at) if model is None else model.runs()
        climbed = _coarse_then_climb(
            obs, runs, at, index.layout.row_azimuth_deg, radius, pitch_along_m, near, expected, least_score
        )
        if climbed is not None:
            return (*climbed, model)
    return (*obs.match(module_mask(index, at) if model is None else model.image(), radius), model)


class _Mask:
    """A 0/1 module mask as runs of columns (:func:`module_runs`), moved by ``shift`` (rows, columns) as
    ``np.roll`` moves an image: the runs of any region of it row by row, as a scan of the painted and
    rolled mask finds them (:func:`.kernels.region_runs`), and the image itself (``paint``, called once
    for the mask and all its moved copies) only when a match needs it."""

    def __init__(
        self,
        runs: _Runs,
        shape: tuple[int, ...],
        paint: Callable[[], npt.NDArray[np.float32]],
        shift: tuple[int, int] = (0, 0),
        painted: list[npt.NDArray[np.float32]] | None = None,
    ) -> None:
        self.modules, self.shape, self.shift = runs, (int(shape[0]), int(shape[1])), shift
        self._paint, self._painted = paint, painted if painted is not None else []

    def rolled(self, shift: tuple[int, int]) -> _Mask:
        """This mask moved by ``shift`` [px] (from no shift)."""
        return _Mask(self.modules, self.shape, self._paint, shift, self._painted)

    def runs(self, bounds: tuple[int, int, int, int] | None = None) -> _Runs:
        """The runs of rows ``bounds[0]`` to ``bounds[1]`` − 1 and columns ``bounds[2]`` to ``bounds[3]`` − 1
        (all by default) row by row, in the region's coordinates."""
        from gongzhi.modules.pv.analytics import kernels

        h, w = self.shape
        region = np.array(bounds if bounds is not None else (0, h, 0, w), dtype=np.intp)
        rows, first, end = self.modules
        out = [np.empty(2 * len(rows) + 1, dtype=np.intp) for _ in range(3)]
        n = kernels.region_runs(rows, first, end, h, w, self.shift[0], self.shift[1], region, *out)
        return out[0][:n], out[1][:n], out[2][:n]

    def image(self) -> npt.NDArray[np.float32]:
        """The mask painted (:func:`module_mask`, whose glass the runs are), then rolled by ``shift``."""
        if not self._painted:
            self._painted.append(self._paint())
        return np.roll(self._painted[0], self.shift, axis=(0, 1))


def _coarse_then_climb(
    obs: _Observed,
    runs: _Runs,
    geometry: FrameGeometry,
    azimuth_deg: float,
    radius: int,
    pitch_along_m: float | None = None,
    near: tuple[float, float] | None = None,
    expected: tuple[float, float] | None = None,
    least_score: float = -math.inf,
) -> tuple[float, float, float] | None:
    """:func:`_match` of ``obs`` and the 0/1 mask made of ``runs`` (the module mask at ``geometry``)
    within ``radius`` px, by a match of both at half their resolution, then climbs (:class:`_Climb`) from
    twice its peak and from the points a whole number of ``pitch_along_m`` from there along the rows
    (``azimuth_deg``); the highest peak reached. With ``near`` (drow, dcol) [px], a peak already found
    for a pose only slightly different, the climbs start from it and its aliases instead, and the coarse
    match is made only when one of them does not end. With ``expected`` (drow, dcol) [px] instead, a
    shift expected to lie near the peak, one climb from there finds the ``near`` of the rest, and the
    coarse match is made also when the highest peak reached scores below ``least_score`` (a local
    maximum next to the peak, where a climb from the coarse match's start would not have ended) or lies
    on the window's edge; then the higher of the two peaks. ``None`` when the image is too small or flat,
    the mask empty, or a climb does not end."""
    from gongzhi.modules.pv.analytics import kernels

    h, w = obs.obs.shape
    if min(h, w) < 16:
        return None
    climber = obs.climber("all")
    from_near, least = None, -math.inf
    if expected is not None:
        # the aliases of the peak reached lie a whole period from it, where the expected shift's may fall
        # beside theirs; the peak itself is not climbed to again
        start = climber.climb(runs, radius, [(round(expected[0]), round(expected[1]))])
        if start is not None:
            at = (round(start[1]), round(start[2]))
            peak = (start[1], start[2])
            aliases = [p for p in _aliases(peak, geometry, azimuth_deg, pitch_along_m, radius) if p != at]
            rest = climber.climb(runs, radius, aliases) if aliases else start
            from_near = None if rest is None else (start if start[0] >= rest[0] else rest)
            least = least_score
    elif near is not None:
        from_near = climber.climb(runs, radius, _aliases(near, geometry, azimuth_deg, pitch_along_m, radius))
    # a climb held at the window's edge has no peak there (nor a sub-pixel step): the coarse match tells
    # whether the window has a higher one
    inside = from_near is not None and max(abs(from_near[1]), abs(from_near[2])) < radius
    if from_near is not None and from_near[0] >= least and (inside or expected is None):
        return from_near
    model = np.empty((h // 2, w // 2), dtype=np.float32)
    kernels.runs_block_means(*runs, model)
    drow, dcol = _coarse_peak(obs.quarter_spectrum(), model, max(1, math.ceil(radius / 2)))
    starts = _aliases((2 * drow, 2 * dcol), geometry, azimuth_deg, pitch_along_m, radius)
    climbed = climber.climb(runs, radius, starts)
    # both are local maxima of the same correlation: the higher stands, as in the whole search
    if climbed is not None and from_near is not None and from_near[0] > climbed[0]:
        return from_near
    return climbed


def _coarse_peak(
    obs: npt.NDArray[np.complex64], model: npt.NDArray[np.float32], radius: int
) -> tuple[float, float]:
    """Where :func:`_match` puts the peak (drow, dcol) [px] of an image, given as its :func:`_mean_free`
    spectrum, and ``model``, without its score: neither mean nor scale moves the peak, so the spectra are
    neither standardised nor checked for a flat image."""
    _, drow, dcol = _peak((obs, 1.0), (_mean_free(model), 1.0), model.shape, radius)
    return drow, dcol


def _mean_free(a: npt.NDArray[np.float32]) -> npt.NDArray[np.complex64]:
    """Spectrum of ``a`` (:func:`scipy.fft.rfft2`) with its DC bin zeroed: that of ``a`` less its mean."""
    spectrum = np.asarray(fft.rfft2(a), dtype=np.complex64)
    spectrum[0, 0] = 0
    return spectrum


def _aliases(
    centre: tuple[float, float],
    geometry: FrameGeometry,
    azimuth_deg: float,
    pitch_m: float | None,
    radius: int,
) -> list[tuple[int, int]]:
    """``centre`` [px] and the points whole grid periods ``pitch_m`` from it along the rows inside the
    window of ``radius`` px, rounded to pixels (``centre`` alone without a period)."""
    if pitch_m is None or pitch_m <= 0:
        return [(round(centre[0]), round(centre[1]))]
    e = row_axes(azimuth_deg)[0]
    r0, c0 = geometry.xy_to_pixel(geometry.x_m, geometry.y_m)
    r1, c1 = geometry.xy_to_pixel(geometry.x_m + pitch_m * e[0], geometry.y_m + pitch_m * e[1])
    step = (float(r1 - r0), float(c1 - c0))
    reach = math.ceil(2 * radius / max(math.hypot(*step), 1.0))
    points = [
        (round(centre[0] + m * step[0]), round(centre[1] + m * step[1])) for m in range(-reach, reach + 1)
    ]
    # a peak just outside the window shows as the window's edge, as in the whole search
    return [p for p in points if max(abs(p[0]), abs(p[1])) <= radius + 2]


class _Climb:
    """Steepest ascent on the normalised circular cross-correlation of ``obs`` and a 0/1 mask given as runs
    (row, first column, end column), within a window of ``radius`` px about no shift.

    Each correlation is a sum over the mask's runs of differences of ``obs``'s row prefix sums
    (:func:`.kernels.run_sums`): two terms a run instead of one a pixel, so that the few shifts near a
    peak cost less than the whole window's FFTs.
    """

    def __init__(self, obs: npt.NDArray[np.float32]) -> None:
        from gongzhi.modules.pv.analytics import kernels

        h, w = obs.shape
        prefix, moments = np.empty((h, w + 1)), np.empty(6)
        kernels.row_prefix(np.ascontiguousarray(obs, dtype=np.float32), prefix, moments)
        self._moments(prefix, moments[0:2])
        self._halves = moments[2:6]

    def _moments(self, prefix: npt.NDArray[np.float64], moments: npt.NDArray[np.float64]) -> None:
        self.prefix = prefix
        self.size = prefix.shape[0] * (prefix.shape[1] - 1)
        self.mean = moments[0] / self.size
        self.sd = math.sqrt(max(moments[1] / self.size - self.mean * self.mean, 0.0))

    def half(self, top: bool) -> _Climb:
        """The :class:`_Climb` of the image's rows above ``h // 2`` (``top``) or of the rest, from this
        one's row prefix sums and the halves' own moments (:func:`.kernels.row_prefix`): the same as made
        from those rows, bit for bit."""
        half = object.__new__(type(self))  # type(self): a profiler may have wrapped the name _Climb
        split = self.prefix.shape[0] // 2
        rows = self.prefix[:split] if top else self.prefix[split:]
        half._moments(rows, self._halves[0:2] if top else self._halves[2:4])
        half._halves = self._halves[0:0]
        return half

    def climb(
        self, runs: _Runs, radius: int, starts: list[tuple[int, int]]
    ) -> tuple[float, float, float] | None:
        """The highest of the local maxima reached over the 8 neighbouring shifts from each of ``starts``
        [px] (the first of equals), with :func:`_peak`'s sub-pixel parabola: (score, drow, dcol), what
        :func:`_peak` gives when that maximum is the window's highest, including on its edge (no sub-pixel
        step across it). Each start is first moved into the window. ``None`` when the image or the mask is
        flat, there is no start, or a climb takes more than :data:`CLIMB_STEPS` moves."""
        from gongzhi.modules.pv.analytics import kernels

        ones = float(np.sum(runs[2] - runs[1]))
        sd_m = math.sqrt(max(ones / self.size * (1 - ones / self.size), 0.0))
        if sd_m < 1e-3 or self.sd < 1e-6 or not starts:
            return None
        r = radius
        at = np.array([(min(max(i, -r), r), min(max(j, -r), r)) for i, j in starts], dtype=np.intp)
        sums = np.empty((len(starts), 9))
        if not kernels.climbs(self.prefix, *runs, at, r, CLIMB_STEPS, sums):
            return None
        scores = (sums - self.mean * ones) / (self.size * self.sd * sd_m)
        best = int(np.argmax(scores[:, 4]))
        sub = scores[best].reshape(3, 3)
        i, j = int(at[best, 0]), int(at[best, 1])
        di, dj = _subpixel(sub, 1, 1)
        # no sub-pixel step across the window's edge, as in the whole search
        return float(sub[1, 1]), i + (di if abs(i) < r else 0.0), j + (dj if abs(j) < r else 0.0)


def _rotation_deg(obs: _Observed, model: _Mask, radius: int) -> float:
    """Yaw correction from the shifts of the image halves [°]; 0 when they do not match well.

    ``model`` is already moved by the whole image's shift, so each half's peak is the one nearest no
    shift: it is climbed to (:meth:`_Observed.climb`) instead of searched for over the whole window.
    """
    h, w = obs.obs.shape
    turns = []
    left, right = obs.climb(model, radius, "left"), obs.climb(model, radius, "right")
    if min(left[0], right[0]) >= MIN_MATCH_SCORE:
        turns.append(math.atan2(right[1] - left[1], w / 2))
    top, bottom = obs.climb(model, radius, "top"), obs.climb(model, radius, "bottom")
    if min(top[0], bottom[0]) >= MIN_MATCH_SCORE:
        turns.append(math.atan2(-(bottom[2] - top[2]), h / 2))
    return -math.degrees(float(np.mean(turns))) if turns else 0.0


def _subpixel(sub: npt.NDArray[np.float32] | npt.NDArray[np.float64], i: int, j: int) -> tuple[float, float]:
    def vertex(a: float, b: float, c: float) -> float:
        d = a - 2 * b + c
        # min and max rather than np.clip: the same value without a ufunc call on a scalar
        return 0.0 if abs(d) < 1e-12 else float(min(max(0.5 * (a - c) / d, -0.5), 0.5))

    n, m = sub.shape
    di = vertex(sub[i - 1, j], sub[i, j], sub[i + 1, j]) if 0 < i < n - 1 else 0.0
    dj = vertex(sub[i, j - 1], sub[i, j], sub[i, j + 1]) if 0 < j < m - 1 else 0.0
    return di, dj


@dataclass(frozen=True, slots=True)
class ModuleRect:
    """A module found in a frame without a layout.

    Attributes
    ----------
    row, col : float
        Centre [px].
    angle_deg : float
        Direction of the long side in the image, counter-clockwise from the column axis [°]; as found, in
        (−90, 90]; 180° more turns the maps of :func:`rect_crops` by half a turn.
    length_px, width_px : float
        Long and short side [px].
    area_px : int
        Pixels of the segment [px].
    """

    row: float
    col: float
    angle_deg: float
    length_px: float
    width_px: float
    area_px: int

    def sample_grid(self, rows: int, cols: int, inset: float = 0.0) -> tuple[FloatArray, FloatArray]:
        """Pixel coordinates of a rows × cols grid over the rectangle, rows along the long side [px]."""
        a = math.radians(self.angle_deg)
        e_long = np.array([-math.sin(a), math.cos(a)])  # (d_row, d_col) per unit along the long side
        e_short = np.array([math.cos(a), math.sin(a)])
        fl = ((np.arange(rows) + 0.5) / rows - 0.5) * (1 - 2 * inset) * self.length_px
        fs = ((np.arange(cols) + 0.5) / cols - 0.5) * (1 - 2 * inset) * self.width_px
        r = self.row + fl[:, None] * e_long[0] + fs[None, :] * e_short[0]
        c = self.col + fl[:, None] * e_long[1] + fs[None, :] * e_short[1]
        return r, c


def _otsu(values: npt.NDArray[np.float32], bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(centres[int(np.argmax(between))])


def segment_modules(
    temperature: npt.NDArray[np.float32],
    *,
    min_area_px: int = 150,
    line_contrast_k: float = 0.4,
    min_rectangularity: float = 0.8,
    aspect: tuple[float, float] = (1.2, 3.5),
    min_array: int = 3,
) -> list[ModuleRect]:
    """Find module rectangles in a frame without a layout.

    Modules and background are split by Otsu's threshold; whichever side forms more module-like
    rectangles is the modules (they are usually warmer than a roof, not always). The cooler frames between
    neighbouring modules of a row, one or two pixels wide, are found by a black top-hat (white top-hat for
    modules cooler than the background) and cut out; connected components (``scipy.ndimage.label``) then
    get a rectangle from their second moments (a w × l rectangle has variances w²/12 and l²/12 along its
    axes). Components that are not rectangular enough, of the wrong aspect, or far from the median area
    are dropped, and so are those that are not part of an array: modules are mounted in rows, so each
    rectangle kept lies in a group of at least ``min_array`` turned alike (within 10°), of about the same
    area, each next to another side by side or end to end, about one module apart. A blob on a roof, a
    tree or a pylon that happens to be module-shaped stands alone and is dropped (on the generic scenes
    of ``shared/data/thermal``, 23 such rectangles in four of six photos, none kept).

    Parameters
    ----------
    temperature : ndarray, shape (H, W)
        The frame [°C].
    min_area_px : int
        Smallest module area [px].
    line_contrast_k : float
        Least depth of a frame line below the glass on both sides [K].
    min_rectangularity : float
        Least ratio of a component's area to its fitted rectangle's [-].
    aspect : (float, float)
        Range of long over short side [-].
    min_array : int
        Fewest rectangles of a group kept as an array [-].

    Returns
    -------
    list of ModuleRect
        Sorted top to bottom, left to right.
    """
    t = np.asarray(temperature, dtype=np.float32)
    finite = np.isfinite(t)
    if np.count_nonzero(finite) < min_area_px * min_array:
        return []
    if not finite.all():  # pixels without a temperature (a DJI frame's no-data): neither side, no lines
        t = np.where(finite, t, np.float32(np.median(t[finite])))
    warm = t > _otsu(t)
    best: list[ModuleRect] = []
    for modules, tophat in ((warm & finite, ndimage.black_tophat), (~warm & finite, ndimage.white_tophat)):
        # clip to a band about the modules' level, so that a hot cell or a cool shadow inside a module does
        # not turn its healthy surroundings into "lines" that cut the module apart
        level = float(np.median(t[modules])) if modules.any() else float(np.median(t))
        lines = tophat(np.clip(t, level - 1.5, level + 1.5), size=(5, 5)) > line_contrast_k
        mask = ndimage.binary_opening(modules & ~lines, structure=np.ones((3, 3), dtype=bool))
        rects = _rectangles(mask, min_area_px, min_rectangularity, aspect)
        if len(rects) > len(best):
            best = rects
    if not best:
        return []
    median = float(np.median([r.area_px for r in best]))
    kept = _in_arrays([r for r in best if 0.6 * median <= r.area_px <= 1.5 * median], min_array)
    return sorted(_widen_to_pitch(kept), key=lambda r: (round(r.row / 10), r.col))


def _in_arrays(rects: list[ModuleRect], min_array: int) -> list[ModuleRect]:
    """The rectangles that lie in a group of at least ``min_array`` neighbours (see
    :func:`segment_modules`): turned alike within 10°, areas within a factor 1.6, and next to each
    other side by side (less than 0.3 of a length apart along the long side, 0.5–1.8 widths across) or
    end to end (less than 0.3 of a width across, 0.5–1.8 lengths along)."""
    if len(rects) < min_array:
        return []
    centres = np.array([(r.row, r.col) for r in rects])
    angles = np.radians([r.angle_deg for r in rects])
    areas = np.array([r.area_px for r in rects], dtype=float)
    near = np.zeros((len(rects), len(rects)), dtype=bool)
    for k, r in enumerate(rects):
        d = centres - centres[k]
        along = np.abs(d[:, 0] * -math.sin(angles[k]) + d[:, 1] * math.cos(angles[k])) / r.length_px
        across = np.abs(d[:, 0] * math.cos(angles[k]) + d[:, 1] * math.sin(angles[k])) / r.width_px
        turned = np.abs((np.degrees(angles - angles[k]) + 90) % 180 - 90)
        ratio = np.maximum(areas, areas[k]) / np.minimum(areas, areas[k])
        side = (along < 0.3) & (across > 0.5) & (across < 1.8)
        end = (across < 0.3) & (along > 0.5) & (along < 1.8)
        near[k] = (side | end) & (turned < 10) & (ratio < 1.6)
    _, labels = connected_components(csr_matrix(near), directed=False)
    sizes = np.bincount(labels)
    return [r for r, label in zip(rects, labels.tolist(), strict=True) if sizes[label] >= min_array]


def _widen_to_pitch(rects: list[ModuleRect]) -> list[ModuleRect]:
    """Give back the width the cut-out frame lines took: side-by-side modules are one pitch apart.

    The pitch is the median distance between neighbours side by side (across the long axis, less than
    1.6 widths apart); a module's width is then the pitch less half a pixel of gap.
    """
    if len(rects) < 2:
        return rects
    centres = np.array([(r.row, r.col) for r in rects])
    pitches = []
    for r in rects:
        a = math.radians(r.angle_deg)
        d = centres - (r.row, r.col)
        along_long = np.abs(d[:, 0] * -math.sin(a) + d[:, 1] * math.cos(a))
        across = np.abs(d[:, 0] * math.cos(a) + d[:, 1] * math.sin(a))
        side = (along_long < 0.3 * r.length_px) & (across > 0.5 * r.width_px) & (across < 1.6 * r.width_px)
        if side.any():
            pitches.append(float(across[side].min()))
    if len(pitches) < 3:
        return rects
    width = float(np.median(pitches)) - 0.5
    return [replace(r, width_px=max(r.width_px, width)) if width < 1.3 * r.width_px else r for r in rects]


def _rectangles(
    mask: npt.NDArray[np.bool_], min_area: int, min_rect: float, aspect: tuple[float, float]
) -> list[ModuleRect]:
    labels, n = ndimage.label(mask)
    if n == 0:
        return []
    h, w = mask.shape
    cut = [s is not None and (s[0].start == 0 or s[1].start == 0 or s[0].stop == h or s[1].stop == w)
           for s in ndimage.find_objects(labels)]  # fmt: skip
    rows, cols = np.nonzero(labels)
    lab = labels[rows, cols]
    count = np.bincount(lab, minlength=n + 1).astype(np.float64)
    safe = np.maximum(count, 1)
    mr = np.bincount(lab, rows, n + 1) / safe
    mc = np.bincount(lab, cols, n + 1) / safe
    dr, dc = rows - mr[lab], cols - mc[lab]
    srr = np.bincount(lab, dr * dr, n + 1) / safe
    scc = np.bincount(lab, dc * dc, n + 1) / safe
    src = np.bincount(lab, dr * dc, n + 1) / safe
    out = []
    for k in range(1, n + 1):
        if count[k] < min_area or cut[k - 1]:
            continue
        cov = np.array([[srr[k], src[k]], [src[k], scc[k]]])
        evals, evecs = np.linalg.eigh(cov)
        length, width = math.sqrt(12 * max(evals[1], 0)), math.sqrt(12 * max(evals[0], 1e-9))
        if width <= 0 or not aspect[0] <= length / width <= aspect[1]:
            continue
        if count[k] / (length * width) < min_rect:
            continue
        d_row, d_col = evecs[:, 1]
        angle = math.degrees(math.atan2(-d_row, d_col))  # long side direction, CCW from the column axis
        angle = (angle + 90) % 180 - 90
        out.append(ModuleRect(float(mr[k]), float(mc[k]), angle, length, width, int(count[k])))
    return out


def rect_crops(
    temperature: npt.NDArray[np.float32],
    rects: list[ModuleRect],
    cells: tuple[int, int],
    samples_per_cell: int = 4,
) -> npt.NDArray[np.float32]:
    """Temperature maps of segmented modules on a cells (short × long) grid; rows along the long side [°C]."""
    short, long_ = cells
    n_rows, n_cols = long_ * samples_per_cell, short * samples_per_cell
    if not rects:
        return np.zeros((0, n_rows, n_cols), dtype=np.float32)
    grids = [r.sample_grid(n_rows, n_cols) for r in rects]
    rr = np.concatenate([g[0].ravel() for g in grids])
    cc = np.concatenate([g[1].ravel() for g in grids])
    out = ndimage.map_coordinates(temperature, [rr, cc], order=1, mode="nearest")
    return np.asarray(out, dtype=np.float32).reshape(len(rects), n_rows, n_cols)
