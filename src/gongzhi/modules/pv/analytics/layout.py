"""Plant layout: a roof polygon filled with arrays of rows of modules, each with a stable id.

A plant is worked in the local metric frame of :mod:`.geometry` (x east, y north [m]) about its roof
polygon's centroid. Rows run along ``row_azimuth_deg`` (clockwise from north); a module's footprint is its
rectangle as seen from straight above, so the side across the row is foreshortened by cos(tilt). Ids read
``A-03-17``: array ``A``, row 3 of that array, module 17 of that row counted along the row azimuth, so the
same plant always gets the same ids.

Module formats (cell grids) follow the common crystalline-silicon families: 60 and 72 full cells in a 6 ×
10 / 6 × 12 grid, 120 and 144 half-cut cells in a 6 × 20 / 6 × 24 grid. Three bypass diodes split the six
cell columns (along the module's long side) into three substrings of two columns each, the usual wiring of
all four formats.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from gongzhi.modules.pv.analytics.geometry import (
    XY,
    LocalFrame,
    LonLat,
    clean_ring,
    distance_to_boundary,
    local_frame,
    point_in_polygon,
    project,
    rotate,
    scanline_crossings,
    unrotate,
)

FloatArray = npt.NDArray[np.float64]

SUBSTRINGS = 3
"""Bypass-diode substrings per module [-]."""

_ID = re.compile(r"^([A-Z]+)-(\d+)-(\d+)$")


@dataclass(frozen=True, slots=True)
class ModuleType:
    """A module format: size and cell grid.

    Attributes
    ----------
    name : str
        Format name, e.g. ``"72"`` or ``"144-half-cut"``.
    width_m, length_m : float
        Short and long side of the module [m].
    cells_short, cells_long : int
        Cells across the short side and along the long side [-]; a half-cut module counts half cells.
    half_cut : bool
        Whether the cells are half-cut (two electrically parallel halves).
    """

    name: str
    width_m: float
    length_m: float
    cells_short: int
    cells_long: int
    half_cut: bool = False

    @property
    def cells(self) -> int:
        """Number of (half) cells [-]."""
        return self.cells_short * self.cells_long


MODULE_TYPES: Mapping[str, ModuleType] = MappingProxyType(
    {
        t.name: t
        for t in (
            ModuleType("60", 0.992, 1.650, 6, 10),
            ModuleType("72", 0.992, 1.956, 6, 12),
            ModuleType("120-half-cut", 1.038, 1.755, 6, 20, half_cut=True),
            ModuleType("144-half-cut", 1.134, 2.279, 6, 24, half_cut=True),
        )
    }
)
"""Common module formats by name (typical datasheet sizes of M2/M6 and M10 modules)."""


@dataclass(frozen=True, slots=True)
class Module:
    """One module of a plant, located in the layout's local frame.

    Attributes
    ----------
    id : str
        ``<array>-<row>-<index>``, e.g. ``A-03-17``.
    array : str
        Array letter(s).
    row, index : int
        Row within the array and position within the row, from 1 [-].
    string : str
        String the module is wired in, ``<array>-<row>-S<n>``.
    x_m, y_m : float
        Centre of the module's footprint, east and north of the layout origin [m].
    """

    id: str
    array: str
    row: int
    index: int
    string: str
    x_m: float
    y_m: float


@dataclass(frozen=True, slots=True)
class LayoutParams:
    """How :func:`generate_layout` fills a roof.

    Attributes
    ----------
    module_type : ModuleType
        Module format.
    tilt_deg : float
        Module tilt from horizontal [°].
    row_azimuth_deg : float
        Direction the rows run, clockwise from north [°]; 90 (east–west rows) for modules facing south.
    portrait : bool
        Long side across the row (portrait) or along it (landscape).
    row_pitch_m : float | None
        Distance between row centre lines [m]; default the footprint depth over ``ground_coverage_ratio``.
    ground_coverage_ratio : float
        Footprint depth over row pitch when ``row_pitch_m`` is not given [-].
    module_gap_m : float
        Gap between neighbouring modules in a row [m].
    setback_m : float
        Clearance between any module and the roof edge [m] (fire access, parapets).
    rows_per_array : int
        Rows per array; arrays are separated by ``walkway_m``.
    walkway_m : float
        Extra gap between arrays [m].
    modules_per_string : int
        Consecutive modules of a row wired in one string [-].
    """

    module_type: ModuleType = MODULE_TYPES["72"]
    tilt_deg: float = 10.0
    row_azimuth_deg: float = 90.0
    portrait: bool = True
    row_pitch_m: float | None = None
    ground_coverage_ratio: float = 0.7
    module_gap_m: float = 0.02
    setback_m: float = 1.0
    rows_per_array: int = 10
    walkway_m: float = 1.0
    modules_per_string: int = 20


@dataclass(frozen=True, slots=True)
class PlantLayout:
    """A plant: roof polygon and modules, all modules of one format, tilt and row azimuth.

    Attributes
    ----------
    name : str
        Plant name.
    polygon : tuple of (lon, lat)
        Roof outline, WGS84 [°], without a closing vertex.
    origin : LocalFrame
        Local metric frame the module positions are given in.
    module_type : ModuleType
        Module format.
    tilt_deg : float
        Module tilt [°].
    row_azimuth_deg : float
        Row direction, clockwise from north [°]; the module's "along row" axis.
    portrait : bool
        Long side across the row.
    modules : tuple of Module
        Every module, ordered by array, row, index.
    """

    name: str
    polygon: tuple[LonLat, ...]
    origin: LocalFrame
    module_type: ModuleType
    tilt_deg: float
    row_azimuth_deg: float
    portrait: bool
    modules: tuple[Module, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {m.id: i for i, m in enumerate(self.modules)}
        if len(index) != len(self.modules):
            raise ValueError("module ids must be unique")
        object.__setattr__(self, "_index", index)  # a plain dict, so that layouts pickle (multiprocessing)

    @property
    def footprint_m(self) -> tuple[float, float]:
        """Module footprint seen from above, along × across the row [m]."""
        return footprint(self.module_type, self.tilt_deg, self.portrait)

    @property
    def cell_grid(self) -> tuple[int, int]:
        """Cells along × across the row [-]."""
        t = self.module_type
        return (t.cells_short, t.cells_long) if self.portrait else (t.cells_long, t.cells_short)

    def position(self, module_id: str) -> int:
        """Index of ``module_id`` in :attr:`modules`.

        Raises
        ------
        KeyError
            If the plant has no such module.
        """
        return self._index[module_id]

    def zones(self) -> tuple[tuple[str, ...], npt.NDArray[np.intp]]:
        """The arrays' names, sorted, and each module's index among them, shape (N,)."""
        names = tuple(sorted({m.array for m in self.modules}))
        where = {n: i for i, n in enumerate(names)}
        return names, np.fromiter(
            (where[m.array] for m in self.modules), dtype=np.intp, count=len(self.modules)
        )

    def centres_xy(self) -> FloatArray:
        """Module centres, shape (N, 2), east and north [m]."""
        # filled a column at a time from lists of floats: a pair per module costs 4× the CPU and 17,000
        # tuples on a large plant, which set off collections
        out = np.empty((len(self.modules), 2), dtype=np.float64)
        out[:, 0] = [m.x_m for m in self.modules]
        out[:, 1] = [m.y_m for m in self.modules]
        return out

    def corners_xy(self) -> FloatArray:
        """Footprint corners, shape (N, 4, 2) [m], counter-clockwise from the row-start, front corner."""
        along, across = self.footprint_m
        u = np.array([-0.5, 0.5, 0.5, -0.5]) * along
        v = np.array([-0.5, -0.5, 0.5, 0.5]) * across
        ex, ey = row_axes(self.row_azimuth_deg)
        offsets = u[:, None] * ex + v[:, None] * ey
        return self.centres_xy()[:, None, :] + offsets[None, :, :]

    def lonlat(self, module_id: str) -> LonLat:
        """WGS84 centre of one module [°]."""
        m = self.modules[self.position(module_id)]
        return self.origin.to_lonlat(m.x_m, m.y_m)

    def polygon_xy(self) -> list[XY]:
        """Roof outline in the local frame [m]."""
        return project(self.polygon, self.origin)


def row_axes(row_azimuth_deg: float) -> tuple[FloatArray, FloatArray]:
    """Unit vectors (east, north) along the row and across it (to its left) [-]."""
    a = math.radians(row_azimuth_deg)
    along = np.array([math.sin(a), math.cos(a)])
    return along, np.array([-along[1], along[0]])


def rows_outline(layout: PlantLayout, module_ids: Sequence[str], buffer_m: float = 3.0) -> list[LonLat]:
    """The rectangle, aligned with the rows, around every module of the rows holding ``module_ids``,
    grown by ``buffer_m`` on each side: the area a re-inspection of those rows flies over.

    Parameters
    ----------
    layout : PlantLayout
        The plant.
    module_ids : sequence of str
        Modules whose rows are wanted (unknown ids raise ``KeyError``).
    buffer_m : float
        Margin around the rows' footprints [m].

    Returns
    -------
    list of (lon, lat)
        Open ring of four corners, WGS84 [°].
    """
    if not module_ids:
        raise ValueError("no modules given")
    rows = {(m.array, m.row) for m in (layout.modules[layout.position(i)] for i in module_ids)}
    keep = [k for k, m in enumerate(layout.modules) if (m.array, m.row) in rows]
    corners = layout.corners_xy()[keep].reshape(-1, 2)
    ex, ey = row_axes(layout.row_azimuth_deg)
    u, v = corners @ ex, corners @ ey
    u0, u1, v0, v1 = u.min() - buffer_m, u.max() + buffer_m, v.min() - buffer_m, v.max() + buffer_m
    box = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
    return [layout.origin.to_lonlat(*(a * ex + b * ey)) for a, b in box]


def footprint(module_type: ModuleType, tilt_deg: float, portrait: bool) -> tuple[float, float]:
    """Plan-view size of a tilted module, along × across the row [m].

    The side across the row is foreshortened by cos(tilt).
    """
    if not 0 <= tilt_deg < 90:
        raise ValueError(f"tilt must lie in [0, 90) degrees, got {tilt_deg}")
    along, across = (
        (module_type.width_m, module_type.length_m)
        if portrait
        else (module_type.length_m, module_type.width_m)
    )
    return along, across * math.cos(math.radians(tilt_deg))


def array_name(k: int) -> str:
    """Spreadsheet-style array name for the k-th array from 0: A … Z, AA, AB …"""
    name = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        name = chr(65 + r) + name
    return name


def module_id(array: str, row: int, index: int) -> str:
    """Stable module id, e.g. ``module_id("A", 3, 17) == "A-03-17"``."""
    return f"{array}-{row:02d}-{index:02d}"


def parse_module_id(text: str) -> tuple[str, int, int]:
    """Split ``A-03-17`` into (array, row, index).

    Raises
    ------
    ValueError
        If the text is not a module id.
    """
    match = _ID.match(text.strip())
    if not match:
        raise ValueError(f"not a module id (expected e.g. A-03-17): {text!r}")
    return match.group(1), int(match.group(2)), int(match.group(3))


def string_id(array: str, row: int, index: int, modules_per_string: int) -> str:
    """String of a module: consecutive ``modules_per_string`` modules of a row, ``A-03-S1``."""
    return f"{array}-{row:02d}-S{(index - 1) // modules_per_string + 1}"


def generate_layout(
    polygon: Sequence[Sequence[float]], params: LayoutParams | None = None, name: str = "plant"
) -> PlantLayout:
    """Fill a roof polygon with rows of modules.

    Rows are laid across the polygon from its edge on the right of the row direction (the south edge for
    east–west rows) at ``row_pitch_m``, with an extra ``walkway_m`` after every ``rows_per_array`` rows; each
    row holds as many modules as fit ``setback_m`` inside the outline (several runs where a concave outline
    cuts the row, numbered on). Modules whose footprint corners are not all inside at the setback are
    left out.

    Parameters
    ----------
    polygon : sequence of (lon, lat)
        Roof outline, WGS84 [°].
    params : LayoutParams, optional
        Module format, tilt, row direction, spacing; defaults as :class:`LayoutParams`.
    name : str
        Plant name.

    Returns
    -------
    PlantLayout

    Raises
    ------
    ValueError
        On an invalid polygon or parameters, or a roof too small for one module.
    """
    p = params or LayoutParams()
    ring = clean_ring(polygon)
    origin = local_frame(ring)
    xy = project(ring, origin)
    along, across = footprint(p.module_type, p.tilt_deg, p.portrait)
    pitch = p.row_pitch_m if p.row_pitch_m is not None else across / p.ground_coverage_ratio
    if not (pitch >= across and p.module_gap_m >= 0 and p.setback_m >= 0 and p.rows_per_array > 0):
        raise ValueError("row pitch must hold the module footprint; gaps, setback and rows per array ≥ 0")
    if p.modules_per_string <= 0:
        raise ValueError("modules per string must be positive")
    # rotate so that +u runs along the row and +v across it (to the row's left)
    uv = rotate(xy, p.row_azimuth_deg)
    vs = [v for _, v in uv]
    v0, v1 = min(vs) + p.setback_m + across / 2, max(vs) - p.setback_m - across / 2
    modules: list[Module] = []
    row_index, v = 0, v0
    while v <= v1 + 1e-9:
        array = array_name(row_index // p.rows_per_array)
        row = row_index % p.rows_per_array + 1
        centres = _row_centres(uv, v, along, across, p)
        kept = [(u, v) for u in centres if _fits(u, v, along, across, uv, p.setback_m)]
        if kept:
            for k, (x, y) in enumerate(unrotate(kept, p.row_azimuth_deg), start=1):
                modules.append(
                    Module(
                        module_id(array, row, k),
                        array,
                        row,
                        k,
                        string_id(array, row, k, p.modules_per_string),
                        x,
                        y,
                    )
                )
            row_index += 1
            v += pitch + (p.walkway_m if row_index % p.rows_per_array == 0 else 0.0)
        else:
            v += pitch / 4
    if not modules:
        raise ValueError("the roof is too small for a single module at this setback")
    return PlantLayout(
        name, tuple(ring), origin, p.module_type, p.tilt_deg, p.row_azimuth_deg, p.portrait, tuple(modules)
    )


def _row_centres(uv: Sequence[XY], v: float, along: float, across: float, p: LayoutParams) -> list[float]:
    """Module centres along one row [m], packed from the start of each inside run."""
    runs: list[tuple[float, float]] | None = None
    for dv in (-across / 2, 0.0, across / 2):
        xs = scanline_crossings(uv, v + dv)
        pieces = [(xs[i] + p.setback_m, xs[i + 1] - p.setback_m) for i in range(0, len(xs) - 1, 2)]
        runs = pieces if runs is None else _intersect(runs, pieces)
    step = along + p.module_gap_m
    centres: list[float] = []
    for a, b in runs or []:
        count = int((b - a + p.module_gap_m) // step)
        start = a + (b - a - (count * step - p.module_gap_m)) / 2 + along / 2
        centres.extend(start + i * step for i in range(count))
    return centres


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for a0, a1 in a:
        for b0, b1 in b:
            lo, hi = max(a0, b0), min(a1, b1)
            if hi > lo:
                out.append((lo, hi))
    return sorted(out)


def _fits(u: float, v: float, along: float, across: float, uv: Sequence[XY], setback: float) -> bool:
    corners = [(u + su * along / 2, v + sv * across / 2) for su in (-1, 1) for sv in (-1, 1)]
    return all(point_in_polygon(c, uv) and distance_to_boundary(c, uv) >= setback - 1e-6 for c in corners)


def neighbours(layout: PlantLayout, radius_m: float) -> list[npt.NDArray[np.intp]]:
    """Indices of the other modules whose centres lie within ``radius_m`` of each module [m].

    Uses a uniform grid of ``radius_m`` cells, so the cost grows with the number of modules, not its square.
    """
    if not radius_m > 0:
        raise ValueError("radius must be positive")
    centres = layout.centres_xy()
    keys = np.floor(centres / radius_m).astype(np.int64)
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, (kx, ky) in enumerate(keys.tolist()):
        buckets.setdefault((kx, ky), []).append(i)
    out: list[npt.NDArray[np.intp]] = [np.zeros(0, dtype=np.intp)] * len(centres)
    # one distance table per cell, between its modules and those of the nine cells around it
    for (kx, ky), members in buckets.items():
        near = [j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in buckets.get((kx + dx, ky + dy), [])]
        cand = np.array(near, dtype=np.intp)
        rows = np.array(members, dtype=np.intp)
        offsets = centres[cand][None, :, :] - centres[rows][:, None, :]
        close = (np.hypot(offsets[..., 0], offsets[..., 1]) <= radius_m) & (cand[None, :] != rows[:, None])
        for i, keep in zip(members, close, strict=True):
            out[i] = cand[keep]
    return out


def with_modules(layout: PlantLayout, modules: Sequence[Module]) -> PlantLayout:
    """A copy of ``layout`` holding ``modules`` instead (e.g. a subset)."""
    return replace(layout, modules=tuple(modules))
