"""What the paired A/B scripts (``analysis_ab.py``, ``registration_ab.py``) share: the other tree's analytics
loaded beside this one's in the same process, their common arguments, and the bench frames they replay."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics.frames import ThermalFrame
from gongzhi.modules.pv.analytics.layout import PlantLayout
from gongzhi.modules.pv.io import synthetic_files
from gongzhi.modules.pv.io.plant import read_plant_geojson

_IMPORTS = (
    ("from gongzhi.modules.pv.analytics import kernels", "import other_kernels as kernels"),
    ("from gongzhi.modules.pv.analytics.georef import", "from other_georef import"),
)


def _load(root: Path, name: str) -> types.ModuleType:
    """The other tree's ``analytics/<name>.py`` as the module ``other_<name>``, calling the other tree's
    ``kernels`` and ``georef``."""
    path = root / "src/gongzhi/modules/pv/analytics" / f"{name}.py"
    source = path.read_text()
    for old, new in _IMPORTS:
        source = source.replace(old, new)
    module = types.ModuleType(f"other_{name}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def other_analytics(root: Path, *names: str) -> list[Any]:
    """The other tree's ``kernels`` (as ``other_kernels``), then each of ``names`` (``"georef"``, then
    ``"modules"``) loaded from its source so that it calls the other tree's modules, not this one's."""
    spec = importlib.util.spec_from_file_location(
        "other_kernels", root / "src/gongzhi/modules/pv/analytics/kernels.py"
    )
    assert spec is not None and spec.loader is not None
    kernels = importlib.util.module_from_spec(spec)
    sys.modules["other_kernels"] = kernels
    spec.loader.exec_module(kernels)
    return [_load(root, name) for name in names]


def arguments(doc: str | None) -> argparse.Namespace:
    """The other tree (``base``), the frames folder and the slice of frames replayed, and the rounds."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", type=Path)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    parser.add_argument("--first", type=int, default=300)
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=6)
    return parser.parse_args()


def bench_frames(args: argparse.Namespace) -> tuple[PlantLayout, dict[str, Any], list[ThermalFrame]]:
    """The plant, the flight's description and the frames ``--first`` to ``--first + --count`` of the
    folder ``bench_flight.py`` rendered, decoded (the kernels loaded first, as a pool's parent does)."""
    paths = pipeline.frame_paths(args.dir) if args.dir.is_dir() else []
    paths = paths[args.first : args.first + args.count]
    if not paths:
        raise SystemExit(f"no frames in {args.dir}: run bench/pv/bench_flight.py first")
    layout = read_plant_geojson(args.dir / "plant.geojson")
    description = synthetic_files.read_flight_description(args.dir) or {}
    adapter.load_kernels()
    return layout, description, [adapter.read(p) for p in paths]


def report(what: str, per_frame: dict[str, list[float]]) -> None:
    """Each version's CPU per frame [ms] in each round, and this version's over the base's, round by round."""
    for name, values in per_frame.items():
        print(f"{name}: {what} CPU per frame " + "; ".join(f"{v:.3f}" for v in values) + " ms")
    ratios = [t / b for b, t in zip(per_frame["base"], per_frame["this"], strict=True)]
    print("this / base per round: " + "; ".join(f"{x:.3f}" for x in ratios))
