from __future__ import annotations

import gc

import pytest

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline


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
