from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongzhi.kit.workdays import SHANGHAI, SlaUnit, WorkCalendar

CAL = WorkCalendar()


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_it_knows_the_2025_national_day_holiday_and_its_make_up_days() -> None:
    golden_week = [date(2025, 10, 1) + timedelta(days=i) for i in range(8)]
    assert not any(CAL.is_workday(d) for d in golden_week)
    assert CAL.is_workday(date(2025, 9, 28))  # Sunday, 调休
    assert CAL.is_workday(date(2025, 10, 11))  # Saturday, 调休


def test_it_knows_the_2026_holidays_published_in_the_package() -> None:
    assert not CAL.is_workday(date(2026, 10, 1))
    assert not CAL.is_workday(date(2026, 2, 17))  # Spring Festival
    assert CAL.is_workday(date(2026, 2, 14))  # Saturday, 调休
    assert CAL.is_workday(date(2026, 10, 10))  # Saturday, 调休


def test_it_falls_back_to_weekdays_for_years_without_data() -> None:
    assert CAL.is_workday(date(2027, 1, 1))  # a Friday; the 2027 notice is not in the package yet
    assert not CAL.is_workday(date(2027, 1, 2))
    assert not CAL.is_workday(date(2027, 1, 3))
    assert CAL.is_workday(date(2027, 1, 4))


def test_overrides_beat_the_national_calendar() -> None:
    cal = WorkCalendar({date(2025, 10, 4): True, date(2025, 10, 9): False, date(2027, 1, 1): False})
    assert cal.is_workday(date(2025, 10, 4))
    assert not cal.is_workday(date(2025, 10, 9))
    assert not cal.is_workday(date(2027, 1, 1))


def test_overrides_are_copied_at_construction() -> None:
    overrides = {date(2025, 11, 17): False}
    cal = WorkCalendar(overrides)
    overrides[date(2025, 11, 17)] = True
    assert not cal.is_workday(date(2025, 11, 17))


def test_it_refuses_a_working_day_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match="day_start"):
        WorkCalendar(day_start=time(18), day_end=time(9))


def test_a_case_received_on_a_working_morning_is_due_at_the_end_of_the_third_following_working_day() -> None:
    assert CAL.add_working_days(sh(2025, 11, 14, 10), 3) == sh(2025, 11, 19, 18)  # Fri -> Wed


def test_a_case_received_at_the_weekend_counts_from_the_next_working_day() -> None:
    assert CAL.add_working_days(sh(2025, 11, 15, 10), 3) == sh(2025, 11, 19, 18)  # Sat -> Wed


def test_it_skips_national_day_golden_week() -> None:
    # 10-01..08 are off; 10-09 and 10-10 are day 1 and 2; Saturday 10-11 is a make-up working day.
    assert CAL.add_working_days(sh(2025, 9, 30, 10), 3) == sh(2025, 10, 11, 18)


def test_it_skips_the_2026_national_day_holiday() -> None:
    assert CAL.add_working_days(sh(2026, 9, 30, 10), 1) == sh(2026, 10, 8, 18)


def test_a_region_holiday_pushes_the_deadline() -> None:
    cal = WorkCalendar({date(2025, 11, 17): False})
    assert cal.add_working_days(sh(2025, 11, 14, 10), 3) == sh(2025, 11, 20, 18)


def test_zero_working_days_means_by_close_of_business() -> None:
    assert CAL.add_working_days(sh(2025, 11, 17, 7), 0) == sh(2025, 11, 17, 18)
    assert CAL.add_working_days(sh(2025, 11, 17, 20), 0) == sh(2025, 11, 18, 18)
    assert CAL.add_working_days(sh(2025, 11, 15, 10), 0) == sh(2025, 11, 17, 18)


def test_it_counts_in_shanghai_time_whatever_zone_the_start_is_in() -> None:
    due = CAL.add_working_days(datetime(2025, 9, 30, 2, tzinfo=UTC), 3)
    assert due == sh(2025, 10, 11, 18)
    assert due.tzinfo == SHANGHAI
    late_evening_utc = datetime(2025, 11, 14, 20, tzinfo=UTC)  # already Saturday 04:00 in Shanghai
    assert CAL.add_working_days(late_evening_utc, 1) == sh(2025, 11, 17, 18)


def test_it_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        CAL.add_working_hours(datetime(2025, 11, 17, 10), 1)


def test_working_hours_stay_within_one_day_when_they_fit() -> None:
    assert CAL.add_working_hours(sh(2025, 11, 17, 10), 4) == sh(2025, 11, 17, 14)
    assert CAL.add_working_hours(sh(2025, 11, 17, 9), 9) == sh(2025, 11, 17, 18)


