"""The evaluation script runs end to end on a small generated corpus shaped like the contest's files.

The real messages are not shipped (evaluation only); these rows are made up here, so the test checks the
pipeline (cross-validation, weak labels, nested selection, report), never the figure.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts/intake/evaluate_classifier.py"
TOPICS = {
    "交通运输": ["公交车", "出租车", "司机", "站台", "线路", "拒载"],
    "教育文体": ["学校", "老师", "学生", "补课", "幼儿园", "学位"],
    "环境保护": ["噪音", "污染", "异味", "排污", "粉尘", "油烟"],
}
FILLER = ["请相关部门", "尽快处理", "我们小区", "附近", "长期存在", "严重影响", "居民生活", "希望"]
HEAD = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情"]


def _message(rng: random.Random, words: list[str]) -> tuple[str, str]:
    subject = "".join(rng.sample(words, 2)) + "问题"
    text = "\n\t\t" + "，".join(rng.choice(words) + rng.choice(FILLER) for _ in range(6)) + "。"
    return subject, text


def _write(path: Path, head: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(rows)


def _corpus(folder: Path) -> None:
    rng = random.Random(6)
    labelled: list[list[str]] = []
    votes: list[list[str]] = []
    replies: list[list[str]] = []
    for category, words in TOPICS.items():
        for k in range(8):
            subject, text = _message(rng, words)
            labelled.append([str(len(labelled)), f"U{k}", subject, "2019/1/1 8:00:00", text, category])
        for k in range(4):
            subject, text = _message(rng, words)
            votes.append([f"v{len(votes)}", "U", subject, "2019/2/1", text, "0", str(k)])
            reply = "网友：您好！经市教育局调查，" if category == "教育文体" else "网友：您好！留言已收悉。"
            replies.append([f"r{len(replies)}", "U", subject + "吗", "2019/3/1", text, reply, "2019/3/9"])
    _write(folder / "messages_labelled_train.csv", [*HEAD, "一级分类"], labelled)
    _write(folder / "messages_with_votes.csv", [*HEAD, "反对数", "点赞数"], votes)
    _write(folder / "messages_with_replies.csv", [*HEAD, "答复意见", "答复时间"], replies)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_the_evaluation_cross_validates_both_models_and_reports_per_class(tmp_path: Path) -> None:
    _corpus(tmp_path)
    out = _run("--data", str(tmp_path), "--folds", "2")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "labelled 24 in 3 categories; unlabelled 24" in text
    assert "label noise: 0 texts labelled twice" in text
    assert "macro-F1 baseline TF-IDF+SVM:" in text and "macro-F1 gongzhi router:" in text
    assert text.count("环境保护") >= 2 and "confusions:" in text  # a per-class table for each model
    assert "CPU per message, one core: router" in text


def test_nested_selection_picks_a_config_per_fold_from_its_training_rows(tmp_path: Path) -> None:
    _corpus(tmp_path)
    out = _run("--data", str(tmp_path), "--folds", "2", "--nested")
    assert out.returncode == 0, out.stderr
    chosen = [line for line in out.stdout.splitlines() if "inner macro-F1" in line]
    assert len(chosen) == 2 and all("Config(" in line for line in chosen)
    assert "nested choice per fold" in out.stdout


def test_without_the_data_it_stops_with_a_message(tmp_path: Path) -> None:
    out = _run("--data", str(tmp_path / "absent"))
    assert out.returncode != 0 and "no teddy2020 data" in out.stderr


def test_prior_correction_fits_offsets_per_fold_on_its_training_rows(tmp_path: Path) -> None:
    _corpus(tmp_path)
    out = _run("--data", str(tmp_path), "--folds", "2", "--prior-correction")
    assert out.returncode == 0, out.stderr
    assert sum("prior offsets" in line for line in out.stdout.splitlines()) == 2
    assert "prior correction from inner CV" in out.stdout


def test_self_training_the_ensemble_and_the_subject_weight_run_in_every_fold(tmp_path: Path) -> None:
    _corpus(tmp_path)
    out = _run(
        "--data", str(tmp_path), "--folds", "2", "--self-train", "3", "--ensemble", "--subject-weight", "2"
    )
    assert out.returncode == 0, out.stderr
    assert "self-training 3 per category" in out.stdout and "mean with calibrated LR and CNB" in out.stdout
    assert "subject weight 2" in out.stdout


def test_prior_offsets_recover_a_class_the_scores_undervalue() -> None:
    import numpy as np

    mod = _script_module()
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 30 + ["b"] * 30 + ["c"] * 30)
    scores = rng.normal(0, 0.05, (90, 3)).astype(np.float32)
    scores[np.arange(90), np.repeat([0, 1, 2], 30)] += 0.5
    scores[:, 1] -= 0.7  # class b loses every row until its offset lifts it
    off = mod.prior_offsets(scores, y, ("a", "b", "c"), ["a", "b", "c"])
    pred = np.array(["a", "b", "c"])[(scores + off).argmax(axis=1)]
    assert (pred == y).mean() > 0.95 and off[1] > 0.2


def _script_module() -> Any:
    spec = importlib.util.spec_from_file_location("evaluate_classifier", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_self_training_adds_the_surest_pool_messages_per_category_balanced() -> None:
    from gongzhi.modules.intake.analytics import classifier as clf

    mod = _script_module()
    rng = random.Random(7)
    seeds = [clf.CategorySeed(c, c, tuple(words)) for c, words in TOPICS.items()]
    labelled = [clf.Example(*_message(rng, w), c) for c, w in TOPICS.items() for _ in range(4)]
    pool = [_message(rng, w) for w in TOPICS.values() for _ in range(5)]
    router = clf.train(seeds, labelled, pool)
    out = mod.self_train(router, pool, [("旧", "文本", "交通运输", False, 1.0)], sorted(TOPICS), 2)
    pseudo = [w for w in out if w[0] != "旧"]
    assert len(out) == 7 and Counter(w[2] for w in pseudo) == dict.fromkeys(TOPICS, 2)
    truth = {m: c for c, w in zip(TOPICS, [pool[k : k + 5] for k in (0, 5, 10)], strict=True) for m in w}
    assert all(truth[(s, t)] == code for s, t, code, _, _ in pseudo)


def test_the_wide_grid_is_chosen_per_fold_and_fixed_variants_run(tmp_path: Path) -> None:
    _corpus(tmp_path)
    out = _run("--data", str(tmp_path), "--folds", "2", "--nested", "--grid", "wide")
    assert out.returncode == 0, out.stderr
    chosen = [line for line in out.stdout.splitlines() if "inner macro-F1" in line]
    scores = [line.split("inner macro-F1 [")[1].split("]")[0].split(",") for line in chosen]
    assert len(chosen) == 2 and [len(s) for s in scores] == [len(_script_module().WIDE)] * 2
    assert "nested choice per fold from WIDE" in out.stdout
    out = _run("--data", str(tmp_path), "--folds", "2", "--learner", "nbsvm", "--nb-beta", "0.25")
    assert out.returncode == 0, out.stderr
    assert "learner='nbsvm', nb_beta=0.25" in out.stdout


def _toy() -> tuple[list[Any], list[Any], Any]:
    from gongzhi.modules.intake.analytics import classifier as clf

    rng = random.Random(11)
    seeds = [clf.CategorySeed(c, c, tuple(words[:2])) for c, words in TOPICS.items()]
    labelled = [clf.Example(*_message(rng, w), c) for c, w in TOPICS.items() for _ in range(6)]
    feat = clf.build_featurizer(seeds, [(e.subject, e.text) for e in labelled])
    return seeds, labelled, feat


def test_the_variant_path_with_the_shipped_config_trains_the_shipped_router() -> None:
    import numpy as np

    from gongzhi.modules.intake.analytics import classifier as clf

    mod = _script_module()
    seeds, labelled, feat = _toy()
    shipped = clf.train(seeds, labelled, featurizer=feat)
    variant = mod.train_variant(seeds, feat, labelled, mod.Config())
    assert variant.classes == shipped.classes
    assert np.allclose(variant.weights, shipped.weights, atol=1e-5)
    assert np.allclose(variant.bias, shipped.bias, atol=1e-5)


def test_a_block_scale_folded_into_the_weights_scores_as_the_scaled_features_do() -> None:
    import numpy as np

    from gongzhi.modules.intake.analytics import classifier as clf

    mod = _script_module()
    seeds, labelled, feat = _toy()
    folded = mod.train_variant(seeds, feat, labelled, mod.Config(subject_block=2.0))
    docs = [(e.subject, e.text) for e in labelled[::5]]
    plain = folded.scores_batch(docs)
    try:
        clf.SUBJECT_WEIGHT = 2.0  # the featurizer itself doubles the subject block
        scaled = clf.train(seeds, labelled, featurizer=feat)
        doubled = scaled.scores_batch(docs)
    finally:
        clf.SUBJECT_WEIGHT = 1.0
    assert np.allclose(plain, doubled, atol=1e-4)
    assert not np.allclose(plain, clf.train(seeds, labelled, featurizer=feat).scores_batch(docs), atol=1e-3)


def test_nbsvm_ratios_favour_a_class_s_own_grams_and_it_routes_held_out_messages() -> None:
    import numpy as np

    mod = _script_module()
    seeds, labelled, feat = _toy()
    x = feat.matrix([(e.subject, e.text) for e in labelled])[0]
    y = np.array([e.code for e in labelled])
    classes = tuple(sorted(TOPICS))
    r = mod.nb_ratios(x, y, np.ones(len(y)), classes)
    school = feat.features([("", "学校")]).groups[0][1]  # body columns of 学, 校 and 学校
    assert (r[school, classes.index("教育文体")] > 0).all()
    assert (r[school, classes.index("交通运输")] < 0).all()
    router = mod.train_variant(seeds, feat, labelled, mod.Config(learner="nbsvm", nb_beta=0.25))
    rng = random.Random(12)
    held_out = [(_message(rng, w), c) for c, w in TOPICS.items() for _ in range(4)]
    assert all(router.predict(s, t).code == c for (s, t), c in held_out)


def test_balanced_weak_examples_weigh_the_same_per_category() -> None:
    from gongzhi.modules.intake.analytics import classifier as clf

    mod = _script_module()
    weak = [clf.Example("s", "t", "a", 0.3)] * 6 + [clf.Example("s", "t", "b", 0.3)] * 2
    out = mod.balanced(weak)
    total = Counter[str]()
    for e in out:
        total[e.code] += e.weight
    assert abs(total["a"] - total["b"]) < 1e-9 and abs(sum(total.values()) - 0.3 * 8) < 1e-9


def test_an_lsa_block_folded_into_the_body_weights_scores_as_the_appended_block_does() -> None:
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    from gongzhi.modules.intake.analytics import classifier as clf

    mod = _script_module()
    seeds, labelled, feat = _toy()
    rng = random.Random(13)
    pool = [_message(rng, w) for w in TOPICS.values() for _ in range(10)]
    lsa = mod.learn_lsa(feat, pool, 4)
    assert lsa.components.shape == (4, len(feat.keys)) and lsa.scale > 0
    x = feat.matrix([(e.subject, e.text) for e in labelled])[0]
    z = np.asarray(x[:, : len(feat.keys)] @ lsa.components.T) * lsa.scale
    coef = np.random.default_rng(0).normal(size=(feat.width + 4, 3))
    folded = mod.fold_lsa(coef, lsa, feat.width)
    assert folded.shape == (feat.width, 3)  # a router of the usual size
    assert np.allclose(x @ folded, hstack([x, csr_matrix(z)]) @ coef, atol=1e-6)
    router = mod.train_variant(seeds, feat, labelled, mod.Config(lsa=4), lsa)
    plain = clf.train(seeds, labelled, featurizer=feat)
    assert not np.allclose(router.weights, plain.weights, atol=1e-3)  # the block changed what was learnt


def test_the_lsa_option_runs_in_every_fold(tmp_path: Path) -> None:
    _corpus(tmp_path)
    out = _run("--data", str(tmp_path), "--folds", "2", "--lsa", "5")
    assert out.returncode == 0, out.stderr
    assert sum("LSA scale" in line for line in out.stdout.splitlines()) == 2
    assert "lsa=5" in out.stdout
    out = _run("--data", str(tmp_path), "--folds", "2", "--labelled-weight", "0")
    assert out.returncode == 0, out.stderr
    assert "labelled rows weight 0" in out.stdout


def test_ppmi_embeddings_put_characters_of_one_topic_closer_than_of_another() -> None:
    import numpy as np

    mod = _script_module()
    feat = _toy()[2]
    rng = random.Random(14)
    pool = [_message(rng, w) for w in TOPICS.values() for _ in range(20)]
    emb = mod.learn_ppmi(feat, pool, 4)
    assert emb.components.shape == (4, len(feat.keys)) and emb.scale > 0

    def vector(ch: str) -> Any:
        col = feat.features([("", ch)]).groups[0][1][0]
        v = emb.components[:, col]
        return v / np.linalg.norm(v)

    bus, car, school = vector("公"), vector("交"), vector("校")
    assert bus @ car > bus @ school


def test_the_ppmi_and_prototype_options_run_in_every_fold(tmp_path: Path) -> None:
    _corpus(tmp_path)
    rows = [[c, c + "管理", c + "投诉"] for c in TOPICS]
    _write(tmp_path / "label_tree.csv", ["一级分类", "二级分类", "三级分类"], rows)
    for option in (["--ppmi", "3"], ["--prototypes"]):
        out = _run("--data", str(tmp_path), "--folds", "2", *option)
        assert out.returncode == 0, out.stderr
        assert sum("LSA scale" in line for line in out.stdout.splitlines()) == 2


def _votes(seed: int, n: int = 20_000) -> tuple[Any, Any, Any]:
    """True classes of 5 (prior 0.5 … 0.05) and three sources: accuracy 0.8 / 0.6 / 0.7, else a random class,
    abstaining 20 / 50 / 30 % of the time (output 5)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    prior = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    y = rng.choice(5, n, p=prior)
    cols = []
    for acc, abstain in ((0.8, 0.2), (0.6, 0.5), (0.7, 0.3)):
        out = np.where(rng.random(n) < acc, y, rng.integers(0, 5, n))
        out[rng.random(n) < abstain] = 5
        cols.append(out)
    return prior, y, np.stack(cols, axis=1)


