"""Duplicate-system detection (重复建设): which two systems look like the same thing built twice.

Three signals, as portfolio rationalisation uses them: the name, the description and functions, and the
shared information items (stronger evidence than similar prose). Names and texts are stripped of
jurisdiction and department names first, so 龙游县XX系统 and 拱墅区XX系统 compare as XX系统. Text
similarity is the cosine of character 2–3-gram TF-IDF vectors (sublinear tf, smoothed idf), items are
compared by the Ochiai coefficient of their normalised names. The three are combined as a weighted
mean over the signals both systems carry, so a system without items is not penalised. All pairs are
scored at once by one sparse product of the weighted, concatenated vectors, in row blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy import sparse

from gongzhi.modules.catalog.analytics.text import (
    PUNCT,
    names_pattern,
    normalise_item,
    normalise_name,
    remove_all,
)

Matrix: TypeAlias = Any  # scipy.sparse.csr_matrix (scipy ships no type information)
MIN_DOCS_FOR_MAX_DF = 50


@dataclass(frozen=True)
class System:
    """What the detector compares of one application (or data resource)."""

    key: str
    name: str
    description: str = ""
    functions: str = ""
    items: tuple[str, ...] = ()
    provider: str = ""


@dataclass(frozen=True)
class Weights:
    name: float = 0.4
    text: float = 0.35
    items: float = 0.25


@dataclass(frozen=True)
class Candidate:
    """A pair of systems (indices into the input, i < j) with the evidence behind its score."""

    i: int
    j: int
    score: float
    name_similarity: float
    text_similarity: float
    item_similarity: float
    shared_items: tuple[str, ...] = field(default=())
    normalised_names: tuple[str, str] = ("", "")


def _ngram_counts(texts: Sequence[str], sizes: tuple[int, ...]) -> Matrix:
    """Document × character-n-gram count matrix, built with array operations on the code points.

    An n-gram is packed into one integer (21 bits per code point, n ≤ 3), so counting needs no Python
    loop over characters.
    """
    compact = [PUNCT.sub("", t.lower()) for t in texts]
    lengths = np.fromiter((len(t) for t in compact), dtype=np.int64, count=len(compact))
    cps = np.frombuffer("".join(compact).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    doc = np.repeat(np.arange(len(compact)), lengths)
    pos = np.arange(cps.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    keys_doc, keys_code = [], []
    for n in sizes:
        ok = pos <= np.repeat(lengths, lengths) - n
        start = np.nonzero(ok)[0]
        code = np.zeros(start.size, dtype=np.int64)
        for k in range(n):
            code = (code << 21) | cps[start + k]
        keys_doc.append(doc[start])
        keys_code.append(code)  # a trigram (first code point ≥ 1) is ≥ 2**42 > every bigram
    docs = np.concatenate(keys_doc) if keys_doc else np.zeros(0, dtype=np.int64)
    codes = np.concatenate(keys_code) if keys_code else np.zeros(0, dtype=np.int64)
    vocab, col = np.unique(codes, return_inverse=True)
    m = sparse.csr_matrix((np.ones(docs.size), (docs, col.ravel())), shape=(len(texts), max(vocab.size, 1)))
    m.sum_duplicates()
    return m


def _tfidf(counts: Matrix, max_df: float) -> Matrix:
    """Rows of L2-normalised TF-IDF weights (tf = 1 + ln n, idf = ln((1 + N) / (1 + df)) + 1).

    Features in more than ``max_df`` of the documents are dropped as stop-grams (as scikit-learn's
    ``max_df``): they carry little evidence and make the all-pairs product dense.
    """
    m = counts.copy()
    m.data = 1.0 + np.log(m.data)
    n_docs = m.shape[0]
    df = np.bincount(m.indices, minlength=m.shape[1])
    idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
    if n_docs >= MIN_DOCS_FOR_MAX_DF:
        idf[df > max_df * n_docs] = 0.0
    m = sparse.csr_matrix(m @ sparse.diags(idf))
    m.eliminate_zeros()
    return _l2(m)


def _l2(m: Matrix) -> Matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ m)


def _binary(sets: Sequence[set[str]], max_df: float) -> Matrix:
    """Rows of 1/sqrt(|set|), so the dot product of two rows is the Ochiai coefficient of the sets.

    Items in more than ``max_df`` of the systems (姓名, 备注 …) prove nothing and are left out.
    """
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for r, s in enumerate(sets):
        for item in s:
            rows.append(r)
            cols.append(vocab.setdefault(item, len(vocab)))
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sets), max(len(vocab), 1)))
    if len(sets) >= MIN_DOCS_FOR_MAX_DF:
        df = np.bincount(m.indices, minlength=m.shape[1])
        m = sparse.csr_matrix(m @ sparse.diags((df <= max_df * len(sets)).astype(np.float64)))
        m.eliminate_zeros()
    return _l2(m)


def _has(m: Matrix) -> npt.NDArray[np.float64]:
    present: npt.NDArray[np.float64] = (np.diff(m.indptr) > 0).astype(np.float64)
    return present


def find_duplicates(
    systems: Sequence[System],
    *,
    prefixes: Sequence[str] = (),
    threshold: float = 0.6,
    weights: Weights = Weights(),
    max_df: float = 0.2,
    text_chars: int = 600,
    block: int = 1000,
    split: int | None = None,
) -> list[Candidate]:
    """Pairs of systems whose combined similarity [0–1] reaches ``threshold``, best first.

    Parameters
    ----------
    systems : the systems to compare, within one region or across a portfolio.
    prefixes : jurisdiction and department names to ignore (the providers are always ignored).
    threshold : minimum combined score [1].
    weights : weights of name, description+functions and shared-item similarity.
    max_df : document frequency [fraction] above which an n-gram is a stop-gram and ignored.
    text_chars : characters of description + functions compared (the opening carries the purpose).
    block : rows per block of the sparse product.
    split : when given, only pairs of one system before ``split`` and one from ``split`` on are scored
        (one region's systems against another's); n-gram weights still come from all systems.
    """
    n = len(systems)
    if n < 2:
        return []
    ignore = sorted({*prefixes, *(s.provider for s in systems if s.provider)}, key=len, reverse=True)
    names = [normalise_name(s.name, ignore) for s in systems]
    xn = _tfidf(_ngram_counts(names, (2, 3)), max_df)
    pattern = names_pattern(ignore)
    texts = [remove_all(f"{s.description} {s.functions}", pattern)[:text_chars] for s in systems]
    xt = _tfidf(_ngram_counts(texts, (3,)), max_df)
    item_sets = [{n for n in map(normalise_item, s.items) if n} for s in systems]
    xi = _binary(item_sets, max_df)
    x = sparse.hstack(
        [xn * np.sqrt(weights.name), xt * np.sqrt(weights.text), xi * np.sqrt(weights.items)], format="csr"
    )
    ht, hi = _has(xt), _has(xi)
    x_cols = x.T  # CSC view: slicing its columns is cheap, so each block multiplies only the upper triangle
    pairs: list[tuple[int, int, float]] = []
    floor = threshold * min(weights.name, weights.name + weights.text + weights.items)
    rows_end = n if split is None else split
    for start in range(0, rows_end, block):
        col0 = start if split is None else split
        raw = sparse.csr_matrix(x[start : min(start + block, rows_end)] @ x_cols[:, col0:])
        idx = np.nonzero(raw.data >= floor)[0]  # the weights sum to 1: nothing below can pass
        r = np.searchsorted(raw.indptr, idx, side="right") - 1 + start
        c, v = raw.indices[idx] + col0, raw.data[idx]
        keep = c > r
        r, c, v = r[keep], c[keep], v[keep]
        score = v / (weights.name + weights.text * ht[r] * ht[c] + weights.items * hi[r] * hi[c])
        hit = score >= threshold
        pairs.extend(zip(r[hit].tolist(), c[hit].tolist(), score[hit].tolist(), strict=True))
    return _evidence(pairs, xn, xt, xi, item_sets, names)


def _rowwise(m: Matrix, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    dots: npt.NDArray[np.float64] = np.asarray(m[i].multiply(m[j]).sum(axis=1), dtype=np.float64).ravel()
    return dots


def _evidence(
    pairs: list[tuple[int, int, float]],
    xn: Matrix,
    xt: Matrix,
    xi: Matrix,
    items: list[set[str]],
    names: list[str],
) -> list[Candidate]:
    if not pairs:
        return []
    i = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    j = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    sims = [_rowwise(m, i, j) for m in (xn, xt, xi)]
    found = [
        Candidate(
            a,
            b,
            round(min(score, 1.0), 4),
            round(float(sims[0][k]), 4),
            round(float(sims[1][k]), 4),
            round(float(sims[2][k]), 4),
            tuple(sorted(items[a] & items[b])),
            (names[a], names[b]),
        )
        for k, (a, b, score) in enumerate(pairs)
    ]
    return sorted(found, key=lambda c: (-c.score, c.i, c.j))