def test_working_hours_carry_across_the_night() -> None:
    assert CAL.add_working_hours(sh(2025, 11, 17, 17), 2) == sh(2025, 11, 18, 10)


def test_working_hours_carry_across_a_weekend() -> None:
    assert CAL.add_working_hours(sh(2025, 11, 14, 17, 30), 2.5) == sh(2025, 11, 17, 11)


def test_working_hours_started_out_of_hours_begin_at_the_next_opening() -> None:
    assert CAL.add_working_hours(sh(2025, 11, 17, 6), 1) == sh(2025, 11, 17, 10)
    assert CAL.add_working_hours(sh(2025, 11, 15, 12), 1) == sh(2025, 11, 17, 10)
    assert CAL.add_working_hours(sh(2025, 9, 30, 19), 1) == sh(2025, 10, 9, 10)


def test_calendar_hours_run_round_the_clock() -> None:
    assert CAL.add_calendar_hours(sh(2025, 11, 15, 22), 4) == sh(2025, 11, 16, 2)


def test_working_hours_between_counts_only_open_time() -> None:
    assert CAL.working_hours_between(sh(2025, 11, 14, 17), sh(2025, 11, 17, 10)) == 2.0
    assert CAL.working_hours_between(sh(2025, 9, 30, 9), sh(2025, 10, 9, 9)) == 9.0
    assert CAL.working_hours_between(sh(2025, 11, 17, 12), sh(2025, 11, 17, 12, 30)) == 0.5


def test_working_hours_between_is_zero_when_the_end_is_not_after_the_start() -> None:
    assert CAL.working_hours_between(sh(2025, 11, 17, 12), sh(2025, 11, 17, 11)) == 0.0
    assert CAL.working_hours_between(sh(2025, 11, 17, 12), sh(2025, 11, 17, 12)) == 0.0


def test_deadline_dispatches_on_the_unit() -> None:
    start = sh(2025, 11, 14, 17)
    assert CAL.deadline(start, 2, "hours") == sh(2025, 11, 14, 19)
    assert CAL.deadline(start, 2, "working_hours") == sh(2025, 11, 17, 10)
    assert CAL.deadline(start, 2, "working_days") == sh(2025, 11, 18, 18)
    assert CAL.deadline(start, 2.0, "working_days") == sh(2025, 11, 18, 18)


@pytest.mark.parametrize("amount", [-1, float("nan"), float("inf")])
def test_deadline_refuses_a_negative_or_infinite_amount(amount: float) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        CAL.deadline(sh(2025, 11, 17, 10), amount, "working_hours")


def test_deadline_refuses_fractional_working_days() -> None:
    with pytest.raises(ValueError, match="whole number"):
        CAL.deadline(sh(2025, 11, 17, 10), 1.5, "working_days")


def test_deadline_refuses_an_unknown_unit() -> None:
    bad_unit: SlaUnit = "weeks"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="unknown SLA unit"):
        CAL.deadline(sh(2025, 11, 17, 10), 1, bad_unit)


starts = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.sampled_from([SHANGHAI, UTC, ZoneInfo("Europe/Berlin")]),
)
units = st.sampled_from(["hours", "working_hours", "working_days"])
amounts = st.integers(min_value=0, max_value=40).map(float) | st.floats(min_value=0, max_value=200)


def _amount_for(unit: str, amount: float) -> float:
    return float(int(amount)) if unit == "working_days" else amount


@given(start=starts, unit=units, a=amounts, b=amounts)
def test_deadline_is_monotonic_in_the_amount(start: datetime, unit: SlaUnit, a: float, b: float) -> None:
    low, high = sorted((_amount_for(unit, a), _amount_for(unit, b)))
    assert CAL.deadline(start, low, unit) <= CAL.deadline(start, high, unit)


@given(start=starts, unit=units, amount=amounts)
def test_deadline_is_never_before_the_start(start: datetime, unit: SlaUnit, amount: float) -> None:
    assert CAL.deadline(start, _amount_for(unit, amount), unit) >= start


@given(start=starts, unit=st.sampled_from(["working_hours", "working_days"]), amount=amounts)
def test_working_deadlines_land_inside_working_hours_of_a_working_day(
    start: datetime, unit: SlaUnit, amount: float
) -> None:
    due = CAL.deadline(start, _amount_for(unit, amount), unit)
    assert due.tzinfo == SHANGHAI
    assert CAL.is_workday(due.date())
    assert CAL.day_start <= due.time() <= CAL.day_end


@given(start=starts, hours=st.floats(min_value=0, max_value=200))
def test_working_hours_between_undoes_add_working_hours(start: datetime, hours: float) -> None:
    due = CAL.add_working_hours(start, hours)
    assert CAL.working_hours_between(start, due) == pytest.approx(hours, abs=1e-6)
