"""Per-module thermal analysis of an inspection flight: statistics, ΔT, classes, severity, soiling.

Entry point: :func:`analyse_flight`, or frame by frame :class:`InspectionAccumulator` (``add(frame)`` as
frames arrive, ``result()`` at any time). Each frame is georeferenced onto the layout
(:mod:`.georef`), every module wholly inside it is resampled on its cell grid, and per view:

1. **Statistics**: median, 95th percentile and maximum temperature of the module [°C].
2. **Reference**: a quadratic surface fitted (robustly) to the medians of the modules in the frame removes
   vignetting, the frame's offset and the plant-wide gradient; the median of the neighbouring modules'
   residuals (within ``neighbour_radius_m``, other strings only, so that a dead string does not raise its
   own reference) gives the module's reference temperature. PV-Hawk-Viewer's "corrected temperature =
   module temperature − median of neighbouring modules within a radius" (``domain/pv.md`` §2).
3. **Class** of the view from the module's temperature map minus its reference, by the pattern rules of
   :func:`classify_crop` (cell-grid aware), or any :class:`ModuleClassifier` (a learned one can be
   combined with the rules through :class:`CombinedClassifier`).

Across views (one finding per module and class):

* **Sun-reflection filter**: a localised hot pattern must be seen in at least half of the module's views,
  at the same place on the module (within ``REFLECTION_MOVE``); a hot spot that vanishes or moves between
  views is a reflection (PV-Hawk-Viewer drops a patch whose maximum moves more than 10 px from the stable
  reference, ``domain/pv.md`` §2). Within a view, a warm patch broader than a cell with no edge as steep
  as a cell's border looks like a reflection: the view reports what the rest of the module shows when it
  shows anything, so that a defect beside a passing reflection keeps its place across the views. A
  pattern fewer views show still stands when none of them could hold a glint: the sun, worked out from
  each frame's time and place (:mod:`.glint`), is not mirrored by the module towards that camera, and the
  module's own statistics show the warmth (:func:`_alone`).
* **Strings**: three or more consecutive modules of one string all homogeneously warm are a string fault.
* ΔT is the median over the agreeing views; ΔTn = ΔT · 1000 / G when the irradiance G is known; severity
  ``S1``/``S2``/``S3`` and the class of abnormality (CoA) follow :mod:`.anomalies`. An inspection below 600
  W m-2 is flagged as not compliant with IEC TS 62446-3.
* **Soiling index** per module: the fraction of the module area at least 0.5 K warmer than its upper third
  (diffuse warm patches, heavier at the low edge); per zone (array) the mean over its modules. With a
  co-registered RGB frame, :func:`rgb_soiling_index` adds the visible brightening.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import cKDTree

from gongzhi.errors import msg
from gongzhi.modules.pv.analytics.aliases import MERGE_ALIASES, AliasTracker, end_alias
from gongzhi.modules.pv.analytics.anomalies import ISM_LABELS, Anomaly, class_of_abnormality, severity
from gongzhi.modules.pv.analytics.cameras import ThermalCamera
from gongzhi.modules.pv.analytics.frames import NO_DATA_PX, FrameMeta, ThermalFrame
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.georef import (
    MIN_MATCH_SCORE,
    FrameGeometry,
    ModuleIndex,
    ModuleRect,
    PlacementError,
    PoseFit,
    camera_and_height,
    frame_geometry,
    module_crops,
    module_crops_and_peaks,
    module_index,
    rect_crops,
    refine_pose,
    sample_offsets,
    segment_modules,
    thinned,
    visible_modules,
)
from gongzhi.modules.pv.analytics.glint import (
    glint_angles_deg,
    module_normal,
    no_glint,
    sun_vectors,
)
from gongzhi.modules.pv.analytics.layout import (
    MODULE_TYPES,
    SUBSTRINGS,
    ModuleType,
    PlantLayout,
    neighbours,
    row_axes,
)
from gongzhi.modules.pv.analytics.oblique import VIEW_OF, VIEW_PX_PER_SOURCE_PX, nadir_view, source_pixels

F32 = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]

IEC_MIN_IRRADIANCE_W_M2 = 600.0
"""Least plane-of-array irradiance for an IEC TS 62446-3 inspection of crystalline silicon [W m-2]."""
SAMPLES_PER_CELL = 4
"""Resampling of each module: samples across one cell [-]."""
SUN_REFLECTIONS_NOTE = msg(
    "sun reflections: the views that no glint could reach, by the sun from the frames' time and place, "
    "showed warm patches at one place from their cameras, as glints do; the plant's tilt and facing or the "
    "camera's clock may be wrong, and every pattern was put to the vote"
)
"""A flight's note (:attr:`InspectionResult.notes`) when the sun worked out from the frames does not explain
its glints (:meth:`InspectionAccumulator._stand_alone`); the O&M report warns of it too."""
POSITIONING: dict[str, bool | None] = {"auto": None, "rtk": False, "gnss": True}
"""How the modules a frame sees are named, by name → :class:`InspectionAccumulator`'s ``without_rtk``:
``rtk`` from the frames' positions (an RTK fix, to centimetres), ``gnss`` by fingerprints and the ends of
rows (:mod:`.aliases`, for positions a metre or two off), ``auto`` from positions until a frame's metadata
says its position is not an RTK fix (:attr:`.frames.FrameMeta.position_fixed`), then as ``gnss``."""
SCREEN_PEAK_K = 1.5
"""Least maximum above a map's median that makes the map suspicious (:func:`screen_and_classify`) [K]."""
EDGE_WINDOW = 9
"""Samples along a side of the running median that the warmth along the frame is measured from
(:func:`_edge_warmth`) [-]: more than twice a crack's sliver along the side (at most a cell, 4 samples,
and the optics' spread), short enough to follow a registration error's slow change along the side."""
SCREEN_WARM_SHARE = 0.75
"""The coarse screen's share of warm samples (:func:`_coarse_screen`), as a fraction of the full screen's:
the share of a thinned map's 288 interior samples scatters by about ±0.02 about the 0.11 of the full map's
interior, and a map the coarse screen lets pass never reaches the rules [-]."""
REFLECTION_MOVE = 0.12
"""Largest move of a hot pattern between views, as a fraction of the module's size, before it counts as a
reflection [-] (about one cell)."""
JUNCTION_BOX = (0.5, 0.92)
"""Junction box position on a portrait module, along the row and across it from the low edge [-]."""
SOILING_WARM_K = 0.5
"""Warmth above the module's upper third that counts towards the soiling index [K]."""
END_STEPS = 3
"""Times a frame's pose is weighed against the ends it sees, a pitch either way each time
(:func:`.aliases.end_alias`): a GPS error of up to 3 module pitches along the rows is set right by one frame
that sees a row's end [-]."""
END_EVERY = 6
"""Frames after one that settled a direction by its ends before the ends are weighed again in that
direction, while each frame links to the frames before as named [-]."""
BIAS_SMOOTHING = 0.1
"""Weight of each frame's pose correction in the running correction carried to the next frame [-]."""
SURFACE_INLIER_MAX_K = 2.0
"""Largest deviation of a module's median from the frame's fitted surface that can count as background
[K]. An open-circuit module or string is homogeneously 3 K and more warmer than its neighbours (PV-Hawk's
schema, ``domain/pv.md`` §2; the synthetic string 3–6 K): it must never be taken for background, while
the healthy modules' spread about a fitted surface is a few tenths of a kelvin, and about the first fit
(the middle of the densest half of the frame's module medians) the vignetting's 1.5 K at most."""
SURFACE_REACH_K = 0.5
"""Most the fitted surface may lie beyond its range over the fit's inliers, where it extrapolates to the
modules outside them [K]. When the inliers lie on one row of modules (a frame that sees two, one of them
an open string), the quadratic's terms across the rows are fitted to the jitter of the modules' positions
along that row (a yaw of a tenth of a degree) and, unbounded, reached tens or thousands of kelvin on the
other row (a synthetic oblique view read 10,000 K of warmth on a healthy row). The optics and the plant's
gradient, which the surface models, change less than this from the inliers to a module beside them."""
FRAME_LEVEL_WINDOW = 7
"""Frames, in flight order, over whose median reference level a frame's own is judged
(:func:`frame_level_shifts`) [-]."""

FRAME_LEVEL_REACH_M = 22.0
"""How far along the flight path, each way, a frame's neighbours reach at least (:func:`frame_level_shifts`)
[m]: the :data:`FRAME_LEVEL_WINDOW` frames about it span that much at the screening height (an image every
7.4 m), and a lower flight's closer images would otherwise span less. Flown at 16 m (an image every 4.3 m)
over a plant with two open strings two rows apart, four frames in a row saw mostly string and took its
level (seed 13 of the evaluation): seven frames about one of them were a majority of wrong levels, the
frames within 22 m are not."""

FRAME_LEVEL_MAX_K = 2.0
"""Largest departure of a frame's reference level (the median of its modules' references) from the median
of its :data:`FRAME_LEVEL_WINDOW` neighbours in flight order before the frame counts as having taken the
wrong level for its background [K]. Frames a second or two apart see the same roof at about the same
level: on the synthetic flights (the 44 × 30 m roof at every pitch, seeds 7–24; 80 × 50 m nadir, seeds
0–9; the 600-frame bench flight) a frame with the right level departs from its neighbours' median by at
most 1.3 K, and the frames that took an open string's level depart by 2.6–6.1 K."""

CELL_EDGE_STEP = 0.4
"""Least step between neighbouring samples at a whole hot cell's border, as a fraction of the cell's
excess [-]. A cell's warmth ends at its border, so at 5 px per cell (IEC screening) one sample's step
across it carries about 0.7 of the excess (the optics' spread; at least 0.48 in 99 % of the candidate
cells of the hot-cell modules of synthetic seeds 0–49), while a sun reflection, the sun's image spread by
the glass's texture over more than a cell, steps by about 0.2 of its excess (0.37 at most in 95 % of the
candidate cells on healthy modules, all reflections)."""
LINE_TURN_DEG = 1.0
"""Change of the logged yaw from a flight line's first frame that starts a new line [°]."""
LINE_YAW_FRAMES = 3
"""Frames of a flight line whose yaw is estimated in full before their mean is carried to the next [-]."""
LINE_SCORE_KEPT = 0.9
"""Least match score at a carried yaw, as a fraction of the mean score of the line's fully estimated
frames, for the carried yaw to stand [-]; below it the frame's yaw is estimated in full."""
CARRIED_SCORE_KEPT = 0.95
"""Least score of the peak a carried frame climbs to from the expected shift, as a fraction of the previous
carried frame's score, for the coarse match to be skipped [-]. The correlation of the module grid has
local maxima a few pixels along the row from its peak (the grid's sub-structure) that score about 0.9 of
it (0.89–0.91 on the bench flight), which a climb from an expected shift off by a quarter of a module can
end on; the peak itself scores at least 0.95 of the previous frame's in about 95 % of the bench flight's
carried frames, so this check (with the line's and the window's edge) sends 39 of its 504 such frames to the
coarse match, and with them all 18 such local maxima a climb alone ended on there."""
LINE_YAW_AGREES_DEG = 0.25
"""Largest difference of a full estimate from the carried yaw that keeps the line going [°]."""
FINE_MATCH_PX_PER_CELL = 4.5
"""Least size of a cell in a frame taken as it is (not an oblique frame's resampled nadir view), in the
camera's pixels along its side, from which a carried frame's match (a frame of a flight line at the line's
yaw, climbing from the running correction) is made at blocks of :data:`FINE_MATCH_BLOCK_PX` pixels instead
of 2 [px]. A step of the match costs about a quarter as much at blocks of 4.

The frames that estimate the yaw in full (a line's first, and any whose carried match falls short) stay at
blocks of 2: the half images' shifts that give the yaw, and the coarse match from a prior only as good as
the GPS, are surer at the finer blocks. ``scripts/pv/evaluate_synthetic.py``, seeds 0–9, false and missed
findings with every frame at blocks of 2 / carried frames at 4 / every frame at 4: 25 / 29 / 34 with the
log's errors doubled (``--gps-sigma 0.25 --yaw-sigma 0.5``), 297 / 304 / 315 with them five times the
default (0.5 m, 1°), 0 / 2 / 0 at the default errors (one crack called a hot spot; seeds 10–29: none
either way). A carried frame's score at blocks of 4 is held to the line's mark from its full estimates
at 2 (:data:`LINE_SCORE_KEPT`); on the bench flight as many frames fall back to a full estimate as before
(0.27 against 0.28 a frame). The precision of the refined poses, by the cell's size in pixels, is in
``bench/pv/match_blocks.py``'s table (bench/README.md): at 5 px per cell (the IEC screening resolution, the
plans' default) blocks of 4 are as precise as blocks of 2, at 7 px more precise, at 4 px clearly less;
the change is made half-way between 4 and 5."""
FINE_MATCH_BLOCK_PX = 4
"""Block size of a carried frame's match in frames of fine resolution (:data:`FINE_MATCH_PX_PER_CELL`)
[px]; 2 for the rest."""

_LOCAL_HOT = frozenset(
    {
        Anomaly.SINGLE_HOT_CELL,
        Anomaly.MULTIPLE_HOT_CELLS,
        Anomaly.HOT_SPOT,
        Anomaly.JUNCTION_BOX,
        Anomaly.CRACKING,
    }
)
_FAMILIES: Mapping[Anomaly, str] = {
    **dict.fromkeys(_LOCAL_HOT, "local"),
    Anomaly.SHADING: "cool",
    Anomaly.VEGETATION: "cool",
    Anomaly.SUBSTRING: "large",
    Anomaly.MODULE_OFFLINE: "large",
    Anomaly.STRING_OFFLINE: "large",
    Anomaly.SOILING: "soiling",
}


@dataclass(frozen=True, slots=True)
class ViewClass:
    """What one view of one module shows.

    Attributes
    ----------
    anomaly : Anomaly
        Pattern class.
    delta_t_k : float
        Temperature of the pattern minus the module's reference (negative for cool patterns) [K].
    location : (float, float) | None
        Where the pattern peaks on the module, along the row and across it from the low edge [0–1].
    confidence : float
        Classifier confidence [0–1].
    spot_cells : float | None
        For a localised hot pattern, its area at or above half its peak (over the module's median), within
        a cell's reach of the peak, in cells (:func:`_fill`); ``None`` for other classes.
    """

    anomaly: Anomaly
    delta_t_k: float
    location: tuple[float, float] | None = None
    confidence: float = 1.0
    spot_cells: float | None = None


NORMAL = ViewClass(Anomaly.NONE, 0.0)


class ModuleClassifier(Protocol):
    """Classifies module temperature maps minus their reference [K].

    ``residuals`` has shape (N, rows, cols): rows across the row from the high edge to the low edge,
    columns along it (:func:`.georef.module_crops`), ``cell_grid`` is (cells along, cells across) and
    ``portrait`` says whether the module's long side runs across the row.
    """

    def __call__(
        self, residuals: F32, cell_grid: tuple[int, int], samples_per_cell: int, portrait: bool
    ) -> list[ViewClass]: ...


@dataclass(frozen=True)
class RuleClassifier:
    """The pattern rules of :func:`classify_crop`, as a :class:`ModuleClassifier`; ``spread`` is
    :func:`classify_crop`'s (the accumulators give the maps of oblique frames :data:`OBLIQUE_SPREAD`)."""

    spread: float = 1.0

    def __call__(
        self,
        residuals: F32,
        cell_grid: tuple[int, int],
        samples_per_cell: int,
        portrait: bool,
        *,
        medians: F32 | None = None,
    ) -> list[ViewClass]:
        """``medians``, the maps' medians [K] when the caller has them (:func:`screen_and_classify`), spare
        each map's own (:func:`classify_crop`'s ``median``)."""
        s = self.spread
        if medians is None:
            return [classify_crop(r, cell_grid, samples_per_cell, portrait, spread=s) for r in residuals]
        return [
            classify_crop(r, cell_grid, samples_per_cell, portrait, median=m, spread=s)
            for r, m in zip(residuals, medians.tolist(), strict=True)
        ]


OBLIQUE_SPREAD = 1.4
"""How many times larger than in a nadir frame a point's image is, in area, on the maps of an oblique
frame's nadir view (:func:`classify_crop`'s ``spread``) [-]. That view samples the plane at its near edge's
spacing, and its rows grow up to :data:`.oblique.MAX_COARSENING` times coarser along the view towards the
far edge, and coarser across it too: a source pixel covers 1 to 2.4 of the view's pixels (mean 1.6) at
−60°, 1 to 1.7 (mean 1.3) at −75° (M3T, the plan's heights). One value for every map of such a view is a
compromise; 1.4 makes the hot spot's bounds a fill of 0.35 cells and a sharpness of 1.61. On the maps of
oblique photos-only flights (−60°, 44 × 30 m roof, seeds 0–11, 3 planted per class), 30 of the 50 hot-spot
views the nadir bounds read as cracks pass them, and 1 of 153 crack views. Chosen between 1.4 and 1.5 on
the evaluation at −60° (seeds 0–29; 1.5 turned three cracks into hot spots there without the plant);
``analytics/README.md`` gives the figures, −45° and −75° among them as a check."""


def _for_view(classifier: ModuleClassifier, *, oblique: bool) -> ModuleClassifier:
    """``classifier`` for the maps of a frame, with the rules' :data:`OBLIQUE_SPREAD` when the frame is an
    oblique one resampled onto the plane (a learned network's part is left as it is)."""
    if not oblique:
        return classifier
    if isinstance(classifier, RuleClassifier):
        return dataclasses.replace(classifier, spread=OBLIQUE_SPREAD)
    if isinstance(classifier, CombinedClassifier) and isinstance(classifier.rules, RuleClassifier):
        return dataclasses.replace(
            classifier, rules=dataclasses.replace(classifier.rules, spread=OBLIQUE_SPREAD)
        )
    return classifier


@dataclass(frozen=True, slots=True)
class CombinedClassifier:
    """The rules, overruled by a learned crop classifier where it is confident.

    The rules decide whether a module is abnormal and keep the classes a single crop cannot show (string,
    junction box); where they find another anomaly and ``learned`` names a different anomaly class with at
    least ``min_confidence``, the learned class wins. ``learned`` is any :class:`ModuleClassifier`, e.g.
    :func:`learned_classifier` around ``classifier.classify`` of the InfraredSolarModules network.
    """

    learned: ModuleClassifier
    rules: ModuleClassifier = field(default_factory=RuleClassifier)
    min_confidence: float = 0.8

    @property
    def note(self) -> str:
        """What a flight's summary says of its classes (:attr:`InspectionResult.notes`)."""
        return msg(
            "classes: the rules, overruled where the learned crop classifier is at least %(confidence)s "
            "confident of another anomaly",
            confidence=format(self.min_confidence, ".2f"),
        )

    def __call__(
        self, residuals: F32, cell_grid: tuple[int, int], samples_per_cell: int, portrait: bool
    ) -> list[ViewClass]:
        ruled = self.rules(residuals, cell_grid, samples_per_cell, portrait)
        suspects = [i for i, v in enumerate(ruled) if v.anomaly not in (Anomaly.NONE, Anomaly.JUNCTION_BOX)]
        if not suspects:
            return ruled
        learned = self.learned(residuals[suspects], cell_grid, samples_per_cell, portrait)
        out = list(ruled)
        for i, v in zip(suspects, learned, strict=True):
            if v.anomaly is not Anomaly.NONE and v.confidence >= self.min_confidence:
                # the rules' spot stays only with a name that is a localised hot pattern too
                spot = ruled[i].spot_cells if v.anomaly in _LOCAL_HOT else None
                out[i] = ViewClass(v.anomaly, ruled[i].delta_t_k, ruled[i].location, v.confidence, spot)
        return out


def learned_classifier(
    predict: Callable[[npt.NDArray[np.uint8]], tuple[Sequence[str], Sequence[float]]],
    labels: Mapping[str, Anomaly],
    shape: tuple[int, int] = (40, 24),
    levels_per_k: float | None = None,
) -> ModuleClassifier:
    """Adapt a crop classifier on 8-bit portrait intensity crops (InfraredSolarModules style).

    Parameters
    ----------
    predict : callable
        Takes uint8 crops of shape (N, *shape) and returns (labels, confidences).
    labels : mapping
        Classifier label → anomaly class, e.g. :data:`.anomalies.ISM_LABELS`.
    shape : (int, int)
        Rows × columns the classifier takes [px].
    levels_per_k : float, optional
        Put the crops on one fixed scale, this many 8-bit levels a kelvin about
        :data:`ISM_NOMINAL_LEVEL` (:func:`intensity_crop`), for a classifier that reads how warm a module
        is (the shipped network's intensity channel); by default each crop is stretched to 0–255.

    The adapter pickles (a process pool's workers, a cluster's tasks) when ``predict`` does.
    """
    return LearnedClassifier(predict, labels, shape, levels_per_k)


@dataclass(frozen=True)
class LearnedClassifier:
    """A crop classifier on 8-bit portrait intensity crops as a :class:`ModuleClassifier`
    (:func:`learned_classifier`)."""

    predict: Callable[[npt.NDArray[np.uint8]], tuple[Sequence[str], Sequence[float]]]
    labels: Mapping[str, Anomaly]
    shape: tuple[int, int] = (40, 24)
    levels_per_k: float | None = None

    def __post_init__(self) -> None:
        # a plain dict: a read-only view (:data:`.anomalies.ISM_LABELS`) does not pickle
        object.__setattr__(self, "labels", dict(self.labels))

    def __call__(
        self, residuals: F32, cell_grid: tuple[int, int], samples_per_cell: int, portrait: bool
    ) -> list[ViewClass]:
        if not len(residuals):
            return []
        crops = np.stack([intensity_crop(r, portrait, self.shape, self.levels_per_k) for r in residuals])
        names, confidence = self.predict(crops)
        return [
            ViewClass(self.labels.get(n, Anomaly.NONE), 0.0, None, float(c))
            for n, c in zip(names, confidence, strict=True)
        ]


