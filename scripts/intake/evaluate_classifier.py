"""Train and evaluate the routing classifier on the 2020 Teddy Cup messages (evaluation only, never shipped).

    .venv/bin/python scripts/intake/evaluate_classifier.py [--data ../shared/data/teddy2020] [--nested]

Stratified k-fold cross-validation on the 330 labelled messages. In every fold both models see the same
training rows and are scored on the same held-out rows:

* baseline: TF-IDF of character 1–2-grams + linear SVM, trained on the labelled rows only;
* gongzhi: the shipped router (``gongzhi.modules.intake.analytics.classifier``) seeded with the shipped
  keyword tree (``data/seed_categories.json``, written for gongzhi, not taken from the contest), trained on
  the labelled rows as if they were dispatchers' corrections, plus weak labels on the unlabelled messages: the
  category their keywords clearly name, and for answered messages the category of the department that
  answered (the evaluation's stand-in for a closed case's handling department).

Held-out rows never enter the vocabulary, the weak labels or the training set of their fold. Prints both
macro-F1 figures, per-class reports and the most frequent confusions, the label noise (texts labelled twice
with different categories), auto-routing coverage at the confidence threshold and the mean time to classify
one message.

``--nested`` chooses the router's training config per outer fold from ``GRID`` (fixed before any of its
outer figures was seen) by a 3-fold inner CV on that fold's training rows only, so the outer figure stays an
unbiased estimate of the whole procedure.

Variants of the third round (README), each fitted on the fold's training rows only: ``--self-train K``
(balanced pseudo-labels from the unlabelled pool), ``--prior-correction`` (per-class offsets from inner
out-of-fold scores), ``--subject-weight W``, ``--ensemble`` (with calibrated TF-IDF LR and complement NB).

Fourth round: ``--learner nbsvm|lr|sgd`` (NBSVM of Wang & Manning 2012 with ``--nb-beta``; logistic
regression; SGD with the modified Huber loss), ``--balance-weak`` (every category's weak examples weigh the
same in total) and ``--keyword-block`` (scale of the keyword-hit columns). Learner and block scales fold into
an ordinary router's weights, so prediction costs the same. ``--nested --grid wide`` chooses among ``WIDE``.

Fifth round, a representation learnt from the fold's unlabelled pool and training texts (held-out texts
excluded, no labels): ``--lsa K`` (TruncatedSVD of the body TF-IDF), ``--ppmi K`` (PPMI character
embeddings, TF-IDF-weighted sum) and ``--prototypes`` (the label tree's categories as prototypes in the LSA
space), each appended as a scaled dense block. All three are linear in the body row, so the block's weights
fold into the body weights (``fold_lsa``) and a router keeps its size and per-message cost.

Sixth round, the weak labels themselves (training only; prediction unchanged): ``--label-model
hard|soft|tied|tied-uniform`` (a Dawid–Skene model of the keyword and answering-department sources fitted by
EM per fold on the pool, anchored by the fold's labelled rows; its posteriors label and weight the weak
examples), ``--weak-filter agree|keywords|department`` (drop the disagreements; let the keywords win them;
the department's labels alone), ``--reply-keywords`` (the keyword rule on the reply where it names no known
department) and ``--keyword-precision`` (keyword labels weighted by the rule's precision on the fold's
labelled rows).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import classification_report, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from gongzhi.modules.intake.analytics import classifier as clf
from gongzhi.modules.intake.analytics.text import clean

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "src/gongzhi/modules/intake/data/seed_categories.json"
# Which department answered, from the first lines of the government's reply → that department's category.
ANSWERING_DEPARTMENT = [
    (r"教育局|教育体育局|教体局", "教育文体"),
    (r"人社局|人力资源和社会保障局|劳动保障监察|社保局|医疗保障局|医保局", "劳动和社会保障"),
    (r"卫健|卫生健康|卫生和计划生育|卫计|疾控|卫生局", "卫生计生"),
    (r"交通运输局|交通局|运管|公交公司", "交通运输"),
    (r"市场监督管理|市场监管|工商|旅游|物价|食药|商务局|文旅", "商贸旅游"),
    (r"环保局|环境保护局|生态环境", "环境保护"),
    (r"住建|住房和城乡建设|城管|规划局|规划分局|房产|住房保障|市政|房屋征收|不动产", "城乡建设"),
    (r"公安|派出所|交警", "政法"),
    (r"民政", "民政"),
    (r"农业|林业|水利|扶贫", "农村农业"),
    (r"国土|自然资源", "国土资源"),
    (r"发改|发展和改革|财政局|税务|金融", "经济管理"),
    (r"纪委|监委", "纪检监察"),
]


def default_data() -> Path:
    """``../shared/data/teddy2020`` beside the main checkout or beside the worktrees' folder."""
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared/data/teddy2020").is_dir():
            return base / "shared/data/teddy2020"
    return ROOT.parent / "shared/data/teddy2020"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def answering_category(reply: str) -> str | None:
    head, best, pos = reply[:300], None, 10**9
    for pattern, category in ANSWERING_DEPARTMENT:
        m = re.search(pattern, head)
        if m and m.start() < pos:
            best, pos = category, m.start()
    return best


def load_seeds(tree: Path | None = None) -> list[clf.CategorySeed]:
    """The shipped keyword tree; with ``tree``, each category also gets the names of its second- and
    third-level categories as keywords, as a region does when it enters its own category tree."""
    data = json.loads(SEEDS.read_text(encoding="utf-8"))
    extra: dict[str, set[str]] = {}
    if tree is not None:
        for row in read(tree):
            for name in (row["二级分类"], row["三级分类"]):
                for part in re.split(r"[、，,/和及与]", name or ""):
                    if len(part) >= 2 and part != "其他":
                        extra.setdefault(row["一级分类"], set()).add(part)
    return [
        clf.CategorySeed(
            c["name"], c["name"], (*c["keywords"], *sorted(extra.get(c["name"], set()) - set(c["keywords"])))
        )
        for c in data["categories"]
    ]


