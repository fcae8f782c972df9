"""`gongzhi demo`'s citizen requests go through the real intake path and make hot topics."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from gongzhi import migrate
from gongzhi.core import service as core
from gongzhi.db import Scope, make_engine, make_session_factory, unit_of_work
from gongzhi.modules.intake import demo
from gongzhi.modules.intake.models import HotTopic, IntakeRequest
from gongzhi.registry import Registry


def test_demo_requests_are_routed_and_make_hot_topics(tmp_path: Path, registry: Registry) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    with unit_of_work(factory, Scope.for_system()) as s:
        core.create_region(s, "gongshu", "拱墅区", "GS")
    assert demo.load_demo(factory, registry, "x" * 32, per_region=24) == 24
    with unit_of_work(factory, Scope.for_system()) as s:
        assert s.scalar(select(func.count(IntakeRequest.id))) == 24
        keys = list(s.execute(select(HotTopic.key)).scalars())
        assert len(keys) >= 2 and len(set(keys)) == len(keys)