@dataclass(frozen=True, eq=False)
class NetworkPredict:
    """``predict`` of :func:`learned_classifier` by a :class:`.classifier.CropClassifier`: ``model``, or the
    shipped network when ``None``, which is then loaded in each process that uses it rather than pickled
    with the classifier (4.4 MB).

    Two are equal when they run the same network object (or both the shipped one): a network's arrays are
    not compared, which numpy cannot do with ``==`` (an accumulator compares its template's classifier
    with the one it is asked for)."""

    model: Any = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NetworkPredict) and self.model is other.model

    def __hash__(self) -> int:
        return hash(id(self.model))

    def __call__(self, crops: npt.NDArray[np.uint8]) -> tuple[Sequence[str], Sequence[float]]:
        from gongzhi.modules.pv.analytics import classifier as clf

        result = (self.model if self.model is not None else clf.default_model()).classify(crops)
        return result.labels, result.confidence.tolist()


def ism_classifier(
    min_confidence: float = 0.8, levels_per_k: float | None = None, model: Any = None
) -> CombinedClassifier:
    """The rules, overruled where it is confident by the shipped InfraredSolarModules network
    (:mod:`.classifier`, or ``model``, a :class:`.classifier.CropClassifier`).

    A network that reads how warm a module is (an intensity channel) gets its crops on one fixed scale,
    ``levels_per_k`` 8-bit levels a kelvin (default :data:`ISM_LEVELS_PER_K`); one that does not gets each
    crop stretched to 0–255. The network is loaded here, not when this module is imported.
    """
    from gongzhi.modules.pv.analytics import classifier as clf

    net = model if model is not None else clf.default_model()
    scale = (ISM_LEVELS_PER_K if levels_per_k is None else levels_per_k) if net.intensity_channel else None
    learned = learned_classifier(NetworkPredict(model), ISM_LABELS, clf.INPUT_SHAPE, scale)
    return CombinedClassifier(learned, min_confidence=min_confidence)


ISM_NOMINAL_LEVEL = 158.0
"""8-bit level of a healthy module on the fixed scale of :func:`intensity_crop` (a residual of 0 K): the
median of the InfraredSolarModules No-Anomaly crops' mean intensities (157.7 over the 8,000 of the
training split)."""


ISM_LEVELS_PER_K = 5.0
"""8-bit levels a kelvin of the fixed scale the shipped network's crops are put on (:func:`ism_classifier`).

The data set's crops carry no temperatures, so the scale is estimated: its Offline-Module crops are 18.7
levels warmer than its No-Anomaly crops (medians of their means), and an open-circuit module is
homogeneously 3–5 K warmer than its neighbours (the PV-Hawk defect schema's ``Mh``, > 3 K; a string open
3–5 K): about 4–6 levels a kelvin. The synthetic flights cannot settle it: the fewer levels a kelvin, the
less contrast the network sees and the less often it is confident enough to overrule the rules, which are
right on those flights (``scripts/pv/evaluate_synthetic.py --learned --levels-per-k K``; the analytics
README gives the figures)."""


def intensity_crop(
    residual: F32, portrait: bool, shape: tuple[int, int] = (40, 24), levels_per_k: float | None = None
) -> npt.NDArray[np.uint8]:
    """A module map as an 8-bit portrait intensity crop (bilinear resize): min–max stretched, or with
    ``levels_per_k`` on one fixed scale, ``ISM_NOMINAL_LEVEL + residual · levels_per_k`` clipped to 0–255,
    so that a uniformly warm module stays warmer than a healthy one."""
    r = residual if portrait else np.rot90(residual)
    scaled: npt.NDArray[np.floating[Any]]
    if levels_per_k is not None:
        scaled = ISM_NOMINAL_LEVEL + np.asarray(r, dtype=np.float64) * levels_per_k
    else:
        lo, hi = float(r.min()), float(r.max())
        scaled = (r - lo) / max(hi - lo, 1e-6) * 255
    zoom = (shape[0] / r.shape[0], shape[1] / r.shape[1])
    out = ndimage.zoom(scaled, zoom, order=1)[: shape[0], : shape[1]]
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)


def classify_crop(
    residual: F32,
    cell_grid: tuple[int, int],
    samples_per_cell: int,
    portrait: bool,
    *,
    median: float | None = None,
    spread: float = 1.0,
) -> ViewClass:
    """Classify one module's temperature map minus its reference by pattern rules.

    Parameters
    ----------
    residual : ndarray, shape (rows, cols)
        Module temperature minus its neighbours' reference [K], on the cell grid: rows across the row from
        the high edge, columns along it, ``samples_per_cell`` samples per cell each way.
    cell_grid : (int, int)
        Cells along × across the row.
    samples_per_cell : int
        Samples per cell [-].
    portrait : bool
        Long side across the row (the bypass-diode substrings then split the columns).
    median : float, optional
        The map's median [K] when the caller has it (:func:`screen_and_classify` of maps whose ring holds
        their interior's median); used when finite and not zero (:func:`_median_given`), else computed.
    spread : float
        How many times larger than in a nadir frame a point's image is on the map [-]: the hot spot's
        bounds on the area at half its peak (``fill``) grow by it and on the peak's sharpness shrink by its
        square root (:data:`OBLIQUE_SPREAD`).

    Returns
    -------
    ViewClass
        In order of the rules: whole module warm (``module_offline``), one or two thirds warm
        (``substring``), cool region (``shading`` when it is straight-edged across the whole low edge, else
        ``vegetation``), a small steep peak (``junction_box`` at the box, else ``hot_spot``), whole warm
        cells (``single_hot_cell`` / ``multiple_hot_cells``), diffuse warmth heavier at the low edge or
        along it (``soiling``), part of one cell warm (``cracking``). When the hottest patch looks like a
        sun reflection (:func:`_looks_reflected`), the rules first classify the map without it and report
        that class unless it is ``none``.
    """
    return _classify_compiled(residual, cell_grid, samples_per_cell, portrait, _median_given(median), spread)


def _classify_compiled(
    residual: F32, cell_grid: tuple[int, int], k: int, portrait: bool, median: float | None, spread: float
) -> ViewClass:
    """:func:`_classify` of a map with no reflection known yet, by its compiled form
    (:func:`.kernels.classify_map`) where it can take the map: float32, ``k`` samples a cell, at least 3
    cells and 8 samples each way (a third of the cells is then never empty), and no value NaN, infinite or
    beyond :data:`.kernels.RULES_LARGEST` in size. The Python rules decide the rest, and the maps whose
    reflections nest deeper than the kernel keeps. On the bench flight's 991 suspicious maps the rules took
    about 250 µs a map in Python, the kernel 45 µs."""
    from gongzhi.modules.pv.analytics import kernels

    cu, cv = cell_grid
    if (
        residual.dtype != np.float32
        or residual.shape != (cv * k, cu * k)
        or min(residual.shape) < 8
        or min(cell_grid) < 3
    ):
        return _classify(residual, cell_grid, k, portrait, None, median=median, spread=spread)
    rows, cols = residual.shape
    cool = np.empty((rows, cols), dtype=bool)
    info = np.empty(4, dtype=np.float64)
    box = JUNCTION_BOX if portrait else (JUNCTION_BOX[1], JUNCTION_BOX[0])
    code = kernels.classify_map(
        np.ascontiguousarray(residual), cu, cv, k, portrait, math.nan if median is None else median, spread,
        _near_box(rows, cols, box), np.array(box, dtype=np.float64), CELL_EDGE_STEP, cool, info,
    )  # fmt: skip
    if code == kernels.RULES_PUNT:
        return _classify(residual, cell_grid, k, portrait, None, median=median, spread=spread)
    if code == kernels.RULES_NONE:
        return NORMAL
    if code == kernels.RULES_COOL:
        return ViewClass(_cool_class(cool), float(info[0]))
    anomaly = _compiled_classes()[code]
    if anomaly in (Anomaly.MODULE_OFFLINE, Anomaly.SUBSTRING, Anomaly.SOILING):
        return ViewClass(anomaly, float(info[0]))
    return ViewClass(anomaly, float(info[0]), (float(info[1]), float(info[2])), spot_cells=float(info[3]))


@lru_cache(maxsize=1)
def _compiled_classes() -> dict[int, Anomaly]:
    """The classes :func:`.kernels.classify_map`'s codes stand for."""
    from gongzhi.modules.pv.analytics import kernels

    return {
        kernels.RULES_OFFLINE: Anomaly.MODULE_OFFLINE,
        kernels.RULES_SUBSTRING: Anomaly.SUBSTRING,
        kernels.RULES_BOX: Anomaly.JUNCTION_BOX,
        kernels.RULES_HOT_SPOT: Anomaly.HOT_SPOT,
        kernels.RULES_HOT_CELL: Anomaly.SINGLE_HOT_CELL,
        kernels.RULES_HOT_CELLS: Anomaly.MULTIPLE_HOT_CELLS,
        kernels.RULES_SOILING: Anomaly.SOILING,
        kernels.RULES_CRACKING: Anomaly.CRACKING,
    }


@lru_cache(maxsize=8)
def _near_box(rows: int, cols: int, box: tuple[float, float]) -> npt.NDArray[np.bool_]:
    """Which samples of a rows × cols map lie within 0.1 of the junction box at ``box`` (along the row and
    across it from the low edge [0–1]), as :func:`_classify` measures the peak's distance to it."""
    near = np.zeros((rows, cols), dtype=bool)
    for r in range(rows):
        for c in range(cols):
            near[r, c] = math.hypot((c + 0.5) / cols - box[0], 1 - (r + 0.5) / rows - box[1]) < 0.1
    return near


# below this a float32 doubled stays finite (the mean of two copies of it is itself)
_TWICE_FINITE = 1e38


def _median_given(median: float | None) -> float | None:
    """A map's median from the caller when it is also kept (:func:`_median_kept`) and its sign is sure:
    finite and not zero.

    The medians :func:`screen_and_classify` has are the interiors' (:func:`_flatten_ring`) of maps whose
    ring holds that median (140 of 1,152 samples on the cell grid): at most half the interior lies below
    it and at most half above, so with at least four copies in the ring the whole map's middle ranks hold
    it, and their mean, the map's median, is it bit for bit, and kept; one ring sample set above it
    (:func:`_edge_to_ring`) leaves enough.
    A zero's sign could differ from that of a zero of the interior that lands on a middle rank, and the
    mean of two copies of a float32 beyond :data:`_TWICE_FINITE` overflows."""
    return median if median is not None and 0 < abs(median) < _TWICE_FINITE else None


