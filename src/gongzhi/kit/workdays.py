"""Chinese working calendar for SLA clocks.

Working days follow the State Council holiday notices as packaged by ``chinese_calendar``: statutory holidays
and the weekend make-up working days (调休). A region may override single dates. Years the package has no
notice for fall back to Monday–Friday. Days and hours are counted in wall-clock time of the calendar's zone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")

SlaUnit = Literal["hours", "working_hours", "working_days"]

_ONE_DAY = timedelta(days=1)
_ONE_HOUR = timedelta(hours=1)


@lru_cache(maxsize=8192)
def _national_workday(d: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:  # holiday notices are published year by year; beyond them, weekdays work
        return d.weekday() < 5


def _check_amount(amount: float) -> None:
    if not math.isfinite(amount) or amount < 0:
        raise ValueError(f"an SLA amount must be finite and non-negative, got {amount!r}")


def _whole(amount: float) -> int:
    if not float(amount).is_integer():
        raise ValueError(f"working days must be a whole number, got {amount!r}")
    return int(amount)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and hours of one region.

    Parameters
    ----------
    overrides
        Dates mapped to whether they are working days (local holidays, extra duty days); they win over
        the national calendar. Copied at construction.
    day_start, day_end
        Daily working window ``[day_start, day_end)`` in local time. The lunch break is not excluded.
    tz
        Zone in which days and hours are counted; every result is returned in it.
    """

    overrides: Mapping[date, bool] = field(default_factory=dict)
    day_start: time = time(9)
    day_end: time = time(18)
    tz: ZoneInfo = SHANGHAI

    def __post_init__(self) -> None:
        if not self.day_start < self.day_end:
            raise ValueError("day_start must be before day_end")
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def is_workday(self, d: date) -> bool:
        """Return whether ``d`` is a working day: override, else national calendar, else Monday–Friday."""
        override = self.overrides.get(d)
        return _national_workday(d) if override is None else override

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Return the deadline ``n`` working days after ``start``.

        The day of receipt never counts: the deadline is ``day_end`` of the n-th working day after the local
        date of ``start``. A case received on a working day at 10:00 with 3 working days is due at the end of
        the 3rd following working day; one received on a non-working day (or after hours) counts the next
        working day as day 1. ``n = 0`` means by the end of today's working hours, or of the next working day
        when ``start`` falls on a non-working day or after ``day_end``.
        """
        _check_amount(n)
        local = self._local(start)
        day = local.date()
        if n == 0 and not self._open_on_day_of(local):
            day = self._next_workday(day)
        for _ in range(n):
            day = self._next_workday(day)
        return self._at(day, self.day_end)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Return the instant at which ``hours`` [h] of working time have passed since ``start``.

        Only time inside ``[day_start, day_end)`` of working days counts. A start outside working hours
        begins counting at the next opening; a deadline that uses up a day lands on that day's ``day_end``.
        """
        _check_amount(hours)
        remaining = timedelta(hours=hours)
        t = self._clock_in(self._local(start))
        while remaining > (closing := self._at(t.date(), self.day_end)) - t:
            remaining -= closing - t
            t = self._at(self._next_workday(t.date()), self.day_start)
        return t + remaining

    def add_calendar_hours(self, start: datetime, hours: float) -> datetime:
        """Return ``start`` plus ``hours`` [h] of elapsed time, for round-the-clock SLAs."""
        _check_amount(hours)
        return (self._local(start).astimezone(UTC) + timedelta(hours=hours)).astimezone(self.tz)

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Return the working time [h] elapsed from ``a`` to ``b``; 0 when ``b <= a``."""
        lo, hi = self._local(a), self._local(b)
        if hi <= lo:
            return 0.0
        total = timedelta()
        day = lo.date()
        while day <= hi.date():
            total += self._worked_on(day, lo, hi)
            day += _ONE_DAY
        return total / _ONE_HOUR

    def deadline(self, start: datetime, amount: float, unit: SlaUnit) -> datetime:
        """Return the deadline ``amount`` of ``unit`` after ``start``.

        ``"hours"`` runs round the clock, ``"working_hours"`` and ``"working_days"`` follow the calendar.
        Raises ``ValueError`` for a negative or non-finite amount, fractional working days or an unknown unit.
        """
        _check_amount(amount)
        if unit == "hours":
            return self.add_calendar_hours(start, amount)
        if unit == "working_hours":
            return self.add_working_hours(start, amount)
        if unit == "working_days":
            return self.add_working_days(start, _whole(amount))
        raise ValueError(f"unknown SLA unit {unit!r}")

    def _local(self, moment: datetime) -> datetime:
        if moment.utcoffset() is None:
            raise ValueError(f"expected an aware datetime, got naive {moment!r}")
        return moment.astimezone(self.tz)

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.tz)

    def _next_workday(self, day: date) -> date:
        day += _ONE_DAY
        while not self.is_workday(day):
            day += _ONE_DAY
        return day

    def _open_on_day_of(self, local: datetime) -> bool:
        return self.is_workday(local.date()) and local.time() <= self.day_end

    def _clock_in(self, local: datetime) -> datetime:
        if self._open_on_day_of(local):
            return max(local, self._at(local.date(), self.day_start))
        return self._at(self._next_workday(local.date()), self.day_start)

    def _worked_on(self, day: date, lo: datetime, hi: datetime) -> timedelta:
        if not self.is_workday(day):
            return timedelta()
        began = max(lo, self._at(day, self.day_start))
        ended = min(hi, self._at(day, self.day_end))
        return max(ended - began, timedelta())
