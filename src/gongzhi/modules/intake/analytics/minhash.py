"""MinHash signatures of character shingles and a banded LSH index for near-duplicate lookup.

MinHash estimates the Jaccard similarity of two shingle sets as the share of equal signature slots
(Broder, "On the resemblance and containment of documents", 1997). Banding the signature into ``b`` bands of
``r`` rows makes two documents candidates when any band agrees, an S-curve with threshold ≈ (1/b)^(1/r)
(Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*, ch. 3.4). Hashes are multiply-shift on 64-bit
words (Dietzfelbinger et al., 1997) over a polynomial hash of the shingle's code points, so signatures are
stable across processes and can be stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gongzhi.modules.intake.analytics.text import compact

NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
SHINGLE = 3
_MASK32 = np.uint64(0xFFFFFFFF)
_rng = np.random.default_rng(20201128)
_A = (_rng.integers(1, 2**63 - 1, NUM_PERM, dtype=np.uint64) | np.uint64(1)).reshape(-1, 1)
_B = _rng.integers(0, 2**63 - 1, NUM_PERM, dtype=np.uint64).reshape(-1, 1)
_EMPTY = np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
Signature = npt.NDArray[np.uint32]


def shingle_hashes(text: str, k: int = SHINGLE) -> npt.NDArray[np.uint64]:
    """64-bit hashes of the distinct character ``k``-shingles of the compact text (whole text if shorter)."""
    s = compact(text)
    if not s:
        return np.zeros(0, dtype=np.uint64)
    cps = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cps) < k:
        cps = np.concatenate([cps, np.zeros(k - len(cps), dtype=np.uint64)])
    h = np.zeros(len(cps) - k + 1, dtype=np.uint64)
    for j in range(k):
        h = h * np.uint64(1_000_003) + cps[j : len(cps) - k + 1 + j]
    return np.unique(h)


def signature(text: str) -> Signature:
    """The MinHash signature [``NUM_PERM`` × uint32] of ``text``'s shingles."""
    h = shingle_hashes(text)
    if h.size == 0:
        return _EMPTY.copy()
    with np.errstate(over="ignore"):
        mixed = (_A * h[np.newaxis, :] + _B) >> np.uint64(32)
    sig: Signature = (mixed & _MASK32).min(axis=1).astype(np.uint32)
    return sig


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity [0–1]: the share of equal slots."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def exact_jaccard(a: str, b: str, k: int = SHINGLE) -> float:
    sa, sb = set(shingle_hashes(a, k).tolist()), set(shingle_hashes(b, k).tolist())
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def to_bytes(sig: Signature) -> bytes:
    return sig.astype("<u4").tobytes()


def from_bytes(raw: bytes) -> Signature:
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32)


def _band_keys(sig: Signature) -> list[bytes]:
    raw = sig.astype("<u4").tobytes()
    step = ROWS * 4
    return [bytes([i]) + raw[i * step : (i + 1) * step] for i in range(BANDS)]


@dataclass
class LshIndex:
    """Banded LSH over MinHash signatures: add documents by id, query candidates with estimated similarity."""

    buckets: dict[bytes, list[int]] = field(default_factory=lambda: defaultdict(list))
    signatures: dict[int, Signature] = field(default_factory=dict)

    def add(self, doc_id: int, sig: Signature) -> None:
        if doc_id in self.signatures:
            return
        self.signatures[doc_id] = sig
        for key in _band_keys(sig):
            self.buckets[key].append(doc_id)

    def add_many(self, items: Iterable[tuple[int, Signature]]) -> None:
        for doc_id, sig in items:
            self.add(doc_id, sig)

    def __len__(self) -> int:
        return len(self.signatures)

    def candidates(self, sig: Signature) -> set[int]:
        found: set[int] = set()
        for key in _band_keys(sig):
            found.update(self.buckets.get(key, ()))
        return found

    def query(self, sig: Signature, threshold: float, exclude: int | None = None) -> list[tuple[int, float]]:
        """Ids whose estimated similarity is at least ``threshold``, most similar first."""
        hits = []
        for doc_id in self.candidates(sig):
            if doc_id == exclude:
                continue
            sim = similarity(sig, self.signatures[doc_id])
            if sim >= threshold:
                hits.append((doc_id, sim))
        return sorted(hits, key=lambda t: (-t[1], t[0]))


def near_duplicate_groups(sigs: Sequence[Signature], threshold: float) -> list[list[int]]:
    """Groups (by position, size ≥ 2) of documents linked by estimated similarity ≥ ``threshold``."""
    index = LshIndex()
    parent = list(range(len(sigs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, sig in enumerate(sigs):
        for j, _ in index.query(sig, threshold):
            parent[find(i)] = find(j)
        index.add(i, sig)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(sigs)):
        groups[find(i)].append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])
