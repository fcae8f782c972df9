"""Training cost per crop of the PV crop classifier's network variants (needs the ``train`` extra).

    .venv/bin/python bench/pv/classifier_train_speed.py [--steps 12]

CPU time of one AdamW training step (augmentation, forward, backward, update) per crop on one torch
thread, median over ``--steps`` steps after two warm-up steps, for the recipes of
``scripts/pv/train_ism.py``. Baseline, measured in the same run: the plain stack (16-32-64-128) in the
default contiguous layout at batch 128; the ratio column is each case over it. CPU time is reported since
wall time on a shared machine measures the other jobs. The last two cases are the 2026-11-30 recipe
(residual, widths 32-64-128-256, the intensity channel) in float32 and under bfloat16 autocast
(``--set bf16=true``), which this machine's CPU runs natively (AVX-512 BF16).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pv" / "train_ism.py"


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("train_ism", SCRIPT)
    if spec is None or spec.loader is None:
        sys.exit(f"cannot load {SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_ism"] = module
    spec.loader.exec_module(module)
    return module


def step_ms(t: Any, recipe: Any, batch: int, channels_last: bool, steps: int) -> float:
    import torch

    net = t.build_network(recipe)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=layout)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    channels = 2 if recipe.intensity_channel else 1
    x, y = torch.randn(batch, channels, 40, 24), torch.randint(0, 12, (batch,))
    times = []
    for _ in range(steps + 2):
        cpu = time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=recipe.bf16):
            logits = net(t.augment(x, 2).contiguous(memory_format=layout))
            loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.process_time() - cpu)
    return 1000 * statistics.median(times[2:]) / batch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=12)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is needed: pip install -e '.[train]' (CPU wheel, dev only)")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    t = load_script()
    plain = t.Recipe()
    residual = replace(plain, residual=True)
    shipped = replace(residual, widths=(32, 64, 128, 256), intensity_channel=True)
    cases = [
        ("plain, batch 128 (baseline)", plain, 128, False),
        ("plain, batch 256", plain, 256, False),
        ("plain, channels-last", plain, 128, True),
        ("residual", residual, 128, False),
        ("residual, channels-last", residual, 128, True),
        ("residual 24-48-96-192, channels-last", replace(residual, widths=(24, 48, 96, 192)), 128, True),
        ("residual 32-64-128-256 + intensity, c-last", shipped, 128, True),
        ("the same, bfloat16 autocast", replace(shipped, bf16=True), 128, True),
    ]
    print(f"torch {torch.__version__}, 1 thread, median of {args.steps} steps, CPU time")
    print(f"{'case':44s} {'ms/crop':>8s} {'× base':>7s}")
    base = None
    for label, recipe, batch, channels_last in cases:
        ms = step_ms(t, recipe, batch, channels_last, args.steps)
        base = base or ms
        print(f"{label:44s} {ms:8.3f} {ms / base:7.2f}", flush=True)


if __name__ == "__main__":
    main()
