"""The per-module analysis of two versions of the code on the same calls, in one process, alternating call by
call, so that the load of a shared machine falls on both alike.

    .venv/bin/python bench/pv/analysis_ab.py BASE [--dir /tmp/gongzhi-pv-bench] [--first 300] [--count 150]
        [--rounds 6]

``BASE`` is the root of the other version's tree (``git archive main src | tar -x -C BASE``); this version
is the one ``PYTHONPATH`` imports. The calls are the ``InspectionAccumulator._analyse`` calls ``add`` makes
on the frames ``bench/pv/bench_flight.py`` rendered into ``--dir`` (frames decoded and poses refined
beforehand: the frame and its refined pose); each round replays them through both versions'
``_analyse`` (each version's ``modules``, ``georef`` and compiled ``kernels``, its own classifier and view
table, its own copy of each frame, read through once just before each call as the registration reads it
in the flight, so that neither finds it in the caches after the other), the first version alternating
round by round. Prints whether the views (every statistic and
class) of the first round are the same bit for bit, and the CPU (``time.process_time``) per frame of each
version in each round with their ratio.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ab_trees

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv.analytics import georef, modules


def _accumulator(module: Any, like: modules.InspectionAccumulator) -> Any:
    """An accumulator of ``module``'s class with ``like``'s plant, index and neighbours, no views yet."""
    acc = module.InspectionAccumulator.__new__(module.InspectionAccumulator)
    acc.__dict__.update(like.__dict__)
    acc.classifier = module.RuleClassifier()
    acc._views = module._ViewTable()
    return acc


def _views(acc: Any) -> tuple[list[np.ndarray], dict[tuple[int, int], tuple[Any, ...]]]:
    table = acc._views
    classes = {k: (c.anomaly, c.delta_t_k, c.location, c.confidence) for k, c in table.classes.items()}
    return list(table.columns()), classes


def _same(a: Any, b: Any) -> bool:
    """Whether two accumulators' views are the same bit for bit: positions, frames, classes, and the
    numbers in the columns both versions keep (a version may keep one more, e.g. whether the frame was
    resampled, which is then 0 for every view of these nadir frames)."""
    (cols_a, classes_a), (cols_b, classes_b) = _views(a), _views(b)
    *ids_a, numbers_a = cols_a
    *ids_b, numbers_b = cols_b
    width = min(numbers_a.shape[1], numbers_b.shape[1])
    extra = [n[:, width:] for n in (numbers_a, numbers_b)]
    arrays = all(x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(ids_a, ids_b, strict=True))
    arrays &= numbers_a.shape[0] == numbers_b.shape[0]
    arrays &= (
        np.ascontiguousarray(numbers_a[:, :width]).tobytes()
        == np.ascontiguousarray(numbers_b[:, :width]).tobytes()
    )
    return arrays and not any(np.any(e) for e in extra) and classes_a == classes_b


def main() -> None:
    args = ab_trees.arguments(__doc__)
    _, other = ab_trees.other_analytics(args.base, "georef", "modules")
    layout, description, frames = ab_trees.bench_frames(args)
    irradiance = description.get("conditions", {}).get("irradiance_w_m2")
    template = adapter.new_accumulator(layout, irradiance, description.get("camera"))
    calls: list[tuple[Any, ...]] = []
    real = modules.InspectionAccumulator._analyse

    def recorded(self: Any, *a: Any, **k: Any) -> int:
        # the bench's frames are nadir ones: their keywords (an oblique frame's note) are the defaults,
        # which both versions take without them
        calls.append(a)
        return real(self, *a, **k)

    modules.InspectionAccumulator._analyse = recorded  # type: ignore[method-assign]
    for frame in frames:
        template.add(frame)
    modules.InspectionAccumulator._analyse = real  # type: ignore[method-assign]
    template = template.fresh()
    versions = {"base": other, "this": modules}
    # each version reads its own copy of each frame, read through once just before its call as the
    # registration reads it in the flight (its block means), so that neither finds the frame in the caches
    # where the other has just read it, and both find it there as the flight leaves it
    own = {name: [(a[0].copy(), *a[1:]) for a in calls] for name in versions}
    per_frame: dict[str, list[float]] = {"base": [], "this": []}
    for r in range(args.rounds):
        accs = {name: _accumulator(m, template) for name, m in versions.items()}
        spent = dict.fromkeys(versions, 0.0)
        order = list(versions) if r % 2 == 0 else list(reversed(versions))
        for k in range(len(calls)):
            for name in order:
                georef._downsample(own[name][k][0], 2)
                c0 = time.process_time()
                accs[name]._analyse(*own[name][k])
                spent[name] += time.process_time() - c0
        if r == 0:
            print(f"{len(calls)} _analyse calls over {len(frames)} frames from {args.first}; views the same "
                  f"bit for bit: {_same(accs['base'], accs['this'])}")  # fmt: skip
        for name in versions:
            per_frame[name].append(spent[name] / len(frames) * 1000)
    ab_trees.report("_analyse", per_frame)


if __name__ == "__main__":
    main()
