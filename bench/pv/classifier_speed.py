"""Speed of the shipped PV crop classifier (numpy forward pass) on one thread.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/pv/classifier_speed.py [--n 2000] [--model OTHER.npz]

Milliseconds per 40×24 crop for a batch of N random crops and for single crops, with the model's flip
averaging (four views, as shipped) and on one view. Baseline, measured in the same run: the matrix
products alone (random im2col matrices of the same shapes as the network's layers), so the ratio is the
cost of the whole pipeline (standardisation, im2col, pooling, softmax) over its arithmetic core.
CPU time (``time.process_time``) is reported next to wall time, since a loaded machine inflates wall time.
``--model`` times another model file (e.g. an earlier version, ``git show REV:src/gongzhi/modules/pv/models/
ism_cnn.npz > old.npz``) after the shipped one, in the same run, and prints the ratio of their batch times.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: one thread, as documented

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gongzhi.modules.pv.analytics.classifier import (
    INPUT_SHAPE,
    CropClassifier,
    default_model,
    model_from_arrays,
    parameter_count,
    read_model_arrays,
)


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` calls."""
    fn()
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def gemm_only(model: CropClassifier, n_images: int) -> Callable[[], None]:
    """The network's matrix products (convolutions and 1×1 shortcuts) for ``n_images`` single views."""
    rng = np.random.default_rng(0)
    h, w = INPUT_SHAPE
    mats = []
    for net in model.networks:
        hh, ww = h, w
        for layer in net.convs:
            k = layer.weight.shape[0]
            mats.append((rng.standard_normal((n_images * hh * ww, k), dtype=np.float32), layer.weight))
            if layer.skip_weight is not None:
                k = layer.skip_weight.shape[0]
                cols = rng.standard_normal((n_images * hh * ww, k), dtype=np.float32)
                mats.append((cols, layer.skip_weight))
            if layer.pool:
                hh, ww = hh // 2, ww // 2

    def run() -> None:
        for cols, weight in mats:
            cols @ weight

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="batch size")
    ap.add_argument("--model", type=Path, help="another model file to time after the shipped one")
    args = ap.parse_args()
    crops = np.random.default_rng(1).integers(0, 256, (args.n, *INPUT_SHAPE), dtype=np.uint8)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, batch of {args.n} crops")
    shipped = measure(default_model(), crops, "shipped model")
    if args.model is not None:
        # a --jobs-dir file's bookkeeping keys are not the model's; model_from_arrays reads only its own
        other = measure(model_from_arrays(read_model_arrays(args.model.read_bytes())), crops, str(args.model))
        print(f"shipped / {args.model}: batch CPU a crop {shipped[0] / other[0]:.2f} × with flip averaging, "
              f"{shipped[1] / other[1]:.2f} × on one view")  # fmt: skip


def measure(model: CropClassifier, crops: np.ndarray, name: str) -> tuple[float, float]:
    """Print the table for ``model``; its batch CPU seconds with flip averaging and on one view."""
    n = len(crops)
    single = dataclasses.replace(model, flip_tta=False)
    print(f"{name}: {parameter_count(model):,} weights")
    print(f"{'case':34s} {'ms/crop CPU':>11s} {'ms/crop wall':>12s} {'× GEMM':>7s}")
    base_wall, base_cpu = timed(gemm_only(model, n))
    base = "baseline: matrix products, 1 view"
    print(f"{base:34s} {1e3 * base_cpu / n:11.3f} {1e3 * base_wall / n:12.3f}")
    batch = {}
    for label, clf, views in (("batch, one view", single, 1), ("batch, flip averaging", model, 4)):
        wall, cpu = timed(lambda clf=clf: clf.predict_proba(crops))
        batch[views] = cpu
        ratio = cpu / (views * base_cpu)
        print(f"{label:34s} {1e3 * cpu / n:11.3f} {1e3 * wall / n:12.3f} {ratio:7.2f}")
    few = crops[:50]
    for label, clf in (
        ("one crop at a time, one view", single),
        ("one crop at a time, flip averaging", model),
    ):
        wall, cpu = timed(lambda clf=clf: [clf.predict_proba(c[None]) for c in few], repeat=2)
        print(f"{label:34s} {1e3 * cpu / len(few):11.3f} {1e3 * wall / len(few):12.3f}")
    return batch[4], batch[1]


if __name__ == "__main__":
    main()
