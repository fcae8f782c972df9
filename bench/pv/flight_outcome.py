"""The parent's share of a pooled flight: merging the workers' accumulators and building the outcome (the
per-module results and the platform records), timed on their own, repeatedly, in one process.

    .venv/bin/python bench/pv/flight_outcome.py [--dir /tmp/gongzhi-pv-bench] [--workers 2] [--repeat 7]

Uses the frames ``bench/pv/bench_flight.py`` rendered into ``--dir`` (run it first). The flight is analysed
once with ``--workers`` processes; the parts they return are pickled, and each repeat unpickles them and
times (CPU of this process) what the pool's parent does with them: ``result()`` (the merged views into
module results and findings), ``records()`` (those into ``ModuleRecord``s and ``FindingRecord``s for every
module of the plant) and the whole of ``pipeline._merged`` (merge, result, records, the outcome). This is a
per-flight cost that ``bench_flight.py`` counts in the analysis's CPU; on the 17,150-module bench plant it
is a few tenths of a millisecond a frame. Compare two versions in the same run (``PYTHONPATH`` pointed at a
worktree of the other), alternating them: the machine's speed drifts.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.io.plant import read_plant_geojson


def captured_parts(paths: list[Path], layout: Any, workers: int) -> bytes:
    """The parts the pool's workers return for the flight, pickled as the pool carries them."""
    blobs: list[bytes] = []
    merged = pipeline._merged

    def grab(parts: Any, layout_: Any, total: int) -> Any:
        for acc, _, _ in parts:
            adapter.leave_layout_out(acc)
        blobs.append(pickle.dumps(list(parts)))
        for acc, _, _ in parts:
            adapter.attach(acc, layout_)
        return merged(parts, layout_, total)

    pipeline._merged = grab  # type: ignore[assignment]
    try:
        pipeline.analyse_flight(paths, layout, workers=workers)
    finally:
        pipeline._merged = merged
    return blobs[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    paths = pipeline.frame_paths(args.dir) if args.dir.is_dir() else []
    if not paths:
        raise SystemExit(f"no frames in {args.dir}: run bench/pv/bench_flight.py --dir {args.dir} first")
    layout = read_plant_geojson(args.dir / "plant.geojson")
    blob = captured_parts(paths, layout, args.workers)
    adapter.load_kernels()

    def merged_accumulator() -> Any:
        merged = None
        for acc, _, _ in pickle.loads(blob):
            adapter.attach(acc, layout)
            merged = acc if merged is None else adapter.merge(merged, acc)
        return merged

    def timed(run: Callable[[Any], object], prepare: Callable[[], Any]) -> list[float]:
        out = []
        for _ in range(args.repeat):
            arg = prepare()
            with adapter.cyclic_gc_paused():  # as pipeline._merged runs
                c0 = time.process_time()
                run(arg)
                out.append(time.process_time() - c0)
        return out

    steps: list[tuple[str, Callable[[Any], object], Callable[[], Any]]] = [
        ("result()", lambda acc: acc.result(), merged_accumulator),
        ("records() (with result())", lambda acc: adapter.records(acc, layout), merged_accumulator),
        ("pipeline._merged (all of it)", lambda parts: pipeline._merged(parts, layout, len(paths)),
         lambda: pickle.loads(blob)),
    ]  # fmt: skip
    print(f"{len(paths)} frames, {len(layout.modules)} modules, parts of {args.workers} worker(s)")
    for label, run, prepare in steps:
        ts = timed(run, prepare)
        print(
            f"{label:<30} best {min(ts) * 1e3:6.1f} ms, median {statistics.median(ts) * 1e3:6.1f} ms "
            f"({statistics.median(ts) / len(paths) * 1e3:.3f} ms a frame)"
        )


if __name__ == "__main__":
    main()
