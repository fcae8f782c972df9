"""Which modules of a row a frame sees: the along-row alias of a registered pose.

Matching the layout's module grid (:func:`.georef.refine_pose`) fixes a frame's pose to a fraction of a
module, but along a row the grid repeats every module pitch, so the match cannot tell one module from the
next. With RTK the logged position settles it; without, a receiver's error (±1.5 m for a DJI GNSS hover) is
more than half a pitch, and a frame named one module off puts every view of it on its neighbour.

Two kinds of evidence settle it here, both cheap next to the match itself:

- **The frames before it** (:meth:`AliasTracker.linked`). Healthy modules are not all alike: each differs
  from the next by a few tenths of a kelvin (manufacturing, soiling, mounting), and that pattern is the same
  in every frame that sees them. Each module's median over its inner glass, less a quadratic surface over the
  frame (the vignetting, the plant's gradient, the frame's offset), is its fingerprint; the alias whose
  names make this frame's fingerprints agree with those already seen is the one that names the modules as
  the frames before did. It keeps a flight's naming consistent, not right.
- **The ends of the rows** (:func:`end_alias`). Where a row ends in the frame, a mask one pitch off puts
  glass on the roof beyond it: the grid's correlation is highest at the true alias. That settles the naming
  absolutely, and the accumulator renames what it has linked since the last such frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from gongzhi.modules.pv.analytics.georef import (
    FrameGeometry,
    ModuleIndex,
    _downsample,
    _glass,
    _painting,
    bilinear,
    locate,
)
from gongzhi.modules.pv.analytics.layout import row_axes

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

ALIASES = tuple((i, j) for j in (0, -1, 1) for i in (0, -1, 1, -2, 2))
"""Alias shifts tried against the frames before: (module pitches along the rows, row pitches across them)
from the running correction's [-]."""
MERGE_ALIASES = tuple((i, j) for j in (0, -1, 1, -2, 2) for i in (0, -1, 1, -2, 2, -3, 3, -4, 4))
"""Alias shifts tried when a later part of a flight, analysed apart, is linked to the part before: its first
frames are named from the logged positions alone, up to a bias of 3 σ (4.5 m for a GNSS hover's ±1.5 m)
off [-]."""
LINK_COMMON = 20
"""Least modules a shift's names must share with the frames before for it to be weighed [-]; the running
correction's naming must be weighed for any shift to link."""
LINK_MARGIN = 0.5
"""A shift links a frame when its fingerprints' spread about the frames before is at most this share of
every other shift's [-]."""
END_GAIN = 0.3
"""How much better (:func:`end_gain`) a pose a pitch off must explain the ends of the rows a frame sees,
or how much worse both ways, for the frame to settle the naming [-]."""

END_BLOCK_PX = 2
"""Block size the ends are measured at (:func:`end_alias`) [px]."""

Shift = tuple[int, int]
"""(module pitches along the rows, row pitches across them)."""

# where a fingerprint samples a module: a 3 × 5 grid over its inner glass, as fractions of its footprint
_ALONG = (-0.3, 0.0, 0.3)
_ACROSS = (-0.3, -0.15, 0.0, 0.15, 0.3)
# the modules along the row a fingerprint is measured against
_BESIDE = ((-2, 0), (-1, 0), (1, 0), (2, 0))


