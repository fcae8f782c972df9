"""SLA clocks: dispatch-to-claim and claim-to-resolve, counted on the region's working calendar.

Reminders (催办) fall at ``remind_fraction`` of a clock; after the deadline a supervision notice (督办)
is level 1, and each further ``escalate_after_working_days`` working days overdue raise a level
(level 2 is the written 通报 of common 12345 practice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gongzhi.kit.workdays import WorkCalendar


class ClockStatus(StrEnum):
    IDLE = "idle"
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    MET = "met"
    MISSED = "missed"


@dataclass(frozen=True)
class Policy:
    claim_amount: float
    claim_unit: str
    resolve_amount: float
    resolve_unit: str
    remind_fraction: float = 0.8
    escalate_after_working_days: int = 5


DEFAULT = Policy(1, "working_days", 5, "working_days")


@dataclass(frozen=True)
class Clock:
    start: datetime | None
    due: datetime | None
    stopped: datetime | None

    def status(self, now: datetime, remind_fraction: float) -> ClockStatus:
        if self.start is None or self.due is None:
            return ClockStatus.IDLE
        if self.stopped is not None:
            return ClockStatus.MET if self.stopped <= self.due else ClockStatus.MISSED
        if now >= self.due:
            return ClockStatus.OVERDUE
        return ClockStatus.DUE_SOON if now >= self.remind_at(remind_fraction) else ClockStatus.ON_TRACK

    def remind_at(self, fraction: float) -> datetime:
        assert self.start is not None and self.due is not None
        return self.start + (self.due - self.start) * fraction

    def used_fraction(self, now: datetime) -> float | None:
        if self.start is None or self.due is None:
            return None
        total = (self.due - self.start).total_seconds()
        spent = ((self.stopped or now) - self.start).total_seconds()
        return round(spent / total, 3) if total > 0 else 1.0


def escalation_level(cal: WorkCalendar, due: datetime, now: datetime, step_days: int) -> int:
    """0 before the deadline, 1 once overdue, +1 for every ``step_days`` working days beyond it."""
    if now < due:
        return 0
    level, mark = 1, due
    while step_days > 0 and level < 3:
        mark = cal.add_working_days(mark, step_days)
        if now < mark:
            break
        level += 1
    return level
