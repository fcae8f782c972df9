from __future__ import annotations

import gc
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics.layout import PlantLayout

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


def test_the_first_load_of_the_kernels_freezes_the_objects_it_made_and_later_loads_do_nothing() -> None:
    script = (
        "import gc; from gongzhi.modules.pv import analysis_adapter as a; a.load_kernels(); "
        "frozen = gc.get_freeze_count(); print(frozen > 100_000, gc.isenabled()); "
        "a.load_kernels(); print(gc.get_freeze_count() == frozen)"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["True", "True", "True"]