def _classify(
    residual: F32,
    cell_grid: tuple[int, int],
    k: int,
    portrait: bool,
    known_median: float | None,
    median: float | None = None,
    spread: float = 1.0,
) -> ViewClass:
    """:func:`classify_crop`; ``known_median`` is the median of the map this one is the rest of
    (:func:`_without` the warm patch, of a map that went through the rules to the reflection check) when
    setting samples to it keeps it the median (:func:`_median_kept`), else ``None``; ``median`` is this
    map's own median, kept, from the caller (:func:`_median_given`), else ``None``.

    The rest of a map is classified again (on frames 300–449 of the bench flight, 119 of the 393 maps the
    rules see: sun reflections, whose rest showed nothing in each), and its median is then that median; and
    where that median is not below the cool mark, the rest has no cool sample the map had not, and the cool
    region's rule, which did not fire on the map, cannot fire on the rest either.
    """
    cu, cv = cell_grid
    rows, cols = residual.shape
    given = known_median if known_median is not None else median
    m, kept = (given, True) if given is not None else _median_kept(residual)
    cells, thirds = _cell_and_third_means(residual, cell_grid, k, portrait)
    if thirds.min() >= 2.0 and thirds.max() - thirds.min() < 1.5 and _percentile(cells, 10) >= 1.5:
        return ViewClass(Anomaly.MODULE_OFFLINE, m)
    cool_third = float(thirds.min())
    split = _thirds(cu if portrait else cv)
    warm = [
        i
        for i in range(SUBSTRINGS)
        if thirds[i] - cool_third >= 2.0
        and _percentile(cells[:, split[i]] if portrait else cells[split[i]], 10) - cool_third >= 1.5
    ]
    if 1 <= len(warm) < SUBSTRINGS:
        return ViewClass(Anomaly.SUBSTRING, float(np.mean(thirds[warm])))

    if known_median is None or m < -2.0:
        cool = residual < COOL_MARK_K
        # next to the frame: the optics and a registration error of a sample let its cold in
        cool[1] = cool[-2] = False
        cool[:, 1] = cool[:, -2] = False
        if np.count_nonzero(cool) >= 3 * k and np.count_nonzero(_inward(cool)) >= 3 * k:
            return ViewClass(_cool_class(cool), float(residual.min()))

    # np.unravel_index's np.intp pair without its set-up
    r, c = (np.intp(i) for i in divmod(int(residual.argmax()), cols))
    peak = float(residual[r, c]) - m
    location = ((c + 0.5) / cols, 1 - (r + 0.5) / rows)
    glass = _glass(residual)
    fill = _fill(glass, int(r), int(c), k, m + 0.5 * peak)
    if _looks_reflected(glass, int(r), int(c), k, peak, fill):
        # what else the module shows, in place across views where the reflection moves
        rest = _classify(
            _without(residual, glass, int(r), int(c), m, peak),
            cell_grid,
            k,
            portrait,
            m if kept else None,
            spread=spread,
        )
        if rest.anomaly is not Anomaly.NONE:
            return rest
    # the junction box's and the hot spot's rules ask for a peak of 4 K at least (7 K for a hot spot that
    # is not sharp): the sharpness only then
    if peak >= 4.0:
        jb = JUNCTION_BOX if portrait else (JUNCTION_BOX[1], JUNCTION_BOX[0])
        # sharpness: the peak over the mean of its 3 × 3 samples; a whole hot cell is flat (about 1.1), the
        # junction box's spot rounded (1.3–1.5), a hot spot steep (2 and more)
        around = glass[max(int(r) - 1, 0) : int(r) + 2, max(int(c) - 1, 0) : int(c) + 2] - m
        sharpness = peak / max(float(_mean(around)), 1e-6)
        near_box = math.hypot(location[0] - jb[0], location[1] - jb[1]) < 0.1
        if near_box and sharpness >= 1.3 and _spans_box(glass, int(r), int(c), jb, portrait, m + 0.5 * peak):
            return ViewClass(Anomaly.JUNCTION_BOX, float(residual.max()), location, spot_cells=fill)
        if (fill <= 0.25 * spread and sharpness >= 1.9 / math.sqrt(spread)) or (peak >= 7.0 and fill < 0.45):
            return ViewClass(Anomaly.HOT_SPOT, float(residual.max()), location, spot_cells=fill)

    hot_cells = _hot_cells(glass, _cell_means(glass, cell_grid, k), k)
    if hot_cells:
        kind = Anomaly.SINGLE_HOT_CELL if hot_cells == 1 else Anomaly.MULTIPLE_HOT_CELLS
        return ViewClass(kind, float(residual.max()), location, spot_cells=fill)

    top = _median(residual[: rows // 3])
    warm_fraction = np.count_nonzero(residual - top > SOILING_WARM_K) / residual.size
    low_heavy = float(_mean(residual[2 * rows // 3 :])) - float(_mean(residual[: rows // 3]))
    if warm_fraction >= 0.12 and (low_heavy >= 0.25 or _dust_band(glass, k, top) >= 0.9):
        return ViewClass(Anomaly.SOILING, _percentile(residual, 95) - top)
    # what is left warm and smaller than a cell is a part of one: at most half a cell is cracked off, but
    # the pixels and the optics can spread it over three rows of samples and across the cell's edge
    # (fill 0.7–0.8 and no whole hot cell), which a bound at 0.7 reported as nothing
    if peak >= 1.5 and fill < 1.0:
        return ViewClass(Anomaly.CRACKING, float(residual.max()), location, spot_cells=fill)
    return NORMAL


def _dust_band(glass: F32, k: int, top: float) -> float:
    """Fraction of the module's width over which its lowest row of cells is ``SOILING_WARM_K`` warmer than
    the upper third's median ``top`` [-].

    Dust collects along the low edge, where the rain runs off the glass, so a soiled module is warm along
    that edge across its width even where its patches lie higher up.
    """
    # the median over the cell's rows of samples: a registration error of a sample lets the cold gap between
    # the rows into the outermost one, which pulled the mean of a dusty edge below the mark (seed 85)
    band = np.median(glass[-k - 1 : -1], axis=0)[1:-1] - top
    return np.count_nonzero(band >= SOILING_WARM_K) / band.size


def _looks_reflected(glass: F32, r: int, c: int, k: int, peak: float, fill: float) -> bool:
    """Whether the warm patch at sample (r, c) looks like a sun reflection: warm enough for a hot cell
    (``peak`` ≥ 3 K over the map's median), more than a cell in area at half its height (``fill`` ≥ 1), with
    no edge within a cell's reach as steep as a cell's border (:data:`CELL_EDGE_STEP`), and not reaching
    across the module at half its height (:func:`_spans_module`)."""
    if peak < 3.0 or fill < 1.0:
        return False
    if _steepest(glass[max(r - k, 0) : r + k + 1, max(c - k, 0) : c + k + 1]) >= CELL_EDGE_STEP * peak:
        return False
    return not _spans_module(glass, r, c, float(glass[r, c]) - 0.5 * peak)


def _spans_module(glass: F32, r: int, c: int, level: float) -> bool:
    """Whether the warm patch through sample (r, c), at or above ``level`` [K], reaches from one edge of the
    module's glass to the opposite one.

    A sun reflection is the sun's image spread by the glass's texture, about 0.3 m across at half its
    height, smaller than a module's short side (about 1 m); warmth that spans the module, such as soiling's
    dust along the low edge, is no reflection (seed 85: taken for one, the soiling's warmth was removed and
    what was left at the module's side read as a crack).
    """
    patch = _patch_through(glass >= level, r, c)
    across, along = np.any(patch, axis=1), np.any(patch, axis=0)
    return bool((across[1] and across[-2]) or (along[1] and along[-2]))


def _without(residual: F32, glass: F32, r: int, c: int, m: float, peak: float) -> F32:
    """The map with the warm patch through sample (r, c) (down to a tenth of its height, and one sample
    around it) set to the median ``m``."""
    patch = _patch_through(glass >= m + 0.1 * peak, r, c)
    grown = patch.copy()
    grown[1:] |= patch[:-1]
    grown[:-1] |= patch[1:]
    grown[:, 1:] |= patch[:, :-1]
    grown[:, :-1] |= patch[:, 1:]
    out = residual.copy()
    out[grown] = m
    return out


def _spans_box(glass: F32, r: int, c: int, box: tuple[float, float], portrait: bool, level: float) -> bool:
    """Whether the warmth through the peak reaches ``level`` on both sides of the junction box's axis.

    The box (at ``box``, along the row and across it from the low edge [0–1]) sits on the module's long
    axis, half-way across its short side (along the row in portrait), and its heat spreads through the
    laminate to both sides of it, whatever the cells beneath. A cracked part of a cell beside the box
    stays inside its cell: beyond the cell's edge, on the box's other side, it is below half its peak.
    """
    rows, cols = glass.shape
    if portrait:
        axis = box[0] * cols
        sides = [glass[r, min(max(math.floor(axis + d), 0), cols - 1)] for d in (-0.5, 0.5)]
    else:
        axis = (1 - box[1]) * rows
        sides = [glass[min(max(math.floor(axis + d), 0), rows - 1), c] for d in (-0.5, 0.5)]
    return bool(min(sides) >= level)


def _patch_through(mask: npt.NDArray[np.bool_], r: int, c: int) -> npt.NDArray[np.bool_]:
    """The samples of ``mask`` connected to sample (r, c) through shared sides (``ndimage.label``'s patches;
    outside the mask, the samples outside it), filled from (r, c) by a compiled loop: labelling every patch
    cost more than the rest of the reflection check."""
    from gongzhi.modules.pv.analytics import kernels

    out = np.empty(mask.shape, dtype=bool)
    kernels.patch_through(np.ascontiguousarray(mask), r, c, out)
    return out


def _glass(residual: F32) -> F32:
    """The map with its outermost samples continued from the glass next to them, for the rules of cell
    patterns.

    The outermost samples lie on the module's aluminium frame and hold the map's median
    (:func:`_flatten_ring`): counted as part of a cell at the module's edge, they made a whole hot cell
    there look a quarter smaller and cooler (a crack, or nothing) and, at a corner, as small and steep as
    a hot spot; a crack beside the frame looked steep too. The cell goes on under the frame's edge, and
    so does the pattern on it.
    """
    # np.pad(residual[1:-1, 1:-1], 1, mode="edge") without its set-up, which cost more than the copy
    glass = residual.copy()
    glass[0], glass[-1] = glass[1], glass[-2]
    glass[:, 0], glass[:, -1] = glass[:, 1], glass[:, -2]
    return glass


def _hot_cells(residual: F32, cells: F32, k: int) -> int:
    """Cells whole-warm (≥ 3 K over the module's cells, ≥ 2 K over their neighbours, filled ≥ 55 %).

    ``residual`` is the map continued under the frame (:func:`_glass`). A whole cell's warmth ends at the
    cell's border, so where the map holds cells edged as steeply as the optics render a border, a
    soft-edged patch beside them is not one of them (its steepest step, a sun reflection on the glass).
    A cell warm over at most one row or column of its own samples beside a cell warm over more of its own
    is that cell's warmth moved across the border by a registration error of a sample.
    """
    from gongzhi.modules.pv.analytics import kernels

    # in one compiled call (its numpy form is in the tests): about 25 numpy calls a candidate cost 50–150 µs
    glass = np.ascontiguousarray(residual, dtype=np.float32)
    return int(kernels.hot_cells(glass, np.ascontiguousarray(cells, dtype=np.float32), k, CELL_EDGE_STEP))


def _steepest(window: F32) -> float:
    """The largest step between neighbouring samples of ``window``, along either axis [K]."""
    # np.diff's differences without its set-up
    down, across = window[1:] - window[:-1], window[:, 1:] - window[:, :-1]
    return max(float(np.abs(down).max()), float(np.abs(across).max()))


def _fill(residual: F32, r: int, c: int, k: int, level: float) -> float:
    """Area at or above ``level`` within one cell's reach of sample (r, c), in cells [-].

    Counting around the peak rather than inside the cell grid keeps the measure independent of a
    registration error of a sample or two: a whole hot cell gives about 1, a cracked part of a cell about
    0.4, a hot spot 0.1–0.2. ``residual`` is the map continued under the frame (:func:`_glass`).
    """
    window = residual[max(r - k, 0) : r + k + 1, max(c - k, 0) : c + k + 1]
    return float(np.count_nonzero(window >= level)) / (k * k)


def _inward(cool: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The cool samples less those of the second ring from the frame whose inward neighbour is not cool.

    A registration error of a sample or two puts the cold gap between the rows on the outermost samples of
    glass and the optics spread it to the next ones: a cool band along an edge that goes no further in.
    Shade and vegetation reach in from the edge.
    """
    out = cool.copy()
    out[2, :] &= cool[3, :]
    out[-3, :] &= cool[-4, :]
    out[:, 2] &= cool[:, 3]
    out[:, -3] &= cool[:, -4]
    return out


def _cool_class(cool: npt.NDArray[np.bool_]) -> Anomaly:
    """Shading if the cool region spans the low edge with a straight top, else vegetation."""
    rows = cool.shape[0]
    low_edge = cool[-4:-2, 2:-2].any(axis=0)
    if low_edge.mean() < 0.9:
        return Anomaly.VEGETATION
    inner = cool[:-2, 2:-2]
    heights = np.array(
        [float(np.argmax(~col[::-1])) if not col.all() else float(len(col)) for col in inner.T]
    )
    x = np.arange(inner.shape[1], dtype=float)
    fit = np.polyval(np.polyfit(x, heights, 1), x)
    return (
        Anomaly.SHADING if float(np.sqrt(np.mean((heights - fit) ** 2))) < 0.06 * rows else Anomaly.VEGETATION
    )


def soiling_index(residual: F32) -> float:
    """Fraction of a module's area at least ``SOILING_WARM_K`` warmer than its upper third [0–1]."""
    return float(soiling_indices(residual[None])[0])


def soiling_indices(residuals: F32) -> FloatArray:
    """:func:`soiling_index` of a stack of module maps, shape (N, rows, cols) → (N,)."""
    from gongzhi.modules.pv.analytics import kernels

    n, rows = residuals.shape[:2]
    top = row_medians(residuals[:, : max(1, rows // 3)].reshape(n, -1))
    out = np.empty(n, dtype=np.float64)
    kernels.warm_fractions(np.ascontiguousarray(residuals, dtype=np.float32), top, SOILING_WARM_K, out)
    return out


RGB_SOILED_SHARE = 0.25
"""How much brighter than the clean modules' luma a visible sample must be to count as soiled, as a share
of that luma [-]; at least :data:`RGB_SOILED_LEVELS`."""
RGB_SOILED_LEVELS = 10.0
"""The least brightening that counts as soiled [luma levels of 255]: above a JPEG's noise and banding."""
RGB_GLINT_LUMA = 250.0
"""Luma at which a visible sample is taken as the sun's glint (clipped), left out of the index [0–255]."""
RGB_GREEN_EXCESS = 15.0
"""How far green may stand above both red and blue in a sample that counts as soiled [levels of 255]:
leaves and grass over a module are vegetation (a class of their own), not dirt; dust, sand, pollen and
droppings are grey, brown, yellow or white."""
RGB_CLEAN_QUANTILE = 25.0
"""Which percentile of a frame's module lumas is its clean reference: the frame's cleanest quarter."""


def rgb_soiling_index(rgb: npt.NDArray[np.uint8], clean_luma: float | None = None) -> float:
    """Visible soiling of a module crop [0–1]: the share of it brighter than a clean module.

    Seen from above, a clean module is dark (cells under anti-reflective glass); dust, sand, pollen and
    bird droppings scatter light back and brighten it. A sample counts as soiled when its luma (ITU-R
    BT.601) is at least :data:`RGB_SOILED_SHARE` (and :data:`RGB_SOILED_LEVELS`) above ``clean_luma``
    and it is not green (:data:`RGB_GREEN_EXCESS`); clipped samples (the sun's glint,
    :data:`RGB_GLINT_LUMA`) are left out.

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3)
        Co-registered visible crop of the module (its inner part: no aluminium frame).
    clean_luma : float, optional
        Luma of clean modules in the same photo [0–255]; default the crop's 10th percentile.
    """
    luma, green = luma_and_green(rgb)
    ref = clean_luma if clean_luma is not None else float(np.percentile(luma, 10))
    return float(rgb_soiling_indices(luma.ravel()[None], ref, green.ravel()[None])[0])


def luma_and_green(rgb: npt.NDArray[np.uint8]) -> tuple[F32, F32]:
    """An RGB raster's luma (ITU-R BT.601) and green excess (green less the larger of red and blue)."""
    channels = rgb[..., :3].astype(np.float32)
    luma = channels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    green = channels[..., 1] - np.maximum(channels[..., 0], channels[..., 2])
    return luma.astype(np.float32), green.astype(np.float32)


def rgb_soiling_indices(luma: FloatArray | F32, clean_luma: float, green: FloatArray | F32) -> FloatArray:
    """:func:`rgb_soiling_index` of a stack of modules' samples (luma and green excess, shape
    (N, samples)) → (N,); a module whose every sample is clipped gets NaN."""
    threshold = clean_luma + max(RGB_SOILED_LEVELS, RGB_SOILED_SHARE * clean_luma)
    valid = luma < RGB_GLINT_LUMA
    soiled = (luma >= threshold) & valid & (green < RGB_GREEN_EXCESS)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, soiled.sum(axis=1) / n, np.nan)


# not frozen: a frozen dataclass sets each field through object.__setattr__, which makes building one
# cost about seven times the CPU, and a flight builds one a module (17,000 on a 50,000 m² roof)
@dataclass(slots=True)
class ModuleResult:
    """What the inspection measured on one module (every module seen, normal or not).

    Attributes
    ----------
    module_id : str
        Module id.
    frames_seen : int
        Views the statistics come from [-].
    t_median_c, t_p95_c, t_max_c : float
        Median over views of the module's median, 95th percentile and maximum [°C].
    t_corrected_k : float
        Median over views of the module's median minus its neighbours' reference [K].
    soiling_index : float
        :func:`soiling_index`, median over views [0–1].
    lon, lat : float
        Module centre [°].
    rgb_soiling_index : float | None
        :func:`rgb_soiling_index` against the cleanest quarter of the modules in the same photo, median
        over the views with a co-registered visible raster (same size as the thermal one) [0–1]; ``None``
        without one.
    """

    module_id: str
    frames_seen: int
    t_median_c: float
    t_p95_c: float
    t_max_c: float
    t_corrected_k: float
    soiling_index: float
    lon: float
    lat: float
    rgb_soiling_index: float | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One anomaly on one module, merged over the frames that saw it.

    Attributes
    ----------
    module_id : str
        Module id.
    anomaly_class : Anomaly
        Pattern class.
    delta_t_k : float
        ΔT measured, median over the agreeing views (negative for cool patterns) [K].
    delta_tn_k : float | None
        ΔT normalised to 1000 W m-2 [K].
    t_max_c : float
        Module maximum temperature [°C].
    severity : str
        ``S1``, ``S2`` or ``S3`` on ΔTn (ΔT without irradiance).
    coa : int
        Class of abnormality, 2 or 3.
    frames_seen : int
        Views of the module [-].
    confidence : float
        Share of the views that agree [0–1].
    lon, lat : float
        Module centre [°].
    evidence : tuple of str
        Sources of the agreeing frames.
    details : dict
        Location on the module, views, whether the reflection filter could check it.
    """

    module_id: str
    anomaly_class: Anomaly
    delta_t_k: float
    delta_tn_k: float | None
    t_max_c: float
    severity: str
    coa: int
    frames_seen: int
    confidence: float
    lon: float
    lat: float
    evidence: tuple[str, ...]
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InspectionResult:
    """Per-module results and findings of an inspection.

    Attributes
    ----------
    modules : tuple of ModuleResult
        Every module seen.
    findings : tuple of Finding
        One per module and class, most severe first.
    frames_total, frames_used : int
        Frames added, and frames that showed at least one whole module [-].
    irradiance_w_m2 : float | None
        Plane-of-array irradiance used for ΔTn [W m-2].
    iec_compliant : bool | None
        Irradiance at least 600 W m-2; ``None`` when unknown.
    reflections_rejected : int
        Hot patterns dropped by the sun-reflection filter [-].
    soiling_by_zone : dict
        Mean soiling index per array [0–1].
    notes : tuple of str
        Caveats for the report.
    rgb_soiling_by_zone : dict
        Mean visible soiling index per array, over its modules seen in a visible photo [0–1]; empty
        without photos.
    positions : (int, int, int)
        Frames whose position was an RTK fixed solution, was not, and did not say
        (:attr:`.frames.FrameMeta.position_fixed`) [-].
    frames_named : int
        Frames whose modules were named by fingerprints and the ends of rows (:mod:`.aliases`) [-].
    """

    modules: tuple[ModuleResult, ...]
    findings: tuple[Finding, ...]
    frames_total: int
    frames_used: int
    irradiance_w_m2: float | None
    iec_compliant: bool | None
    reflections_rejected: int
    soiling_by_zone: dict[str, float]
    notes: tuple[str, ...]
    rgb_soiling_by_zone: dict[str, float] = field(default_factory=dict)
    positions: tuple[int, int, int] = (0, 0, 0)
    frames_named: int = 0


@dataclass(slots=True)
class _View:
    frame: int
    median: float
    p95: float
    max: float
    corrected: float
    soiling: float
    cls: ViewClass
    rgb_soiling: float | None = None
    pixel: tuple[float, float] | None = None
    """The module's centre in its frame file (row, col) [px], of an oblique frame's too (mapped back from its
    nadir view, :func:`.oblique.source_pixels`); ``None`` where unknown."""
    resampled: bool = False
    """Whether the frame was resampled before analysis (an oblique one, analysed in its nadir view)."""


_NO_CAMERA = (math.nan, math.nan, math.nan, math.nan)
"""A frame's time and camera (:func:`_camera_over_plane`) where unknown."""

_STATS = 5
"""Columns of a view's statistics: median, p95, maximum, corrected, soiling (see :class:`_View`)."""
_VIEW_COLUMNS = _STATS + 5
"""Columns of a view in :class:`_ViewTable`: the statistics, the visible soiling and whether there is one,
the module's centre in the frame file (row, col), whether the frame was resampled (1/0)."""


class _ViewTable:
    """Views of a layout's modules as columns, one row per sighting of a module in a frame.

    ``numbers`` holds a view's statistics (:data:`_STATS` columns), then its RGB soiling and whether it has
    one, then the module's centre in the frame file (row, col; NaN where unknown) and whether the frame was
    resampled (1/0): in all :data:`_VIEW_COLUMNS`. Classes are kept only where they differ from
    :data:`NORMAL` (a few per frame), keyed by (frame, position). Rows are appended a frame at a time and
    joined when read, so that per-module medians over views, merging and pickling work on whole arrays
    instead of one object per view.
    """

    __slots__ = ("_frames", "_numbers", "_positions", "classes")

    def __init__(self) -> None:
        self._positions: list[npt.NDArray[np.intp]] = []
        self._frames: list[npt.NDArray[np.int64]] = []
        self._numbers: list[FloatArray] = []
        self.classes: dict[tuple[int, int], ViewClass] = {}

    def add(self, frame: int, positions: npt.NDArray[np.intp], numbers: FloatArray,
            classes: Sequence[ViewClass]) -> None:  # fmt: skip
        self._positions.append(np.asarray(positions, dtype=np.intp))
        self._frames.append(np.full(len(positions), frame, dtype=np.int64))
        self._numbers.append(numbers)
        for p, c in zip(positions.tolist(), classes, strict=True):
            if c is not NORMAL and c != NORMAL:
                self.classes[(frame, p)] = c

    @property
    def flagged(self) -> set[int]:
        """Positions of the modules with a view not :data:`NORMAL`."""
        return {p for _, p in self.classes}

    def view(self, frame: int, position: int, row: list[float]) -> _View:
        """One row of :meth:`columns` as a view."""
        med, p95, mx, corrected, soiling, rgb, has_rgb, at_row, at_col, resampled = row
        cls = self.classes.get((frame, position), NORMAL)
        pixel = (at_row, at_col) if math.isfinite(at_row) and math.isfinite(at_col) else None
        return _View(frame, med, p95, mx, corrected, soiling, cls, rgb if has_rgb else None, pixel,
                     bool(resampled))  # fmt: skip

    def columns(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], FloatArray]:
        """(positions, frames, numbers) of every view, in the order added."""
        if len(self._positions) != 1:
            self._positions = [np.concatenate(self._positions or [np.zeros(0, dtype=np.intp)])]
            self._frames = [np.concatenate(self._frames or [np.zeros(0, dtype=np.int64)])]
            self._numbers = [np.concatenate(self._numbers or [np.zeros((0, _VIEW_COLUMNS))])]
        return self._positions[0], self._frames[0], self._numbers[0]

    def rename(self, names: npt.NDArray[np.intp], first: int, end: int) -> None:
        """Give the views of frames ``first`` to ``end − 1`` the positions ``names[position]``, dropping those
        named −1 (no such module)."""
        positions, frames, numbers = self.columns()
        mine = (frames >= first) & (frames < end)
        if not mine.any():
            return
        renamed = positions.copy()
        renamed[mine] = names[positions[mine]]
        keep = renamed >= 0
        self._positions, self._frames, self._numbers = [renamed[keep]], [frames[keep]], [numbers[keep]]
        classes: dict[tuple[int, int], ViewClass] = {}
        for (f, p), c in self.classes.items():
            q = int(names[p]) if first <= f < end else p
            if q >= 0:
                classes[(f, q)] = c
        self.classes = classes

    def extend(self, other: _ViewTable, frames: int) -> None:
        """Append ``other``'s views numbered ``frames`` later."""
        positions, numbered, numbers = other.columns()
        self._positions.append(positions)
        self._frames.append(numbered + frames)
        self._numbers.append(numbers)
        self.classes.update({(f + frames, p): c for (f, p), c in other.classes.items()})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _ViewTable):
            return NotImplemented
        mine, theirs = self.columns(), other.columns()
        same = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(mine, theirs, strict=True))
        return same and self.classes == other.classes

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, Any]:
        positions, frames, numbers = self.columns()
        return {"positions": positions, "frames": frames, "numbers": numbers, "classes": self.classes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._positions, self._frames = [state["positions"]], [state["frames"]]
        self._numbers, self.classes = [state["numbers"]], state["classes"]


def _group_medians(values: FloatArray, starts: npt.NDArray[np.intp], counts: npt.NDArray[np.intp],
                   groups: npt.NDArray[np.intp]) -> FloatArray:  # fmt: skip
    """:func:`_med` of each group of rows, per column: ``values`` (N, K) sorted by ``groups`` (ids
    ascending, one run per group starting at ``starts``, ``counts`` long); NaN where a group has a NaN
    (it sorts last). Returns (G, K).

    The groups of one size are sorted at once as a (groups, size, K) block: a module has a few views, so
    there are a few sizes, instead of one sort of every view per column."""
    out = np.empty((len(starts), values.shape[1]), dtype=np.float64)
    for size in np.unique(counts).tolist():
        which = np.flatnonzero(counts == size)
        block = np.sort(values[starts[which][:, None] + np.arange(size)], axis=1)
        mid = size // 2
        med = block[:, mid] if size % 2 else (block[:, mid - 1] + block[:, mid]) / 2
        med[np.isnan(block[:, -1])] = np.nan
        out[which] = med
    return out


@dataclass(frozen=True, slots=True)
class _Line:
    """The flight line being flown: its first frame's logged yaw and the refined yaws and match scores of
    the frames whose yaw was estimated in full [°], [-]."""

    heading_deg: float
    yaws: tuple[float, ...] = ()
    scores: tuple[float, ...] = ()
    block_px: int = 2
    """The block size its carried frames are matched at (:func:`match_block_px`), on which their scores
    depend."""

    def carries(self, logged_yaw_deg: float, block_px: int) -> bool:
        """Whether a frame logged at this yaw, to be matched at blocks of ``block_px``, is on the line with
        enough estimates to carry its yaw."""
        return (
            len(self.yaws) >= LINE_YAW_FRAMES
            and abs(_turn(logged_yaw_deg, self.heading_deg)) < LINE_TURN_DEG
            and block_px == self.block_px
        )

    @property
    def yaw_deg(self) -> float:
        """Mean of the estimated yaws (about the first, so that ±180° does not split them) [°]."""
        return self.yaws[0] + sum(_turn(y, self.yaws[0]) for y in self.yaws) / len(self.yaws)

    def with_estimate(self, yaw_deg: float, score: float) -> _Line:
        return _Line(self.heading_deg, (*self.yaws, yaw_deg), (*self.scores, score), self.block_px)


def _turn(a_deg: float, b_deg: float) -> float:
    """a − b wrapped to [−180, 180) [°]."""
    return (a_deg - b_deg + 180.0) % 360.0 - 180.0


@dataclass(frozen=True, slots=True)
class FrameReport:
    """What :meth:`InspectionAccumulator.add` did with one frame."""

    source: str
    modules: int
    dx_m: float = 0.0
    dy_m: float = 0.0
    dyaw_deg: float = 0.0
    match_score: float = 0.0
    skipped: str = ""
    """Why the frame was left out (a :func:`gongzhi.errors.msg`), empty when it was analysed."""
    skip_reason: str = ""
    """What kind of reason ``skipped`` is, one of :data:`SKIP_REASONS`."""


SKIP_NO_TEMPERATURE, SKIP_OBLIQUE, SKIP_NOT_PLACED, SKIP_NO_MODULES = (
    "no_temperature",
    "oblique_view",
    "not_placed",
    "no_modules",
)
SKIP_REASONS = (SKIP_NO_TEMPERATURE, SKIP_OBLIQUE, SKIP_NOT_PLACED, SKIP_NO_MODULES)
"""Why an accumulator leaves a frame out: too many pixels without a temperature; an oblique frame with no
nadir view (:func:`.oblique.nadir_view`); no position, height or camera to place it on the ground; no array
of modules found in it (photos without a plant)."""


@dataclass(slots=True)
class _Opening:
    """Along and across the rows, the frame of a part of a flight before which its names were never settled
    by an end (``None`` while they are still open; the first frame of the run of linked frames that the
    first end renamed or kept, once one did: 0 when that run is the part's first). A break in the links does
    not close them: the next frame is named from the running correction, which carries the same error until
    an end sets it right."""

    open_until: list[int | None] = field(default_factory=lambda: [None, None])
    closed: list[bool] = field(default_factory=lambda: [False, False])

    def settled(self, known: tuple[bool, bool], chain_from: tuple[int, int]) -> None:
        for axis in (0, 1):
            if known[axis] and not self.closed[axis]:
                # the end renamed (or kept) its run from chain_from on; the frames before stay open
                self.open_until[axis], self.closed[axis] = chain_from[axis], True

    def until(self, frames: int) -> list[int]:
        return [frames if u is None else u for u in self.open_until]


class InspectionAccumulator:
    """Streaming per-module analysis: ``add(frame)`` as frames arrive, ``result()`` at any time.

    Parameters
    ----------
    layout : PlantLayout
        The plant (for photos without a layout see :func:`.georef.segment_modules` and
        :class:`LayoutFreeAccumulator`).
    camera : ThermalCamera, optional
        Payload when the frames' metadata do not name a known one.
    irradiance_w_m2 : float, optional
        Plane-of-array irradiance [W m-2]; default the median of the frames' metadata.
    height_m : float, optional
        Camera height above the modules [m]; default each frame's relative altitude minus
        ``module_plane_rel_m``.
    module_plane_rel_m : float
        Module plane above the take-off point [m].
    neighbour_radius_m : float, optional
        Radius of the neighbour reference [m]; default 2.5 row footprints, at least 3 m.
    refine : bool
        Refine each pose by matching the module grid (:func:`.georef.refine_pose`); along a flight line
        the yaw of its first frames is carried to the next (``LINE_*`` constants).
    classifier : ModuleClassifier, optional
        Default :class:`RuleClassifier`.
    """

    def __init__(
        self,
        layout: PlantLayout,
        camera: ThermalCamera | None = None,
        *,
        irradiance_w_m2: float | None = None,
        height_m: float | None = None,
        module_plane_rel_m: float = 0.0,
        neighbour_radius_m: float | None = None,
        refine: bool = True,
        classifier: ModuleClassifier | None = None,
        without_rtk: bool | None = None,
    ) -> None:
        self.layout = layout
        self.camera = camera
        self.irradiance_w_m2 = irradiance_w_m2
        self.height_m = height_m
        self.module_plane_rel_m = module_plane_rel_m
        self.refine = refine
        # name the modules by fingerprints and the ends of rows (_named), for positions a metre or two off:
        # True always, False never, None from the first frame whose position is not an RTK fix
        self.without_rtk = without_rtk
        self._naming = bool(without_rtk)
        # frames whose position was RTK fixed, was not, did not say (FrameMeta.position_fixed); frames named
        self._positions = (0, 0, 0)
        self._frames_named = 0
        # with without_rtk None: the last frame named from its position (number, temperatures, pose), whose
        # fingerprints the first frame named without RTK links to (_after_trusted)
        self._last_trusted: tuple[int, F32, FrameGeometry] | None = None
        self.classifier: ModuleClassifier = classifier or RuleClassifier()
        self._neighbour_radius_m = neighbour_radius_m or max(3.0, 2.5 * max(layout.footprint_m))
        self._prepare()
        self._views = _ViewTable()
        self._sources: list[str] = []
        # a cell's area in each frame, in the camera's pixels [px²] (NaN where not analysed)
        self._cell_px: list[float] = []
        # each frame's time [s since 1970] and camera over the module plane (east, north, height) [m], NaN
        # where unknown: where the sun could glint in its views (:func:`_alone`)
        self._cameras: list[tuple[float, float, float, float]] = []
        self._irradiances: list[float] = []
        self._bias = (0.0, 0.0, 0.0)
        self._line: _Line | None = None
        self._carried_score = 0.0
        self._pitch_along, self._pitch_across = _pitches(self._index)
        # across the rows the grid repeats only every row pitch: search up to nearly half of it; along the
        # rows every module pitch, which _nearest_alias resolves against the running correction
        self._search_m = 0.45 * self._pitch_across
        self._aliases: AliasTracker | None = None
        # the first frame of the run of linked frames that an end along and across the rows would rename
        self._chain_from: tuple[int, int] = (0, 0)
        # the last frame whose ends settled the naming along and across the rows
        self._settled_at: tuple[int, int] = (-END_EVERY, -END_EVERY)
        self._opening = _Opening()
        self._frames_used = 0
        self._layout_left_out = False

    def _prepare(self) -> None:
        """The module index, the neighbour table (other strings within the radius, −1 padded) and where a
        module map's samples lie from the module's centre (:func:`.georef.sample_offsets`), which every
        frame's crops would otherwise work out again."""
        layout = self.layout
        self._index: ModuleIndex = module_index(layout)
        self._neighbours = _neighbour_table(layout, self._neighbour_radius_m)
        self._offsets = sample_offsets(layout, SAMPLES_PER_CELL)

    def fresh(self) -> InspectionAccumulator:
        """An accumulator of the same plant and settings with no frames yet, sharing this one's module
        index and neighbour table (read-only), so that a pool's workers need not each build them."""
        out = InspectionAccumulator.__new__(InspectionAccumulator)
        out.__dict__.update(self.__dict__)
        out._views, out._sources, out._irradiances, out._cell_px, out._cameras = _ViewTable(), [], [], [], []
        out._bias, out._frames_used, out._line, out._carried_score = (0.0, 0.0, 0.0), 0, None, 0.0
        out._aliases, out._chain_from, out._opening = None, (0, 0), _Opening()
        out._settled_at = (-END_EVERY, -END_EVERY)
        out._naming, out._positions, out._frames_named = bool(self.without_rtk), (0, 0, 0), 0
        out._last_trusted = None
        return out

    def __getstate__(self) -> dict[str, Any]:
        # a worker's accumulator travels back without the index, the neighbour table and the samples'
        # offsets (rebuilt by the next add, if any), and without the layout when the receiver has it; its
        # views are a few arrays
        left_out = (
            "_index",
            "_neighbours",
            "_offsets",
            "_last_trusted",  # a frame's temperatures, needed only while frames are added
            "layout" if self.__dict__.get("_layout_left_out") else "",
        )
        return {k: v for k, v in self.__dict__.items() if k not in left_out}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def leave_layout_out(self) -> None:
        """Pickle without the layout from now on (a process pool's parent has it: about 1 MB less per
        part on a 17,000-module plant); the receiver calls :meth:`attach`."""
        self._layout_left_out = True

    def attach(self, layout: PlantLayout) -> None:
        """Give an accumulator pickled by :meth:`leave_layout_out` its layout back (a no-op otherwise)."""
        if "layout" not in self.__dict__:
            self.layout = layout
        self._layout_left_out = False

    def add(self, frame: ThermalFrame) -> FrameReport:
        """Analyse one frame and keep its per-module views."""
        if "_index" not in self.__dict__:
            self._prepare()
        n = len(self._sources)
        self._sources.append(frame.meta.source)
        self._cell_px.append(math.nan)
        self._cameras.append(_NO_CAMERA)
        fixed = frame.meta.position_fixed
        a, b, c = self._positions
        self._positions = (a + (fixed is True), b + (fixed is False), c + (fixed is None))
        if fixed is False and self.without_rtk is None and not self._naming:
            self._naming = True  # from here on
            self._after_trusted(n)
        if frame.meta.irradiance_w_m2 is not None:
            self._irradiances.append(frame.meta.irradiance_w_m2)
        temperature, why = _holes_filled(frame)
        if temperature is None:
            return FrameReport(frame.meta.source, 0, skipped=why, skip_reason=SKIP_NO_TEMPERATURE)
        resampled = frame.meta.oblique
        if resampled:
            cam, height = camera_and_height(frame.meta, self.camera, self.height_m, self.module_plane_rel_m)
            nadir, why = _nadir(frame, temperature, cam, height)
            if nadir is None:
                return FrameReport(frame.meta.source, 0, skipped=why, skip_reason=SKIP_OBLIQUE)
            frame, temperature = nadir, nadir.temperature_c
        try:
            prior = frame_geometry(
                frame.meta,
                self.layout.origin,
                self.camera,
                height_m=self.height_m,
                module_plane_rel_m=self.module_plane_rel_m,
            )
        except PlacementError as exc:
            return FrameReport(frame.meta.source, 0, skipped=exc.problem, skip_reason=SKIP_NOT_PLACED)
        bx, by, byaw = self._bias
        geometry = prior.moved(bx, by, byaw)
        report = FrameReport(frame.meta.source, 0)
        if self.refine:
            block = match_block_px(self.layout, geometry.gsd_m, resampled=resampled)
            fit = self._refine(temperature, geometry, prior.yaw_deg, block)
            if fit.score > 0 and (fit.dx_m or fit.dy_m or fit.dyaw_deg):
                geometry = self._nearest_alias(fit.geometry, prior)
                if self._naming:
                    self._frames_named += 1
                    geometry = self._named(temperature, geometry, n)
                elif self.without_rtk is None:
                    self._last_trusted = (n, temperature, geometry)
                    bx, by, byaw = self._bias  # renaming the frames before moves the running correction too
            cx, cy = geometry.x_m - prior.x_m, geometry.y_m - prior.y_m
            cyaw = geometry.yaw_deg - prior.yaw_deg
            report = FrameReport(frame.meta.source, 0, cx, cy, cyaw, fit.score)
            if fit.score > 0:
                # the running correction follows a slowly drifting GPS bias but not each frame's noise; it
                # takes the frame's module and row whole at once (the naming, _named), then the rest slowly
                if self._naming:
                    bx, by = self._snapped(bx, by, cx, cy)
                k = BIAS_SMOOTHING
                self._bias = (bx + k * (cx - bx), by + k * (cy - by), byaw + k * (cyaw - byaw))
        seen = self._analyse(
            temperature,
            geometry,
            n,
            frame.rgb,
            oblique=frame.meta.extra.get("oblique", {}) if resampled else None,
        )
        if seen:
            self._frames_used += 1
            # in the camera's pixels: the analysed raster's, over how many of them one of the camera's covers
            self._cell_px[n] = cell_area_px(self.layout, geometry.gsd_m) / _view_px_per_source_px(frame.meta)
            self._cameras[n] = _camera_over_plane(frame.meta, geometry, self.camera, self.height_m,
                                                  self.module_plane_rel_m)  # fmt: skip
        return FrameReport(
            report.source, seen, report.dx_m, report.dy_m, report.dyaw_deg, report.match_score, report.skipped
        )

    def _refine(
        self, temperature: F32, geometry: FrameGeometry, logged_yaw_deg: float, block_px: int = 2
    ) -> PoseFit:
        """Refine the pose, at the flight line's yaw when the line carries one and the match there, at blocks
        of ``block_px`` pixels (:func:`match_block_px`), stays as good as the line's (one module mask and
        one match instead of about two and eight); otherwise with the yaw estimated in full, at blocks of
        2, which then extends the line or starts a new one (a new one, too, when the line's carried frames
        were matched at another block size: a carried frame's mark holds the score of the one before).

        The yaw a gimbal holds along a line changes little, while the logged yaw scatters about it
        (compass noise); the mean of a few full estimates is nearer the line's yaw than any one of them.
        After a carried frame the running correction puts the prior within the GPS noise of the pose, so
        the next carried frame's match climbs from no further shift (``expected_m``) and makes the coarse
        match only when that peak scores below the line's or :data:`CARRIED_SCORE_KEPT` of the previous
        frame's (the first carried frame of a line always makes it). Not while the modules are named
        without RTK (:meth:`_named`): the running correction lags a bias that moves a few centimetres a
        frame, a climb from it ended on the grid's local maximum 0.4 of a module along the row for frames
        at a time (73 false findings in the bench roof's first 200 frames), and every frame makes the coarse
        match.
        """
        line = self._line
        previous, self._carried_score = self._carried_score, 0.0
        if line is not None and line.carries(logged_yaw_deg, block_px):
            guess = geometry.moved(dyaw_deg=_turn(line.yaw_deg, geometry.yaw_deg))
            least = max(MIN_MATCH_SCORE, LINE_SCORE_KEPT * float(np.mean(line.scores)))
            fit = refine_pose(
                temperature, guess, self._index, search_m=self._search_m, estimate_yaw=False,
                coarse_first=True, pitch_along_m=self._pitch_along, downsample=block_px,
                expected_m=(0.0, 0.0) if previous > 0 and not self._naming else None,
                least_score=max(least, CARRIED_SCORE_KEPT * previous),
            )  # fmt: skip
            if fit.score >= least:
                self._carried_score = fit.score
                g = fit.geometry
                return PoseFit(g, g.x_m - geometry.x_m, g.y_m - geometry.y_m, g.yaw_deg - geometry.yaw_deg,
                               fit.score)  # fmt: skip
        fit = refine_pose(
            temperature, geometry, self._index, search_m=self._search_m, coarse_first=True,
            pitch_along_m=self._pitch_along,
        )  # fmt: skip
        if fit.score >= MIN_MATCH_SCORE:
            yaw = fit.geometry.yaw_deg
            if (
                line is None
                or abs(_turn(logged_yaw_deg, line.heading_deg)) >= LINE_TURN_DEG  # a turn
                or line.block_px != block_px
                or (
                    line.carries(logged_yaw_deg, block_px)
                    and abs(_turn(yaw, line.yaw_deg)) > LINE_YAW_AGREES_DEG
                )
            ):
                line = _Line(logged_yaw_deg, block_px=block_px)
            self._line = line.with_estimate(yaw, fit.score)
        return fit

    def _after_trusted(self, n: int) -> None:
        """Begin naming without RTK at frame ``n``, after frames of this part whose positions were an RTK fix
        (or did not say): those were named from their positions, and so is the running correction; the
        fingerprints of the last of them (:attr:`_last_trusted`) are what frame ``n`` links to, its names
        stand as they are (no end renames them), and a merge links nothing before them."""
        last = self.__dict__.get("_last_trusted")
        self._last_trusted = None
        if n == 0:
            return
        self._chain_from = (n, n)
        self._opening = _Opening([0, 0], [True, True])
        if last is not None:
            k, temperature, geometry = last
            tracker = self._tracker()
            positions = visible_modules(self._index, geometry)
            tracker.remember(positions, tracker.fingerprint(temperature, geometry, positions), k)

    def _tracker(self, index: ModuleIndex | None = None) -> AliasTracker:
        """The frames' fingerprints (:class:`.aliases.AliasTracker`), made on first use and given the module
        index (``index``, or this accumulator's) again after pickling."""
        tracker = self.__dict__.get("_aliases")
        if tracker is None:
            tracker = self._aliases = AliasTracker(
                index or self._index, (self._pitch_along, self._pitch_across)
            )
        elif tracker.index is None:
            tracker.attach(index or self._index)
        return tracker

    def _named(self, temperature: F32, geometry: FrameGeometry, n: int) -> FrameGeometry:
        """The pose of frame ``n`` moved by whole module and row pitches to the alias that names its modules
        as the frames before did (:meth:`.aliases.AliasTracker.linked`), then, where the frame sees the end
        of a row or an array's first or last row, to the alias those settle (:func:`.aliases.end_alias`);
        the frames linked since the last frame that settled that direction are renamed with it, and the
        running correction moves too."""
        tracker = self._tracker()
        positions = visible_modules(self._index, geometry)
        values = tracker.fingerprint(temperature, geometry, positions)
        k = tracker.linked(positions, values)
        if k is None:
            self._chain_from = (n, n)  # a new run of frames, named from the running correction alone
        elif k != (0, 0):
            geometry = tracker.moved(geometry, k)
            positions = visible_modules(self._index, geometry)
            values = tracker.fingerprint(temperature, geometry, positions)
        # the ends weigh a pitch either way: a pose two off moves one, and is weighed again from there
        # (a direction is settled only where the last weighing kept the pose: a move says the pose is
        # better a pitch over, not that it is right there)
        # a frame linked as named to the frames just after one that settled a direction is named as that
        # one was: the ends are weighed again END_EVERY frames on (or at once after a break or a move)
        last = self._settled_at
        axes = tuple(
            not (k == (0, 0) and self._chain_from[a] == last[a] and n - last[a] < END_EVERY) for a in (0, 1)
        )
        moved, known = (0, 0), (False, False)
        for _ in range(END_STEPS):
            end, seen = end_alias(temperature, geometry, tracker, positions, (axes[0], axes[1]))
            known = (seen[0] and not end[0], seen[1] and not end[1])
            if end == (0, 0):
                break
            geometry = tracker.moved(geometry, end)
            moved = (moved[0] + end[0], moved[1] + end[1])
            positions = visible_modules(self._index, geometry)
        for axis, step in enumerate(moved):
            if step:
                self._rename((step, 0) if axis == 0 else (0, step), self._chain_from[axis], n)
        if moved != (0, 0):
            values = tracker.fingerprint(temperature, geometry, positions)
        along, across = self._chain_from
        self._chain_from = (n if known[0] else along, n if known[1] else across)
        self._settled_at = (n if known[0] else last[0], n if known[1] else last[1])
        self._opening.settled(known, (along, across))
        if k is not None or known[0] or tracker.empty:
            # a frame named from the running correction alone keeps no fingerprints (but the first): the
            # next frame links to those of frames whose names were linked or settled along the rows, the
            # direction in which a GPS error most often exceeds half a pitch
            tracker.remember(positions, values, n)
        return geometry

    def _rename(self, k: tuple[int, int], first: int, end: int) -> None:
        """Rename the views and fingerprints of frames ``first`` to ``end − 1`` as if their poses moved by
        ``k`` (module pitches along the rows, row pitches across), and move their cameras and the running
        correction with them."""
        tracker = self._tracker(self.__dict__.get("_index"))
        self._views.rename(tracker.shift(k), first, end)
        tracker.rename(k, first, end)
        dx, dy = tracker.offset_m(k)
        for i in range(first, min(end, len(self._cameras))):
            t, x, y, h = self._cameras[i]
            self._cameras[i] = (t, x + dx, y + dy, h)
        bx, by, byaw = self._bias
        self._bias = (bx + dx, by + dy, byaw)

    def _snapped(self, bx: float, by: float, cx: float, cy: float) -> tuple[float, float]:
        """The running correction (``bx``, ``by``) moved by the whole module and row pitches by which the
        frame's correction (``cx``, ``cy``) lies from it [m]."""
        e, c = row_axes(self.layout.row_azimuth_deg)
        du, dv = (cx - bx) * e[0] + (cy - by) * e[1], (cx - bx) * c[0] + (cy - by) * c[1]
        i, j = round(du / self._pitch_along), round(dv / self._pitch_across)
        if not (i or j):
            return bx, by
        return (bx + i * self._pitch_along * e[0] + j * self._pitch_across * c[0],
                by + i * self._pitch_along * e[1] + j * self._pitch_across * c[1])  # fmt: skip

    def _nearest_alias(self, geometry: FrameGeometry, prior: FrameGeometry) -> FrameGeometry:
        """Of the poses one module pitch apart along the rows, which the grid cannot tell apart, the one
        nearest the running correction."""
        e = row_axes(self.layout.row_azimuth_deg)[0]
        bx, by, _ = self._bias
        du = (geometry.x_m - prior.x_m - bx) * e[0] + (geometry.y_m - prior.y_m - by) * e[1]
        k = round(du / self._pitch_along)
        return geometry.moved(-k * self._pitch_along * e[0], -k * self._pitch_along * e[1]) if k else geometry

    def _analyse(
        self, temperature: F32, geometry: FrameGeometry, n: int, rgb: npt.NDArray[np.uint8] | None = None,
        oblique: Mapping[str, Any] | None = None,
    ) -> int:  # fmt: skip
        """Per-module views of one frame (``temperature``, placed by ``geometry``), numbered ``n``; with
        ``oblique``, the nadir view's note of an oblique frame (:func:`.oblique.nadir_view`), by which a
        module's centre is mapped back into the frame file."""
        placed = oblique is None
        positions = visible_modules(self._index, geometry)
        if len(positions) == 0:
            return 0
        centres = self._index.centres[positions]
        rows, cols = geometry.xy_to_pixel(centres[:, 0], centres[:, 1])
        # every module's statistics and screen from thinned maps (a third of the samples); the full maps,
        # the full screen and the rules only for the modules these flag
        crops, peaks, detail = module_crops_and_peaks(
            temperature, geometry, self.layout, positions, SAMPLES_PER_CELL, pixels=(rows, cols),
            offsets=self._offsets,
        )  # fmt: skip
        slot = np.full(len(self.layout.modules) + 1, -1, dtype=np.intp)
        slot[positions] = np.arange(len(positions))
        near = slot[self._neighbours[positions]]
        stats, classes = frame_statistics(
            crops, rows / geometry.height_px, cols / geometry.width_px, near,
            _for_view(self.classifier, oblique=not placed), self.layout.cell_grid, self.layout.portrait,
            peaks=peaks, detail=detail,
        )  # fmt: skip
        numbers = np.zeros((len(positions), _VIEW_COLUMNS))
        numbers[:, :_STATS] = stats
        # where each module is in the frame file (an oblique frame's, mapped back from its nadir view)
        numbers[:, _STATS + 2], numbers[:, _STATS + 3] = (
            (rows, cols) if oblique is None else source_pixels(oblique, rows, cols)
        )
        numbers[:, _STATS + 4] = 0.0 if placed else 1.0
        if rgb is not None and rgb.ndim == 3 and rgb.shape[:2] == temperature.shape:
            numbers[:, _STATS : _STATS + 2] = _rgb_columns(rgb, geometry, self.layout, positions,
                                                          self._index.centres)  # fmt: skip
        self._views.add(n, positions, numbers, classes)
        return len(positions)

    def _stand_alone(
        self, lonely: Sequence[tuple[int, list[_View], ViewClass | None, int]]
    ) -> tuple[list[tuple[int, ViewClass, list[_View]]], int, list[str]]:
        """Merge again the modules whose vote dropped a localised hot pattern that a view's statistics
        show (``lonely``: position, views, and the vote's class and count of patterns dropped), letting the
        views that cannot hold a glint stand alone (:func:`_alone`); unless those that stood alone sit at
        one place from their cameras, as glints do (:func:`_like_glints`): then the sun worked out from
        the frames does not explain the flight's glints (a plant's tilt or facing, or a camera's clock, is
        wrong), the vote stands and a note says so. Returns the merged modules, the patterns dropped, and
        the notes."""
        if not lonely:
            return [], 0, []
        centres, layout = self.layout.centres_xy(), self.layout
        reach = math.hypot(*layout.footprint_m) / 2
        normal = module_normal(layout.tilt_deg, layout.row_azimuth_deg)
        modules = [(centres[p], views) for p, views, _, _ in lonely]
        alone = _alone(self._cameras, modules, layout.origin, normal, reach)
        again = [
            merge_views([v.cls for v in views], oblique=_any_resampled(views), alone=free)
            for (_, views, _, _), free in zip(lonely, alone, strict=True)
        ]
        offsets = [
            centres[p] - np.array(self._cameras[v.frame][1:3])
            for (p, views, before, _), (after, _), free in zip(lonely, again, alone, strict=True)
            if before is None and after is not None
            for v, f in zip(views, free, strict=True)
            if f and _FAMILIES.get(v.cls.anomaly) == "local"
        ]
        notes: list[str] = []
        if _like_glints(offsets, reach):
            again = [(before, dropped) for _, _, before, dropped in lonely]
            notes.append(SUN_REFLECTIONS_NOTE)
        merged = [
            (p, m, views) for (p, views, _, _), (m, _) in zip(lonely, again, strict=True) if m is not None
        ]
        return merged, sum(d for _, d in again), notes

    def merge(self, other: InspectionAccumulator) -> None:
        """Take in the views of an accumulator that saw other frames of the same flight (in place).

        Lets a flight be split into chunks analysed in parallel (processes, Dask or Ray tasks: accumulators
        and layouts pickle) and merged in frame order; each chunk carries its own running pose correction.
        """
        if other.layout.modules != self.layout.modules:
            raise ValueError("accumulators of different plants cannot be merged")
        if self.refine and other.refine and other._naming:
            self._link_opening(other)
        self._naming = self._naming or other._naming
        (a, b, c), (d, e, f) = self._positions, other._positions
        self._positions = (a + d, b + e, c + f)
        self._frames_named += other._frames_named
        self._views.extend(other._views, len(self._sources))
        self._sources.extend(other._sources)
        self._cell_px.extend(other._cell_px)
        self._cameras.extend(other._cameras)
        self._irradiances.extend(other._irradiances)
        self._frames_used += other._frames_used

    def _link_opening(self, other: InspectionAccumulator) -> None:
        """Name the opening frames of a later part of the flight as this part named the frames before them.

        A part that starts where no row end is in sight names its first frames from the logged positions
        alone (its running correction starts at none), which a GPS bias can put a module or a row off; and
        an end renames only the run of linked frames it is in. The fingerprints of its frames before the first
        such run, against this part's (:meth:`.aliases.AliasTracker.linked`, over the wider
        :data:`.aliases.MERGE_ALIASES`: a bias of up to 3 σ), say by how much: those frames are renamed before
        the views are taken in, and the fingerprints kept."""
        theirs = other.__dict__.get("_aliases")
        if theirs is None:
            return
        other.attach(self.layout)
        # the parent of a process pool has only the layout: an index for the trackers, not the whole table
        index = self.__dict__.get("_index") or other.__dict__.get("_index") or module_index(self.layout)
        mine, theirs = self._tracker(index), other._tracker(index)
        until = other._opening.until(len(other._sources))
        opening = np.flatnonzero((theirs.frames >= 0) & (theirs.frames < max(until)))
        k = mine.linked(opening, theirs.values[opening], MERGE_ALIASES) if len(opening) else None
        if k is not None:
            for axis, (step, end) in enumerate(zip(k, until, strict=True)):
                if step and end:
                    other._rename((step, 0) if axis == 0 else (0, step), 0, end)
        mine.take(theirs, len(self._sources))

    def _module_results(
        self,
    ) -> tuple[
        list[ModuleResult], dict[int, list[_View]], dict[int, float], dict[str, float], dict[str, float]
    ]:
        """Every module seen, with the medians over its views, in layout order; the views of the modules
        that have any view not :data:`NORMAL` (the only ones that can give a finding); the frames that
        took the wrong level for their background (:func:`frame_level_shifts`), whose views' corrected
        temperatures are measured from their neighbours' level instead; and :func:`zone_soiling` of the
        modules, thermal and visible."""
        positions, frames, numbers = self._views.columns()
        order = np.lexsort((frames, positions))
        positions, frames, numbers = positions[order], frames[order], numbers[order]
        path = _path_m([c[1:3] for c in self._cameras])  # the cameras' east, north
        shifts = frame_level_shifts(frames, numbers[:, 0] - numbers[:, 3], path)
        if shifts:
            # the reference was too high by the departure, so the module reads that much too cool
            by_frame = np.zeros(int(frames.max()) + 1)
            by_frame[list(shifts)] = list(shifts.values())
            numbers[:, 3] += by_frame[frames]
        starts = np.flatnonzero(np.diff(positions, prepend=-1))
        ends = np.append(starts[1:], len(positions)) if len(starts) else starts
        seen = positions[starts]
        medians = _group_medians(numbers[:, :_STATS], starts, ends - starts, positions)
        xy = self.layout.centres_xy()[seen]
        lon, lat = (a.tolist() for a in self.layout.origin.to_lonlat_array(xy[:, 0], xy[:, 1]))
        has_rgb = np.add.reduceat(numbers[:, _STATS + 1], starts) > 0 if len(starts) else np.zeros(0, bool)
        rgb: list[float | None] = [None] * len(starts)
        for k in np.flatnonzero(has_rgb).tolist():
            rgb[k] = _rgb_median(numbers[starts[k] : ends[k]])
        # built a column at a time: on a large plant these are 17,000 objects, and a loop that unpacks
        # each module's figures costs about twice the CPU
        layout_modules = self.layout.modules
        ids = [layout_modules[p].id for p in seen.tolist()]
        modules = list(map(ModuleResult, ids, (ends - starts).tolist(), *medians.T.tolist(), lon, lat, rgb))
        voted = self._views.flagged
        if shifts and len(seen):
            # modules seen only by frames that took too warm a level, warm from the right one: their views
            # read normal, and only from the right level do they show the whole module's warmth
            by_shifted = np.logical_and.reduceat(np.isin(frames, list(shifts)), starts)
            voted = voted | set(seen[by_shifted & (medians[:, 3] >= LEVEL_WARM_K)].tolist())
        views_of = {}
        for p in sorted(voted):
            k = int(np.searchsorted(seen, p))
            a, b = int(starts[k]), int(ends[k])
            views_of[p] = [self._views.view(f, p, row) for f, row in
                           zip(frames[a:b].tolist(), numbers[a:b].tolist(), strict=True)]  # fmt: skip
        zones = self.layout.zones()
        soiling = _zone_means(zones, seen, medians[:, 4], np.ones(len(seen), dtype=bool))
        visible = _zone_means(zones, seen, np.array([np.nan if r is None else r for r in rgb]), has_rgb)
        return modules, views_of, shifts, soiling, visible

    def result(self) -> InspectionResult:
        """Merge the views gathered so far into per-module results and findings."""
        g = self.irradiance_w_m2
        if g is None and self._irradiances:
            g = float(np.median(self._irradiances))
        modules, views_of, shifts, soiling, visible = self._module_results()
        merged_all, rejected, lonely = [], 0, []
        for p, all_views in views_of.items():
            views = _voting(all_views, shifts)
            merged, dropped = merge_views([v.cls for v in views], oblique=_any_resampled(views))
            if dropped and _may_stand_alone(views):
                lonely.append((p, views, merged, dropped))
                continue
            rejected += dropped
            if merged is not None:
                merged_all.append((p, merged, views))
        stood, dropped_alone, glint_notes = self._stand_alone(lonely)
        merged_all += stood
        rejected += dropped_alone
        by_id = {r.module_id: r for r in modules}
        findings = [
            _make_finding(
                self.layout.modules[p].id,
                v,
                views,
                g,
                by_id[self.layout.modules[p].id],
                self._sources,
                self._cell_px,
            )
            for p, v, views in _strings(self.layout, merged_all)
        ]
        findings.sort(key=_finding_order)
        compliant, notes = _conditions(g)
        notes += _classifier_note(self.classifier) + glint_notes + _single_view_note(modules)
        notes += self._naming_notes()
        return InspectionResult(
            tuple(modules), tuple(findings), len(self._sources), self._frames_used, g, compliant, rejected,
            soiling, tuple(notes), visible, self._positions, self._frames_named,
        )  # fmt: skip

    def _naming_notes(self) -> list[str]:
        """What the report says of how the modules were named: by fingerprints and row ends for frames
        without an RTK fix, or from positions that did not say whether they had one."""
        _, not_fixed, unknown = self._positions
        if self._frames_named and self.without_rtk:
            note = msg(
                "module names without RTK, as asked: %(frames)s frames had their modules named by matching "
                "them with the frames before and with the ends of the rows",
                frames=self._frames_named,
            )
            return [note]
        if self._frames_named:
            note = msg(
                "module names without RTK: %(not_fixed)s frames gave positions that were not an RTK fix, so "
                "%(frames)s frames had their modules named by matching them with the frames before and with "
                "the ends of the rows",
                frames=self._frames_named, not_fixed=not_fixed,
            )  # fmt: skip
            return [note]
        if unknown and self.without_rtk is None:
            note = msg(
                "module names come from the positions of %(frames)s frames that do not say whether they are "
                "an RTK fix; if the drone flew without RTK, analyse the flight again with positioning gnss",
                frames=unknown,
            )
            return [note]
        return []


MAX_NO_DATA_SHARE = 0.001
"""Largest share of a frame's pixels without a temperature that are filled in (a few dead pixels); a frame
with more is left out, with the reason."""


def match_block_px(layout: PlantLayout, gsd_m: float, *, resampled: bool = False) -> int:
    """Block size [px] at which a carried frame of ``gsd_m`` [m] over ``layout`` is matched to the module
    grid: :data:`FINE_MATCH_BLOCK_PX` where a cell's side spans at least :data:`FINE_MATCH_PX_PER_CELL`
    pixels of a frame taken as it is, else 2 (and always 2 for an oblique frame's ``resampled`` nadir view,
    whose pixels are interpolated from fewer of the camera's)."""
    fine = math.sqrt(cell_area_px(layout, gsd_m)) >= FINE_MATCH_PX_PER_CELL
    return FINE_MATCH_BLOCK_PX if fine and not resampled else 2


def cell_area_px(layout: PlantLayout, gsd_m: float) -> float:
    """A cell of ``layout``'s modules in a raster of ``gsd_m`` [m], in its pixels [px²]."""
    t = layout.module_type
    return t.width_m * t.length_m / (t.cells * gsd_m**2)


def _view_px_per_source_px(meta: FrameMeta) -> float:
    """How many of the analysed raster's pixels one pixel of the camera covers (:func:`.oblique.nadir_view`
    notes it for an oblique frame's nadir view; 1 for a frame analysed as taken), so that a spot's area is
    measured in the camera's pixels, which :data:`MEASUREMENT_SPOT_PX` counts."""
    note = meta.extra.get("oblique")
    ratio = note.get(VIEW_PX_PER_SOURCE_PX) if isinstance(note, dict) else None
    return float(ratio) if isinstance(ratio, int | float) and ratio > 0 else 1.0


def _nadir(
    frame: ThermalFrame, temperature: F32, camera: ThermalCamera | None, height_m: float | None
) -> tuple[ThermalFrame | None, str]:
    """An oblique frame, its pixels without a temperature filled (``temperature``), as a nadir frame of
    the module plane (:func:`.oblique.nadir_view`), or ``None`` and why it cannot be one."""
    if temperature is not frame.temperature_c:
        frame = dataclasses.replace(frame, temperature_c=temperature)
    return nadir_view(frame, camera, height_m)


def _holes_filled(frame: ThermalFrame) -> tuple[F32 | None, str]:
    """The frame's temperatures with each pixel that has none (NaN) given the median of its neighbours
    that have one (bad-pixel replacement), or ``None`` and why when more than :data:`MAX_NO_DATA_SHARE` of
    the frame has none. The readers count those pixels (:data:`.frames.NO_DATA_PX`); without their count
    the frame's minimum and maximum tell whether there is any."""
    t = frame.temperature_c
    missing = frame.meta.extra.get(NO_DATA_PX)
    if missing is None:
        missing = 0 if math.isfinite(float(t.min())) and math.isfinite(float(t.max())) else -1
    if missing == 0:
        return t, ""
    holes = ~np.isfinite(t)
    count = int(np.count_nonzero(holes))
    if count > MAX_NO_DATA_SHARE * t.size:
        share = f"{count / t.size:.1%}"
        return None, msg("%(count)s pixels (%(share)s) have no temperature", count=count, share=share)
    filled = t.copy()
    everywhere = np.float32(np.median(t[~holes]))  # for a hole with no neighbour that has a temperature
    for r, c in zip(*np.nonzero(holes), strict=True):
        window = t[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
        near = window[np.isfinite(window)]
        filled[r, c] = np.float32(np.median(near)) if near.size else everywhere
    return filled, ""


def _neighbour_table(layout: PlantLayout, radius_m: float) -> npt.NDArray[np.intp]:
    """Each module's neighbours within ``radius_m`` on other strings, in :func:`.layout.neighbours` order,
    one row per module padded with −1 (at least one column).

    The same grid of ``radius_m`` cells as :func:`.layout.neighbours`, searched by a compiled loop
    (:func:`.kernels.other_string_neighbours`) over a dense grid of the cells; a plant too sparse for a
    dense grid takes :func:`.layout.neighbours`."""
    from gongzhi.modules.pv.analytics import kernels

    if not radius_m > 0:
        raise ValueError("radius must be positive")
    n = len(layout.modules)
    _, strings = np.unique([m.string for m in layout.modules], return_inverse=True)
    strings = np.ascontiguousarray(strings, dtype=np.intp)
    centres = layout.centres_xy()
    keys = np.floor(centres / radius_m).astype(np.int64)
    lo = keys.min(axis=0, initial=0) - 1 if n else np.zeros(2, dtype=np.int64)
    grid_w, grid_h = (keys.max(axis=0, initial=0) - lo + 2).tolist() if n else (1, 1)
    if grid_w * grid_h > 16 * n + 4096:
        return _neighbour_table_from_lists(layout, radius_m, strings)
    cell = ((keys[:, 0] - lo[0]) * grid_h + (keys[:, 1] - lo[1])).astype(np.intp)
    members = np.argsort(cell, kind="stable").astype(np.intp)  # ascending within a cell
    starts = np.searchsorted(cell[members], np.arange(grid_w * grid_h + 1)).astype(np.intp)
    # one pass into rows as wide as the most points any nine cells about a point hold (the margin keeps
    # those cells inside the grid), then cut to the most neighbours found
    counts = np.diff(starts).reshape(grid_w, grid_h)
    nine = sum(counts[i : grid_w - 2 + i, j : grid_h - 2 + j] for i in range(3) for j in range(3))
    table = np.full((n, max(int(np.max(nine, initial=0)), 1)), -1, dtype=np.intp)
    most = kernels.other_string_neighbours(centres, cell, starts, members, grid_h, strings, radius_m, table)
    return np.ascontiguousarray(table[:, : max(most, 1)])


def _neighbour_table_from_lists(
    layout: PlantLayout, radius_m: float, strings: npt.NDArray[np.intp]
) -> npt.NDArray[np.intp]:
    """:func:`_neighbour_table` from :func:`.layout.neighbours`' lists."""
    near = neighbours(layout, radius_m)
    n = len(near)
    lengths = np.fromiter((len(nb) for nb in near), dtype=np.intp, count=n)
    flat = np.concatenate(near) if n else np.zeros(0, dtype=np.intp)
    owner = np.repeat(np.arange(n), lengths)
    keep = strings[flat] != strings[owner]
    flat, owner = flat[keep], owner[keep]
    counts = np.bincount(owner, minlength=n)
    table = np.full((n, max(int(counts.max(initial=0)), 1)), -1, dtype=np.intp)
    table[owner, np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)] = flat
    return table


def _pitches(index: ModuleIndex) -> tuple[float, float]:
    """Module pitch along the rows and row pitch across them [m] (medians over the layout)."""
    along, across = index.layout.footprint_m
    keys = np.sort(index.keys)
    steps = np.diff(keys)
    in_row = steps[(steps > 0.5 * along) & (steps < 1.5 * along)]
    rows = np.diff(index.row_v)
    return (
        float(np.median(in_row)) if len(in_row) else along,
        float(np.median(rows)) if len(rows) else 2 * across,
    )


def _components(adjacent: npt.NDArray[np.bool_]) -> tuple[int, npt.NDArray[np.intp]]:
    """Connected components of a symmetric adjacency matrix: (count, label of each node)."""
    labels = np.full(len(adjacent), -1, dtype=np.intp)
    count = 0
    for start in range(len(adjacent)):
        if labels[start] >= 0:
            continue
        stack = [start]
        labels[start] = count
        while stack:
            node = stack.pop()
            for other in np.flatnonzero(adjacent[node] & (labels < 0)).tolist():
                labels[other] = count
                stack.append(other)
        count += 1
    return count, labels


def _conditions(g: float | None) -> tuple[bool | None, list[str]]:
    """IEC TS 62446-3 irradiance check and the report's note about it."""
    if g is None:
        return None, [msg("irradiance unknown: ΔT not normalised, IEC TS 62446-3 conditions not verified")]
    if g < IEC_MIN_IRRADIANCE_W_M2:
        return False, [
            msg(
                "irradiance %(irradiance)s W/m² is below %(minimum)s W/m²: not compliant with IEC TS 62446-3",
                irradiance=format(g, ".0f"),
                minimum=format(IEC_MIN_IRRADIANCE_W_M2, ".0f"),
            )
        ]
    return True, []


def _single_view_note(modules: Sequence[ModuleResult]) -> list[str]:
    """The summary's note on the modules seen whole in one frame only, whose hot patterns the reflection
    filter could not check (:func:`merge_views`): a flight with too little overlap, or cut short."""
    once = sum(1 for m in modules if m.frames_seen == 1)
    if not once:
        return []
    return [
        msg(
            "%(count)s of %(seen)s modules were seen whole in one frame only, where a sun reflection cannot "
            "be told from a hot pattern; the plant's flight plan shows every module whole in two frames",
            count=str(once),
            seen=str(len(modules)),
        )
    ]


def _classifier_note(classifier: ModuleClassifier) -> list[str]:
    """The summary's note on how the modules were classified, for a classifier other than the rules."""
    note = getattr(classifier, "note", None)
    return [note] if isinstance(note, str) else []


def _finding_order(f: Finding) -> tuple[int, float, str]:
    return -f.coa, -abs(f.delta_tn_k if f.delta_tn_k is not None else f.delta_t_k), f.module_id


def _make_finding(
    module_id: str,
    v: ViewClass,
    views: list[_View],
    g: float | None,
    r: ModuleResult,
    sources: list[str],
    cell_px: Sequence[float],
) -> Finding:
    """The finding ``v`` on a module from its ``views``; ``cell_px`` is a cell's area in each frame [px²]
    (NaN where unknown), by which the pattern's spot (:attr:`ViewClass.spot_cells`) is measured in the
    frames' pixels (:func:`spot_px`)."""
    dtn = v.delta_t_k * 1000 / g if g else None
    band = max(dtn if dtn is not None else v.delta_t_k, 0.0)
    agreeing = [w for w in views if _FAMILIES.get(w.cls.anomaly) == _FAMILIES.get(v.anomaly)]
    details: dict[str, Any] = {"views": len(views), "reflection_checked": len(views) > 1}
    if v.location is not None:
        details["location"] = [round(v.location[0], 3), round(v.location[1], 3)]
    spot = spot_px([w for w in agreeing if w.cls.anomaly is v.anomaly], cell_px)
    if spot is not None:
        details["spot_px"] = round(spot, 1)
        details["delta_t_lower_bound"] = spot < MEASUREMENT_SPOT_PX
    if agreeing and agreeing[0].pixel is not None:  # the module in the first frame of the evidence
        details["pixel"] = [round(agreeing[0].pixel[0]), round(agreeing[0].pixel[1])]
    return Finding(
        module_id, v.anomaly, round(v.delta_t_k, 2), None if dtn is None else round(dtn, 2),
        round(r.t_max_c, 2), severity(band, v.anomaly), class_of_abnormality(v.anomaly, band), len(views),
        round(v.confidence, 3), r.lon, r.lat, tuple(sources[w.frame] for w in agreeing), details,
    )  # fmt: skip


MEASUREMENT_SPOT_PX = 9.0
"""Least area of a pattern, in pixels of the frame, whose temperature a thermal camera measures in full:
3 × 3 px (Optris Xi 400 manual, "MFOV: recommended smallest measured object size of 3 × 3 pixel"; Fluke's
field-of-view calculator: the spot needed for an accurate temperature is 2–3 times the pixel's). A smaller
pattern is blurred into its surroundings by the optics and the pixels and reads cooler than it is (the
size-of-source effect; Sensors 2021, 21(2), 607): on the synthetic nadir flights at the screening GSD
(5 px per cell) a hot spot's measured ΔT is 0.48 of the planted one (0.37–0.54, 16 hot spots), a junction
box's 0.76, a whole hot cell's 1.01 (``scripts/pv/evaluate_synthetic.py --seeds 0 1 2 3 --delta-t``). A
finding whose pattern is smaller says its ΔT is a lower bound (``details["delta_t_lower_bound"]``) [px²]."""


def spot_px(views: Sequence[_View], cell_px: Sequence[float]) -> float | None:
    """Median area of a localised pattern at or above half its peak over ``views`` (their
    :attr:`ViewClass.spot_cells` times a cell's area in their frame, ``cell_px`` [px²]) [px²]; ``None``
    when no view measured it."""
    areas = [
        w.cls.spot_cells * cell_px[w.frame]
        for w in views
        if w.cls.spot_cells is not None and 0 <= w.frame < len(cell_px) and math.isfinite(cell_px[w.frame])
    ]
    return _med(areas) if areas else None


class LayoutFreeAccumulator:
    """Per-module results from photos alone, without a plant layout.

    Each frame's modules are segmented (:func:`.georef.segment_modules`) and resampled along their long
    side (rows) on the cell grid of ``module_type``; the neighbour reference uses the modules within
    ``neighbour_px`` in the same frame. When the frames carry GPS, altitude and a known camera, a module
    seen in several frames is recognised by its ground position (within ``match_m``) and gets one id
    (``X-00001``…); otherwise each frame's modules are reported on their own (``F0003-017``). With a pose,
    each module's map is turned to start at the north end of its long side (the high edge of a portrait
    module facing south), so a pattern stays in one place over the views; the low edge is assumed to face
    south, which is where shading, vegetation and soiling are looked for. Three or more homogeneously warm
    modules side by side are reported as a string (the wiring is unknown).

    Parameters
    ----------
    camera : ThermalCamera, optional
        Payload when the metadata do not name a known one.
    module_type : ModuleType
        Module format (cell grid) [-].
    irradiance_w_m2 : float, optional
        Plane-of-array irradiance [W m-2]; default the median of the frames' metadata.
    height_m : float, optional
        Camera height above the modules [m].
    module_plane_rel_m : float
        Module plane above the take-off point [m].
    classifier : ModuleClassifier, optional
        Default :class:`RuleClassifier`.
    match_m : float
        Largest distance between two sightings of one module [m].
    neighbour_px : float
        Radius of the neighbour reference in the frame [px].
    """

    def __init__(
        self,
        camera: ThermalCamera | None = None,
        *,
        module_type: ModuleType = MODULE_TYPES["72"],
        irradiance_w_m2: float | None = None,
        height_m: float | None = None,
        module_plane_rel_m: float = 0.0,
        classifier: ModuleClassifier | None = None,
        match_m: float = 0.4,
        neighbour_px: float = 150.0,
    ) -> None:
        self.camera = camera
        self.module_type = module_type
        self.irradiance_w_m2 = irradiance_w_m2
        self.height_m = height_m
        self.module_plane_rel_m = module_plane_rel_m
        self.classifier: ModuleClassifier = classifier or RuleClassifier()
        self.match_m = match_m
        self.neighbour_px = neighbour_px
        self.origin: LocalFrame | None = None
        self._grid = _PointGrid(2 * match_m)  # where each module (its id in ``_ids``) was mapped
        self._ids: list[str] = []
        self._views: dict[str, list[_View]] = {}
        self._sources: list[str] = []
        # a cell's area in each frame, in the camera's pixels [px²] (NaN where not analysed)
        self._cell_px: list[float] = []
        self._irradiances: list[float] = []
        # where each frame's view was on the ground (east, north; NaN where unknown), for the frames' path
        # (:func:`_path_m`)
        self._places: list[tuple[float, float]] = []
        self._frames_used = 0

    def add(self, frame: ThermalFrame) -> FrameReport:
        """Segment and analyse one frame."""
        return self.place(self.segment(frame))

    def segment(self, frame: ThermalFrame) -> SegmentedFrame:
        """The part of :meth:`add` that needs no other frame: the frame's modules found, placed on the
        ground when it can be (the first frame with a position sets :attr:`origin` if it is not set), and
        analysed. Frames can be segmented in parallel by copies of this accumulator whose ``origin`` is
        set beforehand, then placed in flight order (:meth:`place`)."""
        meta = frame.meta
        if self.origin is None and meta.lat is not None and meta.lon is not None:
            self.origin = LocalFrame(meta.lon, meta.lat)
        cam, height = camera_and_height(meta, self.camera, self.height_m, self.module_plane_rel_m)
        resampled = bool(meta.oblique and cam is not None and height is not None)
        if resampled:
            # an oblique frame is segmented in its nadir view, where every module has one size; one whose
            # camera or height is unknown, as it is
            temperature, why = _holes_filled(frame)
            if temperature is None:
                return _left_out(meta, why, SKIP_NO_TEMPERATURE)
            nadir, why = _nadir(frame, temperature, cam, height)
            if nadir is None:
                return _left_out(meta, why, SKIP_OBLIQUE)
            frame, meta = nadir, nadir.meta
        rects = segment_modules(frame.temperature_c)
        if len(rects) < 2:
            return _left_out(meta, msg("no array of module rectangles found"), SKIP_NO_MODULES)
        geometry = self._geometry(frame)
        if geometry is not None:
            rects = [_facing_south(r, geometry) for r in rects]
        t = self.module_type
        crops = rect_crops(frame.temperature_c, rects, (t.cells_short, t.cells_long), SAMPLES_PER_CELL)
        rows = np.array([r.row for r in rects])
        cols = np.array([r.col for r in rects])
        d = np.hypot(rows[:, None] - rows[None], cols[:, None] - cols[None])
        np.fill_diagonal(d, np.inf)
        near = np.where(d <= self.neighbour_px, np.arange(len(rects))[None, :], -1)
        views = frame_views(
            crops, rows / meta.height_px, cols / meta.width_px, near, -1,
            _for_view(self.classifier, oblique=resampled), (t.cells_short, t.cells_long), True,
        )  # fmt: skip
        # where each module is in the frame file (an oblique frame's, mapped back from its nadir view)
        at_r, at_c = source_pixels(meta.extra.get("oblique", {}), rows, cols) if resampled else (rows, cols)
        for view, r, c in zip(views, at_r.tolist(), at_c.tolist(), strict=True):
            view.pixel = (r, c) if math.isfinite(r) and math.isfinite(c) else None
            view.resampled = resampled
        rgb = frame.rgb
        if rgb is not None and rgb.ndim == 3 and rgb.shape[:2] == frame.temperature_c.shape:
            cells = (t.cells_short, t.cells_long)
            luma, green = (_inner(rect_crops(x, rects, cells, 2), RGB_BORDER) for x in luma_and_green(rgb))
            for view, (index, has) in zip(views, _rgb_of_crops(luma, green).tolist(), strict=True):
                view.rgb_soiling = index if has else None
        cell_px = float(np.median([r.length_px * r.width_px for r in rects])) / t.cells
        cell_px /= _view_px_per_source_px(meta)
        return SegmentedFrame(meta.source, meta.irradiance_w_m2, geometry, rows, cols, views, cell_px=cell_px)

    def place(self, segmented: SegmentedFrame) -> FrameReport:
        """Give a segmented frame's modules their ids (:meth:`segment`), in flight order."""
        n = len(self._sources)
        self._sources.append(segmented.source)
        self._cell_px.append(segmented.cell_px)
        g = segmented.geometry
        self._places.append((math.nan, math.nan) if g is None else (g.x_m, g.y_m))
        if segmented.irradiance_w_m2 is not None:
            self._irradiances.append(segmented.irradiance_w_m2)
        if segmented.rows is None or segmented.cols is None:
            why, reason = segmented.skipped, segmented.skip_reason
            return FrameReport(segmented.source, 0, skipped=why, skip_reason=reason)
        for view in segmented.views:
            view.frame = n
        if segmented.geometry is None:
            ids = [f"F{n:04d}-{k:03d}" for k in range(len(segmented.views))]
        else:
            ids = self._identify(segmented.geometry, segmented.rows, segmented.cols)
        for mid, view in zip(ids, segmented.views, strict=True):
            self._views.setdefault(mid, []).append(view)
        self._frames_used += 1
        return FrameReport(segmented.source, len(segmented.views))

    def _geometry(self, frame: ThermalFrame) -> FrameGeometry | None:
        meta = frame.meta
        if self.origin is None:
            return None
        try:
            return frame_geometry(meta, self.origin, self.camera, height_m=self.height_m,
                                  module_plane_rel_m=self.module_plane_rel_m)  # fmt: skip
        except ValueError:
            return None

    def _strings(self, findings: list[Finding], where: Mapping[str, tuple[float, float]]) -> list[Finding]:
        """Relabel three or more homogeneously warm modules side by side as a string fault.

        Without a layout the wiring is unknown; modules count as side by side when their centres are
        closer than 1.3 times the typical distance between neighbouring modules (the module pitch along a
        row; rows are further apart).
        """
        warm = [f for f in findings if f.anomaly_class is Anomaly.MODULE_OFFLINE and f.module_id in where]
        if len(warm) < 3 or len(self._grid.points) < 2:
            return findings
        # each module's nearest other module (a k-d tree: the whole distance matrix of a plant's 17,000
        # modules would take gigabytes)
        gaps, _ = cKDTree(np.array(self._grid.points)).query(self._grid.points, k=2)
        pitch = float(np.median(gaps[:, 1]))
        xy = np.array([where[f.module_id] for f in warm])
        close = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]) < 1.3 * pitch
        _, labels = _components(close)
        sizes = np.bincount(labels)
        string_ids = {warm[i].module_id for i in range(len(warm)) if sizes[labels[i]] >= 3}
        return [
            dataclasses.replace(f, anomaly_class=Anomaly.STRING_OFFLINE) if f.module_id in string_ids else f
            for f in findings
        ]

    def _identify(self, geometry: FrameGeometry, rows: FloatArray, cols: FloatArray) -> list[str]:
        xs, ys = geometry.pixel_to_xy(rows, cols)
        if self._grid.points:
            # one translation step of ICP: the median offset to the modules already mapped absorbs the
            # frame's GPS error before matching
            reach = 2 * self.match_m
            nearest = [self._grid.nearest(x, y, reach) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
            close = [(k, i) for i, (k, d) in enumerate(nearest) if d < reach]
            if len(close) >= 5:
                known = np.array([self._grid.points[k] for k, _ in close])
                at = [i for _, i in close]
                xs = xs + float(np.median(known[:, 0] - xs[at]))
                ys = ys + float(np.median(known[:, 1] - ys[at]))
        ids = []
        for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
            k, d = self._grid.nearest(x, y, self.match_m)
            if d <= self.match_m:
                ids.append(self._ids[k])
                continue
            self._ids.append(f"X-{len(self._ids) + 1:05d}")
            self._grid.add(x, y)
            ids.append(self._ids[-1])
        return ids

    def result(self) -> InspectionResult:
        """Per-module results and findings so far (ids as in the class description)."""
        g = self.irradiance_w_m2
        if g is None and self._irradiances:
            g = float(np.median(self._irradiances))
        where = dict(zip(self._ids, self._grid.points, strict=True))
        modules, findings, rejected = [], [], 0
        every = [v for views in self._views.values() for v in views]
        shifts = frame_level_shifts(
            np.array([v.frame for v in every], dtype=np.int64),
            np.array([v.median - v.corrected for v in every], dtype=np.float64),
            _path_m(self._places),
        )
        for mid in sorted(self._views):
            views = _level_corrected(self._views[mid], shifts)
            lon, lat = (
                self.origin.to_lonlat(*where[mid])
                if self.origin is not None and mid in where
                else (math.nan,) * 2
            )
            r = ModuleResult(
                mid, len(views), _med(v.median for v in views), _med(v.p95 for v in views),
                _med(v.max for v in views), _med(v.corrected + shifts.get(v.frame, 0.0) for v in views),
                _med(v.soiling for v in views), lon, lat, _rgb(views),
            )  # fmt: skip
            modules.append(r)
            views = _voting(views, shifts)
            merged, dropped = merge_views([v.cls for v in views], oblique=_any_resampled(views))
            rejected += dropped
            if merged is not None:
                findings.append(_make_finding(mid, merged, views, g, r, self._sources, self._cell_px))
        findings = self._strings(findings, where)
        findings.sort(key=_finding_order)
        compliant, notes = _conditions(g)
        notes += _classifier_note(self.classifier)
        notes.append(
            msg("no plant layout: modules segmented in each frame; strings are runs of warm neighbours")
        )
        return InspectionResult(
            tuple(modules), tuple(findings), len(self._sources), self._frames_used, g, compliant, rejected,
            {}, tuple(notes),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SegmentedFrame:
    """One frame's modules as :meth:`LayoutFreeAccumulator.segment` found them: centres [px] (``None``
    when the frame showed no array of modules), the frame's pose on the ground when it has one, and a
    view of each module, numbered when the frame is placed."""

    source: str
    irradiance_w_m2: float | None
    geometry: FrameGeometry | None
    rows: FloatArray | None
    cols: FloatArray | None
    views: list[_View]
    skipped: str = ""
    skip_reason: str = ""
    cell_px: float = math.nan
    """A cell's area in the frame (the median module's) [px²]."""


def _left_out(meta: FrameMeta, why: str, reason: str) -> SegmentedFrame:
    """A frame :meth:`LayoutFreeAccumulator.segment` leaves out: why, and its kind (:data:`SKIP_REASONS`)."""
    return SegmentedFrame(meta.source, meta.irradiance_w_m2, None, None, None, [], why, reason)


class _PointGrid:
    """Points in square cells of ``cell`` [m], for the nearest point within a distance of a few cells
    without measuring the distance to every point."""

    def __init__(self, cell: float) -> None:
        self.cell = cell
        self.cells: dict[tuple[int, int], list[int]] = {}
        self.points: list[tuple[float, float]] = []

    def add(self, x: float, y: float) -> None:
        """Add a point; points are numbered 0, 1, … in the order added."""
        key = (math.floor(x / self.cell), math.floor(y / self.cell))
        self.cells.setdefault(key, []).append(len(self.points))
        self.points.append((x, y))

    def nearest(self, x: float, y: float, within: float) -> tuple[int, float]:
        """The nearest point no further than ``within`` and its distance, the first added of equals;
        (-1, inf) when there is none."""
        reach = math.ceil(within / self.cell)
        ci, cj = math.floor(x / self.cell), math.floor(y / self.cell)
        best, best_d = -1, math.inf
        for i in range(ci - reach, ci + reach + 1):
            for j in range(cj - reach, cj + reach + 1):
                for k in self.cells.get((i, j), ()):
                    px, py = self.points[k]
                    d = math.hypot(px - x, py - y)
                    if d < best_d or (d == best_d and k < best):
                        best, best_d = k, d
        return (best, best_d) if best_d <= within else (-1, math.inf)


def frame_views(
    crops: F32,
    rows: FloatArray,
    cols: FloatArray,
    near: npt.NDArray[np.intp],
    frame: int,
    classifier: ModuleClassifier,
    cell_grid: tuple[int, int],
    portrait: bool,
) -> list[_View]:
    """:func:`frame_statistics` as one view per module, numbered ``frame``."""
    stats, classes = frame_statistics(crops, rows, cols, near, classifier, cell_grid, portrait)
    return [
        _View(frame, med, p95, mx, corrected, soiling, cls)
        for (med, p95, mx, corrected, soiling), cls in zip(stats.tolist(), classes, strict=True)
    ]


def frame_statistics(
    crops: F32,
    rows: FloatArray,
    cols: FloatArray,
    near: npt.NDArray[np.intp],
    classifier: ModuleClassifier,
    cell_grid: tuple[int, int],
    portrait: bool,
    *,
    peaks: F32 | None = None,
    detail: Callable[[npt.NDArray[np.intp]], F32] | None = None,
) -> tuple[FloatArray, list[ViewClass]]:
    """Statistics, reference, class and soiling of every module seen in one frame.

    Parameters
    ----------
    crops : ndarray, shape (N, rows, cols)
        Module temperature maps [°C].
    rows, cols : ndarray, shape (N,)
        Module centres in the frame, as fractions of its height and width [-].
    near : ndarray of int, shape (N, K)
        Indices into ``crops`` of each module's neighbours, −1 for none.
    classifier : ModuleClassifier
        Classifier of the suspicious maps.
    cell_grid : (int, int)
        Cells along × across the maps' columns and rows.
    portrait : bool
        Whether the bypass-diode substrings split the columns.
    peaks : ndarray, shape (N,), optional
        The hottest pixel under each map's interior [°C] (:func:`.georef.module_crops_and_peaks`); the
        maximum is at least this.
    detail : callable, optional
        Given indices into ``crops``, those modules' maps at :data:`SAMPLES_PER_CELL` samples a cell. With
        it (and ``peaks``), ``crops`` are thinned maps (:func:`.georef.thinned`): the statistics are read
        off them as those of the full maps (:func:`_order_statistics`, :func:`_soiling_as`), and only the
        modules they flag (:func:`_coarse_screen`) are resampled in full, screened again and classified as
        without it.

    Returns
    -------
    stats : ndarray, shape (N, 5)
        Per module: median, 95th percentile and maximum [°C], median minus the reference [K], soiling
        index [0–1].
    classes : list of ViewClass
        Per module.
    """
    n = len(crops)
    full = (
        crops.shape[1:]
        if detail is None
        else (cell_grid[1] * SAMPLES_PER_CELL, cell_grid[0] * SAMPLES_PER_CELL)
    )
    inner, picked = _order_statistics(crops, (full[0], full[1]))
    size = full[0] * full[1]
    med = _median_pick(picked[:, 0], picked[:, 1], size % 2 == 1, picked[:, 4]).astype(np.float64)
    p95 = _percentile_pick(picked[:, 2], picked[:, 3], size, 95, picked[:, 4]).astype(np.float64)
    # the maximum (NaN when the map has one, as max gives)
    mx = picked[:, 4] if peaks is None else np.maximum(picked[:, 4], peaks)
    # reference: the surface plus the median residual of the normal neighbours seen in this frame
    ref = _robust_surface(rows, cols, med, near)[2]
    offset = ref.astype(np.float32)
    if detail is None or peaks is None:
        residuals = crops - offset[:, None, None]
        edge = _edge_warmth(residuals)
        interior = _flatten_ring(residuals, _interior_medians(inner, picked[:, 4], offset))
        # the ring now holds the interior median, so that is the whole map's median too
        soiling = soiling_indices(residuals)
        _edge_to_ring(residuals, interior, edge)
        classes = screen_and_classify(residuals, classifier, cell_grid, portrait, medians=interior)
    else:
        residuals, suspect = _coarse_screen(crops, offset, inner, picked[:, 4], peaks, (full[0], full[1]))
        flagged = np.flatnonzero(suspect)
        classes = [NORMAL] * n
        if len(flagged):
            raw = detail(flagged)
            # a hot spot smaller than a cell can sit on a pixel that no thinned sample's four reach: the
            # full map's maximum counts for the modules that have one
            mx[flagged] = np.maximum(mx[flagged], raw.reshape(len(flagged), -1).max(axis=1))
            fine = raw - offset[flagged, None, None]
            fine_edge = _edge_warmth(fine)
            medians = _flatten_ring(fine)
            _edge_to_ring(fine, medians, fine_edge)
            found = screen_and_classify(fine, classifier, cell_grid, portrait, medians=medians)
            for i, v in zip(flagged.tolist(), found, strict=True):
                classes[i] = v
        soiling = _soiling_as(residuals, (full[0], full[1]))
    return np.column_stack([med, p95, mx, med - ref, soiling]), classes


def _coarse_screen(
    crops: F32, offset: F32, inner: F32, last: F32, peaks: F32, full: tuple[int, int]
) -> tuple[F32, npt.NDArray[np.bool_]]:
    """The residuals of thinned maps (``crops − offset``, their rings set to the interior medians from the
    sorted interiors ``inner``, as :func:`_flatten_ring` of :func:`_interior_medians`) and which of them
    :func:`screen_and_classify`'s test flags, lenient so that it flags the maps the full test would: the
    hottest pixel under the interior (``peaks``, less the reference) for the maximum, which a hot spot
    smaller than a cell sets and every other sample misses; the same rows left out next to the frame for the
    minimum (a thinned map's first two are the full map's); the warm share of the interior scaled to the
    full map's (whose ring, set to the median, never counts) and lowered by :data:`SCREEN_WARM_SHARE`; and a
    warmth along the frame (:func:`_edge_warmth`, before the ring is flattened: a thinned map keeps the ring
    and the line next to it on every side, :func:`.georef.thinned`) of at least that share of
    :data:`SCREEN_PEAK_K`. One compiled pass per map (:func:`.kernels.coarse_screen`) instead of about twenty
    numpy calls."""
    from gongzhi.modules.pv.analytics import kernels

    n, rows, cols = crops.shape
    share = 0.1 * (full[0] * full[1]) / ((full[0] - 2) * (full[1] - 2))  # of the interior, as the full test
    share *= (rows - 2) * (cols - 2) / (rows * cols) * SCREEN_WARM_SHARE
    # lenient as the rest of the coarse screen, which asks only whether a thinned map reaches the mark
    edge_mark = SCREEN_WARM_SHARE * SCREEN_PEAK_K
    residuals = np.empty(crops.shape, dtype=np.float32)
    medians = np.empty(n, dtype=np.float32)
    suspect = np.empty(n, dtype=bool)
    kernels.coarse_screen(
        np.ascontiguousarray(crops, dtype=np.float32), offset, np.ascontiguousarray(inner),
        np.ascontiguousarray(last), np.ascontiguousarray(peaks, dtype=np.float32), SCREEN_PEAK_K,
        SOILING_WARM_K, 2, share, EDGE_WINDOW, edge_mark, residuals, medians, suspect,
    )  # fmt: skip
    return residuals, suspect


def _even_interior(thin: F32) -> F32:
    """The samples of thinned maps (:func:`.georef.thinned`, even side lengths) that stand for the full map's
    interior evenly, two rows and two columns of it each: the interior less the row and column next to the
    far side's frame, which the thinned map keeps for the screen and the peaks (a crack's warmth along that
    frame) but which would count that band twice."""
    return thin[:, 1:-2, 1:-2]


def _soiling_as(residuals: F32, full: tuple[int, int]) -> FloatArray:
    """:func:`soiling_indices` of the full maps (``full`` samples) estimated from thinned ones, their rings
    set to the interior medians: the warm share of the interior (:func:`_even_interior`) stands for the full
    map's interior, and the ring, warm or not as its one value is, for the full map's ring (a thinned map's
    ring is nearly twice its share: 76 of 364 samples against 140 of 1,152)."""
    from gongzhi.modules.pv.analytics import kernels

    n = len(residuals)
    # the thinned rows of the full map's upper third
    third = max(1, int(np.searchsorted(thinned(full[0]), full[0] // 3)))
    top = row_medians(residuals[:, :third].reshape(n, -1))
    share = np.empty(n, dtype=np.float64)
    kernels.warm_fractions(np.ascontiguousarray(_even_interior(residuals)), top, SOILING_WARM_K, share)
    size, interior = full[0] * full[1], (full[0] - 2) * (full[1] - 2)
    ring_warm = residuals[:, 0, 0] - top > SOILING_WARM_K
    return np.asarray((share * interior + ring_warm * (size - interior)) / size, dtype=np.float64)


def screen_and_classify(
    residuals: F32,
    classifier: ModuleClassifier,
    cell_grid: tuple[int, int],
    portrait: bool,
    *,
    medians: F32 | None = None,
) -> list[ViewClass]:
    """Classify only the maps that deviate from a healthy module (the rest are :data:`NORMAL`).

    A map is suspicious when its maximum is :data:`SCREEN_PEAK_K` above its median, its interior dips 2 K
    below the reference, its median is 1.5 K off, or a tenth of it is ``SOILING_WARM_K`` above its median.
    ``medians`` are the maps' interior medians [K], which their rings hold (:func:`_flatten_ring`), and so
    the maps' medians, when the caller has them (else they are computed); the rules
    (:class:`RuleClassifier`) then take them too.
    """
    from gongzhi.modules.pv.analytics import kernels

    flat = residuals.reshape(len(residuals), -1)
    med = np.median(flat, axis=1) if medians is None else medians
    # the rows next to the frames catch the cold gap through the optics: the minimum leaves them out
    suspect = np.empty(len(residuals), dtype=bool)
    no_peaks = np.full(len(residuals), -np.inf, dtype=np.float32)
    kernels.screen(np.ascontiguousarray(residuals, dtype=np.float32), np.asarray(med, dtype=np.float32),
                   no_peaks, SCREEN_PEAK_K, SOILING_WARM_K, 2, 0.1, suspect)  # fmt: skip
    out = [NORMAL] * len(residuals)
    idx = np.flatnonzero(suspect)
    if len(idx):
        maps = residuals[idx]
        if medians is not None and isinstance(classifier, RuleClassifier):
            # the rules' own medians of these maps are these (:func:`_median_given`)
            found = classifier(maps, cell_grid, SAMPLES_PER_CELL, portrait, medians=medians[idx])
        else:
            found = classifier(maps, cell_grid, SAMPLES_PER_CELL, portrait)
        for i, v in zip(idx.tolist(), found, strict=True):
            out[i] = v
    return out


def _order_statistics(crops: F32, full: tuple[int, int] | None = None) -> tuple[F32, F32]:
    """Each map's interior (less its outermost samples) sorted, and of the whole map the values at the two
    middle ranks, at the two ranks about the 95th percentile and the maximum, (N, 5): those of the map's
    values sorted, from its interior and its ring sorted apart (:func:`.kernels.union_ranks`), so that the
    interior's median needs no other sort and the ring's sort is all that is added to the interior's. NaN
    throughout for a map with a NaN.

    With ``full``, the shape of the full maps of thinned ones (:func:`.georef.thinned`), the ranks are the
    full map's and each value of the interior (:func:`_even_interior`) and of the ring stands for its share
    of that map's (:func:`.kernels.weighted_ranks`): a thinned map's ring, the cool frame, is nearly twice the
    share of a full map's, which would pull its median down."""
    from gongzhi.modules.pv.analytics import kernels

    n, rows, cols = crops.shape
    full_rows, full_cols = (rows, cols) if full is None else full
    size = full_rows * full_cols
    same = (full_rows, full_cols) == (rows, cols)
    inner = (crops[:, 1:-1, 1:-1] if same else _even_interior(crops)).copy().reshape(n, -1)
    inner.sort(axis=1)
    ring = np.concatenate([crops[:, 0, :], crops[:, -1, :], crops[:, 1:-1, 0], crops[:, 1:-1, -1]], axis=1)
    ring.sort(axis=1)
    p95 = math.floor(0.95 * (size - 1))
    ranks = np.array([(size - 1) // 2, size // 2, p95, min(p95 + 1, size - 1), size - 1], dtype=np.intp)
    picked = np.empty((n, len(ranks)), dtype=np.float32)
    if same:
        kernels.union_ranks(inner, ring, ranks, picked)
    else:
        interior = (full_rows - 2) * (full_cols - 2)
        weights = interior / inner.shape[1], (size - interior) / ring.shape[1]
        kernels.weighted_ranks(inner, ring, *weights, ranks, picked)
    return inner, picked


def _interior_medians(inner: F32, last: F32, offset: F32) -> F32:
    """Medians of the interior of ``crops − offset`` from the interiors sorted (:func:`_order_statistics`):
    ``value − offset`` is monotone in the value, so the middle values less the offset are the middle
    residuals, in float32 as :func:`row_medians` of the interior residuals gives them; NaN where the whole
    map has a NaN (``last``, its maximum, is NaN)."""
    count = inner.shape[1]
    return _median_pick(
        inner[:, (count - 1) // 2] - offset, inner[:, count // 2] - offset, count % 2 == 1, last
    )


def _flatten_ring(residuals: F32, medians: F32 | None = None) -> F32:
    """Set the outermost samples of each map (the module's frame) to the map's interior median (``medians``
    when the caller has them), in place; returns those medians."""
    if medians is None:
        medians = row_medians(residuals[:, 1:-1, 1:-1].reshape(len(residuals), -1)).astype(np.float32)
    interior = medians[:, None]
    residuals[:, 0, :] = interior
    residuals[:, -1, :] = interior
    residuals[:, :, 0] = interior
    residuals[:, :, -1] = interior
    return medians


def _edge_warmth(
    residuals: F32, at_least: float = 0.0
) -> tuple[F32, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The warmth of each map's glass hidden along its frame [K], and the ring sample (row, column) of it.

    A crack can leave a warm sliver of a cell against the module's frame, reaching only a few centimetres
    in (synthetic seeds 85 and 86: 7–11 cm, less the frame's 2 cm). The optics and the sampling spread its
    warmth over the ring of samples on the frame and the line of glass inside it, so neither holds more
    than about half of it. Each of these two lines is measured against its running median along the side
    (:data:`EDGE_WINDOW` samples: the frame, the gap between the rows and a registration error change
    slowly along a side, a crack's sliver spans at most one cell of it), and the sliver's warmth is the
    sum of what lies above those medians across the edge at one place: the blur moves warmth between the
    two samples but keeps its sum. Only warmth counts (the ring's cold contamination never does), and only
    where the line of glass holds at least as much of it as the ring: warmth leaking in from beyond the
    frame (a neighbour's hot cell) is strongest on the ring. The two samples next to each corner, where two
    sides' frames meet, are left out. A compiled loop (:func:`.kernels.edge_warmth`): the running medians
    in numpy cost about a fifth of the frame's analysis.

    Parameters
    ----------
    residuals : ndarray, shape (N, rows, cols)
        Module maps minus their reference [K], ring not yet flattened (:func:`_flatten_ring`); full or
        thinned (:func:`.georef.thinned`, which keeps the ring and the line next to it on every side).
    at_least : float
        The warmth the caller asks only whether a map reaches [K]: the places along a side that cannot
        reach it (a line's excess over its least value along the side bounds its excess over any median
        of it) are not measured, so a map under it may read less than its warmth.

    Returns
    -------
    warmth : ndarray, shape (N,)
        The largest sum along the frame [K], 0 where none counts (the first place of it, sides in the
        order high, low, left, right edge of the map).
    rows, cols : ndarray of int, shape (N,)
        The ring sample at that place.
    """
    from gongzhi.modules.pv.analytics import kernels

    n = len(residuals)
    best = np.empty(n, dtype=np.float32)
    at_r, at_c = np.empty(n, dtype=np.intp), np.empty(n, dtype=np.intp)
    kernels.edge_warmth(
        np.ascontiguousarray(residuals, dtype=np.float32), EDGE_WINDOW, at_least, best, at_r, at_c
    )
    return best, at_r, at_c


def _edge_to_ring(
    residuals: F32, medians: F32, edge: tuple[F32, npt.NDArray[np.intp], npt.NDArray[np.intp]]
) -> None:
    """Put the warmth along the frame (:func:`_edge_warmth`) on its ring sample of the flattened maps, in
    place, where the glass shows nothing the screen would see (its maximum under :data:`SCREEN_PEAK_K`
    above the median): so the screen and the crack rule see a sliver the frame hides, while a map whose
    glass shows its warmth (a hot cell at the edge, soiling's dust band) reaches the rules as it was.

    Only where the line of glass inside the ring is, at that place, at least as warm as the module's
    median: a sliver warms the glass it lies on above the module (1.2–1.3 K on seed 85). A line
    colder than that is not glass but the frame or what lies beyond it, and its less cold stretches are no
    sliver: a rectangle segmented a sample too wide at a row's end, in an oblique frame's resampled nadir
    view, lays its ring on the cold roof and its next line on the frame, both stepping with the
    resampling's staircase every dozen samples (photos only at −45°, seeds 1, 5 and 9: three healthy
    modules read as cracks, their line of glass 1.8–2.4 K under the module where the warmth was found; no
    finding of seeds 0–199 on the plant changes)."""
    warmth, at_r, at_c = edge
    n, rows, cols = residuals.shape
    glass_max = residuals.reshape(n, -1).max(axis=1) - medians
    # the line of glass inside the ring at that place, one sample in from it
    in_r = np.clip(at_r + (at_r == 0) - (at_r == rows - 1), 0, rows - 1)
    in_c = np.clip(at_c + (at_c == 0) - (at_c == cols - 1), 0, cols - 1)
    glass = residuals[np.arange(n), in_r, in_c] - medians
    put = np.flatnonzero((glass_max < SCREEN_PEAK_K) & (warmth > glass_max) & (glass >= 0))
    residuals[put, at_r[put], at_c[put]] = medians[put] + warmth[put]


def _facing_south(rect: ModuleRect, geometry: FrameGeometry) -> ModuleRect:
    """Turn a segmented module so its maps start at the north end of its long side.

    A rectangle's axis has no sign, and frames of alternate lines look at a module from opposite sides;
    fixing the sign on the ground keeps a pattern in one place on the module in every view. For modules
    facing the equator in portrait (the usual roof in the northern hemisphere) the north end is the high
    edge, as in the layout's maps.
    """
    a = math.radians(rect.angle_deg)
    x0, y0 = geometry.pixel_to_xy(rect.row, rect.col)
    x1, y1 = geometry.pixel_to_xy(rect.row - math.sin(a), rect.col + math.cos(a))
    # map row 0 lies at −e_long: make +e_long point south
    north, east = float(y1 - y0), float(x1 - x0)
    if north > 0 or (north == 0 and east > 0):
        return dataclasses.replace(rect, angle_deg=rect.angle_deg + 180.0)
    return rect


RGB_BORDER = 0.08
"""Share of a module trimmed at each edge before its visible samples are taken: the aluminium frame, and
the registration's few pixels of play."""


def _rgb_columns(
    rgb: npt.NDArray[np.uint8], geometry: FrameGeometry, layout: PlantLayout, positions: npt.NDArray[np.intp],
    centres: FloatArray,
) -> FloatArray:  # fmt: skip
    """Each module's visible soiling index in this photo and whether it has one (1/0), shape (N, 2): the
    clean reference is the :data:`RGB_CLEAN_QUANTILE` of the modules' median lumas."""
    luma, green = luma_and_green(rgb)
    seen = module_crops(luma, geometry, layout, positions, 2, border=RGB_BORDER, centres=centres)
    greens = module_crops(green, geometry, layout, positions, 2, border=RGB_BORDER, centres=centres)
    return _rgb_of_crops(seen, greens)


def _rgb_of_crops(seen: F32, greens: F32) -> FloatArray:
    """:func:`_rgb_columns` of the modules' luma and green-excess maps, shape (N, rows, cols) each."""
    out = np.zeros((len(seen), 2))
    glint = seen >= RGB_GLINT_LUMA
    glinted = bool(glint.any())
    if glinted:  # the glint and its halo (the samples beside a clipped one) are left out
        from scipy import ndimage

        glint = ndimage.binary_dilation(glint, np.ones((1, 3, 3), dtype=bool))
        seen = np.where(glint, np.float32(255), seen)
    samples = seen.reshape(len(seen), -1)
    if glinted:
        with warnings.catch_warnings():  # a module all glint has no level: NaN, and no index
            warnings.simplefilter("ignore", RuntimeWarning)
            levels = np.nanmedian(np.where(samples >= RGB_GLINT_LUMA, np.nan, samples), axis=1)
    else:
        levels = np.median(samples, axis=1)
    if not np.isfinite(levels).any():
        return out
    clean = float(np.nanpercentile(levels, RGB_CLEAN_QUANTILE))
    index = rgb_soiling_indices(samples, clean, greens.reshape(len(seen), -1))
    has = np.isfinite(index)
    out[has, 0], out[has, 1] = index[has], 1.0
    return out


def _inner(crops: F32, border: float) -> F32:
    """Crops of shape (N, rows, cols) with ``border`` of each side trimmed (at least a sample)."""
    _, rows, cols = crops.shape
    r, c = max(1, round(border * rows)), max(1, round(border * cols))
    return crops[:, r : rows - r, c : cols - c]


def _rgb_median(numbers: FloatArray) -> float | None:
    """:func:`_rgb` of one module's rows of a :class:`_ViewTable`."""
    values = numbers[numbers[:, _STATS + 1] > 0, _STATS].tolist()
    return round(float(np.median(values)), 4) if values else None


def _rgb(views: Sequence[_View]) -> float | None:
    values = [v.rgb_soiling for v in views if v.rgb_soiling is not None]
    return round(float(np.median(values)), 4) if values else None


def row_medians(values: F32) -> F32:
    """``np.median(values, axis=1)`` of a 2-D array, by sorting.

    numpy sorts float32 rows with SIMD, about ten times faster than the selection ``np.median`` runs;
    the values are the same (the mean of the two middle values for an even count, NaN for a row with a
    NaN).
    """
    return _median_sorted(_sorted_rows(values))


def _sorted_rows(values: F32) -> F32:
    return np.sort(np.asarray(values, dtype=np.float32), axis=1)


def _median_sorted(ordered: F32) -> F32:
    k = ordered.shape[1]
    return _median_pick(ordered[:, (k - 1) // 2], ordered[:, k // 2], k % 2 == 1, ordered[:, -1])


def _median_pick(a: F32, b: F32, odd: bool, last: F32) -> F32:
    """The median from the values at the two middle ranks (one rank, ``a``, for an ``odd`` count); NaN
    where ``last`` (the largest value) is NaN."""
    med = a if odd else (a + b) / np.float32(2)
    return np.asarray(np.where(np.isnan(last), np.float32(np.nan), med), dtype=np.float32)


def _percentile_pick(a: F32, b: F32, k: int, q: float, last: F32) -> F32:
    """``np.percentile(values, q, axis=1)`` (linear) of rows of ``k`` values, from the values at the ranks
    about the percentile (``a`` at floor(q / 100 · (k − 1)), ``b`` at the next); NaN where ``last`` (the
    largest value) is NaN."""
    pos = q / 100 * (k - 1)
    t = np.float32(pos - math.floor(pos))
    # numpy's lerp: from the nearer end, so that t = 1 gives b exactly
    value = b - (b - a) * (np.float32(1) - t) if t >= 0.5 else a + (b - a) * t
    return np.asarray(np.where(np.isnan(last), np.float32(np.nan), value), dtype=np.float32)


def _percentile(values: npt.NDArray[np.floating[Any]], q: float) -> float:
    """``np.percentile(values, q)`` (linear) of a small array of any shape, by one sort: numpy's virtual
    index and lerp, the same value bit for bit on float32 (the module maps; float64 may differ in the last
    bit), without the general routine's set-up, which cost more than the sort itself."""
    ordered = values.flatten()  # np.sort(values, axis=None) without its wrapper
    ordered.sort()
    n = ordered.size
    quantile = q / 100
    virtual = n * quantile + (1 - quantile) - 1
    lo = min(max(math.floor(virtual), 0), n - 1)
    a, b = ordered[lo], ordered[min(lo + 1, n - 1)]
    t = virtual - lo
    return float(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)


# from this many values a partition finds the median faster than numpy's sort (1,152 values: 5 against
# 10 µs; 384: 3 against 2)
_PARTITION_FROM = 768
_NO_CELLS = np.empty((0, 0), dtype=np.float32)
_NO_THIRDS = np.empty(0, dtype=np.float32)


def _mean(values: F32) -> np.float32:
    """``values.mean()`` of a small 2-D float32 array, the same value bit for bit (numpy's pairwise sum in
    its order, divided by the count in float64 and cast back), by a compiled loop
    (:func:`.kernels.rule_means`): numpy's reduction over a strided part of a map cost 7–13 µs of set-up."""
    from gongzhi.modules.pv.analytics import kernels

    part = np.asarray(values, dtype=np.float32)  # the maps are float32; a view of them stays as it is
    return np.float32(kernels.rule_means(part, 1, False, _NO_CELLS, _NO_THIRDS))


def _cell_means(values: F32, cell_grid: tuple[int, int], k: int) -> F32:
    """``values.reshape(cv, k, cu, k).mean(axis=(1, 3))``, the mean of each cell's k × k samples, the same
    value bit for bit (numpy's sums in numpy's order, divided by the count as an ``intp``), by a compiled
    loop (:func:`.kernels.rule_means`): numpy's reduction over two axes cost about 25 µs of set-up."""
    from gongzhi.modules.pv.analytics import kernels

    cu, cv = cell_grid
    cells = np.empty((cv, cu), dtype=np.float32)
    kernels.rule_means(np.ascontiguousarray(values, dtype=np.float32), k, False, cells, _NO_THIRDS)
    return cells


def _cell_and_third_means(values: F32, cell_grid: tuple[int, int], k: int, portrait: bool) -> tuple[F32, F32]:
    """:func:`_cell_means` and the :func:`_mean` of each third of the cells (the substrings: columns of
    cells in ``portrait``, else rows, cut as :func:`_thirds`), in one compiled call."""
    from gongzhi.modules.pv.analytics import kernels

    cu, cv = cell_grid
    cells = np.empty((cv, cu), dtype=np.float32)
    thirds = np.empty(SUBSTRINGS, dtype=np.float32)
    kernels.rule_means(np.ascontiguousarray(values, dtype=np.float32), k, portrait, cells, thirds)
    return cells, thirds


@lru_cache(maxsize=8)
def _thirds(n: int) -> tuple[slice, ...]:
    """The slices ``np.array_split`` cuts ``n`` items into, one a substring, without its set-up."""
    each, extra = divmod(n, SUBSTRINGS)
    out, start = [], 0
    for i in range(SUBSTRINGS):
        end = start + each + (i < extra)
        out.append(slice(start, end))
        start = end
    return tuple(out)


def _median_3x3(values: F32) -> F32:
    """``ndimage.median_filter(values, size=3, mode="nearest")`` of a small float32 map without NaN, by a
    compiled loop: the filter's set-up cost more than the selection.

    With a NaN the order differs from the filter's; :func:`_hot_cells` then has a NaN base, and no cell is
    hot whatever the surround."""
    from gongzhi.modules.pv.analytics import kernels

    out = np.empty(values.shape, dtype=np.float32)
    kernels.median_3x3(np.ascontiguousarray(values, dtype=np.float32), out)
    return out


def _median(values: npt.NDArray[np.floating[Any]]) -> float:
    """``np.median`` of a small array of any shape by one sort (the same value, in the array's precision;
    NaN when any is NaN), without the general routine's set-up, which cost more than the sort. From
    :data:`_PARTITION_FROM` values on (a whole module map) a partition about the middle ranks and the last
    instead (``np.median``'s own way, NaN last as in a sort): half the sort's time there, slower on fewer."""
    return _median_kept(values)[0]


def _median_kept(values: npt.NDArray[np.floating[Any]]) -> tuple[float, bool]:
    """:func:`_median`, and whether setting any of the values to it keeps it their median bit for bit.

    It does when the median is a middle value itself (an odd count, or two equal middle values) that is
    finite and not zero: setting values to it leaves at most as many below it and above it as before, so
    the middle ranks still hold it; a zero's sign could change with the zero that lands there.
    """
    ordered = values.flatten()  # np.sort(values, axis=None) without its wrapper
    n = ordered.size
    if n >= _PARTITION_FROM:
        ordered.partition((n // 2 - 1, n // 2, n - 1))
    else:
        ordered.sort()
    if n == 0 or math.isnan(ordered[-1]):
        return math.nan, False
    mid = n // 2
    if n % 2:
        median = float(ordered[mid])
        return median, math.isfinite(median) and median != 0
    median = float((ordered[mid - 1] + ordered[mid]) / 2)
    return median, bool(ordered[mid - 1] == ordered[mid]) and math.isfinite(median) and median != 0


def _med(values: Iterable[float]) -> float:
    """Median of a module's few views, as ``np.median`` (NaN if any is NaN) without its per-call set-up,
    which made up most of :meth:`InspectionAccumulator.result` on a large plant."""
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    if n == 0 or any(math.isnan(v) for v in ordered):
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _robust_surface(
    r: FloatArray, c: FloatArray, values: FloatArray, near: npt.NDArray[np.intp] | None = None
) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray]:
    """Quadratic surface through the module medians of a frame, fitted to the inliers only, and each
    module's reference: the surface plus the median residual of its inlying neighbours (``near``, indices,
    −1 for none; the surface alone where none is an inlier).

    Inliers lie within max(0.7 K, 3 MAD) of the current fit, and never more than
    :data:`SURFACE_INLIER_MAX_K` from it nor from the first fit (the middle of the densest half of the
    medians: the shortest interval holding more than half of them), so a warm string or a shaded block
    does not pull the surface. Beyond the last fit's inliers the surface stays within
    :data:`SURFACE_REACH_K` of its range over them. Returns the surface, the inlier mask and the
    references.

    The caps matter where an open string fills nearly half of a frame (a frame at the plant's edge that
    sees two rows, one of them the string): the MAD about the first fit then takes in the gap between the
    two levels, 3 MAD reaches the string, and the quadratic, free across the two rows, bends through both.
    The frame's median then lies at the top of the healthy modules, so a string at 3 K, the least an open
    string shows, had modules within the cap of it; once they were in, the surface stepped up across the
    rows towards them and took in the next ones round by round (seed 84). The optics and the plant's
    gradient move a healthy module's median less than the cap from the healthy modules' level, so nothing
    beyond it is background in any round.

    A compiled loop (:func:`.kernels.robust_surface`): the rounds in numpy (a fit of about 100 points, up to
    four rounds of medians and masks) cost more in numpy's set-up per call than in arithmetic.
    """
    from gongzhi.modules.pv.analytics import kernels

    n = len(values)
    fit, keep, ref = np.empty(n, dtype=np.float64), np.empty(n, dtype=bool), np.empty(n, dtype=np.float64)
    kernels.robust_surface(
        np.ascontiguousarray(r, dtype=np.float64), np.ascontiguousarray(c, dtype=np.float64),
        np.ascontiguousarray(values, dtype=np.float64), SURFACE_INLIER_MAX_K, SURFACE_REACH_K,
        np.ascontiguousarray(np.zeros((n, 0), dtype=np.intp) if near is None else near, dtype=np.intp),
        fit, keep, ref,
    )  # fmt: skip
    return fit, keep, ref


def frame_level_shifts(
    frames: npt.NDArray[np.integer[Any]], references: FloatArray, path_m: FloatArray | None = None
) -> dict[int, float]:
    """The frames whose reference level departs from their neighbours', and by how much [K].

    A frame's level is the median of its modules' references (a view's median less its corrected
    temperature). The frames are taken in the order of their numbers (flight order), each against the
    median level of the :data:`FRAME_LEVEL_WINDOW` frames about it (itself included; fewer at the ends of
    the flight, and none judged with fewer than three), and of the frames beyond those still within
    :data:`FRAME_LEVEL_REACH_M` of it along the flight path when ``path_m`` gives each frame's distance
    along it [m] (indexed by frame number; NaN where unknown); a frame more than :data:`FRAME_LEVEL_MAX_K`
    off is returned with its departure (its level less that median).

    This is the one thing a frame alone cannot tell: which of two levels is its background. A frame at the
    end of a line that sees only two rows, one of them an open string, has as many warm modules as healthy
    ones, and when its surface takes the string's level the healthy row reads cool (shaded) and the string
    normal. The frames before and after it see more rows and the right level.

    Parameters
    ----------
    frames : ndarray of int, shape (N,)
        Each view's frame number.
    references : ndarray, shape (N,)
        Each view's reference [°C]; NaN ones are left out.
    """
    finite = np.isfinite(references)
    frames, references = np.asarray(frames)[finite], np.asarray(references, dtype=np.float64)[finite]
    if len(frames) == 0:
        return {}
    order = np.argsort(frames, kind="stable")
    frames, references = frames[order], references[order]
    starts = np.flatnonzero(np.diff(frames, prepend=frames[0] - 1))
    ids = frames[starts].tolist()
    levels = np.array([_median(group) for group in np.split(references, starts[1:])])
    half = FRAME_LEVEL_WINDOW // 2
    along = (
        np.full(len(ids), np.nan)
        if path_m is None
        else np.asarray(path_m, dtype=np.float64)[np.asarray(ids, dtype=np.intp)]
    )
    shifts: dict[int, float] = {}
    for i, frame in enumerate(ids):
        lo, hi = max(0, i - half), min(len(ids), i + half + 1)
        # NaN distances compare False: the reach stops before a frame without a position
        while lo > 0 and abs(along[lo - 1] - along[i]) <= FRAME_LEVEL_REACH_M:
            lo -= 1
        while hi < len(ids) and abs(along[hi] - along[i]) <= FRAME_LEVEL_REACH_M:
            hi += 1
        window = levels[lo:hi]
        if len(window) < 3:
            continue
        departure = float(levels[i] - _median(window))
        if abs(departure) > FRAME_LEVEL_MAX_K:
            shifts[frame] = departure
    return shifts


def _path_m(places: Sequence[Sequence[float]]) -> FloatArray:
    """Each frame's distance along the flight path from the first [m], from where it was (east, north
    [m], one pair a frame); a frame without a position (NaN) adds nothing to the path and has none itself
    (NaN)."""
    xy = np.array(places, dtype=np.float64).reshape(-1, 2)
    known = np.isfinite(xy).all(axis=1)
    path = np.full(len(xy), np.nan)
    if known.any():
        at = xy[known]
        path[known] = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(at, axis=0).T))])
    return path


def _voting(views: list[_View], shifts: Mapping[int, float]) -> list[_View]:
    """The views whose classes count (:func:`merge_views`): those of frames that took the wrong level for
    their background (``shifts``, :func:`frame_level_shifts`) left out, unless the module has no other (a
    cool class there that the departure explains then reads normal, :func:`_level_explained`); then the
    normal views of oblique frames that saw a warmth they could not resolve (:func:`_unresolved`), unless no
    view would be left."""
    kept = [v for v in views if v.frame not in shifts] if shifts else views
    kept = kept or [_level_explained(v, shifts.get(v.frame, 0.0)) for v in views]
    return [v for v in kept if not _unresolved(v)] or kept


COOL_MARK_K = -2.0
"""The rules' cool mark: samples this far below the module's reference count towards a cool region
(:func:`classify_crop`) [K]."""


LEVEL_WARM_K = 2.0
"""Least temperature over the right level [K] at which a normal view of a frame that took too warm a level
reads its whole module warm (:func:`_level_explained`): the whole-module rule's 2 K a third
(:func:`classify_crop`)."""


def _level_explained(view: _View, departure: float) -> _View:
    """``view`` read again where its frame's reference was ``departure`` [K] too high
    (:func:`frame_level_shifts`), its ``corrected`` temperature already measured from the right level: a
    cool class reads normal where its coolest sample, from the right level, is not below
    :data:`COOL_MARK_K` (the cool region's rule could not have fired), and a normal view reads the whole
    module warm (offline) where the module is at least :data:`LEVEL_WARM_K` over the right level (a view
    that shows no pattern against the wrong level shows none against the right one but the whole
    module's warmth).

    A frame at the end of a flight line that sees two rows, one of them an open string, may take the
    string's level for its background; the healthy row then reads cool. Flown low (18 m, about 7 px a
    cell) a row next to such a string can be seen by those frames alone (seed 8 of the evaluation: eight
    modules called shaded at −5 K, each in two such frames, with the departures 4.4 and 4.7 K). A cool
    class's value is its coolest sample, so adding the departure gives that sample from the right level.
    And the string's own modules can be seen by such frames alone (16 m, seed 13: seven modules of an
    open string 5.0 K warm, each in four frames that took its level, read normal)."""
    if departure <= 0:
        return view
    if view.cls.anomaly in (Anomaly.SHADING, Anomaly.VEGETATION):
        return (
            dataclasses.replace(view, cls=NORMAL) if view.cls.delta_t_k + departure >= COOL_MARK_K else view
        )
    if view.cls.anomaly is Anomaly.NONE and view.corrected >= LEVEL_WARM_K:
        return dataclasses.replace(view, cls=ViewClass(Anomaly.MODULE_OFFLINE, view.corrected))
    return view


def _level_corrected(views: list[_View], shifts: Mapping[int, float]) -> list[_View]:
    """``views`` with the corrected temperatures of those of frames that took the wrong level
    (:func:`frame_level_shifts`) measured from the right one, as the layout's accumulator measures them."""
    if not shifts:
        return views
    return [
        dataclasses.replace(v, corrected=v.corrected + shifts[v.frame]) if v.frame in shifts else v
        for v in views
    ]


UNRESOLVED_PEAK_K = SCREEN_PEAK_K / OBLIQUE_SPREAD
"""Least maximum above its median [K] of a normal view's map of an oblique frame that leaves the view out
of the vote (:func:`_unresolved`): the screen's :data:`SCREEN_PEAK_K` lowered as the view's coarser
sampling lowers a small patch's peak (:data:`OBLIQUE_SPREAD`, in area)."""


def _unresolved(view: _View) -> bool:
    """Whether ``view``, normal, of an oblique frame (``resampled``), saw a warmth too blurred
    for the screen: its map's maximum at least :data:`UNRESOLVED_PEAK_K` above its median.

    Through the coarser part of an oblique view a crack's warm part, half a cell, reads cooler and wider
    (2.9–3.0 K cracks peaked 1.1–1.3 K above the median there, under the screen, in the views that read
    nothing; −60°, seeds 4 and 7 of the 44 × 30 m evaluation), and such a view's "normal" outvoted the
    better-resolved one that read the crack. It shows neither the pattern nor its absence, so it does not
    vote. On healthy modules the maximum stays under 0.8 K above the median there (9,948 views, −60°,
    seeds 0–5), so a view of a module with nothing on it still votes, and a sun reflection that one view
    saw is still outvoted by those that saw the glass cool."""
    return view.resampled and view.cls.anomaly is Anomaly.NONE and view.max - view.median >= UNRESOLVED_PEAK_K


def merge_views(
    views: Sequence[ViewClass], *, oblique: bool = False, alone: Sequence[bool] | None = None
) -> tuple[ViewClass | None, int]:
    """One class for a module from its views, with the sun-reflection filter.

    A family of classes (localised hot, cool, large warm, soiling) is accepted when at least half of the
    views show it (both of two views; the one view when there is only one); families shown by as many
    views are tried in the order of their strongest view (the larger |ΔT|), not in the order the frames
    came in; within a family the most frequent class wins (ties to the larger ΔT). A localised hot pattern
    with a single peak must further sit at the same place in the agreeing views (within
    :data:`REFLECTION_MOVE`). With ``oblique`` (some of the views are of oblique frames resampled onto the
    plane, whose sampling coarsens across the view), a crack that the best-resolved views read as a hot
    spot is a hot spot (:func:`_sharper_in_place`). A localised hot pattern shown by fewer views than that
    is still accepted when each of those views may stand alone (``alone``, one flag a view, :func:`_alone`):
    no glint could reach the camera from that module, and the module's own statistics show the warmth, so
    the other views missed it (at a module's edge, in a coarser view) rather than it being a reflection.

    Returns
    -------
    (ViewClass or None, int)
        The merged class (``None`` when normal) and the number of hot patterns rejected as reflections.
    """
    n = len(views)
    votes: dict[str, list[ViewClass]] = {}
    standing: dict[str, bool] = {}
    for k, v in enumerate(views):
        if v.anomaly is not Anomaly.NONE:
            family = _FAMILIES[v.anomaly]
            votes.setdefault(family, []).append(v)
            standing[family] = standing.get(family, True) and alone is not None and bool(alone[k])
    rejected = 0
    best: ViewClass | None = None
    ranked = sorted(votes.items(), key=lambda kv: (-len(kv[1]), -max(abs(v.delta_t_k) for v in kv[1])))
    for family, members in ranked:
        if (len(members) * 2 < n or (n >= 2 and len(members) < 2)) and not (
            family == "local" and standing[family]
        ):
            rejected += family == "local"
            continue
        # several hot cells have several peaks of about equal height: the hottest may change between views
        single_peak = [v.location for v in members if v.anomaly is not Anomaly.MULTIPLE_HOT_CELLS]
        if family == "local" and not _steady(single_peak):
            rejected += 1
            continue
        counts: dict[Anomaly, list[ViewClass]] = {}
        for v in members:
            counts.setdefault(v.anomaly, []).append(v)
        anomaly, chosen = max(
            counts.items(), key=lambda kv: (len(kv[1]), max(abs(v.delta_t_k) for v in kv[1]))
        )
        if (
            oblique
            and anomaly is Anomaly.CRACKING
            and _sharper_in_place(counts.get(Anomaly.HOT_SPOT, []), chosen)
        ):
            anomaly, chosen = Anomaly.HOT_SPOT, counts[Anomaly.HOT_SPOT]
        locations = [v.location for v in chosen if v.location is not None]
        location = tuple(np.median(np.array(locations), axis=0).tolist()) if locations else None
        best = ViewClass(
            anomaly,
            float(np.median([v.delta_t_k for v in chosen])),
            (location[0], location[1]) if location else None,
            len(members) / n,
        )
        break
    return best, rejected


SUN_TRUSTED_ELEVATION_DEG = 20.0
"""Least elevation [°] of the sun worked out from a frame's time and place for the frame's views to be
judged by it (:func:`_alone`). An inspection to IEC TS 62446-3 needs at least 600 W m-2 on the modules,
which a sun under about 20° does not give; a frame whose clock puts the sun lower (or below the horizon)
more likely has its clock wrong (a time zone taken for another), and its views may hold a glint."""


def _camera_over_plane(
    meta: FrameMeta,
    geometry: FrameGeometry,
    camera: ThermalCamera | None,
    height_m: float | None,
    module_plane_rel_m: float,
) -> tuple[float, float, float, float]:
    """The frame's time [s since 1970] and where its camera was over the module plane (east, north,
    height) [m], from the frame's placed view: over a nadir view's centre; behind an oblique frame's nadir
    view (:func:`.oblique.nadir_view`) by the distance it notes, along the view's up (the camera's
    heading). NaN for what is unknown."""
    when = meta.time.timestamp() if meta.time is not None else math.nan
    oblique = meta.extra.get("oblique")
    note = oblique.get(VIEW_OF) if isinstance(oblique, Mapping) else None
    if isinstance(note, Mapping):
        back, height = float(note.get("centre_m", math.nan)), float(note.get("height_m", math.nan))
    else:
        back, height = 0.0, camera_and_height(meta, camera, height_m, module_plane_rel_m)[1] or math.nan
    yaw = math.radians(geometry.yaw_deg)
    return when, geometry.x_m - back * math.sin(yaw), geometry.y_m - back * math.cos(yaw), height


def _may_stand_alone(views: Sequence[_View]) -> bool:
    """Whether a view of ``views`` read a localised hot pattern that its module's own statistics show
    (:func:`_shows_warmth`): only then can the sun's position let it stand alone (:func:`_alone`)."""
    return any(_FAMILIES.get(v.cls.anomaly) == "local" and _shows_warmth(v) for v in views)


def _shows_warmth(view: _View) -> bool:
    """Whether the module's statistics in ``view`` peak at least :data:`UNRESOLVED_PEAK_K` above its
    median. A localised pattern that the classifier's map of a view reads at the module's edge, where the
    module's own samples do not reach, shows there no more than 0.7 K (306 such single-view calls on
    healthy modules, −60°, 44 × 30 m, seeds 30–59), while a crack that one view alone resolves showed
    2.1 K (seeds 42 and 47)."""
    return view.max - view.median >= UNRESOLVED_PEAK_K


def _alone(
    cameras: Sequence[tuple[float, float, float, float]],
    modules: Sequence[tuple[npt.ArrayLike, Sequence[_View]]],
    origin: LocalFrame,
    normal: FloatArray,
    reach_m: float,
) -> list[list[bool]]:
    """For each module (its centre (east, north) [m] and its views), which views may stand alone against
    the reflection filter (:func:`merge_views`): the sun, worked out from the frame's time and place
    (:func:`.glint.sun_vectors`, at least :data:`SUN_TRUSTED_ELEVATION_DEG` high), cannot glint on the
    module (normal ``normal``, half-diagonal ``reach_m``) towards the frame's camera
    (:func:`.glint.no_glint`), and the module's statistics show the warmth (:func:`_shows_warmth`).
    ``cameras`` holds each frame's time and camera (:func:`_camera_over_plane`).

    Only with a plant layout (:class:`InspectionAccumulator`): without one the modules' tilt is unknown and
    a module is matched across frames by its position alone; there the rule, tried with the glint's cone
    widened for tilts up to 15°, found no crack and added two false findings (−60°, 44 × 30 m, seeds
    0–59)."""
    frames = [v.frame for _, views in modules for v in views]
    table = np.array(cameras, dtype=np.float64).reshape(-1, 4)[frames] if frames else np.zeros((0, 4))
    suns = sun_vectors(table[:, 0], origin.lon0_deg, origin.lat0_deg)
    suns[~(suns[:, 2] >= math.sin(math.radians(SUN_TRUSTED_ELEVATION_DEG)))] = np.nan
    points = np.array([np.asarray(c, dtype=np.float64)[:2] for c, views in modules for _ in views])
    angles = glint_angles_deg(table[:, 1:], points.reshape(-1, 2), normal, suns, reach_m)
    free = no_glint(angles).tolist()
    out, k = [], 0
    for _, views in modules:
        out.append([free[k + j] and _shows_warmth(v) for j, v in enumerate(views)])
        k += len(views)
    return out


GLINTS_TOGETHER = 3
"""Least number of views standing alone (:func:`_alone`) that :func:`_like_glints` judges."""


def _like_glints(offsets: Sequence[FloatArray], reach_m: float) -> bool:
    """Whether views that stood alone look like glints after all: at least :data:`GLINTS_TOGETHER` of
    them, their modules (east, north) from their cameras ``offsets`` [m] within ``reach_m`` (half a
    module's diagonal) of their median by the median. A glint keeps its place relative to the camera, so
    a flight's glints sit at one offset; defects lie anywhere in the views. On a flight whose layout said
    the modules were tilted 30° (they were 10°) or faced north, every glint (20–23 a flight) stood alone
    until this check, all within about half a metre of one offset."""
    if len(offsets) < GLINTS_TOGETHER:
        return False
    xy = np.array(offsets, dtype=np.float64).reshape(-1, 2)
    centre = np.median(xy, axis=0)
    return bool(np.median(np.hypot(*(xy - centre).T)) <= reach_m)


def _any_resampled(views: Sequence[_View]) -> bool:
    """Whether any of ``views`` is of a frame resampled before analysis (an oblique one)."""
    return any(v.resampled for v in views)


def _sharper_in_place(sharp: Sequence[ViewClass], blurred: Sequence[ViewClass]) -> bool:
    """Whether views that read a hot spot (``sharp``) show, better resolved, the patch that the others read
    as a crack (``blurred``): their locations' medians within :data:`REFLECTION_MOVE` of each other, and
    the hottest of them at least as warm as the hottest of the others.

    Blur only spreads a pattern, and lowers its peak as it does: a hot spot smaller than a cell, seen
    through a coarser part of an oblique view, reads cooler and wider than it is and then takes the crack's
    rule (part of a cell warm), while a crack's warm part, half a cell, is resolved there and never becomes
    steeper. So the best-resolved view names the pattern, and it is also the one that reads it warmest. In a
    nadir flight the views share the frame's sampling and differ in its phase only, where a crack's sliver
    at a module's corner read sharp, and warmest, in one view of four (nadir seed 158 of the 80 × 50 m
    evaluation): :func:`merge_views` asks this of oblique views only. Under the nadir bounds of the hot spot's
    rule (before :data:`OBLIQUE_SPREAD`), on the oblique photos-only flights (−60°, 44 × 30 m roof, seeds
    0–29) 6 of the 30 hot spots had views of both classes, 3 of them were reported as cracks by the
    majority, and none of the 30 cracks had a hot-spot view; with the plant, one crack at the module's edge
    had one such view of six, cooler than the warmest of its five crack views
    (``scripts/pv/evaluate_synthetic.py --width 44 --height 30 --per-class 1 --seeds 0 … 29 --gimbal-pitch
    P [--no-layout]``; hot spots reported as cracks, before → after this rule alone: −60° 5 → 1 with the
    plant and 8 → 5 without, −45° 7 → 3 and 6 → 5; nadir unchanged)."""
    points = [v.location for v in sharp if v.location is not None]
    others = [v.location for v in blurred if v.location is not None]
    if not points or not others:
        return False
    if max(v.delta_t_k for v in sharp) < max(v.delta_t_k for v in blurred):
        return False
    a, b = np.median(np.array(points), axis=0), np.median(np.array(others), axis=0)
    return bool(math.hypot(*(a - b)) <= REFLECTION_MOVE)


def _steady(locations: Sequence[tuple[float, float] | None]) -> bool:
    points = np.array([p for p in locations if p is not None])
    if len(points) < 2:
        return True
    centre = np.median(points, axis=0)
    return bool(np.median(np.hypot(*(points - centre).T)) <= REFLECTION_MOVE)


def _strings(
    layout: PlantLayout, findings: list[tuple[int, ViewClass, list[_View]]]
) -> list[tuple[int, ViewClass, list[_View]]]:
    """Relabel runs of three or more consecutive warm modules of one string as a string fault."""
    offline: dict[str, list[int]] = {}
    for k, (p, v, _) in enumerate(findings):
        if v.anomaly is Anomaly.MODULE_OFFLINE:
            offline.setdefault(layout.modules[p].string, []).append(k)
    out = list(findings)
    for members in offline.values():
        indices = sorted(members, key=lambda k: layout.modules[findings[k][0]].index)
        run: list[int] = []
        for k in [*indices, -1]:
            if k >= 0 and (
                not run
                or layout.modules[findings[k][0]].index - layout.modules[findings[run[-1]][0]].index <= 2
            ):
                run.append(k)
                continue
            if len(run) >= 3:
                for j in run:
                    p, v, views = out[j]
                    out[j] = (
                        p,
                        ViewClass(Anomaly.STRING_OFFLINE, v.delta_t_k, v.location, v.confidence),
                        views,
                    )
            run = [k] if k >= 0 else []
    return out


def zone_soiling(
    layout: PlantLayout, results: Sequence[ModuleResult], *, visible: bool = False
) -> dict[str, float]:
    """Mean soiling index per array [0–1]; with ``visible``, the mean visible one
    (:attr:`ModuleResult.rgb_soiling_index`) over the modules that have it."""
    values = [r.rgb_soiling_index if visible else r.soiling_index for r in results]
    counted = np.array([v is not None for v in values], dtype=bool)
    positions = np.array([layout.position(r.module_id) for r in results], dtype=np.intp)
    floats = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return _zone_means(layout.zones(), positions, floats, counted)


def _zone_means(
    zones: tuple[tuple[str, ...], npt.NDArray[np.intp]],
    positions: npt.NDArray[np.intp],
    values: FloatArray,
    counted: npt.NDArray[np.bool_],
) -> dict[str, float]:
    """:func:`zone_soiling` from columns: the mean of ``values`` (of the modules at ``positions`` of the
    layout whose :meth:`.PlantLayout.zones` are ``zones``) per array, over the ones ``counted``."""
    names, zone_of = zones
    z = zone_of[positions[counted]]
    sums = np.bincount(z, weights=values[counted], minlength=len(names))
    counts = np.bincount(z, minlength=len(names))
    return {n: round(float(sums[i] / counts[i]), 4) for i, n in enumerate(names) if counts[i]}


def analyse_flight(
    frames: Iterable[ThermalFrame],
    layout: PlantLayout | None,
    camera: ThermalCamera | None = None,
    *,
    irradiance_w_m2: float | None = None,
    **options: Any,
) -> InspectionResult:
    """Analyse a flight's frames, one at a time, against a plant layout or, without one, photos alone.

    Parameters
    ----------
    frames : iterable of ThermalFrame
        Nadir radiometric frames, consumed one at a time.
    layout : PlantLayout or None
        The plant; ``None`` segments the modules in each frame (:class:`LayoutFreeAccumulator`).
    camera : ThermalCamera, optional
        Payload when the metadata do not name a known one.
    irradiance_w_m2 : float, optional
        Plane-of-array irradiance [W m-2].
    **options
        Keyword arguments of :class:`InspectionAccumulator` (or :class:`LayoutFreeAccumulator`).

    Returns
    -------
    InspectionResult
    """
    acc: InspectionAccumulator | LayoutFreeAccumulator
    if layout is None:
        acc = LayoutFreeAccumulator(camera, irradiance_w_m2=irradiance_w_m2, **options)
    else:
        acc = InspectionAccumulator(layout, camera, irradiance_w_m2=irradiance_w_m2, **options)
    for frame in frames:
        acc.add(frame)
    return acc.result()
