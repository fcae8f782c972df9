from __future__ import annotations

import gc
import multiprocessing
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.modules.pv.io.tiff import write_frame_tiff

from .flights import tiny_flight


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
    assert done == list(range(1, len(flight.frames) + 1))
