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
# The tail between p95 and p100 in finer steps (p96, p97, p98, p99, p99.5), so interpolation does not stretch
# the rare very late replies over the whole top 5 %: p99 stays ≈ 167 days, not ≈ 940.
DEMO_TAIL = ((0.96, 75.4), (0.97, 88.7), (0.98, 110.5), (0.99, 167.4), (0.995, 214.5))
_Q = np.array(sorted([*((i / 20, d) for i, d in enumerate(DEMO_QUANTILES_DAYS)), *DEMO_TAIL]))


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


def demo_days(u: float) -> float:
    """The reply latency [days] at quantile ``u`` [0–1] of the demo table (piecewise-linear inverse CDF)."""
    return float(np.interp(u, _Q[:, 0], _Q[:, 1]))


def sample_demo(rng: np.random.Generator, n: int) -> list[float]:
    """Latencies [days] drawn from the demo quantile table."""
    return [float(x) for x in np.interp(rng.random(n), _Q[:, 0], _Q[:, 1])]
