"""The bench flight as DJI R-JPEGs, the files a DJI M3T writes, for ``bench_flight.py --format dji``.

Each frame is the real M3T sample ``shared/data/thermal/M3T_DJI_0001_R.JPG`` (thermal_parser's, MIT; read
here, never copied into the repository) with the synthetic frame's counts and pose
(:mod:`gongzhi.modules.pv.io.dji_writer`), so that ``dji-thermal-cli`` converts it as a drone's file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.io import dji_thermal_cli, dji_writer
from gongzhi.modules.pv.io.thermal import read_frame

TEMPLATE = Path(__file__).resolve().parents[3] / "shared/data/thermal/M3T_DJI_0001_R.JPG"
if not TEMPLATE.exists():  # a clone elsewhere on this machine
    TEMPLATE = Path("/work/shared/data/thermal/M3T_DJI_0001_R.JPG")
"""The real M3T file every frame is made from (absent on a machine without the shared data)."""


def missing() -> str | None:
    """Why DJI frames cannot be written here, or ``None`` when they can."""
    if not TEMPLATE.is_file():
        return f"the real M3T sample {TEMPLATE} is absent"
    if dji_thermal_cli.program() is None:
        return f"no dji-thermal-cli: {dji_thermal_cli.SETUP}"
    return None


_STATE: dict[str, object] = {}


def _init(template: bytes, table: dji_writer.Calibration) -> None:
    _STATE.update(template=template, table=table)


def _write(job: tuple[str, str]) -> None:
    source, target = job
    template, table = _STATE["template"], _STATE["table"]
    assert isinstance(template, bytes) and isinstance(table, tuple)
    Path(target).write_bytes(dji_writer.dji_rjpeg(read_frame(Path(source)), template, table, model="M3T"))


def write_flight(source: Path, target: Path, workers: int) -> None:
    """Write the float TIFF flight of ``source`` as DJI R-JPEGs into ``target`` (with its plant, flight
    description and ground truth), and check one frame converted back."""
    template = TEMPLATE.read_bytes()
    target.mkdir(parents=True, exist_ok=True)
    for name in ("plant.geojson", "truth.csv"):
        shutil.copy2(source / name, target / name)
    description = json.loads((source / "flight.json").read_text(encoding="utf-8"))
    description["frame_format"] = "dji"
    table = dji_writer.calibration(template)
    frames = pipeline.frame_paths(source)
    jobs = [(str(p), str(target / f"{p.stem}.jpg")) for p in frames]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(template, table)) as pool:
        list(pool.map(_write, jobs, chunksize=16))
    probe = Path(jobs[len(jobs) // 2][1])
    with tempfile.TemporaryDirectory() as cache:
        os.environ[dji_thermal_cli.CACHE_ENV] = cache
        back = read_frame(probe)
        os.environ.pop(dji_thermal_cli.CACHE_ENV)
    original = read_frame(frames[len(jobs) // 2])
    error = float(np.nanmax(np.abs(back.temperature_c - original.temperature_c)))
    placed = (back.meta.lat, back.meta.lon, back.meta.gimbal_yaw_deg, back.meta.camera)
    (target / "flight.json").write_text(json.dumps(description, indent=2), encoding="utf-8")  # complete
    print(f"wrote {len(jobs)} DJI R-JPEG frames; {probe.stem} converted back within {error:.3f} K, {placed}")
