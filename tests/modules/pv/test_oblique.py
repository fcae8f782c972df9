"""Oblique frames: the camera model, the nadir view of an oblique frame, and oblique flights analysed with and
without the plant's layout."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
import zipfile

import numpy as np
import pytest
from scipy import ndimage

from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.cameras import M3T
from gongzhi.modules.pv.analytics.flightplan import plan_flight, screening_gsd
from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.analytics.geometry import local_frame
from gongzhi.modules.pv.analytics.georef import FrameGeometry, frame_geometry, locate_frame, module_index
from gongzhi.modules.pv.analytics.layout import PlantLayout, generate_layout
from gongzhi.modules.pv.analytics.modules import (
    InspectionAccumulator,
    InspectionResult,
    LayoutFreeAccumulator,
    analyse_flight,
)
from gongzhi.modules.pv.analytics.oblique import (
    MAX_COARSENING,
    VIEW_PX_PER_SOURCE_PX,
    ObliqueCamera,
    bilinear_rows,
    focal_px,
    ground_view,
    height_for_gsd,
    nadir_view,
    view_px_per_source_px,
)
from gongzhi.modules.pv.analytics.synthetic import Conditions, SyntheticFlight, retimed, synthetic_flight
from gongzhi.modules.pv.io.qgc_plan import write_qgc_plan
from gongzhi.modules.pv.io.wpml import write_wpml_kmz

from .shapes import rectangle


@pytest.fixture(scope="module")
def layout() -> PlantLayout:
    return generate_layout(rectangle(44, 30))


@pytest.fixture(scope="module")
def oblique(layout: PlantLayout) -> SyntheticFlight:
    return synthetic_flight(layout, seed=8, anomalies_per_class=1, gimbal_pitch_deg=-60.0)


def test_looking_straight_down_the_camera_is_the_nadir_frame_geometry() -> None:
    f = focal_px(M3T, 640)
    cam = ObliqueCamera(3.0, -2.0, 25.0, 37.0, -90.0, f, 640, 512)
    nadir = FrameGeometry(3.0, -2.0, 25.0 / f, 37.0, 640, 512)
    rows, cols = np.mgrid[0:512:37, 0:640:53]
    np.testing.assert_allclose(cam.pixel_to_xy(rows, cols), nadir.pixel_to_xy(rows, cols), atol=1e-9)
    assert 25.0 / f == pytest.approx(M3T.gsd_m(25.0))


@pytest.mark.parametrize("pitch", [-85.0, -60.0, -45.0, -20.0])
def test_pixels_and_points_of_the_plane_map_back_and_forth(pitch: float) -> None:
    cam = ObliqueCamera(1.0, 2.0, 20.0, 123.0, pitch, focal_px(M3T, 640), 640, 512)
    rows, cols = np.mgrid[0:512:17, 0:640:23].astype(float)
    x, y = cam.pixel_to_xy(rows, cols)
    seen = np.isfinite(x)
    r, c = cam.xy_to_pixel(x[seen], y[seen])
    np.testing.assert_allclose(r, rows[seen], atol=1e-6)
    np.testing.assert_allclose(c, cols[seen], atol=1e-6)
    # the optical axis meets the plane H / tan(-pitch) ahead along the yaw; rows above the horizon see nothing
    ahead = 20.0 / math.tan(math.radians(-pitch))
    xc, yc = cam.pixel_to_xy(255.5, 319.5)
    assert (xc - 1.0, yc - 2.0) == pytest.approx(
        (ahead * math.sin(math.radians(123.0)), ahead * math.cos(math.radians(123.0)))
    )
    assert seen.all() == (-pitch > M3T.vfov_deg / 2)


def test_the_nadir_view_of_an_oblique_frame_lies_where_the_layout_has_its_modules(
    layout: PlantLayout,
) -> None:
    exact = Conditions(gps_sigma_m=0.0, yaw_sigma_deg=0.0)
    flight = synthetic_flight(layout, seed=3, anomalies_per_class=0, conditions=exact, gimbal_pitch_deg=-55.0)
    index = module_index(layout)
    i = len(flight) // 2
    frame = flight.frame(i)
    view, why = nadir_view(frame, M3T, flight.plan.altitude_m)
    assert view is not None and why == ""
    meta = view.meta
    assert meta.gimbal_pitch_deg == -90.0 and meta.extra["oblique"]["pitch_deg"] == -55.0
    assert meta.gsd_m == pytest.approx(0.166 / 5, rel=0.02)  # flown for the IEC screening GSD (default)
    pose = frame_geometry(meta, layout.origin)  # needs neither camera nor height: the view carries its GSD

    def fit(geometry: FrameGeometry) -> float:  # how well the layout's glass matches the view's warmth
        labels, fu, fv = locate_frame(index, geometry)
        glass = (labels >= 0) & (fu > 0.05) & (fu < 0.95) & (fv > 0.05) & (fv < 0.95)
        return float(np.corrcoef(view.temperature_c.ravel(), glass.ravel())[0, 1])

    shifts = [(dx, dy) for dx in np.arange(-0.4, 0.41, 0.1) for dy in np.arange(-0.4, 0.41, 0.1)]
    scores = [fit(pose.moved(dx, dy)) for dx, dy in shifts]
    best = shifts[int(np.argmax(scores))]
    assert np.hypot(*best) < 0.11 and max(scores) > 0.8  # the view's glass lies on the layout's modules
    assert view.temperature_c.dtype == np.float32 and np.isfinite(view.temperature_c).all()


def test_the_nadir_view_says_how_many_of_its_pixels_a_pixel_of_the_frame_covers(layout: PlantLayout) -> None:
    # rows of the view sampling frame rows 2 apart, each row's 100 columns spanning 99 / 2 frame columns:
    # a frame pixel covers 0.5 x 2 view pixels in the middle rows (np.gradient's one-sided ends alike)
    assert view_px_per_source_px(np.arange(0.0, 20.0, 2.0), np.full(10, 49.5), 100) == pytest.approx(1.0)
    assert view_px_per_source_px(np.arange(0.0, 5.0, 0.5), np.full(10, 49.5), 100) == pytest.approx(4.0)
    assert view_px_per_source_px(np.zeros(1), np.ones(1), 100) == 1.0  # too small to say: as taken
    ratios = {}
    for pitch in (-75.0, -60.0):
        flight = synthetic_flight(layout, seed=1, anomalies_per_class=0, gimbal_pitch_deg=pitch)
        frame = flight.frame(len(flight) // 2)
        view, _ = nadir_view(frame, M3T, frame.meta.alt_rel_m)
        assert view is not None and view.meta.gsd_m is not None
        ratios[pitch], gsd = view.meta.extra["oblique"][VIEW_PX_PER_SOURCE_PX], view.meta.gsd_m
    # the view as fine as the frame's finest row, coarser further on: more so the more oblique
    assert 1.1 < ratios[-75.0] < ratios[-60.0] < MAX_COARSENING**2
    # the accumulators keep a cell's area in the camera's pixels: the view's, divided by that
    acc = InspectionAccumulator(layout)
    frame = flight.frame(len(flight) // 2)
    assert acc.add(frame).modules > 0
    view_cell_px = layout.module_type.width_m * layout.module_type.length_m / layout.module_type.cells
    view_cell_px /= gsd**2
    assert acc._cell_px[0] == pytest.approx(view_cell_px / ratios[-60.0], rel=1e-3)


def test_the_rows_resampling_is_scipys_bilinear_interpolation_inside_and_at_the_edges() -> None:
    rng = np.random.default_rng(4)
    image = rng.normal(40, 3, (60, 80)).astype(np.float32)
    rows = rng.uniform(-3, 63, 50)
    first, last = rng.uniform(-5, 85, 50), rng.uniform(-5, 85, 50)
    out = bilinear_rows(image, rows, first, last, 37)
    cols = first[:, None] + (last - first)[:, None] * np.linspace(0, 1, 37)[None, :]
    expected = ndimage.map_coordinates(
        image, [np.repeat(rows[:, None], 37, axis=1), cols], order=1, mode="nearest"
    )
    assert out.shape == (50, 37) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=2e-4)


def test_oblique_flights_are_flown_as_near_as_the_gsd_of_a_nadir_flight_needs() -> None:
    nadir = M3T.altitude_for_gsd(0.0332)
    assert height_for_gsd(M3T, 0.0332, -90.0) == pytest.approx(nadir)
    heights = [height_for_gsd(M3T, 0.0332, p) for p in (-80.0, -60.0, -45.0)]
    # the further from the vertical, the more foreshortened the plane and the nearer the flight; while the
    # frame's near edge is within half the field of view of the vertical, about as high as a nadir flight
    assert heights[0] > heights[1] > heights[2] > 0.5 * nadir
    assert heights[1] == pytest.approx(nadir, rel=0.05) and heights[2] < 0.95 * nadir
    with pytest.raises(ValueError, match="sees nothing"):
        height_for_gsd(M3T, 0.0332, -5.0)
    # a view cut where the plane's sampling is MAX_COARSENING times the finest: deeper when let coarser
    shallow = ground_view(M3T, 25.0, -50.0, max_coarsening=1.2)
    deep = ground_view(M3T, 25.0, -50.0, max_coarsening=MAX_COARSENING)
    assert deep[1] > shallow[1] and deep[3] == pytest.approx(shallow[3])


def test_frames_that_cannot_be_a_nadir_view_are_left_out_with_why(oblique: SyntheticFlight) -> None:
    frame = oblique.frame(5)
    height = oblique.plan.altitude_m

    def at(pitch: float) -> tuple[ThermalFrame | None, str]:
        meta = dataclasses.replace(frame.meta, gimbal_pitch_deg=pitch)
        return nadir_view(dataclasses.replace(frame, meta=meta), M3T, height)

    assert at(10.0) == (None, "the camera looks at or above the horizon (gimbal pitch 10°)")
    none, why = at(-8.0)
    assert none is None and "sees no part of the module plane within 60° of the vertical" in why
    assert nadir_view(frame, None, height) == (None, "oblique (gimbal pitch -60°) and the camera is unknown")
    assert nadir_view(frame, M3T, None) == (None, "oblique (gimbal pitch -60°) and its height is unknown")
    # within 3° of nadir the frame is kept as it is, its position moved under the image centre
    near, why = at(-88.0)
    assert near is not None and why == "" and near.temperature_c is frame.temperature_c
    x0, y0 = layout_xy(oblique, frame.meta.lon, frame.meta.lat)
    x1, y1 = layout_xy(oblique, near.meta.lon, near.meta.lat)
    ahead = height * math.tan(math.radians(2.0))
    yaw = math.radians(frame.meta.gimbal_yaw_deg or 0.0)
    assert (x1 - x0, y1 - y0) == pytest.approx((ahead * math.sin(yaw), ahead * math.cos(yaw)), abs=1e-3)
    # the analysis says the same of such a frame, and goes on with the next
    acc = InspectionAccumulator(oblique.layout)
    meta = dataclasses.replace(frame.meta, gimbal_pitch_deg=-8.0)
    report = acc.add(dataclasses.replace(frame, meta=meta))
    assert report.modules == 0 and "within 60° of the vertical" in report.skipped
    assert acc.add(frame).modules > 0


def layout_xy(flight: SyntheticFlight, lon: float | None, lat: float | None) -> tuple[float, float]:
    assert lon is not None and lat is not None
    return flight.layout.origin.to_xy(lon, lat)


def found_on(layout: PlantLayout, flight: SyntheticFlight, result: InspectionResult) -> dict[str, Anomaly]:
    """Each finding's class by the plant's module nearest to it (a photos-only flight names its own)."""
    centres = layout.centres_xy()
    found: dict[str, Anomaly] = {}
    for f in result.findings:
        x, y = layout_xy(flight, f.lon, f.lat)
        found[layout.modules[int(np.argmin(np.hypot(*(centres - (x, y)).T)))].id] = f.anomaly_class
    return found


def test_an_oblique_flight_is_placed_on_the_plant_and_finds_what_was_planted(
    oblique: SyntheticFlight,
) -> None:
    acc = InspectionAccumulator(oblique.layout)
    reports = [acc.add(frame) for frame in oblique.frames()]
    seeing = [r for r in reports if r.modules]
    assert len(seeing) >= len(reports) / 2 and all(r.match_score > 0.3 for r in seeing)
    result = acc.result()
    assert len(result.modules) >= 0.95 * len(oblique.layout.modules)
    found = {f.module_id: f.anomaly_class for f in result.findings}
    assert found == {a.module_id: a.anomaly for a in oblique.anomalies}


def test_oblique_photos_alone_give_per_module_findings_in_their_place(oblique: SyntheticFlight) -> None:
    layout = oblique.layout
    acc = LayoutFreeAccumulator()
    for frame in oblique.frames():
        acc.add(frame)
    result = acc.result()
    assert 0.95 * len(layout.modules) <= len(result.modules) <= 1.05 * len(layout.modules)
    centres = layout.centres_xy()
    found = {}
    for f in result.findings:
        x, y = layout_xy(oblique, f.lon, f.lat)
        distance = np.hypot(centres[:, 0] - x, centres[:, 1] - y)
        k = int(np.argmin(distance))
        assert distance[k] < 0.25  # a quarter of a module's width
        found[layout.modules[k].id] = f.anomaly_class
    planted = {a.module_id: a.anomaly for a in oblique.anomalies}
    assert {m: a for m, a in found.items() if planted.get(m) is not a} == {}  # nothing wrong or spurious
    assert sum(found.get(m) is a for m, a in planted.items()) >= 0.9 * len(planted)
    assert {planted[m] for m in planted if m not in found} <= {Anomaly.SHADING, Anomaly.SOILING}


def test_a_frame_that_sees_an_open_string_and_one_other_row_does_not_shade_that_row(
    layout: PlantLayout,
) -> None:
    # seed 7 at -60°: the last frames of a line see only the open string's row and the next one, as many
    # modules each, and took the string's level for the background: the healthy row read 4-5 K cool, and
    # five of its modules were reported shaded (before the frames' levels were compared along the flight)
    flight = synthetic_flight(layout, seed=7, anomalies_per_class=1, gimbal_pitch_deg=-60.0)
    planted = {a.module_id: a.anomaly for a in flight.anomalies}
    string = {m for m, a in planted.items() if a is Anomaly.STRING_OFFLINE}
    for acc in (LayoutFreeAccumulator(), InspectionAccumulator(layout)):
        for frame in flight.frames():
            acc.add(frame)
        result = acc.result()
        found = found_on(layout, flight, result)
        assert [m for m, a in found.items() if a is Anomaly.SHADING and planted.get(m) is not a] == []
        assert {m for m, a in found.items() if a is Anomaly.STRING_OFFLINE} == string
        # nor do those modules' temperatures read cool: only the planted shade and plant are 2 K below
        cool = [r.module_id for r in result.modules if r.t_corrected_k < -2.0]
        assert len(cool) <= sum(a in (Anomaly.SHADING, Anomaly.VEGETATION) for a in planted.values())


@pytest.mark.parametrize("seed", [3, 6])
def test_a_hot_spot_that_the_coarser_oblique_views_read_as_a_crack_is_found(
    layout: PlantLayout, seed: int
) -> None:
    # -60°: the hot spots (17.2 K, seed 3; 13.7 K, seed 6) peak at 4-7 K in the nadir views of the oblique
    # frames, over a quarter to a third of a cell. Seed 3: two of three views (photos only) read a crack,
    # the best-resolved and warmest one a hot spot, and the majority reported a crack (merge_views'
    # oblique rule). Seed 6: every view read a crack under the nadir view's bounds (OBLIQUE_SPREAD).
    flight = synthetic_flight(layout, seed=seed, anomalies_per_class=1, gimbal_pitch_deg=-60.0)
    planted = {a.module_id: a.anomaly for a in flight.anomalies}
    (spot,) = [m for m, a in planted.items() if a is Anomaly.HOT_SPOT]
    (crack,) = [m for m, a in planted.items() if a is Anomaly.CRACKING]
    for acc in (LayoutFreeAccumulator(), InspectionAccumulator(layout)):
        for frame in flight.frames():
            acc.add(frame)
        found = found_on(layout, flight, acc.result())
        assert found.get(spot) is Anomaly.HOT_SPOT
        assert found.get(crack) is Anomaly.CRACKING


@pytest.mark.parametrize(("seed", "with_photos_only"), [(4, True), (7, False)])
def test_a_crack_that_the_coarser_oblique_views_see_under_the_screen_is_found(
    layout: PlantLayout, seed: int, with_photos_only: bool
) -> None:
    # -60°: the cracks (3.0 K, seed 4; 2.9 K, seed 7) peak 1.1-1.3 K above the median in the views that
    # read nothing, under the screen's 1.5 K; one view of two (seed 4), of four (seed 7), read the crack.
    # Those views do not vote (_unresolved). Seed 7's photos-only views still miss it.
    flight = synthetic_flight(layout, seed=seed, anomalies_per_class=1, gimbal_pitch_deg=-60.0)
    planted = {a.module_id: a.anomaly for a in flight.anomalies}
    (crack,) = [m for m, a in planted.items() if a is Anomaly.CRACKING]
    accumulators: list[InspectionAccumulator | LayoutFreeAccumulator] = [InspectionAccumulator(layout)]
    if with_photos_only:
        accumulators.append(LayoutFreeAccumulator())
    for acc in accumulators:
        for frame in flight.frames():
            acc.add(frame)
        found = found_on(layout, flight, acc.result())
        assert found.get(crack) is Anomaly.CRACKING
        # nothing reported that was not planted
        assert set(found) <= set(planted)


def test_an_oblique_finding_says_where_its_module_is_in_the_frame_file(layout: PlantLayout) -> None:
    # the report's and the map's thumbnails centre on it: the module's centre in the nadir view, mapped
    # back through the frame's camera (source_pixels), lands on the module's true centre in the frame
    flight = synthetic_flight(layout, seed=4, anomalies_per_class=1, gimbal_pitch_deg=-60.0)
    centres = layout.centres_xy()
    names = [f.meta.source for f in flight.frames()]
    for acc in (InspectionAccumulator(layout), LayoutFreeAccumulator()):
        for frame in flight.frames():
            acc.add(frame)
        findings = acc.result().findings
        assert findings and all("pixel" in f.details for f in findings)
        for f in findings:
            x, y = layout_xy(flight, f.lon, f.lat)
            nearest = int(np.argmin(np.hypot(*(centres - (x, y)).T)))  # the plant's module it is on
            cam = flight.oblique_camera(names.index(f.evidence[0]))
            assert cam is not None
            row, col = cam.xy_to_pixel(*centres[nearest])
            assert math.hypot(f.details["pixel"][0] - row, f.details["pixel"][1] - col) < 6.0, f.module_id


def test_an_oblique_plan_flies_short_of_its_footprints_which_cover_the_plant_as_a_nadir_plans_do() -> None:
    roof = rectangle(120, 80)
    nadir = plan_flight(roof, M3T, row_azimuth_deg=0.0)
    oblique = plan_flight(roof, M3T, row_azimuth_deg=0.0, gimbal_pitch_deg=-60.0)
    assert oblique.gimbal_pitch_deg == -60.0 and nadir.view_ahead_m == 0.0
    assert oblique.gsd_m == pytest.approx(screening_gsd()) == pytest.approx(nadir.gsd_m)
    assert oblique.altitude_m == pytest.approx(height_for_gsd(M3T, screening_gsd(), -60.0))
    across, along, ahead, gsd = ground_view(M3T, oblique.altitude_m, -60.0)
    assert oblique.footprint_m == pytest.approx((across, along)) and oblique.view_ahead_m == ahead > 10
    assert gsd == pytest.approx(oblique.gsd_m)
    frame = local_frame(oblique.polygon)
    # each line's images look `ahead` further along it: where they look is where a plan of that footprint
    # would put its images, inside the roof
    for line in oblique.lines:
        (x0, y0), (x1, y1) = frame.to_xy(*line.start), frame.to_xy(*line.end)
        ux, uy = (x1 - x0) / line.length_m, (y1 - y0) / line.length_m
        for lon, lat in line.triggers:
            x, y = frame.to_xy(lon, lat)
            assert abs(x + ahead * ux) <= 60 + 1e-6 and abs(y + ahead * uy) <= 40 + 1e-6
    assert oblique.line_spacing_m <= across * (1 - oblique.side_overlap) + 1e-9
    with pytest.raises(ValueError, match="gimbal pitch must be from -90"):
        plan_flight(roof, M3T, gimbal_pitch_deg=-20.0)
    with pytest.raises(ValueError, match="either altitude_m or gsd_m"):
        plan_flight(roof, M3T, gimbal_pitch_deg=-60.0, altitude_m=20.0, gsd_m=0.03)


def test_the_exports_turn_the_gimbal_to_the_plans_pitch() -> None:
    plan = plan_flight(rectangle(60, 40), M3T, gimbal_pitch_deg=-60.0)
    items = write_qgc_plan(plan)["mission"]["items"]
    assert [i["params"] for i in items if i["command"] == 1000] == [[-60.0, 0, None, None, 8, 0, 0]]
    with zipfile.ZipFile(io.BytesIO(write_wpml_kmz(plan))) as z:
        for name in ("wpmz/template.kml", "wpmz/waylines.wpml"):
            text = z.read(name).decode()
            assert text.count("gimbalPitchRotateAngle>-60<") == 1
            assert "waypointHeadingMode>followWayline<" in text  # facing along the line: looking ahead


def test_a_synthetic_oblique_flight_flies_its_oblique_plan(oblique: SyntheticFlight) -> None:
    plan = oblique.plan
    assert plan.gimbal_pitch_deg == -60.0 and plan.view_ahead_m > 0
    assert len(oblique) == plan.image_count
    camera = oblique.oblique_camera(3)
    assert camera is not None and camera.height_m == plan.altitude_m and camera.pitch_deg == -60.0


@pytest.mark.parametrize("seed", [42, 47])
def test_a_crack_one_oblique_view_alone_resolves_is_kept_where_the_sun_cannot_glint(seed: int) -> None:
    """At −60° over the 44 × 30 m roof, these seeds' cracks sit at a module's edge that one view resolves
    and the others do not see: the vote took it for a reflection. Flown at noon, the sun (65° high in the
    south) cannot glint towards any of those cameras, and the view's module statistics show the warmth: the
    crack is kept. Stamped at night, the sun the frames' time gives cannot be trusted, and the crack is
    dropped again (the pixels are the same: the noon sun's glint fell behind these cameras)."""
    layout = generate_layout(rectangle(44, 30))
    flight = synthetic_flight(layout, seed=seed, anomalies_per_class=1, gimbal_pitch_deg=-60)
    crack = next(a.module_id for a in flight.anomalies if a.anomaly is Anomaly.CRACKING)
    noon = analyse_flight(flight.frames(), layout)
    assert (crack, "cracking") in {(f.module_id, f.anomaly_class) for f in noon.findings}
    night = retimed(flight, dt.datetime(2026, 7, 1, 15, 0, tzinfo=dt.UTC))
    assert all(np.array_equal(flight.frame(i).temperature_c, night.frame(i).temperature_c) for i in (0, 9))
    dark = analyse_flight(night.frames(), layout)
    assert crack not in {f.module_id for f in dark.findings}
    assert dark.reflections_rejected == noon.reflections_rejected + 1
    assert {f.module_id for f in dark.findings} == {f.module_id for f in noon.findings} - {crack}
