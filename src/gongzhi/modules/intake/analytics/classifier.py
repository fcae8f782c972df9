"""Routing classifier for Chinese request text: category (and so department) with a confidence.

A linear model over three groups of features:

* TF-IDF of character uni- and bigrams of subject and text (sublinear tf, L2-normalised), the usual
  representation for short Chinese texts without a segmenter;
* the same for the subject alone, weighted, since a subject names the problem in a dozen characters;
* per category, ``log(1 + keyword hits)`` of the region's keyword lists (hits in the subject count thrice).

It is trained (``train``) with a linear SVM (Crammer–Singer-free one-vs-rest, ``sklearn.svm.LinearSVC``) on
labelled examples (dispatchers' corrections and confirmations), weakly labelled examples (history whose
keywords or handling department name one category) with a lower weight, and one pseudo-document per category
made of its name and keywords; so a region with no labels yet routes by its keyword tree alone. The scores
add ``keyword_boost × log(1 + hits)``, and a temperature softmax over the offered categories is the
confidence.

Featurisation works on a batch: the documents are joined into one string and parsed, n-grammed, looked up
and weighted by whole-array numpy operations (keywords by a rolling hash over every window length), so there
is no Python loop per character, n-gram or keyword; ``predict`` is a batch of one. Prediction needs numpy
only; training builds a SciPy sparse matrix for scikit-learn's LinearSVC.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gongzhi.modules.intake.analytics.text import _HTML, _TABLE, codepoints, from_codepoints

MAX_CHARS = 400
SUBJECT_WEIGHT = 1.0
KEYWORD_WEIGHT = 1.0
KEYWORD_BOOST = 1.0
SUBJECT_HIT_WEIGHT = 2.0
TEMPERATURE = 3.0

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
IntArray64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CategorySeed:
    """A category of the region's tree with the keywords that route to it."""

    code: str
    name: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Example:
    """A labelled text; ``weight`` < 1 for weak labels."""

    subject: str
    text: str
    code: str
    weight: float = 1.0


@dataclass(frozen=True)
class Prediction:
    code: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]


_SHIFT = 21  # code points fit in 21 bits, so a bigram id (a << 21 | b) never equals a unigram id
_DOC_SHIFT = 2 * _SHIFT  # a (document, gram) pair packed in one int64: documents < 2**21 per batch
_GRAM_MASK = (1 << _DOC_SHIFT) - 1
_DOC, _FIELD = 1, 2  # separators of the batch string: U+0001 between documents, U+0002 after a subject
_FILTER_MASK = (1 << 16) - 1  # a bitmap of keyword hashes' low bits, before the exact search
_SEPARATORS = {_DOC: " ", _FIELD: " "}
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the rolling hash of keywords (mod 2**64)


def gram_ids(cps: IntArray64) -> IntArray64:
    """Ids of the character unigrams and bigrams of a code-point array."""
    return np.concatenate([cps, (cps[:-1] << _SHIFT) | cps[1:]])


def keyword_hash(cps: IntArray64) -> int:
    """The rolling hash :func:`_window_hashes` gives a window equal to ``cps``."""
    h = np.uint64(0)
    with np.errstate(over="ignore"):
        for c in cps.astype(np.uint64):
            h = h * _HASH_BASE + c
    return int(h)


@dataclass(frozen=True)
class Batch:
    """Compact code points of many documents, and the document each belongs to.

    ``body``/``body_doc``: subject then text, at most MAX_CHARS per document; ``subj``/``subj_doc``: the
    subject alone, at most MAX_CHARS. Arrays of one document are contiguous and in order.
    """

    n: int
    body: IntArray64
    body_doc: IntArray64
    subj: IntArray64
    subj_doc: IntArray64


def _rank(seg: IntArray64) -> IntArray64:
    """Position of each element within its run of equal (sorted, contiguous) segment ids."""
    if seg.size == 0:
        return seg
    starts = _starts(seg)
    lengths = np.diff(np.append(starts, len(seg)))
    return np.arange(len(seg)) - np.repeat(starts, lengths)


