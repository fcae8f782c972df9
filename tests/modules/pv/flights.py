"""Tiny synthetic flights for the platform tests: a roof of a few hundred modules, a few frames."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from gongzhi.modules.pv.analytics.layout import LayoutParams, PlantLayout, generate_layout
from gongzhi.modules.pv.analytics.synthetic import SyntheticFlight, synthetic_flight
from gongzhi.modules.pv.io import synthetic_files
from gongzhi.modules.pv.io.plant import layout_to_geojson

from .shapes import rectangle

ROOF_M = (40.0, 24.0)


def tiny_layout(name: str = "测试屋顶") -> PlantLayout:
    return generate_layout(rectangle(*ROOF_M), LayoutParams(setback_m=0.5), name=name)


@dataclass(frozen=True)
class Flight:
    synthetic: SyntheticFlight
    folder: Path
    frames: list[Path]
    photos: list[Path] = field(default_factory=list)
    """The wide photos beside the frames (``visible=True``)."""

    @property
    def geojson(self) -> bytes:
        return json.dumps(layout_to_geojson(self.synthetic.layout), ensure_ascii=False).encode()

    def zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for p in [*self.frames, *self.photos]:
                z.write(p, f"flight/{p.name}")
        return buffer.getvalue()


def tiny_flight(
    folder: Path,
    *,
    seed: int = 5,
    frames: int | None = None,
    gimbal_pitch_deg: float = -90.0,
    visible: bool = False,
) -> Flight:
    """A synthetic flight over the tiny roof written to ``folder`` as ``gongzhi pv synth`` writes it (with
    ``visible``, a wide photo beside each frame)."""
    flight = synthetic_flight(
        tiny_layout(), seed=seed, anomalies_per_class=1, gimbal_pitch_deg=gimbal_pitch_deg
    )
    folder.mkdir(parents=True, exist_ok=True)
    synthetic_files.write_flight_files(flight, folder, visible=visible)
    count = len(flight) if frames is None else min(frames, len(flight))
    list(synthetic_files.write_frames(flight, folder, range(count), visible=visible))
    return Flight(flight, folder, sorted(folder.glob("frame-*.tif")), sorted(folder.glob("frame-*_W.jpg")))
