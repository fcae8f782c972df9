"""Dashboard figures (gongzhi.cases.stats): counted in the viewer's region, days in Shanghai time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases import service as cases
from gongzhi.cases import stats
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.statemachine import Action
from gongzhi.db import unit_of_work, utcnow
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.registry import Registry
from tests.conftest import World
from tests.web.helpers import POINT


def test_figures_count_only_the_region_in_scope(
    factory: sessionmaker[Session], registry: Registry, world: World
) -> None:
    # a fixed Wednesday, 10:00 in Shanghai: with the real clock, a dispatch two days before a Sunday afternoon
    # is a Friday afternoon, whose 4 working hours to claim run into Monday, so nothing was overdue yet
    now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    with unit_of_work(factory, world.alice.scope()) as s:
        for i in range(3):
            data = CaseCreate(title=f"t{i}", category="road", location=POINT, accept=True)
            case = cases.create_case(s, registry, data, now=now - timedelta(days=i))
        cases.apply(s, registry, case.id, Action.DISPATCH, ActionIn(), now=now - timedelta(days=2))
        counts = stats.counts_by_state(s)
        assert counts == {"accepted": 2, "dispatched": 1}
        assert stats.overdue_count(s, now) == 1  # 4 working hours to claim have long passed
        trend = stats.daily_trend(s, 7, now)
        assert len(trend) == 7 and sum(d.created for d in trend) == 3
        assert trend[-1].day == now.astimezone(SHANGHAI).date()
        assert sum(d.created for d in stats.daily_trend(s, 30, now)) == 3
        assert stats.open_by_grid_cell(s) == {world.cell_a: (3, 0)}
        rows = stats.sla_by_actor(s, 30, now)
        assert [(r.actor, r.overdue) for r in rows] == [("道路科", 1)]
    with unit_of_work(factory, world.charlie.scope()) as s:
        assert stats.counts_by_state(s) == {}
        assert stats.overdue_count(s, now) == 0
        assert sum(d.created for d in stats.daily_trend(s, 7, now)) == 0
        assert stats.open_by_grid_cell(s) == {} and stats.sla_by_actor(s) == []


def test_sla_compliance_counts_met_and_missed_clocks(
    factory: sessionmaker[Session], registry: Registry, world: World
) -> None:
    now = utcnow()
    with unit_of_work(factory, world.alice.scope()) as s:
        case = cases.create_case(s, registry, CaseCreate(title="t", category="road", accept=True))
        cases.apply(s, registry, case.id, Action.DISPATCH, ActionIn(), now=now - timedelta(days=20))
    with unit_of_work(factory, world.bob.scope()) as s:
        cases.apply(s, registry, case.id, Action.CLAIM, ActionIn(), now=now - timedelta(days=1))
        cases.apply(s, registry, case.id, Action.RESOLVE, ActionIn(note="done"), now=now)
    with unit_of_work(factory, world.alice.scope()) as s:
        [row] = stats.sla_by_actor(s, 30, now)
        assert (row.claims, row.claims_met, row.resolutions, row.resolutions_met) == (1, 0, 1, 1)
        assert row.compliance == 0.5


def test_a_day_is_a_shanghai_day(factory: sessionmaker[Session], registry: Registry, world: World) -> None:
    now = utcnow()
    local_midnight = now.astimezone(SHANGHAI).replace(hour=0, minute=30, second=0, microsecond=0)
    with unit_of_work(factory, world.alice.scope()) as s:
        cases.create_case(s, registry, CaseCreate(title="t", category="road"), now=local_midnight)
        trend = stats.daily_trend(s, 2, now)
        assert trend[-1].day == local_midnight.date() and trend[-1].created == 1
