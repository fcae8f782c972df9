"""PV photos without a plant: the bench flight (``bench_flight.py``'s 600 frames over 50,000 m²) analysed as
if its plant were unknown, the modules found in each frame (``pipeline.analyse_photos``).

    .venv/bin/python bench/pv/photos_flight.py [--dir /tmp/gongzhi-pv-bench] [--workers 2] [--frames 600]

Prints, for one process and for ``--workers`` processes in the same run: wall and CPU time (this process
and its finished workers), and whether the two outcomes are the same; then the peak resident memory of
this process and of the largest worker; then the modules mapped against the plant's, and per class the
planted anomalies, the findings and those that are right (a finding is matched to the plant module whose
centre is nearest to it). Run ``bench_flight.py`` first: it renders the frames into ``--dir``.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.io import synthetic_files
from gongzhi.modules.pv.io.plant import read_plant_geojson
from gongzhi.modules.pv.outcome import FlightOutcome


def cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(paths: list[Path], camera: str | None, workers: int) -> tuple[float, float, FlightOutcome]:
    started, cpu = time.perf_counter(), cpu_s()
    outcome = pipeline.analyse_photos(paths, camera=camera, workers=workers)
    return time.perf_counter() - started, cpu_s() - cpu, outcome


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    parser.add_argument("--workers", type=int, default=pipeline.default_workers())
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames")
    args = parser.parse_args()
    if not (args.dir / "plant.geojson").is_file():
        raise SystemExit(
            f"no bench flight in {args.dir}: run bench/pv/bench_flight.py --dir {args.dir} first"
        )
    paths = pipeline.frame_paths(args.dir)[: args.frames]
    camera = (synthetic_files.read_flight_description(args.dir) or {}).get("camera")
    one_s, one_cpu, one = timed(paths, camera, 1)
    pool_s, pool_cpu, pooled = timed(paths, camera, args.workers)
    n = len(paths)
    print(f"{n} frames, camera {camera}")
    print(f"one process          {one_s:6.1f} s wall, {one_cpu / n * 1000:6.1f} ms CPU a frame")
    print(
        f"{args.workers} workers            {pool_s:6.1f} s wall, {pool_cpu / n * 1000:6.1f} ms CPU a frame, "
        f"speed-up ×{one_s / pool_s:.2f}, same outcome: {repr(pooled) == repr(one)}"
    )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS             main {own:.0f} MB, largest worker {worker:.0f} MB")
    layout = read_plant_geojson(args.dir / "plant.geojson")
    centres = layout.centres_xy()
    found = set()
    for f in one.findings:
        x, y = layout.origin.to_xy(f.lon, f.lat)
        nearest = int(np.argmin(np.hypot(centres[:, 0] - x, centres[:, 1] - y)))
        found.add((layout.modules[nearest].id, f.anomaly_class))
    print(f"modules mapped       {len(one.modules)} (the plant has {len(layout.modules)}), frames skipped "
          f"{len(one.skipped)}")  # fmt: skip
    truth = set(synthetic_files.read_truth(args.dir)) if args.frames is None else set()
    if not truth:
        print("(per-class figures need the whole flight: its ground truth covers every frame)")
        return
    print(f"{'class':<20} {'planted':>7} {'found':>6} {'right':>6}")
    for cls in sorted({c for _, c in truth} | {c for _, c in found}):
        t, f = {k for k in truth if k[1] == cls}, {k for k in found if k[1] == cls}
        print(f"{cls:<20} {len(t):>7} {len(f):>6} {len(t & f):>6}")


if __name__ == "__main__":
    main()
