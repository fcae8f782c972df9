from __future__ import annotations

import dataclasses
import itertools
import math
import pickle
from collections import Counter
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage

from gongzhi.modules.pv.analytics import kernels
from gongzhi.modules.pv.analytics import modules as rules
from gongzhi.modules.pv.analytics.anomalies import (
    ANOMALIES,
    Anomaly,
    class_of_abnormality,
    power_loss_share,
    severity,
)
from gongzhi.modules.pv.analytics.evaluation import evaluate
from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.analytics.georef import (
    FrameGeometry,
    locate_frame,
    module_crops,
    module_crops_and_peaks,
    module_index,
    thinned,
    visible_modules,
)
from gongzhi.modules.pv.analytics.layout import LayoutParams, PlantLayout, generate_layout, with_modules
from gongzhi.modules.pv.analytics.modules import (
    CELL_EDGE_STEP,
    EDGE_WINDOW,
    FRAME_LEVEL_REACH_M,
    ISM_NOMINAL_LEVEL,
    LEVEL_WARM_K,
    MEASUREMENT_SPOT_PX,
    NORMAL,
    OBLIQUE_SPREAD,
    SAMPLES_PER_CELL,
    SCREEN_PEAK_K,
    SCREEN_WARM_SHARE,
    SOILING_WARM_K,
    SURFACE_INLIER_MAX_K,
    SURFACE_REACH_K,
    UNRESOLVED_PEAK_K,
    CombinedClassifier,
    InspectionAccumulator,
    InspectionResult,
    LayoutFreeAccumulator,
    ModuleResult,
    RuleClassifier,
    ViewClass,
    _cell_and_third_means,
    _cell_means,
    _coarse_screen,
    _edge_warmth,
    _fill,
    _flatten_ring,
    _glass,
    _group_medians,
    _hot_cells,
    _interior_medians,
    _level_explained,
    _mean,
    _med,
    _median,
    _median_3x3,
    _median_kept,
    _median_pick,
    _neighbour_table,
    _neighbour_table_from_lists,
    _order_statistics,
    _patch_through,
    _path_m,
    _percentile,
    _percentile_pick,
    _PointGrid,
    _robust_surface,
    _soiling_as,
    _steepest,
    _thirds,
    _View,
    _voting,
    analyse_flight,
    classify_crop,
    frame_level_shifts,
    frame_statistics,
    intensity_crop,
    ism_classifier,
    learned_classifier,
    merge_views,
    rgb_soiling_index,
    row_medians,
    soiling_indices,
    spot_px,
    zone_soiling,
)
from gongzhi.modules.pv.analytics.synthetic import Conditions, SyntheticFlight, pattern, synthetic_flight

from .shapes import rectangle


@pytest.fixture(scope="module")
def layout() -> PlantLayout:
    return generate_layout(rectangle(44, 30))


@pytest.fixture(scope="module")
def small() -> PlantLayout:
    return generate_layout(rectangle(30, 20))


@pytest.fixture(scope="module")
def flight(layout: PlantLayout) -> SyntheticFlight:
    return synthetic_flight(layout, seed=7, anomalies_per_class=1)


@pytest.fixture(scope="module")
def frames(flight: SyntheticFlight) -> list[ThermalFrame]:
    return list(flight.frames())


@pytest.fixture(scope="module")
def result(frames: list[ThermalFrame], layout: PlantLayout) -> InspectionResult:
    return analyse_flight(frames, layout)


@pytest.mark.parametrize("anomaly", ANOMALIES, ids=[a.value for a in ANOMALIES])
def test_it_finds_each_planted_class_on_its_module(
    anomaly: Anomaly, flight: SyntheticFlight, result: InspectionResult
) -> None:
    planted = {a.module_id for a in flight.anomalies if a.anomaly is anomaly}
    assert planted, f"{anomaly} was not planted"
    found = {f.module_id for f in result.findings if f.anomaly_class is anomaly}
    assert found == planted


def test_it_reports_one_finding_per_module_and_nothing_on_healthy_modules(
    flight: SyntheticFlight, result: InspectionResult, layout: PlantLayout
) -> None:
    ids = [f.module_id for f in result.findings]
    assert len(ids) == len(set(ids))
    assert set(ids) <= set(flight.truth)
    assert len(result.modules) == len(layout.modules)
    assert result.frames_total == len(flight) and result.frames_used > 0
    assert evaluate(result, flight.anomalies).module_accuracy_ok


def test_findings_carry_delta_t_severity_and_coa(flight: SyntheticFlight, result: InspectionResult) -> None:
    by_id = {f.module_id: f for f in result.findings}
    for planted in flight.anomalies:
        f = by_id[planted.module_id]
        assert np.sign(f.delta_t_k) == np.sign(planted.delta_t_k)
        assert f.delta_tn_k == pytest.approx(f.delta_t_k * 1000 / 850, abs=0.02)
        assert f.severity == severity(max(f.delta_tn_k or 0.0, 0.0), f.anomaly_class)
        assert f.coa in (2, 3) and f.frames_seen >= 1 and f.evidence
    offline = [f for f in result.findings if f.anomaly_class is Anomaly.MODULE_OFFLINE]
    truth = flight.truth[offline[0].module_id].delta_t_k
    assert offline[0].delta_t_k == pytest.approx(truth, abs=1.0)
    assert result.iec_compliant is True and result.irradiance_w_m2 == 850.0


def test_severity_bands_and_class_of_abnormality() -> None:
    assert [severity(d) for d in (0.0, 9.99, 10.0, 19.99, 20.0, 45.0)] == ["S1", "S1", "S2", "S2", "S3", "S3"]
    # open circuits and diodes lose power that their few kelvin do not show
    assert severity(5.0, Anomaly.STRING_OFFLINE) == severity(5.0, Anomaly.MODULE_OFFLINE) == "S3"
    assert severity(5.0, Anomaly.SUBSTRING) == "S2" and severity(25.0, Anomaly.SUBSTRING) == "S3"
    assert severity(5.0, Anomaly.SINGLE_HOT_CELL) == severity(5.0, Anomaly.SOILING) == "S1"
    assert class_of_abnormality(Anomaly.NONE, 30.0) == 1
    assert class_of_abnormality(Anomaly.SOILING, 3.0) == 2
    assert class_of_abnormality(Anomaly.SINGLE_HOT_CELL, 19.0) == 2
    assert class_of_abnormality(Anomaly.SINGLE_HOT_CELL, 20.0) == 3
    assert class_of_abnormality(Anomaly.JUNCTION_BOX, 10.0) == 3
    assert class_of_abnormality(Anomaly.HOT_SPOT, 9.0) == 2


def test_a_defects_power_loss_is_its_electrical_share_or_its_severitys_and_none_for_passing_causes() -> None:
    # the electrical patterns by what they cut off, whatever their band
    assert power_loss_share(Anomaly.SUBSTRING, "S3") == pytest.approx(1 / 3)
    offline = (power_loss_share(Anomaly.MODULE_OFFLINE, "S1"), power_loss_share(Anomaly.STRING_OFFLINE, "S3"))
    assert offline == (1.0, 1.0)
    # the thermal ones by the ΔT scale's share of their band
    shares = [power_loss_share(a, band) for a in (Anomaly.SINGLE_HOT_CELL, Anomaly.JUNCTION_BOX)
              for band in ("S1", "S2", "S3")]  # fmt: skip
    assert shares == [0.15, 0.30, 0.60] * 2 and power_loss_share(Anomaly.CRACKING, "S9") is None
    # shade, soiling and vegetation come and go; no anomaly costs nothing to estimate
    passing = (Anomaly.SHADING, Anomaly.SOILING, Anomaly.VEGETATION)
    assert {power_loss_share(a, "S3") for a in (*passing, Anomaly.NONE)} == {None}
    assert all(power_loss_share(a, severity(25.0, a)) is not None for a in ANOMALIES if a not in passing)


def test_the_reflection_filter_drops_a_hot_spot_seen_once_or_moving() -> None:
    spot = ViewClass(Anomaly.HOT_SPOT, 12.0, (0.3, 0.4))
    normal = ViewClass(Anomaly.NONE, 0.0)
    merged, dropped = merge_views([spot, normal, normal, normal])
    assert merged is None and dropped == 1
    moving = [ViewClass(Anomaly.HOT_SPOT, 12.0, (0.1 + 0.25 * i, 0.4)) for i in range(4)]
    merged, dropped = merge_views(moving)
    assert merged is None and dropped == 1
    steady = [ViewClass(Anomaly.HOT_SPOT, 12.0 + i, (0.3, 0.4 + 0.01 * i)) for i in range(3)] + [normal]
    merged, dropped = merge_views(steady)
    assert merged is not None and merged.anomaly is Anomaly.HOT_SPOT and dropped == 0
    assert merged.delta_t_k == pytest.approx(13.0) and merged.confidence == pytest.approx(0.75)


def test_families_with_as_many_views_are_weighed_by_strength_not_by_frame_order() -> None:
    hot = [ViewClass(Anomaly.HOT_SPOT, 14.0, (0.3, 0.4)), ViewClass(Anomaly.HOT_SPOT, 15.0, (0.3, 0.41))]
    dirty = [ViewClass(Anomaly.SOILING, 2.5), ViewClass(Anomaly.SOILING, 3.0)]
    for views in (
        hot + dirty,
        dirty + hot,
        [hot[0], dirty[0], hot[1], dirty[1]],
        [dirty[1], hot[1], dirty[0], hot[0]],
    ):
        merged, dropped = merge_views(views)
        assert merged is not None and merged.anomaly is Anomaly.HOT_SPOT and dropped == 0
    # the stronger family first; when it is a moving (reflected) hot spot, the other is taken
    moving = [ViewClass(Anomaly.HOT_SPOT, 14.0, (0.1, 0.4)), ViewClass(Anomaly.HOT_SPOT, 15.0, (0.8, 0.4))]
    for views in (moving + dirty, dirty + moving):
        merged, dropped = merge_views(views)
        assert merged is not None and merged.anomaly is Anomaly.SOILING and dropped == 1


def test_the_best_resolved_view_names_a_hot_spot_that_blurred_oblique_views_read_as_a_crack() -> None:
    # a hot spot seen sharp in one view of four, and as a warmer-than-a-crack part of a cell in the others
    sharp = ViewClass(Anomaly.HOT_SPOT, 5.3, (0.40, 0.60), spot_cells=0.25)
    blurred = [ViewClass(Anomaly.CRACKING, t, (0.41, 0.61), spot_cells=0.31) for t in (4.2, 4.8, 4.7)]
    for views in ([sharp, *blurred], [*blurred, sharp]):
        merged, dropped = merge_views(views, oblique=True)
        assert merged is not None and merged.anomaly is Anomaly.HOT_SPOT and dropped == 0
        assert merged.delta_t_k == pytest.approx(5.3)  # the sharp view's reading
        assert merged.confidence == pytest.approx(1.0)  # four views of one local pattern
        # nadir views share one sampling: the majority names it, as before
        merged, _ = merge_views(views)
        assert merged is not None and merged.anomaly is Anomaly.CRACKING
    # the sharp view cooler than a crack view: blur lowers a peak, so that view is not the better one
    cooler = ViewClass(Anomaly.HOT_SPOT, 4.5, (0.40, 0.60), spot_cells=0.25)
    merged, _ = merge_views([cooler, *blurred], oblique=True)
    assert merged is not None and merged.anomaly is Anomaly.CRACKING
    # a hot-spot view of another place on the module names nothing
    elsewhere = ViewClass(Anomaly.HOT_SPOT, 6.0, (0.80, 0.20), spot_cells=0.25)
    merged, _ = merge_views([elsewhere, *blurred], oblique=True)
    assert merged is not None and merged.anomaly is Anomaly.CRACKING
    # the majority still wins between other local classes
    cells = [ViewClass(Anomaly.SINGLE_HOT_CELL, 6.0, (0.40, 0.60)) for _ in range(3)]
    merged, _ = merge_views([sharp, *cells], oblique=True)
    assert merged is not None and merged.anomaly is Anomaly.SINGLE_HOT_CELL


def test_a_normal_oblique_view_that_saw_a_warmth_it_could_not_resolve_does_not_vote() -> None:
    def view(frame: int, cls: ViewClass, peak_k: float) -> _View:  # of an oblique frame
        return _View(frame, 40.0, 40.3, 40.0 + peak_k, 0.0, 0.0, cls, pixel=(100.0, 200.0), resampled=True)

    crack = view(0, ViewClass(Anomaly.CRACKING, 2.2, (0.3, 0.6), spot_cells=0.4), 2.2)
    warm = [view(f, NORMAL, UNRESOLVED_PEAK_K + 0.1) for f in (1, 2, 3)]  # blurred under the screen
    cool = [view(f, NORMAL, 0.6) for f in (4, 5)]  # a healthy module's glass
    assert 1.0 < UNRESOLVED_PEAK_K < SCREEN_PEAK_K
    assert _voting([crack, *warm], {}) == [crack]
    merged, _ = merge_views([v.cls for v in _voting([crack, *warm], {})], oblique=True)
    assert merged is not None and merged.anomaly is Anomaly.CRACKING
    # the views that saw the glass cool still vote: one view's crack (or reflection) is outvoted
    voting = _voting([crack, *warm, *cool], {})
    assert voting == [crack, *cool] and merge_views([v.cls for v in voting], oblique=True)[0] is None
    # views of nadir frames vote as they read
    nadir = [dataclasses.replace(v, resampled=False) for v in (crack, *warm)]
    assert _voting(nadir, {}) == nadir
    # a view that read nothing, with the maximum just under the mark, votes
    under = view(6, NORMAL, UNRESOLVED_PEAK_K - 0.01)
    assert _voting([crack, under], {}) == [crack, under]
    # with no view but unresolved ones (after the frames off their background level are left out), all vote
    assert _voting(warm, {}) == warm
    assert _voting([crack, *warm], {0: 3.0}) == warm


