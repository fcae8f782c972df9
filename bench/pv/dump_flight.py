"""Every output of the bench flight as text, so that two versions of the code compare with ``cmp``.

    PYTHONPATH=TREE/src:TREE .venv/bin/python bench/pv/dump_flight.py OUT [--dir /tmp/gongzhi-pv-bench]

Feeds the frames ``bench/pv/bench_flight.py`` rendered into ``--dir`` through one accumulator, in order, in
this process (no pool: each of a pool's chunks starts its own running pose correction, so the split would
change the poses), with the tree on ``PYTHONPATH``, and writes to ``OUT``: each frame's report (its pose
correction and match score), every view (position, frame, the statistics and the RGB columns), every class
not normal, every ``ModuleResult`` and ``Finding``, the ``InspectionResult``'s other fields, every
``ModuleRecord`` and ``FindingRecord`` of ``pipeline.outcome`` and its summary. Every float is written as
``float.hex``, so that a change of one unit in the last place shows. Only the public names of the
accumulator's tree are used, and its private view table's ``columns()`` and ``classes``, which every version
since the fourth pass has (``e3fb43a``).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.io import synthetic_files
from gongzhi.modules.pv.io.plant import read_plant_geojson


def text(value: Any) -> str:
    """``value`` as text with every float (numpy's too) as ``float.hex``; containers, dataclasses and enums
    recursively, dictionaries in key order."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, bool | type(None) | str | int | np.bool_):
        return repr(value.item() if isinstance(value, np.bool_) else value)
    if isinstance(value, float | np.floating):
        return float(value).hex()
    if isinstance(value, np.integer):
        return repr(int(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = (f"{f.name}={text(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"{type(value).__name__}({', '.join(fields)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{text(k)}: {text(v)}" for k, v in sorted(value.items(), key=repr)) + "}"
    if isinstance(value, list | tuple | np.ndarray):
        return "[" + ", ".join(text(v) for v in value) + "]"
    return repr(value)


def _views(acc: Any) -> Iterator[str]:
    positions, frames, numbers = acc._views.columns()
    yield f"views {len(positions)}"
    for p, f, row in zip(positions.tolist(), frames.tolist(), numbers.tolist(), strict=True):
        yield f"view {p} {f} {' '.join(float(x).hex() for x in row)}"
    for (f, p), cls in sorted(acc._views.classes.items()):
        yield f"class {f} {p} {text(cls)}"


def dump(folder: Path, out: TextIO) -> None:
    """Analyse the flight in ``folder`` and write its outputs to ``out``, a line each."""
    layout = read_plant_geojson(folder / "plant.geojson")
    description = synthetic_files.read_flight_description(folder) or {}
    irradiance = description.get("conditions", {}).get("irradiance_w_m2")
    acc = adapter.new_accumulator(layout, irradiance, description.get("camera"))
    paths = pipeline.frame_paths(folder)
    infos = []
    for path in paths:
        frame = adapter.read(path)
        out.write(f"frame {path.name} {text(acc.add(frame))}\n")
        infos.append(pipeline.frame_info(path, frame))
    for line in _views(acc):
        out.write(line + "\n")
    result = acc.result()
    for module in result.modules:
        out.write(f"module {text(module)}\n")
    for finding in result.findings:
        out.write(f"finding {text(finding)}\n")
    rest = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    del rest["modules"], rest["findings"]
    out.write(f"result {text(rest)}\n")
    flight = pipeline.outcome(acc, layout, len(paths), [], infos)
    for record in flight.modules:
        out.write(f"record {text(record)}\n")
    for found in flight.findings:
        out.write(f"found {text(found)}\n")
    out.write(f"summary {text(flight.summary())}\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    args = parser.parse_args()
    if not (pipeline.frame_paths(args.dir) if args.dir.is_dir() else []):
        raise SystemExit(f"no frames in {args.dir}: run bench/pv/bench_flight.py first")
    adapter.load_kernels()
    with args.out.open("w") as out:
        dump(args.dir, out)


if __name__ == "__main__":
    main()
