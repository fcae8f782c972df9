"""Where the CPU of a pooled PV flight goes, in one process: the per-frame work of a worker and the fixed
costs around it (the accumulator's set-up, loading the compiled kernels where the version has them, a
part's pickling round trip, merging and the outcome), and the CPU of the pose refinement within the
per-frame work (``refine_pose`` as the accumulator calls it).

    .venv/bin/python bench/pv/flight_parts.py [--dir /tmp/gongzhi-pv-bench] [--parts 2] [--profile 25]

Uses the frames ``bench/pv/bench_flight.py`` rendered into ``--dir`` (run it first). The flight is split as
``pipeline.analyse_flight`` splits it for ``--parts`` workers; each part goes through
``pipeline.analyse_chunk`` here, one after the other, so that every figure is CPU time of this process
(``time.process_time``), which the load of a shared machine inflates far less than wall time. Runs on any
version of the code that has ``analyse_chunk`` and ``_merged`` (``PYTHONPATH`` pointed at an archive of
it), so that two versions compare in the same run. ``--profile N`` prints the N functions with the most
own time in the last part's per-frame loop (cProfile; its overhead inflates small Python calls).

``--pool N`` instead sends the first N frames through the process pool as the bench does
(``pipeline.analyse_flight`` with ``--parts`` workers) in this fresh process and prints the CPU of this
process and of its workers (``getrusage``) and their minor page faults: with a few frames, that is the
pool's fixed costs as they are paid (the kernels' load, the template, the forks, what travels to and from
the workers, the workers' collections, merging and the outcome), a few frames' work aside.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pickle
import pstats
import resource
import time
from pathlib import Path
from typing import Any

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics import modules
from gongzhi.modules.pv.io import synthetic_files
from gongzhi.modules.pv.io.plant import read_plant_geojson


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    parser.add_argument("--parts", type=int, default=2)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--pool", type=int, default=0, metavar="N")
    args = parser.parse_args()
    paths = pipeline.frame_paths(args.dir) if args.dir.is_dir() else []
    if not paths:
        raise SystemExit(f"no frames in {args.dir}: run bench/pv/bench_flight.py first")
    layout = read_plant_geojson(args.dir / "plant.geojson")
    description = synthetic_files.read_flight_description(args.dir) or {}
    irradiance = description.get("conditions", {}).get("irradiance_w_m2")
    camera = description.get("camera")
    if args.pool:
        pooled(paths[: args.pool], layout, irradiance, camera, args.parts)
        return
    n = len(paths)
    refine = _timed_refine()

    c0 = time.process_time()
    load_kernels = getattr(adapter, "load_kernels", None)  # versions with compiled kernels
    if load_kernels is not None:
        load_kernels()
    kernels = time.process_time() - c0
    c0 = time.process_time()
    pipeline._TEMPLATE = adapter.new_accumulator(layout, irradiance, camera)
    setup = time.process_time() - c0
    chunks = list(pipeline.chunks(paths, math.ceil(n / args.parts)))
    parts, analyse, dumps, loads, size = [], 0.0, 0.0, 0.0, 0
    profile = cProfile.Profile()
    for k, chunk in enumerate(chunks):
        last = args.profile and k == len(chunks) - 1
        c0 = time.process_time()
        if last:
            profile.enable()
        part = pipeline.analyse_chunk(chunk, layout, irradiance, camera)
        if last:
            profile.disable()
        c1 = time.process_time()
        blob = pickle.dumps(part)
        c2 = time.process_time()
        parts.append(pickle.loads(blob))
        c3 = time.process_time()
        analyse, dumps, loads, size = analyse + c1 - c0, dumps + c2 - c1, loads + c3 - c2, size + len(blob)
    c0 = time.process_time()
    outcome = pipeline._merged(parts, layout, n)
    merge = time.process_time() - c0
    sent = 0.0 if hasattr(pipeline, "_analyse_inherited") else _layout_trip(layout) * len(chunks)

    fixed = setup + kernels + dumps + loads + merge + sent
    print(f"{n} frames, {len(layout.modules)} modules, {len(chunks)} part(s); CPU time of this process")
    print(f"reading and analysing frames  {analyse:6.2f} s  ({analyse / n * 1000:.1f} ms/frame)")
    print(f"  of which pose refinement    {refine[0]:6.2f} s  ({refine[0] / n * 1000:.1f} ms/frame, "
          f"{refine[1] / n:.2f} refine_pose calls a frame)")  # fmt: skip
    print(f"accumulator set-up (parent)   {setup:6.2f} s")
    print(f"loading compiled kernels      {kernels:6.2f} s  (once per process, numba's cache filled)")
    print(f"pickling the parts (workers)  {dumps:6.2f} s  ({size / len(chunks) / 1e6:.1f} MB a part)")
    print(f"unpickling them (parent)      {loads:6.2f} s")
    print(f"merging, outcome (parent)     {merge:6.2f} s")
    print(f"the layout to each worker     {sent:6.2f} s  (pickled by the parent, loaded by the worker; "
          "0 where forked workers take it from the template)")  # fmt: skip
    print(f"fixed costs together          {fixed:6.2f} s  ({fixed / n * 1000:.1f} ms/frame)")
    print(f"findings {len(outcome.findings)}, modules seen {outcome.summary()['modules_seen']}")
    if args.profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


def _layout_trip(layout: Any) -> float:
    """CPU of pickling the layout and loading it again [s] (what a version that sends it with each task
    costs the parent and the worker)."""
    c0 = time.process_time()
    pickle.loads(pickle.dumps(layout))
    return time.process_time() - c0


def pooled(paths: list[Path], layout: Any, irradiance: float | None, camera: str | None, parts: int) -> None:
    """A short flight through the process pool: this process's and its workers' CPU and minor faults."""
    own0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    outcome = pipeline.analyse_flight(paths, layout, irradiance_w_m2=irradiance, camera=camera, workers=parts)
    own1, kids1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)

    def cpu(a: Any, b: Any) -> float:
        return b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime

    parent, children = cpu(own0, own1), cpu(kids0, kids1)
    faults, their_faults = own1.ru_minflt - own0.ru_minflt, kids1.ru_minflt - kids0.ru_minflt
    print(f"{len(paths)} frames through a pool of {parts} workers, {len(layout.modules)} modules; CPU")
    print(f"this process                  {parent:6.2f} s  ({faults} minor faults)")
    print(f"its workers                   {children:6.2f} s  ({their_faults} minor faults)")
    print(f"together                      {parent + children:6.2f} s  (findings {len(outcome.findings)})")


def _timed_refine() -> list[float]:
    """Count the CPU time and the calls of ``refine_pose`` as the accumulator calls it (any version)."""
    totals = [0.0, 0]
    refine_pose = modules.refine_pose

    def timed(*args: Any, **kwargs: Any) -> Any:
        c0 = time.process_time()
        try:
            return refine_pose(*args, **kwargs)
        finally:
            totals[0] += time.process_time() - c0
            totals[1] += 1

    modules.refine_pose = timed  # type: ignore[assignment]
    return totals  # type: ignore[return-value]


if __name__ == "__main__":
    main()
