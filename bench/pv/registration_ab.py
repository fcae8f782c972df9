"""The pose refinement of two versions of the code on the same calls, in one process, alternating call by
call, so that the load of a shared machine falls on both alike.

    .venv/bin/python bench/pv/registration_ab.py BASE [--dir /tmp/gongzhi-pv-bench] [--first 300]
        [--count 150] [--rounds 6]

``BASE`` is the root of the other version's tree (``git archive main src | tar -x -C BASE``); this version
is the one ``PYTHONPATH`` imports. The calls are those ``InspectionAccumulator.add`` makes on the frames
``bench/pv/bench_flight.py`` rendered into ``--dir`` (frames decoded beforehand); each round replays them
through both versions' ``georef.refine_pose``, each version's own compiled kernels, the first version
alternating round by round. Prints how many poses are the same bit for bit, and the CPU
(``time.process_time``) per frame of each version in each round with their ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import types
from pathlib import Path
from typing import Any

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics import georef, modules
from gongzhi.modules.pv.io import synthetic_files
from gongzhi.modules.pv.io.plant import read_plant_geojson


def _other_georef(root: Path) -> Any:
    """The other tree's ``georef`` module, calling the other tree's ``kernels``."""
    folder = root / "src/gongzhi/modules/pv/analytics"
    spec = importlib.util.spec_from_file_location("other_kernels", folder / "kernels.py")
    assert spec is not None and spec.loader is not None
    kernels = importlib.util.module_from_spec(spec)
    sys.modules["other_kernels"] = kernels
    spec.loader.exec_module(kernels)
    source = (folder / "georef.py").read_text()
    source = source.replace(
        "from gongzhi.modules.pv.analytics import kernels", "import other_kernels as kernels"
    )
    module = types.ModuleType("other_georef")
    module.__file__ = str(folder / "georef.py")
    sys.modules["other_georef"] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _pose(fit: Any) -> tuple[float, ...]:
    g = fit.geometry
    return fit.dx_m, fit.dy_m, fit.dyaw_deg, fit.score, g.x_m, g.y_m, g.yaw_deg


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", type=Path)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    parser.add_argument("--first", type=int, default=300)
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    other = _other_georef(args.base)
    paths = pipeline.frame_paths(args.dir)[args.first : args.first + args.count]
    if not paths:
        raise SystemExit(f"no frames in {args.dir}: run bench/pv/bench_flight.py first")
    layout = read_plant_geojson(args.dir / "plant.geojson")
    description = synthetic_files.read_flight_description(args.dir) or {}
    adapter.load_kernels()
    frames = [adapter.read(p) for p in paths]
    acc = adapter.new_accumulator(layout, None, description.get("camera"))
    calls: list[tuple[Any, ...]] = []
    real = modules.refine_pose

    def recorded(*a: Any, **k: Any) -> Any:
        calls.append((a, k))
        return real(*a, **k)

    modules.refine_pose = recorded
    for frame in frames:
        acc.add(frame)
    modules.refine_pose = real
    versions = {"base": other.refine_pose, "this": georef.refine_pose}
    same = sum(_pose(versions["base"](*a, **k)) == _pose(versions["this"](*a, **k)) for a, k in calls)
    print(f"{len(calls)} refine_pose calls over {len(frames)} frames from {args.first}; same pose {same}")
    per_frame: dict[str, list[float]] = {"base": [], "this": []}
    for r in range(args.rounds):
        spent = dict.fromkeys(versions, 0.0)
        order = list(versions) if r % 2 == 0 else list(reversed(versions))
        for a, k in calls:
            for name in order:
                c0 = time.process_time()
                versions[name](*a, **k)
                spent[name] += time.process_time() - c0
        for name in versions:
            per_frame[name].append(spent[name] / len(frames) * 1000)
    for name, values in per_frame.items():
        print(f"{name}: refine_pose CPU per frame " + "; ".join(f"{v:.3f}" for v in values) + " ms")
    ratios = [t / b for b, t in zip(per_frame["base"], per_frame["this"], strict=True)]
    print("this / base per round: " + "; ".join(f"{x:.3f}" for x in ratios))


if __name__ == "__main__":
    main()