def _starts(seg: IntArray64) -> IntArray64:
    """Indices where a new run of equal values begins (``seg`` non-empty)."""
    change = np.empty(len(seg), dtype=bool)
    change[0] = True
    np.not_equal(seg[1:], seg[:-1], out=change[1:])
    return change.nonzero()[0]


def _field(text: str) -> str:
    """HTML residue and the batch separators removed, field by field (as ``codepoints`` does)."""
    return (_HTML.sub(" ", text) if "<" in text else text).translate(_SEPARATORS)


def batch(docs: Sequence[tuple[str, str]]) -> Batch:
    """Parse documents in one pass of numpy over one string: no Python work per character or n-gram."""
    big = "\x01".join(f"{_field(subject)}\x02{_field(text[: 2 * MAX_CHARS])}" for subject, text in docs)
    raw = np.frombuffer(big.encode("utf-32-le"), dtype=np.uint32)
    doc = np.cumsum(raw == _DOC)
    in_subject = (np.cumsum((raw == _DOC) | (raw == _FIELD)) % 2) == 0
    mapped = _TABLE[np.minimum(raw, 0xFFFF)]
    keep = mapped > 0
    cps, doc, in_subject = mapped[keep], doc[keep], in_subject[keep]
    first = _rank(doc) < MAX_CHARS
    subj_keep = in_subject & (_rank(np.where(in_subject, doc, -1)) < MAX_CHARS)
    return Batch(len(docs), cps[first], doc[first], cps[subj_keep], doc[subj_keep])


def _grams(cps: IntArray64, doc: IntArray64) -> tuple[IntArray64, IntArray64]:
    """(gram id, document) of every unigram and of every bigram inside one document."""
    same = doc[1:] == doc[:-1]
    bigrams = ((cps[:-1] << _SHIFT) | cps[1:])[same]
    return np.concatenate([cps, bigrams]), np.concatenate([doc, doc[:-1][same]])


def _windows(
    cps: IntArray64, doc: IntArray64, lengths: Sequence[int]
) -> tuple[npt.NDArray[np.uint64], IntArray64, IntArray64]:
    """Rolling hashes of every window of each of ``lengths`` characters inside one document.

    Returns (hash, document, position of the window's last character); a window of length L is extended to
    L + 1 with one multiply-add over the whole batch, so every length costs one vector operation.
    """
    hashes, docs, ends = (
        [np.zeros(0, dtype=np.uint64)],
        [np.zeros(0, dtype=np.int64)],
        [np.zeros(0, dtype=np.int64)],
    )
    u = cps.astype(np.uint64)
    h = u
    wanted = set(lengths)
    with np.errstate(over="ignore"):
        for length in range(1, max(wanted, default=0) + 1):
            if length > 1:
                h = h[:-1] * _HASH_BASE + u[length - 1 :]
            if length in wanted and h.size:
                ok = (doc[: h.size] == doc[length - 1 :]).nonzero()[0]
                hashes.append(h[ok])
                docs.append(doc[ok])
                ends.append(ok + length - 1)
    return np.concatenate(hashes), np.concatenate(docs), np.concatenate(ends)