@dataclass(frozen=True)
class Config:
    """Training choices of one router (the defaults are the shipped ones)."""

    c: float = 0.3
    weak_weight: float = 0.3
    answer_weight: float | None = None  # weight of answered-department labels; None: weak_weight
    keyword_boost: float = clf.KEYWORD_BOOST
    offered_only: bool = False  # weak examples only of the categories the labelled rows use
    learner: str = "svm"  # svm (LinearSVC) | nbsvm | lr (LogisticRegression) | sgd (modified Huber)
    nb_beta: float = 1.0  # NBSVM interpolation towards the mean weight (Wang & Manning's beta)
    balance_weak: bool = False  # weak examples reweighted so every category's weak total is the same
    subject_block: float = 1.0  # scale of the subject-only TF-IDF columns, folded into the weights
    keyword_block: float = 1.0  # scale of the keyword-hit columns, folded into the weights
    lsa: int = 0  # k of the LSA block learnt from the unlabelled pool (0: none), folded into the weights
    ppmi: int = 0  # k of PPMI character embeddings from the pool (0: none), a block folded likewise
    prototypes: bool = False  # label-tree prototypes in the pool's LSA space (k 200), a block folded likewise


# Candidates of --nested, fixed before any outer figure of them was seen.
GRID = (
    Config(offered_only=True),
    Config(c=1.0, offered_only=True),
    Config(c=0.1, offered_only=True),
    Config(weak_weight=0.6, offered_only=True),
    Config(keyword_boost=2.0, offered_only=True),
)

# Candidates of --nested --grid wide (fourth round), fixed before any nested outer figure of them was seen:
# the shipped config, NBSVM, SGD, class-balanced weak labels and the blocks' weights. (LogisticRegression,
# ``--learner lr``, is left out: on 135,000 columns its fits cost minutes each, and it scored 0.810 fixed.)
WIDE = (
    Config(),
    Config(learner="nbsvm"),
    Config(learner="nbsvm", nb_beta=0.25),
    Config(c=1.0, learner="nbsvm", nb_beta=0.25),
    Config(subject_block=0.5),
    Config(keyword_block=2.0),
    Config(balance_weak=True),
    Config(learner="sgd"),
    Config(keyword_boost=0.0),
    Config(answer_weight=0.6),
)

# subject, text, category, labelled by the answering department, scale of the example's weak weight
Weak = list[tuple[str, str, str, bool, float]]


def fit(
    seeds: list[clf.CategorySeed],
    feat: clf.Featurizer,
    labelled: list[clf.Example],
    weak: Weak,
    cfg: Config,
    lsa: Lsa | None = None,
) -> clf.Router:
    offered = {e.code for e in labelled}
    extra = []
    for s, t, code, answered, scale in weak:
        if cfg.offered_only and code not in offered:
            continue
        w = cfg.answer_weight if answered and cfg.answer_weight is not None else cfg.weak_weight
        extra.append(clf.Example(s, t, code, w * scale))
    if cfg.balance_weak:
        extra = balanced(extra)
    examples = [*labelled, *extra]
    if cfg.learner == "svm" and cfg.subject_block == cfg.keyword_block == 1.0 and lsa is None:
        router = clf.train(seeds, examples, featurizer=feat, c=cfg.c)
    else:
        router = train_variant(seeds, feat, examples, cfg, lsa)
    return replace(router, keyword_boost=cfg.keyword_boost)


def balanced(weak: list[clf.Example]) -> list[clf.Example]:
    """``weak`` reweighted so that every category's weak examples weigh as much in total (their mean)."""
    counts = Counter(e.code for e in weak)
    mean = len(weak) / max(len(counts), 1)
    return [replace(e, weight=e.weight * mean / counts[e.code]) for e in weak]


def block_scale(feat: clf.Featurizer, cfg: Config) -> npt.NDArray[np.float64]:
    """Per-column scale of the feature matrix: 1 on the body block, then the subject and keyword blocks'."""
    nb, ns = len(feat.keys), len(feat.subject_keys)
    scale = np.ones(feat.width)
    scale[nb : nb + ns], scale[nb + ns :] = cfg.subject_block, cfg.keyword_block
    return scale


@dataclass(frozen=True)
class Lsa:
    """An LSA projection of the body TF-IDF block: z = scale · P x (P [k × body vocabulary])."""

    components: npt.NDArray[np.float64]
    scale: float


def learn_lsa(feat: clf.Featurizer, corpus: list[tuple[str, str]], k: int) -> Lsa:
    """TruncatedSVD (randomized, 5 power iterations, seed 0) of the body TF-IDF rows of ``corpus`` (texts
    only, no labels); scale 1 / median ‖P x‖ over the corpus, so a typical block has norm 1."""
    x = body_rows(feat, corpus)
    return scaled(lsa_components(x, k), x)


def body_rows(feat: clf.Featurizer, docs: list[tuple[str, str]]) -> Any:
    return feat.matrix(docs)[0][:, : len(feat.keys)].tocsr()


def lsa_components(x: Any, k: int) -> npt.NDArray[np.float64]:
    from sklearn.decomposition import TruncatedSVD

    svd = TruncatedSVD(k, algorithm="randomized", n_iter=5, random_state=0).fit(x)
    return np.asarray(svd.components_, dtype=np.float64)


def scaled(p: npt.NDArray[np.float64], x: Any) -> Lsa:
    """The map ``p`` with the scale 1 / median ‖p x‖ over the rows of ``x``."""
    norms = np.linalg.norm(np.asarray(x @ p.T), axis=1)
    return Lsa(p, float(1.0 / np.median(norms[norms > 0])))


def learn_ppmi(feat: clf.Featurizer, corpus: list[tuple[str, str]], k: int) -> Lsa:
    """Character embeddings U√Σ of the TruncatedSVD (k, seed 0) of the positive PMI of characters at distance
    1 or 2 in ``corpus`` (context-distribution smoothing 0.75; Levy, Goldberg & Dagan 2015), as a map of
    the body row: its unigram TF-IDF weights times their characters' vectors."""
    from scipy.sparse import coo_matrix
    from sklearn.decomposition import TruncatedSVD

    ucols = np.flatnonzero(feat.keys < (1 << 21))  # unigram ids are code points, bigram ids ≥ 2**21
    chars, n = feat.keys[ucols], len(ucols)
    b = clf.batch(corpus)
    at = np.minimum(np.searchsorted(chars, b.body), n - 1)
    ci = np.where(chars[at] == b.body, at, -1)
    rows, cols = [], []
    for d in (1, 2):
        ok = (b.body_doc[d:] == b.body_doc[:-d]) & (ci[d:] >= 0) & (ci[:-d] >= 0)
        rows += [ci[:-d][ok], ci[d:][ok]]
        cols += [ci[d:][ok], ci[:-d][ok]]
    r, c = np.concatenate(rows), np.concatenate(cols)
    counts = coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n)).tocsr()
    counts.sum_duplicates()
    cc = counts.tocoo()
    p_word = np.asarray(counts.sum(axis=1)).ravel() / counts.sum()
    ctx = np.asarray(counts.sum(axis=0)).ravel() ** 0.75
    pmi = np.log(cc.data / counts.sum() / (p_word[cc.row] * ctx[cc.col] / ctx.sum()))
    keep = pmi > 0
    ppmi = coo_matrix((pmi[keep], (cc.row[keep], cc.col[keep])), shape=(n, n)).tocsr()
    svd = TruncatedSVD(k, algorithm="randomized", n_iter=5, random_state=0)
    vectors = svd.fit_transform(ppmi) / np.sqrt(svd.singular_values_)  # UΣ / √Σ = U√Σ
    p = np.zeros((k, len(feat.keys)))
    p[:, ucols] = vectors.T
    return scaled(p, body_rows(feat, corpus))


