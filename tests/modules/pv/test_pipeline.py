from __future__ import annotations

import gc
import multiprocessing
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gongzhi import errors
from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics.layout import LayoutParams, PlantLayout, generate_layout
from gongzhi.modules.pv.analytics.synthetic import synthetic_flight
from gongzhi.modules.pv.io import synthetic_files
from gongzhi.modules.pv.io.plant import layout_from_geojson, layout_to_geojson
from gongzhi.modules.pv.io.thermal import flight_order, visible_companions, visible_pairs
from gongzhi.modules.pv.io.tiff import write_frame_tiff
from gongzhi.modules.pv.outcome import FindingRecord
from gongzhi.web import labels
from gongzhi.web.i18n import Lang

from .flights import tiny_flight, tiny_layout
from .shapes import rectangle


@pytest.mark.parametrize("enabled", [True, False])
def test_the_pause_of_the_cyclic_collector_leaves_it_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with adapter.cyclic_gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(ValueError, match="cannot be merged"), adapter.cyclic_gc_paused():
            raise ValueError("a part that cannot be merged")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_a_flight_with_no_readable_frame_is_refused_with_the_collector_back_on() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError, match="no frame"):
        pipeline._merged([], layout=None, total=1)  # type: ignore[arg-type]
    assert gc.isenabled()


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="the workers inherit by fork")
def test_forked_workers_analyse_on_the_plant_they_inherit_without_it_being_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=6)
    layout = flight.synthetic.layout
    in_process = pipeline._merged(
        [pipeline.analyse_chunk(part, layout, 850, "M3T") for part in pipeline.chunks(flight.frames, 3)],
        layout,
        len(flight.frames),
    )

    def refuse(_layout: PlantLayout) -> None:
        raise AssertionError("the layout was pickled")

    monkeypatch.setattr(PlantLayout, "__getstate__", refuse)
    pooled = pipeline.analyse_flight(flight.frames, layout, irradiance_w_m2=850, camera="M3T", workers=2)
    assert pooled.findings and pooled == in_process


def test_a_worker_reports_its_frames_done_in_batches_and_the_last_at_once() -> None:
    ticks = multiprocessing.get_context().Queue()
    clock = iter([0.0, 0.01, 0.02, 0.15, 0.16, 0.17, 0.18])
    ticker = pipeline._Ticker(ticks, 6, clock=lambda: next(clock))  # started at 0.0
    for done in range(1, 7):
        ticker(done)
    sent = [ticks.get(timeout=5) for _ in range(2)]
    # the third frame ends more than TICK_S after the start; the sixth is the last
    assert sent == [3, 3] and pipeline._drain(ticks, 0.05) == 0


def test_frames_are_placed_by_the_camera_their_files_name_and_those_that_cannot_be_are_named_with_why(
    tmp_path: Path,
) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=4)
    layout = flight.synthetic.layout
    # no camera given: each file names its payload (as the synthetic writer does, by the catalogue's name)
    named = pipeline.analyse_flight(flight.frames, layout, irradiance_w_m2=850, workers=1)
    assert named.frames_used == 4 and not named.skipped and named.extra.frames_with_modules > 0
    # a frame of an unknown camera is read but cannot be placed: left out, named, with the reason
    frame = adapter.read(flight.frames[1])
    odd = replace(frame, meta=replace(frame.meta, model="FLIR T640", camera=None))
    write_frame_tiff(flight.frames[1], odd)
    outcome = pipeline.analyse_flight(flight.frames, layout, irradiance_w_m2=850, workers=1)
    assert outcome.frames_used == 3 and len(outcome.skipped) == 1
    assert (
        outcome.skipped[0].startswith(f"{flight.frames[1].name}: ") and "unknown camera" in outcome.skipped[0]
    )
    assert outcome.skipped[0].count(flight.frames[1].name) == 1  # the name once, not twice
    assert (outcome.skipped[0].file, outcome.skipped[0].reason) == (flight.frames[1].name, "not_placed")
    with pytest.raises(ValueError, match=r"could be read and analysed: .*unknown camera"):
        pipeline.analyse_flight(flight.frames[1:2], layout, workers=1)


