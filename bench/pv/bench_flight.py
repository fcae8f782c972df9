"""PV flight benchmark: a 600-frame 640×512 synthetic flight over a 50,000 m² roof (250 m × 200 m, about
17,000 modules), read and analysed with every core.

    .venv/bin/python bench/pv/bench_flight.py [--workers 2] [--dir /tmp/pv-bench] [--seed 7] [--one-worker]
        [--format tiff|tiff-ck|flir|dji] [--gimbal-pitch -60] [--gps-bias-sigma 1.5] [--positioning auto]

Figures, each measured in this run on the same files:
- decode: reading every frame (the readers' ``read_frame``) and dropping it, split over the same process
  pool as the analysis; this is the baseline. The frames are float32 °C TIFF by default, the cheapest
  format to read and so the strictest baseline; ``--format`` writes them as a uint16 centi-kelvin TIFF
  (``tiff-ck``, as radiometric TIFF exports keep temperatures) or as a FLIR radiometric JPEG (``flir``:
  raw counts that the reader turns into temperatures through the Planck constants, as from a FLIR
  camera), each in a folder of its own (``--dir`` with the format's name appended); ``dji`` writes the
  float TIFF flight again as DJI R-JPEGs, the files a DJI M3T writes, made from a real M3T file
  (``dji_frames.py``: needs ``shared/data/thermal`` and ``make dji``), whose temperatures the readers get
  from ``dji-thermal-cli``; each pass then starts with an empty conversion cache, so the decode includes
  the conversion, as a flight's first reading does.
- decode + analysis: :func:`gongzhi.modules.pv.pipeline.analyse_flight`, reading, georeferencing and
  accumulating per module, merging the workers' accumulators, classifying.
- analysis overhead = (decode + analysis − decode) / decode; the target is ≤ 1 (analysis adds no more
  than the decoding), the flight ≤ 60 s, peak memory ≤ 1 GB. The same ratio is printed on CPU time (this
  process and its finished workers, ``getrusage``), which the load of a shared machine does not inflate
  as it does wall time.
- peak memory: the largest resident set of this process and of any worker process (``ru_maxrss``), and
  their sum as an upper bound of the whole job.
- with ``--one-worker``: the same flight streamed through one accumulator in one process, and the speed-up.
- the same flight again in this process (``--rounds N``, default 3: the first round and N − 1 more):
  decode, then decode + analysis, as a long-running worker that has analysed a flight before does them,
  with the median of those rounds' ratios. The first flight of a process also pays numba's import and
  the kernels' load (about 0.3–0.6 s of CPU, once per process, printed apart below); the decode has no
  such cost (its readers are imported before it is timed). A single decode's CPU varies by up to half
  from run to run on a shared machine, so one round's ratio can be far off; the median of the later
  rounds is the steadier figure.
- the compiled loops' (numba) one-off cost: CPU of importing them in a fresh process with an empty cache
  (compiling every kernel, as on a first run after installing) and with that cache filled (every later
  process). The flight's figures above are with the cache filled; the cold compile is paid once.
- accuracy on the ground truth (per class precision and recall, module level).
- with ``--gimbal-pitch P`` (e.g. −60): the same roof flown obliquely (its oblique plan, in a folder of its
  own, ``--dir`` with ``-pitch60`` appended), the frames' nadir views analysed; up to 600 frames.
- with ``--gps-bias-sigma S`` (e.g. 1.5): the same roof flown without RTK, its positions off by a bias that
  wanders over minutes (``Conditions.gps_bias_sigma_m``; in a folder of its own, ``--dir`` with ``-bias1.5``
  appended), whose frames say they are no RTK fix: ``--positioning auto`` (the default, as ``gongzhi pv
  inspect``) then names the modules by fingerprints and row ends (``analytics/aliases.py``); ``rtk`` and
  ``gnss`` force either naming on any flight.

The frames are rendered once into ``--dir`` (kept for the next run; rendering is not part of the figures: a
run that renders measures in a fresh process, so that the peaks are not the renderer's).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from gongzhi.modules.pv import pipeline
from gongzhi.modules.pv.analytics.geometry import LocalFrame
from gongzhi.modules.pv.analytics.layout import LayoutParams, generate_layout
from gongzhi.modules.pv.analytics.modules import POSITIONING
from gongzhi.modules.pv.analytics.synthetic import Conditions, synthetic_flight
from gongzhi.modules.pv.io import dji_thermal_cli, synthetic_files
from gongzhi.modules.pv.io.plant import read_plant_geojson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dji_frames

WIDTH_M, HEIGHT_M, FRAMES = 250.0, 200.0, 600
ORIGIN = LocalFrame(114.05, 22.55)


def roof() -> list[tuple[float, float]]:
    w, h = WIDTH_M / 2, HEIGHT_M / 2
    return [ORIGIN.to_lonlat(x, y) for x, y in ((-w, -h), (w, -h), (w, h), (-w, h))]


def render(
    folder: Path, seed: int, workers: int, frame_format: str, pitch: float = -90.0, bias_m: float = 0.0
) -> bool:
    """Render the flight into ``folder`` unless it holds it already; whether it rendered."""
    if frame_format == "dji":  # the float TIFF flight, then each frame as a DJI R-JPEG
        tiff = folder.with_name(folder.name.replace("-dji", ""))
        rendered = render(tiff, seed, workers, "tiff", pitch, bias_m)
        if not rendered and _holds(folder, seed, "dji", pitch, bias_m):
            print(f"reusing the {len(pipeline.frame_paths(folder))} frames in {folder}")
            return False
        dji_frames.write_flight(tiff, folder, workers)
        return True
    if _holds(folder, seed, frame_format, pitch, bias_m):
        print(f"reusing the {len(pipeline.frame_paths(folder))} frames in {folder}")
        return False
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    layout = generate_layout(roof(), LayoutParams(), name="bench roof")
    # the overlaps alone set the images' spacing: 600 frames cover the roof (the issue's flight); a plan for
    # whole modules takes 696 (analytics/flightplan.py), and the figures are per frame either way
    flight = synthetic_flight(
        layout, seed=seed, anomalies_per_class=4, gimbal_pitch_deg=pitch, whole_modules=False,
        conditions=Conditions(gps_bias_sigma_m=bias_m),
    )  # fmt: skip
    written = cast(synthetic_files.FrameFormat, frame_format)
    synthetic_files.write_flight_files(flight, folder, written)
    count = min(FRAMES, len(flight))
    for _ in synthetic_files.write_frames(
        flight, folder, range(count), workers=workers, frame_format=written
    ):
        pass
    took = time.perf_counter() - started
    print(f"rendered {len(flight)} frames over {len(layout.modules)} modules in {took:.1f} s")
    assert (folder / "flight.json").is_file()
    return True


def _holds(folder: Path, seed: int, frame_format: str, pitch: float, bias_m: float = 0.0) -> bool:
    """Whether ``folder`` holds this flight, written as ``frame_format``, already."""
    description = synthetic_files.read_flight_description(folder)
    return bool(
        description
        and description.get("seed") == seed
        and description.get("conditions", {}).get("gps_bias_sigma_m", 0.0) == bias_m
        and description.get("frame_format", "tiff") == frame_format
        and description.get("gimbal_pitch_deg", -90.0) == pitch
        and len(pipeline.frame_paths(folder)) == min(FRAMES, description.get("frames", FRAMES))
    )


@contextmanager
def fresh_conversions(frame_format: str) -> Iterator[None]:
    """For DJI R-JPEG frames, an empty ``dji-thermal-cli`` cache for the time of one pass, so that its
    decode converts every frame as a flight's first reading does; nothing for the other formats."""
    if frame_format != "dji":
        yield
        return
    with tempfile.TemporaryDirectory(prefix="bench-dji-cache-") as cache:
        before = os.environ.get(dji_thermal_cli.CACHE_ENV)
        os.environ[dji_thermal_cli.CACHE_ENV] = cache
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(dji_thermal_cli.CACHE_ENV, None)
            else:
                os.environ[dji_thermal_cli.CACHE_ENV] = before


