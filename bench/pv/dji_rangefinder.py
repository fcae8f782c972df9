"""DJI R-JPEG frames with laser-rangefinder readings: read between the tables of whole metres, against each
frame converted on its own at its own distance.

    .venv/bin/python bench/pv/dji_rangefinder.py [--frames 90] [--models M30T M4T H30T M3T] [--jobs 2]

The M30T, M4T, H20T and H30T write a laser-rangefinder distance in each frame's XMP, and ``dji-thermal-cli``
converts a frame at that distance, which differs from frame to frame, so those frames share no camera table
(``dji_thermal_cli.camera_key``). ``prepare`` now reads them between tables made at the whole metres either
side of their distances (``dji_thermal_cli.ranged_key``, ``_Batch.add_ranged``), checked on two frames a
metre converted at their own distances. For each camera whose real sample is in ../shared/data/thermal,
``--frames`` frames are the sample with other counts (+4 a frame) and a distance spread evenly over
24–27 m (a flight at 25 m over a roof with plant on it), prepared into an empty cache and read: once through
the tables, once each frame converted on its own (the group marked as failing its check, as the H20T's is).
CPU of this process and its children (the program's start included), and the largest difference between
the two readings [K].
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gongzhi.modules.pv.io import dji_thermal_cli
from gongzhi.modules.pv.io.dji_writer import with_rangefinder
from gongzhi.modules.pv.io.thermal import read_frame

THERMAL = Path(__file__).resolve().parents[3] / "shared/data/thermal"
if not THERMAL.is_dir():  # a clone elsewhere on this machine
    THERMAL = Path("/work/shared/data/thermal")


def cpu_with_children() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def flight(sample: Path, folder: Path, count: int) -> list[Path]:
    plain = sample.read_bytes()
    raw = dji_thermal_cli._counts(plain)
    assert raw is not None
    paths = []
    for k in range(count):
        frame = dji_thermal_cli.with_raster(plain, (raw.ravel() + 4 * (k % 50)).astype(np.uint16))
        path = folder / f"DJI_{k:04d}_T.JPG"
        path.write_bytes(with_rangefinder(frame, 24.0 + 3.0 * k / count))
        paths.append(path)
    return paths


def run(paths: list[Path], cache: Path, jobs: int, one_by_one: bool) -> tuple[float, float, list[np.ndarray]]:
    os.environ[dji_thermal_cli.CACHE_ENV] = str(cache)
    if one_by_one:
        group = dji_thermal_cli.ranged_key(paths[0].read_bytes())
        assert group is not None
        cache.mkdir()
        (cache / f"{group[0]}.no-table").touch()
    cpu0, wall0 = cpu_with_children(), time.perf_counter()
    failed = dji_thermal_cli.prepare(paths, jobs=jobs)
    assert not failed, failed
    temps = [read_frame(p).temperature_c for p in paths]
    return cpu_with_children() - cpu0, time.perf_counter() - wall0, temps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--models", nargs="+", default=["M30T", "M4T", "H30T", "M3T"])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if dji_thermal_cli.program() is None:
        sys.exit(f"skipped: no dji-thermal-cli ({dji_thermal_cli.SETUP})")
    print(f"{args.frames} frames a camera at 24–27 m, --jobs {args.jobs}; CPU with the program's, wall")
    head = f"{'tables: cpu':>12} {'wall':>7} {'one by one: cpu':>16} {'wall':>7} {'cpu ratio':>9}"
    print(f"{'camera':<6} {head} {'largest |ΔT| K':>14}")
    for model in args.models:
        sample = THERMAL / f"{model}_DJI_0001_R.JPG"
        if not sample.is_file():
            print(f"{model:<6} skipped: {sample} is absent")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "flight"
            folder.mkdir()
            paths = flight(sample, folder, args.frames)
            cpu_t, wall_t, by_tables = run(paths, Path(tmp) / "tables", args.jobs, one_by_one=False)
            made = len(list((Path(tmp) / "tables").glob("*.table.npy")))
            cpu_o, wall_o, own = run(paths, Path(tmp) / "own", args.jobs, one_by_one=True)
            worst = max(float(np.nanmax(np.abs(a - b))) for a, b in zip(by_tables, own, strict=True))
            note = f" ({made} tables)" if made else " (tables not kept)"
            print(f"{model:<6} {cpu_t:10.1f} s {wall_t:5.1f} s {cpu_o:14.1f} s {wall_o:5.1f} s "
                  f"{cpu_t / cpu_o:9.2f} {worst:14.4f}{note}")  # fmt: skip


if __name__ == "__main__":
    main()