def test_the_first_load_of_the_kernels_freezes_the_objects_it_made_and_later_loads_do_nothing() -> None:
    script = (
        "import gc; from gongzhi.modules.pv import analysis_adapter as a; a.load_kernels(); "
        "frozen = gc.get_freeze_count(); print(frozen > 100_000, gc.isenabled()); "
        "a.load_kernels(); print(gc.get_freeze_count() == frozen)"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["True", "True", "True"]


def test_photos_segmented_by_two_workers_give_what_one_process_gives(tmp_path: Path) -> None:
    flight = tiny_flight(tmp_path / "flight")
    (tmp_path / "flight" / "frame-0003.tif").write_bytes(b"II*\x00 a frame cut short")  # read by nobody
    first = adapter.read(flight.frames[0])  # placed by GPS, but no module in it: it still sets the origin
    write_frame_tiff(flight.frames[0], replace(first, temperature_c=first.temperature_c * 0 + 20))
    paths = pipeline.frame_paths(tmp_path / "flight")
    alone = pipeline.analyse_photos(paths, camera="M3T")
    done: list[int] = []
    pooled = pipeline.analyse_photos(paths, camera="M3T", workers=2, progress=lambda n, _all: done.append(n))
    assert alone.findings and alone.modules[0].module_id.startswith("X-")
    assert repr(pooled) == repr(alone)  # repr: NaN compares equal there
    assert alone.skipped == (
        "frame-0000.tif: no array of module rectangles found",
        "frame-0003.tif: TIFF raster cannot be read in full (cannot identify image file)",
    )
    # the kinds of reason come back from the workers too
    assert [(s.file, s.reason) for s in pooled.skipped] == [
        ("frame-0000.tif", "no_modules"),
        ("frame-0003.tif", "truncated"),
    ]
    assert done == list(range(1, len(flight.frames) + 1))


def checked(findings: Sequence[FindingRecord]) -> set[tuple[str, str]]:
    """Module and class of the findings that more than one view confirmed or the sun could not reach."""
    return {(f.module_id, f.anomaly_class) for f in findings if f.details.get("reflection_checked", True)}


def unchecked(findings: Sequence[FindingRecord]) -> set[str]:
    return {f.module_id for f in findings if not f.details.get("reflection_checked", True)}


def test_a_few_pixels_without_a_temperature_are_filled_and_a_frame_with_many_is_left_out_with_why(
    tmp_path: Path,
) -> None:
    flight = tiny_flight(tmp_path / "flight", frames=8)
    layout = flight.synthetic.layout
    # the flight as if frame 5 had not been taken: its modules have a view fewer, and a glint the
    # reflection filter dropped may then stand on a module seen once (A-02-15, a hot cell or two)
    intact = pipeline.analyse_flight(flight.frames[:5] + flight.frames[6:], layout, camera="M3T")
    rng = np.random.default_rng(2)
    dead = adapter.read(flight.frames[2])  # 40 dead pixels, as a camera's no-data
    t = dead.temperature_c.copy()
    t[rng.integers(0, t.shape[0], 40), rng.integers(0, t.shape[1], 40)] = np.nan
    write_frame_tiff(flight.frames[2], replace(dead, temperature_c=t))
    holed = adapter.read(flight.frames[5])  # a tenth of the frame has none
    t = holed.temperature_c.copy()
    t[: t.shape[0] // 10] = np.nan
    write_frame_tiff(flight.frames[5], replace(holed, temperature_c=t))
    assert adapter.read(flight.frames[2]).meta.extra["no_data_px"] == 40
    for workers in (1, 2):
        outcome = pipeline.analyse_flight(flight.frames, layout, camera="M3T", workers=workers)
        assert outcome.skipped == ("frame-0005.tif: 32640 pixels (10.0%) have no temperature",)
        # kept for the console, which says it in its reader's language
        kept = outcome.summary()["frames_skipped"]
        assert kept == [
            {
                "file": "frame-0005.tif",
                "reason": "no_temperature",
                "message": "32640 pixels (10.0%) have no temperature",
                "template": "%(count)s pixels (%(share)s) have no temperature",
                "params": {"count": "32640", "share": "10.0%"},
            }
        ]
        assert labels.detail(Lang("zh_CN"), errors.restored(kept[0])) == "32640 个像素（10.0%）没有温度值"
        # the dead pixels filled change nothing the reflection filter could check, nor where the rest lie
        assert checked(outcome.findings) == checked(intact.findings) and checked(intact.findings)
        assert unchecked(outcome.findings) == unchecked(intact.findings)
    photos = pipeline.analyse_photos(flight.frames, camera="M3T")  # segmentation takes holes too
    assert photos.frames_used >= 7


def test_a_frame_made_in_code_without_the_readers_count_has_its_holes_found_too() -> None:
    flight = synthetic_flight(tiny_layout(), seed=5, anomalies_per_class=1)
    frame = flight.frame(3)
    assert "no_data_px" not in frame.meta.extra
    t = frame.temperature_c.copy()
    t[:100] = np.nan
    acc = adapter.new_accumulator(flight.layout, None, "M3T")
    report = acc.add(replace(frame, temperature_c=t))
    assert report.skipped == "64000 pixels (19.5%) have no temperature"
    t = frame.temperature_c.copy()
    t[10, 10] = np.inf
    report = acc.add(replace(frame, temperature_c=t))  # one dead pixel: filled in, the frame analysed
    assert not report.skipped and report.modules > 0


def test_a_drones_visible_photos_beside_its_thermal_frames_are_set_aside_not_read_as_frames(
    tmp_path: Path,
) -> None:
    names = ["DJI_0001_T.JPG", "DJI_0001_W.JPG", "DJI_0001_Z.JPG", "DJI_0002_W.JPG", "dji_0003_r.jpg"]
    names += ["DJI_0003_V.JPG", "roof_W.tif", "DJI_0004_T.JPG", "DJI_0004_W.jpeg"]
    companions = {"DJI_0001_W.JPG", "DJI_0001_Z.JPG", "DJI_0003_V.JPG", "DJI_0004_W.jpeg"}
    # a visible photo whose thermal frame is not there is not taken for one: the reader says what it is
    assert visible_companions(names) == visible_companions(iter(names)) == companions
    # the photo registered onto each frame: the wide one before the zoom one
    assert visible_pairs(names) == {
        "DJI_0001_T.JPG": "DJI_0001_W.JPG",
        "dji_0003_r.jpg": "DJI_0003_V.JPG",
        "DJI_0004_T.JPG": "DJI_0004_W.jpeg",
    }
    for name in names:
        (tmp_path / name).write_bytes(b"\xff\xd8")
    # in the order they were taken: a renamed frame's lower case does not put it last
    expected = ["DJI_0001_T.JPG", "DJI_0002_W.JPG", "dji_0003_r.jpg", "DJI_0004_T.JPG", "roof_W.tif"]
    assert (
        [p.name for p in pipeline.frame_paths(tmp_path)]
        == expected
        == sorted(set(names) - companions, key=flight_order)
    )


def test_frames_are_taken_in_the_order_of_their_numbers_not_of_their_names(tmp_path: Path) -> None:
    names = ["IMG_10.tif", "IMG_2.tif", "img_1.TIF", "IMG_1_W.jpg", "IMG_9.tiff", "notes.txt"]
    assert sorted(names, key=flight_order) == [
        "img_1.TIF", "IMG_1_W.jpg", "IMG_2.tif", "IMG_9.tiff", "IMG_10.tif", "notes.txt",
    ]  # fmt: skip
    # zero-padded numbers (DJI's) keep their name order, a timestamp in the name too
    dji = ["DJI_20261130120000_0010_T.JPG", "DJI_20261130115959_0009_T.JPG", "DJI_20261130120001_0011_T.JPG"]
    assert sorted(dji, key=flight_order) == sorted(dji)
    assert sorted(["a_02.tif", "a_2.tif"], key=flight_order) == ["a_02.tif", "a_2.tif"]  # a tie by name
    # one name the start of another, up to where it has text and the other a number: no text to number
    assert sorted(["x1y2z.tif", "x1y"], key=flight_order) == ["x1y", "x1y2z.tif"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    # the folder's frames so (a JPEG without its thermal partner is a frame, refused when read)
    frames = [p.name for p in pipeline.frame_paths(tmp_path)]
    assert frames == ["img_1.TIF", "IMG_1_W.jpg", "IMG_2.tif", "IMG_9.tiff", "IMG_10.tif"]


def test_a_plant_file_without_its_rows_azimuth_is_analysed_as_the_plant_is(tmp_path: Path) -> None:
    # rows at 30°: read as east-west (the default before the azimuth was read off the modules), the module
    # grid is turned 60° from the frames' and 191 of the 196 modules came out as findings, against 16
    layout = generate_layout(
        rectangle(30, 20, azimuth_deg=30.0), LayoutParams(setback_m=0.5, row_azimuth_deg=30.0)
    )
    flight = synthetic_flight(layout, seed=3, anomalies_per_class=1)
    synthetic_files.write_flight_files(flight, tmp_path)
    list(synthetic_files.write_frames(flight, tmp_path, range(len(flight))))
    collection = layout_to_geojson(layout)
    del collection["features"][0]["properties"]["row_azimuth_deg"]
    imported = layout_from_geojson(collection)
    paths = pipeline.frame_paths(tmp_path)

    def findings(plant: PlantLayout) -> set[tuple[str, str]]:
        return {(f.module_id, f.anomaly_class) for f in pipeline.analyse_flight(paths, plant).findings}

    truth = findings(layout)
    assert len(truth) >= 10
    assert findings(imported) == truth
    assert findings(replace(imported, row_azimuth_deg=90.0)) != truth
