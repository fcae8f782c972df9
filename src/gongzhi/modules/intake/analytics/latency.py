"""Distributions of reply or resolution latency [days]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WITHIN_DAYS = (3, 7, 15, 30, 60)
# Quantiles (0, 5, …, 100 %) of the reply latency [days] measured on the 2,815 answered messages of the 2020
# Teddy Cup 附件4 (2,816 with valid dates; median 11.2 days) by scripts/intake/reply_latency.py: figures,
# not the data, so a demo can
# simulate realistic handling times.
DEMO_QUANTILES_DAYS = (
    0.0, 1.0, 1.9, 2.9, 3.8, 4.8, 5.8, 7.0, 8.0, 9.7, 11.2,
    13.0, 14.6, 16.7, 19.1, 22.3, 26.0, 32.0, 41.0, 67.4, 1160.4,
)  # fmt: skip


def summary(days: Sequence[float]) -> dict[str, float | None]:
    """Median, quartiles, p90, p99 [days] and the share answered within 3/7/15/30/60 days [0–1]."""
    if len(days) == 0:
        return {"n": 0.0, "median": None, "p25": None, "p75": None, "p90": None, "p99": None}
    a = np.asarray(days, dtype=float)
    out: dict[str, float | None] = {"n": float(len(a))}
    for name, q in (("median", 50), ("p25", 25), ("p75", 75), ("p90", 90), ("p99", 99)):
        out[name] = round(float(np.percentile(a, q)), 1)
    for d in WITHIN_DAYS:
        out[f"within_{d}d"] = round(float(np.mean(a <= d)), 3)
    return out


def sample_demo(rng: np.random.Generator, n: int) -> list[float]:
    """Latencies [days] drawn from the demo quantile table (piecewise-linear inverse CDF)."""
    q = np.linspace(0, 1, len(DEMO_QUANTILES_DAYS))
    return [float(x) for x in np.interp(rng.random(n), q, DEMO_QUANTILES_DAYS)]
