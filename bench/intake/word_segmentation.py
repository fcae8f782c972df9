"""What jieba word segmentation would add to routing one message, against the router's whole classification.

    .venv/bin/python bench/intake/word_segmentation.py [--data ../shared/data/teddy2020] [--rounds 5]

Word n-grams from a segmenter are a usual feature for Chinese text; the routing budget is 0.2 ms per message.
This times, on the real board messages (evaluation only, read in place), CPU per message of

* baseline: ``Router.predict`` of a keyword-seeded router with the messages' vocabulary (the intake path);
* ``jieba.lcut`` of the subject alone, and of subject + the first 400 characters of the detail (the text the
  router reads), with jieba's dictionary loaded beforehand.

jieba is not a dependency of gongzhi: the benchmark says so and stops when it is not installed.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gongzhi.modules.intake.analytics import classifier as clf
from gongzhi.modules.intake.analytics.text import clean

ROOT = Path(__file__).resolve().parents[2]
DATA = next(
    (b / "shared/data/teddy2020" for b in (ROOT.parent, ROOT.parent.parent) if (b / "shared/data").is_dir()),
    ROOT.parent / "shared/data/teddy2020",
)


def cpu_per_call(fn: Callable[[str, str], object], docs: list[tuple[str, str]], rounds: int) -> float:
    """Mean CPU time of one call [s]."""
    t0 = time.process_time()
    for _ in range(rounds):
        for s, t in docs:
            fn(s, t)
    return (time.process_time() - t0) / (rounds * len(docs))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    path = args.data / "messages_labelled_train.csv"
    if not path.exists():
        sys.exit(f"no teddy2020 data in {args.data}: pass --data (see shared/data/teddy2020)")
    try:
        import jieba  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("jieba is not installed (it is not a dependency of gongzhi); pip install jieba to run this")
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    docs = [(clean(r["留言主题"]), clean(r["留言详情"])) for r in rows]
    seeds = [clf.CategorySeed(c, c, ()) for c in sorted({r["一级分类"] for r in rows})]
    router = clf.train(seeds, [], featurizer=clf.build_featurizer(seeds, docs))
    base = cpu_per_call(router.predict, docs, args.rounds)
    subject = cpu_per_call(lambda s, t: jieba.lcut(s), docs, args.rounds)
    body = cpu_per_call(lambda s, t: jieba.lcut(f"{s} {t}"[: clf.MAX_CHARS]), docs, args.rounds)
    print(f"{len(docs)} messages, {args.rounds} rounds, CPU per message, one core")
    print(f"baseline Router.predict:             {base * 1e3:.3f} ms")
    print(f"jieba.lcut subject:                  {subject * 1e3:.3f} ms  ({subject / base:.2f}× baseline)")
    print(f"jieba.lcut subject + detail[:400]:   {body * 1e3:.3f} ms  ({body / base:.2f}× baseline)")


if __name__ == "__main__":
    main()
