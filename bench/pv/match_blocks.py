"""How precise the pose refinement is at each block size, by how many pixels a cell spans: synthetic flights
flown at several heights, each analysed with a flight line's carried frames matched at blocks of 2 and of 4
pixels, the refined poses compared with the flights' true ones.

    .venv/bin/python bench/pv/match_blocks.py [--seeds 1 2 3] [--px-per-cell 4 5 7] [--blocks 2 4]
        [--width 60 --height 40]

Each seed builds a plant over a width × height roof and renders the default plan's flight (M3T, 50/50 %
overlap, GPS and yaw logged with the default errors) from the height at which a cell's side spans
``--px-per-cell`` pixels (5 is the IEC screening resolution, the plans' default). Every block size sees the
same frames, through :class:`.modules.InspectionAccumulator` with :func:`.modules.match_block_px` (the
carried frames' block size; the frames that estimate the yaw in full stay at 2) replaced by it. Prints, per
resolution and block size, the mean over the seeds of each flight's median and 95th percentile position
error [mm] and median yaw error [°] of the refined poses, the CPU of ``add`` a frame (this process), the
findings' count per seed, and whether the findings are those of the first block size.
:data:`.modules.FINE_MATCH_PX_PER_CELL` is set from these figures."""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from gongzhi.modules.pv.analytics import modules
from gongzhi.modules.pv.analytics.cameras import M3T
from gongzhi.modules.pv.analytics.flightplan import screening_gsd
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.georef import frame_geometry
from gongzhi.modules.pv.analytics.layout import LayoutParams, generate_layout
from gongzhi.modules.pv.analytics.synthetic import SyntheticFlight, synthetic_flight


def rectangle(width_m: float, height_m: float) -> list[tuple[float, float]]:
    """A width × height roof centred on 22.55° N, 114.05° E, its rows east-west (the tests' roofs)."""
    w, h, origin = width_m / 2, height_m / 2, LocalFrame(114.05, 22.55)
    return [origin.to_lonlat(x, y) for x, y in ((-w, -h), (w, -h), (w, h), (-w, h))]


def analysed(
    flight: SyntheticFlight, block_px: int
) -> tuple[list[float], list[float], float, set[tuple[str, str]]]:
    """Position [m] and yaw [°] error of each frame's refined pose, CPU of ``add`` a frame [s], findings."""
    real = modules.match_block_px
    modules.match_block_px = lambda *_a, **_k: block_px
    try:
        acc = modules.InspectionAccumulator(flight.layout)
        position, yaw, cpu = [], [], 0.0
        for i in range(len(flight)):
            frame = flight.frame(i)
            c0 = time.process_time()
            report = acc.add(frame)
            cpu += time.process_time() - c0
            prior, truth = frame_geometry(frame.meta, acc.layout.origin), flight.poses[i]
            position.append(
                math.hypot(prior.x_m + report.dx_m - truth.x_m, prior.y_m + report.dy_m - truth.y_m)
            )
            yaw.append(abs((prior.yaw_deg + report.dyaw_deg - truth.yaw_deg + 180) % 360 - 180))
        found = {(f.module_id, str(f.anomaly_class)) for f in acc.result().findings}
    finally:
        modules.match_block_px = real
    return position, yaw, cpu / len(flight), found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--px-per-cell", type=float, nargs="+", default=[4.0, 5.0, 7.0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--width", type=float, default=60.0)
    parser.add_argument("--height", type=float, default=40.0)
    args = parser.parse_args()
    screening = M3T.altitude_for_gsd(screening_gsd())  # 5 px per cell
    layout = generate_layout(rectangle(args.width, args.height), LayoutParams(setback_m=0.5))
    print(f"{len(layout.modules)} modules; mean over seeds {args.seeds} of each flight's figures")
    print(f"{'cell side':>9} {'block':>5} {'frames':>6} {'median':>7} {'p95':>6} {'yaw':>6} {'add':>8}  n")
    for ppc in args.px_per_cell:
        rows: dict[int, list[tuple[float, float, float, float, int]]] = {b: [] for b in args.blocks}
        same = {b: True for b in args.blocks}
        frames = 0
        for seed in args.seeds:
            flight = synthetic_flight(
                layout, seed=seed, anomalies_per_class=2, altitude_m=screening * 5 / ppc
            )
            frames = len(flight)
            first: set[tuple[str, str]] | None = None
            for b in args.blocks:
                position, yaw, cpu, found = analysed(flight, b)
                first = found if first is None else first
                same[b] &= found == first
                rows[b].append((float(np.median(position)), float(np.percentile(position, 95)),
                                float(np.median(yaw)), cpu, len(found)))  # fmt: skip
        for b in args.blocks:
            r = rows[b]
            median, p95, yaw_err, cpu = (statistics.mean(x[k] for x in r) for k in range(4))
            verdict = "" if b == args.blocks[0] else (", the same" if same[b] else ", NOT the same")
            print(
                f"{ppc:>6.1f} px {b:>3} px {frames:>6} {median * 1e3:>4.1f} mm {p95 * 1e3:>3.0f} mm "
                f"{yaw_err:>5.3f}° {cpu * 1e3:>5.2f} ms  {[x[4] for x in r]}{verdict}"
            )


if __name__ == "__main__":
    main()