def test_a_frame_whose_level_departs_from_its_neighbours_is_named_with_how_far() -> None:
    def views(levels: list[float], per_frame: int = 5) -> tuple[np.ndarray, np.ndarray]:
        frames = np.repeat(np.arange(len(levels)), per_frame)
        jitter = np.tile(np.linspace(-0.3, 0.3, per_frame), len(levels))
        return frames, np.repeat(levels, per_frame) + jitter

    # two frames at the end of a line took the open string's level, 4.5 K above the roof's
    levels = [50.0, 50.2, 49.8, 54.5, 54.6, 50.1, 49.9, 50.0]
    shifts = frame_level_shifts(*views(levels))
    assert shifts.keys() == {3, 4}
    assert shifts[3] == pytest.approx(4.5, abs=0.3) and shifts[4] == pytest.approx(4.6, abs=0.3)
    # the views come in any order (merged workers), and NaN references are left out
    frames, refs = views(levels)
    order = np.random.default_rng(1).permutation(len(frames))
    refs[0] = np.nan
    assert frame_level_shifts(frames[order], refs[order]).keys() == {3, 4}
    # a drift or a step of the whole roof (the sun out from a cloud) is no departure; nor is 2 K
    assert frame_level_shifts(*views([50.0 + 0.8 * i for i in range(10)])) == {}
    assert frame_level_shifts(*views([50.0] * 5 + [60.0] * 5)) == {}
    assert frame_level_shifts(*views([50.0, 50.0, 52.0, 50.0, 50.0])) == {}
    # two frames are too few to tell which is off
    assert frame_level_shifts(*views([50.0, 55.0])) == {}
    assert frame_level_shifts(np.zeros(0, dtype=np.int64), np.zeros(0)) == {}


def test_a_low_flights_closer_frames_are_judged_against_the_frames_as_far_along_the_path() -> None:
    # flown at 16 m an image comes every 4.3 m: four frames in a row over two open strings took their
    # level, a majority of the seven about each of them, not of the frames within 22 m
    levels = [50.0] * 8 + [54.7] * 4 + [50.0] * 8
    frames = np.repeat(np.arange(len(levels)), 5)
    refs = np.repeat(levels, 5) + np.tile(np.linspace(-0.3, 0.3, 5), len(levels))
    assert frame_level_shifts(frames, refs) == {}
    path = 4.3 * np.arange(len(levels), dtype=np.float64)
    assert frame_level_shifts(frames, refs, path).keys() == {8, 9, 10, 11}
    # the screening height's images 7.4 m apart: the seven frames about one reach 22 m already
    assert FRAME_LEVEL_REACH_M + 0.3 > 3 * 7.4
    assert frame_level_shifts(frames, refs, 7.4 * np.arange(len(levels), dtype=np.float64)) == {}
    # frames without a position: the seven about each, as before
    assert frame_level_shifts(frames, refs, np.full(len(levels), np.nan)) == {}


def test_the_path_is_summed_over_the_frames_with_a_position() -> None:
    nan = math.nan
    path = _path_m([(0.0, 0.0), (3.0, 4.0), (nan, nan), (3.0, 10.0)])
    assert path[:2].tolist() == [0.0, 5.0] and math.isnan(path[2]) and path[3] == pytest.approx(11.0)
    assert len(_path_m([])) == 0


def test_a_view_of_a_frame_that_took_too_warm_a_level_is_read_from_the_right_one() -> None:
    def view(cls: ViewClass, corrected: float) -> _View:
        return _View(3, 55.0, 55.3, 55.5, corrected, 0.0, cls)

    # the module's corrected temperature already from the right level: an open string's module 4.8 K warm
    warm = _level_explained(view(NORMAL, 4.8), 4.6)
    assert warm.cls.anomaly is Anomaly.MODULE_OFFLINE and warm.cls.delta_t_k == pytest.approx(4.8)
    assert _level_explained(view(NORMAL, LEVEL_WARM_K - 0.1), 4.6).cls is NORMAL  # a healthy one
    assert _level_explained(view(NORMAL, 4.8), -4.6).cls is NORMAL  # a frame that took too cool a level
    # the healthy row beside the string read shaded: from the right level its coolest sample is not cool
    shaded = _level_explained(view(ViewClass(Anomaly.SHADING, -5.3), -0.7), 4.6)
    assert shaded.cls is NORMAL
    deep = view(ViewClass(Anomaly.SHADING, -9.0), -4.4)
    assert _level_explained(deep, 4.6) is deep
    hot = view(ViewClass(Anomaly.HOT_SPOT, 12.0, (0.3, 0.4)), 4.8)
    assert _level_explained(hot, 4.6) is hot


@pytest.mark.parametrize("photos_only", [False, True])
def test_a_string_seen_only_by_frames_that_took_its_level_is_found_flown_low(photos_only: bool) -> None:
    # 16 m, seed 13: two open strings two rows apart; the frames over them and the row between took the
    # strings' level, and seven of one string's modules were seen by such frames alone (65 of 80 string
    # modules and 6 false shadings before, with the layout and without it: photos only, the frames' path
    # comes from their placed views)
    layout = generate_layout(rectangle(80.0, 50.0))
    flight = synthetic_flight(layout, seed=13, anomalies_per_class=4, altitude_m=16)
    acc = LayoutFreeAccumulator() if photos_only else InspectionAccumulator(layout)
    for i in range(len(flight)):
        acc.add(flight.frame(i))
    centres = layout.centres_xy()

    def nearest(lon: float, lat: float) -> str:
        x, y = layout.origin.to_xy(lon, lat)
        return layout.modules[int(np.argmin(np.hypot(centres[:, 0] - x, centres[:, 1] - y)))].id

    findings = acc.result().findings
    found = {nearest(f.lon, f.lat) if photos_only else f.module_id: f.anomaly_class for f in findings}
    strings = [a.module_id for a in flight.anomalies if a.anomaly is Anomaly.STRING_OFFLINE]
    assert [m for m in strings if found.get(m) is not Anomaly.STRING_OFFLINE] == []
    shaded = {a.module_id for a in flight.anomalies if a.anomaly is Anomaly.SHADING}
    assert [m for m, c in found.items() if c is Anomaly.SHADING and m not in shaded] == []


def test_a_cool_class_that_its_frames_wrong_level_explains_reads_normal_when_no_other_frame_saw_it() -> None:
    def view(frame: int, cls: ViewClass) -> _View:
        return _View(frame, 49.3, 49.8, 50.1, -0.2, 0.0, cls)

    shaded = ViewClass(Anomaly.SHADING, -5.1)  # the coolest sample, from a reference 4.4 K too high
    views = [view(36, shaded), view(43, dataclasses.replace(shaded, delta_t_k=-5.2))]
    shifts = {36: 4.4, 43: 4.7}
    assert [v.cls for v in _voting(views, shifts)] == [NORMAL, NORMAL]
    assert merge_views([v.cls for v in _voting(views, shifts)])[0] is None
    # shade that is there from the right level too stays, as do warm classes and frames too cool
    deep = [view(36, ViewClass(Anomaly.VEGETATION, -6.5)), view(43, ViewClass(Anomaly.SHADING, -7.0))]
    assert _voting(deep, shifts) == deep
    warm = [view(36, ViewClass(Anomaly.MODULE_OFFLINE, 3.0))]
    assert _voting(warm, shifts) == warm
    assert _voting(views, {36: -4.4, 43: -4.7}) == views
    # on the mark: the rule takes samples below it
    on = [view(36, ViewClass(Anomaly.SHADING, -6.4))]
    assert _voting(on, {36: 4.4})[0].cls is NORMAL and _voting(on, {36: 4.3})[0].cls is on[0].cls
    # a view from a frame at the right level outvotes as before
    assert _voting([*views, view(50, NORMAL)], shifts) == [view(50, NORMAL)]


def test_a_row_seen_only_by_frames_that_took_an_open_strings_level_is_not_called_shaded() -> None:
    # flown at 18 m (about 7 px a cell), two frames at the ends of lines see row B-02 beside the open
    # string in B-01 and take the string's level: eight healthy modules read 5 K cool in both
    layout = generate_layout(rectangle(80, 50))  # the evaluation's roof
    flight = synthetic_flight(layout, seed=8, anomalies_per_class=4, altitude_m=18.0)
    acc = InspectionAccumulator(layout)
    for frame in flight.frames():
        acc.add(frame)
    scores = {c.anomaly: c for c in evaluate(acc.result(), flight.anomalies).classes}
    assert scores[Anomaly.SHADING].false_positives == 0
    assert scores[Anomaly.SHADING].true_positives == 4 and scores[Anomaly.STRING_OFFLINE].false_negatives == 0


def test_a_pattern_smaller_than_the_measurement_spot_says_its_delta_t_is_a_lower_bound(
    layout: PlantLayout, flight: SyntheticFlight
) -> None:
    # at the screening GSD (5 px a cell) a planted hot spot is blurred to a few pixels and reads about half
    # its ΔT; a whole hot cell covers some 25 px and reads in full
    planted = {a.module_id: a for a in flight.anomalies}
    acc = LayoutFreeAccumulator()
    for frame in flight.frames():
        acc.add(frame)
    for result in (analyse_flight(flight.frames(), layout), acc.result()):
        by_class = {f.anomaly_class: f for f in result.findings}
        spot = by_class[Anomaly.HOT_SPOT]
        assert spot.details["delta_t_lower_bound"] is True and spot.details["spot_px"] < MEASUREMENT_SPOT_PX
        truth = next(a for a in planted.values() if a.anomaly is Anomaly.HOT_SPOT)
        assert spot.delta_t_k < 0.7 * truth.delta_t_k
        cell = by_class[Anomaly.SINGLE_HOT_CELL]
        assert (
            cell.details["delta_t_lower_bound"] is False
            and cell.details["spot_px"] >= 2 * MEASUREMENT_SPOT_PX
        )
        truth = next(a for a in planted.values() if a.anomaly is Anomaly.SINGLE_HOT_CELL)
        assert cell.delta_t_k == pytest.approx(truth.delta_t_k, rel=0.15)
        # a pattern over the whole module or a cool one has no spot
        for cls in (Anomaly.MODULE_OFFLINE, Anomaly.SHADING, Anomaly.SOILING):
            assert (
                "spot_px" not in by_class[cls].details and "delta_t_lower_bound" not in by_class[cls].details
            )


def test_a_spot_is_measured_in_the_pixels_of_the_frames_that_saw_it() -> None:
    def view(frame: int, cells: float | None) -> _View:
        return _View(
            frame, 40.0, 41.0, 45.0, 5.0, 0.0, ViewClass(Anomaly.HOT_SPOT, 5.0, (0.5, 0.5), 1.0, cells)
        )

    # a cell of 25 px² in frames 0 and 2, of 100 px² in frame 1 (flown lower); frame 3 was not analysed
    cell_px = [25.0, 100.0, 25.0, math.nan]
    assert spot_px([view(0, 0.2), view(1, 0.2), view(2, 0.3)], cell_px) == pytest.approx(7.5)
    assert spot_px([view(3, 0.2), view(0, None)], cell_px) is None
    assert spot_px([], cell_px) is None


def test_a_pattern_seen_once_stands_alone_only_where_every_view_of_it_may() -> None:
    """One view of three reads a crack: a reflection to the vote, unless that view may stand alone (no
    glint could reach its camera from the module, and the module's statistics show the warmth)."""
    crack, normal = ViewClass(Anomaly.CRACKING, 2.1, (0.02, 0.47)), ViewClass(Anomaly.NONE, 0.0)
    assert merge_views([crack, normal, normal]) == (None, 1)
    assert merge_views([crack, normal, normal], alone=[False, True, True]) == (None, 1)
    merged, dropped = merge_views([crack, normal, normal], alone=[True, False, False])
    assert merged is not None and merged.anomaly is Anomaly.CRACKING and dropped == 0
    assert merged.confidence == pytest.approx(1 / 3)
    # two views of five read it: both must be able to stand alone
    views = [crack, crack, normal, normal, normal]
    assert merge_views(views, alone=[True, False, True, True, True]) == (None, 1)
    assert merge_views(views, alone=[True, True, False, False, False])[0] is not None


def test_sun_reflections_on_healthy_modules_are_not_reported(small: PlantLayout) -> None:
    flight = synthetic_flight(small, seed=11, classes=(), conditions=Conditions(reflection_k=15.0))
    result = analyse_flight(flight.frames(), small)
    assert result.findings == ()
    assert result.reflections_rejected >= 3


