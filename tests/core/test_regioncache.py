"""The per-process configuration cache never serves configuration the transaction could not see.

Region A's SLA matrix (fixed cast) is one '*'/'*' row: claim within 4 working hours. Each test reads a
lookup once (so it is cached), changes the configuration in another transaction, and reads again.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases import service as cases
from gongzhi.cases.models import CalendarOverride, SlaPolicy
from gongzhi.core import outbox, regioncache
from gongzhi.core import service as core
from gongzhi.core.models import Role, Webhook
from gongzhi.db import Scope, make_engine, unit_of_work
from tests.conftest import World

Factory = sessionmaker[Session]
DAY = date(2031, 3, 4)  # a Tuesday: a working day unless overridden


def _scope(region_id: int) -> Scope:
    return Scope(region_id=region_id, role=Role.ADMIN, username="cache-test")


def _claim_hours(factory: Factory, world: World) -> float:
    with unit_of_work(factory, _scope(world.a)) as s:
        return cases.policy_for(s, world.a, "road", "normal").claim_amount


def _set_claim_hours(s: Session, region_id: int, hours: float) -> None:
    policy = s.execute(select(SlaPolicy).where(SlaPolicy.region_id == region_id)).scalars().one()
    policy.claim_amount = hours


def test_a_committed_change_is_served_to_the_next_transaction(factory: Factory, world: World) -> None:
    assert _claim_hours(factory, world) == 4
    with unit_of_work(factory, _scope(world.a)) as s:
        _set_claim_hours(s, world.a, 2)
    assert _claim_hours(factory, world) == 2


def test_a_pending_change_is_seen_by_its_own_transaction(factory: Factory, world: World) -> None:
    assert _claim_hours(factory, world) == 4
    with unit_of_work(factory, _scope(world.a)) as s:
        _set_claim_hours(s, world.a, 6)  # not flushed yet
        assert cases.policy_for(s, world.a, "road", "normal").claim_amount == 6


def _change_then_fail(factory: Factory, world: World) -> None:
    with unit_of_work(factory, _scope(world.a)) as s:
        _set_claim_hours(s, world.a, 1)
        assert cases.policy_for(s, world.a, "road", "normal").claim_amount == 1  # cached under its version
        raise RuntimeError("abandon the change")


def test_a_rolled_back_change_is_never_served(factory: Factory, world: World) -> None:
    assert _claim_hours(factory, world) == 4
    with pytest.raises(RuntimeError):
        _change_then_fail(factory, world)
    assert _claim_hours(factory, world) == 4


def test_a_bulk_delete_is_seen(factory: Factory, world: World) -> None:
    with unit_of_work(factory, _scope(world.a)) as s:
        s.add(CalendarOverride(region_id=world.a, day=DAY, is_workday=False))
    with unit_of_work(factory, _scope(world.a)) as s:
        assert not cases.calendar_for(s, world.a).is_workday(DAY)
    with unit_of_work(factory, _scope(world.a)) as s:
        s.execute(delete(CalendarOverride).where(CalendarOverride.day == DAY))
    with unit_of_work(factory, _scope(world.a)) as s:
        assert cases.calendar_for(s, world.a).is_workday(DAY)


def test_a_new_webhook_gets_the_next_event(factory: Factory, world: World) -> None:
    with unit_of_work(factory, _scope(world.a)) as s:
        assert outbox.webhooks_for(s, world.a) == []
    with unit_of_work(factory, _scope(world.a)) as s:
        s.add(
            Webhook(
                region_id=world.a, url="http://127.0.0.1:9/", secret=outbox.new_secret(), topics=["case."]
            )
        )
    with unit_of_work(factory, _scope(world.a)) as s:
        assert [h.topics for h in outbox.webhooks_for(s, world.a)] == [("case.",)]


def test_a_change_made_by_another_process_is_seen(engine: Engine, database_url: str, world: World) -> None:
    """Another engine (its own pool and its own cache key) stands in for another server process."""
    here, there_engine = sessionmaker(engine), make_engine(database_url)
    there = sessionmaker(there_engine)
    try:
        with unit_of_work(here, _scope(world.c)) as s:
            assert cases.calendar_for(s, world.c).is_workday(DAY)
        with unit_of_work(there, _scope(world.c)) as s:
            s.add(CalendarOverride(region_id=world.c, day=DAY, is_workday=False, note="elsewhere"))
        with unit_of_work(here, _scope(world.c)) as s:
            assert not cases.calendar_for(s, world.c).is_workday(DAY)
    finally:
        with unit_of_work(there, _scope(world.c)) as s:
            for row in s.execute(select(CalendarOverride).where(CalendarOverride.day == DAY)).scalars():
                s.delete(row)
        there_engine.dispose()
    with unit_of_work(here, _scope(world.c)) as s:
        assert cases.calendar_for(s, world.c).is_workday(DAY)


def test_versions_differ_after_every_change(factory: Factory, world: World) -> None:
    seen = set()
    for hours in (5, 7, 5):
        with unit_of_work(factory, _scope(world.a)) as s:
            _set_claim_hours(s, world.a, hours)
            s.flush()
            seen.add(regioncache.current_version(s, world.a))
    assert len(seen) == 3


def test_the_token_lookup_brings_the_version_its_transaction_sees(factory: Factory, world: World) -> None:
    def version_after_token_lookup() -> int:
        with unit_of_work(factory, Scope.for_system()) as s:
            core.scope_for_token(s, world.alice.token)
            remembered = s.info["memo"][("config_version", world.a)]
            assert regioncache.current_version(s, world.a) == remembered  # served without a statement
            fresh = s.connection().execute(regioncache._VERSION, {"rid": world.a}).scalar_one_or_none() or 0
            assert remembered == fresh
            return int(remembered)

    before = version_after_token_lookup()
    with unit_of_work(factory, _scope(world.a)) as s:
        _set_claim_hours(s, world.a, 5)
    assert version_after_token_lookup() != before
    assert _claim_hours(factory, world) == 5
