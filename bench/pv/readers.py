"""Decode speed of the radiometric readers on 640×512 frames, against a plain JPEG decode of the same size.

    .venv/bin/python bench/pv/readers.py [--frames 60]

Frames are synthetic (a gradient, noise and hot spots), written in memory with ``write_flir_jpeg`` and
``write_frame_tiff``; the real FLIR T640 sample is timed too when ../shared/data/thermal is present. The
baseline is Pillow decoding an 8-bit 640×512 JPEG of the same scene, measured in the same run: the ratios say
what reading temperatures costs over merely opening a picture. CPU time (``time.process_time``) is printed
next to wall time, since a loaded machine inflates wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from gongzhi.modules.pv.analytics.frames import FrameMeta, ThermalFrame
from gongzhi.modules.pv.io.flir import write_flir_jpeg
from gongzhi.modules.pv.io.thermal import read_frame
from gongzhi.modules.pv.io.tiff import write_frame_tiff

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT.parent / "shared/data/thermal/FLIR_T640.jpg"
if not SAMPLE.exists():
    SAMPLE = Path("/work/shared/data/thermal/FLIR_T640.jpg")


def scene(seed: int) -> ThermalFrame:
    rng = np.random.default_rng(seed)
    t = np.add.outer(np.linspace(30, 36, 512), np.linspace(0, 4, 640)) + rng.normal(0, 0.3, (512, 640))
    for _ in range(5):
        r, c = rng.integers(0, 500), rng.integers(0, 620)
        t[r : r + 8, c : c + 16] += rng.uniform(5, 25)
    meta = FrameMeta(
        source=f"syn-{seed:04d}",
        width_px=640,
        height_px=512,
        model="M3T",
        camera="M3T",
        time=dt.datetime(2025, 7, 1, 3, 0, seed % 60, tzinfo=dt.UTC),
        lat=31.23 + seed * 1e-5,
        lon=121.47,
        alt_abs_m=60.0,
        alt_rel_m=25.0,
        gimbal_yaw_deg=90.0,
        gimbal_pitch_deg=-90.0,
    )
    return ThermalFrame(temperature_c=t.astype(np.float32), meta=meta)


def timed(label: str, blobs: list[bytes], decode: Callable[[bytes], object]) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for blob in blobs:
        decode(blob)
    wall, cpu = (time.perf_counter() - wall0) / len(blobs), (time.process_time() - cpu0) / len(blobs)
    print(f"{label:<34} {wall * 1000:8.2f} ms/frame wall {cpu * 1000:8.2f} ms/frame cpu")
    return wall, cpu


def plain_jpeg(frame: ThermalFrame) -> bytes:
    t = frame.temperature_c
    grey = ((t - t.min()) / (t.max() - t.min()) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def decode_plain(blob: bytes) -> object:
    with Image.open(io.BytesIO(blob)) as image:
        return np.asarray(image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    frames = [scene(i) for i in range(args.frames)]
    plain = [plain_jpeg(f) for f in frames]
    flir = [write_flir_jpeg(f) for f in frames]
    with tempfile.TemporaryDirectory() as tmp:
        tiffs = []
        for f in frames:
            path = Path(tmp) / f"{f.meta.source}.tif"
            write_frame_tiff(path, f)
            tiffs.append(path.read_bytes())
    print(f"{args.frames} frames of 640×512")
    base_wall, base_cpu = timed("baseline: plain JPEG decode", plain, decode_plain)
    rows = {
        "FLIR radiometric JPEG": timed("read_frame FLIR JPEG (synthetic)", flir, read_frame),
        "float32 °C TIFF": timed("read_frame float32 TIFF", tiffs, read_frame),
    }
    if SAMPLE.exists():
        rows["FLIR T640 sample (PNG raster)"] = timed(
            "read_frame FLIR T640 sample", [SAMPLE.read_bytes()] * 10, read_frame
        )
    print()
    for label, (wall, cpu) in rows.items():
        print(
            f"{label:<32} {wall / base_wall:6.1f}× baseline wall, {cpu / base_cpu:6.1f}× cpu; "
            f"600 frames ≈ {wall * 600:5.1f} s on one core"
        )


if __name__ == "__main__":
    main()