def test_the_label_model_recovers_the_sources_confusions_and_the_class_prior() -> None:
    import numpy as np

    mod = _script_module()
    prior, y, votes = _votes(0)
    none = np.zeros((0, 3), dtype=np.int64)
    lm = mod.dawid_skene(votes, 5, none, np.zeros(0, dtype=np.int64))
    assert np.abs(lm.prior - prior).max() < 0.02
    # P(first source says c | c) = (1 - 0.2) × (0.8 + 0.2 / 5) = 0.672
    assert np.abs(np.diag(lm.confusion[0][:, :5]) - 0.672).max() < 0.03
    assert np.abs(lm.confusion[1][:, 5] - 0.5).max() < 0.03
    majority = np.array([np.bincount(r[r < 5], minlength=5).argmax() if (r < 5).any() else 0 for r in votes])
    assert (lm.posterior.argmax(axis=1) == y).mean() >= (majority == y).mean()


def test_a_tied_label_model_has_one_accuracy_per_source_and_an_anchor_sets_it() -> None:
    import numpy as np

    mod = _script_module()
    _, y, votes = _votes(1, 5_000)
    two = votes[:, :2]
    lm = mod.dawid_skene(two, 5, np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64), tied=True)
    for conf in lm.confusion:
        named = conf[:, :5] / conf[:, :5].sum(axis=1, keepdims=True)
        right = np.diag(named)
        assert np.allclose(right, right[0]) and np.allclose(named.sum(axis=1), 1.0)
    # 2,000 anchor rows where the first source is always right: its accuracy rises towards 1
    anchor_y = y[:2000]
    anchored = mod.dawid_skene(two, 5, np.stack([anchor_y, np.full(2000, -1)], axis=1), anchor_y, tied=True)
    assert np.diag(anchored.confusion[0])[0] > np.diag(lm.confusion[0])[0]


