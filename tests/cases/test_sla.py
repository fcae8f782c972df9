"""SLA clocks on the Chinese working calendar: deadlines at dispatch and claim, the sweep, extensions, views.

Region A's matrix (from the fixed cast) is one row '*'/'*': claim within 4 working hours, resolve within
3 working days, remind at 80 %, escalate every 5 working days overdue. Working hours are 09:00–18:00 in
Asia/Shanghai. The 2026 National Day holiday per ``chinese_calendar`` runs 1–7 October, with Saturday
10 October a make-up working day (调休).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gongzhi.cases import service as cases
from gongzhi.cases.escalation import SweepReport, sweep
from gongzhi.cases.models import Case, SlaPolicy
from gongzhi.cases.schemas import ActionIn, CaseCreate
from gongzhi.cases.sla import DEFAULT, Policy
from gongzhi.cases.statemachine import Action
from gongzhi.core import audit
from gongzhi.db import Scope, unit_of_work
from gongzhi.errors import IllegalTransition
from gongzhi.kit.workdays import SHANGHAI
from gongzhi.registry import Registry
from tests.conftest import Person, World

Factory = sessionmaker[Session]


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


@contextmanager
def acting(factory: Factory, who: Person | None) -> Iterator[Session]:
    with unit_of_work(factory, who.scope() if who else Scope.for_system()) as s:
        yield s


def open_case(
    factory: Factory,
    registry: Registry,
    world: World,
    now: datetime,
    category: str = "road",
    priority: str = "normal",
) -> int:
    data = CaseCreate(title="路灯不亮", category=category, priority=priority, accept=True)
    with acting(factory, world.alice) as s:
        return cases.create_case(s, registry, data, now=now).id


def do(
    factory: Factory, registry: Registry, who: Person, case_id: int, action: str, now: datetime, **body: Any
) -> None:
    with acting(factory, who) as s:
        cases.apply(s, registry, case_id, Action(action), ActionIn(**body), now=now)


def load(factory: Factory, case_id: int) -> Case:
    with acting(factory, None) as s:
        return cases.get_case(s, case_id)


def events(factory: Factory, case_id: int, action: str) -> list[dict[str, Any]]:
    with acting(factory, None) as s:
        return [e.data for e in cases.timeline(s, case_id) if e.action == action]


def add_policy(
    factory: Factory,
    world: World,
    category: str,
    priority: str,
    claim: tuple[float, str],
    resolve: tuple[float, str] = (3, "working_days"),
    region_id: int | None = None,
) -> None:
    with acting(factory, world.adam) as s:
        s.add(
            SlaPolicy(
                region_id=region_id or world.a,
                category=category,
                priority=priority,
                claim_amount=claim[0],
                claim_unit=claim[1],
                resolve_amount=resolve[0],
                resolve_unit=resolve[1],
            )
        )


def dispatched_case(factory: Factory, registry: Registry, world: World, at: datetime, **kw: Any) -> int:
    cid = open_case(factory, registry, world, at, **kw)
    do(factory, registry, world.alice, cid, "dispatch", at, actor_id=world.roads_actor)
    return cid


def claimed_case(
    factory: Factory, registry: Registry, world: World, dispatched: datetime, claimed: datetime
) -> int:
    cid = dispatched_case(factory, registry, world, dispatched)
    do(factory, registry, world.bob, cid, "claim", claimed)
    return cid


# --- deadlines at dispatch and claim ----------------------------------------------------------------


def test_a_dispatch_on_the_eve_of_national_day_is_due_to_be_claimed_after_the_holiday(
    factory: Factory, registry: Registry, world: World
) -> None:
    cid = dispatched_case(factory, registry, world, sh(2026, 9, 30, 15))
    # 3 working hours left on 30 September, the 4th is the first hour after the golden week
    assert load(factory, cid).claim_due == sh(2026, 10, 8, 10)
    assert datetime.fromisoformat(events(factory, cid, "dispatch")[0]["claim_due"]) == sh(2026, 10, 8, 10)


def test_a_one_working_day_claim_and_the_resolve_clock_skip_the_holiday_and_count_the_make_up_saturday(
    factory: Factory, registry: Registry, world: World
) -> None:
    add_policy(factory, world, "light", "*", claim=(1, "working_days"), resolve=(2, "working_days"))
    cid = dispatched_case(factory, registry, world, sh(2026, 9, 30, 15), category="light")
    assert load(factory, cid).claim_due == sh(2026, 10, 8, 18)
    do(factory, registry, world.bob, cid, "claim", sh(2026, 10, 8, 9, 30))
    case = load(factory, cid)
    assert case.claimed_at == sh(2026, 10, 8, 9, 30)
    assert case.resolve_due == sh(2026, 10, 10, 18)  # Friday the 9th, then the make-up Saturday


def test_the_world_matrix_gives_three_working_days_to_resolve_from_the_claim(
    factory: Factory, registry: Registry, world: World
) -> None:
    cid = claimed_case(factory, registry, world, sh(2026, 9, 30, 15), sh(2026, 10, 8, 9))
    assert load(factory, cid).resolve_due == sh(2026, 10, 12, 18)  # 9th, 10th (调休), 12th


def test_a_re_dispatch_restarts_the_claim_clock(factory: Factory, registry: Registry, world: World) -> None:
    cid = dispatched_case(factory, registry, world, sh(2026, 10, 12, 9))
    assert load(factory, cid).claim_due == sh(2026, 10, 12, 13)
    do(factory, registry, world.alice, cid, "dispatch", sh(2026, 10, 12, 16), actor_id=world.parks_actor)
    assert load(factory, cid).claim_due == sh(2026, 10, 13, 11)


def test_deadlines_written_with_a_local_now_keep_the_audit_chain_verifiable(
    factory: Factory, registry: Registry, world: World
) -> None:
    claimed_case(factory, registry, world, sh(2026, 9, 30, 15), sh(2026, 10, 8, 9))
    with acting(factory, None) as s:
        checked, problems = audit.verify(s, world.a)
    assert checked > 0 and problems == []


# --- calendar overrides -----------------------------------------------------------------------------


def put_day(client: TestClient, who: Person, day: str, is_workday: bool, status: int = 200) -> None:
    r = client.put(
        "/api/v1/calendar-overrides",
        json={"day": day, "is_workday": is_workday, "note": "区级安排"},
        headers=who.headers,
    )
    assert r.status_code == status, r.text


def claim_due_after_eve(factory: Factory, registry: Registry, world: World) -> datetime:
    cid = dispatched_case(factory, registry, world, sh(2026, 9, 30, 15))
    due = load(factory, cid).claim_due
    assert due is not None
    return due


def test_a_local_day_off_pushes_the_deadline_to_the_next_working_day(
    client: TestClient, factory: Factory, registry: Registry, world: World
) -> None:
    put_day(client, world.adam, "2026-10-08", False)
    assert claim_due_after_eve(factory, registry, world) == sh(2026, 10, 9, 10)


def test_an_extra_duty_day_inside_the_holiday_pulls_the_deadline_forward(
    client: TestClient, factory: Factory, registry: Registry, world: World
) -> None:
    put_day(client, world.adam, "2026-10-03", True)
    assert claim_due_after_eve(factory, registry, world) == sh(2026, 10, 3, 10)


def test_putting_the_same_day_again_replaces_the_override(
    client: TestClient, factory: Factory, registry: Registry, world: World
) -> None:
    put_day(client, world.adam, "2026-10-08", False)
    put_day(client, world.adam, "2026-10-08", True)
    assert claim_due_after_eve(factory, registry, world) == sh(2026, 10, 8, 10)


def test_another_regions_override_leaves_this_regions_deadlines_alone(
    client: TestClient, factory: Factory, registry: Registry, world: World
) -> None:
    put_day(client, world.adam, "2026-10-08", False)
    put_day(client, world.charlie, "2026-10-08", True)  # C keeps the 8th as a working day
    put_day(client, world.charlie, "2026-10-09", False)
    assert claim_due_after_eve(factory, registry, world) == sh(2026, 10, 9, 10)


def test_only_an_admin_may_change_the_calendar(client: TestClient, world: World) -> None:
    put_day(client, world.alice, "2026-10-08", False, status=403)
    put_day(client, world.bob, "2026-10-08", False, status=403)


# --- the SLA matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "priority", "claim_hours"),
    [
        ("light", "urgent", 1),  # exact row
        ("light", "normal", 2),  # category row beats the wildcard
        ("road", "urgent", 3),  # priority row beats the wildcard
        ("light", "high", 2),  # a category row is more specific than a priority row
    ],
)
def test_the_policy_lookup_prefers_the_most_specific_row(
    factory: Factory, world: World, category: str, priority: str, claim_hours: float
) -> None:
    add_policy(factory, world, "light", "urgent", claim=(1, "hours"))
    add_policy(factory, world, "light", "*", claim=(2, "hours"))
    add_policy(factory, world, "*", "urgent", claim=(3, "hours"))
    add_policy(factory, world, "*", "high", claim=(4, "hours"))
    with acting(factory, None) as s:
        assert cases.policy_for(s, world.a, category, priority).claim_amount == claim_hours
        assert cases.policy_for(s, world.a, "road", "normal") == Policy(4, "working_hours", 3, "working_days")


def test_a_region_without_a_matrix_gets_the_default_and_never_anothers(
    factory: Factory, world: World
) -> None:
    add_policy(factory, world, "*", "*", claim=(1, "hours"), region_id=world.c)
    with acting(factory, None) as s:
        assert cases.policy_for(s, world.b, "road", "normal") == DEFAULT
        assert cases.policy_for(s, world.a, "road", "normal").claim_amount == 4


def test_the_exact_row_sets_the_deadline_at_dispatch(
    factory: Factory, registry: Registry, world: World
) -> None:
    add_policy(factory, world, "road", "urgent", claim=(30, "hours"))  # round the clock
    cid = dispatched_case(factory, registry, world, sh(2026, 9, 30, 15), priority="urgent")
    assert load(factory, cid).claim_due == sh(2026, 10, 1, 21)


# --- the sweep: 催办 at 80 %, 督办 at the deadline, escalation every 5 working days ------------------
# Dispatched Monday 12 October 2026 at 09:00: claim due 13:00, reminder at 12:12 (80 % of 4 h),
# level 2 at the end of the 5th working day after the deadline (Monday 19th, 18:00).


def run_sweep(factory: Factory, registry: Registry, now: datetime) -> SweepReport:
    with acting(factory, None) as s:
        return sweep(s, registry, now)


def notices(factory: Factory, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    with acting(factory, None) as s:
        return [
            (e.action, {**e.data, "due": datetime.fromisoformat(e.data["due"])})
            for e in cases.timeline(s, case_id)
            if e.action in ("reminder", "supervision", "escalation")
        ]


def test_the_sweep_reminds_once_at_80_percent_of_the_claim_clock(
    factory: Factory, registry: Registry, world: World
) -> None:
    cid = dispatched_case(factory, registry, world, sh(2026, 10, 12, 9))
    run_sweep(factory, registry, sh(2026, 10, 12, 12, 11))
    assert notices(factory, cid) == []
    run_sweep(factory, registry, sh(2026, 10, 12, 12, 12))
    due = sh(2026, 10, 12, 13)
    assert notices(factory, cid) == [("reminder", {"clock": "claim", "due": due})]
    assert load(factory, cid).reminded_claim
    run_sweep(factory, registry, sh(2026, 10, 12, 12, 40))
    assert len(notices(factory, cid)) == 1


def test_the_sweep_supervises_at_the_deadline_and_escalates_after_five_working_days_overdue(
    factory: Factory, registry: Registry, world: World
) -> None:
    cid = dispatched_case(factory, registry, world, sh(2026, 10, 12, 9))
    due = sh(2026, 10, 12, 13)
    run_sweep(factory, registry, sh(2026, 10, 12, 12, 59, 59))
    assert [a for a, _ in notices(factory, cid)] == ["reminder"]
    run_sweep(factory, registry, sh(2026, 10, 12, 13))
    assert notices(factory, cid)[1:] == [("supervision", {"level": 1, "due": due})]
    run_sweep(factory, registry, sh(2026, 10, 19, 17, 59))
    assert load(factory, cid).escalation_level == 1
    run_sweep(factory, registry, sh(2026, 10, 19, 18))
    assert notices(factory, cid)[2:] == [("escalation", {"level": 2, "due": due})]
    assert load(factory, cid).escalation_level == 2


def test_a_first_sweep_long_after_the_deadline_jumps_straight_to_the_level_reached(
    factory: Factory, registry: Registry, world: World
) -> None:
    cid = dispatched_case(factory, registry, world, sh(2026, 10, 12, 9))
    run_sweep(factory, registry, sh(2026, 10, 20, 9))
    assert [(a, d["level"]) for a, d in notices(factory, cid)] == [("escalation", 2)]  # no late 催办


@pytest.mark.parametrize(
    "now",
    [sh(2026, 10, 12, 12, 30), sh(2026, 10, 12, 14), sh(2026, 10, 20, 9), sh(2026, 10, 27, 9)],
)
def test_the_sweep_is_idempotent(factory: Factory, registry: Registry, world: World, now: datetime) -> None:
    cid = dispatched_case(factory, registry, world, sh(2026, 10, 12, 9))
    first = run_sweep(factory, registry, now)
    before = notices(factory, cid)
    assert first.reminded + first.escalated == len(before) >= 1
    assert run_sweep(factory, registry, now) == SweepReport(0, 0)
    assert notices(factory, cid) == before


def test_a_claim_resets_the_level_and_the_sweep_turns_to_the_resolve_clock(
    factory: Factory, registry: Registry, world: World
) -> None:
    cid = dispatched_case(factory, registry, world, sh(2026, 10, 12, 9))
    run_sweep(factory, registry, sh(2026, 10, 12, 14))
    do(factory, registry, world.bob, cid, "claim", sh(2026, 10, 12, 15))
    case = load(factory, cid)
    assert case.escalation_level == 0 and case.resolve_due == sh(2026, 10, 15, 18)
    # 80 % of the 75 h from Monday 15:00 to Thursday 18:00 falls on Thursday 03:00
    run_sweep(factory, registry, sh(2026, 10, 15, 3))
    due = sh(2026, 10, 15, 18)
    assert notices(factory, cid)[-1] == ("reminder", {"clock": "resolve", "due": due})
    run_sweep(factory, registry, sh(2026, 10, 15, 18))
    assert notices(factory, cid)[-1] == ("supervision", {"level": 1, "due": due})


def test_a_resolved_case_is_no_longer_swept(factory: Factory, registry: Registry, world: World) -> None:
    cid = claimed_case(factory, registry, world, sh(2026, 10, 12, 9), sh(2026, 10, 12, 10))
    do(factory, registry, world.bob, cid, "resolve", sh(2026, 10, 13, 10), note="已修复")
    run_sweep(factory, registry, sh(2026, 11, 30, 9))
    assert notices(factory, cid) == []


# --- extensions (延期) -------------------------------------------------------------------------------
# Claimed Monday 12 October 2026 at 10:00: resolve due Thursday 15th at 18:00.


def test_an_extension_requested_and_approved_before_the_deadline_moves_it(
    factory: Factory, registry: Registry, world: World
) -> None:
    cid = claimed_case(factory, registry, world, sh(2026, 10, 12, 9), sh(2026, 10, 12, 10))
    until = sh(2026, 10, 20, 18)
    do(
        factory,
        registry,
        world.bob,
        cid,
        "request_extension",
        sh(2026, 10, 14, 10),
        until=until,
        note="待供货",
    )
    assert load(factory, cid).extension_until == until
    do(factory, registry, world.dana, cid, "decide_extension", sh(2026, 10, 14, 11), approve=True)
    case = load(factory, cid)
    assert case.resolve_due == until and case.extension_until is None


def test_a_refused_extension_keeps_the_deadline(factory: Factory, registry: Registry, world: World) -> None:
    cid = claimed_case(factory, registry, world, sh(2026, 10, 12, 9), sh(2026, 10, 12, 10))
    until = sh(2026, 10, 20, 18)
    do(
        factory,
        registry,
        world.bob,
        cid,
        "request_extension",
        sh(2026, 10, 14, 10),
        until=until,
        note="待供货",
    )
    do(factory, registry, world.dana, cid, "decide_extension", sh(2026, 10, 14, 11), approve=False)
    case = load(factory, cid)
    assert case.resolve_due == sh(2026, 10, 15, 18) and case.extension_until is None


def test_an_extension_requested_at_or_after_the_deadline_is_a_409(
    factory: Factory, registry: Registry, world: World
) -> None:
    cid = claimed_case(factory, registry, world, sh(2026, 10, 12, 9), sh(2026, 10, 12, 10))
    with pytest.raises(IllegalTransition) as exc:
        do(
            factory,
            registry,
            world.bob,
            cid,
            "request_extension",
            sh(2026, 10, 15, 18),
            until=sh(2026, 10, 20),
            note="x",
        )
    assert exc.value.status == 409
    assert load(factory, cid).extension_until is None


def test_an_extension_approved_after_the_deadline_is_a_409_and_changes_nothing(
    factory: Factory, registry: Registry, world: World
) -> None:
    cid = claimed_case(factory, registry, world, sh(2026, 10, 12, 9), sh(2026, 10, 12, 10))
    until = sh(2026, 10, 20, 18)
    do(
        factory,
        registry,
        world.bob,
        cid,
        "request_extension",
        sh(2026, 10, 15, 17),
        until=until,
        note="待供货",
    )
    with pytest.raises(IllegalTransition) as exc:
        do(factory, registry, world.dana, cid, "decide_extension", sh(2026, 10, 15, 18, 30), approve=True)
    assert exc.value.status == 409
    case = load(factory, cid)
    assert case.resolve_due == sh(2026, 10, 15, 18) and case.extension_until == until


def test_over_http_a_late_extension_request_and_a_late_approval_are_409s(
    client: TestClient, factory: Factory, registry: Registry, world: World
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=40)
    late = claimed_case(factory, registry, world, long_ago, long_ago)
    body = {"until": (datetime.now(UTC) + timedelta(days=5)).isoformat(), "note": "待供货"}
    r = client.post(f"/api/v1/cases/{late}/actions/request_extension", json=body, headers=world.bob.headers)
    assert r.status_code == 409 and r.json()["type"] == "/problems/illegal-transition"

    pending = claimed_case(factory, registry, world, long_ago, long_ago)
    due = load(factory, pending).resolve_due
    assert due is not None
    do(factory, registry, world.bob, pending, "request_extension", due - timedelta(hours=1), **body)
    r = client.post(
        f"/api/v1/cases/{pending}/actions/decide_extension",
        json={"approve": True},
        headers=world.dana.headers,
    )
    assert r.status_code == 409 and r.json()["type"] == "/problems/illegal-transition"
    assert load(factory, pending).resolve_due == due


# --- what the API shows: clocks and the overdue filter ----------------------------------------------


@pytest.fixture
def ten_hour_clocks(client: TestClient, world: World) -> None:
    body = {
        "category": "clock",
        "priority": "*",
        "claim_amount": 10,
        "claim_unit": "hours",
        "resolve_amount": 10,
        "resolve_unit": "hours",
    }
    r = client.put("/api/v1/sla-policies", json=body, headers=world.adam.headers)
    assert r.status_code == 200, r.text


def clock_case(
    factory: Factory,
    registry: Registry,
    world: World,
    now: datetime,
    dispatched_h: float | None = None,
    claimed_h: float | None = None,
    resolved_h: float | None = None,
) -> int:
    """A case on the 10 h + 10 h matrix row whose steps happened the given hours before ``now``."""

    def ago(hours: float) -> datetime:
        return now - timedelta(hours=hours)

    cid = open_case(factory, registry, world, ago(dispatched_h or 0), category="clock")
    if dispatched_h is not None:
        do(factory, registry, world.alice, cid, "dispatch", ago(dispatched_h), actor_id=world.roads_actor)
    if claimed_h is not None:
        do(factory, registry, world.bob, cid, "claim", ago(claimed_h))
    if resolved_h is not None:
        do(factory, registry, world.bob, cid, "resolve", ago(resolved_h), note="已处理")
    return cid


@pytest.mark.usefixtures("ten_hour_clocks")
def test_case_read_shows_each_clock_status_and_the_overdue_filter_returns_exactly_the_late_ones(
    client: TestClient, factory: Factory, registry: Registry, world: World
) -> None:
    now = datetime.now(UTC)
    made = {
        "new": clock_case(factory, registry, world, now),
        "fresh": clock_case(factory, registry, world, now, dispatched_h=1),
        "soon": clock_case(factory, registry, world, now, dispatched_h=9),
        "late": clock_case(factory, registry, world, now, dispatched_h=11),
        "working": clock_case(factory, registry, world, now, dispatched_h=5, claimed_h=4),
        "behind": clock_case(factory, registry, world, now, dispatched_h=30, claimed_h=15),
        "done_late": clock_case(factory, registry, world, now, dispatched_h=30, claimed_h=25, resolved_h=2),
    }
    expected = {
        "new": ("idle", "idle"),
        "fresh": ("on_track", "idle"),
        "soon": ("due_soon", "idle"),
        "late": ("overdue", "idle"),
        "working": ("met", "on_track"),
        "behind": ("missed", "overdue"),
        "done_late": ("met", "missed"),
    }
    for name, cid in made.items():
        got = client.get(f"/api/v1/cases/{cid}", headers=world.alice.headers).json()
        assert (got["claim_clock"]["status"], got["resolve_clock"]["status"]) == expected[name], name
    fresh = client.get(f"/api/v1/cases/{made['fresh']}", headers=world.alice.headers).json()
    assert fresh["claim_clock"]["used"] == pytest.approx(0.1, abs=0.01)

    def listed(overdue: str) -> set[int]:
        r = client.get(
            f"/api/v1/cases?category=clock&overdue={overdue}&page_size=200", headers=world.alice.headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(r.json()["items"])
        return {c["id"] for c in r.json()["items"]}

    assert listed("true") == {made["late"], made["behind"]}
    assert listed("false") == set(made.values()) - {made["late"], made["behind"]}
