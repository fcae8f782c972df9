"""Reply latency of the answered messages of the 2020 Teddy Cup (附件4): the demo's realistic baseline.

    .venv/bin/python scripts/intake/reply_latency.py [--data ../shared/data/teddy2020]

Prints the summary (median ≈ 11.2 days) and the 5 % quantile table kept in
``gongzhi.modules.intake.analytics.latency.DEMO_QUANTILES_DAYS``.
"""

from __future__ import annotations

import argparse
import csv
from datetime import datetime
from pathlib import Path

import numpy as np

from gongzhi.modules.intake.analytics import latency

ROOT = Path(__file__).resolve().parents[2]


def parse(raw: str) -> datetime | None:
    raw = raw.strip()
    for fmt in (
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d",
        "%Y-%m-%d",
    ):
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/teddy2020")
    args = ap.parse_args()
    days = []
    with (args.data / "messages_with_replies.csv").open(encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            asked, answered = parse(r["留言时间"]), parse(r["答复时间"])
            if asked and answered and answered >= asked:
                days.append((answered - asked).total_seconds() / 86400)
    print(f"answered messages with valid dates: {len(days)}")
    for k, v in latency.summary(days).items():
        print(f"  {k}: {v}")
    q = np.percentile(days, np.arange(0, 101, 5))
    print("DEMO_QUANTILES_DAYS =", tuple(round(float(x), 1) for x in q))
    tail = [(p / 100, round(float(np.percentile(days, p)), 1)) for p in (96, 97, 98, 99, 99.5)]
    print("DEMO_TAIL =", tuple(tail), f"matches: {tuple(tail) == latency.DEMO_TAIL}")
    shipped = np.array(latency.DEMO_QUANTILES_DAYS)
    print(f"shipped table matches: {np.allclose(shipped, np.round(q, 1))}")


if __name__ == "__main__":
    main()
