"""The pose refinement of two versions of the code on the same calls, in one process, alternating call by
call, so that the load of a shared machine falls on both alike.

    .venv/bin/python bench/pv/registration_ab.py BASE [--dir /tmp/gongzhi-pv-bench] [--first 300]
        [--count 150] [--rounds 6]

``BASE`` is the root of the other version's tree (``git archive main src | tar -x -C BASE``); this version
is the one ``PYTHONPATH`` imports. The calls are those ``InspectionAccumulator.add`` makes on the frames
``bench/pv/bench_flight.py`` rendered into ``--dir`` (frames decoded beforehand); each round replays them
through both versions' ``georef.refine_pose``, each version's own compiled kernels, the first version
alternating round by round; the base is given only the keywords its ``refine_pose`` takes (a carried
frame's ``expected_m`` and ``least_score`` since the fifteenth pass, whose coarse match the base then
makes). Prints how many poses are the same bit for bit, and the CPU (``time.process_time``) per frame of
each version in each round with their ratio.
"""

from __future__ import annotations

import inspect
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ab_trees

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv.analytics import georef, modules


def _pose(fit: Any) -> tuple[float, ...]:
    g = fit.geometry
    return fit.dx_m, fit.dy_m, fit.dyaw_deg, fit.score, g.x_m, g.y_m, g.yaw_deg


def main() -> None:
    args = ab_trees.arguments(__doc__)
    (other,) = ab_trees.other_analytics(args.base, "georef")
    layout, description, frames = ab_trees.bench_frames(args)
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
    takes = inspect.signature(other.refine_pose).parameters

    def base(*a: Any, **k: Any) -> Any:
        return other.refine_pose(*a, **{name: v for name, v in k.items() if name in takes})

    versions = {"base": base, "this": georef.refine_pose}
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
    ab_trees.report("refine_pose", per_frame)


if __name__ == "__main__":
    main()
