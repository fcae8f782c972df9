"""Where the pooled flight's CPU goes: the pool's workers against this process, user against system time,
minor page faults, for the decode alone and for decode + analysis, round after round in one process.

    .venv/bin/python bench/pv/pool_cpu.py [--dir /tmp/gongzhi-pv-bench] [--workers 2] [--rounds 3]

Uses the frames ``bench/pv/bench_flight.py`` rendered into ``--dir`` (run it first). ``bench_flight.py``
gives the overhead as one ratio of CPU time; this splits the same two runs, so that the analysis's share
in the workers (``InspectionAccumulator.add`` and reading) can be told from the parent's (the template
accumulator, the merge and the outcome) and from the system's (page faults, pipes).
"""

from __future__ import annotations

import argparse
import resource
from collections.abc import Callable
from pathlib import Path

from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.io.plant import read_plant_geojson


def usage() -> tuple[float, ...]:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        own.ru_utime,
        own.ru_stime,
        own.ru_minflt,
        kids.ru_utime,
        kids.ru_stime,
        kids.ru_minflt,
    )


def measure(label: str, n: int, run: Callable[[], object]) -> float:
    """Run ``run`` and print its CPU per frame, split; returns the total CPU per frame [ms]."""
    before = usage()
    run()
    d = [b - a for a, b in zip(before, usage(), strict=True)]
    ms = [x / n * 1e3 for x in d]
    print(
        f"{label:<18} workers user {ms[3]:.2f} sys {ms[4]:.2f} ms, {d[5] / n:.0f} faults | "
        f"this process user {ms[0]:.2f} sys {ms[1]:.2f} ms, {d[2] / n:.0f} faults  (a frame)"
    )
    return ms[0] + ms[1] + ms[3] + ms[4]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = pipeline.frame_paths(args.dir) if args.dir.is_dir() else []
    if not paths:
        raise SystemExit(f"no frames in {args.dir}: run bench/pv/bench_flight.py --dir {args.dir} first")
    layout = read_plant_geojson(args.dir / "plant.geojson")
    n = len(paths)
    print(f"{n} frames, {len(layout.modules)} modules, {args.workers} worker(s)")
    for i in range(args.rounds):
        print(f"round {i + 1}")
        decode = measure("  decode", n, lambda: pipeline.decode_flight(paths, workers=args.workers))
        both = measure(
            "  decode + analysis", n, lambda: pipeline.analyse_flight(paths, layout, workers=args.workers)
        )
        print(f"  overhead on CPU {both / decode - 1:.2f} × decode")


if __name__ == "__main__":
    main()
