from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pytest
from scipy import ndimage

from gongzhi.modules.pv.analytics import georef, kernels, modules
from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.cameras import CAMERAS, M3T
from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.analytics.georef import (
    FrameGeometry,
    ModuleIndex,
    _downsample,
    bilinear,
    crop_grid,
    frame_geometry,
    locate,
    locate_frame,
    module_crops,
    module_index,
    module_mask,
    module_runs,
    refine_pose,
    segment_modules,
    visible_modules,
)
from gongzhi.modules.pv.analytics.layout import LayoutParams, PlantLayout, generate_layout, row_axes
from gongzhi.modules.pv.analytics.modules import (
    CARRIED_SCORE_KEPT,
    LINE_YAW_FRAMES,
    InspectionAccumulator,
    LayoutFreeAccumulator,
    match_block_px,
)
from gongzhi.modules.pv.analytics.synthetic import Conditions, SyntheticFlight, synthetic_flight

from .shapes import rectangle


@pytest.fixture(scope="module")
def layout() -> PlantLayout:
    return generate_layout(rectangle(30, 20))


@pytest.fixture(scope="module")
def flight(layout: PlantLayout) -> SyntheticFlight:
    classes = (Anomaly.MODULE_OFFLINE, Anomaly.SUBSTRING, Anomaly.HOT_SPOT, Anomaly.STRING_OFFLINE)
    no_glint = Conditions(reflection_k=0.0)
    return synthetic_flight(layout, seed=3, anomalies_per_class=1, conditions=no_glint, classes=classes)


def test_pixels_and_local_metres_round_trip_for_any_yaw() -> None:
    for yaw in (0.0, 37.0, 180.0, -90.0):
        g = FrameGeometry(12.0, -4.0, 0.033, yaw, 640, 512)
        x, y = g.pixel_to_xy([0, 255.5, 511], [0, 319.5, 639])
        rows, cols = g.xy_to_pixel(x, y)
        assert np.allclose(rows, [0, 255.5, 511]) and np.allclose(cols, [0, 319.5, 639])
        assert (x[1], y[1]) == pytest.approx((12.0, -4.0))
    north_up = FrameGeometry(0.0, 0.0, 0.05, 0.0, 640, 512)
    x, y = north_up.pixel_to_xy(0, 319.5)  # top centre lies north of the centre
    assert x == pytest.approx(0) and y == pytest.approx(255.5 * 0.05)
    east_up = FrameGeometry(0.0, 0.0, 0.05, 90.0, 640, 512)
    x, y = east_up.pixel_to_xy(0, 319.5)
    assert x == pytest.approx(255.5 * 0.05) and y == pytest.approx(0, abs=1e-9)


def test_the_footprint_follows_gps_altitude_and_camera(flight: SyntheticFlight, layout: PlantLayout) -> None:
    frame = flight.frame(0)
    g = frame_geometry(frame.meta, layout.origin)
    assert g.gsd_m == pytest.approx(M3T.gsd_m(flight.plan.altitude_m))
    assert np.hypot(g.x_m - flight.poses[0].x_m, g.y_m - flight.poses[0].y_m) < 0.5
    roofed = frame_geometry(frame.meta, layout.origin, module_plane_rel_m=5.0)
    assert roofed.gsd_m < g.gsd_m
    with pytest.raises(ValueError, match="GPS"):
        frame_geometry(dataclasses.replace(frame.meta, lat=None), layout.origin)
    with pytest.raises(ValueError, match="camera"):
        frame_geometry(dataclasses.replace(frame.meta, camera=None), layout.origin)


def test_locate_finds_the_module_under_each_point(layout: PlantLayout) -> None:
    index = module_index(layout)
    centres = layout.centres_xy()
    labels, fu, fv = locate(index, centres[:, 0], centres[:, 1])
    assert np.array_equal(labels, np.arange(len(centres)))
    assert np.allclose(fu, 0.5) and np.allclose(fv, 0.5)
    corners = layout.corners_xy()
    inside = 0.98 * corners[:, 0] + 0.02 * centres  # just inside the low, row-start corner
    labels, fu, fv = locate(index, inside[:, 0], inside[:, 1])
    assert np.array_equal(labels, np.arange(len(centres)))
    assert np.allclose(fu, 0.01, atol=1e-6) and np.allclose(fv, 0.01, atol=1e-6)
    pitch = np.diff(np.unique(np.round(centres[:, 1], 3))).min()
    gap = centres + np.array([0.0, pitch / 2])  # halfway to the next row (rows run east)
    assert (locate(index, gap[:, 0], gap[:, 1])[0] == -1).all()


def test_pose_refinement_recovers_a_gps_and_yaw_error(flight: SyntheticFlight, layout: PlantLayout) -> None:
    index = module_index(layout)
    i = len(flight) // 2
    frame, truth = flight.frame(i), flight.poses[i]
    fit = refine_pose(frame.temperature_c, truth.moved(0.3, -0.2, 0.5), index)
    assert fit.score > 0.5
    assert np.hypot(fit.geometry.x_m - truth.x_m, fit.geometry.y_m - truth.y_m) < 0.05
    assert abs(fit.geometry.yaw_deg - truth.yaw_deg) < 0.25


