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
confidence. Prediction is pure Python and numpy, well under a millisecond per message.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gongzhi.modules.intake.analytics.text import codepoints, from_codepoints

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


def gram_ids(cps: IntArray64) -> IntArray64:
    """Ids of the character unigrams and bigrams of a code-point array."""
    return np.concatenate([cps, (cps[:-1] << _SHIFT) | cps[1:]])


def keyword_id(word: str) -> int:
    """The gram id of a keyword's first one or two characters (its prefix in the gram index)."""
    cps = codepoints(word)
    if len(cps) == 0:
        raise ValueError(f"keyword {word!r} has no letters, digits or ideographs")
    return int(cps[0]) if len(cps) == 1 else int((cps[0] << _SHIFT) | cps[1])


def _doc(subject: str, text: str) -> tuple[IntArray64, IntArray64]:
    subj = codepoints(subject, MAX_CHARS)
    body = np.concatenate([subj, codepoints(text[: 2 * MAX_CHARS], MAX_CHARS)])[:MAX_CHARS]
    return subj, body


@dataclass
class Featurizer:
    """Maps (subject, text) to a sparse feature row; built once from a corpus.

    ``keys``/``subject_keys`` are the sorted gram ids of the two vocabularies; ``keywords`` maps each
    keyword (compact form) to the positions of the seed categories it belongs to.
    """

    keys: IntArray64
    idf: FloatArray
    subject_keys: IntArray64
    subject_idf: FloatArray
    keywords: dict[str, tuple[int, ...]]
    n_seeds: int
    _kw_ids: IntArray64 = field(init=False)
    _kw_by_id: list[list[tuple[str, tuple[int, ...]]]] = field(init=False)

    def __post_init__(self) -> None:
        grouped: dict[int, list[tuple[str, tuple[int, ...]]]] = {}
        for kw, seeds in sorted(self.keywords.items()):
            grouped.setdefault(keyword_id(kw), []).append((kw, seeds))
        self._kw_ids = np.array(sorted(grouped), dtype=np.int64)
        self._kw_by_id = [grouped[int(i)] for i in self._kw_ids]

    @property
    def width(self) -> int:
        return len(self.keys) + len(self.subject_keys) + self.n_seeds

    def _hits(self, distinct: IntArray64, body: IntArray64, subj: IntArray64) -> FloatArray:
        out = np.zeros(self.n_seeds, dtype=np.float32)
        found = _lookup(self._kw_ids, distinct)[0]
        if found.size == 0:
            return out
        body_s, subj_s = from_codepoints(body), from_codepoints(subj)
        for i in found.tolist():
            for kw, seeds in self._kw_by_id[i]:
                if len(kw) > 2 and kw not in body_s:
                    continue
                bonus = 1.0 + (SUBJECT_HIT_WEIGHT if kw in subj_s else 0.0)
                for k in seeds:
                    out[k] += bonus
        return out

    def hits(self, subject: str, text: str) -> FloatArray:
        """Distinct keyword hits per seed category [count]; a subject hit counts 1 + SUBJECT_HIT_WEIGHT."""
        subj, body = _doc(subject, text)
        return self._hits(_counts(gram_ids(body))[0], body, subj)

    def row(self, subject: str, text: str) -> tuple[IntArray, FloatArray, FloatArray]:
        """(indices, values, keyword hits) of one document."""
        subj, body = _doc(subject, text)
        distinct, counts = _counts(gram_ids(body))
        idx_b, val_b = _tfidf(distinct, counts, self.keys, self.idf, 0)
        idx_s, val_s = _subject_tfidf(gram_ids(subj), self.subject_keys, self.subject_idf, len(self.keys))
        hits = self._hits(distinct, body, subj)
        off = len(self.keys) + len(self.subject_keys)
        nz = hits.nonzero()[0]
        idx = np.concatenate([idx_b, idx_s, (nz + off).astype(np.int32)])
        val = np.concatenate(
            [val_b, val_s * SUBJECT_WEIGHT, np.log1p(hits[nz]).astype(np.float32) * KEYWORD_WEIGHT]
        )
        return idx, val, hits


def _counts(ids: IntArray64) -> tuple[IntArray64, IntArray64]:
    """Distinct values and their counts (a lean ``np.unique(return_counts=True)``)."""
    if ids.size == 0:
        return ids, ids
    s = np.sort(ids)
    first = np.empty(len(s), dtype=bool)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    starts = first.nonzero()[0]
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = len(s)
    return s[starts], ends - starts


def _lookup(keys: IntArray64, ids: IntArray64) -> tuple[IntArray64, npt.NDArray[np.bool_]]:
    """Positions in sorted ``keys`` of the ``ids`` found there, and which ids were found."""
    if len(keys) == 0 or len(ids) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(len(ids), dtype=bool)
    pos = np.minimum(keys.searchsorted(ids), len(keys) - 1)
    ok = keys[pos] == ids
    return pos[ok], ok