def test_glints_standing_alone_at_one_place_from_their_cameras_put_every_pattern_back_to_the_vote(
    small: PlantLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A layout that says the modules face north (they face south) puts the sun's mirror image elsewhere:
    every glint's view then seems unable to hold one and would stand alone. Those views sit at one place
    from their cameras, as glints do, so the vote stands, and the result says why."""
    flight = synthetic_flight(small, seed=11, classes=(), conditions=Conditions(reflection_k=15.0))
    frames = list(flight.frames())
    wrong = dataclasses.replace(small, row_azimuth_deg=small.row_azimuth_deg + 180)
    result = analyse_flight(frames, wrong)
    assert result.findings == () and result.reflections_rejected >= 3
    assert any("glints do" in n for n in result.notes)
    monkeypatch.setattr(rules, "GLINTS_TOGETHER", 10**6)  # without the check they are findings
    unchecked = analyse_flight(frames, wrong)
    assert len(unchecked.findings) >= 3 and not any("glints do" in n for n in unchecked.notes)
    assert analyse_flight(frames, small).notes == unchecked.notes  # the right layout needs no check


def test_the_neighbour_correction_removes_the_plant_wide_gradient(small: PlantLayout) -> None:
    steep = Conditions(gradient_k_per_100m=(12.0, -8.0), reflection_k=0.0)
    flight = synthetic_flight(small, seed=5, classes=(), conditions=steep)
    result = analyse_flight(flight.frames(), small)
    medians = np.array([m.t_median_c for m in result.modules])
    corrected = np.array([m.t_corrected_k for m in result.modules])
    xy = np.array([small.origin.to_xy(m.lon, m.lat) for m in result.modules])
    assert medians.max() - medians.min() > 4.0
    # what is left is the modules' own ±0.2 K spread, with no trace of the 12 K / 100 m gradient
    assert corrected.std() < 0.3
    slope = np.linalg.lstsq(np.column_stack([xy, np.ones(len(xy))]), corrected, rcond=None)[0][:2] * 100
    assert np.abs(slope).max() < 1.0
    assert result.findings == ()


def test_low_irradiance_is_flagged_as_not_iec_compliant(small: PlantLayout) -> None:
    dim = Conditions(irradiance_w_m2=450.0, reflection_k=0.0)
    flight = synthetic_flight(small, seed=2, classes=(Anomaly.MODULE_OFFLINE,), anomalies_per_class=1,
                              conditions=dim)  # fmt: skip
    acc = InspectionAccumulator(small)
    for frame in flight.frames():
        acc.add(frame)
    result = acc.result()
    assert result.iec_compliant is False and result.irradiance_w_m2 == 450.0
    assert any("600" in note for note in result.notes)
    [f] = result.findings
    assert f.delta_tn_k == pytest.approx(f.delta_t_k * 1000 / 450, abs=0.03)


def test_the_modules_seen_in_one_frame_only_are_counted_in_a_note(
    frames: list[ThermalFrame], layout: PlantLayout, result: InspectionResult
) -> None:
    """The plan of a plant shows every module whole in two frames: no note; a flight cut short leaves
    modules seen once, whose reflections the filter could not check, and the note counts them."""
    assert not any("one frame only" in n for n in result.notes)
    short = analyse_flight(frames[:4], layout)
    once = sum(m.frames_seen == 1 for m in short.modules)
    assert once > 0
    [note] = [n for n in short.notes if "one frame only" in n]
    assert note.startswith(f"{once} of {len(short.modules)} modules were seen whole in one frame only")


def test_results_grow_as_frames_arrive(frames: list[ThermalFrame], layout: PlantLayout) -> None:
    acc = InspectionAccumulator(layout)
    sizes = []
    for i, frame in enumerate(frames):
        report = acc.add(frame)
        assert report.skipped == "" and report.match_score > 0.3
        if i % 6 == 0:
            sizes.append(len(acc.result().modules))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_the_same_flight_gives_the_same_result(
    flight: SyntheticFlight, layout: PlantLayout, result: InspectionResult
) -> None:
    assert analyse_flight(flight.frames(), layout) == result  # frames rendered again from the seed


def crops_of(*anomalies: Anomaly) -> np.ndarray:
    """Module maps of planted patterns (+ΔT 12 K) on the 72-cell crop grid, rows from the high edge."""
    rng = np.random.default_rng(0)
    maps = [pattern(a, 12.0, (193, 99), (6, 12), True, rng) for a in anomalies]
    return np.stack([np.flipud(ndimage.zoom(m, (48 / 193, 24 / 99), order=1)) for m in maps]).astype(
        np.float32
    )


def test_the_rules_classify_planted_patterns_on_the_cell_grid() -> None:
    classes = [Anomaly.SUBSTRING, Anomaly.MODULE_OFFLINE, Anomaly.JUNCTION_BOX, Anomaly.SINGLE_HOT_CELL]
    found = RuleClassifier()(crops_of(*classes), (6, 12), 4, True)
    assert [v.anomaly for v in found] == classes
    assert found[1].delta_t_k == pytest.approx(12.0, abs=0.5)


def test_the_hot_spot_rule_widens_for_the_spread_of_an_oblique_view() -> None:
    # a point's image spread over a third of a cell: 5 K, fill 0.3125, sharpness 1.67 over its 3 x 3 mean
    r, c = np.mgrid[0:48, 0:24]

    def blob(sigma: float) -> np.ndarray:
        return np.asarray(5.0 * np.exp(-((r - 22) ** 2 + (c - 10) ** 2) / (2 * sigma**2)), dtype=np.float32)

    spot = blob(1.1)
    assert classify_crop(spot, (6, 12), 4, True).anomaly is Anomaly.CRACKING  # a nadir view's bounds
    oblique = classify_crop(spot, (6, 12), 4, True, spread=OBLIQUE_SPREAD)
    assert oblique.anomaly is Anomaly.HOT_SPOT and oblique.spot_cells == pytest.approx(0.3125)
    assert RuleClassifier(spread=OBLIQUE_SPREAD)(spot[None], (6, 12), 4, True)[0].anomaly is Anomaly.HOT_SPOT
    # wider still (sharpness 1.55) it is no point even there
    assert classify_crop(blob(1.2), (6, 12), 4, True, spread=OBLIQUE_SPREAD).anomaly is Anomaly.CRACKING
    # half a cell warm, a crack, stays one
    crack = np.zeros((48, 24), dtype=np.float32)
    crack[20:24, 8:10] = 4.0
    crack = ndimage.gaussian_filter(crack, 0.7).astype(np.float32)
    assert classify_crop(crack, (6, 12), 4, True, spread=OBLIQUE_SPREAD).anomaly is Anomaly.CRACKING


def test_a_learned_classifier_overrules_the_rules_only_where_confident() -> None:
    seen: list[tuple[int, ...]] = []

    def predict(crops: np.ndarray) -> tuple[list[str], list[float]]:
        seen.append(crops.shape)
        assert crops.dtype == np.uint8
        return ["Cracking"] * len(crops), [0.9] * len(crops)

    crops = crops_of(Anomaly.SUBSTRING, Anomaly.JUNCTION_BOX, Anomaly.NONE)
    combined = CombinedClassifier(learned_classifier(predict, {"Cracking": Anomaly.CRACKING}))
    found = [v.anomaly for v in combined(crops, (6, 12), 4, True)]
    assert seen == [(1, 40, 24)]  # only the rules' anomaly the crop classifier can judge
    assert found == [Anomaly.CRACKING, Anomaly.JUNCTION_BOX, Anomaly.NONE]
    timid = CombinedClassifier(
        learned_classifier(predict, {"Cracking": Anomaly.CRACKING}), min_confidence=0.95
    )
    assert timid(crops, (6, 12), 4, True)[0].anomaly is Anomaly.SUBSTRING


def test_crops_on_the_fixed_scale_keep_how_warm_a_module_is() -> None:
    """A stretched crop of a uniformly warm module looks like any other; on the fixed scale it is warmer
    than a healthy one by ``levels_per_k`` a kelvin, clipped to the 8-bit range."""
    healthy, offline = np.zeros((48, 24), np.float32), np.full((48, 24), 4.0, np.float32)
    assert np.all(intensity_crop(healthy, True, levels_per_k=5.0) == round(ISM_NOMINAL_LEVEL))
    assert np.all(intensity_crop(offline, True, levels_per_k=5.0) == round(ISM_NOMINAL_LEVEL + 20))
    assert np.all(intensity_crop(offline + 100, True, levels_per_k=5.0) == 255)
    assert np.all(intensity_crop(offline - 100, True, levels_per_k=5.0) == 0)
    hot = crops_of(Anomaly.SINGLE_HOT_CELL)[0]
    stretched = intensity_crop(hot, True)
    assert stretched.min() == 0 and stretched.max() == 255
    fixed = intensity_crop(hot, True, levels_per_k=5.0)
    assert fixed.shape == (40, 24) and fixed.max() == pytest.approx(ISM_NOMINAL_LEVEL + 5 * hot.max(), abs=8)


def test_the_shipped_network_plugs_in_behind_the_rules() -> None:
    """``ism_classifier`` puts the shipped network behind the rules and gives it the rules' suspects, on
    the fixed scale when the network reads an intensity channel, else stretched."""
    from gongzhi.modules.pv.analytics import classifier as clf

    model, seen = clf.default_model(), []

    class Recording:  # the shipped network, with the crops it is given kept
        def __init__(self, intensity_channel: bool) -> None:
            self.intensity_channel = intensity_channel

        def classify(self, crops: np.ndarray) -> clf.ClassifierResult:
            seen.append(crops)
            return model.classify(crops)

    crops = crops_of(Anomaly.MODULE_OFFLINE, Anomaly.JUNCTION_BOX, Anomaly.NONE)
    found = [
        v.anomaly for v in ism_classifier(model=Recording(True), levels_per_k=5.0)(crops, (6, 12), 4, True)
    ]
    assert found[1:] == [Anomaly.JUNCTION_BOX, Anomaly.NONE]  # the network never sees these
    assert found[0] is not Anomaly.NONE
    assert len(seen) == 1 and seen[0].shape == (1, 40, 24)
    assert abs(seen[0].mean() - (ISM_NOMINAL_LEVEL + 5.0 * crops[0].mean())) < 3  # 12 K warm: 218
    ism_classifier(model=Recording(False), levels_per_k=5.0)(crops, (6, 12), 4, True)
    assert seen[1].min() == 0 and seen[1].mean() < seen[0].mean() - 50  # stretched: the warmth is gone
    shipped = [v.anomaly for v in ism_classifier()(crops, (6, 12), 4, True)]
    assert shipped[1:] == [Anomaly.JUNCTION_BOX, Anomaly.NONE]


def test_the_network_behind_the_rules_pickles_without_the_network() -> None:
    """A process pool's workers and a cluster's tasks take the classifier pickled: the shipped network is
    not in the pickle (each process loads it), a network given as ``model`` is, and either classifies
    after the round trip as before it."""
    from gongzhi.modules.pv.analytics import classifier as clf

    crops = crops_of(Anomaly.MODULE_OFFLINE, Anomaly.SINGLE_HOT_CELL, Anomaly.NONE)
    shipped = ism_classifier(min_confidence=0.5)
    blob = pickle.dumps(shipped)
    assert len(blob) < 10_000
    again = pickle.loads(blob)
    assert again == shipped and again(crops, (6, 12), 4, True) == shipped(crops, (6, 12), 4, True)
    given = ism_classifier(min_confidence=0.5, model=clf.default_model())
    assert len(pickle.dumps(given)) > 1_000_000  # the weights travel with it
    assert pickle.loads(pickle.dumps(given))(crops, (6, 12), 4, True) == shipped(crops, (6, 12), 4, True)
    # the same network object makes two equal; a copy of its arrays is another network
    assert given == ism_classifier(min_confidence=0.5, model=given.learned.predict.model)  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(given)) != given
    # the rules the shipped network is combined with are the default ones, which an accumulator's template
    # is reused for (analysis_adapter.new_accumulator); an oblique view's rules are another classifier
    assert shipped.rules == RuleClassifier() != RuleClassifier(spread=OBLIQUE_SPREAD)
    assert "0.50 confident" in shipped.note


def test_each_finding_keeps_where_its_module_is_in_its_first_frame(
    flight: SyntheticFlight, result: InspectionResult, layout: PlantLayout
) -> None:
    """The thumbnails centre on ``details["pixel"]``: the module's centre in the frame its evidence starts
    with, by the refined pose, within two pixels of where the frame's true pose puts it."""
    sources = {f"synthetic-{flight.seed}-{i:04d}": i for i in range(len(flight))}
    centres = layout.centres_xy()
    for f in result.findings:
        i = sources[f.evidence[0]]
        x, y = centres[layout.position(f.module_id)]
        row, col = flight.poses[i].xy_to_pixel(x, y)
        assert np.hypot(f.details["pixel"][0] - row, f.details["pixel"][1] - col) < 2.0, f


def test_a_co_registered_rgb_frame_adds_a_visible_soiling_index(small: PlantLayout) -> None:
    """Seen from above a clean module is dark and dust brightens it: a module brightened all over reads
    about 1, one brightened over its lower half about 0.5, the clean ones 0, and a glint (clipped white)
    moving over a clean module does not count."""
    flight = synthetic_flight(small, seed=4, classes=(), conditions=Conditions(reflection_k=0.0))
    index = module_index(small)
    dusty, half, glinted = (small.modules[k].id for k in (len(small.modules) // 2, 3, 10))
    frames = []
    for i, frame in enumerate(flight.frames()):
        labels, _, fv = locate_frame(index, flight.poses[i])
        rgb = np.full((*labels.shape, 3), 150, dtype=np.uint8)  # the roof
        rgb[labels >= 0] = (25, 40, 75)  # clean modules: dark blue, luma ~40
        rgb[labels == small.position(dusty)] = (120, 110, 95)  # dust, luma ~111
        rgb[(labels == small.position(half)) & (fv < 0.5)] = (120, 110, 95)
        rgb[(labels == small.position(glinted)) & (fv > 0.4) & (fv < 0.6)] = 255
        frames.append(dataclasses.replace(frame, rgb=rgb))
    result = analyse_flight(frames, small)
    by_id = {m.module_id: m.rgb_soiling_index for m in result.modules}
    assert by_id[dusty] == pytest.approx(1.0, abs=0.02)
    assert by_id[half] == pytest.approx(0.5, abs=0.1)
    others = [v for k, v in by_id.items() if k not in (dusty, half)]
    assert None not in others and max(cast(list[float], others)) < 0.02, sorted(
        ((v, k) for k, v in by_id.items()), reverse=True
    )[:5]
    zone = small.modules[small.position(dusty)].array
    assert 0 < result.rgb_soiling_by_zone[zone] < 1
    # each array's figure is the mean over its modules seen (that have the index), as zone_soiling says
    for visible, zones in ((False, result.soiling_by_zone), (True, result.rgb_soiling_by_zone)):
        by_array: dict[str, list[float]] = {}
        for m in result.modules:
            value = m.rgb_soiling_index if visible else m.soiling_index
            if value is not None:
                by_array.setdefault(small.modules[small.position(m.module_id)].array, []).append(value)
        assert zones == {a: round(float(np.mean(v)), 4) for a, v in sorted(by_array.items())}
        assert zone_soiling(small, result.modules, visible=visible) == zones


def test_zone_soiling_is_the_mean_of_each_array_over_the_modules_that_have_the_index() -> None:
    plant = generate_layout(rectangle(30, 20), LayoutParams(rows_per_array=2))
    arrays = sorted({m.array for m in plant.modules})
    assert len(arrays) >= 3
    # the first array's modules read 0.1 and 0.3 by turns, the second's 0.5; the third's are not seen;
    # only every other module of the second has a visible index
    picked = [m for m in plant.modules if m.array in arrays[:2]]
    results = [
        ModuleResult(m.id, 1, 30.0, 31.0, 32.0, 0.0, (0.1, 0.3)[k % 2] if m.array == arrays[0] else 0.5,
                     0.0, 0.0, (0.2 if k % 2 else None) if m.array == arrays[1] else None)
        for k, m in enumerate(picked)
    ]  # fmt: skip
    assert zone_soiling(plant, results) == {arrays[0]: 0.2, arrays[1]: 0.5}
    assert zone_soiling(plant, results, visible=True) == {arrays[1]: 0.2}
    assert zone_soiling(plant, []) == {} == zone_soiling(plant, [], visible=True)


def test_without_photos_there_is_no_visible_soiling(small: PlantLayout) -> None:
    flight = synthetic_flight(small, seed=4, classes=(), conditions=Conditions(reflection_k=0.0))
    result = analyse_flight(flight.frames(), small)
    assert {m.rgb_soiling_index for m in result.modules} == {None}
    assert result.rgb_soiling_by_zone == {}


def test_rgb_soiling_index_counts_the_brightened_share() -> None:
    crop = np.full((10, 10, 3), 40, dtype=np.uint8)
    assert rgb_soiling_index(crop, 40.0) == 0.0
    crop[:3] = 90
    assert rgb_soiling_index(crop, 40.0) == pytest.approx(0.3)
    crop[3:5] = 255  # clipped: left out
    assert rgb_soiling_index(crop, 40.0) == pytest.approx(3 / 8)
    assert rgb_soiling_index(crop) == pytest.approx(3 / 8)  # the crop's own dark part as reference
    crop[:3] = (60, 110, 40)  # as bright, but leaves: not dirt
    assert rgb_soiling_index(crop, 40.0) == 0.0


def test_chunks_analysed_apart_merge_into_the_whole_flight(
    frames: list[ThermalFrame], layout: PlantLayout, result: InspectionResult
) -> None:
    half = len(frames) // 2
    first, second = InspectionAccumulator(layout), InspectionAccumulator(layout)
    for frame in frames[:half]:
        first.add(frame)
    for frame in frames[half:]:
        second.add(frame)
    first = pickle.loads(pickle.dumps(first))  # as a worker process would hand it back
    first.merge(second)
    merged = first.result()
    assert {(f.module_id, f.anomaly_class) for f in merged.findings} == {
        (f.module_id, f.anomaly_class) for f in result.findings
    }
    assert merged.frames_total == result.frames_total
    assert [m.module_id for m in merged.modules] == [m.module_id for m in result.modules]


@pytest.mark.parametrize("count", [1, 7, 312, 960])
def test_row_medians_equal_numpy_medians_including_nan_rows(count: int) -> None:
    values = np.random.default_rng(count).normal(30, 2, (50, count)).astype(np.float32)
    values[3, 0] = np.nan
    np.testing.assert_array_equal(row_medians(values), np.median(values, axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_one_sort_statistics_equal_numpys_bit_for_bit(dtype: type[np.floating]) -> None:
    rng = np.random.default_rng(4)
    for shape in [(1,), (2,), (7,), (12, 6), (48, 24), (49, 24), (101,)]:
        values = rng.normal(0, 3, shape).astype(dtype)
        assert _median(values) == float(np.median(values))
        if values.size > 700:  # the partition's path: NaN anywhere, and ties about the middle
            values.flat[rng.integers(values.size)] = np.nan
            assert np.isnan(_median(values))
            values = np.round(rng.normal(0, 3, shape)).astype(dtype)
            assert _median(values) == float(np.median(values))
        for q in (0, 10, 33.3, 50, 95, 100):
            expected = float(np.percentile(values, q))
            if dtype is np.float32:  # the module maps'
                assert _percentile(values, q) == expected
            assert _percentile(values, q) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    values[0] = np.nan
    assert np.isnan(_median(values))
    rows = rng.normal(0, 3, (200, 9)).astype(dtype)
    rows[rng.random(rows.shape) < 0.5] = np.nan
    rows[:, 4] = rng.normal(0, 3, 200)  # every row has a finite value
    np.testing.assert_array_equal(_nan_row_medians(rows), np.nanmedian(rows, axis=1))


def test_the_medians_over_views_of_many_modules_at_once_equal_one_module_at_a_time() -> None:
    rng = np.random.default_rng(9)
    counts = rng.integers(1, 7, 300)
    groups = np.repeat(np.arange(300), counts)
    values = rng.normal(30, 2, (len(groups), 3))
    values[rng.random(values.shape) < 0.01] = np.nan
    starts = np.flatnonzero(np.diff(groups, prepend=-1))
    got = _group_medians(values, starts, counts, groups)
    for g, (a, n) in enumerate(zip(starts, counts, strict=True)):
        for k in range(3):
            want = _med(values[a : a + n, k].tolist())
            assert got[g, k] == want or (np.isnan(want) and np.isnan(got[g, k]))


def test_the_order_statistics_from_the_interior_and_the_ring_equal_the_sorted_maps() -> None:
    rng = np.random.default_rng(8)
    for shape in [(60, 48, 24), (30, 7, 5), (10, 6, 6), (4, 3, 3)]:
        # coarse values: many ties between the ring and the interior
        crops = np.round(rng.normal(30, 2, shape), 1).astype(np.float32)
        crops[1, 0, :] += 9  # a hot ring, a cold one, a hot interior sample, a NaN in the ring
        crops[2, -1, :] -= 9
        crops[3, 1, 1] = 80
        if shape[0] > 4:
            crops[4, 0, 0] = np.nan
        n, size = shape[0], shape[1] * shape[2]
        ordered = np.sort(crops.reshape(n, -1), axis=1)
        inner, picked = _order_statistics(crops)
        np.testing.assert_array_equal(inner, np.sort(crops[:, 1:-1, 1:-1].reshape(n, -1), axis=1))
        has_nan = np.isnan(ordered[:, -1])
        lo = math.floor(0.95 * (size - 1))
        expected = ordered[:, [(size - 1) // 2, size // 2, lo, min(lo + 1, size - 1), size - 1]]
        expected[has_nan] = np.nan
        np.testing.assert_array_equal(picked, expected)
        med = _median_pick(picked[:, 0], picked[:, 1], size % 2 == 1, picked[:, 4])
        np.testing.assert_array_equal(med, row_medians(crops.reshape(n, -1)))
        np.testing.assert_array_equal(med, np.median(crops.reshape(n, -1), axis=1))
        p95 = _percentile_pick(picked[:, 2], picked[:, 3], size, 95, picked[:, 4])
        np.testing.assert_array_equal(p95, np.percentile(crops.reshape(n, -1), 95, axis=1).astype(np.float32))
        offset = rng.normal(29, 1, n).astype(np.float32)
        residuals = crops - offset[:, None, None]
        want = row_medians(residuals[:, 1:-1, 1:-1].reshape(n, -1))
        want[has_nan] = np.nan  # the whole map's NaN, as before
        np.testing.assert_array_equal(_interior_medians(inner, picked[:, 4], offset), want)


@pytest.mark.parametrize("sizes", [(1, 1), (1, 7), (12, 3), (40, 40), (0, 5)])
def test_the_compiled_ranks_of_two_sorted_rows_equal_the_ranks_of_their_union(sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(sizes))
    p, q = sizes
    a = np.sort(rng.integers(0, 6, (50, p)).astype(np.float32), axis=1)  # ties within and across
    b = np.sort(rng.integers(0, 6, (50, q)).astype(np.float32), axis=1)
    union = np.sort(np.concatenate([a, b], axis=1), axis=1)
    ranks = np.arange(p + q, dtype=np.intp)
    out = np.empty((50, p + q), dtype=np.float32)
    kernels.union_ranks(a, b, ranks, out)
    np.testing.assert_array_equal(out, union)


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (12, 6), (6, 12), (7, 9)])
def test_the_compiled_3x3_median_equals_scipys_median_filter_at_the_edges(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 13 + shape[1])
    for values in (
        rng.normal(0, 2, shape).astype(np.float32),
        rng.integers(-2, 3, shape).astype(np.float32),  # ties
    ):
        want = ndimage.median_filter(values, size=3, mode="nearest")
        got = _median_3x3(values)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def _edge_warmth_numpy(residuals: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_edge_warmth` in numpy: scipy's running medians along each side's two outer lines."""
    n, rows, cols = residuals.shape
    sides = (
        residuals[:, :2, 2:-2],
        residuals[:, -1:-3:-1, 2:-2],
        residuals[:, 2:-2, :2].transpose(0, 2, 1),
        residuals[:, 2:-2, -1:-3:-1].transpose(0, 2, 1),
    )
    best = np.zeros(n, dtype=np.float32)
    at_r, at_c = np.zeros(n, dtype=np.intp), np.zeros(n, dtype=np.intp)
    for side, lines in enumerate(sides):
        excess = lines - ndimage.median_filter(lines, size=(1, 1, size), mode="nearest")
        own = excess[:, 1] >= excess[:, 0]
        warmth = np.where(own, np.maximum(excess, 0).sum(axis=1), 0).astype(np.float32)
        place = np.argmax(warmth, axis=1)
        w = warmth[np.arange(n), place]
        better = w > best
        best = np.where(better, w, best)
        r = (0, rows - 1)[side] if side < 2 else place + 2
        c = place + 2 if side < 2 else (0, cols - 1)[side - 2]
        at_r, at_c = np.where(better, r, at_r), np.where(better, c, at_c)
    return best, at_r, at_c


@pytest.mark.parametrize("shape", [(48, 24), (26, 14), (24, 48), (9, 9)])
def test_the_compiled_warmth_along_the_frame_equals_its_numpy_form(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    maps = rng.normal(0, 0.3, (60, *shape)).astype(np.float32)
    maps[:20, [0, -1], :] -= rng.uniform(0, 9, (20, 2, 1)).astype(np.float32)  # a cold ring
    maps[20:30] = np.round(maps[20:30], 1)  # ties
    maps[30, 5, 0] = np.nan
    maps[31, 0, :] = np.nan
    maps[32] = np.nan
    for m in range(33, 60):  # slivers along a side: warmth on the ring and on the glass inside it
        r = int(rng.integers(2, shape[0] - 5))
        maps[m, r : r + 3, 0] += np.float32(rng.uniform(0, 2))
        maps[m, r : r + 3, 1] += np.float32(rng.uniform(0, 2))
    want = _edge_warmth_numpy(maps, EDGE_WINDOW)
    assert np.count_nonzero(want[0] >= 1.125) >= 5
    for got, expected in zip(_edge_warmth(maps), want, strict=True):
        np.testing.assert_array_equal(got, expected)
    # asked only whether the warmth reaches a mark: the maps that do read as in full
    reached: tuple[np.ndarray, ...] = _edge_warmth(maps, 1.125)
    reach = want[0] >= 1.125
    np.testing.assert_array_equal(reached[0] >= 1.125, reach)
    for a, b in zip(reached, want, strict=True):
        np.testing.assert_array_equal(a[reach], b[reach])


def test_the_fill_through_a_sample_is_the_label_of_that_sample() -> None:
    rng = np.random.default_rng(4)
    seen_outside = 0
    for _ in range(300):
        mask = rng.normal(0, 1, (48, 24)) >= rng.uniform(-1, 1.5)
        r, c = int(rng.integers(48)), int(rng.integers(24))
        labels, _ = ndimage.label(mask)
        seen_outside += not mask[r, c]
        np.testing.assert_array_equal(_patch_through(mask, r, c), labels == labels[r, c])
    assert seen_outside > 20  # a seed outside the mask: the samples outside it, as label 0


def test_the_rules_shortcuts_equal_the_numpy_forms_bit_for_bit() -> None:
    rng = np.random.default_rng(8)
    for _ in range(50):
        residual = rng.normal(0, rng.uniform(0.1, 20), (48, 24)).astype(np.float32)
        np.testing.assert_array_equal(
            _cell_means(residual, (6, 12), 4), residual.reshape(12, 4, 6, 4).mean(axis=(1, 3))
        )
        for part in (residual[:16], residual[32:], residual[3:6, 5:8], residual[:, 4:12]):
            assert _mean(part).dtype == np.float32
            assert _mean(part) == part.mean()
        np.testing.assert_array_equal(_glass(residual), np.pad(residual[1:-1, 1:-1], 1, mode="edge"))
    for n in range(3, 20):
        cells = np.arange(n)
        assert [cells[s].tolist() for s in _thirds(n)] == [p.tolist() for p in np.array_split(cells, 3)]


def test_a_median_kept_stays_the_median_when_values_are_set_to_it() -> None:
    rng = np.random.default_rng(8)
    kept = changed = 0
    for size in [7, 8, 49, 50, 1152, 1153] * 60:
        values = rng.normal(0, 2, size).astype(np.float32)
        if rng.random() < 0.5:  # ties about the middle, and zeros
            values = np.round(values * 2) / np.float32(2)
        median, stays = _median_kept(values)
        assert median == _median(values)
        changed_values = values.copy()
        changed_values[rng.random(size) < rng.uniform(0, 0.4)] = median
        after = _median(changed_values)
        if stays:
            kept += 1
            assert after == median and math.copysign(1, after) == math.copysign(1, median)
        else:
            changed += after != median or math.copysign(1, after) != math.copysign(1, median)
    assert kept > 100 and changed > 10  # both cases met, and the condition matters
    assert _median_kept(np.array([1.0, 0.0, -0.0, -1.0], dtype=np.float32)) == (0.0, False)
    assert _median_kept(np.array([1.0, math.nan, 2.0], dtype=np.float32))[1] is False


def _reflected_map(rng: np.random.Generator) -> np.ndarray:
    """A random 48 × 24 map with a soft warm patch (a sun reflection), sometimes hot cells, a cool region,
    values rounded to a few levels or an offset below the cool mark, the ring mostly flattened [K]."""
    rows, cols = np.meshgrid(np.arange(48) + 0.5, np.arange(24) + 0.5, indexing="ij")
    centre, sigma = rng.uniform((0, 0), (48, 24)), rng.uniform(2.0, 3.5)
    out: np.ndarray = rng.uniform(4, 14) * np.exp(
        -((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma**2)
    )
    out += rng.normal(0, 0.2, out.shape)
    for _ in range(rng.integers(0, 3)):
        i, j = rng.integers(12), rng.integers(6)
        out[4 * i : 4 * i + 4, 4 * j : 4 * j + 4] += rng.uniform(3, 9)
    if rng.random() < 0.3:
        out[rng.integers(30, 44) :, : rng.integers(8, 25)] -= rng.uniform(2.5, 5)
    if rng.random() < 0.3:
        out = np.round(out * 4) / 4
    out += rng.choice([0.0, rng.uniform(-3.5, 3.0)])
    if rng.random() < 0.8:
        out[[0, -1], :] = out[:, [0, -1]] = np.median(out[1:-1, 1:-1])
    return out.astype(np.float32)


def _cool_region(residual: np.ndarray, k: int) -> bool:
    """Whether the rules' cool region rule fires on a map (its form in :func:`classify_crop`)."""
    cool = residual < -2.0
    cool[1] = cool[-2] = False
    cool[:, 1] = cool[:, -2] = False
    return bool(np.count_nonzero(cool) >= 3 * k and np.count_nonzero(rules._inward(cool)) >= 3 * k)


def test_the_rules_classify_a_reflected_maps_rest_as_without_reusing_the_maps_median(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(21)
    maps = [_reflected_map(rng) for _ in range(400)]
    reused: list[float] = []
    classify = rules._classify

    def counted(
        residual: np.ndarray,
        cell_grid: tuple[int, int],
        k: int,
        portrait: bool,
        known_median: float | None,
        median: float | None = None,
        spread: float = 1.0,
    ) -> ViewClass:
        assert median is None  # no caller's median here
        if known_median is not None:
            reused.append(known_median)
            # what is reused is what the rest's own pass would find: its median, and no cool region
            median = _median(residual)
            assert median == known_median and math.copysign(1, median) == math.copysign(1, known_median)
            assert known_median < -2.0 or not _cool_region(residual, k)
        return classify(residual, cell_grid, k, portrait, known_median, spread=spread)

    monkeypatch.setattr(rules, "_classify", counted)
    # the Python rules (classify_crop's compiled form is held to them below)
    found = [repr(rules._classify(m, (6, 12), 4, True, None)) for m in maps]
    # the old form: every rest's median computed again and its cool region looked for
    kept = rules._median_kept
    monkeypatch.setattr(rules, "_median_kept", lambda values: (kept(values)[0], False))
    assert [repr(rules._classify(m, (6, 12), 4, True, None)) for m in maps] == found
    assert len(reused) > 100
    assert len({f.split(",")[0] for f in found}) >= 5  # several classes, not one path


def test_the_rules_take_the_medians_of_maps_whose_ring_holds_them(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(22)
    maps = np.stack([_reflected_map(rng) for _ in range(300)])
    maps[::7] = np.round(maps[::7])  # ties at the middle ranks, and zero medians
    medians = _flatten_ring(maps)
    # the warmth along the frame put on one ring sample of some (_edge_to_ring)
    maps[::3, 0, 5] = medians[::3] + np.float32(1.5)
    given = []
    classify = rules._classify

    def checked(
        residual: np.ndarray,
        cell_grid: tuple[int, int],
        k: int,
        portrait: bool,
        known_median: float | None,
        median: float | None = None,
        spread: float = 1.0,
    ) -> ViewClass:
        if median is not None:
            given.append(median)
            own = _median(residual)
            assert own == median and math.copysign(1, own) == math.copysign(1, median)
            assert rules._median_kept(residual) == (own, True)
        return classify(residual, cell_grid, k, portrait, known_median, median=median, spread=spread)

    monkeypatch.setattr(rules, "_classify", checked)
    # the Python rules with and without the medians (classify_crop's compiled form is held to them below)
    found = [
        repr(rules._classify(m, (6, 12), 4, True, None, median=rules._median_given(med)))
        for m, med in zip(maps, medians.tolist(), strict=True)
    ]
    assert found == [repr(rules._classify(m, (6, 12), 4, True, None)) for m in maps]
    assert 200 < len(given) < 300  # zero medians computed again
    assert len({f.split(",")[0] for f in found}) >= 5
    assert rules._median_given(0.0) is None and rules._median_given(-0.0) is None
    assert rules._median_given(math.nan) is None and rules._median_given(math.inf) is None
    assert rules._median_given(3e38) is None and rules._median_given(-1.25) == -1.25


def _rule_map(rng: np.random.Generator, cv: int, cu: int, k: int, portrait: bool) -> np.ndarray:
    """A random module map of cv × cu cells of k × k samples with one or two of the patterns the rules name
    (a reflection, hot cells, a hot spot, a warm module or third, a cool region, dust at the low edge, a
    crack, the junction box), sometimes rounded to a few levels (ties) and its ring flattened [K]."""
    rows, cols = cv * k, cu * k
    out = rng.normal(0, 0.2, (rows, cols))
    rr, cc = np.meshgrid(np.arange(rows) + 0.5, np.arange(cols) + 0.5, indexing="ij")
    for kind in rng.choice(8, size=int(rng.integers(1, 3)), replace=False):
        if kind == 0:  # a sun reflection
            centre, sigma = rng.uniform((0, 0), (rows, cols)), rng.uniform(1.5, 3.5)
            out += rng.uniform(4, 14) * np.exp(
                -((rr - centre[0]) ** 2 + (cc - centre[1]) ** 2) / (2 * sigma**2)
            )
        elif kind == 1:  # whole hot cells
            for _ in range(int(rng.integers(1, 4))):
                i, j = rng.integers(cv), rng.integers(cu)
                out[k * i : k * i + k, k * j : k * j + k] += rng.uniform(3, 9)
        elif kind == 2:  # a hot spot, or the junction box's warmth
            centre = rng.uniform((1, 1), (rows - 1, cols - 1))
            if rng.random() < 0.4:
                box = rules.JUNCTION_BOX if portrait else (rules.JUNCTION_BOX[1], rules.JUNCTION_BOX[0])
                centre = np.array([(1 - box[1]) * rows, box[0] * cols]) + rng.normal(0, 1, 2)
            sigma = rng.uniform(0.4, 1.5)
            out += rng.uniform(4, 25) * np.exp(
                -((rr - centre[0]) ** 2 + (cc - centre[1]) ** 2) / (2 * sigma**2)
            )
        elif kind == 3:  # a warm module, or one or two thirds of it
            warm = np.ones((rows, cols), dtype=bool)
            if rng.random() < 0.6:
                n = cu if portrait else cv
                cut = k * rules._thirds(n)[int(rng.integers(3))].start, k * rules._thirds(n)[-1].start
                if portrait:
                    warm[:, : cut[int(rng.integers(2))] or k] = False
                else:
                    warm[: cut[int(rng.integers(2))] or k] = False
            out[warm] += rng.uniform(2, 6)
        elif kind == 4:  # shade or vegetation
            top = int(rng.integers(rows // 2, rows - 3))
            if rng.random() < 0.5:
                out[top:, : int(rng.integers(cols // 2, cols + 1))] -= rng.uniform(2.5, 5)
            else:
                for col in range(cols):
                    out[top + int(rng.integers(-3, 4)) :, col] -= rng.uniform(2.2, 4)
        elif kind == 5:  # dust at the low edge
            out += np.clip((rr / rows - rng.uniform(0.4, 0.8)) * rng.uniform(2, 6), 0, None)
        elif kind == 6:  # a crack: part of one cell
            i, j = rng.integers(cv), rng.integers(cu)
            h, w = int(rng.integers(1, k)), int(rng.integers(1, k + 1))
            out[k * i : k * i + h, k * j : k * j + w] += rng.uniform(1.5, 5)
        else:  # an offset below the cool mark or above
            out += rng.uniform(-3.5, 3.0)
    if rng.random() < 0.3:
        out = np.round(out * 4) / 4
    if rng.random() < 0.8:
        out[[0, -1], :] = out[:, [0, -1]] = np.median(out[1:-1, 1:-1])
    out = out.astype(np.float32)
    if rng.random() < 0.5:
        # samples about the peak on the levels the rules compare with (half and a tenth of the way from the
        # median to the peak), which a float64 comparison would place on the other side half of the time
        m, (r, c) = float(np.median(out)), divmod(int(out.argmax()), cols)
        peak = float(out[r, c]) - m
        near = np.zeros_like(out, dtype=bool)
        near[max(r - k, 0) : r + k + 1, max(c - k, 0) : c + k + 1] = True
        near[r, c] = False
        for level in (m + 0.5 * peak, m + 0.1 * peak):
            spots = np.flatnonzero(near & (out > m))
            picked = rng.choice(spots, size=min(len(spots), int(rng.integers(1, 6))), replace=False)
            out.ravel()[picked] = np.float32(level)
    return out


def _same_view_class(a: ViewClass, b: ViewClass) -> bool:
    """The same class and values (a zero's sign aside: numpy's sort and the kernel's selection may each put
    either of two equal zeros at a middle rank)."""

    def same(x: float | None, y: float | None) -> bool:
        if x is None or y is None:
            return x is y
        both_nan = math.isnan(x) and math.isnan(y)
        return both_nan or (x == y and (x == 0 or math.copysign(1, x) == math.copysign(1, y)))

    if (
        a.anomaly is not b.anomaly
        or a.confidence != b.confidence
        or (a.location is None) != (b.location is None)
    ):
        return False
    where = [] if a.location is None or b.location is None else list(zip(a.location, b.location, strict=True))
    return (
        same(a.delta_t_k, b.delta_t_k)
        and same(a.spot_cells, b.spot_cells)
        and all(same(float(x), float(y)) for x, y in where)
    )


@pytest.mark.parametrize(
    ("cell_grid", "k", "portrait"),
    [((6, 12), 4, True), ((12, 6), 4, False), ((6, 10), 5, True), ((6, 12), 3, True)],
)
def test_the_compiled_rules_name_every_map_as_the_python_rules_do(
    cell_grid: tuple[int, int], k: int, portrait: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    cu, cv = cell_grid
    rng = np.random.default_rng(31 + k + 7 * portrait)
    maps = [_rule_map(rng, cv, cu, k, portrait) for _ in range(700)]
    # the kernel leaves maps with a NaN, an infinity or a value whose sums could overflow to the Python rules
    for m, bad in zip(maps[::25], itertools.cycle([np.nan, np.inf, np.nan, -3e35]), strict=False):
        m[int(rng.integers(2, cv * k - 2)), int(rng.integers(2, cu * k - 2))] = bad
    python = rules._classify
    fallbacks = []

    def counted(residual: np.ndarray, *args: Any, **kwargs: Any) -> ViewClass:
        fallbacks.append(residual)
        return python(residual, *args, **kwargs)

    expected = {
        spread: [python(m, cell_grid, k, portrait, None, spread=spread) for m in maps]
        for spread in (1.0, 1.4)
    }
    monkeypatch.setattr(rules, "_classify", counted)
    for spread, want in expected.items():
        got = [classify_crop(m, cell_grid, k, portrait, spread=spread) for m in maps]
        assert [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if not _same_view_class(g, w)] == []
    # with each map's median from the caller, as the screen gives it (its own median, kept)
    medians = np.array([np.median(m) for m in maps], dtype=np.float32)
    got = RuleClassifier()(np.stack(maps), cell_grid, k, portrait, medians=medians)
    assert all(_same_view_class(g, w) for g, w in zip(got, expected[1.0], strict=True))
    # only those went to the Python rules (twice each above, once here)
    assert len(fallbacks) == 3 * len(maps[::25])
    assert all(not (np.abs(f) <= 1e30).all() for f in fallbacks)
    # every class the rules name, and every step of theirs, was taken
    named = Counter(v.anomaly for v in expected[1.0])
    assert set(named) >= {
        Anomaly.NONE, Anomaly.MODULE_OFFLINE, Anomaly.SUBSTRING, Anomaly.SHADING, Anomaly.VEGETATION,
        Anomaly.HOT_SPOT, Anomaly.SINGLE_HOT_CELL, Anomaly.MULTIPLE_HOT_CELLS, Anomaly.SOILING,
        Anomaly.CRACKING, Anomaly.JUNCTION_BOX,
    }, named  # fmt: skip


def test_the_compiled_means_sum_in_numpys_order_bit_for_bit() -> None:
    # numpy sums float32 pairwise (eight partial sums from eight values on, split in two past 128), so a
    # plain running sum differs in the last bits: the kernel must give numpy's bits, NaN and one column too
    rng = np.random.default_rng(21)
    for trial in range(300):
        k, cv, cu = int(rng.integers(1, 11)), int(rng.integers(3, 14)), int(rng.integers(1, 8))
        values = rng.normal(0, 1, (cv * k, cu * k)) * rng.choice([0.01, 1, 100]) + rng.choice([0, 30])
        values = values.astype(np.float32)
        if trial % 7 == 0:
            values[rng.integers(0, cv * k), rng.integers(0, cu * k)] = np.nan
        portrait = bool(trial % 2) and cu >= 3
        sums = np.add.reduce(values.reshape(cv, k, cu, k), axis=(1, 3))
        expected = np.true_divide(sums, np.intp(k * k), out=sums, casting="unsafe")
        cells, thirds = _cell_and_third_means(values, (cu, cv), k, portrait)
        assert cells.tobytes() == expected.tobytes()
        assert _cell_means(values, (cu, cv), k).tobytes() == expected.tobytes()
        parts = [expected[:, s] if portrait else expected[s] for s in _thirds(cu if portrait else cv)]
        assert thirds.tobytes() == np.array([p.mean() for p in parts], dtype=np.float32).tobytes()
        r0, r1 = sorted(rng.integers(0, cv * k, 2))
        c0, c1 = sorted(rng.integers(0, cu * k, 2))
        for part in (values[r0 : r1 + 1, c0 : c1 + 1], values, values[::2]):
            assert _mean(part).tobytes() == part.mean().tobytes()
    # the running sum is not numpy's: the test can tell
    values = rng.normal(0, 1, (48, 24)).astype(np.float32)
    running = np.float32(0)
    for v in values.ravel():
        running = np.float32(running + v)
    assert np.float32(np.float64(running) / values.size) != _mean(values)


def _hot_cells_numpy(glass: np.ndarray, cells: np.ndarray, k: int) -> int:
    """The numpy form of ``_hot_cells`` (before its compiled loop)."""
    base = _median(cells)
    surround = _median_3x3(cells)
    excess = cells - base
    hot = (excess >= max(3.0, 0.5 * float(excess.max()))) & (cells - surround >= 2.0)
    candidates: dict[tuple[int, int], tuple[float, float]] = {}
    for i, j in zip(*(a.tolist() for a in np.nonzero(hot)), strict=True):
        block = glass[i * k : (i + 1) * k, j * k : (j + 1) * k]
        r, c = divmod(int(block.argmax()), block.shape[1])
        rise = float(block[r, c]) - base
        level = base + 0.5 * rise
        if _fill(glass, i * k + r, j * k + c, k, level) >= 0.55:
            candidates[(i, j)] = (rise, level)
    if len(candidates) < 2:
        return len(candidates)
    whole: dict[tuple[int, int], tuple[int, bool]] = {}
    for (i, j), (rise, level) in candidates.items():
        block = glass[i * k : (i + 1) * k, j * k : (j + 1) * k]
        window = glass[max(i * k - 1, 0) : (i + 1) * k + 1, max(j * k - 1, 0) : (j + 1) * k + 1]
        whole[(i, j)] = (int(np.count_nonzero(block >= level)), _steepest(window) >= CELL_EDGE_STEP * rise)
    if any(sharp for _, sharp in whole.values()):
        whole = {cell: v for cell, v in whole.items() if v[1]}

    def moved_over(i: int, j: int, own: int) -> bool:
        around = (whole.get((i + di, j + dj)) for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj)
        return own <= k and any(n is not None and n[0] > own for n in around)

    return sum(1 for (i, j), (own, _) in whole.items() if not moved_over(i, j, own))


def test_the_compiled_hot_cells_equal_the_numpy_form() -> None:
    rng = np.random.default_rng(31)
    counts = []
    for trial in range(500):
        k, cv, cu = int(rng.integers(2, 6)), int(rng.integers(3, 13)), int(rng.integers(3, 8))
        glass: np.ndarray = rng.normal(0, 0.5, (cv * k, cu * k)).astype(np.float32)
        for _ in range(int(rng.integers(0, 6))):
            i, j = rng.integers(0, cv), rng.integers(0, cu)
            glass[i * k : (i + 1) * k, j * k : (j + 1) * k] += rng.uniform(2, 12)
            if rng.random() < 0.5:  # soft-edged, or spilled over a row of samples by a registration error
                glass[max(i * k - 1, 0) : (i + 1) * k + 1, j * k : (j + 1) * k] += rng.uniform(0, 3)
        if rng.random() < 0.3:
            glass = np.round(glass * 2) / 2  # ties: a level on a sample, equal maxima
        if trial % 50 == 0:
            glass[rng.integers(0, cv * k), rng.integers(0, cu * k)] = np.nan
        glass = np.ascontiguousarray(glass, dtype=np.float32)
        cells = _cell_means(glass, (cu, cv), k)
        counts.append(_hot_cells_numpy(glass, cells, k))
        assert _hot_cells(glass, cells, k) == counts[-1]
    assert {0, 1, 2, 3, 4} <= set(counts)  # none, one and several, with moved-over and soft cells among them


def test_the_compiled_screen_picks_the_maps_the_numpy_screen_picks() -> None:
    rng = np.random.default_rng(9)
    residuals = rng.normal(0, 0.4, (400, 48, 24)).astype(np.float32)
    residuals[::7, 10, 10] += rng.uniform(0.5, 3, len(residuals[::7]))
    residuals[::11, 2:20, 3:9] -= rng.uniform(0, 3, len(residuals[::11]))[:, None, None]
    residuals[::5] += rng.uniform(-2, 2, len(residuals[::5]))[:, None, None]
    residuals[1, 0, 0] = -9  # the ring is left out of the minimum
    med = row_medians(residuals.reshape(len(residuals), -1))
    flat = residuals.reshape(len(residuals), -1)
    expected = (
        (flat.max(axis=1) - med >= 1.5)
        | (residuals[:, 2:-2, 2:-2].min(axis=(1, 2)) <= -2.0)
        | (np.abs(med) >= 1.5)
        | (np.mean(flat - med[:, None] > SOILING_WARM_K, axis=1) >= 0.1)
    )
    suspect = np.empty(len(residuals), dtype=bool)
    kernels.screen(
        residuals, med, np.full(len(med), -np.inf, np.float32), 1.5, SOILING_WARM_K, 2, 0.1, suspect
    )
    assert 0 < expected.sum() < len(expected)
    np.testing.assert_array_equal(suspect, expected)


def test_the_compiled_soiling_index_equals_the_numpy_form() -> None:
    rng = np.random.default_rng(10)
    residuals = rng.normal(0, 0.6, (200, 48, 24)).astype(np.float32)
    top = row_medians(residuals[:, :16].reshape(200, -1))
    expected = np.mean(residuals - top[:, None, None] > SOILING_WARM_K, axis=(1, 2))
    np.testing.assert_array_equal(soiling_indices(residuals), expected)


@pytest.mark.parametrize("radius_m", [0.5, 3.0, 5.0, 9.0])
@pytest.mark.parametrize("strings_of", [3, 12])
def test_the_compiled_neighbour_table_equals_the_one_from_the_neighbour_lists(
    layout: PlantLayout, radius_m: float, strings_of: int
) -> None:
    plant = generate_layout(rectangle(44, 30), LayoutParams(modules_per_string=strings_of))
    _, strings = np.unique([m.string for m in plant.modules], return_inverse=True)
    expected = _neighbour_table_from_lists(plant, radius_m, strings.astype(np.intp))
    np.testing.assert_array_equal(_neighbour_table(plant, radius_m), expected)
    # two far-apart modules: no neighbours (at 0.5 m too sparse a grid: the lists)
    sparse = with_modules(plant, [plant.modules[0], plant.modules[-1]])
    assert _neighbour_table(sparse, radius_m).tolist() == [[-1], [-1]]


def test_the_robust_surface_stopping_when_its_inliers_repeat_equals_four_full_rounds() -> None:
    def four_rounds(r: np.ndarray, c: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start = _densest_half_median(values)
        fit = np.full(len(values), start)
        design = np.column_stack([np.ones_like(r), r, c, r * r, c * c, r * c])
        keep = np.ones(len(values), dtype=bool)
        fitted = None
        for _ in range(4):
            dev = values - fit
            mad = _median(np.abs(dev - _median(dev)))
            keep = np.abs(dev) <= min(max(0.7, 3 * 1.4826 * mad), SURFACE_INLIER_MAX_K)
            keep &= np.abs(values - start) <= SURFACE_INLIER_MAX_K
            if keep.sum() < 12:
                break
            coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
            fit = design @ coef
            fitted = keep
        return _held(fit, fitted), keep

    rng = np.random.default_rng(11)
    for n in (20, 95, 140):
        r, c = rng.random(n), rng.random(n)
        values = 30 + 2 * r - c + 0.5 * r * c + rng.normal(0, 0.3, n)
        values[rng.random(n) < 0.15] += rng.uniform(2, 6)
        fit, keep, _ = _robust_surface(r, c, values)
        expected_fit, expected_keep = four_rounds(r, c, values)
        np.testing.assert_array_equal(fit, expected_fit)
        np.testing.assert_array_equal(keep, expected_keep)


def _nan_row_medians(values: np.ndarray) -> np.ndarray:
    """``np.nanmedian(values, axis=1)`` of rows with at least one finite value, by one sort (NaN sorts
    last, so a row's finite values come first)."""
    ordered = np.sort(values, axis=1)
    count = np.isfinite(ordered).sum(axis=1)
    rows = np.arange(len(ordered))
    return np.asarray((ordered[rows, (count - 1) // 2] + ordered[rows, count // 2]) / 2, dtype=np.float64)


def _densest_half_median(values: np.ndarray) -> float:
    """The numpy form of the robust surface's first fit (``kernels._densest_half``): the median of the
    closest half of ``values`` (the shortest interval holding more than half of them); NaN when any is NaN.

    Where warm modules are nearly half of a frame, the median lies at the edge of the healthy ones; the
    densest half lies among them.
    """
    ordered = np.sort(values)
    n = len(ordered)
    if n == 0 or math.isnan(ordered[-1]):
        return math.nan
    h = n // 2 + 1
    i = int(np.argmin(ordered[h - 1 :] - ordered[: n - h + 1]))
    return _median(ordered[i : i + h])


def _numpy_robust_surface(r: np.ndarray, c: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The robust surface as numpy computed it before the compiled loop."""
    start = _densest_half_median(values)
    near_start = np.abs(values - start) <= SURFACE_INLIER_MAX_K
    fit = np.full(len(values), start)
    design = np.column_stack([np.ones_like(r), r, c, r * r, c * c, r * c])
    keep = np.ones(len(values), dtype=bool)
    fitted = None
    for _ in range(4):
        dev = values - fit
        mad = _median(np.abs(dev - _median(dev)))
        keep = (np.abs(dev) <= min(max(0.7, 3 * 1.4826 * mad), SURFACE_INLIER_MAX_K)) & near_start
        if keep.sum() < 12:
            break
        if fitted is not None and np.array_equal(keep, fitted):
            break
        coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        fit = design @ coef
        fitted = keep
    return _held(fit, fitted), keep


def _held(fit: np.ndarray, fitted: np.ndarray | None) -> np.ndarray:
    """The surface held within SURFACE_REACH_K of its range over the last fit's inliers."""
    inside = fit[fitted] if fitted is not None else fit[:0]
    inside = inside[np.isfinite(inside)]
    if not len(inside):
        return fit
    held: np.ndarray = np.clip(fit, inside.min() - SURFACE_REACH_K, inside.max() + SURFACE_REACH_K)
    return held


def test_the_compiled_robust_surface_equals_its_numpy_form_bit_for_bit() -> None:
    rng = np.random.default_rng(12)
    for trial in range(400):
        n = int(rng.integers(1, 160))
        r, c = rng.random(n), rng.random(n)
        values = 45 + 2 * r - c + 0.5 * r * c + rng.normal(0, rng.uniform(0.05, 1.5), n)
        values[rng.random(n) < rng.uniform(0, 0.5)] += rng.uniform(-6, 6)
        if trial % 10 == 0:
            values[rng.integers(n)] = np.nan  # a map with a NaN has a NaN median
        if trial % 7 == 0:
            values = np.round(values, 1)  # ties
        near = rng.integers(-1, n, (n, int(rng.integers(0, 12))))
        fit, keep, ref = _robust_surface(r, c, values, near)
        expected_fit, expected_keep = _numpy_robust_surface(r, c, values)
        assert fit.tobytes() == expected_fit.tobytes()
        np.testing.assert_array_equal(keep, expected_keep)
        # the reference as frame_statistics computed it in numpy
        resid = np.append(np.where(keep, values - fit, np.nan), np.nan)
        neighbour = resid[np.where(near >= 0, near, n)]
        has = np.isfinite(neighbour).any(axis=1)
        expected_ref = fit.copy()
        if has.any():
            expected_ref[has] += _nan_row_medians(neighbour[has])
        assert ref.tobytes() == expected_ref.tobytes()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("warmth", [3.0, 4.5])
def test_an_open_string_filling_half_of_a_two_row_frame_stays_out_of_the_surface(
    warmth: float, seed: int
) -> None:
    # a frame at the plant's edge sees two rows; thirteen modules of one are an open string, the
    # fourteenth healthy: the quadratic could pass through both rows, so only the inlier bands keep the
    # string out of the background. At 3 K (seed 84) the frame's median, at the top of the healthy
    # modules, had string modules within the band; the surface then stepped across the rows to them
    rng = np.random.default_rng(seed)
    c = np.tile(np.linspace(0.04, 0.66, 14), 2)
    r = np.repeat([0.84, 0.68], 14)
    values = 49.5 + 0.6 * c + rng.normal(0, 0.25, 28)
    values[14:27] += warmth
    fit, keep, _ = _robust_surface(r, c, values)
    assert not keep[14:27].any()
    assert np.all(values[14:27] - fit[14:27] > warmth - 1.0)


@pytest.mark.parametrize("jitter", [0.0005, 0.002, 0.005])
def test_the_surface_fitted_to_one_row_does_not_run_off_across_the_next(jitter: float) -> None:
    # the same two rows, their modules' positions a yaw's jitter off a line (a pose turned by 0.05–0.5°):
    # the quadratic's terms across the rows, fitted to that jitter, read −25 K to +57 K on the string row
    # (a synthetic oblique view: 10,000 K on a healthy row)
    rng = np.random.default_rng(84)
    c = np.tile(np.linspace(0.04, 0.66, 14), 2)
    r = np.repeat([0.84, 0.68], 14) + rng.uniform(-jitter, jitter, 28)
    values = 49.5 + 0.6 * c + rng.normal(0, 0.25, 28)
    values[14:27] += 5.0
    fit, keep, ref = _robust_surface(r, c, values)
    assert not keep[14:27].any() and keep[:14].all()
    assert np.all(fit <= fit[keep].max() + SURFACE_REACH_K) and np.all(
        fit >= fit[keep].min() - SURFACE_REACH_K
    )
    assert np.all(values[14:27] - ref[14:27] > 3.0)  # still an open string's warmth


def test_the_densest_half_lies_among_the_healthy_modules() -> None:
    values = np.array([50.0, 50.1, 50.2, 50.3, 50.4, 52.9, 53.0, 53.2, 53.4], dtype=np.float64)
    assert _densest_half_median(values) == pytest.approx(50.2)
    assert _median(values) == pytest.approx(50.4)
    assert math.isnan(_densest_half_median(np.array([1.0, math.nan, 2.0])))


def _module_map(warm: np.ndarray, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A module's residual map as the camera sees it and the analysis resamples it, from a pattern on a
    6 × 12 portrait module given at 10 texels per sample [K]: pixels of 0.8 sample (5 per cell, the IEC
    minimum) each showing the texel at its centre, the pixel grid off the cell grid by ``shift`` samples,
    the optics' blur (σ 0.6 px), bilinear resampling at 4 samples per cell, and the outermost samples (the
    module's frame) set to the map's median, as ``_flatten_ring`` does."""
    px = 0.8
    centres = [np.arange(-1.0, n + 1.0, px) + px / 2 + d for n, d in zip((48, 24), shift, strict=True)]
    texels = [np.clip((x * 10).astype(int), 0, n * 10 - 1) for x, n in zip(centres, (48, 24), strict=True)]
    image = ndimage.gaussian_filter(warm[np.ix_(*texels)].astype(np.float64), 0.6)
    at = [np.interp(np.arange(n) + 0.5, x, np.arange(len(x))) for x, n in zip(centres, (48, 24), strict=True)]
    out: np.ndarray = ndimage.map_coordinates(image, np.meshgrid(*at, indexing="ij"), order=1)
    median = float(np.median(out[1:-1, 1:-1]))
    out[[0, -1], :] = median
    out[:, [0, -1]] = median
    return out.astype(np.float32)


def _cells(delta_k: float, *cells: tuple[int, int]) -> np.ndarray:
    warm = np.zeros((480, 240))
    for i, j in cells:
        warm[i * 40 : (i + 1) * 40, j * 40 : (j + 1) * 40] = delta_k
    return warm


def _framed_map(
    warm: np.ndarray, shift: tuple[float, float] = (0.0, 0.0), beyond: np.ndarray | None = None
) -> np.ndarray:
    """:func:`_module_map` before the ring is flattened, the module's surroundings seen too: the frame (2 cm,
    half a sample) 2.5 K under the glass and, three samples around it, the cold gap between the rows
    (−9 K), or ``beyond``, given with the module's pattern at its place (shape (540, 300)) [K]."""
    px, m = 0.8, 3
    scene = np.full((540, 300), -9.0) if beyond is None else beyond.astype(np.float64).copy()
    glass = warm.astype(np.float64).copy()
    glass[:5], glass[-5:], glass[:, :5], glass[:, -5:] = -2.5, -2.5, -2.5, -2.5
    scene[30:510, 30:270] = glass
    centres = [np.arange(-m, n + m, px) + px / 2 + d for n, d in zip((48, 24), shift, strict=True)]
    texels = [
        np.clip(((x + m) * 10).astype(int), 0, (n + 2 * m) * 10 - 1)
        for x, n in zip(centres, (48, 24), strict=True)
    ]
    image = ndimage.gaussian_filter(scene[np.ix_(*texels)], 0.6)
    at = [np.interp(np.arange(n) + 0.5, x, np.arange(len(x))) for x, n in zip(centres, (48, 24), strict=True)]
    seen: np.ndarray = ndimage.map_coordinates(image, np.meshgrid(*at, indexing="ij"), order=1)
    return seen.astype(np.float32)


def _edge_sliver(delta_k: float) -> np.ndarray:
    """A crack's warm side against the left frame in cell (9, 0): 1.6 samples (6.6 cm) deep at the cell's
    top, 0.8 at its bottom, the frame's 2 cm of it hidden."""
    warm = np.zeros((480, 240))
    for k in range(40):
        warm[360 + k, : int(16 - 8 * k / 39)] = delta_k
    return warm


def _frame_of(maps: list[np.ndarray]) -> dict[str, object]:
    """Arguments of :func:`frame_statistics` for maps of modules in a row at 40 °C, no neighbours."""
    n = len(maps)
    return {
        "crops": np.stack(maps).astype(np.float32) + np.float32(40.0),
        "rows": np.full(n, 0.5),
        "cols": np.linspace(0.1, 0.9, n),
        "near": np.full((n, 1), -1, dtype=np.intp),
        "classifier": RuleClassifier(),
        "cell_grid": (6, 12),
        "portrait": True,
    }


def test_a_cracks_sliver_hidden_by_the_frame_is_a_crack() -> None:
    # seeds 85 and 86: the sliver's warmth, split by the optics between the ring (the frame, set to the
    # median) and the glass next to it, peaked 1.2–1.3 K above the module, under the screen's 1.5 K
    healthy = [_framed_map(np.zeros((480, 240)), (0.1 * i, -0.1 * i)) for i in range(6)]
    crack = _framed_map(_edge_sliver(2.6))
    assert crack[1:-1, 1:-1].max() - np.median(crack[1:-1, 1:-1]) < 1.5
    _, classes = frame_statistics(**_frame_of([*healthy[:3], crack, *healthy[3:]]))  # type: ignore[arg-type]
    assert [c.anomaly for c in classes] == [Anomaly.NONE] * 3 + [Anomaly.CRACKING] + [Anomaly.NONE] * 3
    assert classes[3].location is not None and classes[3].location[0] < 0.1  # at the left edge


def test_a_cracks_sliver_hidden_by_the_frame_passes_the_coarse_screen() -> None:
    # the profile across the left frame of seed 85's B-06-19 in one view: the ring 1.2 K under the glass,
    # and at the sliver (rows 36–38) about 1 K warmer than that; the glass next to it 1.1–1.3 K warm
    rng = np.random.default_rng(3)
    maps = rng.normal(0.0, 0.05, (5, 48, 24)).astype(np.float32)
    maps[:, [0, -1], :] -= 1.2
    maps[:, :, [0, -1]] -= 1.2
    maps[4, 36:39, 0] += np.array([0.7, 1.0, 0.8], dtype=np.float32)
    maps[4, 36:39, 1] += np.array([1.1, 1.3, 0.4], dtype=np.float32)
    args = _frame_of(list(maps))
    whole = args.pop("crops")
    assert isinstance(whole, np.ndarray)
    thin = np.ascontiguousarray(whole[:, thinned(48)][:, :, thinned(24)])
    peaks = whole[:, 1:-1, 1:-1].reshape(len(whole), -1).max(axis=1)
    _, classes = frame_statistics(thin, **args, peaks=peaks, detail=lambda idx: whole[idx])  # type: ignore[arg-type]
    assert [c.anomaly for c in classes] == [Anomaly.NONE] * 4 + [Anomaly.CRACKING]


def test_a_lighter_stretch_of_a_line_colder_than_the_glass_is_no_sliver() -> None:
    # photos only at -45 degrees, seed 1, A-10-41 at the end of its row, one of its two views: the rectangle
    # segmented a sample too wide lays the ring on the cold roof and the next line on the frame, both
    # stepping with the resampling's staircase; against their running medians a step reads 1.7 K warm
    ring = [-15.7, -15.0, -14.6, -14.2, -13.5, -12.7, -11.8, -10.9, -10.6, -11.9, -14.2, -14.8, -14.6, -14.2,
            -13.8, -13.4, -13.0, -12.3, -11.4, -10.7, -10.0, -9.8, -11.5, -13.7, -14.0, -13.7, -13.2, -12.7,
            -12.3, -12.0, -11.4, -10.5, -9.7, -9.0, -8.4, -8.1, -8.6, -11.2, -12.5, -12.5, -11.9, -11.3,
            -10.7, -10.0, -9.6, -9.0, -9.3, -10.9]  # fmt: skip
    line = [-7.1, -5.1, -4.1, -3.9, -3.6, -3.2, -2.8, -2.5, -2.9, -4.3, -6.0, -6.0, -5.4, -4.7, -4.1, -3.8,
            -3.6, -3.3, -2.8, -2.4, -2.2, -2.4, -3.9, -5.3, -5.2, -4.7, -4.2, -3.6, -3.2, -3.2, -2.9, -2.5,
            -2.1, -1.8, -1.6, -1.7, -2.2, -3.6, -4.1, -3.8, -3.3, -2.8, -2.4, -2.1, -2.1, -2.0, -3.4,
            -6.8]  # fmt: skip
    rng = np.random.default_rng(3)
    maps = rng.normal(0.0, 0.05, (5, 48, 24)).astype(np.float32)
    maps[:, [0, -1], :] -= 1.2
    maps[:, :, [0, -1]] -= 1.2
    maps[4, :, 0], maps[4, :, 1] = ring, line
    assert _edge_warmth(maps[4:] - np.median(maps[4, 1:-1, 1:-1]))[0][0] > 1.5
    _, classes = frame_statistics(**_frame_of(list(maps)))  # type: ignore[arg-type]
    assert [c.anomaly for c in classes] == [Anomaly.NONE] * 5
    # the same steps on a line of glass as warm as the module where the warmth is (row 19) are a sliver
    maps[4, :, 1] += np.float32(2.5)
    assert maps[4, 19, 1] >= np.median(maps[4, 1:-1, 1:-1])
    _, classes = frame_statistics(**_frame_of(list(maps)))  # type: ignore[arg-type]
    assert classes[4].anomaly is Anomaly.CRACKING


def test_warmth_reaching_the_frame_from_beyond_it_is_not_the_modules() -> None:
    # a neighbour's hot cell against the far side of the frame: its warmth leaks onto the ring through the
    # optics, most on the ring and less on the glass inside
    beyond = np.full((540, 300), -2.5)
    beyond[390:430, :30] = 25.0
    healthy = [_framed_map(np.zeros((480, 240)), (0.1 * i, -0.1 * i)) for i in range(6)]
    leak = _framed_map(np.zeros((480, 240)), beyond=beyond)
    assert leak[:, 0].max() - np.median(leak[:, 0]) > 1.5
    _, classes = frame_statistics(**_frame_of([*healthy[:3], leak, *healthy[3:]]))  # type: ignore[arg-type]
    assert [c.anomaly for c in classes] == [Anomaly.NONE] * 7


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, -0.4), (-0.4, 0.4)])
@pytest.mark.parametrize("cell", [(11, 0), (0, 5), (6, 5), (11, 3)])
def test_a_whole_hot_cell_at_the_modules_edge_is_a_hot_cell(
    cell: tuple[int, int], shift: tuple[float, float]
) -> None:
    # the frame's samples hold the median: counted as part of the cell, they made a whole hot cell at the
    # edge look a quarter cooler and smaller (a crack, or nothing) and, at a corner, steep (a hot spot)
    found = RuleClassifier()(_module_map(_cells(5.2, cell), shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.SINGLE_HOT_CELL


def test_several_hot_cells_one_at_the_edge_by_the_junction_box_are_hot_cells() -> None:
    # a whole hot cell against the high edge near the box: the frame's samples made it look as steep as
    # the junction box's spot
    warm = _cells(19.0, (0, 3), (4, 1), (7, 4), (9, 2))
    for shift in [(0.0, 0.0), (0.3, 0.3), (-0.3, -0.3)]:
        found = RuleClassifier()(_module_map(warm, shift)[None], (6, 12), 4, True)[0]
        assert found.anomaly is Anomaly.MULTIPLE_HOT_CELLS


def _crack(cell: tuple[int, int], angle_deg: float, delta_k: float) -> np.ndarray:
    """The part of one cell beyond a line through its centre, facing ``angle_deg`` (0 along the row)."""
    v, u = np.meshgrid((np.arange(40) + 0.5) / 40 - 0.5, (np.arange(40) + 0.5) / 40 - 0.5, indexing="ij")
    a = np.radians(angle_deg)
    warm = np.zeros((480, 240))
    i, j = cell
    warm[i * 40 : (i + 1) * 40, j * 40 : (j + 1) * 40] = delta_k * (u * np.cos(a) + v * np.sin(a) > 0)
    return warm


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, -0.4), (-0.4, 0.4)])
@pytest.mark.parametrize(("cell", "angle"), [((8, 5), 0.0), ((3, 0), 180.0), ((11, 2), 90.0)])
def test_a_crack_beside_the_modules_frame_is_a_crack(
    cell: tuple[int, int], angle: float, shift: tuple[float, float]
) -> None:
    # with the frame's samples at the median, the warm half of a cell against the frame looked steep: a
    # hot spot
    found = RuleClassifier()(_module_map(_crack(cell, angle, 5.0), shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.CRACKING


def test_a_crack_spread_over_three_rows_of_samples_is_a_crack() -> None:
    # the warm part of a cracked cell as seen on seed 10 of the synthetic flights: half a cell spread by
    # the pixels and the optics over three rows of samples and across the cell's lower edge, so that
    # neither cell is whole-warm and the area above half the peak is 0.75 of a cell
    residual = np.random.default_rng(1).normal(0, 0.05, (48, 24)).astype(np.float32)
    profile = np.array([0.1, 0.6, 1.0, 0.78, 0.15])[:, None] * np.array([0.15, 1.0, 1.0, 1.0, 1.0, 0.15])
    residual[41:46, 3:9] += 5.8 * profile.astype(np.float32)
    found = RuleClassifier()(residual[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.CRACKING


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, -0.4), (-0.4, 0.4)])
@pytest.mark.parametrize(
    ("cell", "angle"), [((1, 3), 225.0), ((1, 3), 270.0), ((0, 2), 0.0), ((0, 2), 315.0)]
)
def test_a_crack_in_a_cell_beside_the_junction_box_is_a_crack(
    cell: tuple[int, int], angle: float, shift: tuple[float, float]
) -> None:
    # the box sits at the corner of four cells; the warm part of one of them, next to the box, peaked close
    # enough to it and as rounded as its spot
    found = RuleClassifier()(_module_map(_crack(cell, angle, 5.5), shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.CRACKING


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.8, -0.8), (-0.8, 0.8), (0.8, 0.8)])
def test_the_junction_boxs_spot_is_still_the_junction_box(shift: tuple[float, float]) -> None:
    rows, cols = np.meshgrid(np.arange(480) + 0.5, np.arange(240) + 0.5, indexing="ij")
    spot = 9.0 * np.exp(-((rows - 38.4) ** 2 + (cols - 120.0) ** 2) / (2 * 12.0**2))
    found = RuleClassifier()(_module_map(spot, shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.JUNCTION_BOX


def _reflection(row: float, col: float, peak_k: float = 12.0) -> np.ndarray:
    """A sun reflection on the glass centred at sample (row, col): the sun's image spread by the glass's
    texture, a round soft patch σ 12 cm (2.9 samples at 4.15 cm) [K]."""
    rows, cols = np.meshgrid(np.arange(480) + 0.5, np.arange(240) + 0.5, indexing="ij")
    reflection: np.ndarray = peak_k * np.exp(
        -((rows - 10 * row) ** 2 + (cols - 10 * col) ** 2) / (2 * 29.0**2)
    )
    return reflection


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, -0.4), (-0.4, 0.4)])
@pytest.mark.parametrize("where", [(5.0, 21.0), (3.0, 1.5), (44.0, 20.0)])
def test_a_hot_cell_beside_a_sun_reflection_is_one_hot_cell(
    where: tuple[float, float], shift: tuple[float, float]
) -> None:
    # seed 4 of the synthetic flights: a reflection at the module's corner, more than half as warm as the
    # cell over the cell it covers, counted as a second hot cell (multiple hot cells)
    warm = _cells(22.0, (1, 2)) + _reflection(*where)
    found = RuleClassifier()(_module_map(warm, shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.SINGLE_HOT_CELL


@pytest.mark.parametrize("flip", [False, True])
def test_a_hot_cell_off_the_grid_by_a_sample_is_one_hot_cell(flip: bool) -> None:
    # seed 31 of the synthetic flights: registered about a sample off, a whole hot cell (7, 3) left a row
    # and a third of its warmth in the next cell (8, 3), whose mean then passed half the hot cell's
    # (multiple hot cells); the profile is the one seen there
    residual = np.random.default_rng(2).normal(0, 0.05, (48, 24)).astype(np.float32)
    across = np.array([1.7, 12.4, 17.9, 18.0, 16.8, 7.8, 0.7]) / 18.0
    along = np.array([2.1, 14.1, 18.0, 18.0, 15.8, 4.0]) / 18.0
    residual[28:35, 11:17] += (18.0 * across[:, None] * along[None, :]).astype(np.float32)
    if flip:  # off the other way, into cell (6, 3)
        residual = residual[::-1].copy()
    found = RuleClassifier()(residual[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.SINGLE_HOT_CELL


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, -0.4), (-0.4, 0.4)])
def test_two_hot_cells_side_by_side_are_still_multiple_hot_cells(shift: tuple[float, float]) -> None:
    warm = _cells(12.0, (7, 3), (8, 3), (2, 1))
    found = RuleClassifier()(_module_map(warm, shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.MULTIPLE_HOT_CELLS


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, -0.4), (-0.4, 0.4)])
@pytest.mark.parametrize("where", [(6.0, 1.0), (30.0, 3.0), (40.0, 20.0)])
def test_a_crack_seen_beside_a_sun_reflection_is_a_crack(
    where: tuple[float, float], shift: tuple[float, float]
) -> None:
    # seed 49: the view kept only the reflection (a hot cell), so the crack, in place across the module's
    # two views, had one view of two and the reflection filter dropped both
    warm = _crack((0, 4), 270.0, 4.0) + _reflection(*where)
    found = RuleClassifier()(_module_map(warm, shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.CRACKING
    assert found.location is not None and found.location[0] > 0.6 and found.location[1] > 0.8


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, -0.4)])
@pytest.mark.parametrize("where", [(5.0, 21.0), (24.0, 12.0), (44.0, 3.0)])
def test_a_sun_reflection_alone_stays_a_local_hot_pattern(
    where: tuple[float, float], shift: tuple[float, float]
) -> None:
    # the reflection filter across views (merge_views) needs the view to report it where it is
    found = RuleClassifier()(_module_map(_reflection(*where), shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly in {Anomaly.SINGLE_HOT_CELL, Anomaly.MULTIPLE_HOT_CELLS, Anomaly.HOT_SPOT}
    assert found.location is not None
    assert abs(found.location[0] - where[1] / 24) < 0.15 and abs(1 - found.location[1] - where[0] / 48) < 0.15


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, 0.0), (-0.4, 0.0)])
@pytest.mark.parametrize("gap", [20, 24])
@pytest.mark.parametrize("edge", ["high", "low"])
def test_the_cold_gap_let_in_along_an_edge_by_a_registration_error_is_no_vegetation(
    edge: str, gap: int, shift: tuple[float, float]
) -> None:
    # seed 49: a healthy module registered a sample and a half off across the row: the roof's cold gap
    # covered its outermost row of glass samples and the optics spread it to the next, 2 K cold and more
    # along the whole edge, which counted as a cool region (vegetation in two views of four)
    warm = np.zeros((480, 240))
    if edge == "high":
        warm[:gap] = -14.0
    else:
        warm[-gap:] = -14.0
    found = RuleClassifier()(_module_map(warm, shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.NONE


def _soiling_high_up() -> np.ndarray:
    """A faint soiling (2 K) whose patches lie in the module's upper half, with dust along the low edge."""
    warm = np.zeros((480, 240))
    warm[100:220, 20:110] = 2.0
    warm[140:200, 150:230] = 2.0
    warm[-38:] = 2.0
    residual = _module_map(warm)
    residual += np.random.default_rng(5).normal(0, 0.05, residual.shape).astype(np.float32)
    return residual


def test_soiling_with_its_patches_high_up_is_soiling_by_its_dust_along_the_low_edge() -> None:
    # seed 20: the lower third was no warmer than the upper; the dust along the low edge, where the rain
    # runs off, still shows it
    found = RuleClassifier()(_soiling_high_up()[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.SOILING


def test_soiling_whose_lowest_row_of_glass_holds_the_cold_gap_is_still_soiling() -> None:
    # seed 85: registered a sample off across the row, the roof's cold gap between the rows covered the
    # outermost row of glass samples (4.5 K below the module) and pulled the mean over the lowest row of
    # cells under the dust band's mark
    residual = _soiling_high_up()
    residual[-2, 1:-1] = -4.5
    found = RuleClassifier()(residual[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.SOILING


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.4, -0.4), (-0.4, 0.4)])
def test_soft_warmth_across_the_module_is_soiling_not_a_sun_reflection(shift: tuple[float, float]) -> None:
    # seed 85: the soiling's warmth, soft-edged and over 3 K at the low edge, was taken for a sun
    # reflection and set aside, and a patch of it apart from the rest, at the module's side, read as a crack
    warm = np.zeros((480, 240))
    warm[240:] = 4.0 * ((np.arange(240) + 0.5) / 240)[:, None]  # 3.7 K over the median at the low edge
    warm[60:90, 10:40] = 2.0
    found = RuleClassifier()(_module_map(warm, shift)[None], (6, 12), 4, True)[0]
    assert found.anomaly is Anomaly.SOILING


def test_the_weighted_ranks_are_those_of_the_values_repeated_by_their_weights() -> None:
    rng = np.random.default_rng(11)
    a = np.sort(np.round(rng.normal(30, 2, (50, 40)), 1).astype(np.float32), axis=1)
    b = np.sort(np.round(rng.normal(28, 2, (50, 12)), 1).astype(np.float32), axis=1)
    b[3, -1] = np.nan  # a NaN anywhere makes the row NaN, as the maps' sort puts it last
    size = 4 * 40 + 3 * 12
    ranks = np.array([0, (size - 1) // 2, size // 2, 180, size - 1], dtype=np.intp)
    out = np.empty((50, len(ranks)), dtype=np.float32)
    kernels.weighted_ranks(a, b, 4.0, 3.0, ranks, out)
    expected = np.sort(np.concatenate([np.repeat(a, 4, axis=1), np.repeat(b, 3, axis=1)], axis=1), axis=1)
    expected = expected[:, ranks]
    expected[3] = np.nan
    np.testing.assert_array_equal(out, expected)


def test_the_statistics_of_thinned_maps_read_as_those_of_the_full_maps(
    flight: SyntheticFlight, frames: list[ThermalFrame], layout: PlantLayout
) -> None:
    """Every module of a frame through the two stages (thinned maps for all, full maps for the flagged) and
    through the full maps alone: the same classes, the statistics within a tenth of a kelvin
    (weighted ranks; without them the thinned map's larger share of cool frame pulls the median down)."""
    index = module_index(layout)
    two, one = [], []
    for frame, geometry in zip(frames, flight.poses, strict=True):
        positions = visible_modules(index, geometry)
        if len(positions) < 12:
            continue
        full = module_crops(frame.temperature_c, geometry, layout, positions, SAMPLES_PER_CELL)
        thin, peaks, _ = module_crops_and_peaks(
            frame.temperature_c, geometry, layout, positions, SAMPLES_PER_CELL
        )
        rows, cols = geometry.xy_to_pixel(*layout.centres_xy()[positions].T)
        near = np.full((len(positions), 1), -1, dtype=np.intp)
        args = (rows / geometry.height_px, cols / geometry.width_px, near, RuleClassifier(), layout.cell_grid)
        one.append(frame_statistics(full, *args, layout.portrait))

        def detail(i: npt.NDArray[np.intp], f: npt.NDArray[np.float32] = full) -> npt.NDArray[np.float32]:
            return f[i]

        two.append(frame_statistics(thin, *args, layout.portrait, peaks=peaks, detail=detail))
    assert len(one) > 5
    for (s1, c1), (s2, c2) in zip(one, two, strict=True):
        assert [c.anomaly for c in c1] == [c.anomaly for c in c2]
        # the ΔT of a class moves with the reference, from the medians
        assert all(abs(a.delta_t_k - b.delta_t_k) < 0.1 for a, b in zip(c1, c2, strict=True))
        # median, corrected, soiling index; a map split between two levels (a warm third, a shadow) has its
        # median on the step, where a few samples more or less move it further
        normal = np.array([c is NORMAL for c in c1])
        for k, tolerance in ((0, 0.1), (3, 0.1), (4, 0.05)):
            assert np.abs(s2[normal, k] - s1[normal, k]).max() < tolerance
            assert np.median(np.abs(s2[:, k] - s1[:, k])) < tolerance / 3
        # the maximum: the hottest pixel the thinned samples read; one between them (a gap of under half a
        # pixel every other sample) can be a few tenths hotter than those on a warm cell's edge; of a
        # module the screen flags, at least its full map's (a hot spot smaller than a cell can sit on a
        # pixel no thinned sample reaches: 0.95 K lower on seed 7)
        assert (s2[:, 2] >= s1[:, 2] - 0.5).all()
        flagged = np.array([c is not NORMAL for c in c2])
        assert (s2[flagged, 2] >= s1[flagged, 2]).all()
    assert any(c is not NORMAL for _, classes in one for c in classes)


def test_the_thinned_screen_flags_a_hot_spot_smaller_than_a_cell_between_its_samples(
    layout: PlantLayout,
) -> None:
    """A one-pixel hot spot that no thinned sample reads (every other sample smooths it below the 1.5 K the
    screen asks) sets the module's peak, which flags the module; its maximum is the spot's."""
    geometry = FrameGeometry(0.0, 0.0, 0.03, 0.0, 640, 512)
    index = module_index(layout)
    positions = visible_modules(index, geometry)
    image = np.full((512, 640), 40.0, dtype=np.float32)
    thin, _, _ = module_crops_and_peaks(image, geometry, layout, positions[:1], SAMPLES_PER_CELL)
    # the pixel of the module's interior farthest from the pixels the thinned samples read
    row_c, col_c = geometry.xy_to_pixel(*layout.centres_xy()[positions[0]])
    read = np.zeros(image.shape, dtype=bool)
    probe = np.zeros_like(image)
    for r, c in np.ndindex(5, 5):
        probe[:] = 0
        probe[int(row_c) - 2 + r, int(col_c) - 2 + c] = 1
        _, peak, _ = module_crops_and_peaks(probe, geometry, layout, positions[:1], SAMPLES_PER_CELL)
        thin, _, _ = module_crops_and_peaks(probe, geometry, layout, positions[:1], SAMPLES_PER_CELL)
        read[int(row_c) - 2 + r, int(col_c) - 2 + c] = thin[0, 1:-1, 1:-1].max() < 0.3 and peak[0] == 1
    assert read.any()
    r, c = np.argwhere(read)[0]
    image[r, c] += 5.0
    thin, peaks, _ = module_crops_and_peaks(image, geometry, layout, positions[:1], SAMPLES_PER_CELL)
    offset = np.full(1, 40.0, dtype=np.float32)
    inner = np.sort(thin[:, 1:-2, 1:-2].reshape(1, -1), axis=1)
    last = thin.reshape(1, -1).max(axis=1)
    assert thin[0].max() - 40.0 < 1.5
    assert peaks[0] == np.float32(45.0)
    full = (layout.cell_grid[1] * SAMPLES_PER_CELL, layout.cell_grid[0] * SAMPLES_PER_CELL)
    residuals, suspect = _coarse_screen(thin, offset, inner, last, peaks, full)
    assert suspect[0] and residuals[0, 0, 0] == 0.0
    no_peaks = np.full(1, -np.inf, dtype=np.float32)
    assert not _coarse_screen(thin, offset, inner, last, no_peaks, full)[1][0]


def test_the_compiled_coarse_screen_equals_its_numpy_steps_bit_for_bit() -> None:
    rng = np.random.default_rng(13)
    n, rows, cols = 80, 26, 14
    crops = rng.normal(46, 0.3, (n, rows, cols)).astype(np.float32)
    crops[:20, [0, -1], :] -= rng.uniform(0, 3, (20, 2, 1)).astype(np.float32)  # a cold frame
    crops[20:30] = np.round(crops[20:30], 1)  # ties
    crops[30, 5, 0] = crops[31, 7, 7] = np.nan
    crops[32] = np.nan
    for m in range(33, 60):  # slivers along a side, hot samples, warm patches
        r = int(rng.integers(2, rows - 5))
        crops[m, r : r + 3, :2] += np.float32(rng.uniform(0, 2.5))
        crops[m, rng.integers(1, rows - 1), rng.integers(1, cols - 1)] += np.float32(rng.uniform(0, 4))
        crops[m, 10:20, 3:9] += np.float32(rng.uniform(0, 1))
    offset = (46 + rng.normal(0, 0.5, n)).astype(np.float32)
    inner = np.sort(crops[:, 1:-2, 1:-2].reshape(n, -1), axis=1)
    last = np.sort(crops.reshape(n, -1), axis=1)[:, -1].copy()
    peaks = (crops[:, 1:-1, 1:-1].reshape(n, -1).max(axis=1) + rng.uniform(0, 2, n)).astype(np.float32)
    full = (48, 24)
    residuals, suspect = _coarse_screen(crops, offset, inner, last, peaks, full)
    # the numpy steps frame_statistics ran before
    expected = crops - offset[:, None, None]
    mark = SCREEN_WARM_SHARE * SCREEN_PEAK_K
    edge = _edge_warmth(expected, mark)
    medians = _flatten_ring(expected, _interior_medians(inner, last, offset))
    share = 0.1 * (48 * 24) / (46 * 22)
    share *= (rows - 2) * (cols - 2) / (rows * cols) * SCREEN_WARM_SHARE
    flagged = np.empty(n, dtype=bool)
    kernels.screen(expected, medians, peaks - offset, SCREEN_PEAK_K, SOILING_WARM_K, 2, share, flagged)
    flagged |= edge[0] >= mark
    assert residuals.tobytes() == expected.tobytes()
    np.testing.assert_array_equal(suspect, flagged)
    assert 5 <= np.count_nonzero(flagged) < n - 5


def test_the_soiling_index_of_thinned_maps_counts_the_ring_at_the_full_maps_share() -> None:
    """A thinned map's ring is 76 of 364 samples against 140 of 1,152, and it keeps the band along the low
    edge whole: counted as they are, the samples misread a warm share of the interior; scaled, it reads as
    the full map's."""
    rng = np.random.default_rng(12)
    full = rng.normal(0, 0.1, (40, 48, 24)).astype(np.float32)
    warm_rows = rng.integers(20, 40, len(full))
    for m, r in enumerate(warm_rows.tolist()):
        full[m, r:, :] += 1.5  # a warm band along the low edge, a third to a half of the module
    _flatten_ring(full)
    thin = np.ascontiguousarray(full[:, thinned(48)][:, :, thinned(24)])
    expected = soiling_indices(full)
    assert expected.min() > 0.15
    # every other row: a band's edge is off by up to one full row (1/46 of the interior)
    np.testing.assert_allclose(_soiling_as(thin, (48, 24)), expected, atol=0.02)
    assert np.abs(_soiling_as(thin, (48, 24)) - expected).mean() < 0.01
    assert np.abs(soiling_indices(thin) - expected).mean() > 0.015  # the ring at its own share


def test_the_point_grid_finds_the_nearest_point_within_reach_as_a_search_of_every_point_does() -> None:
    rng = np.random.default_rng(11)
    grid = _PointGrid(0.8)
    points = rng.uniform(-20, 20, (3000, 2))
    points[7] = points[3]  # equal distances: the first added wins
    for x, y in points.tolist():
        grid.add(x, y)
    queries = np.column_stack([rng.uniform(-22, 22, (500, 2)), rng.uniform(0.1, 2.0, 500)])
    for x, y, within in queries.tolist():
        d = np.hypot(points[:, 0] - x, points[:, 1] - y)
        k = int(np.argmin(d))
        expected = (k, float(d[k])) if d[k] <= within else (-1, math.inf)
        got = grid.nearest(x, y, within)
        assert got[0] == expected[0] and got[1] == pytest.approx(expected[1], abs=1e-12)
    x, y = points[3].tolist()
    assert grid.nearest(x, y, 0.1) == (3, 0.0)
