"""Scheduled work of intake, run by the worker: retraining when corrections piled up, hot-topic refresh."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gongzhi.db import Scope, SessionFactory, unit_of_work
from gongzhi.modules.intake import hot, routing
from gongzhi.modules.intake.models import IntakeCategory, IntakeRequest
from gongzhi.registry import Registry

log = logging.getLogger(__name__)
RETRAIN_EVERY_S = 3600.0
HOT_TOPICS_EVERY_S = 900.0


def _regions(s: Session, column: InstrumentedAttribute[int]) -> list[int]:
    return [int(r) for r in s.execute(select(column).distinct()).scalars()]


def retrain_due_regions(factory: SessionFactory) -> list[int]:
    """Retrain every region with at least ``retrain_every`` new corrections; returns the retrained regions."""
    with unit_of_work(factory, Scope.for_system()) as s:
        regions = _regions(s, IntakeCategory.region_id)
    done = []
    for rid in regions:
        with unit_of_work(factory, Scope(region_id=rid, system=True, username="scheduler")) as s:
            if routing.retrain_due(s, rid):
                routing.retrain(s, rid, trigger="scheduled")
                done.append(rid)
    return done


def refresh_hot_topics(factory: SessionFactory, registry: Registry) -> None:
    with unit_of_work(factory, Scope.for_system()) as s:
        regions = _regions(s, IntakeRequest.region_id)
    for rid in regions:
        with unit_of_work(factory, Scope(region_id=rid, system=True, username="scheduler")) as s:
            hot.refresh(s, registry, rid)


def register(registry: Registry) -> None:
    registry.add_job(
        "intake.retrain", RETRAIN_EVERY_S, lambda f: log.info("retrained %s", retrain_due_regions(f))
    )
    registry.add_job("intake.hot_topics", HOT_TOPICS_EVERY_S, lambda f: refresh_hot_topics(f, registry))
