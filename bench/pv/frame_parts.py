"""Where the CPU of one frame's analysis goes: ``InspectionAccumulator.add`` over frames decoded beforehand,
in one process with the compiled kernels loaded and every path run once, with process-time wrappers
around its steps (nested: a step's time includes the steps it calls), and optionally a cProfile.

    .venv/bin/python bench/pv/frame_parts.py [--dir /tmp/gongzhi-pv-bench] [--first 300] [--count 150]
        [--profile 40] [--without-rtk]

Uses the frames ``bench/pv/bench_flight.py`` rendered into ``--dir`` (run it first). The wrappers cost a
few microseconds a call (about 0.1–0.2 ms a frame over the ~40 wrapped calls), which the total includes;
steps a version of the code lacks are left out, so that two versions compare in the same run
(``PYTHONPATH`` pointed at an archive of the other). ``--without-rtk`` names the modules by fingerprints and
row ends (:mod:`.analytics.aliases`), as for positions without an RTK fix. Also prints the minor page
faults a frame (fresh memory) and a part's pickling round trip.
"""

from __future__ import annotations

import argparse
import cProfile
import pickle
import pstats
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics import aliases, georef, modules
from gongzhi.modules.pv.io import synthetic_files
from gongzhi.modules.pv.io.plant import read_plant_geojson

_STEPS: list[tuple[Any, str, str]] = [
    (modules, "refine_pose", "pose refinement (refine_pose)"),
    (georef, "_structure", "  structure image"),
    (georef, "_downsample", "  block means"),
    (georef, "_about", "  index cut to the frame's reach"),
    (georef, "module_runs", "  module runs (carried frames)"),
    (georef, "module_mask", "  module masks (yaw estimates)"),
    (georef, "_coarse_then_climb", "  coarse match and climbs"),
    (georef, "_coarse_peak", "    coarse match (FFTs at a quarter)"),
    (georef, "_peak", "      its inverse FFT and peak"),
    (georef, "_Climb", "    prefix sums for the climbs"),
    (getattr(georef, "_Climb", None), "climb", "    climbs (each repeat of the grid)"),
    (georef, "_rotation_deg", "  half-image yaw estimates"),
    (modules.InspectionAccumulator, "_named", "naming without RTK (_named)"),
    (getattr(aliases, "AliasTracker", None), "fingerprint", "  fingerprints"),
    (getattr(aliases, "AliasTracker", None), "linked", "  links to the frames before"),
    (modules, "end_alias", "  row ends"),
    (aliases, "_masks", "    module masks at half resolution"),
    (aliases, "_contrast", "    glass over frame"),
    (modules.InspectionAccumulator, "_rename", "  renaming frames before"),
    (getattr(aliases, "AliasTracker", None), "remember", "  keeping the fingerprints"),
    (modules.InspectionAccumulator, "_analyse", "per-module analysis (_analyse)"),
    (modules, "visible_modules", "  modules in the frame"),
    (modules, "module_crops_and_peaks", "  thinned crops and peaks"),
    (modules, "module_crops", "  module crops (full maps, every module)"),
    (modules, "frame_statistics", "  statistics, reference, classes"),
    (modules, "_sorted_rows", "    row sorts (maps, top thirds)"),
    (modules, "_order_statistics", "    interior and ring sorts, ranks"),
    (modules, "_robust_surface", "    robust surface"),
    (modules, "_interior_medians", "    interior medians"),
    (modules, "_coarse_screen", "    residuals, edge warmth, coarse screen (thinned)"),
    (modules, "screen_and_classify", "    screen and classes"),
    (modules, "classify_crop", "      rules on the suspicious maps"),
    (modules, "soiling_indices", "    soiling indices"),
    (modules, "_soiling_as", "    soiling indices (thinned maps)"),
    (modules._ViewTable, "add", "  keeping the views"),
    (modules, "frame_geometry", "prior pose"),
]


def _wrap(owner: Any, name: str, totals: dict[str, list[float]], label: str) -> None:
    fn: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        c0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            entry = totals[label]
            entry[0] += time.process_time() - c0
            entry[1] += 1

    setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    parser.add_argument("--first", type=int, default=300)
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--without-rtk", action="store_true", help="name the modules as without RTK")
    args = parser.parse_args()
    paths = pipeline.frame_paths(args.dir) if args.dir.is_dir() else []
    paths = paths[args.first : args.first + args.count]
    if not paths:
        raise SystemExit(f"no frames in {args.dir}: run bench/pv/bench_flight.py first")
    layout = read_plant_geojson(args.dir / "plant.geojson")
    description = synthetic_files.read_flight_description(args.dir) or {}
    irradiance = description.get("conditions", {}).get("irradiance_w_m2")
    camera = description.get("camera")
    load_kernels = getattr(adapter, "load_kernels", None)
    if load_kernels is not None:
        load_kernels()
    frames = [adapter.read(p) for p in paths]
    template = adapter.new_accumulator(layout, irradiance, camera)
    if args.without_rtk:
        template.without_rtk = True
    warm = adapter.new_accumulator(layout, irradiance, camera, like=template)
    for frame in frames[:5]:
        warm.add(frame)
    warm.result()

    totals: dict[str, list[float]] = {}
    for owner, name, label in _STEPS:
        if owner is not None and hasattr(owner, name):
            totals[label] = [0.0, 0]
            _wrap(owner, name, totals, label)
    acc = adapter.new_accumulator(layout, irradiance, camera, like=template)
    profile = cProfile.Profile()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    c0 = time.process_time()
    if args.profile:
        profile.enable()
    for frame in frames:
        acc.add(frame)
    if args.profile:
        profile.disable()
    took = time.process_time() - c0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    c0 = time.process_time()
    adapter.leave_layout_out(acc)
    blob = pickle.dumps(acc)
    pickle.loads(blob)
    round_trip = time.process_time() - c0

    n = len(frames)
    print(f"{n} frames decoded beforehand (from {args.first}); CPU time of this process, per frame")
    print(f"{'InspectionAccumulator.add':<40} {took / n * 1000:6.3f} ms  ({faults / n:.0f} minor faults)")
    for label, (seconds, calls) in totals.items():
        print(f"  {label:<38} {seconds / n * 1000:6.3f} ms  ({calls / n:.2f} calls)")
    print(f"a {n}-frame part's pickling round trip  {round_trip * 1000:.1f} ms, {len(blob) / 1e6:.2f} MB")
    if args.profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