def test_weak_labels_from_the_label_model_cover_the_shipped_messages_with_confidence_weights() -> None:
    from gongzhi.modules.intake.analytics import classifier as clf

    mod = _script_module()
    seeds = [clf.CategorySeed(c, c, tuple(w)) for c, w in TOPICS.items()]
    traffic, school, noise = TOPICS
    unlabelled = [
        (("公交车", "a"), None),
        (("学校", "b"), school),
        (("噪音", "c"), traffic),
        (("无关", "d"), None),
    ] * 20
    by_keywords = [traffic, school, noise, None] * 20
    replied = {("学校", "b"), ("噪音", "c")}
    for kind in ("hard", "tied"):
        weak, lm = mod.weak_from_label_model(
            unlabelled,
            by_keywords,
            replied,
            seeds,
            [traffic, school],
            [traffic, school],
            False,
            kind == "tied",
        )
        assert len(weak) == 60 and lm.posterior.shape == (80, 3)
        assert {w[2] for w in weak if w[0] == "公交车"} == {traffic} and {
            w[2] for w in weak if w[0] == "学校"
        } == {school}
        assert abs(sum(w[4] for w in weak) / len(weak) - 1.0) < 1e-9  # the mean weight stays the shipped one
    soft, _ = mod.weak_from_label_model(unlabelled, by_keywords, replied, seeds, [traffic], [traffic], True)
    assert {w[2] for w in soft if w[0] == "噪音"} <= {traffic, noise} and all(0.1 <= w[4] <= 1 for w in soft)


