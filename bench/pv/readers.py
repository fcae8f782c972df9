"""Decode speed of the radiometric readers on 640×512 frames, against a plain JPEG decode of the same size.

    .venv/bin/python bench/pv/readers.py [--frames 60]

Frames are synthetic (a gradient, noise and hot spots), written in memory with ``write_flir_jpeg`` and
``write_frame_tiff``; the real FLIR T640 sample is timed too when ../shared/data/thermal is present. The
baseline is Pillow decoding an 8-bit 640×512 JPEG of the same scene, measured in the same run: the ratios say
what reading temperatures costs over merely opening a picture. CPU time (``time.process_time``) is printed
next to wall time, since a loaded machine inflates wall time.

DJI R-JPEG, when ``dji-thermal-cli`` is installed (``make dji``) and the real samples are present: for each
camera, ``--dji-frames`` copies of its sample, each made distinct by trailing bytes (the cache is by content),
prepared into an empty cache (CPU of this process and its children, the program's start included) and read:
once through the camera's table (one call of the program makes it from a file holding every count and one
frame, :mod:`gongzhi.modules.pv.io.dji_thermal_cli`), and once frame by frame, as for a camera whose table
fails its check (each copy converted, in one call with ``--jobs`` processes, then read from the cache).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from gongzhi.modules.pv.analytics.frames import FrameMeta, ThermalFrame
from gongzhi.modules.pv.io import dji_thermal_cli
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
    parser.add_argument("--jobs", type=int, default=2, help="dji-thermal-cli processes")
    parser.add_argument("--dji-frames", type=int, default=8, help="copies of each DJI sample")
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
    dji = dji_rows(args.dji_frames, args.jobs)
    print()
    for label, (wall, cpu) in (rows | dji).items():
        print(
            f"{label:<32} {wall / base_wall:6.1f}× baseline wall, {cpu / base_cpu:6.1f}× cpu; "
            f"600 frames ≈ {wall * 600:5.1f} s on one core"
        )


def cpu_with_children() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


DJI_MODELS = ("M30T", "M3T", "M4T", "H30T", "H20T")


def dji_rows(count: int, jobs: int) -> dict[str, tuple[float, float]]:
    """Per camera: ``count`` distinct copies of its sample converted in one call, then read from the cache."""
    samples = {m: SAMPLE.parent / f"{m}_DJI_0001_R.JPG" for m in DJI_MODELS}
    samples = {m: p for m, p in samples.items() if p.is_file()}
    if dji_thermal_cli.program() is None or not samples:
        print("DJI R-JPEG: skipped (no dji-thermal-cli: make dji; or no samples in shared/data/thermal)")
        return {}
    rows = {}
    for model, sample in samples.items():
        for how in ("table", "frame by frame"):
            with tempfile.TemporaryDirectory() as tmp:
                cache = Path(tmp) / "cache"
                os.environ[dji_thermal_cli.CACHE_ENV] = str(cache)
                paths = []
                for k in range(count):
                    path = Path(tmp) / f"DJI_{k:04d}_R.JPG"
                    path.write_bytes(sample.read_bytes() + bytes(k + 1))  # distinct digests, the same raster
                    paths.append(path)
                if how == "frame by frame":  # as a camera whose table failed its check
                    cache.mkdir()
                    (cache / f"{dji_thermal_cli.camera_key(sample.read_bytes())}.no-table").touch()
                wall0, cpu0 = time.perf_counter(), cpu_with_children()
                failed = dji_thermal_cli.prepare(paths, jobs=jobs)
                wall, cpu = time.perf_counter() - wall0, cpu_with_children() - cpu0
                label = f"dji-thermal-cli {model}, {how}"
                print(
                    f"{label:<40} prepare {wall:6.2f} s wall {cpu:6.2f} s cpu for {count} frames "
                    f"({count - len(failed)} ready)"
                )
                if how != "table":  # a table is made once per camera, not per frame: printed above only
                    rows[f"DJI {model} prepare, {how}"] = (wall / count, cpu / count)
                rows[f"DJI {model} read, {how}"] = timed(
                    f"read_frame DJI {model}, {how}", [p.read_bytes() for p in paths], read_frame
                )
    return rows


if __name__ == "__main__":
    main()