class AliasTracker:
    """The modules' fingerprints seen so far, and the renaming tables a few pitches along and across the rows.

    Parameters
    ----------
    index : ModuleIndex
        The plant's modules.
    pitches_m : (float, float)
        The module pitch along the rows and the row pitch across them [m].
    """

    def __init__(self, index: ModuleIndex, pitches_m: tuple[float, float]) -> None:
        n = len(index.centres)
        self.pitches_m = pitches_m
        self.values = np.full(n, np.nan)
        self.frames = np.full(n, -1, dtype=np.int64)
        self.attach(index)

    def attach(self, index: ModuleIndex) -> None:
        """Build what the tracker derives from the plant's module index (it pickles without them)."""
        self.index = index
        self.axes = row_axes(index.layout.row_azimuth_deg)
        self._shifts: dict[Shift, IntArray] = {(0, 0): np.arange(len(index.centres), dtype=np.intp)}
        self._tables: dict[tuple[Shift, ...], IntArray] = {}
        along, across = index.layout.footprint_m
        u, w = np.meshgrid(np.array(_ALONG) * along, np.array(_ACROSS) * across, indexing="ij")
        e, c = self.axes
        self._dx = (u * e[0] + w * c[0]).ravel()
        self._dy = (u * e[1] + w * c[1]).ravel()

    def __getstate__(self) -> dict[str, object]:
        # the fingerprints travel back from a worker; the index and the tables derived from it do not
        return {"pitches_m": self.pitches_m, "values": self.values, "frames": self.frames}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.index = None  # type: ignore[assignment]  # until attach

    def offset_m(self, k: Shift) -> tuple[float, float]:
        """The move (east, north) of shift ``k`` [m]."""
        (e, c), (pa, pr) = self.axes, self.pitches_m
        return k[0] * pa * e[0] + k[1] * pr * c[0], k[0] * pa * e[1] + k[1] * pr * c[1]

    def shift(self, k: Shift) -> IntArray:
        """Position → the position of the module found ``k`` from it (−1 where none): what a frame's module
        is named when its pose moves by ``k``."""
        if k not in self._shifts:
            c = self.index.centres
            dx, dy = self.offset_m(k)
            found, _, _ = locate(self.index, c[:, 0] + dx, c[:, 1] + dy)
            self._shifts[k] = np.asarray(found, dtype=np.intp)
        return self._shifts[k]

    def _table(self, shifts: tuple[Shift, ...]) -> IntArray:
        """:meth:`shift` of each of ``shifts``, stacked: shape (len(shifts), modules)."""
        table = self._tables.get(shifts)
        if table is None:
            table = self._tables[shifts] = np.stack([self.shift(k) for k in shifts])
        return table

    def moved(self, geometry: FrameGeometry, k: Shift) -> FrameGeometry:
        """``geometry`` moved by ``k``."""
        return geometry.moved(*self.offset_m(k)) if k != (0, 0) else geometry

    def fingerprint(
        self, temperature: npt.NDArray[np.float32], geometry: FrameGeometry, positions: IntArray
    ) -> FloatArray:
        """Each module's median over its inner glass less the median of those of the modules up to two
        pitches along its row in the frame [K]: a high pass that the vignetting, the plant's gradient, the
        frame's offset and a whole warm row leave alone. NaN where the frame sees fewer than two of those, and
        for an outlier (more than 3 standard deviations, robustly, from the frame's median: an anomaly, or
        the glint of the sun, which slides over the modules from one frame to the next)."""
        if len(positions) == 0:
            return np.zeros(0)
        c = self.index.centres[positions]
        rows, cols = geometry.xy_to_pixel(c[:, 0, None] + self._dx, c[:, 1, None] + self._dy)
        med = _row_medians(np.sort(bilinear(temperature, rows, cols), axis=1).astype(np.float64))
        seen = np.full(len(self.values) + 1, np.nan)  # the last slot for "no such module"
        seen[positions] = med
        beside = np.sort(seen[self._table(_BESIDE)[:, positions]].T, axis=1)  # NaN last
        out = med - _row_medians(beside, min_count=2)
        # an anomaly or the sun's glint (which slides over the modules from frame to frame) is no fingerprint
        finite = out[np.isfinite(out)]
        if len(finite):
            centre = float(np.median(finite))
            spread = 1.4826 * float(np.median(np.abs(finite - centre)))
            out[np.abs(out - centre) > 3 * spread + 0.05] = np.nan
        return out

    def linked(
        self, positions: IntArray, values: FloatArray, shifts: tuple[Shift, ...] = ALIASES
    ) -> Shift | None:
        """The shift (of ``shifts``, default :data:`ALIASES`) whose names make ``values`` agree with the
        fingerprints seen before, by :data:`LINK_MARGIN` over every other shift; ``None`` when none does, or
        the frame shares too few modules with them under its own names (no shift) to compare."""
        # every shift at once: the stored fingerprints under each shift's names (NaN where none), less this
        # frame's, and each row's median absolute deviation over the modules both have
        stored = np.append(self.values, np.nan)  # the last slot for "no such module" (−1)
        d = values[None, :] - stored[self._table(shifts)[:, positions]]
        common = np.isfinite(d).sum(axis=1)
        weighed = np.flatnonzero(common >= LINK_COMMON)
        if not len(weighed):
            return None
        d = np.sort(d[weighed], axis=1)
        deviations = np.sort(np.abs(d - _row_medians(d, 1)[:, None]), axis=1)
        spread = _row_medians(deviations, 1)
        spreads = {shifts[i]: float(v) for i, v in zip(weighed.tolist(), spread.tolist(), strict=True)}
        if (0, 0) not in spreads:
            return None  # a shift must beat the running correction's naming where both can be compared
        best = min(spreads, key=spreads.__getitem__)
        others = [s for k, s in spreads.items() if k != best]
        if not others or spreads[best] > LINK_MARGIN * min(others):
            return None
        return best

    def remember(self, positions: IntArray, values: FloatArray, frame: int) -> None:
        """Keep frame ``frame``'s fingerprints under the names it was given (the latest sighting wins)."""
        ok = np.isfinite(values)
        self.values[positions[ok]] = values[ok]
        self.frames[positions[ok]] = frame

    @property
    def empty(self) -> bool:
        """Whether no fingerprint is kept yet."""
        return not np.isfinite(self.values).any()

    def rename(self, k: Shift, first: int = 0, end: int | None = None) -> None:
        """Move the fingerprints kept from frames ``first`` to ``end − 1`` by ``k``: the naming they were kept
        under was that far off."""
        names = self.shift(k)
        mine = (self.frames >= first) & (self.frames < (end if end is not None else np.iinfo(np.int64).max))
        moving = np.flatnonzero(mine & (names >= 0))
        values, frames = self.values[moving], self.frames[moving]
        self.values[mine], self.frames[mine] = np.nan, -1
        self.values[names[moving]], self.frames[names[moving]] = values, frames

    def take(self, other: AliasTracker, frames: int) -> None:
        """Take in the fingerprints of a tracker that saw the ``frames`` frames after this one's, where it
        saw them later (its frames numbered after this one's)."""
        ok = np.isfinite(other.values)
        self.values[ok] = other.values[ok]
        self.frames[ok] = other.frames[ok] + frames