def test_the_weak_filters_drop_or_reorder_the_sources_labels() -> None:
    mod = _script_module()
    unlabelled = [
        (("a", ""), "交通运输"),
        (("b", ""), "交通运输"),
        (("c", ""), None),
        (("d", ""), "教育文体"),
    ]
    by_keywords = ["交通运输", "环境保护", "环境保护", None]

    def labels(filter_: str) -> list[tuple[str, str]]:
        return [(w[0], w[2]) for w in mod.shipped_weak(unlabelled, by_keywords, filter_)]

    assert labels("none") == [("a", "交通运输"), ("b", "交通运输"), ("c", "环境保护"), ("d", "教育文体")]
    assert labels("agree") == [("a", "交通运输"), ("c", "环境保护"), ("d", "教育文体")]
    assert labels("keywords") == [("a", "交通运输"), ("b", "环境保护"), ("c", "环境保护"), ("d", "教育文体")]
    assert labels("department") == [("a", "交通运输"), ("b", "交通运输"), ("d", "教育文体")]


def test_the_label_model_options_run_in_every_fold(tmp_path: Path) -> None:
    _corpus(tmp_path)
    for option in (["--label-model", "hard"], ["--label-model", "soft"], ["--label-model", "tied"]):
        out = _run("--data", str(tmp_path), "--folds", "2", *option)
        assert out.returncode == 0, out.stderr
        assert sum("EM iterations" in line for line in out.stdout.splitlines()) == 2
    out = _run("--data", str(tmp_path), "--folds", "2", "--weak-filter", "agree")
    assert out.returncode == 0 and "weak labels whose sources agree" in out.stdout