def max_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU time of this process and of its children that have ended (the pools' workers) [s]."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


_IMPORT_KERNELS = (
    "import time; c = time.process_time(); import gongzhi.modules.pv.analytics.kernels; "
    "print(time.process_time() - c)"
)


def jit_cost() -> tuple[float, float] | None:
    """CPU of importing the compiled kernels in a fresh process: with an empty numba cache, then with it
    filled [s]; ``None`` for a version of the code without them."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        times = []
        for _ in range(2):
            run = subprocess.run(
                [sys.executable, "-c", _IMPORT_KERNELS], env=env, capture_output=True, text=True
            )
            if run.returncode:
                return None
            times.append(float(run.stdout.split()[-1]))
    return times[0], times[1]


def accuracy(outcome: pipeline.FlightOutcome, truth: dict[tuple[str, str], float]) -> None:
    found = {(f.module_id, f.anomaly_class) for f in outcome.findings}
    classes = sorted({c for _, c in truth} | {c for _, c in found})
    print(f"{'class':<20} {'planted':>7} {'found':>6} {'precision':>9} {'recall':>7}")
    for c in classes:
        t = {k for k in truth if k[1] == c}
        f = {k for k in found if k[1] == c}
        tp = len(t & f)
        precision = tp / len(f) if f else float("nan")
        recall = tp / len(t) if t else float("nan")
        print(f"{c:<20} {len(t):>7} {len(f):>6} {precision:>9.2f} {recall:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=pipeline.default_workers())
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gongzhi-pv-bench"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="decode and analyse the flight this many times in this process (the first is a fresh process's)",
    )
    parser.add_argument(
        "--one-worker",
        action="store_true",
        help="also time the flight streamed through one process (speed-up)",
    )
    parser.add_argument(
        "--format",
        dest="frame_format",
        choices=synthetic_files.FRAME_FORMATS,
        default="tiff",
        help="how the frames are written (default: float32 °C TIFF, the cheapest to decode)",
    )
    parser.add_argument(
        "--gimbal-pitch",
        type=float,
        default=-90.0,
        help="an oblique flight (e.g. -60): its plan, frames looking ahead, their nadir views analysed",
    )
    parser.add_argument(
        "--gps-bias-sigma",
        type=float,
        default=0.0,
        help="a flight without RTK: positions off by a bias wandering over minutes, of this σ [m]",
    )
    parser.add_argument(
        "--positioning",
        choices=tuple(POSITIONING),
        default="auto",
        help="how the modules are named: from the positions (rtk), by fingerprints and row ends (gnss), or "
        "as the frames' RTK flag says (auto)",
    )
    args = parser.parse_args()
    if args.frame_format == "dji" and (why := dji_frames.missing()):
        raise SystemExit(f"--format dji: {why}")
    if args.frame_format != "tiff":
        args.dir = args.dir.with_name(f"{args.dir.name}-{args.frame_format}")
    if args.gimbal_pitch != -90.0:
        args.dir = args.dir.with_name(f"{args.dir.name}-pitch{-args.gimbal_pitch:g}")
    if args.gps_bias_sigma:
        args.dir = args.dir.with_name(f"{args.dir.name}-bias{args.gps_bias_sigma:g}")
    if render(args.dir, args.seed, args.workers, args.frame_format, args.gimbal_pitch, args.gps_bias_sigma):
        # the peaks (ru_maxrss) of this process and of its children would be the renderer's (its pool's
        # workers hold the synthetic flight: about 430 MB each), and getrusage keeps them for the life of
        # the process: the figures come from a fresh one
        print("measuring in a fresh process, whose peak memory is not the rendering's")
        sys.stdout.flush()
        raise SystemExit(subprocess.run([sys.executable, *sys.argv]).returncode)
    paths = pipeline.frame_paths(args.dir)
    layout = read_plant_geojson(args.dir / "plant.geojson")
    description = synthetic_files.read_flight_description(args.dir) or {}
    irradiance = description.get("conditions", {}).get("irradiance_w_m2")
    camera = description.get("camera")
    print(
        f"{len(paths)} frames ({args.frame_format}), {len(layout.modules)} modules, {args.workers} worker(s)"
    )

    def flight() -> tuple[float, float, float, float, pipeline.FlightOutcome]:
        """Wall and CPU seconds of the decode alone, then of decode + analysis, and the outcome."""
        with fresh_conversions(args.frame_format):
            started, cpu = time.perf_counter(), cpu_s()
            pipeline.decode_flight(paths, workers=args.workers)
            decode_s, decode_cpu = time.perf_counter() - started, cpu_s() - cpu
        with fresh_conversions(args.frame_format):
            started, cpu = time.perf_counter(), cpu_s()
            outcome = pipeline.analyse_flight(
                paths, layout, irradiance_w_m2=irradiance, camera=camera, workers=args.workers,
                positioning=args.positioning,
            )  # fmt: skip
            return decode_s, decode_cpu, time.perf_counter() - started, cpu_s() - cpu, outcome

    decode_s, decode_cpu, full_s, full_cpu, outcome = flight()
    warm = [flight() for _ in range(args.rounds - 1)]

    single_s = None
    if args.one_worker:
        started = time.perf_counter()
        pipeline.analyse_flight(
            paths, layout, irradiance_w_m2=irradiance, camera=camera, workers=1, positioning=args.positioning
        )
        single_s = time.perf_counter() - started

    # the peaks before the cold-compile subprocesses, which are children too but not the flight's
    own, children = max_rss_mb(resource.RUSAGE_SELF), max_rss_mb(resource.RUSAGE_CHILDREN)
    jit = jit_cost()
    overhead = (full_s - decode_s) / decode_s
    print(f"decode alone           {decode_s:7.2f} s  ({decode_s / len(paths) * 1000:.1f} ms/frame)")
    print(f"decode + analysis      {full_s:7.2f} s  ({full_s / len(paths) * 1000:.1f} ms/frame)")
    print(f"analysis overhead      {overhead:7.2f} × decode (target ≤ 1.00)")
    n = len(paths)
    print(
        f"CPU time               decode {decode_cpu / n * 1000:.1f} ms/frame, decode + analysis "
        f"{full_cpu / n * 1000:.1f} ms/frame, overhead {(full_cpu - decode_cpu) / decode_cpu:.2f} × decode"
    )
    for k, (w_decode, w_decode_cpu, w_full, w_full_cpu, again) in enumerate(warm, start=2):
        ratio = (w_full_cpu - w_decode_cpu) / w_decode_cpu
        print(
            f"round {k} (warm)         decode {w_decode_cpu / n * 1000:.1f} ms/frame, decode + analysis "
            f"{w_full_cpu / n * 1000:.1f} ms/frame of CPU, overhead {ratio:.2f} × decode "
            f"(wall {(w_full - w_decode) / w_decode:.2f} ×)"
        )
        if again.findings != outcome.findings:
            raise SystemExit(f"round {k} of the flight gave other findings")
    if warm:
        ratios = sorted((w[3] - w[1]) / w[1] for w in warm)
        print(f"warm rounds            overhead on CPU time, median {statistics.median(ratios):.2f} × decode "
              f"(of {len(ratios)}: {', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip
    print(f"whole flight           {full_s:7.2f} s  (target ≤ 60 s)")
    if jit is not None:
        print(
            f"compiled loops         import with an empty cache {jit[0]:.2f} s CPU (once), with it filled "
            f"{jit[1]:.2f} s per process ({jit[1] / n * 1000:.1f} ms/frame of this flight in one process)"
        )
    if single_s is not None:
        print(f"one process            {single_s:7.2f} s  (speed-up ×{single_s / full_s:.2f})")
    print(
        f"peak RSS               main {own:.0f} MB, largest worker {children:.0f} MB, "
        f"upper bound {own + args.workers * children:.0f} MB (target ≤ 1024 MB)"
    )
    summary = outcome.summary()
    print(
        f"positions              {summary['positions']}, modules named without RTK in "
        f"{summary['frames_named_without_rtk']} frames ({args.positioning})"
    )
    print(
        f"modules seen {summary['modules_seen']} of {summary['modules']}, findings {summary['findings']}: "
        f"{dict(Counter(f.anomaly_class for f in outcome.findings))}"
    )
    accuracy(outcome, synthetic_files.read_truth(args.dir))


if __name__ == "__main__":
    main()