def learn_prototypes(
    feat: clf.Featurizer, corpus: list[tuple[str, str]], names: dict[str, str], k: int = 200
) -> Lsa:
    """Label-tree prototypes in the LSA space of ``corpus``: one column per category c, (P x) · u_c with
    u_c = P t_c / ‖P t_c‖ and t_c the body row of the category's sub-category names; as a map, u_c P."""
    x = body_rows(feat, corpus)
    p = lsa_components(x, k)
    t = np.asarray(body_rows(feat, [("", names[c]) for c in sorted(names)]) @ p.T)
    u = t / np.linalg.norm(t, axis=1, keepdims=True)
    return scaled(u @ p, x)


def tree_names(tree: Path) -> dict[str, str]:
    """Each first-level category of the label tree → its second- and third-level names, joined."""
    out: dict[str, list[str]] = {}
    for row in read(tree):
        for name in (row["二级分类"], row["三级分类"]):
            if name and name not in out.setdefault(row["一级分类"], []):
                out[row["一级分类"]].append(name)
    return {c: " ".join(v) for c, v in out.items()}


def fold_lsa(coef: npt.NDArray[np.float64], lsa: Lsa, width: int) -> npt.NDArray[np.float64]:
    """Weights [width × classes] of the features alone that score as ``coef`` does on (x, s P x): the LSA
    block's weights v join the body columns (the first ones) as s Pᵀ v."""
    out, extra = coef[:width].copy(), coef[width:]
    out[: lsa.components.shape[1]] += lsa.scale * (lsa.components.T @ extra)
    return out


def train_variant(
    seeds: list[clf.CategorySeed],
    feat: clf.Featurizer,
    examples: list[clf.Example],
    cfg: Config,
    lsa: Lsa | None = None,
) -> clf.Router:
    """``clf.train`` with another learner, block scales or an LSA block; all fold into an ordinary router's
    weights (score = (x ⊙ scale) · w = x · (scale ⊙ w); the LSA block's s P x · v = x · (s Pᵀ v) on the body
    columns), so prediction is unchanged and costs the same."""
    from scipy.sparse import csr_matrix, diags, hstack

    docs = [*examples, *(clf.Example(s.name, " ".join(s.keywords), s.code) for s in seeds)]
    scale = block_scale(feat, cfg)
    x = (feat.matrix([(d.subject, d.text) for d in docs])[0] @ diags(scale)).tocsr()
    nb = len(feat.keys)
    if lsa is not None:
        z = np.asarray(x[:, :nb] @ lsa.components.T) * lsa.scale
        x = hstack([x, csr_matrix(z)], format="csr")
    y = np.array([d.code for d in docs])
    classes = tuple(sorted(set(y.tolist())))
    coef, bias = learn(cfg, x, y, np.array([d.weight for d in docs]), classes)
    if lsa is not None:
        coef = fold_lsa(coef, lsa, feat.width)
    weights = np.ascontiguousarray(scale[:, None] * coef, dtype=np.float32)
    return clf.Router(feat, tuple(seeds), classes, weights, bias.astype(np.float32))


