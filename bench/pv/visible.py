"""What a drone's wide photo costs the analysis of its thermal frame, against the frame's own decode.

    PYTHONPATH=src .venv/bin/python bench/pv/visible.py [--frames 12] [--width 4000] [--rounds 3]

Renders a small synthetic flight over a 60 m × 40 m roof with its wide photos, scaled up to ``--width``
(a DJI wide camera's photo is 4000 px across on the M3T, 8000 on the M30T/H30T in full resolution; the
photos are rendered at their default width and enlarged, which costs the decoder the same), written as
the drone writes them (float32 °C TIFF frames, JPEG photos at quality 90), then times in one process, per
frame and as the median over ``--rounds``:

- decode: reading the thermal frame (the baseline);
- registration: ``io.visible.read_visible`` (JPEG decode at the least DCT scale, crop, box resampling);
- analysis: ``InspectionAccumulator.add`` without and with the registered raster.

Figures are printed as milliseconds and as ratios to the decode measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from gongzhi.modules.pv import analysis_adapter as adapter
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.layout import generate_layout
from gongzhi.modules.pv.analytics.synthetic import WIDE_FOCAL_35MM, synthetic_flight
from gongzhi.modules.pv.io.synthetic_files import write_frame
from gongzhi.modules.pv.io.visible import read_visible, visible_jpeg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    origin = LocalFrame(120.15, 30.28)  # Hangzhou
    roof = [origin.to_lonlat(x, y) for x, y in ((-30, -20), (30, -20), (30, 20), (-30, 20))]
    layout = generate_layout(roof)
    flight = synthetic_flight(layout, seed=1, anomalies_per_class=1)
    count = min(args.frames, len(flight))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pairs = []
        for i in range(count):
            frame, photo = folder / f"f{i:03d}_T.tif", folder / f"f{i:03d}_W.jpg"
            write_frame(frame, flight.frame(i))
            rendered = Image.fromarray(flight.visible(i))
            big = rendered.resize((args.width, args.width * 3 // 4), Image.Resampling.BILINEAR)
            photo.write_bytes(visible_jpeg(np.asarray(big), WIDE_FOCAL_35MM))
            pairs.append((frame, photo))
        size = sum(p.stat().st_size for _, p in pairs) / count
        print(f"{count} frames, wide photos {args.width} px across, {size / 1e6:.2f} MB each")
        adapter.load_kernels()
        decode, register, plain, with_rgb = [], [], [], []
        for _ in range(args.rounds):
            acc_plain = adapter.new_accumulator(layout, None, "M3T")
            acc_rgb = adapter.new_accumulator(layout, None, "M3T")
            t_decode = t_register = t_plain = t_rgb = 0.0
            for frame_path, photo in pairs:
                t0 = time.process_time()
                frame = adapter.read(frame_path)
                t1 = time.process_time()
                rgb = read_visible(photo, frame)
                t2 = time.process_time()
                acc_plain.add(frame)
                t3 = time.process_time()
                acc_rgb.add(replace(frame, rgb=rgb))
                t4 = time.process_time()
                t_decode, t_register = t_decode + t1 - t0, t_register + t2 - t1
                t_plain, t_rgb = t_plain + t3 - t2, t_rgb + t4 - t3
            decode.append(t_decode / count)
            register.append(t_register / count)
            plain.append(t_plain / count)
            with_rgb.append(t_rgb / count)
        d = statistics.median(decode)
        for name, values in (
            ("decode (thermal frame)", decode),
            ("registration (wide photo)", register),
            ("analysis without the photo", plain),
            ("analysis with the photo", with_rgb),
        ):
            m = statistics.median(values)
            print(f"{name:28s} {m * 1e3:8.2f} ms a frame  {m / d:6.2f}× decode")
        extra = statistics.median(register) + statistics.median(with_rgb) - statistics.median(plain)
        print(f"{'the photo adds':28s} {extra * 1e3:8.2f} ms a frame  {extra / d:6.2f}× decode")


if __name__ == "__main__":
    main()
