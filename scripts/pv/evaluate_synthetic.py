"""Per-class precision and recall of the PV module analysis on synthetic flights (evaluation only).

    .venv/bin/python scripts/pv/evaluate_synthetic.py [--seeds 0 1 … 9] [--width 80 --height 50]
        [--per-class 4] [--no-reflections] [--no-layout] [--no-refine] [--gps-sigma 0.1] [--yaw-sigma 0.2]
        [--gimbal-pitch -60] [--altitude 32] [--learned [--levels-per-k 5] [--min-confidence 0.8]]
        [--delta-t] [--gps-bias-sigma 1.5 [--gps-bias-tau 600]] [--positioning auto|rtk|gnss]

Each seed builds a plant (``generate_layout`` over a width × height roof), plants ``--per-class`` modules of
every anomaly class (whole strings for the string class) and renders the flight of the default plan (M3T,
IEC screening GSD, 50/50 % overlap); the analysis then sees only the frames and their metadata (GPS and
yaw with errors, as a real log) and the layout. Prints counts, precision and recall per class summed over
the seeds, the confusions, and the time per frame of rendering and of the analysis, measured in the same run
(CPU time of this process, which the load of a shared machine does not inflate, and wall time). The issue's
target is precision and recall ≥ 0.95 for the module-level classes.

``--no-layout`` runs the photos-only analysis (``LayoutFreeAccumulator``) instead and scores each finding on
the true module nearest to its position; there a string is three or more warm modules side by side, and the
module's low edge is assumed to face south. ``--no-refine`` keeps each frame's pose from its metadata (no
matching of the module grid): what the analysis gives when positions and yaw are as good as logged (e.g. RTK,
``--gps-sigma 0.02``). ``--gimbal-pitch P`` flies the oblique plan of pitch P instead, its frames looking
ahead (``analytics/oblique.py``). ``--learned`` lets the shipped crop network overrule the rules where it is
confident (``modules.ism_classifier``), its crops on ``--levels-per-k`` when it reads an intensity channel.
``--gps-bias-sigma S`` adds a GPS bias that wanders over minutes, as a receiver without RTK has; its frames
then say their position is no RTK fix, and ``--positioning auto`` (the default, as ``gongzhi pv inspect``)
names their modules by fingerprints and row ends (``analytics/aliases.py``); ``rtk`` names them from the
positions as they are, ``gnss`` always by fingerprints. ``--delta-t`` also prints, per class, the measured
ΔT of the rightly named findings over the planted one, their spot in the frames' pixels
(``details["spot_px"]``) and how many say their ΔT is a lower bound.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from gongzhi.modules.pv.analytics.anomalies import ANOMALIES
from gongzhi.modules.pv.analytics.evaluation import ClassScore, evaluate
from gongzhi.modules.pv.analytics.geometry import LocalFrame, unrotate
from gongzhi.modules.pv.analytics.layout import PlantLayout, generate_layout
from gongzhi.modules.pv.analytics.modules import (
    POSITIONING,
    InspectionAccumulator,
    InspectionResult,
    LayoutFreeAccumulator,
    ism_classifier,
)
from gongzhi.modules.pv.analytics.synthetic import Conditions, synthetic_flight


def roof(width_m: float, height_m: float) -> list[tuple[float, float]]:
    """A width × height rectangle in Shenzhen, as (lon, lat)."""
    origin = LocalFrame(114.05, 22.55)
    w, h = width_m / 2, height_m / 2
    return [origin.to_lonlat(x, y) for x, y in unrotate([(-w, -h), (w, -h), (w, h), (-w, h)], 90.0)]


def to_layout_ids(result: InspectionResult, layout: PlantLayout) -> InspectionResult:
    """Name each photos-only module after the true module nearest to it."""
    centres = layout.centres_xy()

    def nearest(lon: float, lat: float) -> str:
        x, y = layout.origin.to_xy(lon, lat)
        return layout.modules[int(np.argmin(np.hypot(centres[:, 0] - x, centres[:, 1] - y)))].id

    modules = {
        nearest(m.lon, m.lat): dataclasses.replace(m, module_id=nearest(m.lon, m.lat)) for m in result.modules
    }
    findings = {}
    for f in result.findings:
        findings.setdefault(nearest(f.lon, f.lat), dataclasses.replace(f, module_id=nearest(f.lon, f.lat)))
    return dataclasses.replace(result, modules=tuple(modules.values()), findings=tuple(findings.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--width", type=float, default=80.0)
    parser.add_argument("--height", type=float, default=50.0)
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--no-reflections", action="store_true")
    parser.add_argument("--no-layout", action="store_true")
    parser.add_argument("--no-refine", action="store_true", help="use the logged poses as they are")
    parser.add_argument("--gps-sigma", type=float, default=Conditions().gps_sigma_m, help="GPS noise [m]")
    parser.add_argument("--yaw-sigma", type=float, default=Conditions().yaw_sigma_deg, help="yaw noise [°]")
    parser.add_argument(
        "--gps-bias-sigma", type=float, default=0.0, help="a slowly wandering GPS bias (no RTK) [m]"
    )
    parser.add_argument(
        "--positioning",
        choices=tuple(POSITIONING),
        default="auto",
        help="name the modules from the positions (rtk), by fingerprints and row ends (gnss, aliases.py), "
        "or as the frames' RTK flag says (auto, the default)",
    )
    parser.add_argument(
        "--gps-bias-tau", type=float, default=Conditions().gps_bias_tau_s, help="its correlation time [s]"
    )
    parser.add_argument(
        "--gimbal-pitch", type=float, default=-90.0, help="an oblique flight (e.g. -60) on its oblique plan"
    )
    parser.add_argument(
        "--sun",
        type=float,
        nargs=2,
        metavar=("AZIMUTH", "ELEVATION"),
        default=(Conditions().sun_azimuth_deg, Conditions().sun_elevation_deg),
        help="the sun's azimuth (clockwise from north) and elevation [°], which place its reflections",
    )
    parser.add_argument("--altitude", type=float, help="height above the modules [m]; default the plan's")
    parser.add_argument(
        "--learned",
        action="store_true",
        help="the rules overruled by the shipped crop network where it is confident (ism_classifier)",
    )
    parser.add_argument(
        "--levels-per-k", type=float, help="with --learned: the crops' fixed scale [8-bit levels / K]"
    )
    parser.add_argument("--min-confidence", type=float, default=0.8, help="with --learned")
    parser.add_argument("--delta-t", action="store_true", help="measured over planted ΔT and spot, per class")
    args = parser.parse_args()
    classifier = ism_classifier(args.min_confidence, args.levels_per_k) if args.learned else None

    layout = generate_layout(roof(args.width, args.height))
    conditions = Conditions(
        gps_sigma_m=args.gps_sigma,
        gps_bias_sigma_m=args.gps_bias_sigma,
        gps_bias_tau_s=args.gps_bias_tau,
        yaw_sigma_deg=args.yaw_sigma,
        sun_azimuth_deg=args.sun[0],
        sun_elevation_deg=args.sun[1],
    )
    if args.no_reflections:
        conditions = dataclasses.replace(conditions, reflection_k=0.0)
    totals = {a: [0, 0, 0] for a in ANOMALIES}
    confusions: dict[tuple[str, str], int] = {}
    render_s = analyse_s = render_cpu = analyse_cpu = 0.0
    frames = rejected = 0
    per_seed: list[int] = []
    measured: dict[str, list[tuple[float, float | None, bool]]] = {}
    for seed in args.seeds:
        flight = synthetic_flight(
            layout,
            seed=seed,
            anomalies_per_class=args.per_class,
            conditions=conditions,
            gimbal_pitch_deg=args.gimbal_pitch,
            altitude_m=args.altitude,
        )
        acc = (
            LayoutFreeAccumulator(classifier=classifier)
            if args.no_layout
            else InspectionAccumulator(
                layout,
                refine=not args.no_refine,
                classifier=classifier,
                without_rtk=POSITIONING[args.positioning],
            )
        )
        for i in range(len(flight)):
            t0, c0 = time.perf_counter(), time.process_time()
            frame = flight.frame(i)
            t1, c1 = time.perf_counter(), time.process_time()
            acc.add(frame)
            render_s, render_cpu = render_s + t1 - t0, render_cpu + c1 - c0
            analyse_s, analyse_cpu = (
                analyse_s + time.perf_counter() - t1,
                analyse_cpu + time.process_time() - c1,
            )
        frames += len(flight)
        t1, c1 = time.perf_counter(), time.process_time()
        result = acc.result()
        analyse_s, analyse_cpu = analyse_s + time.perf_counter() - t1, analyse_cpu + time.process_time() - c1
        if args.no_layout:
            result = to_layout_ids(result, layout)
        rejected += result.reflections_rejected
        planted = {a.module_id: a for a in flight.anomalies}
        for f in result.findings:
            a = planted.get(f.module_id)
            if a is not None and a.anomaly is f.anomaly_class and a.delta_t_k:
                measured.setdefault(a.anomaly.value, []).append(
                    (
                        f.delta_t_k / a.delta_t_k,
                        f.details.get("spot_px"),
                        bool(f.details.get("delta_t_lower_bound")),
                    )
                )
        ev = evaluate(result, flight.anomalies)
        per_seed.append(sum(c.false_positives + c.false_negatives for c in ev.classes))
        for c in ev.classes:
            t = totals[c.anomaly]
            t[0] += c.true_positives
            t[1] += c.false_positives
            t[2] += c.false_negatives
        for k, v in ev.confusions.items():
            confusions[k] = confusions.get(k, 0) + v

    size = f"{args.width:.0f} m × {args.height:.0f} m"
    print(f"plant {size}, {len(layout.modules)} modules; seeds {args.seeds}; {frames} frames")
    print(f"{'class':<20} {'planted':>7} {'TP':>5} {'FP':>5} {'FN':>5} {'precision':>9} {'recall':>7}")
    ok = True
    for a in ANOMALIES:
        s = ClassScore(a, *totals[a])
        ok &= s.precision >= 0.95 and s.recall >= 0.95
        print(f"{a.value:<20} {s.support:>7} {s.true_positives:>5} {s.false_positives:>5} "
              f"{s.false_negatives:>5} {s.precision:>9.3f} {s.recall:>7.3f}")  # fmt: skip
    tp = sum(t[0] for t in totals.values())
    fp = sum(t[1] for t in totals.values())
    fn = sum(t[2] for t in totals.values())
    print(f"{'all classes':<20} {tp + fn:>7} {tp:>5} {fp:>5} {fn:>5} {tp / max(tp + fp, 1):>9.3f} "
          f"{tp / max(tp + fn, 1):>7.3f}")  # fmt: skip
    print(f"false + missed findings per seed (a wrong class counts twice): {per_seed}")
    print(f"sun reflections rejected: {rejected}")
    if confusions:
        print("confusions (planted → reported: modules):")
        for (want, got), n in sorted(confusions.items(), key=lambda kv: -kv[1]):
            print(f"  {want} → {got}: {n}")
    if args.delta_t:
        head = ("class", "found", "measured/planted ΔT", "spot px² (median)", "lower bound")
        print(f"{head[0]:<20} {head[1]:>5} {head[2]:>20} {head[3]:>18} {head[4]:>11}")
        for name, rows in sorted(measured.items()):
            ratios = np.array([r for r, _, _ in rows])
            spots = [s for _, s, _ in rows if s is not None]
            spot = f"{np.median(spots):.1f}" if spots else "–"
            spread = f"{np.median(ratios):>9.2f} ({ratios.min():.2f}–{ratios.max():.2f})"
            print(f"{name:<20} {len(rows):>5} {spread} {spot:>18} {sum(b for _, _, b in rows):>11}")
    for label, r, a in (("CPU", render_cpu, analyse_cpu), ("wall", render_s, analyse_s)):
        per_frame = f"render {1000 * r / frames:.0f} ms, analysis {1000 * a / frames:.0f} ms"
        print(f"{label} time per frame: {per_frame} (ratio analysis/render {a / max(r, 1e-9):.2f})")
    print("target ≥ 0.95 precision and recall on every class:", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
