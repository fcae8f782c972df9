"""The region's routing model: seeds from its category tree, training, a per-process cache of the newest."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gongzhi.core import audit
from gongzhi.db import scope_of, utcnow
from gongzhi.errors import InvalidInput, msg
from gongzhi.modules.intake import repository as repo
from gongzhi.modules.intake.analytics import classifier as clf
from gongzhi.modules.intake.models import ClassifierModel, IntakeCategory

WEAK_WEIGHT = 0.3
_lock = threading.Lock()
_cache: dict[tuple[int, int | None, tuple[str, ...]], clf.Router] = {}


@dataclass(frozen=True)
class Routed:
    code: str
    confidence: float
    department_id: int | None
    ranking: tuple[tuple[str, float], ...]


def seeds_of(cats: list[IntakeCategory]) -> list[clf.CategorySeed]:
    return [clf.CategorySeed(c.code, c.name, tuple(str(k) for k in c.keywords)) for c in cats]


def _department(cats: list[IntakeCategory], code: str) -> int | None:
    by_code = {c.code: c for c in cats}
    node = by_code.get(code)
    while node is not None:
        if node.department_id is not None:
            return node.department_id
        node = by_code.get(node.parent_code or "")
    return None


def router_for(s: Session, region_id: int, cats: list[IntakeCategory]) -> clf.Router:
    """The newest trained model, or a keyword-only model of the current tree when none was trained."""
    model_id = repo.latest_model_id(s, region_id)
    key = (region_id, model_id, tuple(f"{c.code}:{c.name}:{len(c.keywords)}" for c in cats))
    with _lock:
        router = _cache.get(key)
    if router is not None:
        return router
    if model_id is None:
        router = clf.train(seeds_of(cats), [], featurizer=clf.build_featurizer(seeds_of(cats), [], min_df=1))
    else:
        model = repo.latest_model(s, region_id)
        assert model is not None
        router = clf.loads(model.blob)
    with _lock:
        _cache.clear() if len(_cache) > 64 else None
        _cache[key] = router
    return router


def classify(s: Session, region_id: int, subject: str, text: str) -> Routed | None:
    cats = repo.categories(s, region_id)
    if not cats:
        return None
    router = router_for(s, region_id, cats)
    offered = [c.code for c in cats if c.code in router.classes]
    if not offered:
        return None
    p = router.predict(subject, text, allowed=offered)
    return Routed(p.code, p.confidence, _department(cats, p.code), p.ranking)


def retrain(s: Session, region_id: int, trigger: str = "manual") -> ClassifierModel:
    """Train on the tree's keywords, every correction and confirmation, and weak labels from history."""
    cats = repo.categories(s, region_id)
    if not cats:
        raise InvalidInput(msg("the region has no intake categories to learn"))
    seeds = seeds_of(cats)
    codes = {c.code for c in cats}
    labelled = [e for e in repo.training_examples(s, region_id) if e.category_code in codes]
    history = repo.history_texts(s, region_id)
    feat = clf.build_featurizer(
        seeds, [(e.subject, e.text) for e in labelled] + [(a, b) for a, b, _ in history]
    )
    examples = [clf.Example(e.subject, e.text, e.category_code) for e in labelled]
    dept_code = _single_category_departments(cats)
    weak = clf.weak_labels(feat, seeds, [(subject, text) for subject, text, _ in history])
    for (subject, text, dept), by_keywords in zip(history, weak, strict=True):
        code = (dept_code.get(dept) if dept is not None else None) or by_keywords
        if code is not None:
            examples.append(clf.Example(subject, text, code, WEAK_WEIGHT))
    router = clf.train(seeds, examples, featurizer=feat)
    model = ClassifierModel(
        region_id=region_id,
        trained_at=utcnow(),
        examples=len(labelled),
        seeds=len(seeds),
        classes=list(router.classes),
        metrics={"weak_examples": len(examples) - len(labelled), "history": len(history)},
        blob=clf.dumps(router),
        trigger=trigger,
    )
    s.add(model)
    s.flush()
    sc = scope_of(s)
    audit.record(
        s,
        region_id=region_id,
        action="intake.model.train",
        object_type="intake_model",
        object_id=model.id,
        actor=sc.username,
        actor_user_id=sc.user_id,
        data={"examples": len(labelled), "trigger": trigger},
    )
    return model


def _single_category_departments(cats: list[IntakeCategory]) -> dict[int, str]:
    """Departments that own exactly one top-level category: their handled cases label that category."""
    owners: dict[int, set[str]] = {}
    for c in cats:
        if c.department_id is not None and c.parent_code is None:
            owners.setdefault(c.department_id, set()).add(c.code)
    return {d: next(iter(v)) for d, v in owners.items() if len(v) == 1}


def retrain_due(s: Session, region_id: int) -> bool:
    """Whether enough corrections arrived since the last model (the scheduled job retrains then)."""
    model = repo.latest_model(s, region_id)
    every = repo.settings_of(s, region_id).retrain_every
    return repo.examples_since(s, region_id, model.trained_at if model else None) >= every