def _yaw_estimates(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each pose refinement the accumulator runs estimates the yaw (the real refinement runs)."""
    calls: list[bool] = []
    real = georef.refine_pose  # the function modules imported, which the test replaces there

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("estimate_yaw", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(modules, "refine_pose", spy)
    return calls


def _pose_error(acc: InspectionAccumulator, frame: ThermalFrame, truth: FrameGeometry) -> tuple[float, float]:
    """Position [m] and yaw [°] error of the pose the accumulator settles on for the frame."""
    report = acc.add(frame)
    prior = frame_geometry(frame.meta, acc.layout.origin)
    dx, dy = prior.x_m + report.dx_m - truth.x_m, prior.y_m + report.dy_m - truth.y_m
    return float(np.hypot(dx, dy)), abs((prior.yaw_deg + report.dyaw_deg - truth.yaw_deg + 180) % 360 - 180)


def test_a_flight_line_carries_its_yaw_once_a_few_frames_have_estimated_it(
    flight: SyntheticFlight, layout: PlantLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = [i for i, p in enumerate(flight.poses) if p.yaw_deg == flight.poses[0].yaw_deg]
    assert len(line) > LINE_YAW_FRAMES
    calls = _yaw_estimates(monkeypatch)
    acc = InspectionAccumulator(layout)
    for i in line[:LINE_YAW_FRAMES]:
        acc.add(flight.frame(i))
    assert calls == [True] * LINE_YAW_FRAMES
    position, yaw = _pose_error(acc, flight.frame(line[1]), flight.poses[line[1]])  # a frame of the line
    assert calls[LINE_YAW_FRAMES:] == [False]  # one match at the carried yaw, no yaw estimate
    assert position < 0.05 and yaw < 0.1


def test_frames_whose_cells_span_enough_pixels_are_matched_at_blocks_of_four(layout: PlantLayout) -> None:
    t = layout.module_type
    cell_m = math.sqrt(t.width_m * t.length_m / t.cells)
    assert match_block_px(layout, cell_m / 5) == 4  # the IEC screening resolution, the plans' default
    assert match_block_px(layout, cell_m / 7) == 4
    assert match_block_px(layout, cell_m / 4.6) == 4
    assert match_block_px(layout, cell_m / 4.4) == 2
    assert match_block_px(layout, cell_m / 3) == 2
    # an oblique frame's nadir view: its pixels are interpolated from fewer of the camera's
    assert match_block_px(layout, cell_m / 7, resampled=True) == 2


@pytest.mark.parametrize("fine_from_px", [4.5, math.inf], ids=["blocks-of-4", "blocks-of-2"])
def test_carried_frames_after_the_first_climb_from_the_running_correction_within_the_previous_score(
    flight: SyntheticFlight, layout: PlantLayout, monkeypatch: pytest.MonkeyPatch, fine_from_px: float
) -> None:
    # the flight's cells span 5 px: carried frames matched at blocks of 4 (the default) or, with no frame fine
    # enough, of 2; the yaw estimates at 2 either way
    monkeypatch.setattr(modules, "FINE_MATCH_PX_PER_CELL", fine_from_px)
    line = [i for i, p in enumerate(flight.poses) if p.yaw_deg == flight.poses[0].yaw_deg]
    assert len(line) >= LINE_YAW_FRAMES + 4
    calls: list[tuple[dict[str, Any], float]] = []
    real = georef.refine_pose  # the function modules imported, which the test replaces there

    def spy(*args: Any, **kwargs: Any) -> Any:
        fit = real(*args, **kwargs)
        calls.append((kwargs, fit.score))
        return fit

    monkeypatch.setattr(modules, "refine_pose", spy)
    acc = InspectionAccumulator(layout)
    for i in line[: LINE_YAW_FRAMES + 4]:
        assert _pose_error(acc, flight.frame(i), flight.poses[i])[0] < 0.05
    # the line's first carried frame makes the coarse match; each carried frame after one that stood (was
    # not followed by a full estimate) climbs from no further shift, within the previous score; one after
    # a full estimate makes the coarse match again
    kinds = ["carried" if k.get("estimate_yaw") is False else "full" for k, _ in calls]
    blocks = {kind: {k.get("downsample", 2) for (k, _), c in zip(calls, kinds, strict=True) if c == kind}
              for kind in ("carried", "full")}  # fmt: skip
    assert blocks == {"carried": {4} if fine_from_px < 5 else {2}, "full": {2}}
    assert kinds[:LINE_YAW_FRAMES] == ["full"] * LINE_YAW_FRAMES
    followed = [(a, b) for a, b in itertools.pairwise(range(len(calls))) if kinds[b] == "carried"]
    climbed = [(a, b) for a, b in followed if kinds[a] == "carried"]
    assert len(climbed) >= 2
    for a, b in followed:
        now = calls[b][0]
        if kinds[a] == "carried":
            assert now["expected_m"] == (0.0, 0.0)
            assert now["least_score"] >= CARRIED_SCORE_KEPT * calls[a][1]
        else:
            assert now["expected_m"] is None


def test_a_turn_starts_a_new_line_with_full_estimates(
    flight: SyntheticFlight, layout: PlantLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = [i for i, p in enumerate(flight.poses) if p.yaw_deg == flight.poses[0].yaw_deg]
    turned = next(i for i, p in enumerate(flight.poses) if abs(p.yaw_deg - flight.poses[0].yaw_deg) > 90)
    calls = _yaw_estimates(monkeypatch)
    acc = InspectionAccumulator(layout)
    for i in first[:LINE_YAW_FRAMES]:
        acc.add(flight.frame(i))
    position, yaw = _pose_error(acc, flight.frame(turned), flight.poses[turned])
    assert calls == [True] * (LINE_YAW_FRAMES + 1)
    assert position < 0.05 and yaw < 0.25


def test_a_carried_yaw_the_frame_no_longer_matches_falls_back_to_the_full_estimate(
    flight: SyntheticFlight, layout: PlantLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = [i for i, p in enumerate(flight.poses) if p.yaw_deg == flight.poses[0].yaw_deg]
    acc = InspectionAccumulator(layout)
    for i in line[:LINE_YAW_FRAMES]:
        acc.add(flight.frame(i))
    # the gimbal turned by 2° within the line while its log did not show it: the carried yaw is 2° off
    i = line[1]
    truth = flight.poses[i].moved(dyaw_deg=2.0)
    turned = dataclasses.replace(flight, poses=(*flight.poses[:i], truth, *flight.poses[i + 1 :]))
    frame = ThermalFrame(turned.frame(i).temperature_c, flight.frame(i).meta)
    calls = _yaw_estimates(monkeypatch)
    position, yaw = _pose_error(acc, frame, truth)
    assert calls == [False, True]  # the carried yaw matched worse than the line: estimated in full
    assert position < 0.05 and yaw < 0.25
    assert acc._line is not None and len(acc._line.yaws) == 1  # and a new line starts from it


def test_segmentation_finds_the_module_rectangles_without_a_layout(
    flight: SyntheticFlight, layout: PlantLayout
) -> None:
    index = module_index(layout)
    i = len(flight) // 2
    pose = flight.poses[i]
    rects = segment_modules(flight.frame(i).temperature_c)
    whole = visible_modules(index, pose)
    rows, cols = pose.xy_to_pixel(*layout.centres_xy()[whole].T)
    along, across = layout.footprint_m
    matched = [np.min(np.hypot(np.array([q.row for q in rects]) - a, np.array([q.col for q in rects]) - b))
               for a, b in zip(rows, cols, strict=True)]  # fmt: skip
    assert np.mean(np.array(matched) < 2.0) > 0.95  # every whole module is found, centred within 2 px
    good = [r for r in rects if np.min(np.hypot(rows - r.row, cols - r.col)) < 2.0]
    assert np.median([r.length_px for r in good]) * pose.gsd_m == pytest.approx(across, rel=0.05)
    assert np.median([r.width_px for r in good]) * pose.gsd_m == pytest.approx(along, rel=0.05)
    assert len(good) >= len(whole)


def test_segmentation_keeps_modules_in_an_array_and_drops_module_shaped_blobs_standing_alone() -> None:
    rng = np.random.default_rng(3)
    image = rng.normal(20.0, 0.05, (240, 320)).astype(np.float32)
    for k in range(5):  # a row of five portrait modules, 14 × 34 px, 2 px of cooler frame between them
        image[30:64, 20 + 16 * k : 34 + 16 * k] += 10.0
    for r, c in ((150, 40), (120, 200), (190, 270)):  # three module-shaped blobs, far apart
        image[r : r + 34, c : c + 14] += 10.0
    rects = segment_modules(image)
    assert [(r.row, r.col) for r in rects] == [(46.5, 26.5 + 16 * k) for k in range(5)]
    assert len(segment_modules(image, min_array=1)) == 8  # the blobs pass every other test


def test_photos_alone_give_per_module_findings(flight: SyntheticFlight, layout: PlantLayout) -> None:
    acc = LayoutFreeAccumulator()
    for frame in flight.frames():
        acc.add(frame)
    result = acc.result()
    assert len(layout.modules) <= len(result.modules) <= 1.15 * len(layout.modules)
    centres = layout.centres_xy()
    found = {}
    for f in result.findings:
        x, y = layout.origin.to_xy(f.lon, f.lat)
        k = int(np.argmin(np.hypot(centres[:, 0] - x, centres[:, 1] - y)))
        found[layout.modules[k].id] = f.anomaly_class
    planted = {a.module_id: a.anomaly for a in flight.anomalies}
    assert {m: a for m, a in found.items() if planted.get(m) is not a} == {}  # nothing wrong or spurious
    single = {m: a for m, a in planted.items() if a is not Anomaly.STRING_OFFLINE}
    assert {m: found.get(m) for m in single} == single
    string = [m for m, a in planted.items() if a is Anomaly.STRING_OFFLINE]
    assert sum(found.get(m) is Anomaly.STRING_OFFLINE for m in string) >= 0.8 * len(string) >= 2


def test_gps_noise_of_a_third_of_a_metre_neither_accumulates_nor_shifts_findings(layout: PlantLayout) -> None:
    noisy = Conditions(gps_sigma_m=0.3, yaw_sigma_deg=0.5, reflection_k=0.0)
    classes = (Anomaly.MODULE_OFFLINE, Anomaly.SINGLE_HOT_CELL, Anomaly.SHADING)
    flight = synthetic_flight(layout, seed=8, anomalies_per_class=1, conditions=noisy, classes=classes)
    acc = InspectionAccumulator(layout)
    errors = []
    for i, frame in enumerate(flight.frames()):
        report = acc.add(frame)
        prior = frame_geometry(frame.meta, layout.origin)
        truth = flight.poses[i]
        errors.append(np.hypot(prior.x_m + report.dx_m - truth.x_m, prior.y_m + report.dy_m - truth.y_m))
    # a frame may land one module pitch off along its row (the grid repeats), never more, never drifting
    assert max(errors) < 1.1 and np.median(errors) < 0.05
    found = {f.module_id: f.anomaly_class for f in acc.result().findings}
    assert found == {a.module_id: a.anomaly for a in flight.anomalies}


def test_bilinear_matches_scipy_inside_and_clamps_outside() -> None:
    rng = np.random.default_rng(1)
    image = rng.normal(size=(20, 30)).astype(np.float32)
    rows, cols = rng.uniform(-3, 23, 2000), rng.uniform(-3, 33, 2000)
    expected = ndimage.map_coordinates(image, [rows, cols], order=1, mode="nearest")
    np.testing.assert_allclose(bilinear(image, rows, cols), expected, atol=1e-5)


@pytest.mark.parametrize("yaw", [0.0, 0.3, 37.0, 90.0, 181.0])
def test_the_module_mask_covers_exactly_the_glass_that_locate_finds(layout: PlantLayout, yaw: float) -> None:
    index = module_index(layout)
    geometry = FrameGeometry(1.3, -0.7, 0.08, yaw, 200, 160)
    labels, fu, fv = locate_frame(index, geometry)
    rim = 0.04
    glass = (labels >= 0) & (fu > rim) & (fu < 1 - rim) & (fv > rim) & (fv < 1 - rim)
    mask = module_mask(index, geometry, rim)
    assert glass.any()
    np.testing.assert_array_equal(mask, glass.astype(np.float32))


@pytest.mark.parametrize("yaw", [0.0, 12.5, 90.0, 181.0, 257.0])
def test_module_crops_are_bilinear_samples_of_the_pattern_bit_for_bit(
    layout: PlantLayout, yaw: float
) -> None:
    rng = np.random.default_rng(5)
    geometry = FrameGeometry(1.3, -0.7, 0.03, yaw, 640, 512)
    image = rng.normal(30, 2, (512, 640)).astype(np.float32)
    index = module_index(layout)
    positions = visible_modules(index, geometry)
    crops = module_crops(image, geometry, layout, positions, 4)
    # the samples as the numpy form built them: each module's centre pixel plus one pattern
    rows_n, cols_n = crop_grid(layout, 4)
    rows, cols = _sample_pixels(layout, geometry, positions, np.arange(rows_n), np.arange(cols_n))
    assert len(positions) > 5
    np.testing.assert_array_equal(crops, bilinear(image, rows, cols))
    # and outside the frame the compiled loop clamps as bilinear does
    out = np.empty((1, 3, 4), dtype=np.float32)
    pattern_r, pattern_c = rng.uniform(-30, 30, (3, 4)), rng.uniform(-30, 30, (3, 4))
    kernels.crops(
        image[:20, :25].copy(),
        np.array([3.0]),
        np.array([20.0]),
        pattern_r,
        pattern_c,
        out,
        np.empty(0, np.float32),
    )
    np.testing.assert_array_equal(out[0], bilinear(image[:20, :25], 3.0 + pattern_r, 20.0 + pattern_c))


def _sample_pixels(
    layout: PlantLayout,
    geometry: FrameGeometry,
    positions: np.ndarray,
    rows_at: np.ndarray,
    cols_at: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The numpy form of the crops' sample positions [px], (N, rows, cols): the samples ``rows_at`` ×
    ``cols_at`` of the 4-a-cell map, each module's centre pixel plus one pattern."""
    rows_n, cols_n = crop_grid(layout, 4)
    along, across = layout.footprint_m
    fu = (cols_at + 0.5) / cols_n - 0.5
    fv = 0.5 - (rows_at + 0.5) / rows_n
    e_u, e_v = row_axes(layout.row_azimuth_deg)
    off_x = fu[None, :] * along * e_u[0] + fv[:, None] * across * e_v[0]
    off_y = fu[None, :] * along * e_u[1] + fv[:, None] * across * e_v[1]
    centres = layout.centres_xy()[positions]
    row_c, col_c = geometry.xy_to_pixel(centres[:, 0], centres[:, 1])
    row_0, col_0 = geometry.xy_to_pixel(0.0, 0.0)
    row_p, col_p = geometry.xy_to_pixel(off_x, off_y)
    return row_c[:, None, None] + (row_p - row_0)[None], col_c[:, None, None] + (col_p - col_0)[None]


@pytest.mark.parametrize("yaw", [0.0, 12.5, 90.0, 257.0])
def test_thinned_crops_are_the_full_maps_rows_and_columns_and_their_peaks_the_pixels_read(
    layout: PlantLayout, yaw: float
) -> None:
    rng = np.random.default_rng(6)
    geometry = FrameGeometry(1.3, -0.7, 0.03, yaw, 640, 512)
    image = rng.normal(30, 2, (512, 640)).astype(np.float32)
    positions = visible_modules(module_index(layout), geometry)
    full = module_crops(image, geometry, layout, positions, 4)
    thin, peaks, _ = georef.module_crops_and_peaks(image, geometry, layout, positions, 4)
    i, j = georef.thinned(full.shape[1]), georef.thinned(full.shape[2])
    assert (len(i), len(j)) == (26, 14)  # the ring, the bands next to it and every other sample between
    np.testing.assert_array_equal(thin, full[:, i][:, :, j])
    # the peak: the largest of the four pixels under each interior sample (whose floor is their corner)
    rows, cols = _sample_pixels(layout, geometry, positions, i[1:-1], j[1:-1])
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    inside = (r0.min(axis=(1, 2)) >= 0) & (r0.max(axis=(1, 2)) < 511) & (c0.min(axis=(1, 2)) >= 0)
    inside &= c0.max(axis=(1, 2)) < 639
    assert inside.sum() > 5
    corners = [image[np.clip(r0 + a, 0, 511), np.clip(c0 + b, 0, 639)] for a in (0, 1) for b in (0, 1)]
    expected = np.max(np.stack([c[inside] for c in corners]), axis=(0, 2, 3))
    np.testing.assert_array_equal(peaks[inside], expected)
    assert (peaks >= thin[:, 1:-1, 1:-1].max(axis=(1, 2))).all()


@pytest.mark.parametrize("yaw", [0.0, 33.0, 257.0])
def test_the_crops_from_the_centre_pixels_and_offsets_the_caller_keeps_equal_those_worked_out_again(
    layout: PlantLayout, yaw: float
) -> None:
    rng = np.random.default_rng(11)
    geometry = FrameGeometry(0.4, 1.1, 0.03, yaw, 640, 512)
    image = rng.normal(30, 2, (512, 640)).astype(np.float32)
    index = module_index(layout)
    positions = visible_modules(index, geometry)
    centres = index.centres[positions]
    pixels = geometry.xy_to_pixel(centres[:, 0], centres[:, 1])
    thin, peaks, full = georef.module_crops_and_peaks(image, geometry, layout, positions, 4)
    offsets = georef.sample_offsets(layout, 4)
    given = georef.module_crops_and_peaks(
        image, geometry, layout, positions, 4, pixels=pixels, offsets=offsets
    )
    some = np.flatnonzero(rng.random(len(positions)) < 0.3)
    for a, b in ((thin, given[0]), (peaks, given[1]), (full(some), given[2](some))):
        assert a.shape == b.shape and a.tobytes() == b.tobytes()
    np.testing.assert_array_equal(
        module_crops(image, geometry, layout, positions, 4), given[2](np.arange(len(positions)))
    )
    # what is given is used, not worked out again
    moved = georef.module_crops_and_peaks(
        image, geometry, layout, positions, 4, pixels=(pixels[0] + 0.5, pixels[1])
    )
    assert not np.array_equal(moved[0], thin)
    stretched = georef.module_crops_and_peaks(
        image, geometry, layout, positions, 4, offsets=(offsets[0] * 1.1, offsets[1])
    )
    assert not np.array_equal(stretched[0], thin)


def test_the_compiled_block_means_and_reach_tests_equal_their_numpy_forms() -> None:
    rng = np.random.default_rng(7)
    t = rng.normal(30, 3, (51, 64)).astype(np.float32)
    for k in (1, 2, 3, 4):  # 2 and 4 by loops of their own, the others by the general one
        h, w = (t.shape[0] // k) * k, (t.shape[1] // k) * k
        total = np.zeros((h // k, w // k), dtype=np.float32)
        for i in range(k):
            for j in range(k):
                total += t[i:h:k, j:w:k]
        np.testing.assert_array_equal(_downsample(t, k), total * np.float32(1 / (k * k)))


@pytest.mark.parametrize("azimuth", [0.0, 23.0, 90.0])
def test_the_compiled_box_cut_equals_the_scan_of_every_module(azimuth: float) -> None:
    layout = generate_layout(rectangle(30, 20), LayoutParams(row_azimuth_deg=azimuth))
    whole = module_index(layout)
    rng = np.random.default_rng(int(azimuth))
    u_lo, u_hi, v_lo, v_hi = whole.u.min(), whole.u.max(), whole.v.min(), whole.v.max()
    found = 0
    for _ in range(300):
        a, b = np.sort(rng.uniform(u_lo - 5, u_hi + 5, 2))
        c, d = np.sort(rng.uniform(v_lo - 5, v_hi + 5, 2))
        # boxes whose edges fall on module centres, where a rounding of the keys could cut a module off
        if rng.random() < 0.3:
            a, b = rng.choice(whole.u, 2) + np.array([0.0, rng.uniform(0, 8)])
            c, d = rng.choice(whole.v, 2) + np.array([0.0, rng.uniform(0, 4)])
        box = np.array([a, b, c, d])
        for index in (whole, georef._within(whole, u_lo + 3, u_hi - 7, v_lo + 1, v_hi - 2)):
            assert index is not None
            uo, vo = index.u[index.order], index.v[index.order]
            expected = np.flatnonzero((uo >= box[0]) & (uo <= box[1]) & (vo >= box[2]) & (vo <= box[3]))
            inside = np.empty(len(index.order), dtype=np.intp)
            count = kernels.in_box(
                index.u, index.v, index.order, index.keys, index.row_v, index.span, index.u_min, box, inside
            )
            np.testing.assert_array_equal(inside[:count], expected)
            found += count
    assert found > 1000


@pytest.mark.parametrize("yaw", [0.0, 12.5, 90.0, 181.0, 257.0])
def test_the_compiled_visible_modules_equal_the_numpy_form(layout: PlantLayout, yaw: float) -> None:
    index = module_index(layout)
    rng = np.random.default_rng(int(yaw))
    seen, cut = 0, 0
    for _ in range(20):
        x_m, y_m = rng.uniform(-15, 15, 2)
        geometry = FrameGeometry(x_m, y_m, rng.uniform(0.02, 0.05), yaw, 640, 512)
        margin = float(rng.choice([0.0, 2.0, 7.5]))
        # the numpy form: the centres within the half-diagonal, then every corner's pixel inside the margin
        reach = 0.5 * math.hypot(640, 512) * geometry.gsd_m
        dx, dy = index.centres[:, 0] - geometry.x_m, index.centres[:, 1] - geometry.y_m
        near = np.flatnonzero(dx * dx + dy * dy <= reach * reach)
        rows, cols = geometry.xy_to_pixel(index.corners[near, :, 0], index.corners[near, :, 1])
        inside = (rows >= margin) & (rows <= 511 - margin) & (cols >= margin) & (cols <= 639 - margin)
        positions = visible_modules(index, geometry, margin)
        np.testing.assert_array_equal(positions, near[inside.all(axis=1)])
        # its own array: the accumulator keeps every frame's positions, a view would keep a plant-sized buffer
        assert positions.base is None
        seen, cut = seen + int(inside.all(axis=1).sum()), cut + int((~inside.all(axis=1)).sum())
    assert seen > 100 and cut > 100  # modules inside and modules across the frame's edge


@pytest.mark.parametrize("yaw", [0.0, 0.3, 37.0, 181.0])
def test_the_module_runs_are_the_module_mask_and_its_block_means(layout: PlantLayout, yaw: float) -> None:
    index = module_index(layout)
    geometry = FrameGeometry(1.3, -0.7, 0.08, yaw, 200, 160)
    rows, first, end = module_runs(index, geometry)
    painted = np.zeros((160, 200), dtype=np.float32)
    for r, a, b in zip(rows.tolist(), first.tolist(), end.tolist(), strict=True):
        assert painted[r, a:b].sum() == 0 and b > a  # runs neither overlap nor are empty
        painted[r, a:b] = 1.0
    mask = module_mask(index, geometry)
    np.testing.assert_array_equal(painted, mask)
    quarter = np.empty((80, 100), dtype=np.float32)
    kernels.runs_block_means(rows, first, end, quarter)
    np.testing.assert_array_equal(quarter, _downsample(mask, 2))


@pytest.mark.parametrize("room", [1, 4096])
def test_the_module_runs_come_module_by_module_in_the_paintings_order(
    layout: PlantLayout, room: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the climbs sum over the runs in their order, so the order is part of the poses' bits
    monkeypatch.setattr(georef, "_RUNS_ROOM", room)  # 1: the runs need more room and are made again
    index = module_index(layout)
    rng = np.random.default_rng(room)
    seen = 0
    for _ in range(25):
        x_m, y_m = rng.uniform(-12, 12, 2)
        geometry = FrameGeometry(x_m, y_m, rng.uniform(0.04, 0.1), rng.uniform(0, 360), 200, 160)
        painting = georef._painting(index, geometry, 0.04)
        expected = []
        if painting is not None:
            mu, mv, r_lo, r_hi, pose, glass = painting
            for k in range(len(mu)):
                for r in range(r_lo[k], r_hi[k] + 1):
                    lo, hi = kernels._row_span(mu[k], mv[k], r, pose, glass, 200)
                    if hi >= lo:
                        expected.append((r, int(lo), int(hi) + 1))
        rows, first, end = module_runs(index, geometry)
        assert list(zip(rows.tolist(), first.tolist(), end.tolist(), strict=True)) == expected
        seen += len(expected)
    assert seen > 5000


def _scanned_runs(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """The runs of non-zero pixels of ``mask`` row by row, by numpy."""
    edges = np.diff(np.pad(mask != 0, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    runs = []
    for r in range(mask.shape[0]):
        starts, ends = np.flatnonzero(edges[r] == 1), np.flatnonzero(edges[r] == -1)
        runs += [(r, int(a), int(b)) for a, b in zip(starts, ends, strict=True)]
    return runs


def test_a_masks_runs_are_those_of_the_painted_and_rolled_mask(layout: PlantLayout) -> None:
    index = module_index(layout)
    rng = np.random.default_rng(21)
    h, w = 61, 80
    seen = 0
    for _ in range(20):
        x_m, y_m = rng.uniform(-12, 12, 2)
        geometry = FrameGeometry(x_m, y_m, rng.uniform(0.1, 0.3), rng.uniform(0, 360), w, h)
        painted = module_mask(index, geometry)

        def paint(p: npt.NDArray[np.float32] = painted) -> npt.NDArray[np.float32]:
            return p

        mask = georef._Mask(module_runs(index, geometry), (h, w), paint)
        for shift in [(0, 0), (int(rng.integers(-70, 70)), int(rng.integers(-90, 90))), (3, w - 1)]:
            rolled = np.roll(painted, shift, axis=(0, 1))
            moved = mask.rolled(shift)
            np.testing.assert_array_equal(moved.image(), rolled)
            obs = georef._Observed(rolled)
            for region, bounds in obs.bounds.items():
                runs = moved.runs(bounds) if region != "all" else moved.runs()
                got = list(zip(*(a.tolist() for a in runs), strict=True))
                assert got == _scanned_runs(rolled[obs.regions[region]])
                seen += len(got)
    assert seen > 5000


def test_the_half_images_climbs_are_made_from_the_whole_images_row_sums_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    for h in (40, 41):
        t = rng.normal(30, 3, (h, 50)).astype(np.float32)
        t[3, 4] += 40  # a hot pixel, so that the sums cancel large terms
        whole = georef._Climb(t)
        for top, rows in ((True, t[: h // 2]), (False, t[h // 2 :])):
            made, cut = georef._Climb(rows), whole.half(top)
            np.testing.assert_array_equal(cut.prefix, made.prefix)
            assert (cut.size, cut.mean, cut.sd) == (made.size, made.mean, made.sd)
        obs = georef._Observed(t)
        obs.climber("all")
        assert obs.climber("bottom").prefix.base is obs.climber("all").prefix
    # the whole image's moments do not change with the halves'
    prefix, moments = np.empty((41, 51)), np.empty(2)
    kernels.row_prefix(t, prefix, moments)
    np.testing.assert_array_equal(prefix, whole.prefix)
    mean = moments[0] / t.size
    assert (mean, math.sqrt(max(moments[1] / t.size - mean * mean, 0.0))) == (whole.mean, whole.sd)


def test_run_sums_are_the_circular_cross_correlation_with_the_mask() -> None:
    rng = np.random.default_rng(11)
    t = rng.normal(size=(40, 50)).astype(np.float32)
    rows = rng.integers(0, 40, 60).astype(np.intp)
    first = rng.integers(0, 45, 60).astype(np.intp)
    end = first + rng.integers(1, 6, 60).astype(np.intp)
    mask = np.zeros((40, 50))
    for r, a, b in zip(rows, first, end, strict=True):
        mask[r, a:b] += 1.0  # overlapping runs count twice in the sums as well
    prefix, moments = np.empty((40, 51)), np.empty(2)
    kernels.row_prefix(t, prefix, moments)
    np.testing.assert_allclose(moments, [t.astype(np.float64).sum(), (t.astype(np.float64) ** 2).sum()])
    sums = np.empty(9)
    for di, dj in [(0, 0), (-1, 1), (39, -48), (-38, 49), (7, -3)]:  # rows and columns wrap around
        kernels.run_sums(prefix, rows, first, end, di, dj, sums)
        expected = [
            float(np.sum(np.roll(t, (-(di + a), -(dj + b)), axis=(0, 1)) * mask))
            for a in (-1, 0, 1)
            for b in (-1, 0, 1)
        ]
        np.testing.assert_allclose(sums, expected, atol=1e-9)


def test_each_climb_ends_on_a_local_maximum_of_the_run_sums_in_the_window() -> None:
    rng = np.random.default_rng(12)
    t = ndimage.uniform_filter(rng.normal(size=(40, 50)), 5).astype(np.float32)  # smooth: a few maxima
    rows = rng.integers(0, 40, 60).astype(np.intp)
    first = rng.integers(0, 45, 60).astype(np.intp)
    end = first + rng.integers(1, 6, 60).astype(np.intp)
    prefix, moments = np.empty((40, 51)), np.empty(2)
    kernels.row_prefix(t, prefix, moments)
    radius = 6
    starts = np.array([(0, 0), (-6, 6), (3, -2), (6, 6), (-1, 5)], dtype=np.intp)
    at, sub = starts.copy(), np.empty((5, 9))
    assert kernels.climbs(prefix, rows, first, end, at, radius, 30, sub)
    sums = np.empty(9)
    for s in range(5):
        assert np.abs(at[s]).max() <= radius
        kernels.run_sums(prefix, rows, first, end, int(at[s, 0]), int(at[s, 1]), sums)
        np.testing.assert_array_equal(sub[s], sums)
        inside = [
            3 * (a + 1) + b + 1
            for a in (-1, 0, 1)
            for b in (-1, 0, 1)
            if max(abs(at[s, 0] + a), abs(at[s, 1] + b)) <= radius
        ]
        assert sums[4] >= sums[inside].max()
    # a climb given fewer moves than it needs fails the whole set
    moves = int(np.abs(at - starts).max())
    assert moves > 0
    assert not kernels.climbs(prefix, rows, first, end, starts.copy(), radius, moves - 1, np.empty((5, 9)))


def _climb_by_run_sums(
    prefix: np.ndarray,
    runs: tuple[np.ndarray, np.ndarray, np.ndarray],
    start: tuple[int, int],
    radius: int,
    steps: int,
) -> tuple[tuple[int, int], np.ndarray] | None:
    """The steepest ascent of :func:`.kernels.climbs` written out over :func:`.kernels.run_sums`, the nine
    sums made afresh at every move."""
    i, j = start
    sums = np.empty(9)
    for _ in range(steps + 1):
        kernels.run_sums(prefix, *runs, i, j, sums)
        best, move = sums[4], 4
        for m in range(9):
            a, b = m // 3 - 1, m % 3 - 1
            if abs(i + a) <= radius and abs(j + b) <= radius and sums[m] > best:
                best, move = sums[m], m
        if move == 4:
            return (i, j), sums.copy()
        i, j = i + move // 3 - 1, j + move % 3 - 1
    return None


@pytest.mark.parametrize("seed", range(6))
def test_the_climbs_keeping_their_sums_end_where_and_as_the_sums_made_afresh_do(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    h, w = int(rng.integers(20, 60)), int(rng.integers(20, 60))
    t = ndimage.uniform_filter(rng.normal(size=(h, w)), int(rng.integers(2, 6))).astype(np.float32)
    n = int(rng.integers(20, 120))
    rows = rng.integers(0, h, n).astype(np.intp)
    first = rng.integers(-3, w, n).astype(np.intp)  # runs past both edges: the sums wrap round
    end = first + rng.integers(1, 8, n).astype(np.intp)
    prefix, moments = np.empty((h, w + 1)), np.empty(2)
    kernels.row_prefix(t, prefix, moments)
    radius = int(rng.integers(3, min(h, w) // 2))
    starts = rng.integers(-radius, radius + 1, (7, 2)).astype(np.intp)
    starts[0] = (radius, -radius)  # a corner of the window: sums outside it as well
    at, sub = starts.copy(), np.empty((len(starts), 9))
    steps = 40
    assert kernels.climbs(prefix, rows, first, end, at, radius, steps, sub)
    for s, start in enumerate(starts):
        expected = _climb_by_run_sums(
            prefix, (rows, first, end), (int(start[0]), int(start[1])), radius, steps
        )
        assert expected is not None
        assert (int(at[s, 0]), int(at[s, 1])) == expected[0]
        assert sub[s].tobytes() == expected[1].tobytes()


@pytest.mark.parametrize("estimate_yaw", [False, True])
def test_the_coarse_first_match_lands_on_the_whole_searchs_peak(
    flight: SyntheticFlight, layout: PlantLayout, monkeypatch: pytest.MonkeyPatch, estimate_yaw: bool
) -> None:
    climbs: list[bool] = []
    real = georef._coarse_then_climb

    def spy(*args: Any) -> Any:
        out = real(*args)
        climbs.append(out is not None)
        return out

    monkeypatch.setattr(georef, "_coarse_then_climb", spy)
    index = module_index(layout)
    pitch = modules._pitches(index)[0]
    search = 0.45 * modules._pitches(index)[1]
    rng = np.random.default_rng(2)
    moved = 0
    for i in range(2, len(flight), max(1, len(flight) // 12)):
        dx_m, dy_m = rng.normal(0, 0.15, 2)
        prior = flight.poses[i].moved(dx_m, dy_m, dyaw_deg=0.3 * estimate_yaw)
        frame = flight.frame(i).temperature_c
        options: dict[str, Any] = {"search_m": search, "estimate_yaw": estimate_yaw}
        whole = refine_pose(frame, prior, index, **options)
        climbed = refine_pose(frame, prior, index, coarse_first=True, pitch_along_m=pitch, **options)
        assert climbed.score == pytest.approx(whole.score, abs=1e-5)
        assert np.hypot(climbed.dx_m - whole.dx_m, climbed.dy_m - whole.dy_m) < 1e-4
        assert climbed.dyaw_deg == pytest.approx(whole.dyaw_deg, abs=1e-3)
        moved += whole.score > 0.5 and np.hypot(whole.dx_m, whole.dy_m) > 0.02
    assert moved >= 5  # most of the priors were corrected, not left as they were
    assert len(climbs) >= 10 and all(climbs)  # and every one by the climb, not the whole search


def test_a_lone_shift_match_on_the_whole_index_gives_the_pose_of_the_index_cut_to_the_frame() -> None:
    layout = generate_layout(rectangle(90, 16))  # longer than a frame's reach: the cut leaves modules out
    flight = synthetic_flight(layout, seed=5, anomalies_per_class=0, conditions=Conditions(reflection_k=0.0))
    index = module_index(layout)
    pitch = modules._pitches(index)[0]
    rng = np.random.default_rng(4)
    for i in range(1, len(flight), max(1, len(flight) // 4)):
        prior = flight.poses[i].moved(*rng.normal(0, 0.15, 2))
        frame = flight.frame(i).temperature_c
        coarse = dataclasses.replace(prior, gsd_m=2 * prior.gsd_m, width_px=320, height_px=256)
        cut = georef._about(index, coarse)
        assert len(cut.order) < len(index.order)
        for expected in (None, (0.0, 0.0)):
            options: dict[str, Any] = {"estimate_yaw": False, "coarse_first": True, "pitch_along_m": pitch}
            whole = refine_pose(frame, prior, index, expected_m=expected, **options)
            assert whole == refine_pose(frame, prior, cut, expected_m=expected, **options)


def _carried_search(flight: SyntheticFlight, layout: PlantLayout) -> tuple[ModuleIndex, float, int]:
    """The module index, the module pitch along the rows [m] and the window's radius at block size 2 [px]
    of a carried frame's match, as the accumulator sets them."""
    index = module_index(layout)
    along, across = modules._pitches(index)
    return index, along, math.ceil(0.45 * across / (2 * flight.poses[0].gsd_m))


def test_a_match_climbed_from_a_nearby_peak_lands_where_the_coarse_match_leads(
    flight: SyntheticFlight, layout: PlantLayout
) -> None:
    index, pitch, radius = _carried_search(flight, layout)
    rng = np.random.default_rng(3)
    for i in range(1, len(flight), max(1, len(flight) // 8)):
        truth = flight.poses[i]
        at = FrameGeometry(truth.x_m, truth.y_m, truth.gsd_m * 2, truth.yaw_deg, 320, 256).moved(
            *rng.normal(0, 0.1, 2)
        )
        obs = georef._Observed(georef._structure(_downsample(flight.frame(i).temperature_c, 2), 10.0))
        runs = georef.module_runs(index, at)
        coarse = georef._coarse_then_climb(obs, runs, at, layout.row_azimuth_deg, radius, pitch)
        assert coarse is not None
        # from the peak itself, or a pixel off it (the peak after a small turn), the climbs end there
        for near in [(coarse[1], coarse[2]), (coarse[1] + 1.0, coarse[2] - 1.0)]:
            climbed = georef._coarse_then_climb(obs, runs, at, layout.row_azimuth_deg, radius, pitch, near)
            assert climbed == coarse


def test_a_climb_from_the_expected_shift_ends_on_a_lesser_maximum_which_the_score_sends_to_the_coarse_match(
    flight: SyntheticFlight, layout: PlantLayout
) -> None:
    index, pitch, radius = _carried_search(flight, layout)
    trapped = 0
    for i in range(1, len(flight), max(1, len(flight) // 6)):
        truth = flight.poses[i]
        at = FrameGeometry(truth.x_m, truth.y_m, truth.gsd_m * 2, truth.yaw_deg, 320, 256)
        sigma = layout.footprint_m[0] / at.gsd_m
        obs = georef._Observed(georef._structure(_downsample(flight.frame(i).temperature_c, 2), sigma))
        runs = georef.module_runs(index, at)
        az = layout.row_azimuth_deg
        coarse = georef._coarse_then_climb(obs, runs, at, az, radius, pitch)
        assert coarse is not None
        centre, next_alias = georef._aliases((0.0, 0.0), at, az, pitch, 10 * radius)[:2]
        period = np.subtract(next_alias, centre)
        for dr, dc in [(a, b) for a in (-3, 0, 3) for b in range(-9, 10)]:
            expected = (coarse[1] + dr, coarse[2] + dc)
            alone = georef._coarse_then_climb(obs, runs, at, az, radius, pitch, expected=expected)
            guarded = georef._coarse_then_climb(
                obs, runs, at, az, radius, pitch, expected=expected, least_score=0.95 * coarse[0]
            )
            assert alone is not None and guarded is not None
            off = np.subtract(alone[1:], coarse[1:])
            k = round(float(off @ period) / float(period @ period))
            if np.hypot(*(off - k * period)) > 0.5:
                # a local maximum beside the peak, and lower: the coarse match finds the peak instead
                trapped += 1
                assert alone[0] < 0.95 * coarse[0]
                assert guarded == coarse
            else:
                assert guarded[0] >= coarse[0] - 1e-9
    assert trapped > 0  # the climbs alone do end beside the peak, from some starts


def test_the_half_images_climb_to_the_peaks_their_whole_windows_find(
    flight: SyntheticFlight, layout: PlantLayout
) -> None:
    index = module_index(layout)
    compared = 0
    for i in range(1, len(flight), max(1, len(flight) // 10)):
        truth = flight.poses[i]
        coarse = FrameGeometry(truth.x_m, truth.y_m, truth.gsd_m * 2, truth.yaw_deg + 0.4, 320, 256)
        obs = georef._Observed(georef._structure(_downsample(flight.frame(i).temperature_c, 2), 10.0))

        def paint(at: FrameGeometry = coarse) -> npt.NDArray[np.float32]:
            return module_mask(index, at)

        model = georef._Mask(module_runs(index, coarse), (256, 320), paint)
        for region in ("left", "right", "top", "bottom"):
            whole = obs.match(model.image(), georef.YAW_RADIUS_PX, region)
            climbed = obs.climb(model, georef.YAW_RADIUS_PX, region)
            if whole[0] >= georef.MIN_MATCH_SCORE:
                np.testing.assert_allclose(climbed, whole, atol=1e-5)
                compared += 1
    assert compared >= 20


def test_a_pixels_uv_is_that_of_its_xy_bit_for_bit() -> None:
    rng = np.random.default_rng(14)
    for _ in range(200):
        geometry = FrameGeometry(
            np.float64(rng.uniform(-200, 200)), float(rng.uniform(-200, 200)), float(rng.uniform(0.01, 0.1)),
            float(rng.uniform(-360, 360)), int(rng.integers(50, 700)), int(rng.integers(50, 600)),
        )  # fmt: skip
        azimuth = float(rng.uniform(0, 360))
        for row, col in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (float(rng.uniform(-5, 600)), 3.5)]:
            expected = georef._to_uv(*geometry.pixel_to_xy(row, col), azimuth)
            assert georef._pixel_uv(geometry, row, col, azimuth) == (float(expected[0]), float(expected[1]))


def test_the_compiled_row_ranges_are_those_of_the_corners_pixel_rows(layout: PlantLayout) -> None:
    rng = np.random.default_rng(16)
    corners = layout.corners_xy()
    for _ in range(50):
        geometry = FrameGeometry(
            float(rng.uniform(-20, 20)), float(rng.uniform(-20, 20)), float(rng.uniform(0.02, 0.2)),
            float(rng.uniform(-360, 360)), 320, int(rng.integers(100, 300)),
        )  # fmt: skip
        order = rng.choice(len(corners), 60, replace=False).astype(np.intp)
        rows, _ = geometry.xy_to_pixel(corners[order, :, 0], corners[order, :, 1])
        h = geometry.height_px
        r_lo, r_hi = np.empty(60, dtype=np.intp), np.empty(60, dtype=np.intp)
        _, _, ux, uy = geometry._axes()
        pose = np.array([geometry.x_m, geometry.y_m, ux, uy, geometry.gsd_m])
        kernels.row_ranges(corners, order, pose, h, r_lo, r_hi)
        np.testing.assert_array_equal(r_lo, np.clip(np.floor(rows.min(axis=1)), 0, h).astype(np.intp))
        np.testing.assert_array_equal(r_hi, np.clip(np.ceil(rows.max(axis=1)), -1, h - 1).astype(np.intp))


def test_a_moved_pose_is_dataclasses_replace_of_it() -> None:
    pose = FrameGeometry(np.float64(3.25), 7.5, 0.033, 179.9, 640, 512)
    moved = pose.moved(0.1, -0.2, 0.3)
    assert moved == dataclasses.replace(pose, x_m=pose.x_m + 0.1, y_m=7.5 - 0.2, yaw_deg=179.9 + 0.3)
    assert type(moved) is FrameGeometry


def test_the_quarter_spectrum_is_made_once_and_gives_the_coarse_peak_of_the_block_means() -> None:
    rng = np.random.default_rng(15)
    image = ndimage.uniform_filter(rng.normal(size=(64, 80)), 3).astype(np.float32)
    obs = georef._Observed(image)
    assert obs.quarter_spectrum() is obs.quarter_spectrum()
    model = np.roll(_downsample(image, 2), (3, -2), axis=(0, 1))
    drow, dcol = georef._coarse_peak(obs.quarter_spectrum(), model, 6)
    assert (round(drow), round(dcol)) == (-3, 2)
    _, drow2, dcol2 = georef._match(_downsample(image, 2), model, 6)
    assert (drow, dcol) == pytest.approx((drow2, dcol2), abs=1e-4)


def test_the_compiled_box_filter_is_scipys_uniform_filter_bit_for_bit_and_subtracts_it() -> None:
    rng = np.random.default_rng(13)
    for shape in [(256, 320), (51, 64), (80, 100)]:
        t = rng.normal(30, 3, shape).astype(np.float32)
        t[5, 7] += 40  # a hot pixel, so that the running sums cancel large terms
        for size in (3, 4, 15, 30, 31, 51):
            out, high = np.empty_like(t), np.empty_like(t)
            kernels.box_filter(t, size, False, out)
            kernels.box_filter(t, size, True, high)
            low = ndimage.uniform_filter(t, size=size)
            np.testing.assert_array_equal(out, low)
            np.testing.assert_array_equal(high, t - low)  # the structure image: t less the filter


def test_the_sub_pixel_step_equals_the_clipped_parabola_vertex() -> None:
    def clipped(sub: np.ndarray, i: int, j: int) -> tuple[float, float]:
        def vertex(a: float, b: float, c: float) -> float:
            d = a - 2 * b + c
            return 0.0 if abs(d) < 1e-12 else float(np.clip(0.5 * (a - c) / d, -0.5, 0.5))

        across = vertex(sub[i - 1, j], sub[i, j], sub[i + 1, j])
        return across, vertex(sub[i, j - 1], sub[i, j], sub[i, j + 1])

    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        for _ in range(500):
            # one of the two dtypes the loop names (astype of either reads as a generic dtype)
            sub = cast(
                npt.NDArray[np.float32] | npt.NDArray[np.float64], rng.normal(0, 1, (3, 3)).astype(dtype)
            )
            sub[1, 1] += rng.choice([0.0, 3.0])  # a peak, or none (steps beyond ±0.5)
            got, want = georef._subpixel(sub, 1, 1), clipped(sub, 1, 1)
            assert got == want
            assert all(type(v) is float for v in got)
    flat = np.full((3, 3), 2.0)
    flat[0, 1] = np.nan
    assert np.isnan(georef._subpixel(flat, 1, 1)[0]) and np.isnan(clipped(flat, 1, 1)[0])


def test_a_box_wider_than_the_plant_keeps_each_module_once() -> None:
    """``kernels.in_box`` writes the modules in a box into a buffer as long as the index. A frame whose
    reach is wider than the roof (a 1280 × 1024 H30T frame over a 40 × 30 m roof) once counted each row's
    modules again under the next row's keys, past the buffer's end: the heap was corrupted and the
    analysis aborted. Given room to spare, each module comes back once, in any box."""
    layout = generate_layout(rectangle(40, 30), LayoutParams())
    index = georef.module_index(layout)
    n = len(index.order)
    for half in (5.0, 40.0, 400.0, 4000.0):
        box = np.array([-half, half, -half, half])
        out = np.full(4 * n, -1, dtype=np.intp)
        count = kernels.in_box(
            index.u, index.v, index.order, index.keys, index.row_v, index.span, index.u_min, box, out
        )
        kept = out[:count]
        assert count <= n and len(set(kept.tolist())) == count, (half, count, n)
        inside = (np.abs(index.u) <= half) & (np.abs(index.v) <= half)
        assert count == int(inside.sum()), half
    # the whole flight: an H30T over the small roof is analysed (it aborted the process before)
    flight = synthetic_flight(layout, seed=2, anomalies_per_class=1, camera=CAMERAS["H30T"])
    acc = InspectionAccumulator(layout, camera=CAMERAS["H30T"])
    for i in range(min(3, len(flight))):
        acc.add(flight.frame(i))
    assert any(m.frames_seen for m in acc.result().modules)