def _tfidf(
    distinct: IntArray64, counts: IntArray64, keys: IntArray64, idf: FloatArray, offset: int
) -> tuple[IntArray, FloatArray]:
    pos, ok = _lookup(keys, distinct)
    if pos.size == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    cols = pos.astype(np.int32)
    val = ((1.0 + np.log(counts[ok])) * idf[cols]).astype(np.float32)
    return cols + offset, val / np.float32(np.sqrt(np.dot(val, val)) or 1.0)


def _subject_tfidf(
    ids: IntArray64, keys: IntArray64, idf: FloatArray, offset: int
) -> tuple[IntArray, FloatArray]:
    """Raw-count TF-IDF of a subject: a repeated gram simply appears twice in the sparse row."""
    pos, _ = _lookup(keys, ids)
    cols = pos.astype(np.int32)
    val = idf[cols]
    return cols + offset, val / np.float32(np.sqrt(np.dot(val, val)) or 1.0)


def _vocab_idf(docs: Sequence[IntArray64], min_df: int) -> tuple[IntArray64, FloatArray]:
    if not docs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids, df = np.unique(np.concatenate([np.unique(d) for d in docs]), return_counts=True)
    keep = df >= min_df
    idf = np.log((1 + len(docs)) / (1 + df[keep])) + 1.0
    return ids[keep], idf.astype(np.float32)


def build_featurizer(
    seeds: Sequence[CategorySeed], corpus: Sequence[tuple[str, str]], min_df: int = 2
) -> Featurizer:
    """Vocabulary and IDF from every text the region has (labelled or not) plus the seed pseudo-documents."""
    docs = [*corpus, *((c.name, " ".join(c.keywords)) for c in seeds)]
    parsed = [_doc(s, t) for s, t in docs]
    keys, idf = _vocab_idf([gram_ids(b) for _, b in parsed], min_df)
    skeys, sidf = _vocab_idf([gram_ids(s) for s, _ in parsed], min_df)
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

    def scores(self, subject: str, text: str) -> FloatArray:
        idx, val, hits = self.featurizer.row(subject, text)
        out = self.bias + val @ self.weights[idx]
        out[self._has_seed] += np.log1p(hits[self._seed_of_class[self._has_seed]]) * self.keyword_boost
        return out

    def predict(self, subject: str, text: str, allowed: Sequence[str] | None = None) -> Prediction:
        """Best category among ``allowed`` (default all) with its softmax confidence [0–1]."""
        mask = self._mask(allowed)
        z = np.where(mask, self.scores(subject, text).astype(np.float64) * self.temperature, -np.inf)
        p = np.exp(z - z.max())
        p /= p.sum()
        top = np.argsort(-p)[: min(5, int(mask.sum()))]
        ranking = tuple(zip([self.classes[i] for i in top.tolist()], p[top].round(4).tolist(), strict=True))
        return Prediction(ranking[0][0], ranking[0][1], ranking)


def weak_label(featurizer: Featurizer, seeds: Sequence[CategorySeed], subject: str, text: str) -> str | None:
    """The category a text's keywords name clearly (≥ 2 hits and ≥ 1 ahead of the next), else None."""
    hits = featurizer.hits(subject, text)
    if hits.size < 2:
        return seeds[0].code if hits.size == 1 and hits[0] >= 2 else None
    top2 = np.sort(hits)[-2:]
    if top2[1] >= 2 and top2[1] - top2[0] >= 1:
        return seeds[int(np.argmax(hits))].code
    return None


def train(
    seeds: Sequence[CategorySeed],
    examples: Sequence[Example],
    corpus: Sequence[tuple[str, str]] = (),
    *,
    c: float = 0.3,
    featurizer: Featurizer | None = None,
) -> Router:
    """Fit a router on labelled and weak examples plus one pseudo-document per seed category."""
    from scipy.sparse import csr_matrix
    from sklearn.svm import LinearSVC

    if not seeds:
        raise ValueError("a router needs at least one category")
    feat = featurizer or build_featurizer(seeds, [*corpus, *((e.subject, e.text) for e in examples)])
    docs = [*examples, *(Example(s.name, " ".join(s.keywords), s.code) for s in seeds)]
    rows = [feat.row(d.subject, d.text)[:2] for d in docs]
    indptr = np.cumsum([0, *(len(i) for i, _ in rows)])
    x = csr_matrix(
        (np.concatenate([v for _, v in rows]), np.concatenate([i for i, _ in rows]), indptr),
        shape=(len(docs), feat.width),
    )
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
