"""How many near-copies in the real board messages (附件3) the intake detector finds (evaluation only).

    .venv/bin/python scripts/intake/measure_duplicates.py [--data ../shared/data/teddy2020]

Ground truth: exact character 3-gram Jaccard of the message details, all pairs (sparse products), grouped by
union-find, as measured in domain/civic.md (≥ 0.9: 194 groups, 429 rows). Detector: the shipped MinHash
signatures (64 permutations) and banded LSH index, fed the messages one by one in posting order as intake
does, linking a message to every earlier one whose estimated similarity reaches the threshold.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

from gongzhi.modules.intake.analytics import minhash
from gongzhi.modules.intake.analytics.text import clean

ROOT = Path(__file__).resolve().parents[2]


def union_groups(n: int, pairs: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def exact_pairs(texts: list[str], thresholds: list[float]) -> dict[float, set[tuple[int, int]]]:
    sets = [np.unique(minhash.shingle_hashes(t)) for t in texts]
    vocab = {h: k for k, h in enumerate(np.unique(np.concatenate(sets)).tolist())}
    rows = np.concatenate([np.full(len(s), i) for i, s in enumerate(sets)])
    cols = np.array([vocab[h] for s in sets for h in s.tolist()])
    x = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), len(vocab)))
    inter = (x @ x.T).toarray()
    size = np.array([len(s) for s in sets], dtype=np.float32)
    jac = inter / np.maximum(size[:, None] + size[None, :] - inter, 1)
    np.fill_diagonal(jac, 0)
    out = {}
    for t in thresholds:
        i, j = np.nonzero(np.triu(jac >= t, k=1))
        out[t] = set(zip(i.tolist(), j.tolist(), strict=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/teddy2020")
    args = ap.parse_args()
    with (args.data / "messages_with_votes.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: r["留言时间"])
    texts = [clean(r["留言详情"]) for r in rows]
    n = len(texts)
    thresholds = [0.9, 0.8, 0.5]
    t0 = time.perf_counter()
    truth = exact_pairs(texts, thresholds)
    print(f"{n} messages; exact all-pairs Jaccard in {time.perf_counter() - t0:.0f} s")

    t0 = time.process_time()
    sigs = [minhash.signature(t) for t in texts]
    index = minhash.LshIndex()
    found: dict[float, set[tuple[int, int]]] = {t: set() for t in thresholds}
    for i, sig in enumerate(sigs):
        for j, sim in index.query(sig, min(thresholds)):
            for t in thresholds:
                if sim >= t:
                    found[t].add((j, i))
        index.add(i, sig)
    cpu = time.process_time() - t0
    print(f"detector: {cpu / n * 1e3:.2f} ms CPU per message (signature + lookup + insert)\n")
    print(
        "Jaccard ≥ | exact groups / rows | detector groups / rows | pair recall "
        "| pair precision (exact J ≥ t−0.1)"
    )
    for t in thresholds:
        exact_g = union_groups(n, sorted(truth[t]))
        det_g = union_groups(n, sorted(found[t]))
        hit = len(truth[t] & found[t]) / max(len(truth[t]), 1)
        near = {p for p in found[t] if minhash.exact_jaccard(texts[p[0]], texts[p[1]]) >= t - 0.1}
        prec = len(near) / max(len(found[t]), 1)
        print(
            f"{t:>9} | {len(exact_g):>4} / {sum(map(len, exact_g)):>4} ({sum(map(len, exact_g)) / n:.1%}) "
            f"| {len(det_g):>4} / {sum(map(len, det_g)):>4} ({sum(map(len, det_g)) / n:.1%}) "
            f"| {hit:.1%} | {prec:.1%}"
        )
    copies = {j for _, j in found[0.9]}
    print(
        f"\nmessages flagged at intake as a near-copy (≥ 0.9) of an earlier one: {len(copies)} "
        f"({len(copies) / n:.1%})"
    )


if __name__ == "__main__":
    main()
