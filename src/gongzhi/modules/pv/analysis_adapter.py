"""The seam between the platform (pipeline, worker, CLI) and the PV analytics and readers: how a frame file
is read, how a per-module accumulator is made, merged and turned into records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.modules.pv.io.thermal import read_frame


def read(path: Path) -> ThermalFrame:
    """Read one radiometric frame; raises ``ValueError`` (with the file's name) when it is not one."""
    return read_frame(path)


def new_accumulator(layout: PlantLayout, irradiance_w_m2: float | None, camera: str | None) -> Any:
    raise NotImplementedError("the per-module analysis is not wired in yet")


def merge(a: Any, b: Any) -> Any:
    raise NotImplementedError("the per-module analysis is not wired in yet")


def records(acc: Any, layout: PlantLayout, irradiance_w_m2: float | None) -> tuple[list[Any], list[Any]]:
    raise NotImplementedError("the per-module analysis is not wired in yet")