def _row_medians(ordered: FloatArray, min_count: int | None = None) -> FloatArray:
    """The median of each row of ``ordered`` (each row sorted, NaN last): of its finite values, NaN where it
    has fewer than ``min_count``; with ``None``, NaN where any is NaN (as :func:`numpy.median`)."""
    n, width = ordered.shape
    count = np.full(n, width) if min_count is None else np.isfinite(ordered).sum(axis=1)
    lo = np.take_along_axis(ordered, np.maximum(count - 1, 0)[:, None] // 2, axis=1)[:, 0]
    hi = np.take_along_axis(ordered, np.minimum(count // 2, width - 1)[:, None], axis=1)[:, 0]
    out = (lo + hi) / 2
    if min_count is None:
        out[np.isnan(ordered[:, -1])] = np.nan
    else:
        out[count < min_count] = np.nan
    return out


def sees_end(tracker: AliasTracker, positions: IntArray, axis: int) -> bool:
    """Whether a module the frame sees wholly lies within two pitches of an end along the rows (``axis`` 0)
    or across them (1): where a pose a pitch off would put glass on the roof, or roof on the glass, and the
    end is in sight even when the pose is a pitch off."""
    for step in (1, 2):
        for sign in (1, -1):
            k = (sign * step, 0) if axis == 0 else (0, sign * step)
            if np.any(tracker.shift(k)[positions] < 0):
                return True
    return False


_GLASS_RIM, _WHOLE_RIM = 0.04, -0.02
"""The glass's rim (as :func:`.georef.module_mask`'s) and the whole footprint's margin, as shares of the
module's sides [-]."""


def _contrast(
    temperature: npt.NDArray[np.float32], glass: npt.NDArray[np.bool_], region: npt.NDArray[np.bool_]
) -> float | None:
    """How much warmer the glass is than the frame around it over ``region`` (the footprints of some module
    slots, all within the pose's whole footprints) [K]: a module's aluminium frame and the gap beside it are
    cooler than its glass, while a slot that holds roof shows no such step; ``None`` for too few pixels of
    either."""
    on = glass & region
    off = region & ~on
    n_on, n_off = np.count_nonzero(on), np.count_nonzero(off)
    if n_on < 8 or n_off < 8:
        return None
    return float(np.mean(temperature[on])) - float(np.mean(temperature[off]))


def _masks(
    tracker: AliasTracker, geometry: FrameGeometry
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The modules' glass at a pose (:func:`.georef.module_mask`), and their whole footprints with a margin of
    2 % for the frame: one placing of the modules, painted twice."""
    from gongzhi.modules.pv.analytics import kernels  # numba: loaded with the first frame, as georef's

    glass = np.zeros((geometry.height_px, geometry.width_px), dtype=np.float32)
    whole = np.zeros_like(glass)
    painting = _painting(tracker.index, geometry, _GLASS_RIM)
    if painting is not None:
        kernels.paint_modules(*painting, glass)
        kernels.paint_modules(*painting[:-1], _glass(tracker.index, _WHOLE_RIM), whole)
    return glass > 0, whole > 0


def end_gain(
    temperature: npt.NDArray[np.float32],
    geometry: FrameGeometry,
    tracker: AliasTracker,
    shift: Shift,
    masks: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None = None,
) -> float | None:
    """How much better the pose moved by ``shift`` explains the ends the frame sees than the pose itself:
    the slots only the moved pose puts modules in look like modules (+0.5 where their glass stands above
    their frames as much as the modules' both poses place do, −0.5 where it does not at all: roof), less the
    same for the slots only the pose itself fills (:func:`_contrast`); ``None`` where nothing tells them
    apart [-]. ``masks``: :func:`_masks` at ``geometry``, when the caller has them."""
    glass, whole = masks if masks is not None else _masks(tracker, geometry)
    moved_glass, moved_whole = _masks(tracker, tracker.moved(geometry, shift))
    reference = _contrast(temperature, glass, whole & moved_whole)
    if reference is None or reference <= 0.2:
        return None
    own = _contrast(temperature, glass, whole & ~moved_whole)
    moved = _contrast(temperature, moved_glass, moved_whole & ~whole)
    if own is None and moved is None:
        return None
    gain = 0.0
    if moved is not None:
        gain += float(np.clip(moved / reference, 0.0, 1.0)) - 0.5
    if own is not None:
        gain -= float(np.clip(own / reference, 0.0, 1.0)) - 0.5
    return gain


def end_alias(
    temperature: npt.NDArray[np.float32],
    geometry: FrameGeometry,
    tracker: AliasTracker,
    positions: IntArray,
    axes: tuple[bool, bool] = (True, True),
) -> tuple[Shift, tuple[bool, bool]]:
    """The shift that the ends of the rows (along) and the arrays' first and last rows (across) in the frame
    settle, one pitch either way or none, and which of the two directions they settle. A direction is
    settled where a pose one pitch off explains the ends better by :data:`END_GAIN` (:func:`end_gain`), or
    worse by as much both ways (both weighed); not where the frame sees no end in it or the ends do not
    tell. ``axes``: which directions to weigh (along, across)."""
    settled = [0, 0]
    known = [False, False]
    masks = None
    for a in (0, 1):
        if not axes[a] or not sees_end(tracker, positions, a):
            continue
        if masks is None:
            # at half the resolution: a quarter of the pixels, and the frames' step still shows
            temperature = _downsample(temperature, END_BLOCK_PX)
            b, g = END_BLOCK_PX, geometry
            geometry = FrameGeometry(g.x_m, g.y_m, g.gsd_m * b, g.yaw_deg, g.width_px // b, g.height_px // b)
            masks = _masks(tracker, geometry)
        gains = {}
        for step in (-1, 1):
            gain = end_gain(temperature, geometry, tracker, (step, 0) if a == 0 else (0, step), masks)
            if gain is not None:
                gains[step] = gain
        if not gains:
            continue
        best = max(gains, key=gains.__getitem__)
        if gains[best] >= END_GAIN:
            settled[a], known[a] = best, True
        elif len(gains) == 2 and gains[best] <= -END_GAIN:
            known[a] = True  # worse both ways: only where both ways were weighed
    return (settled[0], settled[1]), (known[0], known[1])