def test_reply_keywords_label_the_replies_that_name_no_known_department(tmp_path: Path) -> None:
    _corpus(
        tmp_path
    )  # the replies of 交通运输 and 环境保护 messages name no department, 教育文体's name 教育局
    path = tmp_path / "messages_with_replies.csv"
    rows = list(csv.reader(path.open(encoding="utf-8-sig")))
    for row in rows[1:]:
        if "教育局" not in row[5]:
            row[5] = "网友：您好！经核实，噪音污染和粉尘已整改。"
    _write(path, rows[0], rows[1:])
    out = _run("--data", str(tmp_path), "--folds", "2", "--reply-keywords")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if "replies without a known department" in line]
    assert lines == [
        f"fold {k}: 8 replies without a known department name a category by keywords" for k in (1, 2)
    ]


def test_keyword_labels_weigh_by_the_rule_s_precision_on_the_training_rows() -> None:
    mod = _script_module()
    weak = [("a", "", "交通运输", False, 1.0), ("b", "", "政法", False, 1.0), ("c", "", "政法", True, 1.0)]
    # on the training rows the rule names 交通运输 4 times, rightly 3 times, and 政法 twice, wrongly
    named = ["交通运输"] * 4 + ["政法"] * 2 + [None]
    truth = ["交通运输"] * 3 + ["城乡建设"] * 3 + ["教育文体"]
    out, prec = mod.keyword_precision(weak, named, truth)
    assert prec == {"交通运输": round(4 / 6, 2), "政法": 0.25}
    a, b, c = (w[4] for w in out)
    assert a / b == pytest.approx((4 / 6) / 0.25) and (a + b) / 2 == pytest.approx(1.0)
    assert c == 1.0  # a department label keeps its weight
