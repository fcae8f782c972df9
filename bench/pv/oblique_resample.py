"""Resampling an oblique frame onto the module plane: ``oblique.bilinear_rows`` (one blend of two frame rows
per view row, then one of two samples along it) against ``scipy.ndimage.map_coordinates`` (order 1) over
every point of the same view, in the same run, on the same frames.

    .venv/bin/python bench/pv/oblique_resample.py [--pitch -60] [--frames 10] [--rounds 5]

Prints the CPU time per frame of each (best and median of the rounds), their ratio, and the largest
difference between the two views [K]. The frames are synthetic −60° frames over the 44 × 30 m test roof,
rendered first (not timed).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy import ndimage

from gongzhi.modules.pv.analytics.cameras import M3T
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.layout import generate_layout
from gongzhi.modules.pv.analytics.oblique import ObliqueCamera, bilinear_rows, focal_px, ground_view
from gongzhi.modules.pv.analytics.synthetic import synthetic_flight


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pitch", type=float, default=-60.0)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    origin = LocalFrame(114.05, 22.55)
    roof = [origin.to_lonlat(x, y) for x, y in ((-22, -15), (22, -15), (22, 15), (-22, 15))]
    flight = synthetic_flight(
        generate_layout(roof), seed=7, anomalies_per_class=1, gimbal_pitch_deg=args.pitch
    )
    frames = [flight.frame(i).temperature_c for i in range(min(args.frames, len(flight)))]
    h, w = frames[0].shape
    cam = ObliqueCamera(0.0, 0.0, flight.plan.altitude_m, 0.0, args.pitch, focal_px(M3T, w), w, h)
    # the view nadir_view makes of such a frame (the camera's own, M3T, 640 px wide)
    view_across, view_along, ahead, gsd = ground_view(M3T, flight.plan.altitude_m, args.pitch)
    width, height = int(view_across / gsd), int(view_along / gsd)
    across = (np.arange(width) - (width - 1) / 2) * gsd
    along = ahead + ((height - 1) / 2 - np.arange(height)) * gsd
    rows, cols = cam.xy_to_pixel(across[None, :], along[:, None])  # every point, for map_coordinates
    print(f"{len(frames)} frames {w}×{h} at {args.pitch:g}°, view {width}×{height} px, {args.rounds} rounds")

    def every_point(t: np.ndarray) -> np.ndarray:
        return ndimage.map_coordinates(t, [rows, cols], order=1, mode="nearest")

    def by_rows(t: np.ndarray) -> np.ndarray:
        return bilinear_rows(t, rows[:, 0], cols[:, 0], cols[:, -1], width)

    worst = max(float(np.max(np.abs(every_point(t) - by_rows(t)))) for t in frames)
    times: dict[str, list[float]] = {"map_coordinates": [], "bilinear_rows": []}
    for _ in range(args.rounds):  # alternated, so that the machine's load falls on both alike
        for name, fn in (("map_coordinates", every_point), ("bilinear_rows", by_rows)):
            started = time.process_time()
            for t in frames:
                fn(t)
            times[name].append((time.process_time() - started) / len(frames) * 1e3)
    for name, values in times.items():
        print(f"{name:<16} best {min(values):6.2f} ms/frame, median {statistics.median(values):6.2f} (CPU)")
    ratio = statistics.median(times["bilinear_rows"]) / statistics.median(times["map_coordinates"])
    print(f"bilinear_rows / map_coordinates: {ratio:.2f} (medians); largest difference {worst:.1e} K")


if __name__ == "__main__":
    main()
