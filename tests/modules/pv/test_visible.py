"""A drone's visible-light photo registered onto its thermal frame, and the visible soiling it gives."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics.anomalies import Anomaly
from gongzhi.modules.pv.analytics.georef import locate, locate_frame, module_index
from gongzhi.modules.pv.analytics.oblique import nadir_view
from gongzhi.modules.pv.analytics.synthetic import WIDE_FOCAL_35MM, SyntheticFlight, synthetic_flight
from gongzhi.modules.pv.cli import write_results
from gongzhi.modules.pv.io.visible import VisibleError, read_visible, visible_jpeg

from .flights import tiny_flight, tiny_layout


@pytest.fixture(scope="module")
def flight() -> SyntheticFlight:
    return synthetic_flight(
        tiny_layout(), seed=3, anomalies_per_class=1,
        classes=(Anomaly.SOILING, Anomaly.VEGETATION, Anomaly.SHADING, Anomaly.HOT_SPOT),
    )  # fmt: skip


def _luma(rgb: np.ndarray) -> np.ndarray:
    luma: np.ndarray = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    return luma


def test_the_middle_of_the_wide_photo_lands_on_the_thermal_frame(
    flight: SyntheticFlight, tmp_path: Path
) -> None:
    """Where the thermal frame sees a module the registered photo shows a dark module, where it sees roof
    the photo shows roof: a crop off by two thermal pixels puts the modules' edges on the roof."""
    index = module_index(flight.layout)
    for i in (0, len(flight) // 2):
        photo = tmp_path / f"f{i}_W.jpg"
        photo.write_bytes(visible_jpeg(flight.visible(i), WIDE_FOCAL_35MM))
        frame = flight.frame(i)
        rgb = read_visible(photo, frame)
        assert rgb.shape == (*frame.temperature_c.shape, 3) and rgb.dtype == np.uint8
        labels, fu, fv = locate_frame(index, flight.poses[i])
        inner = (labels >= 0) & (fu > 0.05) & (fu < 0.95) & (fv > 0.05) & (fv < 0.95)
        luma = _luma(rgb)
        assert inner.sum() > 1000 and (labels < 0).sum() > 1000
        assert np.mean(luma[inner] < 90) > 0.97  # modules: dark (a soiled one's dust is the rest)
        assert np.mean(luma[labels < 0] > 110) > 0.99  # the roof
        # the module cells the photo and the frame disagree on, against a crop two pixels off either way
        # (the photo is decoded at half a photo pixel per thermal pixel: its edges blur over two)
        cells = (labels >= 0) & ~((fu < 0.03) | (fu > 0.97) | (fv < 0.03) | (fv > 0.97))
        roof = labels < 0
        here = np.mean((luma < 90) != cells, where=cells | roof)
        for axis in (0, 1):
            for step in (-2, 2):
                off = np.roll(luma, step, axis=axis)
                assert here < 0.5 * np.mean((off < 90) != cells, where=cells | roof)


def test_an_oblique_frames_photo_registers_the_same_way_and_follows_it_onto_the_plane(tmp_path: Path) -> None:
    """The two cameras turn together: at −60° the middle of the wide photo is still the thermal frame
    (dark where the frame's rays meet a module, light on the roof), and the frame's nadir view resamples
    the photo exactly as it resamples the temperatures."""
    oblique = synthetic_flight(tiny_layout(), seed=3, anomalies_per_class=1, gimbal_pitch_deg=-60.0)
    index = module_index(oblique.layout)
    i = len(oblique) // 2
    photo = tmp_path / "oblique_W.jpg"
    photo.write_bytes(visible_jpeg(oblique.visible(i), WIDE_FOCAL_35MM))
    frame = oblique.frame(i)
    rgb = read_visible(photo, frame)
    assert rgb.shape == (*frame.temperature_c.shape, 3)
    cam = oblique.oblique_camera(i)
    assert cam is not None
    x, y = cam.pixel_to_xy(*np.mgrid[0 : frame.meta.height_px, 0 : frame.meta.width_px])
    labels, fu, fv = locate(index, np.nan_to_num(x, nan=1e9), np.nan_to_num(y, nan=1e9))
    inner = (labels >= 0) & (fu > 0.05) & (fu < 0.95) & (fv > 0.05) & (fv < 0.95)
    luma = _luma(rgb)
    assert inner.sum() > 1000 and (labels < 0).sum() > 1000
    assert np.mean(luma[inner] < 90) > 0.95 and np.mean(luma[labels < 0] > 110) > 0.95
    # the nadir view carries the photo, resampled as the temperatures are: a photo that is the
    # temperatures (scaled into 0-255) comes out as the view's temperatures, to its rounding
    hot, cold = float(frame.temperature_c.max()), float(frame.temperature_c.min())
    scaled = np.rint((frame.temperature_c - cold) / (hot - cold) * 255).astype(np.uint8)
    view, why = nadir_view(replace(frame, rgb=np.repeat(scaled[..., None], 3, axis=2)), oblique.camera,
                           oblique.plan.altitude_m)  # fmt: skip
    assert view is not None and view.rgb is not None, why
    assert view.rgb.shape == (*view.temperature_c.shape, 3)
    expected = (view.temperature_c - cold) / (hot - cold) * 255
    assert np.abs(view.rgb[..., 1].astype(float) - expected).max() <= 1.0
    assert nadir_view(frame, oblique.camera, oblique.plan.altitude_m)[0].rgb is None  # type: ignore[union-attr]


def test_an_oblique_flight_with_its_wide_photos_gives_visible_soiling_per_module(tmp_path: Path) -> None:
    """With the plant and with photos alone, the soiled module reads high and no other does."""
    f = tiny_flight(tmp_path / "flight", seed=3, gimbal_pitch_deg=-60.0, visible=True)
    paths, visible = pipeline.frames_and_visible(f.folder)
    photos = pipeline.photo_pairs(paths, visible)
    assert len(photos) == len(paths)
    soiled = {a.module_id for a in f.synthetic.anomalies if a.anomaly is Anomaly.SOILING}
    result = pipeline.analyse_flight(paths, f.synthetic.layout, photos=photos, workers=2)
    s = result.summary()
    assert s["frames_oblique"] == len(paths) and s["frames_with_visible"] == len(paths)
    by_id = {m.module_id: m.extra.get("rgb_soiling_index") for m in result.modules}
    assert soiled and all((v := by_id[m]) is not None and v > 0.2 for m in soiled)
    others = [v for m, v in by_id.items() if m not in soiled and v is not None]
    assert len(others) > 100 and max(others) < 0.1
    alone = pipeline.analyse_photos(paths, photos=photos, workers=2)
    assert alone.summary()["frames_with_visible"] == len(paths)
    xy = f.synthetic.layout.centres_xy()
    high = []
    for m in alone.modules:
        v = m.extra.get("rgb_soiling_index")
        if v is not None and v >= 0.2:
            x, y = f.synthetic.layout.origin.to_xy(m.lon, m.lat)
            high.append(f.synthetic.layout.modules[int(np.argmin(np.hypot(*(xy - (x, y)).T)))].id)
    assert set(high) == soiled


def test_a_photo_turned_by_its_exif_orientation_registers_the_same(
    flight: SyntheticFlight, tmp_path: Path
) -> None:
    rgb = flight.visible(1)
    upright, turned = tmp_path / "a_W.jpg", tmp_path / "b_W.jpg"
    upright.write_bytes(visible_jpeg(rgb, WIDE_FOCAL_35MM))
    exif = Image.open(io.BytesIO(visible_jpeg(rgb, WIDE_FOCAL_35MM))).getexif()
    exif[0x0112] = 6  # stored turned a quarter anticlockwise: to be shown turned clockwise
    Image.fromarray(np.ascontiguousarray(np.rot90(rgb))).save(turned, "JPEG", quality=90, exif=exif.tobytes())
    frame = flight.frame(1)
    a, b = read_visible(upright, frame).astype(int), read_visible(turned, frame).astype(int)
    assert np.median(np.abs(a - b)) <= 2


def test_a_photo_that_cannot_be_registered_says_why(flight: SyntheticFlight, tmp_path: Path) -> None:
    frame = flight.frame(0)
    rgb = flight.visible(0)

    def plain_jpeg() -> bytes:
        b = io.BytesIO()
        Image.fromarray(rgb).save(b, "JPEG")
        return b.getvalue()

    cases = {
        "unreadable": visible_jpeg(rgb, WIDE_FOCAL_35MM)[:5000],  # cut off
        "no_focal_length": plain_jpeg(),
        "narrower": visible_jpeg(rgb, 160),  # a zoom photo sees less than the thermal camera
    }
    for reason, data in cases.items():
        path = tmp_path / f"{reason}_W.jpg"
        path.write_bytes(data)
        with pytest.raises(VisibleError) as err:
            read_visible(path, frame)
        assert err.value.reason == reason and err.value.source == path.name
    good = tmp_path / "good_W.jpg"
    good.write_bytes(visible_jpeg(rgb, WIDE_FOCAL_35MM))
    unknown = replace(frame, meta=replace(frame.meta, camera=None))
    with pytest.raises(VisibleError) as err:
        read_visible(good, unknown)
    assert err.value.reason == "unknown_camera"
    # a frame that does not name its camera (a TIFF export) registers with the one the flight names
    named = read_visible(good, unknown, camera=flight.camera)
    assert np.array_equal(named, read_visible(good, frame))
    assert pipeline.with_photo(unknown, good, flight.camera)[1] == "used"
    assert pipeline.with_photo(unknown, good)[1] == "unknown_camera"
    with pytest.raises(VisibleError) as err:
        read_visible(tmp_path / "missing_W.jpg", frame)
    assert err.value.reason == "unreadable"


def test_a_photo_over_pillows_pixel_limit_is_not_decoded_and_its_frame_is_analysed(
    flight: SyntheticFlight, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pillow refuses an image of more than twice ``MAX_IMAGE_PIXELS`` (a decompression bomb) with an
    error that is no ``OSError``: the photo is left out with its reason, not the flight."""
    photo = tmp_path / "big_W.jpg"
    photo.write_bytes(visible_jpeg(flight.visible(0), WIDE_FOCAL_35MM))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    frame = flight.frame(0)
    with pytest.raises(VisibleError) as err:
        read_visible(photo, frame)
    assert err.value.reason == "too_large"
    assert pipeline.with_photo(frame, photo) == (frame, "too_large")


def test_a_flight_with_its_wide_photos_gives_visible_soiling_per_module_and_zone(tmp_path: Path) -> None:
    """The soiled modules read high, the others (vegetation, shading and hot spots among them) zero; the
    index reaches the CSV and the summary; a photo that cannot be used loses its frame nothing."""
    f = tiny_flight(tmp_path / "flight", seed=3, visible=True)
    paths, visible = pipeline.frames_and_visible(f.folder)
    assert paths == f.frames and visible == {p.name for p in f.photos}
    photos = pipeline.photo_pairs(paths, visible)
    assert len(photos) == len(paths) and all(
        photos[p].name == p.name.replace("_T.tif", "_W.jpg") for p in paths
    )
    photos[paths[0]].write_bytes(b"\xff\xd8 not a photo")
    result = pipeline.analyse_flight(paths, f.synthetic.layout, photos=photos, workers=2)
    without = pipeline.analyse_flight(paths, f.synthetic.layout, workers=2)
    truth = {a.module_id: a.anomaly for a in f.synthetic.anomalies}
    by_id = {m.module_id: m.extra.get("rgb_soiling_index") for m in result.modules}
    soiled = [m for m, a in truth.items() if a is Anomaly.SOILING]
    assert soiled and all((v := by_id[m]) is not None and v > 0.2 for m in soiled)
    others = [v for m, v in by_id.items() if m not in soiled and v is not None]
    assert len(others) > 100 and max(others) < 0.1
    assert sorted(truth[m].value for m, v in by_id.items() if m in truth and v is not None and v >= 0.1) == [
        "soiling"
    ] * len(soiled)
    # the thermal analysis is the one without photos
    assert [(x.module_id, x.anomaly_class) for x in result.findings] == [
        (x.module_id, x.anomaly_class) for x in without.findings
    ]
    s = result.summary()
    assert s["frames_with_visible"] == len(paths) - 1 and s["visible_photos_unused"] == {"unreadable": 1}
    assert set(s["rgb_soiling_by_zone"]) == set(s["soiling_by_zone"])
    assert (
        "frames_with_visible" not in without.summary()
        and s["frames_used"] == without.summary()["frames_used"]
    )
    out = tmp_path / "out"
    out.mkdir()
    write_results(result, f.synthetic.layout, out)
    rows = {r["module_id"]: r for r in csv.DictReader((out / "results.csv").open(encoding="utf-8-sig"))}
    assert float(rows[soiled[0]]["rgb_soiling_index"]) == pytest.approx(by_id[soiled[0]], abs=1e-3)


def test_photos_alone_get_the_visible_soiling_of_the_modules_segmented(tmp_path: Path) -> None:
    """Without a plant layout the modules found in each frame get the index too: those reading high are
    the planted soiled ones (matched by position), and the thermal findings are those without photos."""
    f = tiny_flight(tmp_path / "flight", seed=3, visible=True)
    photos = pipeline.photo_pairs(f.frames, [p.name for p in f.photos])
    result = pipeline.analyse_photos(f.frames, photos=photos, workers=2)
    without = pipeline.analyse_photos(f.frames, workers=2)
    layout = f.synthetic.layout
    xy = layout.centres_xy()
    soiled = {a.module_id for a in f.synthetic.anomalies if a.anomaly is Anomaly.SOILING}
    high: list[tuple[str, float]] = []
    low: list[tuple[str, float]] = []
    for m in result.modules:
        value = m.extra.get("rgb_soiling_index")
        if value is None:
            continue
        x, y = layout.origin.to_xy(m.lon, m.lat)
        nearest = layout.modules[int(np.argmin(np.hypot(xy[:, 0] - x, xy[:, 1] - y)))].id
        (high if value >= 0.2 else low).append((nearest, value))
    assert high and {m for m, _ in high} <= soiled
    assert len(low) > 50 and max(v for _, v in low) < 0.1
    assert result.summary()["frames_with_visible"] == len(f.frames)
    assert result.findings and all(len(x.details["pixel"]) == 2 for x in result.findings)
    assert [(x.module_id, x.anomaly_class) for x in result.findings] == [
        (x.module_id, x.anomaly_class) for x in without.findings
    ]
