"""The SLA sweep run by the worker: reminders (催办) before deadlines, supervision (督办) after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongzhi.cases import service as cases
from gongzhi.cases.models import Case
from gongzhi.cases.sla import escalation_level
from gongzhi.cases.statemachine import State
from gongzhi.core import outbox
from gongzhi.db import scope_of
from gongzhi.registry import Registry

LEVEL_ACTIONS = {1: "supervision", 2: "escalation", 3: "escalation"}


@dataclass
class SweepReport:
    reminded: int = 0
    escalated: int = 0


def sweep(s: Session, registry: Registry, now: datetime) -> SweepReport:
    """Walk every running clock once. Idempotent: flags on the case stop repeats."""
    assert scope_of(s).system, "the SLA sweep runs in the system scope"
    report = SweepReport()
    live = [State.DISPATCHED, State.CLAIMED, State.IN_PROGRESS]
    for case in s.execute(select(Case).where(Case.state.in_(live)).order_by(Case.id)).scalars():
        _sweep_case(s, registry, case, now, report)
    return report


def _sweep_case(s: Session, registry: Registry, case: Case, now: datetime, report: SweepReport) -> None:
    pol = cases.policy_for(s, case.region_id, case.category, case.priority)
    claim, resolve = cases.clocks(case)
    waiting_claim = case.state == State.DISPATCHED
    clock = claim if waiting_claim else resolve
    if clock.due is None or clock.start is None:
        return
    flag = "reminded_claim" if waiting_claim else "reminded_resolve"
    if not getattr(case, flag) and clock.remind_at(pol.remind_fraction) <= now < clock.due:
        setattr(case, flag, True)
        _notice(
            s,
            registry,
            case,
            "reminder",
            {"clock": "claim" if waiting_claim else "resolve", "due": clock.due.isoformat()},
        )
        report.reminded += 1
    level = escalation_level(
        cases.calendar_for(s, case.region_id), clock.due, now, pol.escalate_after_working_days
    )
    if level > case.escalation_level:
        case.escalation_level = level
        _notice(s, registry, case, LEVEL_ACTIONS[level], {"level": level, "due": clock.due.isoformat()})
        report.escalated += 1


def _notice(s: Session, registry: Registry, case: Case, action: str, data: dict[str, object]) -> None:
    cases.record_event(s, case, action, data=dict(data))
    outbox.publish(
        s, registry, case.region_id, f"case.{action}", {"case_id": case.id, "number": case.number, **data}
    )