def learn(
    cfg: Config, x: Any, y: npt.NDArray[np.str_], w: npt.NDArray[np.float64], classes: tuple[str, ...]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Weights [features × classes] and biases of ``cfg.learner`` fitted one-vs-rest on (x, y, w)."""
    if cfg.learner == "nbsvm":
        return nbsvm(x, y, w, classes, cfg.c, cfg.nb_beta)
    model: LinearSVC | LogisticRegression | SGDClassifier
    if cfg.learner == "svm":
        model = LinearSVC(C=cfg.c, random_state=0)
    elif cfg.learner == "lr":
        model = LogisticRegression(C=cfg.c, max_iter=3000)
    elif cfg.learner == "sgd":
        model = SGDClassifier(loss="modified_huber", alpha=1e-4, max_iter=50, tol=None, random_state=0)
    else:
        raise ValueError(f"unknown learner {cfg.learner!r}")
    model.fit(x, y, sample_weight=w)
    order = [list(model.classes_).index(c) for c in classes]
    return np.asarray(model.coef_[order].T, dtype=np.float64), np.asarray(model.intercept_[order])


def nb_ratios(
    x: Any, y: npt.NDArray[np.str_], w: npt.NDArray[np.float64], classes: tuple[str, ...], alpha: float = 1.0
) -> npt.NDArray[np.float64]:
    """Log-count ratios r [features × classes] of binarised features, one class against the rest, with
    weighted counts and smoothing ``alpha`` (Wang & Manning 2012, eq. 2)."""
    xb = x.copy()
    xb.data[:] = 1.0
    out = np.zeros((x.shape[1], len(classes)))
    for j, c in enumerate(classes):
        mine = y == c
        p = alpha + np.asarray(xb[mine].T @ w[mine]).ravel()
        q = alpha + np.asarray(xb[~mine].T @ w[~mine]).ravel()
        out[:, j] = np.log((p / p.sum()) / (q / q.sum()))
    return out


def nbsvm(
    x: Any,
    y: npt.NDArray[np.str_],
    w: npt.NDArray[np.float64],
    classes: tuple[str, ...],
    c: float,
    beta: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """NBSVM (Wang & Manning 2012): per class, a binary linear SVM on the features scaled by that class's
    log-count ratios, its weights interpolated towards their mean magnitude by ``beta``; returned in the
    unscaled feature space (r ⊙ w), so a router applies it to its ordinary features."""
    from scipy.sparse import diags

    r = nb_ratios(x, y, w, classes)
    coef, bias = np.zeros_like(r), np.zeros(len(classes))
    for j, code in enumerate(classes):
        svm = LinearSVC(C=c, random_state=0).fit(x @ diags(r[:, j]), y == code, sample_weight=w)
        wj = svm.coef_[0]
        if beta < 1.0:
            wj = (1.0 - beta) * np.abs(wj).mean() + beta * wj
        coef[:, j], bias[j] = r[:, j] * wj, svm.intercept_[0]
    return coef, bias


def select(
    seeds: list[clf.CategorySeed],
    feat: clf.Featurizer,
    labelled: list[clf.Example],
    weak: Weak,
    folds: int,
    seed: int,
    grid: tuple[Config, ...] = GRID,
) -> tuple[Config, list[float]]:
    """The grid's config with the best inner-CV macro-F1 on ``labelled`` (the outer training rows only)."""
    y = np.array([e.code for e in labelled])
    offered = sorted(set(y.tolist()))
    scores = []
    for cfg in grid:
        pred = np.empty(len(y), dtype=object)
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(y, y):
            router = fit(seeds, feat, [labelled[i] for i in tr], weak, cfg)
            docs = [(labelled[i].subject, labelled[i].text) for i in te]
            pred[te] = [p.code for p in router.predict_many(docs, allowed=offered)]
        scores.append(float(f1_score(y, pred.astype(str), average="macro")))
    return grid[int(np.argmax(scores))], scores


def self_train(
    router: clf.Router, pool: list[tuple[str, str]], weak: Weak, offered: list[str], per_class: int
) -> Weak:
    """``weak`` with the ``per_class`` unlabelled messages of each offered category that ``router`` ranks
    there with the largest margin (best minus second score) as pseudo-labels (one round, balanced)."""
    cols = [router.classes.index(c) for c in offered]
    scores = router.scores_batch(pool)[:, cols]
    ordered = np.sort(scores, axis=1)
    margin, best = ordered[:, -1] - ordered[:, -2], scores.argmax(axis=1)
    pseudo: dict[tuple[str, str], str] = {}
    for j, code in enumerate(offered):
        mine = (best == j).nonzero()[0]
        for i in mine[np.argsort(-margin[mine], kind="stable")][:per_class].tolist():
            pseudo[pool[i]] = code
    kept = [w for w in weak if (w[0], w[1]) not in pseudo]
    return kept + [(s, t, code, False, 1.0) for (s, t), code in pseudo.items()]


# --- sixth round: the weak labels' quality (label model) ------------------------------------------------


@dataclass(frozen=True)
class LabelModel:
    """A Dawid–Skene model of the weak sources: class prior and one confusion matrix per source.

    ``confusion[j][c, o]`` = P(source j outputs o | true class c); outputs 0 … K-1 name a class, K is the
    source's abstention. ``posterior`` [messages × K] is P(class | the messages' outputs).
    """

    prior: npt.NDArray[np.float64]
    confusion: tuple[npt.NDArray[np.float64], ...]
    posterior: npt.NDArray[np.float64]
    iterations: int


def dawid_skene(
    votes: npt.NDArray[np.int64],
    k: int,
    anchor_votes: npt.NDArray[np.int64],
    anchor_y: npt.NDArray[np.int64],
    *,
    smoothing: float = 1.0,
    diagonal: float = 5.0,
    max_iter: int = 200,
    tol: float = 1e-6,
    tied: bool = False,
    uniform_prior: bool = False,
) -> LabelModel:
    """EM estimate of each source's per-class confusion and of the messages' class posteriors
    (Dawid & Skene 1979), the sources conditionally independent given the class.

    ``votes`` [messages × sources]: a class 0 … k-1, k for an abstention, -1 where the source was not
    observed (it contributes nothing). ``anchor_votes``/``anchor_y``: messages whose class is known (the
    fold's labelled training rows); their outputs join the confusion counts with that class, not the prior.
    Dirichlet smoothing: ``smoothing`` on every cell, ``diagonal`` more on the correct output. EM starts
    from the vote shares (a uniform row where no source names a class). ``tied``: one accuracy per source
    (when it names a class, the right one with probability a_j, each wrong one with (1 - a_j) / (k - 1)),
    with a per-class abstention rate, instead of a free confusion matrix. ``uniform_prior``: the class prior
    is held uniform instead of estimated, so a message's posterior weighs only its sources' outputs.
    """
    n, m = votes.shape
    t = np.full((n, k), 1e-3)
    for j in range(m):
        named = (votes[:, j] >= 0) & (votes[:, j] < k)
        t[named.nonzero()[0], votes[named, j]] += 1.0
    t /= t.sum(axis=1, keepdims=True)
    anchor = np.zeros((len(anchor_y), k))
    anchor[np.arange(len(anchor_y)), anchor_y] = 1.0
    dirichlet = np.full((k, k + 1), smoothing)
    dirichlet[np.arange(k), np.arange(k)] += diagonal
    prior, conf = np.full(k, 1.0 / k), tuple(dirichlet for _ in range(m))
    it, done = 0, False
    while not done and it < max_iter:
        it += 1
        if not uniform_prior:
            prior = (t.sum(axis=0) + 1.0) / (n + k)
        counts = [
            dirichlet + _confusion(t, votes[:, j], k) + _confusion(anchor, anchor_votes[:, j], k)
            for j in range(m)
        ]
        conf = tuple(_tie(c) if tied else c / c.sum(axis=1, keepdims=True) for c in counts)
        log = np.tile(np.log(prior), (n, 1))
        for j in range(m):
            seen = votes[:, j] >= 0
            log[seen] += np.log(conf[j][:, votes[seen, j]]).T
        new = np.exp(log - log.max(axis=1, keepdims=True))
        new /= new.sum(axis=1, keepdims=True)
        done, t = float(np.abs(new - t).max()) < tol, new
    return LabelModel(prior, conf, t, it)


def _tie(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The one-accuracy confusion matrix [k × k+1] that fits ``counts`` (abstention rates per class)."""
    k = counts.shape[0]
    abstain = counts[:, k] / counts.sum(axis=1)
    acc = float(np.trace(counts[:, :k]) / counts[:, :k].sum())
    out = np.empty_like(counts)
    out[:, :k] = (1.0 - abstain)[:, None] * (1.0 - acc) / (k - 1)
    out[np.arange(k), np.arange(k)] = (1.0 - abstain) * acc
    out[:, k] = abstain
    return out


def _confusion(t: npt.NDArray[np.float64], out: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.float64]:
    """Expected counts [k × k+1] of (class, output) under the posteriors ``t``; unobserved outputs skipped."""
    c = np.zeros((k, k + 1))
    for o in np.unique(out[out >= 0]).tolist():
        c[:, o] += t[out == o].sum(axis=0)
    return c


def weak_from_label_model(
    unlabelled: list[tuple[tuple[str, str], str | None]],
    by_keywords: list[str | None],
    replied: set[tuple[str, str]],
    seeds: list[clf.CategorySeed],
    anchor_keywords: list[str | None],
    anchor_y: list[str],
    soft: bool,
    tied: bool = False,
    uniform_prior: bool = False,
) -> tuple[Weak, LabelModel]:
    """Weak examples from the label model's posteriors over the seed categories.

    Sources: the keyword rule (``clf.weak_labels``) on every message, the answering department on the
    messages that have a reply (an abstention when no department was recognised, unobserved without a
    reply). The messages where at least one source names a class become examples (as the shipped weak
    labels): hard, the posterior's argmax with weight scale q_max / mean q_max (so the mean weak weight stays
    the shipped one); ``soft``, one example per class with posterior ≥ 0.1, weight scale the posterior.
    """
    index = {s.code: i for i, s in enumerate(seeds)}
    k = len(seeds)

    def vote(code: str | None) -> int:
        return k if code is None else index[code]

    votes = np.array(
        [
            [vote(kw), vote(dept) if st in replied else -1]
            for (st, dept), kw in zip(unlabelled, by_keywords, strict=True)
        ],
        dtype=np.int64,
    ).reshape(len(unlabelled), 2)
    anchor = np.array([[vote(kw), -1] for kw in anchor_keywords], dtype=np.int64).reshape(-1, 2)
    lm = dawid_skene(
        votes,
        k,
        anchor,
        np.array([index[c] for c in anchor_y], dtype=np.int64),
        tied=tied,
        uniform_prior=uniform_prior,
    )
    named = ((votes >= 0) & (votes < k)).any(axis=1)
    rows = named.nonzero()[0]
    q = lm.posterior
    weak: Weak = []
    if soft:
        for i in rows.tolist():
            (s, t), dept = unlabelled[i]
            for c in (q[i] >= 0.1).nonzero()[0].tolist():
                weak.append((s, t, seeds[c].code, dept is not None, float(q[i, c])))
        return weak, lm
    best, qmax = q[rows].argmax(axis=1), q[rows].max(axis=1)
    mean = float(qmax.mean())
    for i, c, p in zip(rows.tolist(), best.tolist(), qmax.tolist(), strict=True):
        (s, t), dept = unlabelled[i]
        weak.append((s, t, seeds[c].code, dept is not None, p / mean))
    return weak, lm


def source_summary(lm: LabelModel, seeds: list[clf.CategorySeed], names: tuple[str, ...]) -> str:
    """Each source's estimated accuracy when it names a class, and its largest off-diagonal confusions."""
    k = len(seeds)
    parts = []
    for name, conf in zip(names, lm.confusion, strict=True):
        joint = lm.prior[:, None] * conf[:, :k]
        acc = float(np.trace(joint) / joint.sum())
        off = joint / joint.sum()
        np.fill_diagonal(off, 0.0)
        top = np.argsort(-off, axis=None)[:3]
        worst = ", ".join(
            f"{seeds[o].code}←{seeds[c].code} {off[c, o]:.3f}"
            for c, o in zip(*np.unravel_index(top, off.shape), strict=True)
        )
        parts.append(f"{name} accuracy {acc:.2f} (largest errors, output←class: {worst})")
    return "; ".join(parts)


def router_proba(
    router: clf.Router, docs: list[tuple[str, str]], offered: list[str]
) -> npt.NDArray[np.float64]:
    """The router's temperature softmax over the offered categories [documents × offered]."""
    cols = [router.classes.index(c) for c in offered]
    z = router.scores_batch(docs)[:, cols].astype(np.float64) * router.temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(p / p.sum(axis=1, keepdims=True))


def ensemble_proba(
    train_docs: list[str], y: npt.NDArray[np.str_], test_docs: list[str], offered: list[str]
) -> list[npt.NDArray[np.float64]]:
    """Sigmoid-calibrated (inner 3-fold) probabilities of TF-IDF char 1–3-gram logistic regression and of
    complement naive Bayes, trained on ``train_docs`` only; columns in ``offered`` order."""
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    x, xt = vec.fit_transform(train_docs), vec.transform(test_docs)
    out = []
    for model in (LogisticRegression(C=10.0, max_iter=2000), ComplementNB(alpha=0.3)):
        cal = CalibratedClassifierCV(model, method="sigmoid", cv=3).fit(x, y)
        p = cal.predict_proba(xt)
        out.append(p[:, [list(cal.classes_).index(c) for c in offered]])
    return out


def out_of_fold_scores(
    seeds: list[clf.CategorySeed],
    feat: clf.Featurizer,
    labelled: list[clf.Example],
    weak: Weak,
    cfg: Config,
    folds: int,
    seed: int,
) -> tuple[tuple[str, ...], npt.NDArray[np.float32]]:
    """Class scores of every row of ``labelled`` by a router trained on the other inner folds."""
    y = np.array([e.code for e in labelled])
    out: npt.NDArray[np.float32] | None = None
    classes: tuple[str, ...] = ()
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(y, y):
        router = fit(seeds, feat, [labelled[i] for i in tr], weak, cfg)
        classes = router.classes
        if out is None:
            out = np.zeros((len(y), len(classes)), dtype=np.float32)
        out[te] = router.scores_batch([(labelled[i].subject, labelled[i].text) for i in te])
    assert out is not None
    return classes, out


def prior_offsets(
    scores: npt.NDArray[np.float32], y: npt.NDArray[np.str_], classes: tuple[str, ...], offered: list[str]
) -> npt.NDArray[np.float32]:
    """Per-class score offsets that maximise macro-F1 of out-of-fold ``scores`` (prior correction).

    Coordinate ascent over the offered classes, offsets in [-1, 1] by 0.05, two passes; a tie keeps the
    offset nearest 0. Fixed before any outer figure of it was computed.
    """
    cols = [classes.index(c) for c in offered]
    sub = scores[:, cols].astype(np.float64)
    names = np.array(offered)
    off = np.zeros(len(cols))
    steps = np.round(np.arange(-1.0, 1.0001, 0.05), 2)
    steps = steps[np.argsort(np.abs(steps), kind="stable")]

    def macro(o: npt.NDArray[np.float64]) -> float:
        return float(f1_score(y, names[(sub + o).argmax(axis=1)], average="macro"))

    for _ in range(2):
        for j in range(len(cols)):
            best, best_f1 = off[j], -1.0
            for d in steps:
                trial = off.copy()
                trial[j] = d
                f = macro(trial)
                if f > best_f1 + 1e-12:
                    best, best_f1 = d, f
            off[j] = best
    full = np.zeros(len(classes), dtype=np.float32)
    full[cols] = off
    return full


def confusions(y: npt.NDArray[np.str_], pred: npt.NDArray[np.str_], top: int = 8) -> str:
    """The most frequent (true → predicted) errors."""
    pairs = Counter((a, b) for a, b in zip(y.tolist(), pred.tolist(), strict=True) if a != b)
    return "; ".join(f"{a} → {b} {n}" for (a, b), n in pairs.most_common(top))


def shipped_weak(
    unlabelled: list[tuple[tuple[str, str], str | None]], by_keywords: list[str | None], filter_: str
) -> Weak:
    """The shipped weak labels: the answering department's category, else the keywords' (``filter_``
    "agree": without the messages where both name a category and they differ; "keywords": the keywords'
    category first, the department's where the keywords name none; "department": the department's alone)."""
    weak: Weak = []
    for ((s, t), answered), kw in zip(unlabelled, by_keywords, strict=True):
        if filter_ == "agree" and answered is not None and kw is not None and answered != kw:
            continue
        if filter_ == "department":
            kw = None
        code = (kw or answered) if filter_ == "keywords" else (answered or kw)
        if code is not None:
            weak.append((s, t, code, answered is not None, 1.0))
    return weak


def keyword_precision(
    weak: Weak, by_keywords_train: list[str | None], y_train: list[str]
) -> tuple[Weak, dict[str, float]]:
    """``weak`` with each keyword-labelled example (no department label) weighted by the keyword rule's
    precision for its category on the fold's labelled training rows, (right + 1) / (named + 2); a category
    the rule never names there gets the rule's overall precision. Scaled so that the keyword-labelled
    examples' mean weight stays the same."""
    named = Counter(c for c in by_keywords_train if c is not None)
    right = Counter(c for c, t in zip(by_keywords_train, y_train, strict=True) if c is not None and c == t)
    overall = (sum(right.values()) + 1) / (sum(named.values()) + 2)
    prec = {c: (right[c] + 1) / (named[c] + 2) for c in named}
    by_kw = [prec.get(code, overall) for _, _, code, answered, _ in weak if not answered]
    mean = float(np.mean(by_kw)) if by_kw else 1.0
    out: Weak = [
        (s, t, code, answered, scale if answered else scale * prec.get(code, overall) / mean)
        for s, t, code, answered, scale in weak
    ]
    return out, {c: round(v, 2) for c, v in sorted(prec.items(), key=lambda kv: -kv[1])}


def changed(before: Weak, after: Weak) -> str:
    """How many messages the label model labels otherwise than the shipped rule, and the weights' spread."""
    old = {(s, t): c for s, t, c, _, _ in before}
    new: dict[tuple[str, str], tuple[str, float]] = {}
    for s, t, c, _, w in after:
        if (s, t) not in new or w > new[(s, t)][1]:
            new[(s, t)] = (c, w)
    moved = Counter((old[st], c) for st, (c, _) in new.items() if st in old and old[st] != c)
    scales = np.array([w for *_, w in after])
    return (
        f"{len(after)} weak examples ({len(new)} messages), {sum(moved.values())} relabelled "
        f"(top {', '.join(f'{a}→{b} {n}' for (a, b), n in moved.most_common(4))}); weight scale "
        f"p10/p50/p90 {np.percentile(scales, 10):.2f}/{np.median(scales):.2f}/{np.percentile(scales, 90):.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weak-weight", type=float, default=0.3)
    ap.add_argument("--threshold", type=float, default=0.55)
    ap.add_argument("--answer-weight", type=float, default=None, help="weight of answered-department labels")
    ap.add_argument("--c", type=float, default=0.3)
    ap.add_argument("--label-tree", action=argparse.BooleanOptionalAction, default=False)
    ap.add_argument(
        "--nested",
        action="store_true",
        help="choose the config per outer fold from GRID by an inner 3-fold CV on its training rows",
    )
    ap.add_argument(
        "--grid",
        choices=("round2", "wide"),
        default="round2",
        help="the --nested candidates: GRID (second round) or WIDE (fourth round: NBSVM, learners, blocks)",
    )
    ap.add_argument("--learner", choices=("svm", "nbsvm", "lr", "sgd"), default="svm")
    ap.add_argument("--nb-beta", type=float, default=1.0, help="NBSVM interpolation (1: plain NBSVM)")
    ap.add_argument(
        "--balance-weak", action="store_true", help="every category's weak examples weigh the same"
    )
    ap.add_argument("--keyword-block", type=float, default=1.0, help="scale of the keyword-hit columns")
    ap.add_argument("--keyword-boost", type=float, default=clf.KEYWORD_BOOST)
    ap.add_argument(
        "--labelled-weight",
        type=float,
        default=1.0,
        help="weight of the fold's labelled training rows (0: a diagnostic router of the keyword tree and "
        "weak labels alone)",
    )
    ap.add_argument(
        "--lsa",
        type=int,
        default=0,
        metavar="K",
        help="append a K-dimensional LSA block (TruncatedSVD of the body TF-IDF of the fold's unlabelled "
        "pool and training texts, held-out texts excluded), folded into the body weights",
    )
    ap.add_argument(
        "--ppmi",
        type=int,
        default=0,
        metavar="K",
        help="append K-dimensional PPMI character embeddings of the same corpus (TF-IDF-weighted sum)",
    )
    ap.add_argument(
        "--prototypes",
        action="store_true",
        help="append the label tree's categories as prototypes in the same corpus's LSA space (k 200)",
    )
    ap.add_argument(
        "--self-train",
        type=int,
        default=0,
        metavar="K",
        help="one round of self-training: each fold's router pseudo-labels its K surest unlabelled messages "
        "per category (largest margin), which join the weak examples",
    )
    ap.add_argument(
        "--subject-weight",
        type=float,
        default=clf.SUBJECT_WEIGHT,
        help="weight of the subject-only TF-IDF block against the subject + text block",
    )
    ap.add_argument(
        "--ensemble",
        action="store_true",
        help="mean of the router softmax and calibrated char 1-3 TF-IDF LogisticRegression and ComplementNB",
    )
    ap.add_argument(
        "--prior-correction",
        action="store_true",
        help="per-class score offsets fitted to macro-F1 by an inner 3-fold CV on each fold's training rows",
    )

    ap.add_argument(
        "--label-model",
        choices=("none", "hard", "soft", "tied", "tied-uniform"),
        default="none",
        help="weak labels from a Dawid-Skene label model of the keyword and answering-department sources, "
        "fitted per fold by EM on the unlabelled pool anchored by the fold's labelled rows: the posterior's "
        "argmax weighted by its confidence (hard) or one example per likely class (soft); tied: hard with "
        "one accuracy per source instead of a confusion matrix; tied-uniform: tied, uniform class prior",
    )
    ap.add_argument(
        "--weak-filter",
        choices=("none", "agree", "keywords", "department"),
        default="none",
        help="agree: drop the weak examples whose keyword and answering-department labels disagree; "
        "keywords: where they disagree, keep the keywords' category (shipped: the department's); "
        "department: the department's labels alone (a diagnostic)",
    )
    ap.add_argument(
        "--keyword-precision",
        action="store_true",
        help="weight each keyword-labelled weak example by the keyword rule's precision for its category "
        "on the fold's labelled training rows",
    )
    ap.add_argument(
        "--reply-keywords",
        action="store_true",
        help="where a reply names no department the map knows, the keyword rule on the reply's text stands "
        "for the department",
    )

    args = ap.parse_args()
    clf.SUBJECT_WEIGHT = args.subject_weight  # read at every featurisation, batch and single paths alike

    if not (args.data / "messages_labelled_train.csv").exists():
        raise SystemExit(f"no teddy2020 data in {args.data}: pass --data (see shared/data/teddy2020)")
    labelled = read(args.data / "messages_labelled_train.csv")
    subjects = [clean(r["留言主题"]) for r in labelled]
    texts = [clean(r["留言详情"]) for r in labelled]
    y = np.array([r["一级分类"] for r in labelled])
    seen = {(s, t) for s, t in zip(subjects, texts, strict=True)}
    pool: dict[tuple[str, str], str | None] = {}
    for r in read(args.data / "messages_with_votes.csv"):
        pool.setdefault((clean(r["留言主题"]), clean(r["留言详情"])), None)
    replied: set[tuple[str, str]] = set()
    replies: dict[tuple[str, str], str] = {}
    for r in read(args.data / "messages_with_replies.csv"):
        pool[(clean(r["留言主题"]), clean(r["留言详情"]))] = answering_category(r["答复意见"])
        replied.add((clean(r["留言主题"]), clean(r["留言详情"])))
        replies[(clean(r["留言主题"]), clean(r["留言详情"]))] = clean(r["答复意见"])
    unlabelled = [(k, v) for k, v in pool.items() if k not in seen]
    seeds = load_seeds(args.data / "label_tree.csv" if args.label_tree else None)
    offered = sorted(set(y.tolist()))
    fixed = Config(
        args.c,
        args.weak_weight,
        args.answer_weight,
        args.keyword_boost,
        learner=args.learner,
        nb_beta=args.nb_beta,
        balance_weak=args.balance_weak,
        keyword_block=args.keyword_block,
        lsa=args.lsa,
        ppmi=args.ppmi,
        prototypes=args.prototypes,
    )
    grid, grid_name = (WIDE, "WIDE") if args.grid == "wide" else (GRID, "GRID")
    print(f"labelled {len(y)} in {len(offered)} categories; unlabelled {len(unlabelled)}; seeds {len(seeds)}")
    print(
        f"label noise: {label_conflicts(subjects, texts, y)} texts labelled twice with different categories"
    )

    cv = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    base_pred = np.empty(len(y), dtype=object)
    ours_pred = np.empty(len(y), dtype=object)
    conf = np.zeros(len(y))
    routers: list[clf.Router] = []
    t0 = time.perf_counter()
    for k, (tr, te) in enumerate(cv.split(texts, y), 1):
        docs = [f"{subjects[i]} {texts[i]}" for i in range(len(y))]
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
        svm = LinearSVC().fit(vec.fit_transform([docs[i] for i in tr]), y[tr])
        base_pred[te] = svm.predict(vec.transform([docs[i] for i in te]))

        corpus = [(subjects[i], texts[i]) for i in tr] + [st for st, _ in unlabelled]
        feat = clf.build_featurizer(seeds, corpus)
        examples = [clf.Example(subjects[i], texts[i], str(y[i]), args.labelled_weight) for i in tr]
        by_kw = clf.weak_labels(feat, seeds, [st for st, _ in unlabelled])
        if args.reply_keywords:
            by_reply = clf.weak_labels(feat, seeds, [("", replies.get(st, "")) for st, _ in unlabelled])
            unlabelled_k = [(st, dept or r) for (st, dept), r in zip(unlabelled, by_reply, strict=True)]
            added = sum(d is None and r is not None for (_, d), r in zip(unlabelled, by_reply, strict=True))
            print(
                f"fold {k}: {added} replies without a known department name a category by keywords",
                flush=True,
            )
        else:
            unlabelled_k = unlabelled
        weak = shipped_weak(unlabelled_k, by_kw, args.weak_filter)
        if args.keyword_precision:
            anchor_kw = clf.weak_labels(feat, seeds, [(subjects[i], texts[i]) for i in tr])
            weak, prec = keyword_precision(weak, anchor_kw, [str(y[i]) for i in tr])
            print(f"fold {k}: keyword rule precision on the training rows {prec}", flush=True)
        if args.label_model != "none":
            anchor_kw = clf.weak_labels(feat, seeds, [(subjects[i], texts[i]) for i in tr])
            lm_weak, lm = weak_from_label_model(
                unlabelled,
                by_kw,
                replied,
                seeds,
                anchor_kw,
                [str(y[i]) for i in tr],
                args.label_model == "soft",
                args.label_model.startswith("tied"),
                args.label_model == "tied-uniform",
            )
            print(
                f"fold {k}: label model, {lm.iterations} EM iterations; " + changed(weak, lm_weak), flush=True
            )
            print(f"fold {k}: " + source_summary(lm, seeds, ("keywords", "department")), flush=True)
            weak = lm_weak
        lsa = None
        if args.ppmi:
            lsa = learn_ppmi(feat, corpus, args.ppmi)
        elif args.prototypes:
            lsa = learn_prototypes(feat, corpus, tree_names(args.data / "label_tree.csv"))
        elif args.lsa:
            lsa = learn_lsa(feat, corpus, args.lsa)
        cfg = fixed
        if args.nested:
            cfg, inner = select(seeds, feat, examples, weak, 3, args.seed + 1, grid)
            print(f"fold {k}: inner macro-F1 {[round(v, 3) for v in inner]} → {cfg}", flush=True)
        router = fit(seeds, feat, examples, weak, cfg, lsa)
        if args.self_train:
            weak = self_train(router, [st for st, _ in unlabelled], weak, offered, args.self_train)
            router = fit(seeds, feat, examples, weak, cfg, lsa)
        if args.prior_correction:
            classes, oof = out_of_fold_scores(seeds, feat, examples, weak, cfg, 3, args.seed + 1)
            off = prior_offsets(oof, y[tr], classes, offered)
            router = replace(router, bias=(router.bias + off).astype(np.float32))
            shown = {c: round(float(v), 2) for c, v in zip(classes, off, strict=True) if v}
            print(f"fold {k}: prior offsets {shown}", flush=True)
        for i, p in zip(
            te, router.predict_many([(subjects[i], texts[i]) for i in te], allowed=offered), strict=True
        ):
            ours_pred[i], conf[i] = p.code, p.confidence
        if args.ensemble:
            probs = ensemble_proba([docs[i] for i in tr], y[tr], [docs[i] for i in te], offered)
            mean = (router_proba(router, [(subjects[i], texts[i]) for i in te], offered) + sum(probs)) / 3
            ours_pred[te], conf[te] = np.array(offered)[mean.argmax(axis=1)], mean.max(axis=1)
        routers.append(router)
        shown = f", LSA scale {lsa.scale:.2f}" if lsa is not None else ""
        print(f"fold {k}: {len(weak)} weak examples{shown}", flush=True)

    base = f1_score(y, base_pred.astype(str), average="macro")
    ours = f1_score(y, ours_pred.astype(str), average="macro")
    auto = conf >= args.threshold
    print("\n== baseline: TF-IDF char 1-2-grams + LinearSVC (labelled rows only) ==")
    print(classification_report(y, base_pred.astype(str), digits=3))
    print("confusions:", confusions(y, base_pred.astype(str)))
    name = (
        f"nested choice per fold from {grid_name}"
        if args.nested
        else "keyword tree + corrections + weak labels"
    )
    name += f", {fixed}" if not args.nested and fixed != Config() else ""
    name += f", self-training {args.self_train} per category" if args.self_train else ""
    name += ", prior correction from inner CV" if args.prior_correction else ""
    name += ", mean with calibrated LR and CNB" if args.ensemble else ""
    name += f", subject weight {args.subject_weight:g}" if args.subject_weight != 1.0 else ""
    name += f", labelled rows weight {args.labelled_weight:g}" if args.labelled_weight != 1.0 else ""
    name += f", label model ({args.label_model})" if args.label_model != "none" else ""
    name += ", weak labels whose sources agree" if args.weak_filter == "agree" else ""
    name += ", keywords before department" if args.weak_filter == "keywords" else ""
    name += ", department labels only" if args.weak_filter == "department" else ""
    name += ", reply keywords for unknown departments" if args.reply_keywords else ""
    name += ", keyword labels weighted by their precision" if args.keyword_precision else ""
    print(f"\n== gongzhi router ({name}) ==")
    print(classification_report(y, ours_pred.astype(str), digits=3))
    print("confusions:", confusions(y, ours_pred.astype(str)))
    print(
        f"\n{args.folds}-fold CV on {len(y)} labelled messages, seed {args.seed}, "
        f"{time.perf_counter() - t0:.0f} s"
    )
    print(f"macro-F1 baseline TF-IDF+SVM: {base:.3f}")
    print(f"macro-F1 gongzhi router:      {ours:.3f}")
    print(
        f"confidence ≥ {args.threshold}: {auto.mean():.1%} routed automatically, accuracy "
        f"{(ours_pred[auto] == y[auto]).mean():.1%}; the rest ({(~auto).mean():.1%}) go to triage"
    )
    cpu = time_classification(routers[-1], subjects, texts, offered)
    base_cpu = time_baseline(vec, svm, docs)
    print(
        f"CPU per message, one core: router {cpu['batch'] * 1e3:.3f} ms in batches of 64, "
        f"{cpu['single'] * 1e3:.3f} ms one call per message; baseline TF-IDF+SVM {base_cpu * 1e3:.3f} ms "
        f"in batches of 64 (router/baseline {cpu['batch'] / base_cpu:.2f})"
    )


def label_conflicts(subjects: list[str], texts: list[str], y: npt.NDArray[np.str_]) -> int:
    """Distinct texts (subject and detail) that occur with more than one label."""
    labels: dict[tuple[str, str], set[str]] = {}
    for s, t, c in zip(subjects, texts, y.tolist(), strict=True):
        labels.setdefault((s, t), set()).add(c)
    return sum(len(v) > 1 for v in labels.values())


def time_classification(
    router: clf.Router, subjects: list[str], texts: list[str], offered: list[str], rounds: int = 5
) -> dict[str, float]:
    """Mean CPU per message [s]: one ``predict`` call per message, and ``predict_many`` in batches of 64."""
    docs = list(zip(subjects, texts, strict=True))
    router.predict_many(docs[:64], allowed=offered)
    cpu0 = time.process_time()
    for _ in range(rounds):
        for s, t in docs:
            router.predict(s, t, allowed=offered)
    single = (time.process_time() - cpu0) / (rounds * len(docs))
    cpu0 = time.process_time()
    for _ in range(rounds):
        for k in range(0, len(docs), 64):
            router.predict_many(docs[k : k + 64], allowed=offered)
    return {"single": single, "batch": (time.process_time() - cpu0) / (rounds * len(docs))}


def time_baseline(vec: TfidfVectorizer, svm: LinearSVC, docs: list[str], rounds: int = 5) -> float:
    """Mean CPU per message [s] of the baseline's transform + predict in batches of 64."""
    cpu0 = time.process_time()
    for _ in range(rounds):
        for k in range(0, len(docs), 64):
            svm.predict(vec.transform(docs[k : k + 64]))
    return (time.process_time() - cpu0) / (rounds * len(docs))


if __name__ == "__main__":
    main()