@dataclass
class Featurizer:
    """Maps (subject, text) pairs to sparse feature rows; built once from a corpus.

    ``keys``/``subject_keys`` are the sorted gram ids of the two vocabularies; ``keywords`` maps each
    keyword (compact form) to the positions of the seed categories it belongs to.
    """

    keys: IntArray64
    idf: FloatArray
    subject_keys: IntArray64
    subject_idf: FloatArray
    keywords: dict[str, tuple[int, ...]]
    n_seeds: int
    _kw_hash: npt.NDArray[np.uint64] = field(init=False)
    _kw_index: IntArray64 = field(init=False)
    _kw_lengths: tuple[int, ...] = field(init=False)
    _kw_filter: npt.NDArray[np.bool_] = field(init=False)
    _prefix_ids: IntArray64 = field(init=False)
    _by_prefix: list[list[tuple[str, tuple[int, ...]]]] = field(init=False)
    _kw_seed: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        words = sorted(self.keywords)
        pairs = sorted((keyword_hash(codepoints(w)), i) for i, w in enumerate(words))
        self._kw_hash = np.array([h for h, _ in pairs], dtype=np.uint64)
        self._kw_index = np.array([i for _, i in pairs], dtype=np.int64)
        self._kw_lengths = tuple(sorted({len(codepoints(w)) for w in words}))
        self._kw_filter = np.zeros(_FILTER_MASK + 1, dtype=bool)
        self._kw_filter[self._kw_hash & np.uint64(_FILTER_MASK)] = True
        grouped: dict[int, list[tuple[str, tuple[int, ...]]]] = {}
        for w in words:
            grouped.setdefault(keyword_id(w), []).append((w, self.keywords[w]))
        self._prefix_ids = np.array(sorted(grouped), dtype=np.int64)
        self._by_prefix = [grouped[int(i)] for i in self._prefix_ids]
        self._kw_seed = np.zeros((len(words), self.n_seeds), dtype=np.float32)
        for i, w in enumerate(words):
            self._kw_seed[i, list(self.keywords[w])] = 1.0

    @property
    def width(self) -> int:
        return len(self.keys) + len(self.subject_keys) + self.n_seeds

    def hits_batch(self, b: Batch) -> FloatArray:
        """Distinct keyword hits per document and seed category [count]; a subject hit counts 1 + 2.

        The subject is the start of the body, so one scan of the body finds both: a window ending before
        the document's subject length lies in the subject.
        """
        out = np.zeros((b.n, self.n_seeds), dtype=np.float32)
        if not self.keywords:
            return out
        h, doc, end = _windows(b.body, b.body_doc, self._kw_lengths)
        maybe = self._kw_filter[h & np.uint64(_FILTER_MASK)].nonzero()[0]  # skips most windows cheaply
        pos, ok = _lookup_u64(self._kw_hash, h[maybe])
        if pos.size == 0:
            return out
        doc, end, kw = doc[maybe][ok], end[maybe][ok], self._kw_index[pos]
        subject_end = np.searchsorted(b.body_doc, np.arange(b.n)) + np.bincount(b.subj_doc, minlength=b.n)
        in_subject = end < subject_end[doc]
        n_kw = len(self.keywords)
        # one key per (document, keyword, in the subject?): distinct hits, a subject hit adds its bonus once
        key = np.unique((doc * n_kw + kw) * 2 + in_subject)
        found, subject = key >> 1, (key & 1).astype(np.float32)
        weight = np.where(subject > 0, SUBJECT_HIT_WEIGHT, 0.0).astype(np.float32)
        body_key = np.unique(found)
        np.add.at(out, body_key // n_kw, self._kw_seed[body_key % n_kw])
        if (weight > 0).any():
            np.add.at(out, found // n_kw, self._kw_seed[found % n_kw] * weight[:, None])
        return out

    def row(self, subject: str, text: str) -> tuple[IntArray64, FloatArray, FloatArray]:
        """(columns, values, keyword hits) of one document: the batch features with fewer numpy calls.

        Intake classifies one message per request; a batch of one pays a fixed numpy overhead per call
        that this path avoids. ``test_a_batch_classifies_exactly_as_one_message_at_a_time`` holds the two
        paths together.
        """
        subj, body = _doc(subject, text)
        distinct, counts = _counts(gram_ids(body))
        idx_b, val_b = _row_tfidf(distinct, counts, self.keys, self.idf, 0)
        idx_s, val_s = _row_subject(gram_ids(subj), self.subject_keys, self.subject_idf, len(self.keys))
        hits = self._row_hits(distinct, body, subj)
        nz = hits.nonzero()[0]
        idx = np.concatenate([idx_b, idx_s, nz + len(self.keys) + len(self.subject_keys)])
        val = np.concatenate(
            [val_b, val_s * np.float32(SUBJECT_WEIGHT), np.log1p(hits[nz]) * np.float32(KEYWORD_WEIGHT)]
        )
        return idx, val, hits

    def _row_hits(self, distinct: IntArray64, body: IntArray64, subj: IntArray64) -> FloatArray:
        out = np.zeros(self.n_seeds, dtype=np.float32)
        found = _lookup(self._prefix_ids, distinct)[0]
        if found.size == 0:
            return out
        body_s, subj_s = from_codepoints(body), from_codepoints(subj)
        for i in found.tolist():
            for kw, seeds in self._by_prefix[i]:
                if len(kw) > 2 and kw not in body_s:
                    continue
                bonus = 1.0 + (SUBJECT_HIT_WEIGHT if kw in subj_s else 0.0)
                for k in seeds:
                    out[k] += bonus
        return out

    def hits(self, subject: str, text: str) -> FloatArray:
        """Distinct keyword hits per seed category of one document [count]."""
        hits: FloatArray = self.hits_batch(batch([(subject, text)]))[0]
        return hits

    def features(self, docs: Sequence[tuple[str, str]]) -> Features:
        """Sparse TF-IDF entries and keyword hits of many documents (numpy only)."""
        b = batch(docs)
        body = _tfidf(*_grams(b.body, b.body_doc), self.keys, self.idf, b.n, 0, sublinear=True)
        subj = _tfidf(
            *_grams(b.subj, b.subj_doc),
            self.subject_keys,
            self.subject_idf,
            b.n,
            len(self.keys),
            sublinear=False,
        )
        subj = (subj[0], subj[1], subj[2] * np.float32(SUBJECT_WEIGHT))
        return Features(b.n, (body, subj), self.hits_batch(b), len(self.keys) + len(self.subject_keys))

    def matrix(self, docs: Sequence[tuple[str, str]]) -> tuple[Any, FloatArray]:
        """(CSR feature matrix, keyword hits) of many documents, for training."""
        from scipy.sparse import csr_matrix

        f = self.features(docs)
        kw_doc, kw_col = np.nonzero(f.hits)
        rows = np.concatenate([f.groups[0][0], f.groups[1][0], kw_doc])
        cols = np.concatenate([f.groups[0][1], f.groups[1][1], kw_col + f.offset])
        vals = np.concatenate(
            [f.groups[0][2], f.groups[1][2], np.log1p(f.hits[kw_doc, kw_col]) * np.float32(KEYWORD_WEIGHT)]
        )
        return csr_matrix((vals, (rows, cols)), shape=(f.n, self.width), dtype=np.float32), f.hits


Entries = tuple[IntArray64, IntArray64, FloatArray]  # document, column, value; sorted by document


@dataclass(frozen=True)
class Features:
    n: int
    groups: tuple[Entries, Entries]
    hits: FloatArray
    offset: int  # first column of the keyword block

    def scores(self, weights: FloatArray) -> FloatArray:
        """``X @ weights`` [documents × classes] without building a sparse matrix."""
        kw = np.log1p(self.hits) * np.float32(KEYWORD_WEIGHT)
        out = kw @ weights[self.offset : self.offset + self.hits.shape[1]]
        for doc, col, val in self.groups:
            if doc.size:
                starts = _starts(doc)
                out[doc[starts]] += np.add.reduceat(weights[col] * val[:, None], starts, axis=0)
        return np.asarray(out, dtype=np.float32)


def keyword_id(word: str) -> int:
    """The gram id of a keyword's first one or two characters (its prefix among a document's grams)."""
    cps = codepoints(word)
    if len(cps) == 0:
        raise ValueError(f"keyword {word!r} has no letters, digits or ideographs")
    return int(cps[0]) if len(cps) == 1 else int((cps[0] << _SHIFT) | cps[1])


def _doc(subject: str, text: str) -> tuple[IntArray64, IntArray64]:
    subj = codepoints(subject, MAX_CHARS)
    body = np.concatenate([subj, codepoints(text[: 2 * MAX_CHARS], MAX_CHARS)])[:MAX_CHARS]
    return subj, body


def _counts(ids: IntArray64) -> tuple[IntArray64, IntArray64]:
    """Distinct values and their counts (a lean ``np.unique(return_counts=True)``)."""
    if ids.size == 0:
        return ids, ids
    v = np.sort(ids)
    starts = _starts(v)
    return v[starts], np.diff(np.append(starts, len(v)))


def _row_tfidf(
    distinct: IntArray64, counts: IntArray64, keys: IntArray64, idf: FloatArray, offset: int
) -> tuple[IntArray64, FloatArray]:
    pos, ok = _lookup(keys, distinct)
    val = ((1.0 + np.log(counts[ok])) * idf[pos]).astype(np.float32)
    return pos + offset, val / np.float32(np.sqrt(np.dot(val, val)) or 1.0)


def _row_subject(
    ids: IntArray64, keys: IntArray64, idf: FloatArray, offset: int
) -> tuple[IntArray64, FloatArray]:
    """Raw-count TF-IDF of a subject: a repeated gram simply appears twice in the sparse row."""
    pos, _ = _lookup(keys, ids)
    val = idf[pos]
    return pos + offset, val / np.float32(np.sqrt(np.dot(val, val)) or 1.0)


def _lookup_u64(
    keys: npt.NDArray[np.uint64], ids: npt.NDArray[np.uint64]
) -> tuple[IntArray64, npt.NDArray[np.bool_]]:
    if len(keys) == 0 or len(ids) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(len(ids), dtype=bool)
    pos = np.minimum(keys.searchsorted(ids), len(keys) - 1)
    ok = keys[pos] == ids
    return pos[ok], ok


def _lookup(keys: IntArray64, ids: IntArray64) -> tuple[IntArray64, npt.NDArray[np.bool_]]:
    """Positions in sorted ``keys`` of the ``ids`` found there, and which ids were found."""
    if len(keys) == 0 or len(ids) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(len(ids), dtype=bool)
    pos = np.minimum(keys.searchsorted(ids), len(keys) - 1)
    ok = keys[pos] == ids
    return pos[ok], ok


def _tfidf(
    ids: IntArray64,
    doc: IntArray64,
    keys: IntArray64,
    idf: FloatArray,
    n: int,
    offset: int,
    *,
    sublinear: bool,
) -> Entries:
    """L2-normalised TF-IDF entries (tf = 1 + ln count when ``sublinear``, else the count)."""
    key, counts = np.unique((doc << _DOC_SHIFT) | ids, return_counts=True)  # distinct first: fewer lookups
    col, ok = _lookup(keys, key & _GRAM_MASK)
    d, counts = key[ok] >> _DOC_SHIFT, counts[ok]
    tf = 1.0 + np.log(counts) if sublinear else counts.astype(np.float64)
    val = (tf * idf[col]).astype(np.float32)
    # sublinear rows: the usual L2 norm; raw-count rows: the norm of one entry per occurrence (as ``row``)
    square = val.astype(np.float64) ** 2 if sublinear else counts * idf[col].astype(np.float64) ** 2
    norms = np.sqrt(np.bincount(d, square, minlength=n)).astype(np.float32)
    return d, col + offset, val / np.where(norms[d] > 0, norms[d], 1)


def _vocab_idf(b: Batch, subject: bool, min_df: int) -> tuple[IntArray64, FloatArray]:
    ids, doc = _grams(b.subj, b.subj_doc) if subject else _grams(b.body, b.body_doc)
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    pairs = np.unique(np.stack([ids, doc]), axis=1)
    grams, df = np.unique(pairs[0], return_counts=True)
    keep = df >= min_df
    idf = np.log((1 + b.n) / (1 + df[keep])) + 1.0
    return grams[keep], idf.astype(np.float32)


def build_featurizer(
    seeds: Sequence[CategorySeed], corpus: Sequence[tuple[str, str]], min_df: int = 2
) -> Featurizer:
    """Vocabulary and IDF from every text the region has (labelled or not) plus the seed pseudo-documents."""
    b = batch([*corpus, *((c.name, " ".join(c.keywords)) for c in seeds)])
    keys, idf = _vocab_idf(b, False, min_df)
    skeys, sidf = _vocab_idf(b, True, min_df)
    keywords: dict[str, list[int]] = {}
    for k, c in enumerate(seeds):
        for kw in {from_codepoints(codepoints(w)) for w in (c.name, *c.keywords)} - {""}:
            keywords.setdefault(kw, []).append(k)
    return Featurizer(keys, idf, skeys, sidf, {w: tuple(v) for w, v in keywords.items()}, len(seeds))


@dataclass
class Router:
    """A trained classifier: featurizer, class list, weights [features × classes] and biases."""

    featurizer: Featurizer
    seeds: tuple[CategorySeed, ...]
    classes: tuple[str, ...]
    weights: FloatArray
    bias: FloatArray
    keyword_boost: float = KEYWORD_BOOST
    temperature: float = TEMPERATURE
    _seed_of_class: IntArray = field(init=False)
    _has_seed: npt.NDArray[np.bool_] = field(init=False)
    _masks: dict[tuple[str, ...] | None, npt.NDArray[np.bool_]] = field(init=False)

    def __post_init__(self) -> None:
        pos = {c.code: i for i, c in enumerate(self.seeds)}
        self._seed_of_class = np.array([pos.get(c, -1) for c in self.classes], dtype=np.int32)
        self._has_seed = self._seed_of_class >= 0
        self._masks = {}

    def _mask(self, allowed: Sequence[str] | None) -> npt.NDArray[np.bool_]:
        key = None if allowed is None else tuple(sorted(allowed))
        mask = self._masks.get(key)
        if mask is None:
            mask = np.array([key is None or c in key for c in self.classes], dtype=bool)
            if not mask.any():
                raise ValueError("none of the allowed categories is known to the model")
            self._masks[key] = mask
        return mask

    def scores_batch(self, docs: Sequence[tuple[str, str]]) -> FloatArray:
        """Class scores [documents × classes] of many (subject, text) pairs."""
        f = self.featurizer.features(docs)
        out, hits = f.scores(self.weights) + self.bias, f.hits
        seed = self._seed_of_class[self._has_seed]
        out[:, self._has_seed] += np.log1p(hits[:, seed]) * np.float32(self.keyword_boost)
        return out

    def scores(self, subject: str, text: str) -> FloatArray:
        out: FloatArray = self.scores_batch([(subject, text)])[0]
        return out

    def predict_many(
        self, docs: Sequence[tuple[str, str]], allowed: Sequence[str] | None = None
    ) -> list[Prediction]:
        """Best category of each document among ``allowed`` (default all), with its softmax confidence."""
        if not docs:
            return []
        mask = self._mask(allowed)
        z = np.where(mask, self.scores_batch(docs).astype(np.float64) * self.temperature, -np.inf)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        top = np.argsort(-p, axis=1)[:, : min(5, int(mask.sum()))]
        probs = np.take_along_axis(p, top, axis=1).round(4).tolist()
        out = []
        for order, pr in zip(top.tolist(), probs, strict=True):
            ranking = tuple(zip([self.classes[i] for i in order], pr, strict=True))
            out.append(Prediction(ranking[0][0], ranking[0][1], ranking))
        return out

    def predict(self, subject: str, text: str, allowed: Sequence[str] | None = None) -> Prediction:
        """Best category among ``allowed`` (default all) with its softmax confidence [0–1]."""
        mask = self._mask(allowed)
        idx, val, hits = self.featurizer.row(subject, text)
        out = self.bias + val @ self.weights[idx]
        out[self._has_seed] += np.log1p(hits[self._seed_of_class[self._has_seed]]) * self.keyword_boost
        z = np.where(mask, out.astype(np.float64) * self.temperature, -np.inf)
        p = np.exp(z - z.max())
        p /= p.sum()
        top = np.argsort(-p)[: min(5, int(mask.sum()))]
        ranking = tuple(zip([self.classes[i] for i in top.tolist()], p[top].round(4).tolist(), strict=True))
        return Prediction(ranking[0][0], ranking[0][1], ranking)


def weak_labels(
    featurizer: Featurizer, seeds: Sequence[CategorySeed], docs: Sequence[tuple[str, str]]
) -> list[str | None]:
    """The category each text's keywords name clearly (≥ 2 hits and ≥ 1 ahead of the next), else None."""
    if not docs or not seeds:
        return [None] * len(docs)
    hits = featurizer.hits_batch(batch(docs))
    ordered = np.sort(hits, axis=1)
    best = ordered[:, -1]
    runner_up = ordered[:, -2] if hits.shape[1] > 1 else np.zeros(len(docs), dtype=np.float32)
    clear = (best >= 2) & (best - runner_up >= 1)
    winner = hits.argmax(axis=1)
    return [seeds[int(w)].code if ok else None for w, ok in zip(winner.tolist(), clear.tolist(), strict=True)]


def weak_label(featurizer: Featurizer, seeds: Sequence[CategorySeed], subject: str, text: str) -> str | None:
    return weak_labels(featurizer, seeds, [(subject, text)])[0]


def train(
    seeds: Sequence[CategorySeed],
    examples: Sequence[Example],
    corpus: Sequence[tuple[str, str]] = (),
    *,
    c: float = 0.3,
    featurizer: Featurizer | None = None,
) -> Router:
    """Fit a router on labelled and weak examples plus one pseudo-document per seed category."""
    from sklearn.svm import LinearSVC

    if not seeds:
        raise ValueError("a router needs at least one category")
    feat = featurizer or build_featurizer(seeds, [*corpus, *((e.subject, e.text) for e in examples)])
    docs = [*examples, *(Example(s.name, " ".join(s.keywords), s.code) for s in seeds)]
    x = feat.matrix([(d.subject, d.text) for d in docs])[0]
    y = np.array([d.code for d in docs])
    classes = tuple(sorted(set(y.tolist())))
    if len(classes) == 1:
        w = np.zeros((feat.width, 1), dtype=np.float32)
        return Router(feat, tuple(seeds), classes, w, np.zeros(1, dtype=np.float32))
    svm = LinearSVC(C=c, random_state=0).fit(x, y, sample_weight=np.array([d.weight for d in docs]))
    coef = svm.coef_ if len(classes) > 2 else np.vstack([-svm.coef_[0], svm.coef_[0]])
    bias = svm.intercept_ if len(classes) > 2 else np.array([-svm.intercept_[0], svm.intercept_[0]])
    order = [list(svm.classes_).index(k) for k in classes]
    return Router(
        feat,
        tuple(seeds),
        classes,
        np.ascontiguousarray(coef[order].T, dtype=np.float32),
        bias[order].astype(np.float32),
    )


# --- persistence: a compressed npz, no pickle -----------------------------------------------------------


def dumps(router: Router) -> bytes:
    f = router.featurizer
    kw = sorted(f.keywords)
    arrays = {
        "keys": f.keys,
        "idf": f.idf,
        "subject_keys": f.subject_keys,
        "subject_idf": f.subject_idf,
        "kw": np.array(kw, dtype=str),
        "kw_seeds": np.array([",".join(map(str, f.keywords[k])) for k in kw], dtype=str),
        "seed_code": np.array([s.code for s in router.seeds], dtype=str),
        "seed_name": np.array([s.name for s in router.seeds], dtype=str),
        "seed_kw": np.array(["\x1f".join(s.keywords) for s in router.seeds], dtype=str),
        "classes": np.array(router.classes, dtype=str),
        "weights": router.weights,
        "bias": router.bias,
        "params": np.array([router.keyword_boost, router.temperature], dtype=np.float64),
    }
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def loads(raw: bytes) -> Router:
    z = np.load(io.BytesIO(raw), allow_pickle=False)
    kw_seeds = {
        str(k): tuple(int(x) for x in str(v).split(",")) for k, v in zip(z["kw"], z["kw_seeds"], strict=True)
    }
    seeds = tuple(
        CategorySeed(str(c), str(n), tuple(x for x in str(k).split("\x1f") if x))
        for c, n, k in zip(z["seed_code"], z["seed_name"], z["seed_kw"], strict=True)
    )
    feat = Featurizer(
        z["keys"].astype(np.int64),
        z["idf"].astype(np.float32),
        z["subject_keys"].astype(np.int64),
        z["subject_idf"].astype(np.float32),
        kw_seeds,
        len(seeds),
    )
    boost, temp = (float(v) for v in z["params"])
    classes = tuple(str(c) for c in z["classes"])
    return Router(
        feat, seeds, classes, z["weights"].astype(np.float32), z["bias"].astype(np.float32), boost, temp
    )
